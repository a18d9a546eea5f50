//! Why a request to the admin API failed.

use thiserror::Error;

use super::StatusCode;

/// Why a request to the admin API failed.
#[derive(Debug, Error)]
pub enum ClientError {
    /// No answer: the request could not be sent.
    #[error("cannot reach {url}: {}{error}", if *refused { "is the server running? " } else { "" })]
    Unreachable {
        /// The URL of the request.
        url: String,
        /// No connection could be made at all (refused, or no route): most likely
        /// nothing listens there.
        refused: bool,
        /// What the HTTP client reported.
        error: reqwest::Error,
    },
    /// The answer started but could not be read to its end.
    #[error("reading the answer: {}", chain(error))]
    Interrupted {
        /// The URL of the request.
        url: String,
        /// What the HTTP client reported.
        error: reqwest::Error,
    },
    /// The server answered 401: wrong user or password.
    #[error("{url}: the admin credentials were refused")]
    CredentialsRefused {
        /// The URL of the request.
        url: String,
    },
    /// The server answered with an error status.
    #[error("server answered {status}: {message}")]
    Server {
        /// The HTTP status.
        status: StatusCode,
        /// The `error` of its JSON error body (or its body as text).
        message: String,
        /// The correlation ID of the failed request, if it had one.
        cid: Option<String>,
    },
    /// The server answered success with a body that is not what the route returns.
    #[error("unexpected answer from the server: {0}")]
    Unexpected(String),
}

impl ClientError {
    /// The status of the server's error answer, for [`ClientError::Server`].
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            ClientError::Server { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// An error and its sources, `: `-separated, so a reader sees why the body broke off.
fn chain(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(e) = source {
        text.push_str(&format!(": {e}"));
        source = e.source();
    }
    text
}
