//! Invoking another service asynchronously: the call is queued in the cluster and runs
//! on any server, at least once, while this service goes on.
//!
//! ```no_run
//! use serde_json::json;
//! use zato_sdk::{DataFormat, Error, invoke_async};
//!
//! // Fire and forget: the cid names the call in the logs and in the admin API
//! // (`GET /zato/api/async/{cid}`).
//! let cid = invoke_async::invoke_async_json("billing.charge", &json!({"order": 7}), None)?;
//! // With a callback: `billing.charged` is invoked with the outcome once the call ended.
//! let cid = invoke_async::invoke_async(
//!     "billing.charge",
//!     br#"{"order": 8}"#,
//!     DataFormat::Json,
//!     Some("billing.charged"),
//! )?;
//! # Ok::<(), Error>(())
//! ```
//!
//! The invoked service gets a cid of its own (the one returned here), the channel kind
//! `invoke`, this service's name as the channel's name and the details `async` (`true`)
//! and `delivery` (1 the first time; more when a server died while running it and
//! another took it over: a service called asynchronously may run more than once, so it
//! should be idempotent).
//!
//! The callback receives JSON: `cid`, `service`, `ok` (whether the call succeeded),
//! `status` (the response's, or that of the error's kind), `payload` (the response's
//! payload as text when it is UTF-8), `payload-base64` (when it is not) and `error` (the
//! message, when it failed).
//!
//! Outside a zato host (in a native unit test) no service is deployed, so every call
//! fails with [`AsyncError::NotFound`].

use std::fmt;

use serde::Serialize;

use crate::{DataFormat, Error};

/// Why a call could not be queued; converts into the service's [`Error`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AsyncError {
    /// The service (or the callback) is not deployed.
    NotFound(String),
    /// The call was refused: a bad service name, a payload over 16 MiB.
    BadRequest(String),
    /// The cluster's queue could not take it.
    Unavailable(String),
}

impl AsyncError {
    /// The message the error carries.
    pub fn message(&self) -> &str {
        match self {
            Self::NotFound(m) | Self::BadRequest(m) | Self::Unavailable(m) => m,
        }
    }
}

impl fmt::Display for AsyncError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for AsyncError {}

impl From<AsyncError> for Error {
    fn from(err: AsyncError) -> Self {
        match err {
            AsyncError::NotFound(m) => Error::NotFound(m),
            AsyncError::BadRequest(m) => Error::BadRequest(m),
            AsyncError::Unavailable(m) => Error::Retry(m),
        }
    }
}

/// Queues a call of `service` with `payload` encoded as `data_format` and returns its
/// cid at once; `callback` names a service invoked with the outcome.
///
/// # Errors
///
/// See [`AsyncError`].
pub fn invoke_async(
    service: &str,
    payload: &[u8],
    data_format: DataFormat,
    callback: Option<&str>,
) -> Result<String, AsyncError> {
    #[cfg(target_arch = "wasm32")]
    {
        use crate::bindings::zato::service::invoke_async as wit;
        crate::import(|| wit::invoke_async(service, payload, data_format.into(), callback)).map_err(
            |err| match err {
                wit::AsyncError::NotFound(m) => AsyncError::NotFound(m),
                wit::AsyncError::BadRequest(m) => AsyncError::BadRequest(m),
                wit::AsyncError::Unavailable(m) => AsyncError::Unavailable(m),
            },
        )
    }

    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = (payload, data_format, callback);
        Err(AsyncError::NotFound(format!(
            "service `{service}` is not deployed: invoke-async needs a zato host"
        )))
    }
}

/// As [`invoke_async`], with `input` as JSON.
///
/// # Errors
///
/// See [`AsyncError`]; [`AsyncError::BadRequest`] if `input` cannot be serialised.
pub fn invoke_async_json<I>(
    service: &str,
    input: &I,
    callback: Option<&str>,
) -> Result<String, AsyncError>
where
    I: Serialize + ?Sized,
{
    let payload = serde_json::to_vec(input).map_err(|err| {
        AsyncError::BadRequest(format!(
            "failed to serialise the input of service `{service}` as JSON: {err}"
        ))
    })?;
    invoke_async(service, &payload, DataFormat::Json, callback)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natively_no_service_is_deployed() {
        let err = invoke_async("demo.hello", b"", DataFormat::Raw, None).unwrap_err();
        assert!(matches!(&err, AsyncError::NotFound(m) if m.contains("`demo.hello`")));
        assert_eq!(Error::from(err).status(), 404);
        let err = invoke_async_json("demo.hello", &(), Some("x.y")).unwrap_err();
        assert!(matches!(err, AsyncError::NotFound(_)));
        let busy: Error = AsyncError::Unavailable("down".into()).into();
        assert_eq!(busy.status(), 503);
    }
}
