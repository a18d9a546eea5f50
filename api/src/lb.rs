//! The load balancer's own answers: `/zato-lb-stats`, which `zato lb status` reads.

use serde::{Deserialize, Serialize};

/// `GET /zato-lb-stats`: the load balancer and each of its backends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LbStats {
    /// The address the load balancer listens on.
    pub address: String,
    /// Its process ID (a replacement asks it to stop).
    pub pid: u32,
    /// How backends are chosen: `round-robin`, `least-connections` or `weighted`.
    pub algorithm: String,
    /// Requests answered by the load balancer itself because no backend could be
    /// used (503 with no backend up, 502/504 after failures).
    pub refused: u64,
    /// Every backend it knows, in rotation or not.
    pub backends: Vec<BackendStats>,
}

/// Whether a backend gets requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendState {
    /// In rotation.
    Up,
    /// Not in rotation: it failed its health checks, refused a connection, or has not
    /// yet passed enough checks (a server still loading its services).
    Down,
    /// Not given new requests; those in flight finish.
    Draining,
}

/// Where the load balancer learnt of a backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendSource {
    /// The cluster's server list (admin API).
    Cluster,
    /// The load balancer's configuration file.
    Static,
}

/// One backend and what it did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BackendStats {
    /// `HOST:PORT`.
    pub address: String,
    /// The server's name, for a backend from the cluster.
    pub name: Option<String>,
    /// Where it comes from.
    pub source: BackendSource,
    /// Whether it gets requests.
    pub state: BackendState,
    /// Its share under the `weighted` algorithm.
    pub weight: u32,
    /// Requests in flight on it now.
    pub in_flight: u64,
    /// Requests it answered (any status).
    pub requests: u64,
    /// Requests that failed on it (no connection, no answer, a timeout).
    pub errors: u64,
    /// Requests that failed on it and were sent to another backend.
    pub retries: u64,
    /// Median time to the response head, in ms.
    pub p50_ms: f64,
    /// 99th percentile of the time to the response head, in ms.
    pub p99_ms: f64,
    /// The last active health check, if one ran.
    pub last_check: Option<HealthCheck>,
}

/// One active health check of a backend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HealthCheck {
    /// When it ran, in ms since the Unix epoch.
    pub at: i64,
    /// Whether it passed.
    pub ok: bool,
    /// What it found: `200`, `503 loading`, `connection refused`, `timed out`...
    pub outcome: String,
}
