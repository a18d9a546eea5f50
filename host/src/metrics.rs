//! Prometheus metrics of one server, served in the text format at `GET /metrics` on the
//! server's port (`[metrics] enabled`, on by default; no channel may take that path).
//!
//! Each server has its own [`Metrics`] (a `prometheus-client` registry, not a global
//! recorder: tests run several servers in one process). What is counted as it happens:
//!
//! - `zato_requests_total{service, channel, status}`: every call a channel made
//!   (`channel::call_service`: HTTP, SOAP, the scheduler, AMQP, ZeroMQ, the admin API's
//!   invoke, asynchronous invokes), by the status it answered (a service's own, or that
//!   of the error's kind); calls of names no service goes by all under
//!   `service="(not deployed)"`;
//! - `zato_request_duration_seconds{service, channel}`: their durations, a histogram;
//! - `zato_requests_in_flight`: calls running now (instances in use);
//! - `zato_deploys_total{outcome}`: deploys made through this server (`ok`, `refused`
//!   when the component was at fault, `failed` when the server was).
//!
//! And what is read at each scrape: `zato_services` (versions loaded),
//! `zato_warm_instances` (idle instances kept for reuse), `zato_components_compiled_total`
//! and `zato_component_cache_hits_total`, `zato_kvdb_errors_total` and
//! `zato_odb_errors_total` (errors of the KVDB and of the ODB seen by this process).
//!
//! *Invariant*: recording is a few atomic operations and, for a label set seen before, a
//! read lock: no I/O on the request path.

use std::fmt::Write as _;
use std::sync::Weak;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric as _};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// What a scrape reads from the server (the runtime implements it).
pub trait Readings: Send + Sync + 'static {
    fn readings(&self) -> ServerReadings;
}

/// The server's figures at a scrape.
#[derive(Debug, Clone, Copy, Default)]
pub struct ServerReadings {
    /// Service versions loaded.
    pub services: usize,
    /// Idle instances kept for reuse.
    pub warm_instances: usize,
    /// Components compiled by Cranelift, and loaded from the artifact cache, since the
    /// server started.
    pub compiled: u64,
    pub cache_hits: u64,
}

/// The `service` label of calls of a name no service goes by (not deployed, or not
/// loaded yet): they are counted, but not each under its own name.
pub const NOT_DEPLOYED: &str = "(not deployed)";

/// The content type of the text format.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Bounds of the duration histogram's buckets, in seconds: 100 µs to 60 s.
const DURATION_BUCKETS: [f64; 16] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
    15.0, 60.0,
];

/// KVDB errors this process saw (`kvdb::redis` counts them where it makes them).
pub(crate) static KVDB_ERRORS: AtomicU64 = AtomicU64::new(0);
/// ODB errors this process saw (`odb::OdbError::from` counts them).
pub(crate) static ODB_ERRORS: AtomicU64 = AtomicU64::new(0);

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    service: String,
    channel: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DurationLabels {
    service: String,
    channel: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeployLabels {
    outcome: &'static str,
}

fn duration_histogram() -> Histogram {
    Histogram::new(DURATION_BUCKETS)
}

/// One server's metrics.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    durations: Family<DurationLabels, Histogram, fn() -> Histogram>,
    in_flight: Gauge,
    deploys: Family<DeployLabels, Counter>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Metrics {
    /// A registry with every metric; `server` is read at each scrape.
    pub fn new(server: Weak<dyn Readings>) -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "zato_requests",
            "Calls of services made by channels, by service, channel kind and status",
            requests.clone(),
        );
        let durations =
            Family::<DurationLabels, Histogram, fn() -> Histogram>::new_with_constructor(
                duration_histogram,
            );
        registry.register(
            "zato_request_duration_seconds",
            "How long calls of services took, by service and channel kind",
            durations.clone(),
        );
        let in_flight = Gauge::<i64, AtomicI64>::default();
        registry.register(
            "zato_requests_in_flight",
            "Calls of services running now",
            in_flight.clone(),
        );
        let deploys = Family::<DeployLabels, Counter>::default();
        registry.register(
            "zato_deploys",
            "Deploys made through this server, by outcome (ok, refused, failed)",
            deploys.clone(),
        );
        registry.register_collector(Box::new(ServerState { server }));
        Self {
            registry,
            requests,
            durations,
            in_flight,
            deploys,
        }
    }

    /// A call started; the guard counts it as running until dropped.
    pub fn call_started(&self) -> InFlight<'_> {
        self.in_flight.inc();
        InFlight(&self.in_flight)
    }

    /// A call of `service` through a channel of kind `channel` ended with `status`
    /// after `took`.
    pub fn call_ended(&self, service: &str, channel: &str, status: u16, took: Duration) {
        self.requests
            .get_or_create(&RequestLabels {
                service: service.to_owned(),
                channel: channel.to_owned(),
                status,
            })
            .inc();
        self.durations
            .get_or_create(&DurationLabels {
                service: service.to_owned(),
                channel: channel.to_owned(),
            })
            .observe(took.as_secs_f64());
    }

    /// A deploy through this server ended: `ok`, `refused` or `failed`.
    pub fn deployed(&self, outcome: &'static str) {
        self.deploys.get_or_create(&DeployLabels { outcome }).inc();
    }

    /// Everything, in the text format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing to a String does not fail; a collector's error would be a bug.
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::error!("cannot encode the metrics: {e}");
            let _ = writeln!(out, "# EOF");
        }
        out
    }
}

/// Counts a call as running while it lives.
pub struct InFlight<'a>(&'a Gauge);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// What is read from the server at each scrape.
struct ServerState {
    server: Weak<dyn Readings>,
}

impl std::fmt::Debug for ServerState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServerState")
    }
}

fn gauge(encoder: &mut DescriptorEncoder, name: &str, help: &str, value: i64) -> std::fmt::Result {
    let metric = ConstGauge::new(value);
    metric.encode(encoder.encode_descriptor(name, help, None, metric.metric_type())?)
}

fn counter(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: u64,
) -> std::fmt::Result {
    let metric = ConstCounter::new(value);
    metric.encode(encoder.encode_descriptor(name, help, None, metric.metric_type())?)
}

impl prometheus_client::collector::Collector for ServerState {
    fn encode(&self, mut encoder: DescriptorEncoder) -> std::fmt::Result {
        let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        if let Some(server) = self.server.upgrade() {
            let ServerReadings {
                services,
                warm_instances,
                compiled,
                cache_hits,
            } = server.readings();
            gauge(
                &mut encoder,
                "zato_services",
                "Service versions loaded",
                count(services),
            )?;
            gauge(
                &mut encoder,
                "zato_warm_instances",
                "Idle instances kept for reuse (services with zato.instance_reuse)",
                count(warm_instances),
            )?;
            counter(
                &mut encoder,
                "zato_components_compiled",
                "Components compiled by Cranelift since the server started",
                compiled,
            )?;
            counter(
                &mut encoder,
                "zato_component_cache_hits",
                "Components loaded from the artifact cache since the server started",
                cache_hits,
            )?;
        }
        counter(
            &mut encoder,
            "zato_kvdb_errors",
            "KVDB (Redis) errors this process saw",
            KVDB_ERRORS.load(Ordering::Relaxed),
        )?;
        counter(
            &mut encoder,
            "zato_odb_errors",
            "ODB (SQL) errors this process saw",
            ODB_ERRORS.load(Ordering::Relaxed),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Nothing;

    impl Readings for Nothing {
        fn readings(&self) -> ServerReadings {
            ServerReadings::default()
        }
    }

    #[test]
    fn calls_and_deploys_are_counted_by_their_labels() {
        let metrics = Metrics::new(Weak::<Nothing>::new());
        {
            let _running = metrics.call_started();
            assert!(metrics.render().contains("zato_requests_in_flight 1\n"));
        }
        metrics.call_ended("demo.hello", "http", 200, Duration::from_millis(2));
        metrics.call_ended("demo.hello", "http", 200, Duration::from_millis(30));
        metrics.call_ended("demo.hello", "amqp", 500, Duration::from_micros(50));
        metrics.deployed("ok");
        let text = metrics.render();
        for line in [
            "zato_requests_in_flight 0\n",
            "zato_requests_total{service=\"demo.hello\",channel=\"http\",status=\"200\"} 2\n",
            "zato_requests_total{service=\"demo.hello\",channel=\"amqp\",status=\"500\"} 1\n",
            "zato_request_duration_seconds_count{service=\"demo.hello\",channel=\"http\"} 2\n",
            "zato_request_duration_seconds_bucket{le=\"0.0025\",service=\"demo.hello\",channel=\"http\"} 1\n",
            "zato_request_duration_seconds_bucket{le=\"0.05\",service=\"demo.hello\",channel=\"http\"} 2\n",
            "zato_deploys_total{outcome=\"ok\"} 1\n",
            "# TYPE zato_kvdb_errors counter\n",
        ] {
            assert!(text.contains(line), "no {line:?} in\n{text}");
        }
        assert!(text.ends_with("# EOF\n"), "{text}");
    }
}
