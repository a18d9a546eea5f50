//! One backend and the set of them.
//!
//! A backend is kept by its address across membership changes (its counters, health
//! and pooled connections stay); the set is an immutable list swapped whole, so a
//! request reads it without a lock.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use arc_swap::ArcSwap;
use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use hyper::client::conn::http1::SendRequest;
use tokio_util::sync::CancellationToken;
use zato_api::lb::{BackendSource, BackendState, BackendStats, HealthCheck};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
pub type ProxyBody = BoxBody<Bytes, BoxError>;

/// Idle pooled connections kept per backend.
const POOL_MAX_IDLE: usize = 64;

const UP: u8 = 0;
const DOWN: u8 = 1;

pub struct Backend {
    pub address: String,
    pub name: Option<String>,
    pub source: BackendSource,
    pub weight: u32,
    /// Up or down, from health checks and failed connections.
    health: AtomicU8,
    /// Drained: no new requests (`zato lb drain`).
    pub draining: AtomicBool,
    /// Checks passed (positive) or failed (negative) in a row.
    streak: Mutex<i64>,
    pub in_flight: AtomicU64,
    pub requests: AtomicU64,
    pub errors: AtomicU64,
    pub retries: AtomicU64,
    pub latency: Histogram,
    pub last_check: Mutex<Option<HealthCheck>>,
    /// Connections to it with no request on them, newest last.
    idle: Mutex<Vec<SendRequest<ProxyBody>>>,
    /// Smooth weighted round-robin's running weight (`selection::weighted`).
    pub current_weight: Mutex<i64>,
    /// Cancelled when it goes out of rotation (then replaced), so that requests
    /// waiting on it that can go elsewhere do.
    down: Mutex<CancellationToken>,
}

impl Backend {
    /// A new backend starts down: it gets requests once it passed `rise` checks (a
    /// server still loading its services is not sent any).
    pub fn new(address: String, name: Option<String>, source: BackendSource, weight: u32) -> Self {
        Self {
            address,
            name,
            source,
            weight: weight.max(1),
            health: AtomicU8::new(DOWN),
            draining: AtomicBool::new(false),
            streak: Mutex::new(0),
            in_flight: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            retries: AtomicU64::new(0),
            latency: Histogram::default(),
            last_check: Mutex::new(None),
            idle: Mutex::new(Vec::new()),
            current_weight: Mutex::new(0),
            down: Mutex::new(CancellationToken::new()),
        }
    }

    /// Whether it may be given a new request.
    pub fn usable(&self) -> bool {
        self.health.load(Ordering::Relaxed) == UP && !self.draining.load(Ordering::Relaxed)
    }

    pub fn state(&self) -> BackendState {
        if self.draining.load(Ordering::Relaxed) {
            BackendState::Draining
        } else if self.health.load(Ordering::Relaxed) == UP {
            BackendState::Up
        } else {
            BackendState::Down
        }
    }

    /// Records an active check; returns the new state when it changed.
    pub fn checked(&self, ok: bool, rise: u32, fall: u32) -> Option<bool> {
        let mut streak = lock(&self.streak);
        *streak = match (ok, *streak) {
            (true, n) if n > 0 => n + 1,
            (true, _) => 1,
            (false, n) if n < 0 => n - 1,
            (false, _) => -1,
        };
        let up = self.health.load(Ordering::Relaxed) == UP;
        if !up && *streak >= i64::from(rise) {
            self.health.store(UP, Ordering::Relaxed);
            return Some(true);
        }
        if up && *streak <= -i64::from(fall) {
            self.set_down();
            return Some(false);
        }
        None
    }

    /// Takes it out of rotation at once (a refused or reset connection): it comes
    /// back after `rise` passed checks. Returns whether it was up.
    pub fn fail_passively(&self) -> bool {
        *lock(&self.streak) = 0;
        let was_up = self.health.swap(DOWN, Ordering::Relaxed) == UP;
        if was_up {
            self.out_of_rotation();
        }
        was_up
    }

    fn set_down(&self) {
        self.health.store(DOWN, Ordering::Relaxed);
        self.out_of_rotation();
    }

    fn out_of_rotation(&self) {
        lock(&self.idle).clear();
        std::mem::take(&mut *lock(&self.down)).cancel();
    }

    /// Cancelled once it goes out of rotation.
    pub fn went_down(&self) -> CancellationToken {
        lock(&self.down).clone()
    }

    /// A pooled connection ready for a request, if there is one.
    pub fn take_idle(&self) -> Option<SendRequest<ProxyBody>> {
        let mut idle = lock(&self.idle);
        while let Some(sender) = idle.pop() {
            if sender.is_ready() {
                return Some(sender);
            }
        }
        None
    }

    /// Returns a connection to the pool once its response is over.
    pub fn put_idle(&self, sender: SendRequest<ProxyBody>) {
        if !self.usable() {
            return;
        }
        let mut idle = lock(&self.idle);
        if idle.len() < POOL_MAX_IDLE {
            idle.push(sender);
        }
    }

    pub fn stats(&self) -> BackendStats {
        BackendStats {
            address: self.address.clone(),
            name: self.name.clone(),
            source: self.source,
            state: self.state(),
            weight: self.weight,
            in_flight: self.in_flight.load(Ordering::Relaxed),
            requests: self.requests.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            p50_ms: self.latency.percentile(0.50),
            p99_ms: self.latency.percentile(0.99),
            last_check: lock(&self.last_check).clone(),
        }
    }
}

/// Counts a request in flight on a backend until dropped.
pub struct InFlight(pub Arc<Backend>);

impl InFlight {
    pub fn new(backend: Arc<Backend>) -> Self {
        backend.in_flight.fetch_add(1, Ordering::Relaxed);
        Self(backend)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The backends, swapped whole on membership changes.
#[derive(Default)]
pub struct Backends {
    list: ArcSwap<Vec<Arc<Backend>>>,
}

impl Backends {
    pub fn load(&self) -> Arc<Vec<Arc<Backend>>> {
        self.list.load_full()
    }

    pub fn store(&self, list: Vec<Arc<Backend>>) {
        self.list.store(Arc::new(list));
    }
}

pub fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Latency to the response head: counts in buckets growing by a quarter from 10 µs to
/// about two minutes, enough for percentiles within 25%, with no lock and no
/// allocation per request.
pub struct Histogram {
    buckets: Vec<AtomicU32>,
}

const BUCKETS: usize = 80;
const FIRST_US: f64 = 10.0;
const GROWTH: f64 = 1.25;

impl Default for Histogram {
    fn default() -> Self {
        Self {
            buckets: (0..BUCKETS).map(|_| AtomicU32::new(0)).collect(),
        }
    }
}

impl Histogram {
    pub fn record(&self, elapsed: Duration) {
        let us = elapsed.as_secs_f64() * 1e6;
        let index = if us <= FIRST_US {
            0
        } else {
            ((us / FIRST_US).ln() / GROWTH.ln()).ceil() as usize
        };
        self.buckets[index.min(BUCKETS - 1)].fetch_add(1, Ordering::Relaxed);
    }

    /// The upper bound of the bucket holding quantile `q`, in ms (0 with no samples).
    pub fn percentile(&self, q: f64) -> f64 {
        let counts: Vec<u64> = self
            .buckets
            .iter()
            .map(|b| u64::from(b.load(Ordering::Relaxed)))
            .collect();
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return 0.0;
        }
        let rank = (q * total as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, count) in counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                let us = FIRST_US * GROWTH.powi(i as i32);
                return us.round() / 1000.0;
            }
        }
        unreachable!("the rank is at most the total")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_within_a_bucket() {
        let h = Histogram::default();
        assert_eq!(h.percentile(0.5), 0.0);
        for _ in 0..98 {
            h.record(Duration::from_millis(1));
        }
        h.record(Duration::from_millis(100));
        h.record(Duration::from_secs(1000));
        let p50 = h.percentile(0.5);
        assert!((1.0..1.25).contains(&p50), "{p50}");
        let p99 = h.percentile(0.99);
        assert!((100.0..125.0).contains(&p99), "{p99}");
    }

    #[test]
    fn rise_and_fall_take_checks_in_a_row() {
        let b = Backend::new("h:1".into(), None, BackendSource::Static, 1);
        assert!(!b.usable(), "a new backend waits for its checks");
        assert_eq!(b.checked(true, 2, 2), None);
        assert_eq!(b.checked(true, 2, 2), Some(true));
        assert!(b.usable());
        assert_eq!(b.checked(false, 2, 2), None);
        assert_eq!(
            b.checked(true, 2, 2),
            None,
            "a pass breaks the failing streak"
        );
        assert_eq!(b.checked(false, 2, 2), None);
        assert_eq!(b.checked(false, 2, 2), Some(false));
        assert_eq!(b.state(), BackendState::Down);
        assert_eq!(b.checked(true, 2, 2), None);
        assert_eq!(b.checked(true, 2, 2), Some(true));
        assert!(b.fail_passively());
        assert!(!b.usable(), "a refused connection takes it out at once");
        b.checked(true, 2, 2);
        b.draining.store(true, Ordering::Relaxed);
        b.checked(true, 2, 2);
        assert_eq!(b.state(), BackendState::Draining);
        assert!(!b.usable());
    }
}
