//! Usage statistics of services, sample calls and slow responses, kept in the KVDB.
//!
//! - On the request path (`channel::call_service`), [`Recorder::record`] adds a call to
//!   this server's aggregate of the current minute for its service: count, errors,
//!   timeouts, sum, min and max of durations, and a histogram of them (`hdrhistogram`,
//!   2 significant digits: percentiles within 1%). It also keeps a call as the service's
//!   sample, at most one per flush interval ([`Recorder::wants_sample`]: a sample's
//!   headers are copied before the call, and copying them on every call cost a few per
//!   cent of a server's requests/s), and a call slower than the service's threshold for
//!   the slow list. One short lock, no I/O.
//! - [`Flusher`], on every server, takes what was recorded every `flush_interval_ms` and
//!   writes it in one batch ([`Kvdb::merge_hashes`]): a hash per (minute, service), to
//!   which every server of the cluster adds, so that the cluster's figures add up. A
//!   batch the KVDB refused is tried again with the next one.
//! - [`Rollup`], on the singleton, rolls complete hours up from their minutes and
//!   complete days from their hours, and moves the `rolled` marks on; raw minutes expire
//!   after `keep_minutes_hours`, hours after `keep_hours_days`, days are kept.
//! - Reading ([`summary`], [`series`], [`top`]) covers a span with days, hours and
//!   minutes, using an hour or a day only once it was rolled up.
//!
//! Keys (hashes of the KVDB): `stats:m:{minute}:{service}`, `stats:h:{hour}:{service}`,
//! `stats:d:{day}:{service}` (minutes, hours and days since the Unix epoch, UTC);
//! `stats:first` and `stats:last` (service -> minute of its first and last recorded
//! call); `stats:rolled` (`hour`, `day`: the first hour and day not rolled up yet).
//! Samples are values `stats:sample:{service}`, slow lists rankings
//! `stats:slow:{service}` scored by duration.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use hdrhistogram::Histogram;
use tokio_util::sync::CancellationToken;

use crate::api::{
    CallSample, Header, ServiceStats, StatsOrder, StatsPoint, StatsRange, StatsSeries,
};
use crate::config::StatsSettings;
use crate::kvdb::{HashMerge, Kvdb, KvdbResult};
use crate::odb::now_ms;
use crate::singleton::{Lease, SingletonTask};

/// How many slow responses are kept per service.
pub const SLOW_KEPT: usize = 100;
/// The service configuration key that turns samples and the slow list's payloads off
/// for a service (`off`, `false` or `no`), for privacy.
pub const SAMPLES_KEY: &str = "zato.stats.samples";
/// The service configuration key that sets a service's slow-response threshold, in ms,
/// over its `info()` value and the server's default.
pub const THRESHOLD_KEY: &str = "zato.stats.slow_threshold_ms";
/// Request and response headers never kept in samples: their names, lowercase, contain
/// one of these.
const SECRET_HEADERS: &[&str] = &[
    "authorization",
    "cookie",
    "auth",
    "token",
    "secret",
    "password",
    "passwd",
    "api-key",
    "apikey",
    "session",
    "signature",
];
/// Histogram precision: 2 significant digits, a relative error of at most 1%.
const SIGNIFICANT_DIGITS: u8 = 2;
/// How long after a minute ends its calls may still be arriving from a server's batch.
const FLUSH_GRACE_MINUTES: i64 = 2;
/// How many hours (and days) one round of the rollup does at most.
const ROLLUP_ROUND_MAX: i64 = 240;
/// How many batches refused by the KVDB wait for the next flush at most; older ones are
/// dropped (and the loss logged).
const MAX_PENDING_BATCHES: usize = 600;
/// How long samples and slow lists are kept after their last change.
const KEEP_SAMPLES: Duration = Duration::from_secs(30 * 86_400);

const FIRST: &str = "stats:first";
const LAST: &str = "stats:last";
const ROLLED: &str = "stats:rolled";

fn minute_key(minute: i64, service: &str) -> String {
    format!("stats:m:{minute}:{service}")
}
fn hour_key(hour: i64, service: &str) -> String {
    format!("stats:h:{hour}:{service}")
}
fn day_key(day: i64, service: &str) -> String {
    format!("stats:d:{day}:{service}")
}
fn sample_key(service: &str) -> String {
    format!("stats:sample:{service}")
}
fn slow_key(service: &str) -> String {
    format!("stats:slow:{service}")
}

/// Minutes since the Unix epoch.
pub fn now_minute() -> i64 {
    now_ms().div_euclid(60_000)
}

/// How a call ended, for the statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    Error,
    /// An error: the call ran out of time.
    Timeout,
}

/// What a service's configuration says of its statistics (parsed once per change).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Policy {
    /// Samples and slow payloads are not kept.
    pub private: bool,
    /// Overrides the threshold, in ms.
    pub threshold_ms: Option<u32>,
}

/// A service configuration's [`Policy`], if it says anything.
pub fn policy(config: &std::collections::BTreeMap<String, String>) -> Option<Policy> {
    let private = config
        .get(SAMPLES_KEY)
        .is_some_and(|v| matches!(v.trim(), "off" | "false" | "no" | "0"));
    let threshold_ms = config
        .get(THRESHOLD_KEY)
        .and_then(|v| v.trim().parse::<u32>().ok());
    (private || threshold_ms.is_some()).then_some(Policy {
        private,
        threshold_ms,
    })
}

/// One call, as the channel saw it.
pub struct Call<'a> {
    pub service: &'a str,
    pub cid: &'a str,
    /// The channel kind (`http`, `amqp`, ...).
    pub channel: &'static str,
    /// The channel's own name (an HTTP channel's, the caller's for `invoke`).
    pub channel_name: &'a str,
    pub duration: Duration,
    pub outcome: Outcome,
    /// The status answered (the service's, or the error's).
    pub status: u16,
    /// The service's threshold of a slow response in ms; 0: the server's.
    pub threshold_ms: u32,
    pub policy: Policy,
}

/// What a sample or a slow entry keeps of a call's exchange; built only when needed.
pub struct Exchange<'a> {
    pub request: &'a [u8],
    /// Request headers, those carrying secrets left out, when captured: only for a call
    /// that [`Recorder::wants_sample`] said to take as the sample.
    pub request_headers: Option<Headers>,
    pub response: &'a [u8],
    pub response_headers: &'a [(String, String)],
    /// An error's message, when the call failed.
    pub error: Option<String>,
}

/// Headers kept for a sample, in one buffer (`name\0value\0...`): one allocation per
/// capture rather than two per header. Headers carrying secrets
/// ([`is_secret_header`]) are never put in.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Headers(String);

impl Headers {
    /// Keeps `headers` (names lowercase), those carrying secrets left out.
    pub fn capture<'a>(headers: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let mut kept = Self(String::with_capacity(256));
        kept.extend(headers);
        kept
    }

    fn extend<'a>(&mut self, headers: impl IntoIterator<Item = (&'a str, &'a str)>) {
        for (name, value) in headers {
            // A NUL cannot be in an HTTP header; one from elsewhere is not kept.
            if !is_secret_header(name) && !name.contains('\0') && !value.contains('\0') {
                self.0.push_str(name);
                self.0.push('\0');
                self.0.push_str(value);
                self.0.push('\0');
            }
        }
    }

    fn to_vec(&self) -> Vec<Header> {
        let mut parts = self.0.split('\0');
        let mut headers = Vec::new();
        while let (Some(name), Some(value)) = (parts.next(), parts.next()) {
            headers.push(Header {
                name: name.to_owned(),
                value: value.to_owned(),
            });
        }
        headers
    }
}

/// Whether a header's value must not be kept (credentials, cookies, tokens): its name
/// contains one of [`SECRET_HEADERS`], in any case. No allocation: this runs for every
/// header of every sampled call.
pub fn is_secret_header(name: &str) -> bool {
    let name = name.as_bytes();
    SECRET_HEADERS.iter().any(|secret| {
        name.windows(secret.len())
            .any(|window| window.eq_ignore_ascii_case(secret.as_bytes()))
    })
}

/// A duration aggregate: one service's calls over some span.
#[derive(Clone)]
pub struct Aggregate {
    pub count: u64,
    pub errors: u64,
    pub timeouts: u64,
    pub sum_us: u64,
    pub min_us: u64,
    pub max_us: u64,
    histogram: Histogram<u64>,
}

impl Default for Aggregate {
    fn default() -> Self {
        Self {
            count: 0,
            errors: 0,
            timeouts: 0,
            sum_us: 0,
            min_us: u64::MAX,
            max_us: 0,
            histogram: Histogram::new(SIGNIFICANT_DIGITS).expect("2 significant digits"),
        }
    }
}

impl Aggregate {
    fn record(&mut self, us: u64, outcome: Outcome) {
        self.count += 1;
        if outcome != Outcome::Ok {
            self.errors += 1;
        }
        if outcome == Outcome::Timeout {
            self.timeouts += 1;
        }
        self.sum_us = self.sum_us.saturating_add(us);
        self.min_us = self.min_us.min(us);
        self.max_us = self.max_us.max(us);
        // An auto-resizing histogram takes any value.
        let _ = self.histogram.record(us);
    }

    /// The hash fields of this aggregate: what [`Aggregate::from_fields`] reads back.
    fn merge(&self, key: String, replace: bool, ttl: Option<Duration>) -> HashMerge {
        let int = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        let mut add = vec![
            ("count".to_owned(), int(self.count)),
            ("errors".to_owned(), int(self.errors)),
            ("timeouts".to_owned(), int(self.timeouts)),
            ("sum_us".to_owned(), int(self.sum_us)),
        ];
        add.extend(self.histogram.iter_recorded().map(|bucket| {
            (
                format!("b:{}", bucket.value_iterated_to()),
                int(bucket.count_at_value()),
            )
        }));
        HashMerge {
            key,
            replace,
            add,
            min: vec![("min_us".to_owned(), int(self.min_us))],
            max: vec![("max_us".to_owned(), int(self.max_us))],
            ttl,
        }
    }

    /// Adds a hash written by [`Aggregate::merge`].
    fn add_fields(&mut self, fields: &HashMap<String, i64>) {
        let get = |name: &str| fields.get(name).map(|v| u64::try_from(*v).unwrap_or(0));
        let Some(count) = get("count").filter(|c| *c > 0) else {
            return;
        };
        self.count += count;
        self.errors += get("errors").unwrap_or(0);
        self.timeouts += get("timeouts").unwrap_or(0);
        self.sum_us = self.sum_us.saturating_add(get("sum_us").unwrap_or(0));
        if let Some(min) = get("min_us") {
            self.min_us = self.min_us.min(min);
        }
        if let Some(max) = get("max_us") {
            self.max_us = self.max_us.max(max);
        }
        for (field, n) in fields {
            if let Some(value) = field.strip_prefix("b:").and_then(|v| v.parse::<u64>().ok()) {
                let _ = self
                    .histogram
                    .record_n(value, u64::try_from(*n).unwrap_or(0));
            }
        }
    }

    fn ms(us: u64) -> f64 {
        us as f64 / 1000.0
    }

    /// The duration at quantile `q`, in ms (the middle of its histogram bucket).
    pub fn quantile_ms(&self, q: f64) -> Option<f64> {
        (self.count > 0).then(|| {
            let value = self.histogram.value_at_quantile(q);
            Self::ms(self.histogram.median_equivalent(value))
        })
    }

    pub fn mean_ms(&self) -> Option<f64> {
        (self.count > 0).then(|| Self::ms(self.sum_us) / self.count as f64)
    }

    fn to_stats(&self, service: &str, from_minute: i64, to_minute: i64) -> ServiceStats {
        let some = self.count > 0;
        ServiceStats {
            service: service.to_owned(),
            from_ms: from_minute * 60_000,
            to_ms: to_minute * 60_000,
            count: self.count,
            errors: self.errors,
            timeouts: self.timeouts,
            min_ms: some.then(|| Self::ms(self.min_us)),
            max_ms: some.then(|| Self::ms(self.max_us)),
            mean_ms: self.mean_ms().map(|m| (m * 1000.0).round() / 1000.0),
            p50_ms: self.quantile_ms(0.5),
            p95_ms: self.quantile_ms(0.95),
            p99_ms: self.quantile_ms(0.99),
        }
    }
}

/// What one service recorded since the last flush.
#[derive(Default)]
struct Pending {
    /// Minute -> aggregate (one minute, two around a minute's turn).
    minutes: Vec<(i64, Aggregate)>,
    /// The last sampled call, made a [`CallSample`] only when flushed.
    last: Option<Last>,
    /// The slowest calls over the threshold, at most [`SLOW_KEPT`].
    slow: Vec<CallSample>,
}

/// A service's last sampled call, in buffers that the next call overwrites: a sample
/// costs copies into memory already there, not a [`CallSample`]'s dozen allocations
/// (and their frees when the next call replaces it), on every call.
#[derive(Default)]
struct Last {
    cid: String,
    at_ms: i64,
    duration: Duration,
    channel: &'static str,
    channel_name: String,
    status: u16,
    private: bool,
    error: Option<String>,
    /// The request's first `sample_max_bytes`, and its whole length.
    request: Vec<u8>,
    request_len: usize,
    request_headers: Headers,
    response: Vec<u8>,
    response_len: usize,
    response_headers: Headers,
}

impl Last {
    fn set_call(&mut self, call: &Call<'_>, started_ms: i64) {
        self.cid.clear();
        self.cid.push_str(call.cid);
        self.at_ms = started_ms;
        self.duration = call.duration;
        self.channel = call.channel;
        self.channel_name.clear();
        self.channel_name.push_str(call.channel_name);
        self.status = call.status;
        self.private = call.policy.private;
    }

    fn set_exchange(&mut self, exchange: Exchange<'_>, limit: usize) {
        let cut = |into: &mut Vec<u8>, bytes: &[u8]| {
            into.clear();
            into.extend_from_slice(&bytes[..bytes.len().min(limit)]);
            bytes.len()
        };
        self.request_len = cut(&mut self.request, exchange.request);
        self.response_len = cut(&mut self.response, exchange.response);
        self.request_headers = exchange.request_headers.unwrap_or_default();
        self.response_headers.0.clear();
        self.response_headers.extend(
            exchange
                .response_headers
                .iter()
                .map(|(name, value)| (name.as_str(), value.as_str())),
        );
        self.error = exchange.error;
    }

    fn to_sample(&self, server: &str) -> CallSample {
        let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
        CallSample {
            cid: self.cid.clone(),
            at_ms: u64::try_from(self.at_ms).unwrap_or(0),
            duration_ms: self.duration.as_micros() as f64 / 1000.0,
            server: server.to_owned(),
            channel: self.channel.to_owned(),
            channel_name: self.channel_name.clone(),
            status: self.status,
            error: self.error.clone(),
            request: text(&self.request),
            request_truncated: self.request_len > self.request.len(),
            request_headers: self.request_headers.to_vec(),
            response: text(&self.response),
            response_truncated: self.response_len > self.response.len(),
            response_headers: self.response_headers.to_vec(),
            private: self.private,
        }
    }
}

/// This server's recorder: what calls add to, and the flusher takes.
pub struct Recorder {
    server: String,
    settings: StatsSettings,
    pending: Mutex<HashMap<Arc<str>, Pending>>,
}

impl Recorder {
    pub fn new(server: String, settings: StatsSettings) -> Self {
        Self {
            server,
            settings,
            pending: Mutex::default(),
        }
    }

    pub fn settings(&self) -> &StatsSettings {
        &self.settings
    }

    /// Whether a call of a service with `policy` may keep payloads: its exchange is
    /// then wanted by [`Recorder::record`], for the sample or the slow list.
    pub fn wants_exchange(&self, policy: Policy) -> bool {
        self.settings.samples && !policy.private
    }

    /// Whether the next call of `service` is to be its sample, so that its request
    /// headers are worth capturing: the first call since the last flush, and every call
    /// of a service that was slow since then (so that its slow calls keep their
    /// headers too). A busy service is thus sampled once per flush interval, not on
    /// every call.
    pub fn wants_sample(&self, service: &str, policy: Policy) -> bool {
        self.wants_exchange(policy)
            && self
                .pending
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(service)
                .is_none_or(|pending| pending.last.is_none() || !pending.slow.is_empty())
    }

    /// The threshold of a slow response for a call, in µs.
    fn threshold_us(&self, call: &Call<'_>) -> u64 {
        let ms = call
            .policy
            .threshold_ms
            .or((call.threshold_ms > 0).then_some(call.threshold_ms))
            .unwrap_or(self.settings.slow_threshold_ms);
        u64::from(ms) * 1000
    }

    /// Adds a call; `exchange` is its request and response when payloads may be kept
    /// (the sample when its headers were captured).
    pub fn record(&self, call: &Call<'_>, exchange: Option<Exchange<'_>>) {
        let us = u64::try_from(call.duration.as_micros()).unwrap_or(u64::MAX);
        let duration_ms = i64::try_from(call.duration.as_millis()).unwrap_or(i64::MAX);
        let started_ms = now_ms().saturating_sub(duration_ms);
        let minute = started_ms.div_euclid(60_000);
        let slow = us > self.threshold_us(call);
        let exchange = exchange.filter(|_| self.wants_exchange(call.policy));
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        let service = match pending.get_mut(call.service) {
            Some(service) => service,
            None => pending.entry(Arc::from(call.service)).or_default(),
        };
        match service.minutes.iter_mut().find(|(m, _)| *m == minute) {
            Some((_, aggregate)) => aggregate.record(us, call.outcome),
            None => {
                let mut aggregate = Aggregate::default();
                aggregate.record(us, call.outcome);
                service.minutes.push((minute, aggregate));
            }
        }
        let (sampled, exchange) = match exchange {
            Some(exchange) if exchange.request_headers.is_some() => {
                let last = service.last.get_or_insert_with(Last::default);
                last.set_call(call, started_ms);
                last.set_exchange(exchange, self.settings.sample_max_bytes);
                (true, None)
            }
            other => (false, other),
        };
        if slow {
            // Rare (over the threshold): built now, with the exchange when there is one.
            let entry = match &service.last {
                Some(last) if sampled => last.to_sample(&self.server),
                _ => {
                    let mut bare = Last::default();
                    bare.set_call(call, started_ms);
                    if let Some(exchange) = exchange {
                        bare.set_exchange(exchange, self.settings.sample_max_bytes);
                    }
                    bare.to_sample(&self.server)
                }
            };
            service.slow.push(entry);
            if service.slow.len() > SLOW_KEPT {
                // Keep the slowest: drop the fastest.
                let fastest = service
                    .slow
                    .iter()
                    .enumerate()
                    .min_by(|a, b| a.1.duration_ms.total_cmp(&b.1.duration_ms))
                    .map(|(i, _)| i);
                if let Some(i) = fastest {
                    service.slow.swap_remove(i);
                }
            }
        }
    }

    fn take(&self) -> HashMap<Arc<str>, Pending> {
        std::mem::take(&mut *self.pending.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// Writes what the recorder took, every `flush_interval_ms`, on every server.
pub struct Flusher {
    recorder: Arc<Recorder>,
    kvdb: Arc<dyn Kvdb>,
}

/// One flush's writes.
#[derive(Default)]
struct Batch {
    merges: Vec<HashMerge>,
    samples: Vec<(String, Vec<u8>)>,
    slow: Vec<(String, Vec<u8>, f64)>,
}

impl Flusher {
    pub fn new(recorder: Arc<Recorder>, kvdb: Arc<dyn Kvdb>) -> Self {
        Self { recorder, kvdb }
    }

    /// Runs until `shutdown`, then writes what is left.
    pub async fn run(self, shutdown: CancellationToken) {
        let every = Duration::from_millis(self.recorder.settings.flush_interval_ms.max(10));
        let mut waiting: Vec<Batch> = Vec::new();
        loop {
            let stopping = tokio::select! {
                _ = shutdown.cancelled() => true,
                _ = tokio::time::sleep(every) => false,
            };
            waiting.push(self.batch());
            while let Some(batch) = waiting.first() {
                match self.write(batch).await {
                    Ok(()) => {
                        waiting.remove(0);
                    }
                    Err(e) => {
                        tracing::warn!(
                            "cannot write the usage statistics to the KVDB (kept for the next try): {e}"
                        );
                        break;
                    }
                }
            }
            if waiting.len() > MAX_PENDING_BATCHES {
                let dropped = waiting.len() - MAX_PENDING_BATCHES;
                waiting.drain(..dropped);
                tracing::error!(
                    "the KVDB has refused the usage statistics for too long: {dropped} batches dropped"
                );
            }
            if stopping {
                return;
            }
        }
    }

    /// Writes what was recorded now (tests; the loop does it on its own).
    pub async fn flush(&self) -> KvdbResult<()> {
        self.write(&self.batch()).await
    }

    fn batch(&self) -> Batch {
        let settings = &self.recorder.settings;
        let keep_minutes = Duration::from_secs(settings.keep_minutes_hours.max(1) * 3600);
        let mut batch = Batch::default();
        let mut first = Vec::new();
        let mut last = Vec::new();
        for (service, pending) in self.recorder.take() {
            for (minute, aggregate) in &pending.minutes {
                batch.merges.push(aggregate.merge(
                    minute_key(*minute, &service),
                    false,
                    Some(keep_minutes),
                ));
                first.push((service.to_string(), *minute));
                last.push((service.to_string(), *minute));
            }
            if let Some(last) = pending.last {
                batch.samples.push((
                    sample_key(&service),
                    serde_json::to_vec(&last.to_sample(&self.recorder.server)).unwrap_or_default(),
                ));
            }
            for slow in pending.slow {
                let score = slow.duration_ms;
                batch.slow.push((
                    slow_key(&service),
                    serde_json::to_vec(&slow).unwrap_or_default(),
                    score,
                ));
            }
        }
        if !first.is_empty() {
            batch.merges.push(HashMerge {
                key: FIRST.to_owned(),
                min: first,
                ..HashMerge::default()
            });
            batch.merges.push(HashMerge {
                key: LAST.to_owned(),
                max: last,
                ..HashMerge::default()
            });
        }
        batch
    }

    async fn write(&self, batch: &Batch) -> KvdbResult<()> {
        if !batch.merges.is_empty() {
            self.kvdb.merge_hashes(&batch.merges).await?;
        }
        for (key, sample) in &batch.samples {
            self.kvdb.set(key, sample, Some(KEEP_SAMPLES)).await?;
        }
        for (key, entry, score) in &batch.slow {
            self.kvdb
                .rank(key, entry, *score, SLOW_KEPT, Some(KEEP_SAMPLES))
                .await?;
        }
        Ok(())
    }
}

/// Where the rollup stands: the first hour and day not rolled up yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Rolled {
    hour: i64,
    day: i64,
}

async fn rolled(kvdb: &dyn Kvdb) -> KvdbResult<Option<Rolled>> {
    let fields = kvdb
        .hashes(&[ROLLED.to_owned()])
        .await?
        .pop()
        .unwrap_or_default();
    Ok(match (fields.get("hour"), fields.get("day")) {
        (Some(hour), Some(day)) => Some(Rolled {
            hour: *hour,
            day: *day,
        }),
        _ => None,
    })
}

/// Every service with statistics: name -> (first minute, last minute).
async fn services(kvdb: &dyn Kvdb) -> KvdbResult<HashMap<String, (i64, i64)>> {
    let mut hashes = kvdb.hashes(&[FIRST.to_owned(), LAST.to_owned()]).await?;
    let last = hashes.pop().unwrap_or_default();
    let first = hashes.pop().unwrap_or_default();
    Ok(first
        .into_iter()
        .map(|(service, first)| {
            let last = last.get(&service).copied().unwrap_or(first);
            (service, (first, last))
        })
        .collect())
}

/// The singleton's rollups of minutes into hours and of hours into days.
pub struct Rollup {
    kvdb: Arc<dyn Kvdb>,
    settings: StatsSettings,
}

impl Rollup {
    pub fn new(kvdb: Arc<dyn Kvdb>, settings: StatsSettings) -> Self {
        Self { kvdb, settings }
    }

    /// Rolls up every complete hour and day not rolled up yet (at most
    /// [`ROLLUP_ROUND_MAX`] of each); answers how many hours and days it rolled.
    pub async fn round(&self, now_minute: i64) -> KvdbResult<(i64, i64)> {
        let kvdb = &*self.kvdb;
        let services = services(kvdb).await?;
        let Some(earliest) = services.values().map(|(first, _)| *first).min() else {
            return Ok((0, 0));
        };
        let marks = rolled(kvdb).await?.unwrap_or(Rolled {
            hour: earliest.div_euclid(60),
            day: earliest.div_euclid(1440),
        });
        let keep_hours = Duration::from_secs(self.settings.keep_hours_days.max(1) * 86_400);
        // Hours whose minutes can no longer change.
        let complete_hours = (now_minute - FLUSH_GRACE_MINUTES).div_euclid(60);
        let hours_end = complete_hours.min(marks.hour + ROLLUP_ROUND_MAX);
        for hour in marks.hour..hours_end {
            let merges = self
                .roll(
                    &services,
                    hour,
                    60,
                    60,
                    minute_key,
                    hour_key,
                    Some(keep_hours),
                )
                .await?;
            let mut batch = merges;
            batch.push(HashMerge {
                key: ROLLED.to_owned(),
                max: vec![("hour".to_owned(), hour + 1)],
                ..HashMerge::default()
            });
            kvdb.merge_hashes(&batch).await?;
        }
        let hours_rolled = (hours_end - marks.hour).max(0);
        let rolled_hour = marks.hour.max(hours_end);
        // Days whose every hour is rolled up.
        let complete_days = rolled_hour.div_euclid(24);
        let days_end = complete_days.min(marks.day + ROLLUP_ROUND_MAX);
        for day in marks.day..days_end {
            let mut batch = self
                .roll(&services, day, 1440, 24, hour_key, day_key, None)
                .await?;
            batch.push(HashMerge {
                key: ROLLED.to_owned(),
                max: vec![("day".to_owned(), day + 1)],
                ..HashMerge::default()
            });
            kvdb.merge_hashes(&batch).await?;
        }
        if hours_rolled == 0 && days_end <= marks.day {
            // Record the marks once, so that readers know where rolled data ends.
            kvdb.merge_hashes(&[HashMerge {
                key: ROLLED.to_owned(),
                max: vec![
                    ("hour".to_owned(), rolled_hour),
                    ("day".to_owned(), marks.day),
                ],
                ..HashMerge::default()
            }])
            .await?;
        }
        Ok((hours_rolled, (days_end - marks.day).max(0)))
    }

    /// The rewrites of unit `n` (an hour, `minutes` = 60, or a day, 1440) of every
    /// service that had calls in it, from its `parts` parts.
    #[allow(clippy::too_many_arguments)]
    async fn roll(
        &self,
        services: &HashMap<String, (i64, i64)>,
        n: i64,
        minutes: i64,
        parts: i64,
        part_key: fn(i64, &str) -> String,
        key: fn(i64, &str) -> String,
        ttl: Option<Duration>,
    ) -> KvdbResult<Vec<HashMerge>> {
        let (start, end) = (n * minutes, (n + 1) * minutes);
        let mut merges = Vec::new();
        for (service, (first, last)) in services {
            if *last < start || *first >= end {
                continue;
            }
            let keys: Vec<String> = (0..parts)
                .map(|i| part_key(n * parts + i, service))
                .collect();
            let mut aggregate = Aggregate::default();
            for fields in self.kvdb.hashes(&keys).await? {
                aggregate.add_fields(&fields);
            }
            if aggregate.count > 0 {
                merges.push(aggregate.merge(key(n, service), true, ttl));
            }
        }
        Ok(merges)
    }
}

#[async_trait]
impl SingletonTask for Rollup {
    fn name(&self) -> &'static str {
        "statistics rollup"
    }

    async fn run(self: Arc<Self>, lease: Lease) {
        let every = Duration::from_millis(self.settings.rollup_interval_ms.max(100));
        loop {
            match self.round(now_minute()).await {
                Ok((0, 0)) => {}
                Ok((hours, days)) => {
                    tracing::debug!("statistics rolled up: {hours} hours, {days} days")
                }
                Err(e) => tracing::warn!("cannot roll the statistics up (next round will): {e}"),
            }
            tokio::select! {
                _ = lease.lost() => return,
                _ = tokio::time::sleep(every) => {}
            }
        }
    }
}

/// The keys that cover the minutes `[from, to)` of `service`: days and hours where they
/// were rolled up and fit whole, minutes elsewhere.
fn plan(service: &str, from: i64, to: i64, rolled: Option<Rolled>) -> Vec<String> {
    let rolled = rolled.unwrap_or(Rolled {
        hour: i64::MIN,
        day: i64::MIN,
    });
    let mut keys = Vec::new();
    let mut t = from;
    while t < to {
        if t.rem_euclid(1440) == 0 && t + 1440 <= to && t.div_euclid(1440) < rolled.day {
            keys.push(day_key(t.div_euclid(1440), service));
            t += 1440;
        } else if t.rem_euclid(60) == 0 && t + 60 <= to && t.div_euclid(60) < rolled.hour {
            keys.push(hour_key(t.div_euclid(60), service));
            t += 60;
        } else {
            keys.push(minute_key(t, service));
            t += 1;
        }
    }
    keys
}

/// The first minute of a span of `last` minutes ending with the current one (none:
/// the whole history since `first`). Minutes older than they are kept are replaced by
/// their hour.
fn span_start(now: i64, last: Option<u64>, first: i64, settings: &StatsSettings) -> i64 {
    match last {
        None => first.div_euclid(1440) * 1440,
        Some(minutes) => {
            let from = now + 1 - i64::try_from(minutes).unwrap_or(i64::MAX / 2);
            let kept_from = now - i64::try_from(settings.keep_minutes_hours * 60).unwrap_or(0);
            if from < kept_from {
                from.div_euclid(60) * 60
            } else {
                from
            }
        }
    }
}

async fn aggregate(kvdb: &dyn Kvdb, keys: &[String]) -> KvdbResult<Aggregate> {
    let mut aggregate = Aggregate::default();
    for fields in kvdb.hashes(keys).await? {
        aggregate.add_fields(&fields);
    }
    Ok(aggregate)
}

/// A service's figures over its whole history, or the last `last` minutes; `None` when
/// nothing was ever recorded for it.
pub async fn summary(
    kvdb: &dyn Kvdb,
    settings: &StatsSettings,
    service: &str,
    last: Option<u64>,
) -> KvdbResult<Option<ServiceStats>> {
    let services = services(kvdb).await?;
    let Some((first, _)) = services.get(service) else {
        return Ok(None);
    };
    let now = now_minute();
    let from = span_start(now, last, *first, settings);
    let keys = plan(service, from, now + 1, rolled(kvdb).await?);
    Ok(Some(aggregate(kvdb, &keys).await?.to_stats(
        service,
        from,
        now + 1,
    )))
}

/// The `limit` services first by `by`, over the whole history or the last `last`
/// minutes.
pub async fn top(
    kvdb: &dyn Kvdb,
    settings: &StatsSettings,
    by: StatsOrder,
    last: Option<u64>,
    limit: usize,
) -> KvdbResult<Vec<ServiceStats>> {
    let services = services(kvdb).await?;
    let rolled = rolled(kvdb).await?;
    let now = now_minute();
    let mut all = Vec::new();
    for (service, (first, last_call)) in &services {
        let from = span_start(now, last, *first, settings);
        if *last_call < from {
            continue;
        }
        let keys = plan(service, from, now + 1, rolled);
        let stats = aggregate(kvdb, &keys)
            .await?
            .to_stats(service, from, now + 1);
        if stats.count > 0 {
            all.push(stats);
        }
    }
    let key = |s: &ServiceStats| match by {
        StatsOrder::Mean => s.mean_ms.unwrap_or(0.0),
        StatsOrder::Count => s.count as f64,
        StatsOrder::Errors => s.errors as f64,
    };
    all.sort_by(|a, b| {
        key(b)
            .total_cmp(&key(a))
            .then_with(|| a.service.cmp(&b.service))
    });
    all.truncate(limit);
    Ok(all)
}

/// A service's figures over `range`, point by point, the current minute's last.
pub async fn series(kvdb: &dyn Kvdb, service: &str, range: StatsRange) -> KvdbResult<StatsSeries> {
    let (points, step) = range.points();
    let (points, step) = (points as i64, step as i64);
    let now = now_minute();
    // Points aligned on their step, the last one holding the current minute.
    let end = (now.div_euclid(step) + 1) * step;
    let start = end - points * step;
    let rolled = rolled(kvdb).await?;
    let spans: Vec<Vec<String>> = (0..points)
        .map(|i| plan(service, start + i * step, start + (i + 1) * step, rolled))
        .collect();
    let keys: Vec<String> = spans.iter().flatten().cloned().collect();
    let mut hashes = kvdb.hashes(&keys).await?.into_iter();
    let mut out = Vec::with_capacity(spans.len());
    for (i, span) in spans.iter().enumerate() {
        let mut aggregate = Aggregate::default();
        for fields in hashes.by_ref().take(span.len()) {
            aggregate.add_fields(&fields);
        }
        out.push(StatsPoint {
            at_ms: (start + i as i64 * step) * 60_000,
            count: aggregate.count,
            errors: aggregate.errors,
            mean_ms: aggregate.mean_ms().map(|m| (m * 1000.0).round() / 1000.0),
            p50_ms: aggregate.quantile_ms(0.5),
            p95_ms: aggregate.quantile_ms(0.95),
            p99_ms: aggregate.quantile_ms(0.99),
        });
    }
    Ok(StatsSeries {
        service: service.to_owned(),
        range,
        step_s: u64::try_from(step * 60).unwrap_or(0),
        points: out,
    })
}

/// A service's last sampled call.
pub async fn sample(kvdb: &dyn Kvdb, service: &str) -> KvdbResult<Option<CallSample>> {
    Ok(kvdb
        .get(&sample_key(service))
        .await?
        .and_then(|bytes| serde_json::from_slice(&bytes).ok()))
}

/// A service's slowest calls over its threshold, slowest first.
pub async fn slow(kvdb: &dyn Kvdb, service: &str) -> KvdbResult<Vec<CallSample>> {
    Ok(kvdb
        .ranked(&slow_key(service))
        .await?
        .into_iter()
        .filter_map(|(member, _)| serde_json::from_slice(&member).ok())
        .collect())
}

#[cfg(test)]
mod tests;
