//! Calling another deployed service in-process, with the same cid.
//!
//! ```no_run
//! use serde_json::{Value, json};
//! use zato_sdk::{Error, invoke};
//!
//! let answer: Value = invoke::invoke_json("demo.hello", &json!({"name": "Ada"}))?;
//! # Ok::<(), Error>(())
//! ```
//!
//! The host answers [`Error::NotFound`] if no such service is deployed and
//! [`Error::Internal`] if it traps, times out or the invoke depth limit is hit; any other
//! error is the one the invoked service returned. Outside a zato host (in a native unit
//! test) an invoke answers what the test set with
//! [`testing::answer_invoke`](crate::testing::answer_invoke), and [`Error::NotFound`]
//! for any other service.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::json::{self, PayloadError};
use crate::{DataFormat, Error, Response};

/// Invokes `service` with a raw `payload` ([`DataFormat::Raw`]).
///
/// # Errors
///
/// The invoked service's error, or the host's (see the [module docs](self)).
pub fn invoke(service: &str, payload: &[u8]) -> Result<Response, Error> {
    invoke_with(service, payload, DataFormat::Raw)
}

/// Invokes `service` with `payload` encoded as `data_format`.
///
/// # Errors
///
/// The invoked service's error, or the host's (see the [module docs](self)).
pub fn invoke_with(
    service: &str,
    payload: &[u8],
    data_format: DataFormat,
) -> Result<Response, Error> {
    #[cfg(target_arch = "wasm32")]
    return crate::import(|| {
        crate::bindings::zato::service::invoke::invoke(service, payload, data_format.into())
    })
    .map(Response::from)
    .map_err(Error::from);

    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = data_format;
        crate::testing::invoke(service, payload)
    }
}

/// Invokes `service` with `input` as JSON and parses its answer as JSON into `O`.
///
/// An empty answer reads as `null`, so `O = ()` or `Option<T>` accept one. The answer's
/// status is not looked at: a service that fails returns an [`Error`], not a status.
///
/// # Errors
///
/// The invoked service's error or the host's (see the [module docs](self)), or
/// [`Error::Internal`] if `input` cannot be serialised or the answer is not the JSON `O`
/// describes.
pub fn invoke_json<I, O>(service: &str, input: &I) -> Result<O, Error>
where
    I: Serialize + ?Sized,
    O: DeserializeOwned,
{
    let payload = serde_json::to_vec(input).map_err(|err| {
        Error::internal(format!(
            "failed to serialise the input of service `{service}` as JSON: {err}"
        ))
    })?;
    let response = invoke_with(service, &payload, DataFormat::Json)?;
    json::from_payload(response.payload()).map_err(|err| match err {
        PayloadError::Empty => Error::internal(format!(
            "service `{service}` answered with no payload, expected a JSON document"
        )),
        PayloadError::Invalid(err) => Error::internal(format!(
            "service `{service}` answered with unexpected JSON: {err}"
        )),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natively_no_service_is_deployed() {
        let err = invoke("demo.hello", b"").unwrap_err();
        assert!(matches!(err, Error::NotFound(m) if m.contains("`demo.hello`")));
        let err = invoke_json::<_, serde_json::Value>("demo.hello", &()).unwrap_err();
        assert_eq!(err.status(), 404);
    }
}
