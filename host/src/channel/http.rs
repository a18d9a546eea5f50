//! The HTTP listener: `/zato/ping`, the admin API under `/zato/api/`, and HTTP channels
//! (URL path patterns from the ODB, routed to services).
//!
//! Channels are hot configuration: the route table is rebuilt from the ODB and swapped
//! atomically, so a built `axum::Router` (which cannot change) is used only for the
//! admin API. This module is the one place where errors become HTTP responses.

mod router;

use std::borrow::Cow;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use axum::body::Body;
use bytes::Bytes;
use http::{HeaderName, HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt as _;

use crate::api::{DataFormat, ErrorBody, HttpChannel};
use crate::config::HttpSettings;
use crate::deploy::Startup;
use crate::odb::Odb;
use crate::runtime::{self, CallContext, CallError, ChannelKind, Runtime};
pub use router::{ChannelRouter, RouteError};

/// Header carrying the correlation id of a request in every response.
pub const CID_HEADER: HeaderName = HeaderName::from_static("x-zato-cid");
/// How long in-flight requests get to finish on shutdown.
const GRACE: Duration = Duration::from_secs(10);

/// Everything a request needs.
pub struct HttpState {
    pub runtime: Arc<Runtime>,
    pub channels: Arc<Channels>,
    pub admin: axum::Router,
    pub settings: HttpSettings,
    pub server_name: String,
    /// The first load of the services: `/zato/ping` answers 503 until it is done.
    pub startup: Arc<Startup>,
}

/// The live HTTP channel table, rebuilt from the ODB and swapped whole.
pub struct Channels {
    routes: ArcSwap<ChannelRouter>,
    odb: Arc<dyn Odb>,
    /// One reload at a time. Reloads come from the admin API, from notices and from the
    /// reconcile loop at once; unserialised, one that read the ODB before a channel was
    /// created could store its table after the admin API's reload, and the new channel
    /// would answer 404 until the next reload.
    reloading: tokio::sync::Mutex<()>,
}

impl Channels {
    pub fn new(odb: Arc<dyn Odb>) -> Self {
        Self {
            routes: ArcSwap::from_pointee(ChannelRouter::default()),
            odb,
            reloading: tokio::sync::Mutex::new(()),
        }
    }

    /// Rebuilds the table from the ODB. A table that does not build (which the admin
    /// API prevents) leaves the running one in place. When it returns, the table holds
    /// at least every channel the ODB held when it was called.
    pub async fn reload(&self) -> anyhow::Result<()> {
        self.reload_from(|| self.odb.http_channels()).await
    }

    async fn reload_from<F, R>(&self, read: F) -> anyhow::Result<()>
    where
        F: FnOnce() -> R,
        R: Future<Output = crate::odb::OdbResult<Vec<HttpChannel>>>,
    {
        let _turn = self.reloading.lock().await;
        let channels = read().await?;
        self.routes
            .store(Arc::new(ChannelRouter::build(&channels)?));
        Ok(())
    }

    /// Checks that `channel` fits with the channels in the ODB, without storing it.
    pub async fn check_new(&self, channel: &HttpChannel) -> anyhow::Result<Result<(), RouteError>> {
        let mut all = self.odb.http_channels().await?;
        all.push(channel.clone());
        Ok(ChannelRouter::build(&all).map(|_| ()))
    }
}

/// Serves HTTP on `listener` until `shutdown`, then lets requests in flight finish.
pub async fn serve(listener: TcpListener, state: Arc<HttpState>, shutdown: CancellationToken) {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_millis(state.settings.header_read_timeout_ms))
        .max_buf_size(state.settings.max_header_bytes.max(8192));
    builder
        .http2()
        .max_header_list_size(state.settings.max_header_bytes as u32);
    let graceful = GracefulShutdown::new();
    loop {
        let (stream, _peer) = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors, most likely: back off rather than spin.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let state = Arc::clone(&state);
        let service = hyper::service::service_fn(move |req| {
            let state = Arc::clone(&state);
            async move { Ok::<_, Infallible>(handle(&state, req).await) }
        });
        let conn = builder
            .serve_connection(TokioIo::new(stream), service)
            .into_owned();
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            let _ = conn.await;
        });
    }
    if tokio::time::timeout(GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("some HTTP connections were still busy after {GRACE:?}; closing them");
    }
}

async fn handle(state: &HttpState, req: Request<Incoming>) -> Response<Body> {
    let path = req.uri().path();
    if path == "/zato/ping" {
        let progress = state.startup.progress();
        if progress.loading {
            let mut response = json_response(
                StatusCode::SERVICE_UNAVAILABLE,
                &serde_json::json!({
                    "status": "loading",
                    "server": state.server_name,
                    "loaded": progress.done,
                    "total": progress.total,
                    "failed": progress.failed,
                }),
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            return response;
        }
        // Services that failed to load at start are logged and retried by the reconcile
        // loop; the server itself serves.
        return json_response(
            StatusCode::OK,
            &serde_json::json!({
                "status": "ok",
                "server": state.server_name,
                "failed_to_load": progress.failed,
            }),
        );
    }
    if path == "/zato/api" || path.starts_with("/zato/api/") {
        let req = req.map(Body::new);
        return match state.admin.clone().oneshot(req).await {
            Ok(response) => response,
            Err(never) => match never {},
        };
    }
    call_channel(state, req).await
}

async fn call_channel(state: &HttpState, req: Request<Incoming>) -> Response<Body> {
    let cid = new_cid();
    let routes = state.channels.routes.load();
    let Some((channel, path_params)) = routes.find(req.uri().path()) else {
        return error_response(
            StatusCode::NOT_FOUND,
            format!("no channel for path `{}`", req.uri().path()),
            Some(&cid),
        );
    };
    if !channel.allows(req.method()) {
        let mut response = error_response(
            StatusCode::METHOD_NOT_ALLOWED,
            format!(
                "method {} not allowed by channel `{}`",
                req.method(),
                channel.config.name
            ),
            Some(&cid),
        );
        if let Ok(allow) = HeaderValue::from_str(&channel.config.methods.join(", ")) {
            response.headers_mut().insert(header::ALLOW, allow);
        }
        return response;
    }
    let (parts, body) = req.into_parts();
    let payload = match read_body(body, state.settings.max_body_bytes).await {
        Ok(payload) => payload,
        Err(response) => return response,
    };
    let timeout = match channel.config.timeout_ms {
        0 => state.runtime.settings().default_timeout(),
        ms => Duration::from_millis(ms),
    };
    let request = runtime::Request {
        cid: &cid,
        channel: ChannelKind::Http,
        payload: &payload,
        data_format: to_wit_format(channel.config.data_format),
        details: Box::new(HttpDetails {
            route: Arc::clone(&channel),
            head: parts,
            path_params,
        }),
    };
    let result = state
        .runtime
        .call(&channel.config.service, request, CallContext::new(timeout))
        .await;
    service_response(result, channel.config.data_format, &cid)
}

/// What a service reads of an HTTP request when it asks: hyper's request head, the
/// channel and the decoded path parameters, moved into the call as they are.
struct HttpDetails {
    route: Arc<router::Route>,
    head: http::request::Parts,
    path_params: router::PathParams,
}

impl runtime::RequestDetails for HttpDetails {
    fn channel_name(&self) -> &str {
        &self.route.config.name
    }

    /// The keys of an HTTP request in `wit/service.wit`, in order.
    fn details(&self) -> Vec<(&str, Cow<'_, str>)> {
        ["method", "path", "query-string"]
            .into_iter()
            .filter_map(|key| Some((key, self.detail(key)?)))
            .collect()
    }

    fn detail(&self, key: &str) -> Option<Cow<'_, str>> {
        match key {
            "method" => Some(Cow::Borrowed(self.head.method.as_str())),
            "path" => Some(Cow::Borrowed(self.head.uri.path())),
            "query-string" => self.head.uri.query().map(Cow::Borrowed),
            _ => None,
        }
    }

    fn headers(&self) -> Vec<(&str, &str)> {
        header_pairs(&self.head.headers)
    }

    fn header(&self, name: &str) -> Option<&str> {
        header_value(&self.head.headers, name)
    }

    fn query_pairs(&self) -> Vec<(Cow<'_, str>, Cow<'_, str>)> {
        self.head
            .uri
            .query()
            .map(|q| form_urlencoded::parse(q.as_bytes()).collect())
            .unwrap_or_default()
    }

    fn query(&self, name: &str) -> Option<Cow<'_, str>> {
        let query = self.head.uri.query()?;
        form_urlencoded::parse(query.as_bytes())
            .find(|(key, _)| key == name)
            .map(|(_, value)| value)
    }

    fn params(&self) -> Vec<(&str, &str)> {
        self.path_params
            .iter()
            .map(|(key, value)| (key.as_str(), value.as_str()))
            .collect()
    }
}

/// Every header whose value is text, in order (names are lowercase in a `HeaderMap`).
pub(crate) fn header_pairs(headers: &http::HeaderMap) -> Vec<(&str, &str)> {
    headers
        .iter()
        .filter_map(|(key, value)| Some((key.as_str(), value.to_str().ok()?)))
        .collect()
}

/// The first text value of the header `name`, whatever its case.
pub(crate) fn header_value<'a>(headers: &'a http::HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(name)
        .iter()
        .find_map(|value| value.to_str().ok())
}

/// Turns what a service call gave into an HTTP response.
pub fn service_response(
    result: Result<runtime::Response, CallError>,
    format: DataFormat,
    cid: &str,
) -> Response<Body> {
    match result {
        Ok(answer) => {
            let status =
                StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut response = Response::new(Body::from(answer.payload));
            *response.status_mut() = status;
            let headers = response.headers_mut();
            for (name, value) in &answer.headers {
                // A guest cannot make the host send a malformed header.
                if let (Ok(name), Ok(value)) = (
                    HeaderName::try_from(name.as_str()),
                    HeaderValue::try_from(value.as_str()),
                ) {
                    headers.append(name, value);
                }
            }
            if !headers.contains_key(header::CONTENT_TYPE) {
                headers.insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static(content_type(format)),
                );
            }
            if let Ok(cid) = HeaderValue::from_str(cid) {
                headers.insert(CID_HEADER, cid);
            }
            response
        }
        Err(error) => {
            let status =
                StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let starting = matches!(error, CallError::NotLoaded(_));
            if status.is_server_error() && !starting {
                tracing::error!(cid, "{error}");
            } else {
                tracing::debug!(cid, "{error}");
            }
            let mut response = error_response(status, error.to_string(), Some(cid));
            if starting {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            response
        }
    }
}

/// Reads a request body, refusing it with 413 past `limit` bytes.
pub async fn read_body(body: Incoming, limit: usize) -> Result<Bytes, Response<Body>> {
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(error_response(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("request body is larger than {limit} bytes"),
            None,
        )),
        Err(e) => Err(error_response(
            StatusCode::BAD_REQUEST,
            format!("cannot read request body: {e}"),
            None,
        )),
    }
}

/// A JSON error body `{"error": ..., "cid": ...}` with `status`.
pub fn error_response(status: StatusCode, error: String, cid: Option<&str>) -> Response<Body> {
    let mut response = json_response(
        status,
        &ErrorBody {
            error,
            cid: cid.map(str::to_owned),
        },
    );
    if let Some(cid) = cid.and_then(|c| HeaderValue::from_str(c).ok()) {
        response.headers_mut().insert(CID_HEADER, cid);
    }
    response
}

pub fn json_response<T: serde::Serialize>(status: StatusCode, value: &T) -> Response<Body> {
    let body = serde_json::to_vec(value).expect("response bodies serialise");
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

fn content_type(format: DataFormat) -> &'static str {
    match format {
        DataFormat::Json => "application/json",
        DataFormat::Xml => "application/xml",
        DataFormat::Raw => "application/octet-stream",
    }
}

pub fn to_wit_format(format: DataFormat) -> runtime::DataFormat {
    match format {
        DataFormat::Json => runtime::DataFormat::Json,
        DataFormat::Xml => runtime::DataFormat::Xml,
        DataFormat::Raw => runtime::DataFormat::Raw,
    }
}

/// A new correlation id: 32 hex characters (128 random bits), unique per incoming
/// request. From the thread's CSPRNG, which the OS seeds: a uuid v4 would ask the
/// kernel (a `getrandom` system call) on every request. Written into a byte array and
/// allocated once: collecting `char`s cost about 900 instructions per request in
/// callgrind, `format!` more.
pub fn new_cid() -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bits = rand::random::<u128>();
    let mut digits = [0u8; 32];
    for (i, digit) in digits.iter_mut().enumerate() {
        *digit = HEX[((bits >> (124 - 4 * i)) & 0xf) as usize];
    }
    String::from_utf8(digits.to_vec()).expect("hex digits are ASCII")
}

/// Whether `method` is a valid HTTP method token.
pub fn valid_method(method: &str) -> bool {
    Method::from_bytes(method.as_bytes()).is_ok() && method.bytes().all(|b| b.is_ascii_uppercase())
}

/// The address the server answers on, for messages (e.g. `http://127.0.0.1:17010`).
pub fn base_url(addr: SocketAddr) -> String {
    format!("http://{addr}")
}

#[cfg(test)]
mod tests {
    use super::router::test_channel as channel;
    use super::*;

    #[tokio::test]
    async fn a_reload_that_read_the_odb_earlier_never_hides_a_newer_channel() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/odb.sqlite", dir.path().display());
        let odb = Arc::new(crate::odb::SqlOdb::connect(&url).await.unwrap());
        let channels = Arc::new(Channels::new(odb));
        // A slow reload (a notice's, say) reads the table before `/new` exists...
        let (read, read_rx) = tokio::sync::oneshot::channel();
        let (go, go_rx) = tokio::sync::oneshot::channel::<()>();
        let slow = tokio::spawn({
            let channels = Arc::clone(&channels);
            async move {
                channels
                    .reload_from(|| async move {
                        let old = vec![channel("old", "/old")];
                        read.send(()).unwrap();
                        go_rx.await.unwrap();
                        Ok(old)
                    })
                    .await
            }
        });
        read_rx.await.unwrap();
        // ... then the admin API creates `/new` and reloads, and answers once that
        // reload returns; only then does the slow reload store what it read.
        let admin = tokio::spawn({
            let channels = Arc::clone(&channels);
            async move {
                channels
                    .reload_from(|| async {
                        Ok(vec![channel("old", "/old"), channel("new", "/new")])
                    })
                    .await
            }
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        go.send(()).unwrap();
        slow.await.unwrap().unwrap();
        admin.await.unwrap().unwrap();
        assert!(
            channels.routes.load().find("/new").is_some(),
            "the channel the admin API reloaded with is routed"
        );
    }

    #[test]
    fn a_cid_is_32_lowercase_hex_digits_of_fresh_randomness() {
        let cids: Vec<String> = (0..64).map(|_| new_cid()).collect();
        for cid in &cids {
            assert_eq!(cid.len(), 32, "{cid}");
            assert!(
                cid.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')),
                "{cid}"
            );
        }
        let distinct: std::collections::HashSet<_> = cids.iter().collect();
        assert_eq!(distinct.len(), cids.len());
        // Every digit position is used: the value is not truncated or shifted.
        assert!((0..32).all(|i| cids.iter().any(|c| c.as_bytes()[i] != b'0')));
    }
}
