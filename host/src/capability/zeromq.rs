//! `zato:service/zeromq`: messages sent through the ZeroMQ PUSH and PUB sockets an
//! administrator configured as named connections (`crate::outconn::zmq`).
//!
//! This module checks the guest's arguments (the name, then the frames: at least one,
//! at most [`MAX_FRAMES`], at most [`MAX_MESSAGE_BYTES`] together) and maps
//! [`OutconnError`] to the guest's `zeromq-error`; the sockets, their peers and the time
//! limits are `outconn::zmq`'s. A hostile argument is an error value for the guest,
//! never a trap or a panic.
//!
//! [`MAX_FRAMES`]: crate::outconn::zmq::MAX_FRAMES
//! [`MAX_MESSAGE_BYTES`]: crate::outconn::zmq::MAX_MESSAGE_BYTES

use std::sync::Arc;
use std::time::Instant;

use wasmtime::component::{HasData, Linker};

use crate::outconn::zmq::check_frames;
use crate::outconn::{OutconnError, Outconns};
use crate::wit::zato::service::zeromq::{self, Host, ZeromqError};

/// Longest connection name accepted: a longer one cannot be configured.
pub const MAX_NAME_BYTES: usize = crate::api::MAX_SERVICE_NAME;

/// What the `zeromq` import reaches of a call: the server's connections and the
/// deadline of the request being handled.
pub struct ZeromqView {
    /// `None` only while the server shuts down.
    pub outconns: Option<Arc<Outconns>>,
    pub deadline: Instant,
}

struct Zeromq;

impl HasData for Zeromq {
    type Data<'a> = ZeromqView;
}

/// Links `zeromq`, building each call's [`ZeromqView`] with `get`.
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> ZeromqView,
) -> wasmtime::Result<()> {
    zeromq::add_to_linker::<T, Zeromq>(linker, get)
}

impl From<OutconnError> for ZeromqError {
    fn from(err: OutconnError) -> Self {
        let message = err.to_string();
        match err {
            OutconnError::NotFound(..) => Self::NotFound(message),
            OutconnError::Inactive(..) => Self::Inactive(message),
            OutconnError::Misconfigured(..) => Self::Misconfigured(message),
            OutconnError::BadRequest(_) => Self::BadRequest(message),
            OutconnError::Timeout(_) => Self::Timeout(message),
            OutconnError::Remote(_) => Self::Remote(message),
        }
    }
}

impl Host for ZeromqView {
    async fn send(
        &mut self,
        connection: String,
        frames: Vec<Vec<u8>>,
    ) -> wasmtime::Result<Result<(), ZeromqError>> {
        if connection.is_empty() || connection.len() > MAX_NAME_BYTES {
            return Ok(Err(ZeromqError::BadRequest(format!(
                "invalid connection name ({} bytes): must be 1 to {MAX_NAME_BYTES} bytes",
                connection.len()
            ))));
        }
        // Sizes first: they bound what is queued.
        if let Err(err) = check_frames(&frames) {
            return Ok(Err(err.into()));
        }
        let Some(outconns) = self.outconns.as_ref() else {
            return Ok(Err(ZeromqError::Remote(
                "the server is shutting down".into(),
            )));
        };
        let conn = match outconns.zmq(&connection) {
            Ok(conn) => conn,
            Err(err) => return Ok(Err(err.into())),
        };
        Ok(conn
            .send(frames, self.deadline)
            .await
            .map_err(ZeromqError::from))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::api::{Outconn, OutconnSettings, ZmqOutSocket, ZmqSettings};
    use crate::outconn::zmq::{MAX_FRAMES, MAX_MESSAGE_BYTES};

    fn view(outconns: &Arc<Outconns>) -> ZeromqView {
        ZeromqView {
            outconns: Some(outconns.clone()),
            deadline: Instant::now() + Duration::from_secs(5),
        }
    }

    #[tokio::test]
    async fn hostile_arguments_are_errors_for_the_guest() {
        let outconns = Arc::new(Outconns::default());
        let mut view = view(&outconns);
        let cases = [
            (
                String::new(),
                vec![b"x".to_vec()],
                "invalid connection name",
            ),
            (
                "n".repeat(MAX_NAME_BYTES + 1),
                vec![b"x".to_vec()],
                "invalid connection name",
            ),
            ("feed".into(), Vec::new(), "at least one frame"),
            (
                "feed".into(),
                vec![Vec::new(); MAX_FRAMES + 1],
                "frames refused",
            ),
            (
                "feed".into(),
                vec![
                    vec![0u8; MAX_MESSAGE_BYTES / 2 + 1],
                    vec![0u8; MAX_MESSAGE_BYTES / 2],
                ],
                "bytes refused",
            ),
        ];
        for (name, frames, expected) in cases {
            match view.send(name, frames).await.unwrap() {
                Err(ZeromqError::BadRequest(m)) => assert!(m.contains(expected), "{m}"),
                other => panic!("expected bad-request ({expected}), got {other:?}"),
            }
        }
    }

    #[tokio::test]
    async fn missing_inactive_and_unbindable_connections_say_so() {
        let outconns = Arc::new(Outconns::default());
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = format!("tcp://{}", taken.local_addr().unwrap());
        let def = |name: &str, active: bool| Outconn {
            name: name.into(),
            active,
            settings: OutconnSettings::Zmq(ZmqSettings {
                socket: ZmqOutSocket::Push,
                address: address.clone(),
                bind: true,
                timeout_ms: 100,
            }),
            secret: None,
        };
        outconns.apply(vec![def("off", false), def("taken", true)]);
        let mut view = view(&outconns);
        let frames = || vec![b"x".to_vec()];
        match view.send("nope".into(), frames()).await.unwrap() {
            Err(ZeromqError::NotFound(m)) => assert!(m.contains("`nope`"), "{m}"),
            other => panic!("{other:?}"),
        }
        match view.send("off".into(), frames()).await.unwrap() {
            Err(ZeromqError::Inactive(m)) => assert!(m.contains("`off`"), "{m}"),
            other => panic!("{other:?}"),
        }
        match view.send("taken".into(), frames()).await.unwrap() {
            Err(ZeromqError::Misconfigured(m)) => {
                assert!(m.contains("`taken`") && m.contains(&address), "{m}")
            }
            other => panic!("{other:?}"),
        }
    }
}
