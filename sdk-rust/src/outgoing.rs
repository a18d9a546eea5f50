//! Calling other systems through the outgoing connections an administrator configured:
//! HTTP/REST ([`http`]) and SOAP ([`soap`]). A service names a connection; the
//! connection holds the address, timeout, TLS settings and credentials, and a service
//! can never reach another host through it.
//!
//! ```no_run
//! use zato_sdk::{Error, outgoing};
//!
//! let customer: serde_json::Value = outgoing::http("crm")
//!     .get("/customers/42")
//!     .header("accept", "application/json")
//!     .send()?
//!     .error_for_status()?
//!     .json()?;
//!
//! let created = outgoing::http("crm")
//!     .post("/customers")
//!     .json(&serde_json::json!({"name": "Ada"}))?
//!     .send()?;
//! assert_eq!(created.status(), 201);
//!
//! let invoice = outgoing::soap("billing")
//!     .call("GetInvoice", r#"<GetInvoice xmlns="urn:billing"><id>7</id></GetInvoice>"#)?;
//! # Ok::<(), Error>(())
//! ```
//!
//! Every call is bounded by the connection's timeout and by the deadline of the
//! request the service handles. A status, any status, is an answer: [`HttpResponse`]
//! carries it, and [`HttpResponse::error_for_status`] turns 4xx and 5xx into an
//! error. [`OutgoingError`] and [`SoapError`] convert into [`Error`] so that `?` works
//! in a service.
//!
//! Outside a zato host (in a native unit test) no connection is configured: every call
//! fails with [`OutgoingError::NotFound`], unless the test gave its answer with
//! [`testing::answer_http`](crate::testing::answer_http) or
//! [`testing::answer_soap`](crate::testing::answer_soap).

use std::fmt;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::Error;

/// Why a call through a connection got no answer. Each case carries the host's
/// message, which names what was wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutgoingError {
    /// No connection of that name is configured.
    NotFound(String),
    /// The connection is configured but inactive.
    Inactive(String),
    /// The connection's definition cannot be used: an administrator must fix it.
    Misconfigured(String),
    /// The request was refused before anything was sent (a path leaving the base URL,
    /// a forbidden header, a method not allowed, an argument too large).
    BadRequest(String),
    /// No answer within the connection's timeout or the request's deadline.
    Timeout(String),
    /// The other side could not be reached or broke off.
    Remote(String),
    /// The other side answered a status of 400 or more
    /// ([`HttpResponse::error_for_status`]): the status and the start of the body.
    Status(u16, String),
}

impl OutgoingError {
    /// The message the error carries.
    pub fn message(&self) -> &str {
        match self {
            Self::NotFound(m)
            | Self::Inactive(m)
            | Self::Misconfigured(m)
            | Self::BadRequest(m)
            | Self::Timeout(m)
            | Self::Remote(m)
            | Self::Status(_, m) => m,
        }
    }
}

impl fmt::Display for OutgoingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Status(status, body) => {
                write!(f, "the other side answered HTTP {status}: {body}")
            }
            other => f.write_str(other.message()),
        }
    }
}

impl std::error::Error for OutgoingError {}

/// How a failed outgoing call fails the service: a connection that is missing,
/// inactive or misconfigured, and a request the connection refused, are the service's
/// (or its administrator's) problem, [`Error::Internal`]; no answer in time or a broken
/// connection is temporary, [`Error::Retry`]; an error status of the other side is
/// passed on as [`Error::Internal`] naming it.
impl From<OutgoingError> for Error {
    fn from(err: OutgoingError) -> Self {
        let message = format!("outgoing call failed: {err}");
        match err {
            OutgoingError::Timeout(_) | OutgoingError::Remote(_) => Error::Retry(message),
            _ => Error::Internal(message),
        }
    }
}

#[cfg(target_arch = "wasm32")]
impl From<crate::bindings::zato::service::outgoing_http::OutgoingError> for OutgoingError {
    fn from(err: crate::bindings::zato::service::outgoing_http::OutgoingError) -> Self {
        use crate::bindings::zato::service::outgoing_http::OutgoingError as E;
        match err {
            E::NotFound(m) => Self::NotFound(m),
            E::Inactive(m) => Self::Inactive(m),
            E::Misconfigured(m) => Self::Misconfigured(m),
            E::BadRequest(m) => Self::BadRequest(m),
            E::Timeout(m) => Self::Timeout(m),
            E::Remote(m) => Self::Remote(m),
        }
    }
}

/// The HTTP connection `connection`, to build requests on.
pub fn http(connection: &str) -> Http {
    Http {
        connection: connection.to_owned(),
    }
}

/// An HTTP connection by name; [`http`] makes one.
#[derive(Debug, Clone)]
pub struct Http {
    connection: String,
}

impl Http {
    /// A request with `method` (`GET`, `POST`, ...) to `path` (with its query) under
    /// the connection's base URL.
    pub fn request(&self, method: &str, path: &str) -> HttpRequest {
        HttpRequest {
            connection: self.connection.clone(),
            method: method.to_owned(),
            path: path.to_owned(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// A `GET` of `path`.
    pub fn get(&self, path: &str) -> HttpRequest {
        self.request("GET", path)
    }

    /// A `POST` to `path`.
    pub fn post(&self, path: &str) -> HttpRequest {
        self.request("POST", path)
    }

    /// A `PUT` to `path`.
    pub fn put(&self, path: &str) -> HttpRequest {
        self.request("PUT", path)
    }

    /// A `PATCH` of `path`.
    pub fn patch(&self, path: &str) -> HttpRequest {
        self.request("PATCH", path)
    }

    /// A `DELETE` of `path`.
    pub fn delete(&self, path: &str) -> HttpRequest {
        self.request("DELETE", path)
    }

    /// A `HEAD` of `path`.
    pub fn head(&self, path: &str) -> HttpRequest {
        self.request("HEAD", path)
    }
}

/// A request being built; [`HttpRequest::send`] sends it.
#[derive(Debug, Clone)]
#[must_use = "a request does nothing until it is sent"]
pub struct HttpRequest {
    connection: String,
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl HttpRequest {
    /// Adds a header (several of one name are all sent).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Adds the query parameter `name=value` to the path, both percent-encoded.
    pub fn query(mut self, name: &str, value: &str) -> Self {
        let separator = if self.path.contains('?') { '&' } else { '?' };
        self.path.push(separator);
        encode_into(&mut self.path, name);
        self.path.push('=');
        encode_into(&mut self.path, value);
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// Sets the body to `value` as JSON, and `content-type: application/json`.
    ///
    /// # Errors
    ///
    /// [`Error::Internal`] if `value` cannot be serialised.
    pub fn json<T: Serialize + ?Sized>(mut self, value: &T) -> Result<Self, Error> {
        self.body = serde_json::to_vec(value).map_err(|err| {
            Error::internal(format!("failed to serialise a request body as JSON: {err}"))
        })?;
        Ok(self.header("content-type", "application/json"))
    }

    /// Sends the request and waits for the whole answer.
    ///
    /// # Errors
    ///
    /// An [`OutgoingError`] when no answer came; a status is an answer.
    pub fn send(self) -> Result<HttpResponse, OutgoingError> {
        #[cfg(target_arch = "wasm32")]
        {
            use crate::bindings::zato::service::outgoing_http;
            let request = outgoing_http::HttpRequest {
                method: self.method,
                path: self.path,
                headers: self.headers,
                body: self.body,
            };
            crate::import(|| outgoing_http::send(&self.connection, &request))
                .map(|r| HttpResponse {
                    status: r.status,
                    headers: r.headers,
                    body: r.body,
                })
                .map_err(OutgoingError::from)
        }

        #[cfg(not(target_arch = "wasm32"))]
        crate::testing::send_http(crate::testing::SentHttp {
            connection: self.connection,
            method: self.method,
            path: self.path,
            headers: self.headers,
            body: self.body,
        })
    }
}

/// Percent-encodes `text` for a query string into `out`.
fn encode_into(out: &mut String, text: &str) {
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
}

/// What the other side answered.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl HttpResponse {
    /// An answer as a test fakes it ([`testing::answer_http`](crate::testing::answer_http)):
    /// a status, headers (names are made lowercase, as received ones are) and a body.
    pub fn new(status: u16, headers: &[(&str, &str)], body: impl Into<Vec<u8>>) -> Self {
        Self {
            status,
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_ascii_lowercase(), (*v).to_owned()))
                .collect(),
            body: body.into(),
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The first value of the header `name`, compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every header in the order received; names are lowercase.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &str)> {
        self.headers.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// The body.
    pub fn bytes(&self) -> &[u8] {
        &self.body
    }

    /// The body, owned.
    pub fn into_bytes(self) -> Vec<u8> {
        self.body
    }

    /// The body as UTF-8 text.
    ///
    /// # Errors
    ///
    /// [`Error::Internal`] if it is not UTF-8.
    pub fn text(&self) -> Result<&str, Error> {
        std::str::from_utf8(&self.body).map_err(|err| {
            Error::internal(format!(
                "the answer (HTTP {}) is not UTF-8 text: {err}",
                self.status
            ))
        })
    }

    /// The body parsed as the JSON `T`.
    ///
    /// # Errors
    ///
    /// [`Error::Internal`] if it is not the JSON `T` describes: the other side's answer
    /// is not the caller's fault.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_slice(&self.body).map_err(|err| {
            Error::internal(format!(
                "the answer (HTTP {}) is not the JSON expected: {err}",
                self.status
            ))
        })
    }

    /// The response itself if its status is below 400, else
    /// [`OutgoingError::Status`] with the status and the body's first 200 characters.
    ///
    /// # Errors
    ///
    /// [`OutgoingError::Status`] for 4xx and 5xx.
    pub fn error_for_status(self) -> Result<Self, OutgoingError> {
        if self.status < 400 {
            return Ok(self);
        }
        let text = String::from_utf8_lossy(&self.body);
        let start: String = text.chars().take(200).collect();
        Err(OutgoingError::Status(self.status, start))
    }
}

/// A SOAP Fault the other side answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SoapFault {
    /// 1.1's `faultcode`, 1.2's `Code/Value`, as written (e.g. `soap:Server`).
    pub code: String,
    /// 1.1's `faultstring`, 1.2's first `Reason/Text`.
    pub reason: String,
    /// The XML inside the fault's detail, if there is one.
    pub detail: Option<String>,
}

/// Why a SOAP call got no answer element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SoapError {
    /// The call got no answer (the same cases as for HTTP).
    Call(OutgoingError),
    /// The other side answered with a SOAP Fault.
    Fault(SoapFault),
}

impl fmt::Display for SoapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Call(err) => err.fmt(f),
            Self::Fault(fault) => write!(f, "SOAP Fault {}: {}", fault.code, fault.reason),
        }
    }
}

impl std::error::Error for SoapError {}

/// As [`OutgoingError`]'s conversion; a SOAP Fault is an [`Error::Internal`] naming
/// its code and reason (a service that expects faults matches on [`SoapError::Fault`]
/// instead).
impl From<SoapError> for Error {
    fn from(err: SoapError) -> Self {
        match err {
            SoapError::Call(err) => err.into(),
            SoapError::Fault(_) => Error::Internal(format!("outgoing call failed: {err}")),
        }
    }
}

#[cfg(target_arch = "wasm32")]
impl From<crate::bindings::zato::service::outgoing_soap::SoapError> for SoapError {
    fn from(err: crate::bindings::zato::service::outgoing_soap::SoapError) -> Self {
        use crate::bindings::zato::service::outgoing_soap::SoapError as E;
        match err {
            E::NotFound(m) => Self::Call(OutgoingError::NotFound(m)),
            E::Inactive(m) => Self::Call(OutgoingError::Inactive(m)),
            E::Misconfigured(m) => Self::Call(OutgoingError::Misconfigured(m)),
            E::BadRequest(m) => Self::Call(OutgoingError::BadRequest(m)),
            E::Timeout(m) => Self::Call(OutgoingError::Timeout(m)),
            E::Remote(m) => Self::Call(OutgoingError::Remote(m)),
            E::Fault(f) => Self::Fault(SoapFault {
                code: f.code,
                reason: f.reason,
                detail: f.detail,
            }),
        }
    }
}

/// The SOAP connection `connection`.
pub fn soap(connection: &str) -> Soap {
    Soap {
        connection: connection.to_owned(),
    }
}

/// A SOAP connection by name; [`soap`] makes one.
#[derive(Debug, Clone)]
pub struct Soap {
    connection: String,
}

impl Soap {
    /// Calls the endpoint with `body` (one XML element, which [`crate::xml::Element`]
    /// builds) as the envelope's body and `action` as the SOAPAction (empty for the
    /// connection's default). Answers the first child element of the answer's body as
    /// XML text, which [`crate::xml::field`] reads.
    ///
    /// # Errors
    ///
    /// [`SoapError::Fault`] when the other side answers a SOAP Fault,
    /// [`SoapError::Call`] when no answer came.
    pub fn call(&self, action: &str, body: &str) -> Result<String, SoapError> {
        #[cfg(target_arch = "wasm32")]
        return crate::import(|| {
            crate::bindings::zato::service::outgoing_soap::call(&self.connection, action, body)
        })
        .map_err(SoapError::from);

        #[cfg(not(target_arch = "wasm32"))]
        crate::testing::call_soap(&self.connection, action, body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natively_no_connection_is_configured() {
        let err = http("crm").get("/x").send().unwrap_err();
        assert!(matches!(&err, OutgoingError::NotFound(m) if m.contains("`crm`")));
        assert_eq!(Error::from(err).status(), 500);
        let err = soap("billing").call("A", "<a/>").unwrap_err();
        assert!(matches!(err, SoapError::Call(OutgoingError::NotFound(_))));
    }

    #[test]
    fn a_test_fakes_what_a_connection_answers_and_sees_what_was_sent() {
        crate::testing::answer_http(
            "crm",
            Ok(HttpResponse::new(
                201,
                &[("Content-Type", "application/json")],
                r#"{"id":7}"#,
            )),
        );
        crate::testing::answer_soap("billing", "Pay", Ok("<paid/>".into()));
        let answer = http("crm")
            .post("/customers")
            .json(&serde_json::json!({"name": "Ada"}))
            .unwrap()
            .send()
            .unwrap();
        assert_eq!(answer.status(), 201);
        assert_eq!(answer.header("content-type"), Some("application/json"));
        assert_eq!(soap("billing").call("Pay", "<pay/>").unwrap(), "<paid/>");
        let sent = crate::testing::sent_http();
        assert_eq!(sent.len(), 1);
        assert_eq!(
            (sent[0].method.as_str(), sent[0].path.as_str()),
            ("POST", "/customers")
        );
        assert_eq!(sent[0].body, br#"{"name":"Ada"}"#);
        assert_eq!(
            crate::testing::sent_soap(),
            [("billing".into(), "Pay".into(), "<pay/>".into())]
        );
        // Another connection, or another action, still has no answer.
        assert!(http("erp").get("/").send().is_err());
        assert!(soap("billing").call("Refund", "<r/>").is_err());
        crate::testing::reset();
        assert!(http("crm").get("/").send().is_err());
    }

    #[test]
    fn a_query_is_percent_encoded_and_appended() {
        let request = http("crm")
            .get("/search?x=1")
            .query("q", "a b&c")
            .query("é", "/");
        assert_eq!(request.path, "/search?x=1&q=a%20b%26c&%C3%A9=%2F");
    }

    #[test]
    fn an_error_status_becomes_an_error_when_asked() {
        let response = HttpResponse {
            status: 503,
            headers: vec![("content-type".into(), "text/plain".into())],
            body: b"down".to_vec(),
        };
        assert_eq!(response.header("Content-Type"), Some("text/plain"));
        let err = response.error_for_status().unwrap_err();
        assert_eq!(err, OutgoingError::Status(503, "down".into()));
        assert!(Error::from(err).message().contains("HTTP 503"));
        assert_eq!(
            Error::from(OutgoingError::Timeout("t".into())).status(),
            503
        );
    }
}
