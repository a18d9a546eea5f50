//! [`Error`]: what a service answers when it cannot produce a [`Response`](crate::Response).

use std::fmt;

/// An error a service returns instead of a response.
///
/// The cases are those of the WIT `error` variant. The host turns each into a status in
/// one place (see [`Error::status`]); messaging channels requeue a message on
/// [`Error::Retry`]. The message is shown to the caller, so it should say what was wrong
/// with the request without leaking internals.
///
/// ```
/// use zato_sdk::Error;
///
/// let err = Error::bad_request("`email` must contain an `@`");
/// assert_eq!(err.status(), 400);
/// assert_eq!(err.to_string(), "bad request: `email` must contain an `@`");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The request is malformed or fails validation (400).
    BadRequest(String),
    /// The caller is not authenticated (401).
    Unauthorized(String),
    /// The caller is authenticated but not allowed to do this (403).
    Forbidden(String),
    /// The thing the request refers to does not exist (404).
    NotFound(String),
    /// The request conflicts with the current state (409).
    Conflict(String),
    /// A temporary failure: try again later (503; messaging channels requeue).
    Retry(String),
    /// A failure on the service's side (500).
    Internal(String),
}

impl Error {
    /// An [`Error::BadRequest`] with `message`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::BadRequest(message.into())
    }

    /// An [`Error::Unauthorized`] with `message`.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::Unauthorized(message.into())
    }

    /// An [`Error::Forbidden`] with `message`.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::Forbidden(message.into())
    }

    /// An [`Error::NotFound`] with `message`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::NotFound(message.into())
    }

    /// An [`Error::Conflict`] with `message`.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::Conflict(message.into())
    }

    /// An [`Error::Retry`] with `message`.
    pub fn retry(message: impl Into<String>) -> Self {
        Self::Retry(message.into())
    }

    /// An [`Error::Internal`] with `message`.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::Internal(message.into())
    }

    /// The message the error carries.
    pub fn message(&self) -> &str {
        match self {
            Self::BadRequest(message)
            | Self::Unauthorized(message)
            | Self::Forbidden(message)
            | Self::NotFound(message)
            | Self::Conflict(message)
            | Self::Retry(message)
            | Self::Internal(message) => message,
        }
    }

    /// The HTTP status the host answers with for this error, as the WIT contract
    /// specifies it.
    pub fn status(&self) -> u16 {
        match self {
            Self::BadRequest(_) => 400,
            Self::Unauthorized(_) => 401,
            Self::Forbidden(_) => 403,
            Self::NotFound(_) => 404,
            Self::Conflict(_) => 409,
            Self::Retry(_) => 503,
            Self::Internal(_) => 500,
        }
    }

    /// The case's name as the WIT contract spells it, e.g. `bad-request`: stable, for
    /// machines (logs, JSON answers, tests).
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest(_) => "bad-request",
            Self::Unauthorized(_) => "unauthorized",
            Self::Forbidden(_) => "forbidden",
            Self::NotFound(_) => "not-found",
            Self::Conflict(_) => "conflict",
            Self::Retry(_) => "retry",
            Self::Internal(_) => "internal",
        }
    }

    /// A short lowercase name of the case for people, e.g. `bad request`.
    fn kind(&self) -> &'static str {
        match self {
            Self::BadRequest(_) => "bad request",
            Self::Unauthorized(_) => "unauthorized",
            Self::Forbidden(_) => "forbidden",
            Self::NotFound(_) => "not found",
            Self::Conflict(_) => "conflict",
            Self::Retry(_) => "retry",
            Self::Internal(_) => "internal error",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind(), self.message())
    }
}

impl std::error::Error for Error {}

/// Maps a JSON error the way a service usually meets one: parsing its input.
///
/// Syntax errors, truncated documents and values of the wrong shape become
/// [`Error::BadRequest`]; I/O errors (which only arise when reading from or writing to a
/// stream) become [`Error::Internal`]. The SDK's own helpers do not rely on this
/// conversion where the blame is clear: [`Response::json`](crate::Response::json) and
/// [`invoke_json`](crate::invoke::invoke_json) report their failures as internal errors.
impl From<serde_json::Error> for Error {
    fn from(err: serde_json::Error) -> Self {
        use serde_json::error::Category;

        match err.classify() {
            Category::Syntax | Category::Eof | Category::Data => {
                Self::BadRequest(format!("invalid JSON: {err}"))
            }
            Category::Io => Self::Internal(format!("JSON I/O failed: {err}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constructors_pick_the_case_and_status() {
        let cases = [
            (
                Error::bad_request("m"),
                400,
                "bad-request",
                "bad request: m",
            ),
            (
                Error::unauthorized("m"),
                401,
                "unauthorized",
                "unauthorized: m",
            ),
            (Error::forbidden("m"), 403, "forbidden", "forbidden: m"),
            (Error::not_found("m"), 404, "not-found", "not found: m"),
            (Error::conflict("m"), 409, "conflict", "conflict: m"),
            (Error::retry("m"), 503, "retry", "retry: m"),
            (Error::internal("m"), 500, "internal", "internal error: m"),
        ];
        for (err, status, code, text) in cases {
            assert_eq!(err.status(), status, "{err:?}");
            assert_eq!(err.code(), code);
            assert_eq!(err.message(), "m");
            assert_eq!(err.to_string(), text);
        }
    }

    #[test]
    fn json_syntax_and_shape_errors_are_bad_requests() {
        let syntax = serde_json::from_str::<serde_json::Value>("{").unwrap_err();
        assert!(
            matches!(Error::from(syntax), Error::BadRequest(m) if m.starts_with("invalid JSON: "))
        );

        let shape = serde_json::from_str::<u32>("\"seven\"").unwrap_err();
        assert!(matches!(Error::from(shape), Error::BadRequest(_)));
    }

    #[test]
    fn json_io_errors_are_internal() {
        struct Broken;
        impl std::io::Read for Broken {
            fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
                Err(std::io::Error::other("disk on fire"))
            }
        }
        let io = serde_json::from_reader::<_, serde_json::Value>(Broken).unwrap_err();
        assert!(matches!(Error::from(io), Error::Internal(m) if m.contains("disk on fire")));
    }
}
