//! The load balancer's own routes, never sent to a backend:
//! - `GET /zato-lb-alive`: 200 while it runs (a monitor's URI);
//! - `GET /zato-lb-stats`: [`zato_api::lb::LbStats`] as JSON;
//! - `GET /zato-lb-metrics`: the same figures for Prometheus (`crate::metrics`);
//! - `POST /zato-lb-drain` with `{"backend": NAME_OR_ADDRESS, "drain": true|false}`:
//!   stops (or resumes) sending new requests to a backend; requests in flight finish.
//!   It needs the cluster's admin credentials (basic auth), or, for a load balancer with
//!   no cluster, a client on the same host.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::Incoming;
use serde::Deserialize;
use zato_api::lb::LbStats;

use crate::backend::ProxyBody;
use crate::proxy::{State, error};

/// Largest drain request body.
const MAX_DRAIN_BODY: usize = 4096;

pub async fn handle(
    state: &Arc<State>,
    req: Request<Incoming>,
    peer: SocketAddr,
) -> Response<ProxyBody> {
    let cid = uuid::Uuid::new_v4().simple().to_string();
    match (req.method(), req.uri().path()) {
        (&Method::GET | &Method::HEAD, "/zato-lb-alive") => {
            json(StatusCode::OK, &serde_json::json!({"status": "ok"}))
        }
        (&Method::GET, "/zato-lb-stats") => json(StatusCode::OK, &stats(state)),
        (&Method::GET, "/zato-lb-metrics") => {
            let text = crate::metrics::render(&stats(state));
            let mut response = Response::new(
                Full::new(Bytes::from(text))
                    .map_err(|never| match never {})
                    .boxed(),
            );
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                header::HeaderValue::from_static(crate::metrics::CONTENT_TYPE),
            );
            response
        }
        (&Method::POST, "/zato-lb-drain") => drain(state, req, peer, &cid).await,
        (_, "/zato-lb-alive" | "/zato-lb-stats" | "/zato-lb-metrics" | "/zato-lb-drain") => error(
            StatusCode::METHOD_NOT_ALLOWED,
            &cid,
            format!("{} is not allowed here", req.method()),
        ),
        (_, path) => error(
            StatusCode::NOT_FOUND,
            &cid,
            format!(
                "`{path}` is not a load balancer route (those are /zato-lb-alive, /zato-lb-stats, /zato-lb-metrics and /zato-lb-drain)"
            ),
        ),
    }
}

pub fn stats(state: &State) -> LbStats {
    LbStats {
        address: state.addr.to_string(),
        pid: std::process::id(),
        algorithm: state.config.algorithm.name().into(),
        refused: state.refused.load(Ordering::Relaxed),
        backends: state.backends.load().iter().map(|b| b.stats()).collect(),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Drain {
    backend: String,
    #[serde(default = "yes")]
    drain: bool,
}

fn yes() -> bool {
    true
}

async fn drain(
    state: &Arc<State>,
    req: Request<Incoming>,
    peer: SocketAddr,
    cid: &str,
) -> Response<ProxyBody> {
    if let Err(refusal) = allowed(state, req.headers(), peer) {
        let mut response = error(StatusCode::UNAUTHORIZED, cid, refusal);
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Basic realm=\"zato-lb\""),
        );
        return response;
    }
    let body = match Limited::new(req.into_body(), MAX_DRAIN_BODY)
        .collect()
        .await
    {
        Ok(body) => body.to_bytes(),
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                cid,
                format!("cannot read the request: {e}"),
            );
        }
    };
    let order: Drain = match serde_json::from_slice(&body) {
        Ok(order) => order,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                cid,
                format!("expected {{\"backend\": NAME_OR_ADDRESS, \"drain\": true|false}}: {e}"),
            );
        }
    };
    let backends = state.backends.load();
    let Some(backend) = backends
        .iter()
        .find(|b| b.address == order.backend || b.name.as_deref() == Some(&order.backend))
    else {
        let known: Vec<String> = backends
            .iter()
            .map(|b| b.name.clone().unwrap_or_else(|| b.address.clone()))
            .collect();
        return error(
            StatusCode::NOT_FOUND,
            cid,
            format!(
                "no backend `{}`; the backends are: {}",
                order.backend,
                if known.is_empty() {
                    "none".into()
                } else {
                    known.join(", ")
                }
            ),
        );
    };
    backend.draining.store(order.drain, Ordering::Relaxed);
    tracing::info!(
        "backend {} {}",
        backend.address,
        if order.drain {
            "drained: it gets no new requests; those in flight finish"
        } else {
            "takes requests again"
        }
    );
    json(StatusCode::OK, &backend.stats())
}

/// Whether the client may drain: the cluster's admin credentials, or with no cluster
/// configured, a client on this host.
fn allowed(state: &State, headers: &http::HeaderMap, peer: SocketAddr) -> Result<(), String> {
    let Some(cluster) = &state.config.cluster else {
        return if peer.ip().is_loopback() {
            Ok(())
        } else {
            Err("draining is allowed from this host only".into())
        };
    };
    let path = state.dir.join(&cluster.credentials);
    let credentials: crate::config::Credentials = std::fs::read_to_string(&path)
        .ok()
        .and_then(|text| toml::from_str(&text).ok())
        .ok_or_else(|| format!("cannot read `{}` to check the credentials", path.display()))?;
    let expected = format!("{}:{}", credentials.username, credentials.password);
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b64| decode_base64(b64.trim()));
    match given {
        Some(given) if constant_time_eq(given.as_bytes(), expected.as_bytes()) => Ok(()),
        _ => Err("draining needs the cluster's admin credentials (HTTP basic)".into()),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// HTTP basic credentials are standard base64.
fn decode_base64(text: &str) -> Option<String> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .ok()?;
    String::from_utf8(bytes).ok()
}

fn json<T: serde::Serialize>(status: StatusCode, value: &T) -> Response<ProxyBody> {
    let body = serde_json::to_vec(value).expect("the load balancer's answers serialize");
    let mut response = Response::new(
        Full::new(Bytes::from(body))
            .map_err(|never| match never {})
            .boxed(),
    );
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_decode() {
        assert_eq!(
            decode_base64("YWRtaW46czNjcmV0").as_deref(),
            Some("admin:s3cret")
        );
        assert_eq!(decode_base64("YQ==").as_deref(), Some("a"));
        assert_eq!(decode_base64("!!"), None);
    }
}
