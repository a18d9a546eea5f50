//! Active health checks: every `interval_ms`, a GET of `health.path` on each backend
//! over a new connection; `rise` passes in a row put it in rotation, `fall` failures
//! take it out. A server answers `/zato/ping` with 503 `loading` until its services
//! are loaded, so it gets no request before it can answer.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Empty};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;
use zato_api::lb::HealthCheck;

use crate::backend::{Backend, lock};
use crate::proxy::State;

/// Largest check answer read, to name a 503's `status`.
const MAX_CHECK_BODY: usize = 4096;

pub async fn run(state: Arc<State>, shutdown: CancellationToken) {
    let settings = state.config.health.clone();
    let mut tick = tokio::time::interval(Duration::from_millis(settings.interval_ms));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        let backends = state.backends.load();
        let checks = backends.iter().map(|backend| {
            let backend = Arc::clone(backend);
            let settings = &settings;
            let state = &state;
            async move {
                let (ok, outcome) = check(
                    &backend.address,
                    state.backend_tls.as_ref(),
                    &settings.path,
                    Duration::from_millis(settings.timeout_ms),
                )
                .await;
                record(&backend, ok, outcome, settings.rise, settings.fall);
            }
        });
        futures::future::join_all(checks).await;
    }
}

/// The first round, before the load balancer listens: a backend that passes is up at
/// once (a load balancer that replaces another must not start with nothing up).
pub async fn first(state: &State) {
    let settings = &state.config.health;
    let backends = state.backends.load();
    let checks = backends.iter().map(|backend| async move {
        let (ok, outcome) = check(
            &backend.address,
            state.backend_tls.as_ref(),
            &settings.path,
            Duration::from_millis(settings.timeout_ms),
        )
        .await;
        record(backend, ok, outcome, 1, settings.fall);
    });
    futures::future::join_all(checks).await;
}

fn record(backend: &Backend, ok: bool, outcome: String, rise: u32, fall: u32) {
    match backend.checked(ok, rise, fall) {
        Some(true) => tracing::info!("backend {} is up ({outcome})", backend.address),
        Some(false) => tracing::warn!(
            "backend {} is down: {fall} health checks failed ({outcome})",
            backend.address
        ),
        None => {}
    }
    let at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    *lock(&backend.last_check) = Some(HealthCheck { at, ok, outcome });
}

/// One check: whether it passed, and what it found.
pub async fn check(
    address: &str,
    tls: Option<&crate::tls::BackendTls>,
    path: &str,
    timeout: Duration,
) -> (bool, String) {
    match tokio::time::timeout(timeout, ask(address, tls, path)).await {
        Ok(Ok((status, body))) => {
            let ok = status.is_success();
            let mut outcome = status.as_u16().to_string();
            if !ok
                && let Ok(json) = serde_json::from_slice::<serde_json::Value>(&body)
                && let Some(said) = json.get("status").and_then(|s| s.as_str())
            {
                outcome = format!("{outcome} {said}");
            }
            (ok, outcome)
        }
        Ok(Err(e)) => (false, e),
        Err(_) => (false, format!("no answer in {} ms", timeout.as_millis())),
    }
}

async fn ask(
    address: &str,
    tls: Option<&crate::tls::BackendTls>,
    path: &str,
) -> Result<(http::StatusCode, Bytes), String> {
    let stream = TcpStream::connect(address)
        .await
        .map_err(|e| e.to_string())?;
    let _ = stream.set_nodelay(true);
    let mut sender = crate::tls::handshake(tls, address, stream).await?;
    let request = http::Request::get(path)
        .header(http::header::HOST, address)
        .header(http::header::USER_AGENT, "zato-lb health check")
        .header(http::header::CONNECTION, "close")
        .body(Empty::<Bytes>::new())
        .map_err(|e| e.to_string())?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status();
    let body = http_body_util::Limited::new(response.into_body(), MAX_CHECK_BODY)
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    Ok((status, body))
}
