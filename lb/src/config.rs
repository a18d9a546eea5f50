//! `lb.toml`: where the load balancer listens, where its backends come from, how it
//! checks them and what it allows clients. Every field has a default but `bind`.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

/// The configuration file's name in the load balancer's directory (`ENV/lb/`).
pub const CONFIG_FILE: &str = "lb.toml";

/// The whole configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LbConfig {
    /// `HOST:PORT` to listen on (port 0: the system picks, and the load balancer writes
    /// the address to `address` beside its configuration).
    pub bind: String,
    /// How a backend is chosen for each request.
    #[serde(default)]
    pub algorithm: Algorithm,
    /// The cluster whose servers are the backends.
    #[serde(default)]
    pub cluster: Option<ClusterSource>,
    /// Backends besides the cluster's (or instead of it).
    #[serde(default)]
    pub backends: Vec<StaticBackend>,
    #[serde(default)]
    pub health: HealthSettings,
    #[serde(default)]
    pub limits: Limits,
    /// TLS on the listener: clients speak HTTPS to the load balancer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<ListenerTls>,
    /// TLS to the backends: every backend (the cluster's servers and `[[backends]]`)
    /// speaks HTTPS, its certificate verified against `ca`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend_tls: Option<BackendTlsConfig>,
}

/// The listener's certificate, read again without a restart when its files change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenerTls {
    /// PEM file of the certificate (and any intermediates), relative to `lb.toml`.
    pub cert: PathBuf,
    /// PEM file of its private key, relative to `lb.toml`.
    pub key: PathBuf,
}

/// How the backends' certificates are verified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackendTlsConfig {
    /// PEM file of the CA that signed the backends' certificates (the environment's
    /// `ca/ca.pem`), relative to `lb.toml`; only it is trusted.
    pub ca: PathBuf,
}

/// How a backend is chosen, one module each in `selection/`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Algorithm {
    /// Each backend in turn.
    #[default]
    RoundRobin,
    /// The backend with the fewest requests in flight.
    LeastConnections,
    /// Each backend in turn, as often as its weight says (smooth weighted round-robin).
    Weighted,
}

impl Algorithm {
    pub fn name(self) -> &'static str {
        match self {
            Self::RoundRobin => "round-robin",
            Self::LeastConnections => "least-connections",
            Self::Weighted => "weighted",
        }
    }
}

/// The cluster's servers, from the admin API of any live one, polled.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterSource {
    /// Admin API base URLs to ask (any one that answers gives the whole list).
    #[serde(default)]
    pub admin_urls: Vec<String>,
    /// Files holding a server's `HOST:PORT`, read again at each poll (servers that bind
    /// port 0 write theirs when they start), relative to the configuration file.
    #[serde(default)]
    pub address_files: Vec<PathBuf>,
    /// The admin credentials: a `credentials.toml` (`username`, `password`), relative
    /// to the configuration file.
    pub credentials: PathBuf,
    /// How often the server list is asked for, in ms.
    #[serde(default = "default_poll_ms")]
    pub poll_ms: u64,
}

fn default_poll_ms() -> u64 {
    1000
}

/// A backend named in the configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaticBackend {
    /// `HOST:PORT`.
    pub address: String,
    /// Its share under the `weighted` algorithm (at least 1).
    #[serde(default = "default_weight")]
    pub weight: u32,
}

fn default_weight() -> u32 {
    1
}

/// Active health checks: a GET of `path` on each backend.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HealthSettings {
    /// What is asked; a 2xx passes (a server's `/zato/ping` answers 503 while loading).
    pub path: String,
    /// How often each backend is checked, in ms.
    pub interval_ms: u64,
    /// How long a check may take, in ms.
    pub timeout_ms: u64,
    /// Checks passed in a row that put a backend (back) in rotation.
    pub rise: u32,
    /// Checks failed in a row that take it out.
    pub fall: u32,
}

impl Default for HealthSettings {
    fn default() -> Self {
        Self {
            path: "/zato/ping".into(),
            interval_ms: 1000,
            timeout_ms: 1000,
            rise: 2,
            fall: 2,
        }
    }
}

/// What a client may do, and how long backends get.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Time a client has to send a request head, in ms (then 408).
    pub header_read_timeout_ms: u64,
    /// Longest a client connection stays open with nothing in flight, in ms.
    pub idle_timeout_ms: u64,
    /// Largest request head, in bytes (then 431).
    pub max_header_bytes: usize,
    /// Most header fields in a request head (then 431). hyper's own cap is 100; another
    /// value costs a small allocation per request.
    pub max_headers: usize,
    /// Largest request body, in bytes (then 413).
    pub max_body_bytes: u64,
    /// Longest a request body may go without any of it arriving, in ms (then 408).
    pub body_read_timeout_ms: u64,
    /// Client connections open at once; past it new ones wait in the accept backlog.
    pub max_connections: u32,
    /// Time to connect to a backend, in ms (then another backend, or 502).
    pub connect_timeout_ms: u64,
    /// Time a backend has to send its response head, in ms (then 504).
    pub response_timeout_ms: u64,
    /// Other backends a failed request may be sent to.
    pub retries: u32,
    /// Retries allowed, as a percentage of requests over the last seconds (at least
    /// `retries` always): a cluster in trouble is not sent every request twice.
    pub retry_budget_percent: u32,
    /// Idempotent request bodies up to this size, in bytes, are kept to be sent again
    /// to another backend if the first gives no answer; larger ones stream through.
    pub replay_body_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_read_timeout_ms: 10_000,
            idle_timeout_ms: 75_000,
            max_header_bytes: 64 * 1024,
            max_headers: zato_api::serve::HYPER_MAX_HEADERS,
            max_body_bytes: 64 * 1024 * 1024,
            body_read_timeout_ms: 60_000,
            max_connections: 10_000,
            connect_timeout_ms: 1_000,
            response_timeout_ms: 60_000,
            retries: 2,
            retry_budget_percent: 20,
            replay_body_bytes: 64 * 1024,
        }
    }
}

/// `credentials.toml`, as `zato quickstart create` writes it.
#[derive(Debug, Clone, Deserialize)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl LbConfig {
    /// Reads and checks `path`.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the load balancer's `{}`", path.display()))?;
        let config: Self =
            toml::from_str(&text).with_context(|| format!("invalid `{}`", path.display()))?;
        config
            .check()
            .with_context(|| format!("invalid `{}`", path.display()))?;
        Ok(config)
    }

    /// Refuses what cannot work, naming the setting.
    pub fn check(&self) -> anyhow::Result<()> {
        if self.cluster.is_none() && self.backends.is_empty() {
            anyhow::bail!("no backends: give a [cluster] or [[backends]]");
        }
        for backend in &self.backends {
            if backend.weight == 0 {
                anyhow::bail!("backend `{}`: weight must be at least 1", backend.address);
            }
            if !backend.address.contains(':') {
                anyhow::bail!(
                    "backend `{}`: the address must be HOST:PORT",
                    backend.address
                );
            }
        }
        if let Some(cluster) = &self.cluster
            && cluster.admin_urls.is_empty()
            && cluster.address_files.is_empty()
        {
            anyhow::bail!("[cluster] needs admin_urls or address_files to find the cluster");
        }
        if self.health.rise == 0 || self.health.fall == 0 {
            anyhow::bail!("[health] rise and fall must be at least 1");
        }
        if self.health.interval_ms == 0 || self.health.timeout_ms == 0 {
            anyhow::bail!("[health] interval_ms and timeout_ms must be at least 1");
        }
        if self.limits.max_headers == 0 {
            anyhow::bail!("[limits] max_headers must be at least 1 (a request names its Host)");
        }
        if !self.health.path.starts_with('/') {
            anyhow::bail!("[health] path must start with /");
        }
        Ok(())
    }

    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("the configuration serializes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minimal_file_takes_the_defaults_and_mistakes_are_named() {
        let config: LbConfig =
            toml::from_str("bind = \"127.0.0.1:0\"\n[[backends]]\naddress = \"127.0.0.1:1\"\n")
                .unwrap();
        config.check().unwrap();
        assert_eq!(config.algorithm, Algorithm::RoundRobin);
        assert_eq!(config.health.path, "/zato/ping");
        assert_eq!((config.health.rise, config.health.fall), (2, 2));
        let again: LbConfig = toml::from_str(&config.to_toml()).unwrap();
        assert_eq!(again.backends[0].address, "127.0.0.1:1");

        let none: LbConfig = toml::from_str("bind = \"127.0.0.1:0\"").unwrap();
        assert!(
            none.check()
                .unwrap_err()
                .to_string()
                .contains("no backends")
        );
        let typo = toml::from_str::<LbConfig>("bind = \"x\"\nalgoritm = \"weighted\"");
        assert!(typo.unwrap_err().to_string().contains("algoritm"));
        let weight: LbConfig =
            toml::from_str("bind = \"127.0.0.1:0\"\n[[backends]]\naddress = \"h:1\"\nweight = 0\n")
                .unwrap();
        assert!(weight.check().unwrap_err().to_string().contains("weight"));
        let mut no_headers = config.clone();
        no_headers.limits.max_headers = 0;
        let refusal = no_headers.check().unwrap_err().to_string();
        assert!(refusal.contains("max_headers"), "{refusal}");
    }
}
