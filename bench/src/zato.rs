//! zato as a user runs it: an environment made by `zato quickstart create`, servers
//! started with `zato start`, each in a process of its own, and the admin API.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use reqwest::StatusCode;
use serde::Deserialize;
use zato_api::{AdminClient, DataFormat, DeployOutcome, HttpChannel};

use crate::process::{self, Proc};

/// How long a server may take to listen: generous, as under callgrind it starts tens of
/// times slower.
const LISTEN_LIMIT: Duration = Duration::from_secs(300);

/// An environment directory and how to reach its servers.
pub struct Env {
    pub dir: PathBuf,
    zato: PathBuf,
    servers: u16,
    user: String,
    password: String,
}

/// What the environment needs besides its directory.
pub struct EnvOptions<'a> {
    pub servers: u16,
    pub cluster: &'a str,
    pub redis: Option<&'a str>,
    pub odb: Option<&'a str>,
}

impl<'a> EnvOptions<'a> {
    /// One server on the embedded defaults (SQLite, the in-memory broker).
    pub fn one_server(cluster: &'a str) -> Self {
        Self {
            servers: 1,
            cluster,
            redis: None,
            odb: None,
        }
    }
}

#[derive(Deserialize)]
struct Credentials {
    username: String,
    password: String,
}

impl Env {
    /// `zato quickstart create DIR --base-port 0`: each server binds a port the system
    /// picks and writes it to `DIR/serverN/address` (see [`Env::base`]).
    pub fn create(zato: &Path, dir: &Path, options: &EnvOptions<'_>) -> anyhow::Result<Self> {
        let mut cmd = process::command(zato, None);
        cmd.args(["--json", "quickstart", "create"])
            .arg(dir)
            .args(["--base-port", "0"])
            .args(["--servers", &options.servers.to_string()])
            .args(["--cluster", options.cluster]);
        if let Some(redis) = options.redis {
            cmd.args(["--redis", redis]);
        }
        if let Some(odb) = options.odb {
            cmd.args(["--odb", odb]);
        }
        process::run("zato quickstart create", &mut cmd)?;
        let path = dir.join("credentials.toml");
        let credentials: Credentials = toml::from_str(
            &std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read `{}`", path.display()))?,
        )?;
        Ok(Self {
            dir: dir.to_path_buf(),
            zato: zato.to_path_buf(),
            servers: options.servers,
            user: credentials.username,
            password: credentials.password,
        })
    }

    /// Starts server `i` (0-based) as `zato start DIR/serverN`, pinned to `cpu` if given.
    pub fn start(&self, i: u16, cpu: Option<usize>, logs: &Path) -> anyhow::Result<Proc> {
        self.start_under(i, cpu, logs, &[])
    }

    /// As [`Env::start`], with `zato` run by `wrapper` (a program and its arguments, such
    /// as valgrind's) when it is not empty.
    pub fn start_under(
        &self,
        i: u16,
        cpu: Option<usize>,
        logs: &Path,
        wrapper: &[OsString],
    ) -> anyhow::Result<Proc> {
        let mut cmd = process::command_under(wrapper, &self.zato, cpu);
        cmd.arg("start")
            .arg(self.dir.join(format!("server{}", i + 1)));
        let label = self
            .dir
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        // A server killed rather than stopped leaves its address behind.
        let address = self.address_file(i);
        match std::fs::remove_file(&address) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(e).with_context(|| format!("cannot remove `{}`", address.display()));
            }
            _ => {}
        }
        let mut proc = Proc::spawn(&format!("zato-{label}-server{}", i + 1), cmd, logs, false)?;
        // The server writes its address once it listens, before it loads its services;
        // a start timed from before this call still counts the time until it listens.
        let started = Instant::now();
        while !address.exists() {
            proc.check_running()?;
            if started.elapsed() > LISTEN_LIMIT {
                bail!(
                    "{} did not write `{}` within {LISTEN_LIMIT:?}{}",
                    proc.name(),
                    address.display(),
                    proc.log_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(proc)
    }

    /// `http://ADDRESS` of server `i`, which [`Env::start`] started.
    pub fn base(&self, i: u16) -> String {
        assert!(i < self.servers, "server {i} is not in the environment");
        let path = self.address_file(i);
        let address = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "server {i} is not running: cannot read `{}`: {e}",
                path.display()
            )
        });
        format!("http://{}", address.trim())
    }

    /// Where server `i` writes the address it listens on (it binds port 0).
    fn address_file(&self, i: u16) -> PathBuf {
        self.dir.join(format!("server{}/address", i + 1))
    }

    /// The admin API of server `i`.
    pub fn admin(&self, i: u16) -> Admin {
        Admin {
            api: AdminClient::with_client(client(), self.base(i), &self.user, &self.password),
        }
    }

    /// Sets `key` in the table at `table` (such as `["admin", "login"]`, created when
    /// missing) of server `i`'s `server.toml`; takes effect at its next start.
    pub fn set_config(
        &self,
        i: u16,
        table: &[&str],
        key: &str,
        value: toml::Value,
    ) -> anyhow::Result<()> {
        let path = self.dir.join(format!("server{}/server.toml", i + 1));
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read `{}`", path.display()))?;
        let mut config: toml::Table = text
            .parse()
            .with_context(|| format!("invalid `{}`", path.display()))?;
        let mut at = &mut config;
        for name in table {
            at = at
                .entry(*name)
                .or_insert_with(|| toml::Value::Table(toml::Table::new()))
                .as_table_mut()
                .with_context(|| format!("`{name}` in `{}` is not a table", path.display()))?;
        }
        at.insert(key.to_owned(), value);
        std::fs::write(&path, toml::to_string(&config)?)
            .with_context(|| format!("cannot write `{}`", path.display()))
    }

    /// The environment's admin user and password.
    pub fn credentials(&self) -> (&str, &str) {
        (&self.user, &self.password)
    }

    /// Where server `i` keeps its compiled artifacts.
    pub fn cache_dir(&self, i: u16) -> PathBuf {
        self.dir.join(format!("server{}/data/cache", i + 1))
    }
}

/// A client for the benchmark's own requests: no proxy, no pooling surprises.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(300))
        .build()
        .expect("a plain HTTP client builds")
}

/// The admin API of one server, as the scenarios use it.
pub struct Admin {
    api: AdminClient,
}

impl Admin {
    /// Deploys `bytes`; returns once this server runs the new version.
    pub async fn deploy(&self, bytes: Vec<u8>, source: &str) -> anyhow::Result<DeployOutcome> {
        self.api
            .deploy(bytes, source)
            .await
            .with_context(|| format!("deploy of `{source}` to {} refused", self.api.base()))
    }

    /// Creates an HTTP channel from `path` to `service`.
    pub async fn channel(&self, name: &str, path: &str, service: &str) -> anyhow::Result<()> {
        self.guarded_channel(name, path, service, None).await
    }

    /// Creates an HTTP channel from `path` to `service` guarded by the security
    /// definition `security`, if any.
    pub async fn guarded_channel(
        &self,
        name: &str,
        path: &str,
        service: &str,
        security: Option<&str>,
    ) -> anyhow::Result<()> {
        let channel = HttpChannel {
            name: name.into(),
            path: path.into(),
            methods: Vec::new(),
            service: service.into(),
            data_format: DataFormat::Json,
            timeout_ms: 0,
            security: security.map(str::to_owned),
        };
        self.api
            .create_http_channel(&channel)
            .await
            .with_context(|| format!("channel `{name}` refused"))?;
        Ok(())
    }

    /// Creates a security definition.
    /// Creates the rate-limit definition `name` of `rules` and attaches it to the HTTP
    /// channel `channel`.
    pub async fn rate_limit(
        &self,
        name: &str,
        rules: &[&str],
        exact: bool,
        channel: &str,
    ) -> anyhow::Result<()> {
        let def = zato_api::rate_limit::RateLimit {
            name: name.into(),
            rules: rules.iter().map(|r| (*r).to_owned()).collect(),
            exact,
        };
        self.api
            .create_rate_limit(&def)
            .await
            .with_context(|| format!("rate-limit definition `{name}` refused"))?;
        self.api
            .attach_rate_limit(
                zato_api::rate_limit::LimitedKind::HttpChannel,
                channel,
                Some(name),
            )
            .await
            .with_context(|| format!("rate limit `{name}` not attached to `{channel}`"))?;
        Ok(())
    }

    pub async fn security(&self, def: &zato_api::SecurityDef) -> anyhow::Result<()> {
        self.api
            .create_security_def(def)
            .await
            .with_context(|| format!("security definition `{}` refused", def.name))?;
        Ok(())
    }

    /// Replaces the configuration of `service` (a JSON object of strings).
    pub async fn config(&self, service: &str, config: &serde_json::Value) -> anyhow::Result<()> {
        let config: BTreeMap<String, String> = serde_json::from_value(config.clone())
            .with_context(|| {
                format!("the configuration of `{service}` is not strings: {config}")
            })?;
        self.api
            .set_config(service, &config)
            .await
            .with_context(|| format!("configuration of `{service}` refused"))?;
        Ok(())
    }

    /// The server's status, as JSON for the scenarios to pick the counters they report;
    /// the first call also pays for argon2 once, so timed calls after it do not.
    pub async fn status(&self) -> anyhow::Result<serde_json::Value> {
        let status = self
            .api
            .server_status()
            .await
            .with_context(|| format!("admin API of {}", self.api.base()))?;
        Ok(serde_json::to_value(status)?)
    }
}

/// Waits until `url` answers with any status (a starting zato server answers 503).
pub async fn wait_listening(
    url: &str,
    proc: &mut Proc,
    limit: Duration,
) -> anyhow::Result<Duration> {
    poll(url, proc, limit, |_| true).await
}

/// Waits until `url` answers 200, failing early if `proc` exits; returns the wait.
pub async fn wait_for(url: &str, proc: &mut Proc, limit: Duration) -> anyhow::Result<Duration> {
    poll(url, proc, limit, |status| status == StatusCode::OK).await
}

/// Polls `url` until its status satisfies `done`, failing early if `proc` exits.
async fn poll(
    url: &str,
    proc: &mut Proc,
    limit: Duration,
    done: impl Fn(StatusCode) -> bool,
) -> anyhow::Result<Duration> {
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(5))
        .build()?;
    let started = Instant::now();
    loop {
        if let Ok(response) = http.get(url).send().await
            && done(response.status())
        {
            return Ok(started.elapsed());
        }
        proc.check_running()?;
        if started.elapsed() > limit {
            bail!(
                "{} did not answer {url} within {limit:?}{}",
                proc.name(),
                proc.log_tail()
            );
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_setting_is_written_into_its_table_and_the_rest_kept() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("server1")).unwrap();
        let path = dir.path().join("server1/server.toml");
        std::fs::write(
            &path,
            "name = \"server1\"\n[admin]\nusername = \"admin\"\n\n[admin.login]\nmax_failures = 5\nwindow_s = 60\n",
        )
        .unwrap();
        let env = Env {
            dir: dir.path().to_path_buf(),
            zato: PathBuf::from("zato"),
            servers: 1,
            user: "admin".into(),
            password: String::new(),
        };
        env.set_config(
            0,
            &["admin", "login"],
            "max_failures",
            toml::Value::Integer(1_000_000),
        )
        .unwrap();
        env.set_config(0, &["http"], "max_connections", toml::Value::Integer(7))
            .unwrap();
        let config: toml::Table = std::fs::read_to_string(&path).unwrap().parse().unwrap();
        assert_eq!(config["name"].as_str(), Some("server1"));
        assert_eq!(config["admin"]["username"].as_str(), Some("admin"));
        assert_eq!(
            config["admin"]["login"]["max_failures"].as_integer(),
            Some(1_000_000)
        );
        assert_eq!(config["admin"]["login"]["window_s"].as_integer(), Some(60));
        assert_eq!(config["http"]["max_connections"].as_integer(), Some(7));
    }
}
