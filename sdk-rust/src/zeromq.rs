//! Sending ZeroMQ messages through the PUSH and PUB sockets an administrator configured
//! as named outgoing connections.
//!
//! ```no_run
//! use zato_sdk::{Error, zeromq};
//!
//! // One message of two frames: on a PUB socket, subscribers filter by the first.
//! zeromq::send("feed", &["weather", r#"{"city": "Oslo", "temp": -3}"#])?;
//! // One frame.
//! zeromq::send_one("jobs", b"resize image-42")?;
//! # Ok::<(), Error>(())
//! ```
//!
//! A message has one or more frames (at most 1,024, at most 16 MiB together); an
//! empty message or a larger one is refused before anything is sent
//! ([`ZeromqError::BadRequest`]). ZeroMQ's semantics: a PUSH message goes to one PULL
//! peer and waits for one when none is connected; a PUB message goes to every
//! subscriber whose subscription its first frame starts with, and is dropped when
//! there is none. Every send is bounded by the connection's timeout and the request's
//! deadline: a PUSH with no peer is [`ZeromqError::Timeout`], never a hang. An `Ok`
//! means the socket took the message; ZeroMQ has no acknowledgement from the peer.
//!
//! A [`ZeromqError`] converts into the service's [`Error`], so `?` works in a service:
//! a missing connection is [`Error::NotFound`], a refused message
//! [`Error::BadRequest`], a timeout, an inactive connection or a failed socket
//! [`Error::Retry`], a connection that cannot be used (an address it cannot bind)
//! [`Error::Internal`].
//!
//! Outside a zato host (in a native unit test) no connection is configured: every call
//! fails with [`ZeromqError::NotFound`].

use std::fmt;

use crate::Error;

/// Why a send failed; converts into the service's [`Error`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ZeromqError {
    /// No ZeroMQ connection of that name is configured.
    NotFound(String),
    /// The connection is configured but inactive.
    Inactive(String),
    /// The connection's definition cannot be used (an address it cannot bind): an
    /// administrator must fix it.
    Misconfigured(String),
    /// The message was refused before anything was sent: no frame, too many, too
    /// large.
    BadRequest(String),
    /// It could not be sent in time: a PUSH socket with no peer, a peer that takes no
    /// more, a peer to connect to that is not up.
    Timeout(String),
    /// The socket failed.
    Remote(String),
}

impl ZeromqError {
    /// The message the error carries.
    pub fn message(&self) -> &str {
        match self {
            Self::NotFound(m)
            | Self::Inactive(m)
            | Self::Misconfigured(m)
            | Self::BadRequest(m)
            | Self::Timeout(m)
            | Self::Remote(m) => m,
        }
    }
}

impl fmt::Display for ZeromqError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for ZeromqError {}

impl From<ZeromqError> for Error {
    fn from(err: ZeromqError) -> Self {
        match err {
            ZeromqError::NotFound(m) => Error::NotFound(m),
            ZeromqError::BadRequest(m) => Error::BadRequest(m),
            ZeromqError::Inactive(m) | ZeromqError::Timeout(m) | ZeromqError::Remote(m) => {
                Error::Retry(m)
            }
            ZeromqError::Misconfigured(m) => Error::Internal(m),
        }
    }
}

/// Sends one message of `frames` through the connection `connection`.
///
/// # Errors
///
/// See [`ZeromqError`].
pub fn send<F: AsRef<[u8]>>(connection: &str, frames: &[F]) -> Result<(), ZeromqError> {
    let frames: Vec<Vec<u8>> = frames.iter().map(|f| f.as_ref().to_vec()).collect();
    host::send(connection, &frames)
}

/// Sends one message of a single frame, `data`, through the connection `connection`.
///
/// # Errors
///
/// See [`ZeromqError`].
pub fn send_one(connection: &str, data: impl AsRef<[u8]>) -> Result<(), ZeromqError> {
    host::send(connection, &[data.as_ref().to_vec()])
}

#[cfg(target_arch = "wasm32")]
mod host {
    use super::*;
    use crate::bindings::zato::service::zeromq as wit;

    pub(super) fn send(connection: &str, frames: &[Vec<u8>]) -> Result<(), ZeromqError> {
        crate::import(|| wit::send(connection, frames)).map_err(|err| match err {
            wit::ZeromqError::NotFound(m) => ZeromqError::NotFound(m),
            wit::ZeromqError::Inactive(m) => ZeromqError::Inactive(m),
            wit::ZeromqError::Misconfigured(m) => ZeromqError::Misconfigured(m),
            wit::ZeromqError::BadRequest(m) => ZeromqError::BadRequest(m),
            wit::ZeromqError::Timeout(m) => ZeromqError::Timeout(m),
            wit::ZeromqError::Remote(m) => ZeromqError::Remote(m),
        })
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod host {
    use super::*;

    pub(super) fn send(connection: &str, _: &[Vec<u8>]) -> Result<(), ZeromqError> {
        Err(ZeromqError::NotFound(format!(
            "no zmq connection named `{connection}` is configured: zeromq needs a zato host"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natively_no_connection_is_configured() {
        let err = send("feed", &["weather", "sunny"]).unwrap_err();
        assert!(matches!(&err, ZeromqError::NotFound(m) if m.contains("`feed`")));
        assert_eq!(Error::from(err).status(), 404);
        assert!(matches!(
            send_one("jobs", b"x"),
            Err(ZeromqError::NotFound(_))
        ));
        assert_eq!(
            Error::from(ZeromqError::BadRequest("none".into())).status(),
            400
        );
        assert_eq!(
            Error::from(ZeromqError::Timeout("no peer".into())).status(),
            503
        );
        assert_eq!(
            Error::from(ZeromqError::Misconfigured("bind".into())).status(),
            500
        );
    }
}
