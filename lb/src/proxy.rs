//! One request through the load balancer: choose a backend, forward the request with
//! its body streamed, stream the answer back, and try another backend where that is
//! safe.
//!
//! What is retried on another backend (within `limits.retries` and the retry budget):
//! - any request whose connection could not be made (nothing reached the backend);
//! - any request a pooled connection gave back unsent (the backend had closed it);
//! - an idempotent request (GET, HEAD, OPTIONS, PUT, DELETE) that got no answer (a
//!   reset, `response_timeout_ms`, or its backend taken out of rotation while it
//!   waited), when its body was kept whole to be sent again (none, or up to
//!   `replay_body_bytes`).
//!
//! Anything else that may have reached a backend (a POST or PATCH, a large streamed
//! body) is never replayed: the client gets a 502 naming the cid and the backend.

use std::future::Future as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt as _, Full};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::client::conn::http1::SendRequest;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use crate::backend::{Backend, Backends, BoxError, InFlight, ProxyBody, lock};
use crate::config::LbConfig;
use crate::selection::{self, Selection};

/// How many times a request given back unsent is sent again on the same backend.
const MAX_UNSENT: u32 = 3;

/// Everything a request needs, shared by the tasks of one load balancer.
pub struct State {
    pub config: LbConfig,
    /// The directory of `lb.toml`: relative paths in it start here.
    pub dir: PathBuf,
    pub addr: SocketAddr,
    pub backends: Backends,
    selection: Box<dyn Selection>,
    pub refused: AtomicU64,
    budget: RetryBudget,
    /// The listener's TLS, if it has some.
    pub tls: Option<zato_api::tls::ServerTls>,
    /// TLS to the backends, if they speak it.
    pub backend_tls: Option<crate::tls::BackendTls>,
}

impl State {
    pub fn new(config: &LbConfig, dir: &Path, addr: SocketAddr) -> anyhow::Result<Arc<Self>> {
        let (tls, backend_tls) = crate::tls::load(config, dir)?;
        let backends = Backends::default();
        backends.store(
            config
                .backends
                .iter()
                .map(|b| {
                    Arc::new(Backend::new(
                        b.address.clone(),
                        None,
                        zato_api::lb::BackendSource::Static,
                        b.weight,
                    ))
                })
                .collect(),
        );
        Ok(Arc::new(Self {
            selection: selection::new(config.algorithm),
            config: config.clone(),
            dir: dir.to_owned(),
            addr,
            backends,
            refused: AtomicU64::new(0),
            budget: RetryBudget::new(config.limits.retry_budget_percent),
            tls,
            backend_tls,
        }))
    }
}

/// Serves clients on `listener` until `shutdown`, then lets requests in flight finish.
pub async fn serve(listener: TcpListener, state: Arc<State>, shutdown: CancellationToken) {
    let limits = &state.config.limits;
    let settings = zato_api::serve::ServeSettings {
        max_header_bytes: limits.max_header_bytes,
        header_read_timeout: Duration::from_millis(limits.header_read_timeout_ms),
        idle_timeout: Duration::from_millis(limits.idle_timeout_ms),
        max_connections: limits.max_connections,
        max_connections_setting: "limits.max_connections in lb.toml",
        tls: state.tls.as_ref().map(|tls| tls.config()),
    };
    let max_headers = limits.max_headers;
    let handler = move |req: Request<Incoming>, peer: SocketAddr| {
        let state = Arc::clone(&state);
        async move { handle(&state, req, peer).await }
    };
    zato_api::serve::serve_with_max_headers(listener, settings, max_headers, handler, shutdown)
        .await;
}

async fn handle(
    state: &Arc<State>,
    req: Request<Incoming>,
    peer: SocketAddr,
) -> Response<ProxyBody> {
    if req.uri().path().starts_with("/zato-lb-") {
        return crate::endpoints::handle(state, req, peer).await;
    }
    // Made only for an answer of the load balancer's own: a random ID costs a system
    // call, which a request that goes through does not need.
    let cid = Cid::default();
    let limits = &state.config.limits;
    // hyper refuses an HTTP/1 head with too many fields before it gets here; an HTTP/2
    // head is bounded in bytes only, so its fields are counted here.
    if req.version() == http::Version::HTTP_2 && req.headers().len() > limits.max_headers {
        return error(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            cid.get(),
            format!(
                "the request has {} header fields, more than the {} allowed",
                req.headers().len(),
                limits.max_headers
            ),
        );
    }
    if let Some(length) = content_length(req.headers())
        && length > limits.max_body_bytes
    {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            cid.get(),
            format!(
                "the request body is {length} bytes, more than the {} allowed",
                limits.max_body_bytes
            ),
        );
    }
    let (mut parts, body) = req.into_parts();
    // Read before the hop-by-hop headers (Transfer-Encoding among them) go.
    let length = content_length(&parts.headers);
    let with_body = has_body(&parts.headers);
    forwarding_headers(&mut parts.headers, &parts.uri, peer, proto(state));
    parts.uri = origin_form(&parts.uri);
    parts.version = http::Version::HTTP_11;
    let idempotent = matches!(
        parts.method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::PUT | Method::DELETE
    );
    let body_read_timeout = Duration::from_millis(limits.body_read_timeout_ms);
    // What went wrong with the client's body, if anything: then whatever the backend
    // made of a body cut short, the client hears what was wrong with it.
    let fault: BodyFault = Arc::default();
    let mut body = match (idempotent, length, with_body) {
        (_, _, false) => Outgoing::Kept(Bytes::new()),
        (true, Some(length), true) if length <= limits.replay_body_bytes => {
            let watched = Watched::new(body, body_read_timeout, limits.max_body_bytes, &fault);
            match watched.collect().await {
                Ok(collected) => Outgoing::Kept(collected.to_bytes()),
                Err(_) => return client_body_error(cid.get(), &fault),
            }
        }
        _ => Outgoing::Stream(Some(Watched::new(
            body,
            body_read_timeout,
            limits.max_body_bytes,
            &fault,
        ))),
    };
    state.budget.request();
    // Only a request that may go again keeps a copy of its head.
    let (method, uri) = (parts.method.clone(), parts.uri.clone());
    let mut parts = Some(parts);
    let mut tried: Vec<usize> = Vec::new();
    // Requests given back unsent by stale pooled connections, sent again on the same
    // backend (bounded, in case the backend closes every connection at once).
    let mut unsent = 0;
    let mut last_failure: Option<Response<ProxyBody>> = None;
    let backends = state.backends.load();
    loop {
        let retry = !tried.is_empty();
        if retry && (tried.len() > limits.retries as usize || !state.budget.retry()) {
            break;
        }
        let Some(index) = state.selection.select(&backends, &tried) else {
            break;
        };
        tried.push(index);
        let backend = &backends[index];
        if retry {
            backend.retries.fetch_add(1, Ordering::Relaxed);
        }
        let in_flight = InFlight::new(Arc::clone(backend));
        let mut sender = match connection(
            backend,
            state.backend_tls.as_ref(),
            limits.connect_timeout_ms,
        )
        .await
        {
            Ok(sender) => sender,
            Err(e) => {
                // Nothing reached it: any request may go elsewhere.
                backend.errors.fetch_add(1, Ordering::Relaxed);
                if backend.fail_passively() {
                    tracing::warn!("backend {} is down: {e}", backend.address);
                }
                last_failure = Some(error(
                    StatusCode::BAD_GATEWAY,
                    cid.get(),
                    format!("backend {} could not be reached: {e}", backend.address),
                ));
                continue;
            }
        };
        let replayable = body.replayable();
        let head = if replayable {
            parts.clone()
        } else {
            parts.take()
        };
        let (Some(head), Some(request_body)) = (head, body.next()) else {
            break;
        };
        let request = Request::from_parts(head, request_body);
        let started = Instant::now();
        let went_down = backend.went_down();
        let sent = tokio::select! {
            sent = tokio::time::timeout(
                Duration::from_millis(limits.response_timeout_ms),
                sender.try_send_request(request),
            ) => sent,
            // Out of rotation meanwhile (failed checks, a refused connection): a
            // request that can go again does not wait for a host that may be gone.
            () = went_down.cancelled(), if replayable => {
                last_failure = Some(error(
                    StatusCode::BAD_GATEWAY,
                    cid.get(),
                    format!("backend {} went down before answering", backend.address),
                ));
                continue;
            }
        };
        if fault.get().is_some() {
            return client_body_error(cid.get(), &fault);
        }
        match sent {
            Ok(Ok(response)) => {
                backend.latency.record(started.elapsed());
                backend.requests.fetch_add(1, Ordering::Relaxed);
                let pooled = Arc::clone(backend);
                tokio::spawn(async move {
                    // Free again once the answer has gone through.
                    if sender.ready().await.is_ok() {
                        pooled.put_idle(sender);
                    }
                });
                return answer(response, in_flight);
            }
            Ok(Err(mut e)) => {
                if let Some(request) = e.take_message() {
                    // The connection closed under it (a stale pooled one): unsent, so
                    // it goes again, on another connection to the same backend.
                    let (head, unsent_body) = request.into_parts();
                    parts.get_or_insert(head);
                    body.give_back(unsent_body);
                    unsent += 1;
                    if unsent <= MAX_UNSENT {
                        tried.pop();
                    }
                    continue;
                }
                let e = e.into_error();
                backend.errors.fetch_add(1, Ordering::Relaxed);
                if backend.fail_passively() {
                    tracing::warn!("backend {} is down: {e}", backend.address);
                }
                if !body.replayable() {
                    tracing::warn!(
                        "{} {} (cid {}) failed on backend {} and is not sent again: {e}",
                        method,
                        uri,
                        cid.get(),
                        backend.address
                    );
                    state.refused.fetch_add(1, Ordering::Relaxed);
                    return error(
                        StatusCode::BAD_GATEWAY,
                        cid.get(),
                        format!(
                            "backend {} failed before answering ({e}); the request may have \
                             reached it, so it is not sent again",
                            backend.address
                        ),
                    )
                    .with_backend(&backend.address);
                }
                last_failure = Some(error(
                    StatusCode::BAD_GATEWAY,
                    cid.get(),
                    format!("backend {} failed before answering: {e}", backend.address),
                ));
            }
            Err(_) => {
                backend.errors.fetch_add(1, Ordering::Relaxed);
                let timed_out = error(
                    StatusCode::GATEWAY_TIMEOUT,
                    cid.get(),
                    format!(
                        "backend {} did not answer in {} ms",
                        backend.address, limits.response_timeout_ms
                    ),
                )
                .with_backend(&backend.address);
                if !replayable {
                    state.refused.fetch_add(1, Ordering::Relaxed);
                    return timed_out;
                }
                last_failure = Some(timed_out);
            }
        }
    }
    state.refused.fetch_add(1, Ordering::Relaxed);
    last_failure.unwrap_or_else(|| {
        error(
            StatusCode::SERVICE_UNAVAILABLE,
            cid.get(),
            "no backend is up to take the request".into(),
        )
    })
}

/// A request's correlation ID, made the first time it is needed.
#[derive(Default)]
struct Cid(std::sync::OnceLock<String>);

impl Cid {
    fn get(&self) -> &str {
        self.0
            .get_or_init(|| uuid::Uuid::new_v4().simple().to_string())
    }
}

/// The request body, kept to be sent again or streamed once.
enum Outgoing {
    Kept(Bytes),
    Stream(Option<Watched>),
}

impl Outgoing {
    fn next(&mut self) -> Option<ProxyBody> {
        match self {
            Self::Kept(bytes) => Some(
                Full::new(bytes.clone())
                    .map_err(|never| match never {})
                    .boxed(),
            ),
            Self::Stream(body) => body.take().map(|body| body.boxed()),
        }
    }

    /// A body handed back unsent by a closed connection.
    fn give_back(&mut self, body: ProxyBody) {
        if let Self::Stream(slot) = self {
            *slot = Some(Watched::given_back(body));
        }
    }

    fn replayable(&self) -> bool {
        matches!(self, Self::Kept(_))
    }
}

/// A pooled connection to `backend`, or a new one.
async fn connection(
    backend: &Backend,
    backend_tls: Option<&crate::tls::BackendTls>,
    connect_timeout_ms: u64,
) -> Result<SendRequest<ProxyBody>, String> {
    if let Some(sender) = backend.take_idle() {
        return Ok(sender);
    }
    let timeout = Duration::from_millis(connect_timeout_ms);
    let stream = tokio::time::timeout(timeout, TcpStream::connect(&backend.address))
        .await
        .map_err(|_| format!("no connection in {connect_timeout_ms} ms"))?
        .map_err(|e| e.to_string())?;
    let _ = stream.set_nodelay(true);
    crate::tls::handshake(backend_tls, &backend.address, stream).await
}

/// The backend's answer for the client, without hop-by-hop headers; the request counts
/// as in flight on the backend until its body has gone through.
fn answer(response: Response<Incoming>, in_flight: InFlight) -> Response<ProxyBody> {
    let (mut parts, body) = response.into_parts();
    remove_hop_by_hop(&mut parts.headers);
    let body = Guarded {
        inner: body.map_err(BoxError::from).boxed(),
        _in_flight: in_flight,
    };
    Response::from_parts(parts, body.boxed())
}

struct Guarded {
    inner: ProxyBody,
    _in_flight: InFlight,
}

impl Body for Guarded {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// What went wrong with a client's request body.
#[derive(Debug)]
pub enum ClientBodyError {
    /// No byte of it for `body_read_timeout_ms`.
    Stalled(Duration),
    /// More than `max_body_bytes`.
    TooLarge(u64),
    /// Not valid HTTP (a chunk size that is not one, a connection closed mid-body).
    Invalid(String),
}

/// Where a request body's [`ClientBodyError`] is kept for the request's handler.
type BodyFault = Arc<std::sync::OnceLock<ClientBodyError>>;

impl std::fmt::Display for ClientBodyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Stalled(after) => write!(
                f,
                "the request body stalled: nothing arrived for {} ms",
                after.as_millis()
            ),
            Self::TooLarge(max) => {
                write!(f, "the request body is larger than the {max} bytes allowed")
            }
            Self::Invalid(why) => write!(f, "the request body could not be read: {why}"),
        }
    }
}

impl std::error::Error for ClientBodyError {}

/// A client's request body with a read timeout between frames and a size cap.
struct Watched {
    inner: ProxyBody,
    fault: BodyFault,
    timeout: Duration,
    sleep: Pin<Box<tokio::time::Sleep>>,
    max: u64,
    seen: u64,
}

impl Watched {
    fn new(body: Incoming, timeout: Duration, max: u64, fault: &BodyFault) -> Self {
        Self {
            inner: body.map_err(BoxError::from).boxed(),
            fault: Arc::clone(fault),
            timeout,
            sleep: Box::pin(tokio::time::sleep(timeout)),
            max,
            seen: 0,
        }
    }

    /// A body given back unsent: its checks are inside it already.
    fn given_back(inner: ProxyBody) -> Self {
        Self {
            inner,
            fault: Arc::default(),
            timeout: Duration::MAX / 4,
            sleep: Box::pin(tokio::time::sleep(Duration::from_secs(86_400 * 365))),
            max: u64::MAX,
            seen: 0,
        }
    }
}

impl Watched {
    fn failed(&self, e: ClientBodyError) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let message = e.to_string();
        let _ = self.fault.set(e);
        Poll::Ready(Some(Err(message.into())))
    }
}

impl Body for Watched {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.seen += data.len() as u64;
                    if this.seen > this.max {
                        return this.failed(ClientBodyError::TooLarge(this.max));
                    }
                }
                let deadline = tokio::time::Instant::now() + this.timeout;
                this.sleep.as_mut().reset(deadline);
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Pending => match this.sleep.as_mut().poll(cx) {
                Poll::Ready(()) => this.failed(ClientBodyError::Stalled(this.timeout)),
                Poll::Pending => Poll::Pending,
            },
            Poll::Ready(Some(Err(e))) => this.failed(ClientBodyError::Invalid(e.to_string())),
            Poll::Ready(None) => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

fn client_body_error(cid: &str, fault: &BodyFault) -> Response<ProxyBody> {
    let Some(e) = fault.get() else {
        unreachable!("called once the body failed")
    };
    let status = match e {
        ClientBodyError::Stalled(_) => StatusCode::REQUEST_TIMEOUT,
        ClientBodyError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
        ClientBodyError::Invalid(_) => StatusCode::BAD_REQUEST,
    };
    let mut response = error(status, cid, e.to_string());
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// A JSON error answered by the load balancer itself.
pub fn error(status: StatusCode, cid: &str, message: String) -> Response<ProxyBody> {
    let body = serde_json::json!({ "error": message, "cid": cid, "from": "zato-lb" });
    let mut response = Response::new(
        Full::new(Bytes::from(body.to_string()))
            .map_err(|never| match never {})
            .boxed(),
    );
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(cid) = HeaderValue::from_str(cid) {
        headers.insert("x-zato-cid", cid);
    }
    if status == StatusCode::SERVICE_UNAVAILABLE {
        headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    response
}

trait WithBackend {
    fn with_backend(self, address: &str) -> Self;
}

impl WithBackend for Response<ProxyBody> {
    fn with_backend(mut self, address: &str) -> Self {
        if let Ok(value) = HeaderValue::from_str(address) {
            self.headers_mut().insert("x-zato-lb-backend", value);
        }
        self
    }
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

fn has_body(headers: &HeaderMap) -> bool {
    headers.contains_key(header::TRANSFER_ENCODING)
        || content_length(headers).is_some_and(|n| n > 0)
}

/// The path and query alone: what an HTTP/1.1 origin server expects (an HTTP/2
/// request carries the scheme and authority in its URI).
fn origin_form(uri: &Uri) -> Uri {
    uri.path_and_query().map_or_else(
        || Uri::from_static("/"),
        |pq| Uri::try_from(pq.as_str()).unwrap_or_else(|_| Uri::from_static("/")),
    )
}

/// RFC 9110's hop-by-hop headers, and those a `Connection` header names.
fn remove_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in [
        header::CONNECTION,
        HeaderName::from_static("keep-alive"),
        HeaderName::from_static("proxy-connection"),
        header::PROXY_AUTHENTICATE,
        header::PROXY_AUTHORIZATION,
        header::TE,
        header::TRAILER,
        header::TRANSFER_ENCODING,
        header::UPGRADE,
    ] {
        headers.remove(name);
    }
}

/// The scheme clients speak to the load balancer.
fn proto(state: &State) -> &'static str {
    if state.tls.is_some() { "https" } else { "http" }
}

/// Hop-by-hop headers out; `X-Forwarded-For` (appended), `X-Forwarded-Proto` and
/// `Forwarded` (appended) in; a `Host` from an HTTP/2 request's authority.
fn forwarding_headers(headers: &mut HeaderMap, uri: &Uri, peer: SocketAddr, proto: &'static str) {
    remove_hop_by_hop(headers);
    if !headers.contains_key(header::HOST)
        && let Some(authority) = uri.authority()
        && let Ok(host) = HeaderValue::from_str(authority.as_str())
    {
        headers.insert(header::HOST, host);
    }
    let ip = peer.ip().to_canonical();
    let forwarded_for = match headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()) {
        Some(before) => format!("{before}, {ip}"),
        None => ip.to_string(),
    };
    if let Ok(value) = HeaderValue::from_str(&forwarded_for) {
        headers.insert("x-forwarded-for", value);
    }
    headers.insert("x-forwarded-proto", HeaderValue::from_static(proto));
    let node = if ip.is_ipv6() {
        format!("\"[{ip}]\"")
    } else {
        ip.to_string()
    };
    let mut element = format!("for={node};proto={proto}");
    if let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok())
        && host
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
    {
        element.push_str(&format!(";host=\"{host}\""));
    }
    let forwarded = match headers.get(header::FORWARDED).and_then(|v| v.to_str().ok()) {
        Some(before) => format!("{before}, {element}"),
        None => element,
    };
    if let Ok(value) = HeaderValue::from_str(&forwarded) {
        headers.insert(header::FORWARDED, value);
    }
}

/// Retries allowed as a share of recent requests, so that a cluster in trouble is not
/// sent every request again; 10 retries a window are always allowed.
struct RetryBudget {
    percent: u64,
    window: std::sync::Mutex<(Instant, u64, u64)>,
}

const BUDGET_WINDOW: Duration = Duration::from_secs(10);
const BUDGET_FLOOR: u64 = 10;

impl RetryBudget {
    fn new(percent: u32) -> Self {
        Self {
            percent: u64::from(percent),
            window: std::sync::Mutex::new((Instant::now(), 0, 0)),
        }
    }

    fn roll(window: &mut (Instant, u64, u64)) {
        if window.0.elapsed() > BUDGET_WINDOW {
            *window = (Instant::now(), 0, 0);
        }
    }

    fn request(&self) {
        let mut window = lock(&self.window);
        Self::roll(&mut window);
        window.1 += 1;
    }

    /// Takes a retry from the budget, if one is left.
    fn retry(&self) -> bool {
        let mut window = lock(&self.window);
        Self::roll(&mut window);
        let allowed = (window.1 * self.percent / 100).max(BUDGET_FLOOR);
        if window.2 < allowed {
            window.2 += 1;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_by_hop_headers_go_and_forwarding_headers_come() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONNECTION,
            HeaderValue::from_static("keep-alive, x-secret"),
        );
        headers.insert("x-secret", HeaderValue::from_static("1"));
        headers.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        headers.insert(
            header::TRANSFER_ENCODING,
            HeaderValue::from_static("chunked"),
        );
        headers.insert(header::HOST, HeaderValue::from_static("api.example"));
        headers.insert("x-forwarded-for", HeaderValue::from_static("10.0.0.1"));
        headers.insert("x-kept", HeaderValue::from_static("yes"));
        let peer: SocketAddr = "192.0.2.7:5000".parse().unwrap();
        forwarding_headers(&mut headers, &Uri::from_static("/x"), peer, "http");
        for gone in ["connection", "x-secret", "keep-alive", "transfer-encoding"] {
            assert!(!headers.contains_key(gone), "{gone}");
        }
        assert_eq!(headers["x-kept"], "yes");
        assert_eq!(headers["x-forwarded-for"], "10.0.0.1, 192.0.2.7");
        assert_eq!(headers["x-forwarded-proto"], "http");
        assert_eq!(
            headers["forwarded"],
            "for=192.0.2.7;proto=http;host=\"api.example\""
        );

        let mut h2 = HeaderMap::new();
        let v6: SocketAddr = "[2001:db8::1]:5000".parse().unwrap();
        forwarding_headers(
            &mut h2,
            &Uri::from_static("http://h.example:8080/a?b=1"),
            v6,
            "https",
        );
        assert_eq!(h2["host"], "h.example:8080");
        assert!(
            h2["forwarded"]
                .to_str()
                .unwrap()
                .starts_with("for=\"[2001:db8::1]\"")
        );
        assert_eq!(
            origin_form(&Uri::from_static("http://h.example/a?b=1")),
            "/a?b=1"
        );
    }

    #[test]
    fn the_retry_budget_is_a_share_of_requests_with_a_floor() {
        let budget = RetryBudget::new(20);
        for _ in 0..BUDGET_FLOOR {
            assert!(budget.retry());
        }
        assert!(!budget.retry(), "past the floor with no requests");
        for _ in 0..100 {
            budget.request();
        }
        for _ in 0..10 {
            assert!(budget.retry());
        }
        assert!(!budget.retry(), "20% of 100 is 20 retries in all");
    }
}
