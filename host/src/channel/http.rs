//! The HTTP listener: the server's own routes under `/zato/` (ping, admin API), HTTP
//! channels (URL path patterns from the ODB, routed to services) and SOAP channels
//! (exact paths, in the same table, answered by `channel::soap`).
//!
//! Channels are hot configuration: the route table is rebuilt from the ODB and swapped
//! atomically (`channels.rs`), so a built `axum::Router` (which cannot change) is used
//! only for the server's own routes. Responses are built by `crate::http_response`;
//! connections are accepted, capped and timed out by `zato_api::serve`, which the load
//! balancer shares.

mod channels;
mod jwt;
mod router;

use std::borrow::Cow;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use tower::ServiceExt as _;

use crate::api::rate_limit::LimitedKind;
use crate::channel::{Inbound, call_service, log_limited, log_refusal, new_cid, soap};
use crate::config::HttpSettings;
use crate::http_response::{
    error_response, header_pairs, header_value, read_body, service_response,
};
use crate::rate_limit::{LimitCheck, client_ip};
use crate::runtime::{self, ChannelKind, Runtime};
use crate::security::Caller;
pub use channels::{AutoHttpChannels, Channels};
pub use jwt::RevocationsReload;
pub use router::{ChannelRouter, RouteError, Target};

/// Everything a request needs.
pub struct HttpState {
    pub runtime: Arc<Runtime>,
    pub channels: Arc<Channels>,
    /// The server's own routes: `/zato/ping` and the admin API under `/zato/api/`.
    pub system: axum::Router,
    pub settings: HttpSettings,
    /// Where a JWT log-out records the revocation.
    pub kvdb: Arc<dyn crate::kvdb::Kvdb>,
    /// Tells the other servers of a revocation.
    pub reloader: Arc<crate::reload::Reloader>,
    /// The listener's TLS, when it has some.
    pub tls: Option<zato_api::tls::ServerTls>,
}

/// Serves the channels and the server's own routes on `listener` until `shutdown`, then
/// lets requests in flight finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<HttpState>,
    shutdown: tokio_util::sync::CancellationToken,
) {
    let settings = &state.settings;
    let serve_settings = zato_api::serve::ServeSettings {
        max_header_bytes: settings.max_header_bytes,
        header_read_timeout: Duration::from_millis(settings.header_read_timeout_ms),
        idle_timeout: Duration::from_millis(settings.idle_timeout_ms),
        max_connections: settings.max_connections,
        max_connections_setting: "http.max_connections",
        tls: state.tls.as_ref().map(|tls| tls.config()),
    };
    let handler = move |req, peer| {
        let state = Arc::clone(&state);
        async move { handle(&state, req, peer).await }
    };
    zato_api::serve::serve(listener, serve_settings, handler, shutdown).await;
}

async fn handle(state: &HttpState, req: Request<Incoming>, peer: SocketAddr) -> Response<Body> {
    if req.uri().path() == METRICS_PATH {
        return metrics(state, req.method());
    }
    if jwt::is_jwt_path(req.uri().path()) {
        return jwt::serve(state, req, peer).await;
    }
    if is_system_path(req.uri().path()) {
        let mut req = req.map(Body::new);
        // The admin API limits failed logins per client address.
        req.extensions_mut()
            .insert(axum::extract::ConnectInfo(peer));
        return match state.system.clone().oneshot(req).await {
            Ok(response) => response,
            Err(never) => match never {},
        };
    }
    call_channel(state, req, peer).await
}

/// A rate limit's or an allow list's refusal of a request to `channel`, logged: the
/// status, with `Retry-After` past a count.
fn limited_response(
    cid: &str,
    channel: &str,
    limited: crate::rate_limit::Limited,
) -> Response<Body> {
    log_limited(cid, channel, &limited);
    let mut response = error_response(limited.status, limited.message, Some(cid));
    if let Some(seconds) = limited.retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

/// Where Prometheus scrapes the server's metrics; no channel can take it.
pub const METRICS_PATH: &str = "/metrics";

/// `GET /metrics`: the server's metrics in the Prometheus text format (OpenMetrics).
fn metrics(state: &HttpState, method: &Method) -> Response<Body> {
    if !state.settings.metrics {
        return error_response(
            StatusCode::NOT_FOUND,
            "metrics are off on this server (`[http] metrics = false`)".into(),
            None,
        );
    }
    if method != Method::GET && method != Method::HEAD {
        let mut response = error_response(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("method {method} not allowed on `{METRICS_PATH}`"),
            None,
        );
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    let mut response = Response::new(Body::from(state.runtime.metrics().render()));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(crate::metrics::CONTENT_TYPE),
    );
    response
}

/// Paths the server answers itself; no channel can take them (`router.rs` refuses
/// channels under `/zato/`).
fn is_system_path(path: &str) -> bool {
    path == "/zato/ping" || path == "/zato/api" || path.starts_with("/zato/api/")
}

async fn call_channel(
    state: &HttpState,
    req: Request<Incoming>,
    peer: SocketAddr,
) -> Response<Body> {
    let cid = new_cid();
    let limit = LimitCheck {
        limits: state.channels.limits(),
        kvdb: &state.kvdb,
        ip: client_ip(peer.ip(), req.headers(), &state.settings.trusted_proxies),
    };
    let routes = state.channels.routes();
    let (channel, path_params) = match routes.find_target(req.uri().path()) {
        Some((Target::Http(channel), path_params)) => (channel, path_params),
        Some((Target::Soap(channel, guard), _)) => {
            drop(routes);
            return soap::serve(
                &state.runtime,
                &state.settings,
                channel,
                guard,
                req,
                &cid,
                limit,
            )
            .await;
        }
        None => {
            return error_response(
                StatusCode::NOT_FOUND,
                format!("no channel for path `{}`", req.uri().path()),
                Some(&cid),
            );
        }
    };
    // The route is ours (an `Arc`): the table need not be held through the credential
    // check and the call.
    drop(routes);
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
    let (mut parts, body) = req.into_parts();
    // Before the credentials are checked (a password guesser is counted too) and the
    // body is read: the security definition's, the channel's and the service's limits.
    let objects = [
        channel
            .guard
            .as_ref()
            .map(|g| (LimitedKind::Security, g.name())),
        Some((LimitedKind::HttpChannel, channel.config.name.as_str())),
        Some((LimitedKind::Service, channel.config.service.as_str())),
    ];
    if let Err(limited) = limit.check(objects.into_iter().flatten()).await {
        return limited_response(&cid, &channel.config.name, limited);
    }
    // Before the body is read: a refused caller costs no upload.
    let caller = match &channel.guard {
        Some(guard) => match guard
            .admit(
                &mut parts.headers,
                parts.extensions.get::<zato_api::tls::TlsConnection>(),
                &channel.config.name,
            )
            .await
        {
            Ok(caller) => Some(caller),
            Err(refusal) => {
                log_refusal(&cid, &channel.config.name, guard.name(), &refusal);
                let mut response = error_response(refusal.status, refusal.message, Some(&cid));
                if let Some(challenge) = refusal.challenge {
                    response
                        .headers_mut()
                        .insert(header::WWW_AUTHENTICATE, challenge);
                }
                return response;
            }
        },
        None => None,
    };
    let stall = Duration::from_millis(state.settings.body_read_timeout_ms);
    let payload = match read_body(body, state.settings.max_body_bytes, stall, &cid).await {
        Ok(payload) => payload,
        Err(response) => return response,
    };
    let timeout = match channel.config.timeout_ms {
        0 => None,
        ms => Some(Duration::from_millis(ms)),
    };
    let inbound = Inbound {
        cid: &cid,
        service: &channel.config.service,
        channel: ChannelKind::Http,
        payload: &payload,
        data_format: channel.config.data_format,
        details: Box::new(HttpDetails {
            route: Arc::clone(&channel),
            head: parts,
            path_params,
            caller,
        }),
        timeout,
    };
    let result = call_service(&state.runtime, inbound).await;
    service_response(result, channel.config.data_format, &cid)
}

/// What a service reads of an HTTP request when it asks: hyper's request head, the
/// channel and the decoded path parameters, moved into the call as they are.
struct HttpDetails {
    route: Arc<router::Route>,
    head: http::request::Parts,
    path_params: router::PathParams,
    /// Who called, when the channel has a security definition.
    caller: Option<Caller>,
}

impl runtime::RequestDetails for HttpDetails {
    fn channel_name(&self) -> &str {
        &self.route.config.name
    }

    fn caller(&self) -> Option<&Caller> {
        self.caller.as_ref()
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

/// Whether `method` is a valid HTTP method token.
pub fn valid_method(method: &str) -> bool {
    Method::from_bytes(method.as_bytes()).is_ok() && method.bytes().all(|b| b.is_ascii_uppercase())
}

/// The address the server answers on, for messages (e.g. `http://127.0.0.1:17010`).
pub fn base_url(addr: SocketAddr, tls: bool) -> String {
    if tls {
        format!("https://{addr}")
    } else {
        format!("http://{addr}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_servers_own_paths_bypass_the_channels() {
        assert!(is_system_path("/zato/ping"));
        assert!(is_system_path("/zato/api"));
        assert!(is_system_path("/zato/api/services"));
        assert!(!is_system_path("/zato/apis"));
        assert!(!is_system_path("/zato/other"));
        assert!(!is_system_path("/demo/hello"));
    }
}
