//! Accepting and keeping HTTP connections, for the server's channels and for the load
//! balancer alike: the cap on open connections, the idle timer of each connection, and
//! the graceful stop.
//!
//! hyper's `header_read_timeout` starts only once hyper waits for a request head, and
//! hyper-util's `auto` builder first reads a connection's opening bytes to tell HTTP/1
//! from HTTP/2 with no timer at all: a client that connects and sends nothing, or an
//! HTTP/2 client that sends no request, would hold its connection forever. So each
//! connection here counts what it reads and writes and the requests it has in flight,
//! and is closed once none of that has happened for `idle_timeout_ms`.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulConnection;
use std::os::fd::{AsFd as _, OwnedFd};

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt as _, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use hyper::body::{Body, Incoming};
use hyper::{Request, Response};

/// How a server accepts and keeps its connections.
#[derive(Debug, Clone)]
pub struct ServeSettings {
    /// Largest request head (request line and headers), in bytes.
    pub max_header_bytes: usize,
    /// Time a client has to send its request head.
    pub header_read_timeout: Duration,
    /// Longest a connection stays open with no request in flight and no bytes moving.
    pub idle_timeout: Duration,
    /// Connections open at once (at least 1); past it new ones wait in the backlog.
    pub max_connections: u32,
    /// The setting that sets `max_connections`, named in the log line when the cap is
    /// reached (e.g. `http.max_connections`).
    pub max_connections_setting: &'static str,
    /// TLS on every connection, when set ([`crate::tls::ServerTls::config`]): the
    /// handshake must end within `header_read_timeout`, and each request's extensions
    /// hold a [`crate::tls::TlsConnection`] (with the client's certificate, if it
    /// offered one).
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

/// hyper's own cap on the header fields of an HTTP/1 request head: its parser keeps
/// them on the stack up to this many, and on the heap (for every request) once another
/// cap is set, so the cap is passed to hyper only when it differs.
pub const HYPER_MAX_HEADERS: usize = 100;

/// How long in-flight requests get to finish on shutdown.
const GRACE: Duration = Duration::from_secs(10);

/// On shutdown, how long a keep-alive connection may stay quiet before it is closed;
/// one that sends a request meanwhile is answered and told the connection ends.
const STOP_IDLE: Duration = Duration::from_millis(500);

static CLOSE: hyper::header::HeaderValue = hyper::header::HeaderValue::from_static("close");

/// How long an idle connection gets to say goodbye (an HTTP/2 GOAWAY) before it is
/// dropped: nothing is in flight on it, and its client may not be reading at all.
const IDLE_CLOSE_GRACE: Duration = Duration::from_secs(1);

/// Serves HTTP/1.1 and HTTP/2 on `listener` with `handler` until `shutdown`, then lets
/// requests in flight finish. An HTTP/1 request head with more than
/// [`HYPER_MAX_HEADERS`] header fields is answered 431.
pub async fn serve<H, F, B>(
    listener: TcpListener,
    settings: ServeSettings,
    handler: H,
    shutdown: CancellationToken,
) where
    H: Fn(Request<Incoming>, SocketAddr) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response<B>> + Send + 'static,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    serve_with_max_headers(listener, settings, HYPER_MAX_HEADERS, handler, shutdown).await;
}

/// As [`serve`], with an HTTP/1 request head of more than `max_headers` header fields
/// answered 431 (Request Header Fields Too Large) by hyper. HTTP/2 heads are bounded
/// by `max_header_bytes` only: a handler that cares counts their fields itself.
pub async fn serve_with_max_headers<H, F, B>(
    listener: TcpListener,
    settings: ServeSettings,
    max_headers: usize,
    handler: H,
    shutdown: CancellationToken,
) where
    H: Fn(Request<Incoming>, SocketAddr) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response<B>> + Send + 'static,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(settings.header_read_timeout)
        .max_buf_size(settings.max_header_bytes.max(8192));
    if max_headers != HYPER_MAX_HEADERS {
        builder.http1().max_headers(max_headers);
    }
    builder
        .http2()
        .max_header_list_size(settings.max_header_bytes as u32);
    let builder = Arc::new(builder);
    let idle_timeout = settings.idle_timeout;
    let handshake_timeout = settings.header_read_timeout;
    let tls = settings.tls.map(tokio_rustls::TlsAcceptor::from);
    let max = settings.max_connections.max(1);
    let slots = Arc::new(Semaphore::new(max as usize));
    let mut limit = Limit::new(max, settings.max_connections_setting);
    loop {
        // A slot is taken before accepting, so past the cap new connections wait in the
        // kernel's accept backlog (answered as soon as a slot frees) instead of being
        // refused while they could be served a moment later.
        let slot = match Arc::clone(&slots).try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) => {
                limit.reached();
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    slot = Arc::clone(&slots).acquire_owned() => {
                        slot.expect("the connection semaphore is never closed")
                    }
                }
            }
        };
        limit.check_below(slots.available_permits());
        let (stream, peer) = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, most likely: back off rather than spin.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let activity = Arc::new(Activity::new());
        let tracked = Tracked {
            stream,
            activity: Arc::clone(&activity),
        };
        let Some(acceptor) = &tls else {
            let service = service(&handler, &activity, &shutdown, peer, None);
            // A second handle on the socket, to answer 408 once hyper gives up on a slow
            // request head (it only closes the connection).
            let reply = tracked.stream.as_fd().try_clone_to_owned().ok();
            let conn = builder
                .serve_connection(TokioIo::new(tracked), service)
                .into_owned();
            tokio::spawn(run_connection(
                conn,
                reply,
                activity,
                idle_timeout,
                shutdown.clone(),
                slot,
            ));
            continue;
        };
        // The handshake runs in the connection's own task, so that a slow client holds
        // only its own slot, for the time a request head would get at most.
        let acceptor = acceptor.clone();
        let builder = Arc::clone(&builder);
        let handler = handler.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let stream =
                match tokio::time::timeout(handshake_timeout, acceptor.accept(tracked)).await {
                    Ok(Ok(stream)) => stream,
                    Ok(Err(e)) => {
                        tracing::debug!(%peer, "TLS handshake refused: {e}");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!(%peer, "TLS handshake not done in {handshake_timeout:?}");
                        return;
                    }
                };
            let tls = crate::tls::TlsConnection {
                peer_certificates: stream
                    .get_ref()
                    .1
                    .peer_certificates()
                    .map(|certs| certs.to_vec().into()),
            };
            let service = service(&handler, &activity, &shutdown, peer, Some(tls));
            let conn = builder
                .serve_connection(TokioIo::new(stream), service)
                .into_owned();
            run_connection(conn, None, activity, idle_timeout, shutdown, slot).await;
        });
    }
    // Every connection gives its slot back when it ends: all slots free means all ended.
    if tokio::time::timeout(GRACE, slots.acquire_many(max))
        .await
        .is_err()
    {
        tracing::warn!("some HTTP connections were still busy after {GRACE:?}; closing them");
    }
}

/// The service of one connection: `handler` with the connection's peer (and its TLS), its requests counted on `activity`, told `connection: close` once the
/// server stops.
fn service<H, F, B>(
    handler: &H,
    activity: &Arc<Activity>,
    stopping: &CancellationToken,
    peer: SocketAddr,
    tls: Option<crate::tls::TlsConnection>,
) -> impl hyper::service::Service<
    Request<Incoming>,
    Response = Response<B>,
    Error = Infallible,
    Future = impl Future<Output = Result<Response<B>, Infallible>> + Send + 'static,
> + Send
+ 'static
where
    H: Fn(Request<Incoming>, SocketAddr) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response<B>> + Send + 'static,
    B: Body + Send + 'static,
{
    let handler = handler.clone();
    let activity = Arc::clone(activity);
    let stopping = stopping.clone();
    hyper::service::service_fn(move |mut req: Request<Incoming>| {
        let busy = activity.busy();
        if let Some(tls) = &tls {
            req.extensions_mut().insert(tls.clone());
        }
        let answer = handler(req, peer);
        let stopping = stopping.clone();
        async move {
            let _busy = busy;
            let mut response = answer.await;
            if stopping.is_cancelled() {
                // Stopping: the client learns with this answer that the connection
                // ends, and takes its next request elsewhere.
                response
                    .headers_mut()
                    .insert(hyper::header::CONNECTION, CLOSE.clone());
            }
            Ok::<_, Infallible>(response)
        }
    })
}

/// Drives one connection until it ends, is idle too long, or the server stops.
async fn run_connection<C>(
    conn: C,
    reply: Option<OwnedFd>,
    activity: Arc<Activity>,
    idle_timeout: Duration,
    shutdown: CancellationToken,
    _slot: OwnedSemaphorePermit,
) where
    C: GracefulConnection,
    C::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut conn = std::pin::pin!(conn);
    let grace = tokio::select! {
        ended = conn.as_mut() => {
            // A connection merely idle between requests is closed without a word, as
            // clients expect of keep-alive; one with half a request head hears why.
            if let (Err(e), Some(reply)) = (ended, reply)
                && activity.partial_head.load(Ordering::Relaxed)
                && header_timed_out(e.into().as_ref())
            {
                request_timeout(reply).await;
            }
            return;
        }
        _ = shutdown.cancelled() => {
            // A keep-alive client may be sending its next request right now: closing
            // under it would lose that request. Its answer says `connection: close`
            // instead (above); a client that sends nothing for a moment is closed.
            tokio::select! {
                _ = conn.as_mut() => return,
                _ = activity.idle(STOP_IDLE) => GRACE,
            }
        }
        _ = activity.idle(idle_timeout) => IDLE_CLOSE_GRACE,
    };
    conn.as_mut().graceful_shutdown();
    let _ = tokio::time::timeout(grace, conn).await;
}

/// Whether a connection ended because its client was too slow to send a request head.
fn header_timed_out(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(e);
    while let Some(e) = source {
        if e.downcast_ref::<hyper::Error>()
            .is_some_and(hyper::Error::is_timeout)
        {
            return true;
        }
        source = e.source();
    }
    false
}

/// Answers 408 on a connection whose client did not send its request head in time
/// (slowloris), as HTTP lets a server do before it closes.
async fn request_timeout(socket: OwnedFd) {
    const ANSWER: &[u8] = b"HTTP/1.1 408 Request Timeout\r\nconnection: close\r\n\
        content-type: application/json\r\ncontent-length: 51\r\n\r\n\
        {\"error\":\"the request head did not arrive in time\"}";
    // The duplicate shares the socket's non-blocking mode with the original.
    let Ok(mut stream) = TcpStream::from_std(std::net::TcpStream::from(socket)) else {
        return;
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        stream.write_all(ANSWER).await?;
        stream.shutdown().await
    })
    .await;
}

/// Whether the server is at its connection cap, so that it says so once per episode
/// rather than once per connection waiting.
struct Limit {
    max: u32,
    setting: &'static str,
    at_limit: bool,
}

impl Limit {
    fn new(max: u32, setting: &'static str) -> Self {
        Self {
            max,
            setting,
            at_limit: false,
        }
    }

    fn reached(&mut self) {
        if !self.at_limit {
            self.at_limit = true;
            tracing::warn!(
                "{} HTTP connections open, the limit ({}); new connections wait in the \
                 accept backlog until one closes",
                self.max,
                self.setting
            );
        }
    }

    /// Ends an episode once a tenth of the slots are free again: a server held at its
    /// cap frees and takes one slot at a time, which must not count as a new episode.
    fn check_below(&mut self, free: usize) {
        let headroom = (self.max as usize / 10).max(1);
        if self.at_limit && free >= headroom {
            self.at_limit = false;
            tracing::info!(
                "HTTP connections below the limit again ({} open of {})",
                self.max as usize - free,
                self.max
            );
        }
    }
}

/// What a connection has been doing, for its idle timer: when it last read or wrote a
/// byte or finished a request, and how many requests it has in flight.
struct Activity {
    opened: Instant,
    /// Bytes arrived with no request in flight: a request head has begun.
    partial_head: std::sync::atomic::AtomicBool,
    /// Milliseconds from `opened` to the last activity.
    last_ms: AtomicU64,
    in_flight: AtomicUsize,
}

impl Activity {
    fn new() -> Self {
        Self {
            opened: Instant::now(),
            partial_head: std::sync::atomic::AtomicBool::new(false),
            last_ms: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
        }
    }

    fn touch(&self) {
        let now = self.opened.elapsed().as_millis() as u64;
        self.last_ms.fetch_max(now, Ordering::Relaxed);
    }

    fn last(&self) -> Instant {
        self.opened + Duration::from_millis(self.last_ms.load(Ordering::Relaxed))
    }

    /// Marks a request in flight until the guard drops (the request finished or its
    /// connection went away).
    fn busy(self: &Arc<Self>) -> Busy {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        self.partial_head.store(false, Ordering::Relaxed);
        self.touch();
        Busy(Arc::clone(self))
    }

    /// Returns once the connection has had no request in flight and no bytes in
    /// either direction for `timeout`.
    async fn idle(&self, timeout: Duration) {
        loop {
            tokio::time::sleep_until(self.last() + timeout).await;
            if self.in_flight.load(Ordering::Relaxed) > 0 {
                // A request may run long without a byte on the wire (a slow service);
                // its end counts as activity and starts the idle time afresh.
                self.touch();
            } else if self.last() + timeout <= Instant::now() {
                return;
            }
        }
    }
}

struct Busy(Arc<Activity>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.touch();
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A TCP stream that records on its connection's [`Activity`] every read and write that
/// moved bytes.
struct Tracked {
    stream: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.stream).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.touch();
            if self.activity.in_flight.load(Ordering::Relaxed) == 0 {
                self.activity.partial_head.store(true, Ordering::Relaxed);
            }
        }
        result
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.stream).poll_write(cx, buf);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        result
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_episode_at_the_limit_ends_with_a_tenth_of_the_slots_free() {
        let mut limit = Limit::new(100, "test.max");
        limit.reached();
        assert!(limit.at_limit);
        limit.check_below(1);
        assert!(limit.at_limit, "one free slot is the same episode");
        limit.check_below(10);
        assert!(!limit.at_limit);
        let mut small = Limit::new(3, "test.max");
        small.reached();
        small.check_below(0);
        assert!(small.at_limit);
        small.check_below(1);
        assert!(!small.at_limit);
    }
}
