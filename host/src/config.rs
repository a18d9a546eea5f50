//! The server's configuration file (`server.toml`), typed.
//!
//! Every field is documented here: this is the reference. Relative paths are resolved
//! against the directory of the file. `ZATO_*` environment variables override a few
//! values where containers need it (see [`ServerConfig::apply_env`]).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Zato's first server port.
pub const DEFAULT_PORT: u16 = 17010;
pub const DEFAULT_TIMEOUT_MS: u64 = 30_000;
pub const DEFAULT_MEMORY_LIMIT_MIB: usize = 64;
pub const DEFAULT_MAX_COMPONENT_BYTES: usize = 64 * 1024 * 1024;

/// One server's configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Name of this server, unique in its cluster.
    pub name: String,
    /// Name of the cluster this server belongs to.
    #[serde(default = "default_cluster")]
    pub cluster: String,
    /// Address the HTTP listener binds to (channels, `/zato/ping`, admin API).
    #[serde(default = "default_bind")]
    pub bind: String,
    /// Directory watched for `.wasm` files to hot-deploy; none when absent.
    #[serde(default)]
    pub pickup_dir: Option<PathBuf>,
    /// Directory for the artifact cache and other local state.
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// Operational database URL: `sqlite://path/to/odb.sqlite` (created when missing).
    pub odb: String,
    /// Key/value store and broker: `memory` (a single server only) or
    /// `redis://host:port[/db]`, shared by every server of the cluster; the cluster's
    /// name prefixes its keys and channels, so clusters can share one Redis.
    #[serde(default = "default_kvdb")]
    pub kvdb: String,
    /// Admin API credentials.
    pub admin: AdminConfig,
    #[serde(default)]
    pub runtime: RuntimeSettings,
    #[serde(default)]
    pub http: HttpSettings,
    #[serde(default)]
    pub deploy: DeploySettings,
    #[serde(default)]
    pub membership: MembershipSettings,
    #[serde(default)]
    pub scheduler: SchedulerSettings,
    #[serde(default)]
    pub async_invoke: AsyncInvokeSettings,
    #[serde(default)]
    pub stats: StatsSettings,
    /// Traces exported with OpenTelemetry (`telemetry.rs`).
    #[serde(default)]
    pub telemetry: crate::telemetry::TelemetrySettings,
    /// TLS on the HTTP listener (channels, `/zato/ping`, the admin API); plain HTTP,
    /// for development, when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsSettings>,
}

/// The listener's certificate, read again without a restart when its files change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSettings {
    /// PEM file of the certificate (and any intermediates), relative to this file.
    pub cert: PathBuf,
    /// PEM file of its private key, relative to this file.
    pub key: PathBuf,
}

/// Usage statistics, sample calls and slow responses (`stats.rs`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StatsSettings {
    /// Whether calls are recorded at all.
    pub enabled: bool,
    /// How often this server writes what it recorded to the KVDB, in ms: the figures
    /// that `zato stats` shows are at most this late.
    pub flush_interval_ms: u64,
    /// How often the singleton rolls complete hours and days up, in ms.
    pub rollup_interval_ms: u64,
    /// How long per-minute aggregates are kept, in hours (hours are kept
    /// `keep_hours_days`, days for good).
    pub keep_minutes_hours: u64,
    /// How long per-hour aggregates are kept, in days.
    pub keep_hours_days: u64,
    /// The threshold of a slow response, in ms, for a service whose `info()` says 0 and
    /// whose configuration does not set `zato.stats.slow_threshold_ms`.
    pub slow_threshold_ms: u32,
    /// Whether each service's last call (and its slow calls' payloads) are kept; a
    /// service's configuration can turn them off for itself (`zato.stats.samples =
    /// off`).
    pub samples: bool,
    /// How much of a request's or response's payload a sample keeps, in bytes.
    pub sample_max_bytes: usize,
}

impl Default for StatsSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            flush_interval_ms: 1_000,
            rollup_interval_ms: 60_000,
            keep_minutes_hours: 48,
            keep_hours_days: 90,
            slow_threshold_ms: 1_000,
            samples: true,
            sample_max_bytes: 4_096,
        }
    }
}

/// Asynchronous invokes: the worker every server runs on the cluster's work queue.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AsyncInvokeSettings {
    /// How many queued calls this server runs at once.
    pub workers: usize,
    /// How long a call taken by a server stays its own without a sign of life, in ms:
    /// the server touches it every third of this while the call runs, so when a server
    /// dies, another takes its calls over this long after its last touch.
    pub visibility_ms: u64,
    /// A call taken this many times without ending (each server running it died) is
    /// given up: its outcome is `failed` and an error is logged.
    pub max_deliveries: u32,
    /// How long the outcome of a call is kept (`GET /zato/api/async/{cid}`), in s.
    pub keep_outcomes_s: u64,
}

impl Default for AsyncInvokeSettings {
    fn default() -> Self {
        Self {
            workers: 16,
            visibility_ms: 30_000,
            max_deliveries: 5,
            keep_outcomes_s: 3_600,
        }
    }
}

/// The singleton's lease and the scheduler it runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SchedulerSettings {
    /// Whether this server may become the singleton (and so run the scheduler). Every
    /// server runs the firings the singleton queues, whatever this says.
    pub singleton: bool,
    /// How often the singleton renews its lease, in ms.
    pub renew_ms: u64,
    /// How long a lease lasts unless renewed, in ms of the ODB's clock: a singleton
    /// that dies is replaced within this time.
    pub lease_ms: u64,
    /// How far ahead the singleton records and queues firings, in ms: each waits on the
    /// server that took it until its time, so the queue's latency never delays it.
    pub lookahead_ms: u64,
    /// How often the singleton looks for firings to plan, in ms.
    pub tick_ms: u64,
    /// Recorded firings are deleted this long after they were planned, in hours.
    pub keep_runs_hours: u64,
}

impl Default for SchedulerSettings {
    fn default() -> Self {
        Self {
            singleton: true,
            renew_ms: 2_000,
            lease_ms: 6_000,
            lookahead_ms: 1_000,
            tick_ms: 100,
            keep_runs_hours: 24,
        }
    }
}

/// How servers of a cluster see each other.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MembershipSettings {
    /// How often a server renews its `last seen` time in the ODB, in ms.
    pub heartbeat_ms: u64,
    /// A running server not seen for this long is reported as gone (it died), in ms.
    pub dead_after_ms: u64,
}

impl Default for MembershipSettings {
    fn default() -> Self {
        Self {
            heartbeat_ms: 2_000,
            dead_after_ms: 10_000,
        }
    }
}

/// Who may use the admin API.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminConfig {
    pub username: String,
    /// Argon2id PHC string of the password (`zato quickstart create` writes it).
    pub password_hash: String,
    /// How failed logins are limited.
    #[serde(default)]
    pub login: LoginSettings,
}

/// Failed admin logins: past `max_failures` from one client address in a window of
/// `window_s` seconds, the address's logins are refused with 429 until the window
/// ends; past `max_user_failures` for one user (from any address), that user is locked
/// out until the window ends (but for credentials verified before). 0 turns a limit off.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct LoginSettings {
    pub max_failures: u32,
    pub window_s: u64,
    /// Higher than `max_failures` by default: a user's lockout is one a guesser can
    /// cause from anywhere.
    pub max_user_failures: u32,
}

impl Default for LoginSettings {
    fn default() -> Self {
        Self {
            max_failures: 5,
            window_s: 60,
            max_user_failures: 10,
        }
    }
}

/// Sandbox limits and engine settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RuntimeSettings {
    /// Linear memory one instance may grow to, in MiB.
    pub memory_limit_mib: usize,
    /// Table elements one instance may have.
    pub table_elements_limit: usize,
    /// WebAssembly stack one call may use, in bytes.
    pub max_wasm_stack_bytes: usize,
    /// Default time a request may take (host calls included), in ms.
    pub default_timeout_ms: u64,
    /// Largest `.wasm` accepted, in bytes.
    pub max_component_bytes: usize,
    /// Longest a compilation may take, in ms.
    pub compile_timeout_ms: u64,
    /// Use the pooling allocator when the machine allows it.
    pub pooling: bool,
    /// Instances that may exist at once (pooling allocator slots).
    pub max_instances: u32,
    /// How deep `invoke` chains may go before they fail.
    pub invoke_depth_limit: u32,
    /// How often the engine's epoch advances (timeouts and fairness), in ms.
    pub epoch_tick_ms: u64,
    /// Where compiled artifacts are cached; `data_dir/cache` when absent.
    pub cache_dir: Option<PathBuf>,
    /// Idle warm instances kept per service that opted in to instance reuse
    /// (service configuration `zato.instance_reuse = N`).
    pub warm_pool_max: usize,
}

impl Default for RuntimeSettings {
    fn default() -> Self {
        Self {
            memory_limit_mib: DEFAULT_MEMORY_LIMIT_MIB,
            table_elements_limit: 100_000,
            max_wasm_stack_bytes: 512 * 1024,
            default_timeout_ms: DEFAULT_TIMEOUT_MS,
            max_component_bytes: DEFAULT_MAX_COMPONENT_BYTES,
            compile_timeout_ms: 120_000,
            pooling: true,
            max_instances: 1000,
            invoke_depth_limit: 16,
            epoch_tick_ms: 10,
            cache_dir: None,
            warm_pool_max: 64,
        }
    }
}

impl RuntimeSettings {
    pub fn memory_limit_bytes(&self) -> usize {
        self.memory_limit_mib * 1024 * 1024
    }
    pub fn default_timeout(&self) -> Duration {
        Duration::from_millis(self.default_timeout_ms)
    }
    pub fn compile_timeout(&self) -> Duration {
        Duration::from_millis(self.compile_timeout_ms)
    }
    /// `info()` is read at deploy time and must be quick.
    pub fn info_timeout(&self) -> Duration {
        Duration::from_secs(5)
    }
    pub fn epoch_tick(&self) -> Duration {
        Duration::from_millis(self.epoch_tick_ms.max(1))
    }
}

/// Largest request body a channel accepts by default: 10 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 10 * 1024 * 1024;
/// Largest request head by default: 64 KiB, far above what browsers and HTTP clients send.
pub const DEFAULT_MAX_HEADER_BYTES: usize = 64 * 1024;
/// Time to send a request head by default: 10 s.
pub const DEFAULT_HEADER_READ_TIMEOUT_MS: u64 = 10_000;
/// How long an idle connection is kept by default: 75 s, nginx's `keepalive_timeout`.
/// It is longer than the 60 s idle timeout of common load balancers (AWS, GCP), so a
/// balancer closes the connections it pools before the server does; a server that
/// closed first could close one the balancer is just reusing, failing that request.
pub const DEFAULT_IDLE_TIMEOUT_MS: u64 = 75_000;
/// How long a request body may stall by default: 60 s, nginx's `client_body_timeout`,
/// which also counts the time between two reads rather than the whole upload, so a
/// large body on a slow link is not cut off while it keeps arriving.
pub const DEFAULT_BODY_READ_TIMEOUT_MS: u64 = 60_000;
/// Connections open at once by default. Each holds a file descriptor and a little
/// memory, and each request runs in a sandbox (`runtime.max_instances`, 1,000 by
/// default), so 10,000 leaves room for many idle keep-alive clients while staying well
/// under the descriptor limit services usually get (systemd and containers: 524,288 or
/// more), with room to spare for the ODB, the KVDB and the artifact cache.
pub const DEFAULT_MAX_CONNECTIONS: u32 = 10_000;
/// How long a starting server retries an address in use by default: 5 s, a few times
/// what a predecessor needs to close its listener once asked to stop.
pub const DEFAULT_BIND_RETRY_MS: u64 = 5_000;

/// Limits of the HTTP listener.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpSettings {
    /// Largest request body a channel accepts, in bytes; a larger one gets 413.
    pub max_body_bytes: usize,
    /// Largest request head (request line and headers), in bytes.
    pub max_header_bytes: usize,
    /// Time a client has to send its request head, in ms. Over HTTP/1.1 this timer also
    /// runs while a keep-alive connection waits for its next request, so such a
    /// connection is closed after the shorter of this and `idle_timeout_ms`.
    pub header_read_timeout_ms: u64,
    /// Longest a connection stays open with no request in flight and nothing received
    /// or sent, in ms: a client that connects and sends nothing, an HTTP/2 connection
    /// between requests, and a client that stops reading its response are closed then.
    pub idle_timeout_ms: u64,
    /// Longest a request body may go without any of it arriving, in ms; a body that
    /// stalls (fewer bytes than announced, a chunk that never ends) gets 408.
    pub body_read_timeout_ms: u64,
    /// Connections open at once (at least 1). Past it, new connections wait in the
    /// operating system's accept backlog until one closes, and the server logs once
    /// that it reached the limit.
    pub max_connections: u32,
    /// How long a starting server keeps trying to bind `bind` while another process
    /// still holds it (a predecessor that has not closed yet), in ms; each try is logged.
    pub bind_retry_ms: u64,
    /// Whether `GET /metrics` answers the server's Prometheus metrics (without
    /// credentials, as Prometheus scrapes); off, it answers 404. No channel may take
    /// the path either way.
    pub metrics: bool,
    /// Networks of the proxies whose `X-Forwarded-For` tells the client's address (the
    /// cluster's load balancer): CIDRs such as `127.0.0.1/32` or `10.0.0.0/8`. A
    /// request from elsewhere is the address it came from, whatever it says. Rate
    /// limits and allow lists count by that address.
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_header_bytes: DEFAULT_MAX_HEADER_BYTES,
            header_read_timeout_ms: DEFAULT_HEADER_READ_TIMEOUT_MS,
            idle_timeout_ms: DEFAULT_IDLE_TIMEOUT_MS,
            body_read_timeout_ms: DEFAULT_BODY_READ_TIMEOUT_MS,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            bind_retry_ms: DEFAULT_BIND_RETRY_MS,
            metrics: true,
            trusted_proxies: Vec::new(),
        }
    }
}

/// Hot-deploy behaviour.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeploySettings {
    /// How often each server reconciles what it runs with the ODB, in ms.
    pub reconcile_interval_ms: u64,
    /// How long the pickup watcher waits for a file to stop changing, in ms.
    pub pickup_debounce_ms: u64,
    /// Delete picked-up files once deployed (they live on in the ODB).
    pub pickup_delete_deployed: bool,
    /// Give each newly deployed service that has no HTTP channel one at `/` + its name
    /// with dots as slashes (`demo.hello` -> `/demo/hello`). On in the development
    /// environment of `zato start`, off otherwise.
    pub auto_http_channels: bool,
    /// How many versions of each service the ODB keeps (the newest ones; the latest and
    /// any version a server runs are kept whatever this says). Older ones go, with
    /// their bytes, after each deploy; `zato service rollback` can go back to a kept
    /// one.
    pub keep_versions: usize,
}

/// See [`DeploySettings::keep_versions`].
pub const DEFAULT_KEEP_VERSIONS: usize = 10;

impl Default for DeploySettings {
    fn default() -> Self {
        Self {
            reconcile_interval_ms: 5_000,
            pickup_debounce_ms: 100,
            pickup_delete_deployed: true,
            auto_http_channels: false,
            keep_versions: DEFAULT_KEEP_VERSIONS,
        }
    }
}

fn default_cluster() -> String {
    "zato".into()
}
fn default_bind() -> String {
    format!("127.0.0.1:{DEFAULT_PORT}")
}
fn default_data_dir() -> PathBuf {
    PathBuf::from("data")
}
fn default_kvdb() -> String {
    "memory".into()
}

impl ServerConfig {
    /// Reads `path`, resolves relative paths against its directory and applies `ZATO_*`
    /// overrides.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        use anyhow::Context as _;
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read server config `{}`", path.display()))?;
        let mut config: ServerConfig = toml::from_str(&text)
            .with_context(|| format!("invalid server config `{}`", path.display()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        config.resolve_paths(base);
        config.apply_env();
        config
            .telemetry
            .check()
            .map_err(|e| anyhow::anyhow!("invalid server config `{}`: {e}", path.display()))?;
        Ok(config)
    }

    /// Makes relative paths absolute against `base` (the config file's directory).
    pub fn resolve_paths(&mut self, base: &Path) {
        let abs = |p: &Path| {
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                base.join(p)
            }
        };
        self.data_dir = abs(&self.data_dir);
        self.pickup_dir = self.pickup_dir.as_deref().map(abs);
        if let Some(tls) = &mut self.tls {
            tls.cert = abs(&tls.cert);
            tls.key = abs(&tls.key);
        }
        self.runtime.cache_dir = Some(match &self.runtime.cache_dir {
            Some(dir) => abs(dir),
            None => self.data_dir.join("cache"),
        });
        if let Some(rest) = self.odb.strip_prefix("sqlite://")
            && !rest.starts_with('/')
            && !rest.starts_with(':')
        {
            self.odb = format!("sqlite://{}", base.join(rest).display());
        }
    }

    /// `ZATO_BIND`, `ZATO_ODB`, `ZATO_KVDB` and `ZATO_PICKUP_DIR` override the file.
    pub fn apply_env(&mut self) {
        if let Ok(v) = std::env::var("ZATO_BIND") {
            self.bind = v;
        }
        if let Ok(v) = std::env::var("ZATO_ODB") {
            self.odb = v;
        }
        if let Ok(v) = std::env::var("ZATO_KVDB") {
            self.kvdb = v;
        }
        if let Ok(v) = std::env::var("ZATO_PICKUP_DIR") {
            self.pickup_dir = Some(PathBuf::from(v));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimal_file_gets_defaults_and_absolute_paths() {
        let text = r#"
            name = "server1"
            odb = "sqlite://data/odb.sqlite"
            pickup_dir = "../pickup"
            [admin]
            username = "admin"
            password_hash = "x"
        "#;
        let mut config: ServerConfig = toml::from_str(text).unwrap();
        config.resolve_paths(Path::new("/env/server1"));
        assert_eq!(config.bind, "127.0.0.1:17010");
        assert_eq!(config.odb, "sqlite:///env/server1/data/odb.sqlite");
        assert_eq!(
            config.pickup_dir.unwrap(),
            Path::new("/env/server1/../pickup")
        );
        assert_eq!(
            config.runtime.cache_dir.unwrap(),
            Path::new("/env/server1/data/cache")
        );
        assert_eq!(config.runtime.memory_limit_mib, DEFAULT_MEMORY_LIMIT_MIB);
    }

    #[test]
    fn unknown_fields_are_refused() {
        let text = "name = \"s\"\nodb = \"x\"\nbogus = 1\n[admin]\nusername = \"a\"\npassword_hash = \"h\"\n";
        let err = toml::from_str::<ServerConfig>(text)
            .unwrap_err()
            .to_string();
        assert!(err.contains("bogus"), "{err}");
    }
}
