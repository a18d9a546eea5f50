//! [`Response`]: what a service answers with.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::Error;
use crate::json;
use crate::request::{find, pairs};

/// The `content-type` of [`Response::json`].
const JSON: &str = "application/json";
/// The `content-type` of [`Response::text`].
const TEXT: &str = "text/plain; charset=utf-8";
/// The `content-type` of [`Response::bytes`].
const BYTES: &str = "application/octet-stream";

/// A service's answer: a status, headers and a payload.
///
/// The constructors set status 200 and a fitting `content-type`; the `with_*` methods
/// adjust the rest.
///
/// ```
/// use zato_sdk::Response;
///
/// let response = Response::json(&serde_json::json!({"id": 42}))?
///     .with_status(201)
///     .with_header("Location", "/customers/42");
///
/// assert_eq!(response.status(), 201);
/// assert_eq!(response.header("location"), Some("/customers/42"));
/// assert_eq!(response.header("content-type"), Some("application/json"));
/// assert_eq!(response.payload(), br#"{"id":42}"#);
/// # Ok::<(), zato_sdk::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) payload: Vec<u8>,
}

impl Default for Response {
    /// Status 200, no headers, no payload.
    fn default() -> Self {
        Self {
            status: 200,
            headers: Vec::new(),
            payload: Vec::new(),
        }
    }
}

impl Response {
    /// `value` serialised as JSON, with `content-type: application/json`.
    ///
    /// # Errors
    ///
    /// [`Error::Internal`] if `value` cannot be represented as JSON (a map with
    /// non-string keys, or a `Serialize` implementation that fails): that is the
    /// service's fault, not the caller's.
    pub fn json<T: Serialize + ?Sized>(value: &T) -> Result<Self, Error> {
        let payload = serde_json::to_vec(value).map_err(|err| {
            Error::internal(format!("failed to serialise the response as JSON: {err}"))
        })?;
        Ok(Self::with_payload(payload, JSON))
    }

    /// `text` as UTF-8, with `content-type: text/plain; charset=utf-8`.
    pub fn text(text: impl Into<String>) -> Self {
        Self::with_payload(text.into().into_bytes(), TEXT)
    }

    /// `bytes` as they are, with `content-type: application/octet-stream`.
    pub fn bytes(bytes: impl Into<Vec<u8>>) -> Self {
        Self::with_payload(bytes.into(), BYTES)
    }

    /// No content: status 204 and no payload.
    pub fn empty() -> Self {
        Self::default().with_status(204)
    }

    /// Replaces the status.
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }

    /// Sets header `name` to `value`, replacing any header of that name.
    ///
    /// Names are stored lowercase, as HTTP/2 requires and as the host hands request
    /// headers to services.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        let name = name.into().to_ascii_lowercase();
        self.headers.retain(|(existing, _)| *existing != name);
        self.headers.push((name, value.into()));
        self
    }

    /// The status.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The value of header `name`, compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        find(&self.headers, |key| key.eq_ignore_ascii_case(name))
    }

    /// Every header, in the order they were set.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &str)> {
        pairs(&self.headers)
    }

    /// The payload.
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// Takes the payload out of the response without copying it.
    pub fn into_payload(self) -> Vec<u8> {
        self.payload
    }

    /// Parses the payload as JSON, e.g. the answer of an invoked service; an empty
    /// payload reads as `null`.
    ///
    /// # Errors
    ///
    /// [`Error::Internal`]: a response that is not the JSON its reader expects is a fault
    /// between services, not something the original caller can fix.
    pub fn json_body<T: DeserializeOwned>(&self) -> Result<T, Error> {
        json::from_payload(&self.payload).map_err(|err| match err {
            json::PayloadError::Empty => {
                Error::internal("the response has no payload, expected a JSON document")
            }
            json::PayloadError::Invalid(err) => {
                Error::internal(format!("the response is not the expected JSON: {err}"))
            }
        })
    }

    fn with_payload(payload: Vec<u8>, content_type: &str) -> Self {
        Self {
            status: 200,
            headers: vec![("content-type".to_owned(), content_type.to_owned())],
            payload,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn constructors_set_status_and_content_type() {
        let text = Response::text("hi");
        assert_eq!((text.status(), text.payload()), (200, &b"hi"[..]));
        assert_eq!(text.header("Content-Type"), Some(TEXT));

        let bytes = Response::bytes(vec![0, 1]);
        assert_eq!(bytes.header("content-type"), Some(BYTES));

        let empty = Response::empty();
        assert_eq!((empty.status(), empty.headers().count()), (204, 0));
    }

    #[test]
    fn with_header_replaces_case_insensitively() {
        let response = Response::text("hi")
            .with_header("Content-Type", "text/html")
            .with_header("X-A", "1");
        let headers: Vec<_> = response.headers().collect();
        assert_eq!(headers, [("content-type", "text/html"), ("x-a", "1")]);
    }

    #[test]
    fn json_serialisation_failure_is_internal() {
        let mut map = BTreeMap::new();
        map.insert(vec![1u8], 1);
        let err = Response::json(&map).unwrap_err();
        assert!(matches!(err, Error::Internal(m) if m.starts_with("failed to serialise")));
    }

    #[test]
    fn json_body_round_trips_and_blames_the_response() {
        let response = Response::json(&serde_json::json!({"a": 1})).unwrap();
        let value: serde_json::Value = response.json_body().unwrap();
        assert_eq!(value, serde_json::json!({"a": 1}));

        let err = Response::text("nope")
            .json_body::<serde_json::Value>()
            .unwrap_err();
        assert!(matches!(err, Error::Internal(_)));
        assert!(
            Response::empty()
                .json_body::<Option<u8>>()
                .unwrap()
                .is_none()
        );
    }
}
