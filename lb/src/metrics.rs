//! `GET /zato-lb-metrics`: the load balancer's figures (those of `/zato-lb-stats`) in
//! the Prometheus text format (OpenMetrics). At its own path, like its other routes:
//! `/metrics` is a backend's, and goes to one.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use zato_api::lb::{BackendState, LbStats};

/// The content type of the text format.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Backend {
    /// `HOST:PORT`.
    backend: String,
    /// The server's name, or the address for a static backend.
    name: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BackendInState {
    backend: String,
    name: String,
    state: &'static str,
}

/// `stats` in the text format. Built at each scrape from the counters the load
/// balancer keeps anyway: a scrape costs what `/zato-lb-stats` costs.
pub fn render(stats: &LbStats) -> String {
    let mut registry = Registry::default();
    let counter = |registry: &mut Registry, name: &str, help: &str| {
        let family = Family::<Backend, Counter>::default();
        registry.register(name, help, family.clone());
        family
    };
    let requests = counter(
        &mut registry,
        "zato_lb_requests",
        "Requests a backend answered",
    );
    let errors = counter(
        &mut registry,
        "zato_lb_backend_errors",
        "Requests that failed on a backend (no connection, no answer, a timeout)",
    );
    let retries = counter(
        &mut registry,
        "zato_lb_retries",
        "Requests that failed on a backend and were sent to another",
    );
    let in_flight = Family::<Backend, Gauge>::default();
    registry.register(
        "zato_lb_in_flight",
        "Requests in flight on a backend",
        in_flight.clone(),
    );
    let latency = Family::<Backend, Gauge<f64, AtomicU64>>::default();
    registry.register(
        "zato_lb_response_head_p99_seconds",
        "99th percentile of a backend's time to the response head",
        latency.clone(),
    );
    let state = Family::<BackendInState, Gauge>::default();
    registry.register(
        "zato_lb_backend_state",
        "1 for the state a backend is in (up, down, draining), 0 for the others",
        state.clone(),
    );
    let refused = Counter::<u64>::default();
    registry.register(
        "zato_lb_refused",
        "Requests the load balancer answered itself because no backend could be used",
        refused.clone(),
    );
    refused.inc_by(stats.refused);
    for b in &stats.backends {
        let labels = Backend {
            backend: b.address.clone(),
            name: b.name.clone().unwrap_or_else(|| b.address.clone()),
        };
        requests.get_or_create(&labels).inc_by(b.requests);
        errors.get_or_create(&labels).inc_by(b.errors);
        retries.get_or_create(&labels).inc_by(b.retries);
        in_flight
            .get_or_create(&labels)
            .set(i64::try_from(b.in_flight).unwrap_or(i64::MAX));
        latency.get_or_create(&labels).set(b.p99_ms / 1000.0);
        for (name, is) in [
            ("up", BackendState::Up),
            ("down", BackendState::Down),
            ("draining", BackendState::Draining),
        ] {
            state
                .get_or_create(&BackendInState {
                    backend: labels.backend.clone(),
                    name: labels.name.clone(),
                    state: name,
                })
                .set(i64::from(b.state == is));
        }
    }
    let mut out = String::new();
    // Writing to a String does not fail.
    let _ = prometheus_client::encoding::text::encode(&mut out, &registry);
    out
}
