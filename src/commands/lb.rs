//! `zato lb`: the load balancer in front of an environment's servers (`zato-lb`).
//!
//! `zato lb start DIR` runs one in the foreground (`zato start ENV` runs the
//! environment's by itself); `status` and `drain` talk to a running one over HTTP
//! (`/zato-lb-stats`, `/zato-lb-drain`), never through a server.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use clap::{Args, Subcommand};
use zato_api::lb::{BackendState, BackendStats, LbStats};
use zato_lb::{CONFIG_FILE, Lb as RunningLb, LbConfig};

use crate::env;
use crate::exit::{CliError, CliResult, ExitCode};
use crate::output::{Output, table};

/// The load balancer: run one, show its backends, drain a server.
///
/// An environment made by `zato quickstart create` has one in DIR/lb (its lb.toml says
/// where it listens: --lb-port, 11223 by default), and `zato start DIR` runs it with the
/// servers. Clients then talk to it only.
#[derive(Debug, Args)]
pub struct Lb {
    #[command(subcommand)]
    command: LbCommand,
}

#[derive(Debug, Subcommand)]
enum LbCommand {
    /// Run a load balancer in the foreground until SIGINT or SIGTERM (requests in
    /// flight finish).
    ///
    /// DIR holds its lb.toml (an environment's is DIR/lb; an environment's directory
    /// names it too). `zato start ENV` runs the environment's by itself: this is for
    /// running it alone, e.g. on another host.
    Start(StartLb),
    /// Show the load balancer's backends: state (up, down, draining), weight, requests
    /// in flight and answered, errors, retries, latency, last health check.
    ///
    /// Exit code 3 when the load balancer does not answer.
    Status(Status),
    /// Drain a server: the load balancer sends it no new requests while those in flight
    /// finish (then it can be stopped or upgraded); --undo puts it back in rotation.
    Drain(Drain),
}

#[derive(Debug, Args)]
struct StartLb {
    /// The load balancer's directory (holding lb.toml), or an environment's.
    dir: PathBuf,
    /// Take over from the load balancer running on the same address: listen beside
    /// it, then ask it to stop; it lets its requests in flight finish. A restart (an
    /// upgrade, a new lb.toml) that refuses no connection. Without it, a load balancer
    /// answering on the address already is an error.
    #[arg(long)]
    replace: bool,
    #[command(flatten)]
    log: super::start::LogArgs,
}

/// Which load balancer to talk to.
#[derive(Debug, Args)]
struct Where {
    /// Environment directory (same as DIR), or the load balancer's own directory.
    #[arg(long, env = "ZATO_ENV", value_name = "DIR")]
    env: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct Status {
    /// Environment directory (made by `zato quickstart create`), or the load balancer's
    /// own directory (holding lb.toml).
    dir: Option<PathBuf>,
    #[command(flatten)]
    at: Where,
}

#[derive(Debug, Args)]
struct Drain {
    /// The server to drain: its name (server2) or address (127.0.0.1:17011), as
    /// `zato lb status` shows it.
    server: String,
    /// Environment directory (made by `zato quickstart create`), or the load balancer's
    /// own directory (holding lb.toml).
    dir: Option<PathBuf>,
    /// Put the server back in rotation instead.
    #[arg(long)]
    undo: bool,
    #[command(flatten)]
    at: Where,
    /// Admin user name; the environment's credentials.toml has it.
    #[arg(long, env = "ZATO_USER")]
    user: Option<String>,
    /// Admin password; the environment's credentials.toml has it.
    #[arg(long, env = "ZATO_PASSWORD", hide_env_values = true)]
    password: Option<String>,
}

impl Lb {
    pub async fn run(self, out: &Output) -> CliResult {
        match self.command {
            LbCommand::Start(cmd) => cmd.run().await,
            LbCommand::Status(cmd) => cmd.run(out).await,
            LbCommand::Drain(cmd) => cmd.run(out).await,
        }
    }
}

impl StartLb {
    async fn run(self) -> CliResult {
        super::start::init_logging(self.log.log_format);
        let dir = env::lb_dir(&self.dir)?.ok_or_else(|| no_lb(&self.dir))?;
        let lb = Started::start(&dir, self.replace).await?;
        let stop = lb.lb.shutdown_token();
        tokio::spawn(async move {
            super::start::wait_for_signal().await;
            tracing::info!("stopping the load balancer: waiting for requests in flight");
            stop.cancel();
        });
        lb.run_until_stopped().await;
        Ok(())
    }
}

/// A load balancer started from its directory, and the address file it wrote.
pub struct Started {
    lb: RunningLb,
    address_file: Option<PathBuf>,
}

impl Started {
    /// Starts the load balancer of `dir` (holding lb.toml); one that binds port 0
    /// writes its address to `dir/address`, where the CLI finds it (`env::lb_url`).
    pub async fn start(dir: &Path, replace: bool) -> anyhow::Result<Self> {
        let config_path = dir.join(CONFIG_FILE);
        let config = LbConfig::load(&config_path)?;
        let port_zero = env::binds_port_zero(&config.bind);
        let started = if replace {
            RunningLb::replace(config, dir).await
        } else {
            RunningLb::start(config, dir).await
        };
        let lb = started
            .with_context(|| format!("cannot start the load balancer of `{}`", dir.display()))?;
        // Written by a rename, as a server's is, so that a reader never sees half of it.
        let address_file = if port_zero {
            Some(env::write_address(&config_path, lb.addr())?)
        } else {
            None
        };
        Ok(Self { lb, address_file })
    }

    /// A token that stops the load balancer when cancelled.
    pub fn shutdown_token(&self) -> tokio_util::sync::CancellationToken {
        self.lb.shutdown_token()
    }

    /// Its URL (`https://` when it speaks TLS).
    pub fn url(&self) -> String {
        let scheme = if self.lb.tls() { "https" } else { "http" };
        format!("{scheme}://{}", self.lb.addr())
    }

    /// Waits until asked to stop, lets requests in flight finish, and removes the
    /// address file.
    pub async fn run_until_stopped(self) {
        self.lb.shutdown_token().cancelled().await;
        self.stop().await;
    }

    /// Stops at once (requests in flight finish) and removes the address file.
    pub async fn stop(self) {
        self.lb.stop().await;
        if let Some(file) = self.address_file {
            let _ = std::fs::remove_file(file);
        }
    }
}

impl Where {
    /// The load balancer's directory: `dir`, else --env (ZATO_ENV), else the
    /// development environment's (which has none: it says so).
    fn lb_dir(&self, dir: Option<&PathBuf>) -> CliResult<PathBuf> {
        let dir = match dir.or(self.env.as_ref()) {
            Some(dir) => dir.clone(),
            None if PathBuf::from(env::DEV_ENV_DIR).exists() => PathBuf::from(env::DEV_ENV_DIR),
            None => {
                return Err(CliError::new(
                    ExitCode::Unreachable,
                    "no load balancer to talk to: pass DIR (an environment made by \
                     `zato quickstart create DIR`) or --env DIR, or set ZATO_ENV",
                ));
            }
        };
        if !dir.exists() {
            return Err(CliError::new(
                ExitCode::Unreachable,
                format!(
                    "there is no environment at `{}`: the directory does not exist",
                    dir.display()
                ),
            ));
        }
        let found = env::lb_dir(&dir).map_err(|e| unreachable(format!("{e:#}")))?;
        found.ok_or_else(|| no_lb(&dir))
    }
}

fn no_lb(dir: &Path) -> CliError {
    CliError::new(
        ExitCode::Unreachable,
        format!(
            "`{}` has no load balancer: neither an {CONFIG_FILE} nor an environment with one \
             (`zato quickstart create DIR` makes one in DIR/{} unless given --no-lb; the \
             development server has none)",
            dir.display(),
            env::LB_DIR
        ),
    )
}

fn unreachable(message: String) -> CliError {
    CliError::new(ExitCode::Unreachable, message)
}

/// The load balancer's URL, or exit 3 saying why there is none.
fn url_of(lb_dir: &Path) -> CliResult<String> {
    env::lb_url(lb_dir).map_err(|e| unreachable(format!("{e:#}")))
}

/// A client of the load balancer in `lb_dir`: trusting its environment's CA alone
/// when it has one.
fn http(lb_dir: &Path) -> CliResult<reqwest::Client> {
    let builder = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(10));
    env::http_client(lb_dir, builder)
        .map_err(|e| unreachable(format!("cannot build an HTTP client: {e:#}")))
}

/// Exit 3: the load balancer at `url` does not answer.
fn not_answering(url: &str, lb_dir: &Path, e: &reqwest::Error) -> CliError {
    // The innermost cause says it best (`Connection refused`).
    let mut cause: &dyn std::error::Error = e;
    while let Some(source) = cause.source() {
        cause = source;
    }
    unreachable(format!(
        "the load balancer at {url} does not answer ({cause}): is it running? \
         (`zato start ENV` runs an environment's, `zato lb start {}` this one alone)",
        lb_dir.display()
    ))
}

/// The load balancer's statistics, or why there are none.
pub async fn stats(http: &reqwest::Client, url: &str) -> Result<LbStats, reqwest::Error> {
    http.get(format!("{url}/zato-lb-stats"))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await
}

/// The load balancer of environment `dir`, if it has one: its address, and its
/// statistics when it answers (asked briefly: `zato info` must not hang on it).
pub async fn of_env(dir: &Path) -> Option<(String, Option<LbStats>)> {
    let lb_dir = env::lb_dir(dir).ok()??;
    if LbConfig::load(&lb_dir.join(CONFIG_FILE)).is_err() {
        return Some(("(invalid lb.toml: `zato lb status` says why)".into(), None));
    }
    let Ok(url) = env::lb_url(&lb_dir) else {
        // It binds port 0 and is not running: only a running one knows its port.
        return Some(("(port chosen at start)".into(), None));
    };
    let builder = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(1))
        .timeout(Duration::from_secs(2));
    let http = env::http_client(&lb_dir, builder).ok()?;
    let stats = stats(&http, &url).await.ok();
    Some((url, stats))
}

impl Status {
    async fn run(self, out: &Output) -> CliResult {
        let lb_dir = self.at.lb_dir(self.dir.as_ref())?;
        let url = url_of(&lb_dir)?;
        let stats = stats(&http(&lb_dir)?, &url).await.map_err(|e| {
            if e.is_status() {
                CliError::new(
                    ExitCode::Failed,
                    format!("the load balancer at {url} refused its statistics: {e}"),
                )
            } else if e.is_decode() {
                CliError::new(
                    ExitCode::Failed,
                    format!("{url}/zato-lb-stats answered something else than statistics: {e}"),
                )
            } else {
                not_answering(&url, &lb_dir, &e)
            }
        })?;
        out.print(&stats, || status_table(&stats));
        Ok(())
    }
}

fn status_table(stats: &LbStats) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let rows: Vec<Vec<String>> = stats
        .backends
        .iter()
        .map(|b| {
            let check = b.last_check.as_ref().map_or("-".to_owned(), |c| {
                format!(
                    "{} {}, {}s ago",
                    if c.ok { "ok" } else { "failed:" },
                    c.outcome,
                    (now - c.at).max(0) / 1000
                )
            });
            vec![
                b.name.clone().unwrap_or_else(|| "-".into()),
                b.address.clone(),
                state(b.state).into(),
                b.weight.to_string(),
                b.in_flight.to_string(),
                b.requests.to_string(),
                b.errors.to_string(),
                b.retries.to_string(),
                format!("{:.1}", b.p50_ms),
                format!("{:.1}", b.p99_ms),
                check,
            ]
        })
        .collect();
    let up = stats
        .backends
        .iter()
        .filter(|b| b.state == BackendState::Up)
        .count();
    let mut text = format!(
        "Load balancer on {} ({}): {up} of {} backends up, {} requests refused for want of one\n",
        stats.address,
        stats.algorithm,
        stats.backends.len(),
        stats.refused
    );
    if stats.backends.is_empty() {
        text.push_str("no backends yet: the servers are found through their admin API");
    } else {
        text.push_str(&table(
            &[
                "BACKEND",
                "ADDRESS",
                "STATE",
                "WEIGHT",
                "IN FLIGHT",
                "REQUESTS",
                "ERRORS",
                "RETRIES",
                "P50 MS",
                "P99 MS",
                "LAST CHECK",
            ],
            &rows,
        ));
    }
    text
}

/// A backend state's name, as the JSON has it.
pub fn state(state: BackendState) -> &'static str {
    match state {
        BackendState::Up => "up",
        BackendState::Down => "down",
        BackendState::Draining => "draining",
    }
}

impl Drain {
    async fn run(self, out: &Output) -> CliResult {
        let lb_dir = self.at.lb_dir(self.dir.as_ref())?;
        let url = url_of(&lb_dir)?;
        let credentials = self.credentials(&lb_dir)?;
        let mut request = http(&lb_dir)?
            .post(format!("{url}/zato-lb-drain"))
            .json(&serde_json::json!({"backend": self.server, "drain": !self.undo}));
        if let Some((user, password)) = &credentials {
            request = request.basic_auth(user, Some(password));
        }
        let response = request
            .send()
            .await
            .map_err(|e| not_answering(&url, &lb_dir, &e))?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|e| not_answering(&url, &lb_dir, &e))?;
        if !status.is_success() {
            let message = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v["error"].as_str().map(str::to_owned))
                .unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned());
            let code = if status == reqwest::StatusCode::UNAUTHORIZED {
                ExitCode::Unreachable
            } else {
                ExitCode::Failed
            };
            let mut details = serde_json::Map::new();
            details.insert("status".into(), status.as_u16().into());
            return Err(CliError::new(code, message).with_details(details));
        }
        let backend: BackendStats = serde_json::from_slice(&body).map_err(|e| {
            CliError::new(
                ExitCode::Failed,
                format!("{url}/zato-lb-drain answered something else than a backend: {e}"),
            )
        })?;
        out.print(&backend, || {
            let name = backend.name.as_deref().unwrap_or(&backend.address);
            if self.undo {
                format!(
                    "`{name}` ({}) is back in rotation: it gets new requests once its health \
                     checks pass (now {})",
                    backend.address,
                    state(backend.state)
                )
            } else {
                format!(
                    "`{name}` ({}) drained: it gets no new requests; {} in flight finish. \
                     `zato lb drain {name} --undo` puts it back",
                    backend.address, backend.in_flight
                )
            }
        });
        Ok(())
    }

    /// The admin credentials the load balancer checks: those given, else its cluster's
    /// credentials file (the environment's credentials.toml); none for a load balancer
    /// with no cluster (it lets this host drain).
    fn credentials(&self, lb_dir: &Path) -> CliResult<Option<(String, String)>> {
        if let (Some(user), Some(password)) = (&self.user, &self.password) {
            return Ok(Some((user.clone(), password.clone())));
        }
        let config = LbConfig::load(&lb_dir.join(CONFIG_FILE))?;
        let Some(cluster) = config.cluster else {
            return Ok(None);
        };
        let saved = env::read_credentials_file(&lb_dir.join(&cluster.credentials))
            .map_err(|e| unreachable(format!("{e:#}")))?;
        Ok(Some((
            self.user.clone().unwrap_or(saved.username),
            self.password.clone().unwrap_or(saved.password),
        )))
    }
}
