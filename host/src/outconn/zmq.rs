//! ZeroMQ outgoing connections (the pure-Rust `zeromq` crate): PUSH and PUB sockets a
//! service sends multi-frame messages through.
//!
//! Each connection owns one socket, run by a task of its own that takes sends over a
//! channel in order ([`ZmqConn::send`]). A socket that binds is bound when the
//! connection is built, so an address it cannot bind makes the connection unusable with
//! a message naming the address (`outconn::build`); a connection rebuilt with the same
//! socket type and address (an edited timeout, say) takes over the running socket
//! rather than race it for the port. A socket that connects keeps connecting until its
//! peer answers, and connects again after the peer goes away.
//!
//! ZeroMQ's semantics, with a bound on every wait: a PUSH message waits for a peer to
//! take it (none connected, or every queue full) and a send that found none within the
//! earlier of the connection's timeout and the request's deadline is
//! [`OutconnError::Timeout`], never a hang; a PUB message goes to the subscribers whose
//! subscriptions match its first frame and is dropped when there are none (a bound PUB
//! socket never waits). A connecting socket whose peer is not up waits for it, within
//! the same bound. A send that returned `Ok` was handed to the socket: ZeroMQ has no
//! acknowledgement, so it may still be lost with its peer (the crate notices a peer
//! that closed its end when a write to it fails, so the first message after that may
//! go to the closed connection).
//!
//! Only TCP (`tcp://host:port`, `*` binding every interface) and IPC (`ipc://path`),
//! NULL security: what the `zeromq` crate speaks.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt as _;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::{CancellationToken, DropGuard};
use zeromq::{PubSocket, PushSocket, Socket, SocketEvent, SocketOptions, SocketSend, ZmqMessage};

use super::OutconnError;
use crate::api::{ZmqOutSocket, ZmqSettings};

/// A send's timeout when the definition says 0.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// The largest message sent, all frames together.
pub const MAX_MESSAGE_BYTES: usize = 16 << 20;
/// The most frames of one message.
pub const MAX_FRAMES: usize = 1024;
/// How long one attempt to connect may take before it starts over.
pub(crate) const CONNECT_ATTEMPT: Duration = Duration::from_secs(2);
/// How often a PUSH message that found no peer looks for one again.
const PEER_POLL: Duration = Duration::from_millis(10);
/// Sends waiting for the socket's task, beyond which a sender waits its turn.
const QUEUE: usize = 1024;

/// One outgoing connection: its socket and its timeout.
pub struct ZmqConn {
    socket: Arc<Shared>,
    timeout: Duration,
}

/// What the connection and its socket's task share; the task ends when the last
/// connection holding it is dropped.
struct Shared {
    kind: ZmqOutSocket,
    address: String,
    bind: bool,
    requests: mpsc::Sender<Request>,
    /// [`State`] as a byte: what a timed-out send tells the service.
    state: AtomicU8,
    _stop: DropGuard,
}

/// Where the socket stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum State {
    /// Connecting: nothing answers at the address yet.
    Connecting = 0,
    /// Bound or connected, and its last send found no peer to take a message.
    NoPeer = 1,
    /// Bound or connected, and its last send went out.
    Up = 2,
}

/// One send, handed to the socket's task.
struct Request {
    message: ZmqMessage,
    deadline: Instant,
    reply: oneshot::Sender<Result<(), OutconnError>>,
}

/// The sockets bound by the connections of this process, by (type, address): a
/// connection rebuilt from an edited definition takes over the running socket.
static BOUND: Mutex<Option<Bound>> = Mutex::new(None);

type Bound = HashMap<(ZmqOutSocket, String), Weak<Shared>>;

impl ZmqConn {
    /// Checks the settings, binds the address when the socket binds, and starts the
    /// socket's task (which connects when it does not). Must be called inside a tokio
    /// runtime.
    pub fn new(settings: &ZmqSettings) -> Result<Self, String> {
        let endpoint = endpoint(&settings.address)?;
        let timeout = match settings.timeout_ms {
            0 => DEFAULT_TIMEOUT,
            ms => Duration::from_millis(ms),
        };
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| "no tokio runtime to run the socket in".to_owned())?;
        let key = (settings.socket, settings.address.clone());
        let mut bound = BOUND.lock().expect("not poisoned");
        if settings.bind
            && let Some(socket) = bound
                .as_ref()
                .and_then(|map| map.get(&key))
                .and_then(Weak::upgrade)
        {
            return Ok(Self { socket, timeout });
        }
        let listener = if settings.bind {
            Some(bind_listener(&settings.address)?)
        } else {
            None
        };
        let (requests, rx) = mpsc::channel(QUEUE);
        let stop = CancellationToken::new();
        let socket = Arc::new(Shared {
            kind: settings.socket,
            address: settings.address.clone(),
            bind: settings.bind,
            requests,
            state: AtomicU8::new(if settings.bind {
                State::NoPeer
            } else {
                State::Connecting
            } as u8),
            _stop: stop.clone().drop_guard(),
        });
        let task = Task {
            shared: Arc::downgrade(&socket),
            endpoint,
            address: settings.address.clone(),
            bind: settings.bind,
            requests: rx,
            stop,
        };
        match settings.socket {
            ZmqOutSocket::Push => {
                runtime.spawn(task.run(PushSocket::with_options(options()), listener))
            }
            ZmqOutSocket::Pub => {
                runtime.spawn(task.run(PubSocket::with_options(options()), listener))
            }
        };
        if settings.bind {
            let map = bound.get_or_insert_with(HashMap::new);
            map.retain(|_, socket| socket.strong_count() > 0);
            map.insert(key, Arc::downgrade(&socket));
        }
        Ok(Self { socket, timeout })
    }

    /// The address the socket binds or connects to.
    pub fn address(&self) -> &str {
        &self.socket.address
    }

    /// Sends one message of `frames` (at least one, at most [`MAX_FRAMES`] and
    /// [`MAX_MESSAGE_BYTES`] together), within the earlier of the connection's timeout
    /// and `deadline`.
    pub async fn send(&self, frames: Vec<Vec<u8>>, deadline: Instant) -> Result<(), OutconnError> {
        check_frames(&frames)?;
        let started = Instant::now();
        let deadline = deadline.min(started + self.timeout);
        let message = ZmqMessage::try_from(frames.into_iter().map(Bytes::from).collect::<Vec<_>>())
            .map_err(|_| OutconnError::BadRequest("a message needs at least one frame".into()))?;
        let (reply, answer) = oneshot::channel();
        let request = Request {
            message,
            deadline,
            reply,
        };
        let sent = tokio::time::timeout_at(deadline.into(), async {
            self.socket
                .requests
                .send(request)
                .await
                .map_err(|_| self.closed())?;
            // The task drops a request only once its deadline has passed (a moment
            // before this timer fires, say).
            answer
                .await
                .map_err(|_| self.timed_out(started.elapsed()))?
        })
        .await;
        sent.unwrap_or_else(|_| Err(self.timed_out(started.elapsed())))
    }

    fn closed(&self) -> OutconnError {
        OutconnError::Remote(format!(
            "the ZeroMQ socket of {} is closed",
            self.socket.address
        ))
    }

    fn timed_out(&self, waited: Duration) -> OutconnError {
        let s = &self.socket;
        let why = match s.state.load(Ordering::Relaxed) {
            0 => format!("nothing answers at {} yet", s.address),
            1 => match (s.kind, s.bind) {
                (ZmqOutSocket::Push, true) => format!("no PULL peer is connected to {}", s.address),
                _ => format!("the peer at {} is gone", s.address),
            },
            _ => format!(
                "the peers of {} take no more (their queues are full)",
                s.address
            ),
        };
        OutconnError::Timeout(format!(
            "the {} message was not sent within {} ms: {why}",
            s.kind.as_str().to_uppercase(),
            waited.as_millis()
        ))
    }
}

/// Checks a message's frames: at least one, at most [`MAX_FRAMES`], at most
/// [`MAX_MESSAGE_BYTES`] together.
pub fn check_frames<F: AsRef<[u8]>>(frames: &[F]) -> Result<(), OutconnError> {
    if frames.is_empty() {
        return Err(OutconnError::BadRequest(
            "a message needs at least one frame".into(),
        ));
    }
    if frames.len() > MAX_FRAMES {
        return Err(OutconnError::BadRequest(format!(
            "{} frames refused: a message has at most {MAX_FRAMES}",
            frames.len()
        )));
    }
    let bytes: usize = frames.iter().map(|f| f.as_ref().len()).sum();
    if bytes > MAX_MESSAGE_BYTES {
        return Err(OutconnError::BadRequest(format!(
            "a message of {bytes} bytes refused: at most {MAX_MESSAGE_BYTES}"
        )));
    }
    Ok(())
}

/// The options of every socket: an attempt to connect gives up after
/// [`CONNECT_ATTEMPT`] (and is made again) rather than the crate's 30 s.
pub(crate) fn options() -> SocketOptions {
    let mut options = SocketOptions::default();
    options.connect_timeout(CONNECT_ATTEMPT);
    options
}

/// The socket's task: binds (adopting the listener bound by [`ZmqConn::new`]) or
/// connects, then sends what it is handed, in order, until the connection is dropped.
struct Task {
    shared: Weak<Shared>,
    endpoint: String,
    address: String,
    bind: bool,
    requests: mpsc::Receiver<Request>,
    stop: CancellationToken,
}

impl Task {
    fn set(&self, state: State) {
        if let Some(shared) = self.shared.upgrade() {
            shared.state.store(state as u8, Ordering::Relaxed);
        }
    }

    async fn run<S: Socket + SocketSend>(
        mut self,
        mut socket: S,
        listener: Option<zeromq::Listener>,
    ) {
        let mut monitor = socket.monitor();
        if let Some(listener) = listener
            && let Err(e) = socket.bind_listener(listener).await
        {
            // The address is bound already: only the accept loop could not start.
            tracing::error!(address = %self.address, "a ZeroMQ socket cannot accept on {}: {e}", self.address);
        }
        let mut up = self.bind;
        let mut retry = RETRY_MIN;
        // A message taken off the queue and not sent yet.
        let mut next: Option<Request> = None;
        loop {
            if !up {
                self.set(State::Connecting);
                tokio::select! {
                    _ = self.stop.cancelled() => break,
                    attempt = tokio::time::timeout(CONNECT_ATTEMPT, socket.connect(&self.endpoint)) => {
                        match attempt {
                            Ok(Ok(())) => {
                                tracing::debug!(address = %self.address, "ZeroMQ socket connected");
                                up = true;
                                retry = RETRY_MIN;
                                self.set(State::Up);
                            }
                            Ok(Err(e)) => {
                                tracing::debug!(address = %self.address, "cannot connect a ZeroMQ socket (trying again): {e}");
                                if !pause(&self.stop, retry).await {
                                    break;
                                }
                                retry = (retry * 2).min(RETRY_MAX);
                            }
                            Err(_) => {}
                        }
                    }
                }
                continue;
            }
            let request = match next.take() {
                Some(request) => request,
                None => tokio::select! {
                    _ = self.stop.cancelled() => break,
                    event = monitor.next() => {
                        if !self.bind && matches!(event, Some(SocketEvent::Disconnected(_))) {
                            up = false;
                        }
                        continue;
                    }
                    request = self.requests.recv() => match request {
                        Some(request) => request,
                        None => break,
                    },
                },
            };
            // The sender gave up (and was told it timed out): not sent late.
            if request.reply.is_closed() || Instant::now() >= request.deadline {
                continue;
            }
            let attempt = tokio::time::timeout_at(
                request.deadline.into(),
                socket.send(request.message.clone()),
            )
            .await;
            match attempt {
                Ok(Ok(())) => {
                    self.set(State::Up);
                    let _ = request.reply.send(Ok(()));
                }
                // No peer took it (none connected, or the one it chose went away):
                // it waits for one, until its deadline.
                Ok(Err(e)) => {
                    tracing::trace!(address = %self.address, "a ZeroMQ send found no peer: {e}");
                    self.set(State::NoPeer);
                    if self.bind {
                        if !pause(&self.stop, PEER_POLL).await {
                            break;
                        }
                    } else {
                        up = false;
                    }
                    next = Some(request);
                }
                // Every peer's queue is full until the deadline: the sender times out.
                Err(_) => {}
            }
        }
        for error in socket.close().await {
            tracing::debug!(address = %self.address, "closing a ZeroMQ socket: {error}");
        }
    }
}

/// The first and the longest pause between attempts to connect.
const RETRY_MIN: Duration = Duration::from_millis(50);
const RETRY_MAX: Duration = Duration::from_secs(2);

/// Sleeps `time` unless `stop` comes first; whether it slept.
async fn pause(stop: &CancellationToken, time: Duration) -> bool {
    tokio::select! {
        _ = stop.cancelled() => false,
        _ = tokio::time::sleep(time) => true,
    }
}

/// The endpoint the `zeromq` crate is given for `address`: `tcp://*:PORT` (every
/// interface, as libzmq writes it) is `tcp://0.0.0.0:PORT`.
pub(crate) fn endpoint(address: &str) -> Result<String, String> {
    match address.split_once("://") {
        Some(("tcp", rest)) => {
            let (host, port) = rest
                .rsplit_once(':')
                .filter(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok())
                .ok_or_else(|| format!("`{address}` needs a host and a port: tcp://HOST:PORT"))?;
            Ok(match host {
                "*" => format!("tcp://0.0.0.0:{port}"),
                _ => address.to_owned(),
            })
        }
        Some(("ipc", path)) if !path.is_empty() => Ok(address.to_owned()),
        _ => Err(format!(
            "`{address}` is not a tcp://HOST:PORT or ipc://PATH address"
        )),
    }
}

/// Binds `address` at once, for a socket to adopt: the port is taken (or the failure
/// known) before anything else happens. An `ipc://` path left behind by a dead process
/// (a socket file nothing listens on) is replaced, as libzmq does.
pub(crate) fn bind_listener(address: &str) -> Result<zeromq::Listener, String> {
    let failed = |e: std::io::Error| format!("cannot bind {address}: {e}");
    let endpoint = endpoint(address)?;
    if let Some(rest) = endpoint.strip_prefix("tcp://") {
        let (host, port) = rest.rsplit_once(':').expect("checked by endpoint");
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let port: u16 = port.parse().expect("checked by endpoint");
        let listener = std::net::TcpListener::bind((host, port)).map_err(failed)?;
        return Ok(listener.into());
    }
    let path = endpoint
        .strip_prefix("ipc://")
        .expect("checked by endpoint");
    match std::os::unix::net::UnixListener::bind(path) {
        Ok(listener) => Ok(listener.into()),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
            match std::os::unix::net::UnixStream::connect(path) {
                Err(refused) if refused.kind() == std::io::ErrorKind::ConnectionRefused => {
                    std::fs::remove_file(path).map_err(failed)?;
                    Ok(std::os::unix::net::UnixListener::bind(path)
                        .map_err(failed)?
                        .into())
                }
                _ => Err(failed(e)),
            }
        }
        Err(e) => Err(failed(e)),
    }
}

/// Checks that the socket can be set up: that the address can be bound (or is bound by
/// this server's connection already), or that a ZeroMQ peer of a matching type answers
/// at it, within `deadline` (and the connection's timeout).
pub async fn ping(settings: &ZmqSettings, deadline: Instant) -> Result<String, OutconnError> {
    let endpoint = endpoint(&settings.address).map_err(OutconnError::BadRequest)?;
    let address = &settings.address;
    if settings.bind {
        let held = BOUND
            .lock()
            .expect("not poisoned")
            .as_ref()
            .and_then(|map| map.get(&(settings.socket, address.clone())))
            .is_some_and(|socket| socket.strong_count() > 0);
        if held {
            return Ok(format!("{address} is bound by this server's connection"));
        }
        // Bound and released at once.
        bind_listener(address).map_err(OutconnError::Remote)?;
        return Ok(format!("{address} can be bound"));
    }
    let timeout = match settings.timeout_ms {
        0 => DEFAULT_TIMEOUT,
        ms => Duration::from_millis(ms),
    };
    let deadline = deadline.min(Instant::now() + timeout);
    let connect = async {
        match settings.socket {
            ZmqOutSocket::Push => PushSocket::with_options(options()).connect(&endpoint).await,
            ZmqOutSocket::Pub => PubSocket::with_options(options()).connect(&endpoint).await,
        }
    };
    match tokio::time::timeout_at(deadline.into(), connect).await {
        Ok(Ok(())) => Ok(format!("a ZeroMQ peer answers at {address}")),
        Ok(Err(e)) => Err(OutconnError::Remote(format!(
            "cannot connect to {address}: {e}"
        ))),
        Err(_) => Err(OutconnError::Timeout(format!(
            "no ZeroMQ peer answered at {address} in time"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zeromq::{PullSocket, SocketRecv};

    fn settings(socket: ZmqOutSocket, address: &str, bind: bool, timeout_ms: u64) -> ZmqSettings {
        ZmqSettings {
            socket,
            address: address.into(),
            bind,
            timeout_ms,
        }
    }

    fn free_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    }

    #[test]
    fn addresses_are_checked_and_star_binds_every_interface() {
        assert_eq!(endpoint("tcp://*:5555").unwrap(), "tcp://0.0.0.0:5555");
        assert_eq!(
            endpoint("tcp://127.0.0.1:5555").unwrap(),
            "tcp://127.0.0.1:5555"
        );
        assert_eq!(endpoint("ipc:///tmp/x.sock").unwrap(), "ipc:///tmp/x.sock");
        for bad in [
            "127.0.0.1:5555",
            "tcp://127.0.0.1",
            "udp://h:1",
            "tcp://:1",
            "ipc://",
        ] {
            let err = endpoint(bad).unwrap_err();
            assert!(err.contains(bad), "{err}");
        }
    }

    #[test]
    fn frames_are_checked_before_anything_is_sent() {
        let none: Vec<Vec<u8>> = Vec::new();
        assert!(
            check_frames(&none)
                .unwrap_err()
                .to_string()
                .contains("at least one frame")
        );
        let many = vec![b"x".to_vec(); MAX_FRAMES + 1];
        assert!(
            check_frames(&many)
                .unwrap_err()
                .to_string()
                .contains("1025 frames")
        );
        let big = vec![vec![0u8; MAX_MESSAGE_BYTES], b"x".to_vec()];
        assert!(
            check_frames(&big)
                .unwrap_err()
                .to_string()
                .contains("bytes refused")
        );
        assert!(check_frames(&[b"topic".to_vec(), Vec::new()]).is_ok());
    }

    #[tokio::test]
    async fn a_push_with_no_peer_times_out_naming_the_address() {
        let address = format!("tcp://127.0.0.1:{}", free_port());
        let conn = ZmqConn::new(&settings(ZmqOutSocket::Push, &address, true, 200)).unwrap();
        let started = Instant::now();
        let err = conn
            .send(
                vec![b"hello".to_vec()],
                Instant::now() + Duration::from_secs(10),
            )
            .await
            .unwrap_err();
        assert!(matches!(err, OutconnError::Timeout(_)), "{err}");
        assert!(err.to_string().contains("no PULL peer"), "{err}");
        assert!(err.to_string().contains(&address), "{err}");
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(200) && took < Duration::from_secs(2),
            "{took:?}"
        );
        // The request's deadline bounds it too.
        let started = Instant::now();
        let err = conn
            .send(
                vec![b"hello".to_vec()],
                Instant::now() + Duration::from_millis(50),
            )
            .await
            .unwrap_err();
        assert!(matches!(err, OutconnError::Timeout(_)), "{err}");
        assert!(
            started.elapsed() < Duration::from_millis(190),
            "{:?}",
            started.elapsed()
        );
    }

    #[tokio::test]
    async fn a_bind_that_fails_names_the_address_and_a_rebuilt_connection_keeps_the_socket() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = format!("tcp://{}", taken.local_addr().unwrap());
        let err = ZmqConn::new(&settings(ZmqOutSocket::Push, &address, true, 100))
            .err()
            .unwrap();
        assert!(err.contains(&format!("cannot bind {address}")), "{err}");
        drop(taken);

        let first = ZmqConn::new(&settings(ZmqOutSocket::Push, &address, true, 100)).unwrap();
        // An edited definition (another timeout) while the first still lives: the same
        // socket, not a second bind of the port.
        let second = ZmqConn::new(&settings(ZmqOutSocket::Push, &address, true, 3000)).unwrap();
        assert!(Arc::ptr_eq(&first.socket, &second.socket));
        let pinged = ping(
            &settings(ZmqOutSocket::Push, &address, true, 0),
            Instant::now() + Duration::from_secs(1),
        )
        .await
        .unwrap();
        assert!(pinged.contains("bound by this server"), "{pinged}");
        drop((first, second));
        // The last one dropped, the port is released.
        let free = async {
            loop {
                if std::net::TcpListener::bind(address.trim_start_matches("tcp://")).is_ok() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(5), free)
            .await
            .expect("the port is released");
    }

    #[tokio::test]
    async fn push_reaches_a_pull_peer_whether_it_binds_or_connects() {
        // We bind, the peer connects.
        let address = format!("tcp://127.0.0.1:{}", free_port());
        let conn = ZmqConn::new(&settings(ZmqOutSocket::Push, &address, true, 5000)).unwrap();
        let mut pull = PullSocket::new();
        pull.connect(&address).await.unwrap();
        conn.send(
            vec![b"a".to_vec(), b"b".to_vec()],
            Instant::now() + Duration::from_secs(5),
        )
        .await
        .unwrap();
        let got = pull.recv().await.unwrap();
        assert_eq!(got.into_vec(), vec![Bytes::from("a"), Bytes::from("b")]);

        // The peer binds, we connect (before it is there: the send waits for it).
        let address = format!("tcp://127.0.0.1:{}", free_port());
        let conn = ZmqConn::new(&settings(ZmqOutSocket::Push, &address, false, 5000)).unwrap();
        let sending = tokio::spawn(async move {
            conn.send(
                vec![b"late".to_vec()],
                Instant::now() + Duration::from_secs(5),
            )
            .await
            .map(|_| conn)
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut pull = PullSocket::new();
        pull.bind(&address).await.unwrap();
        let got = tokio::time::timeout(Duration::from_secs(5), pull.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(got.into_vec(), vec![Bytes::from("late")]);
        let conn = sending.await.unwrap().unwrap();

        // The peer goes away and comes back: the socket connects again. What was
        // sent in between may be lost with the old connection (the crate notices a
        // closed peer when a write to it fails), so the test sends until one arrives.
        // (A PULL socket of the crate closes its connections only when told.)
        pull.backend().shutdown();
        pull.close().await;
        let mut pull = PullSocket::new();
        pull.bind(&address).await.unwrap();
        let started = Instant::now();
        let got = loop {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "no message reached the peer that came back"
            );
            let _ = conn
                .send(
                    vec![b"again".to_vec()],
                    Instant::now() + Duration::from_millis(200),
                )
                .await;
            if let Ok(got) = tokio::time::timeout(Duration::from_millis(100), pull.recv()).await {
                break got.unwrap();
            }
        };
        assert_eq!(got.into_vec(), vec![Bytes::from("again")]);
    }

    #[tokio::test]
    async fn a_bound_pub_with_no_subscriber_drops_without_waiting() {
        let address = format!("tcp://127.0.0.1:{}", free_port());
        let conn = ZmqConn::new(&settings(ZmqOutSocket::Pub, &address, true, 5000)).unwrap();
        let started = Instant::now();
        conn.send(
            vec![b"topic".to_vec(), b"x".to_vec()],
            Instant::now() + Duration::from_secs(5),
        )
        .await
        .unwrap();
        assert!(started.elapsed() < Duration::from_secs(1));
    }

    #[tokio::test]
    async fn ping_tells_whether_a_peer_answers() {
        let address = format!("tcp://127.0.0.1:{}", free_port());
        let s = settings(ZmqOutSocket::Push, &address, false, 300);
        let err = ping(&s, Instant::now() + Duration::from_secs(5))
            .await
            .unwrap_err();
        assert!(err.to_string().contains(&address), "{err}");
        let mut pull = PullSocket::new();
        pull.bind(&address).await.unwrap();
        let ok = ping(&s, Instant::now() + Duration::from_secs(5))
            .await
            .unwrap();
        assert!(ok.contains(&address), "{ok}");
    }
}
