//! What a server answered, and the body of a request.

use bytes::Bytes;
use serde::de::DeserializeOwned;

use super::{ClientError, StatusCode};
use crate::ErrorBody;

/// The body of a request sent with [`AdminClient::send`](super::AdminClient::send).
#[derive(Debug, Clone)]
pub enum Body {
    /// No body.
    Empty,
    /// A JSON document, sent as `application/json`.
    Json(serde_json::Value),
    /// Bytes as they are (a component to deploy, a payload to invoke a service with).
    Bytes(Bytes),
}

/// What a server answered, whatever its status.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The HTTP status.
    pub status: StatusCode,
    /// The correlation ID the server gave the request (`x-zato-cid`), if any.
    pub cid: Option<String>,
    /// The answer's `content-type`, if any.
    pub content_type: Option<String>,
    /// The answer's body.
    pub body: Bytes,
}

impl Answer {
    /// The server's error message: the `error` of a JSON error body, or else the body as
    /// text.
    pub fn error_message(&self) -> String {
        match serde_json::from_slice::<ErrorBody>(&self.body) {
            Ok(e) => e.error,
            Err(_) => String::from_utf8_lossy(&self.body).trim().to_owned(),
        }
    }

    /// Decodes a successful answer, or turns a failed one into [`ClientError::Server`].
    pub fn json<T: DeserializeOwned>(self) -> Result<T, ClientError> {
        if !self.status.is_success() {
            return Err(self.into_error());
        }
        serde_json::from_slice(&self.body).map_err(|e| ClientError::Unexpected(e.to_string()))
    }

    /// The [`ClientError::Server`] this answer means (whatever its status).
    pub fn into_error(self) -> ClientError {
        let body = serde_json::from_slice::<ErrorBody>(&self.body).ok();
        ClientError::Server {
            status: self.status,
            message: self.error_message(),
            cid: body.and_then(|b| b.cid).or(self.cid),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ServerInfo, ServerStatus};

    #[test]
    fn an_error_answer_gives_its_message_and_cid() {
        let answer = Answer {
            status: StatusCode::NOT_FOUND,
            cid: Some("from-header".into()),
            content_type: Some("application/json".into()),
            body: Bytes::from_static(br#"{"error":"service `x` is not deployed","cid":"c1"}"#),
        };
        let error = answer.json::<ServerStatus>().unwrap_err();
        assert_eq!(
            error.to_string(),
            "server answered 404 Not Found: service `x` is not deployed"
        );
        assert!(
            matches!(&error, ClientError::Server { cid: Some(c), .. } if c == "c1"),
            "{error:?}"
        );
        assert_eq!(error.status(), Some(StatusCode::NOT_FOUND));
    }

    #[test]
    fn a_text_error_answer_is_its_trimmed_text() {
        let answer = Answer {
            status: StatusCode::BAD_REQUEST,
            cid: Some("h".into()),
            content_type: None,
            body: Bytes::from_static(b"Failed to deserialize\n"),
        };
        assert_eq!(answer.error_message(), "Failed to deserialize");
        assert!(matches!(
            answer.into_error(),
            ClientError::Server { cid: Some(c), .. } if c == "h"
        ));
    }

    #[test]
    fn a_success_that_does_not_decode_is_unexpected() {
        let answer = Answer {
            status: StatusCode::OK,
            cid: None,
            content_type: None,
            body: Bytes::from_static(b"<html>"),
        };
        let error = answer.json::<Vec<ServerInfo>>().unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("unexpected answer from the server: "),
            "{error}"
        );
    }
}
