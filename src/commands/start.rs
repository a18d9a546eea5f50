//! `zato start [DIR]`: run servers in the foreground until SIGINT or SIGTERM.

mod supervisor;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;

use crate::embedded::{DEFAULT_PORT, Server, ServerConfig};
use crate::env::{self, NewEnv};
use crate::exit::{CliError, CliResult, ExitCode};
use crate::output::Output;

/// Start a server, or every server of an environment (one process each), in the foreground.
///
/// Without DIR: a development environment in ./.zato (created on first start, with the
/// admin password printed once), ./pickup as its pickup directory, and the examples
/// deployed with an HTTP channel each when they have been built
/// (`cargo build --release --target wasm32-wasip2 --manifest-path examples/Cargo.toml`).
///
/// With several servers, a server that dies is restarted after a back-off, and the
/// others keep serving; one that keeps dying is given up on, with a log line.
///
/// An environment's load balancer (DIR/lb) and web admin (DIR/web-admin), made by `zato
/// quickstart create`, run with its servers: as supervised processes of their own with
/// several servers, in this process with one.
///
/// SIGINT (Ctrl-C) or SIGTERM stops it gracefully: requests in flight finish.
#[derive(Debug, Args)]
pub struct Start {
    /// Environment directory (from `zato quickstart create`) or one server's directory.
    dir: Option<PathBuf>,
    /// Port of the development environment, when it is created.
    #[arg(long, default_value_t = DEFAULT_PORT)]
    port: u16,
    /// With several servers: how many times a server that dies is restarted within
    /// 5 minutes before it is given up on (the others keep serving).
    #[arg(long, env = "ZATO_MAX_RESTARTS", default_value_t = 5)]
    max_restarts: usize,
    /// With several servers: the first wait before restarting a server that died; it
    /// doubles on each restart in a row, up to 30 s.
    #[arg(long, env = "ZATO_RESTART_BACKOFF_MS", default_value_t = 500)]
    restart_backoff_ms: u64,
    #[command(flatten)]
    log: LogArgs,
}

impl Start {
    pub async fn run(self, out: &Output) -> CliResult {
        let dev = self.dir.is_none();
        let dir = self
            .dir
            .clone()
            .unwrap_or_else(|| PathBuf::from(env::DEV_ENV_DIR));
        if dev && !dir.join(env::ENV_FILE).exists() {
            std::fs::create_dir_all("pickup").context("cannot create ./pickup")?;
            // Ports the system picks for the server: the others' too.
            let or_zero = |port| if self.port == 0 { 0 } else { port };
            let created = env::create(&NewEnv {
                dir: &dir,
                base_port: self.port,
                cluster: "dev",
                pickup_dir: Some("../../pickup"),
                servers: 1,
                odb: None,
                redis: None,
                auto_http_channels: true,
                lb_port: Some(or_zero(env::DEFAULT_LB_PORT)),
                web_admin_port: Some(or_zero(env::DEFAULT_WEB_ADMIN_PORT)),
                tls: None,
            })?;
            eprintln!(
                "Created the development environment in {}: admin user `{}`, password `{}` \
                 (shown once; saved in {}/{} for the CLI)",
                dir.display(),
                created.username,
                created.password,
                dir.display(),
                env::CREDENTIALS_FILE
            );
        }
        let configs = env::server_configs(&dir)?;
        // An environment's load balancer; a server's own directory names none.
        let (lb_dir, web_admin_dir) = if dir.join(env::ENV_FILE).exists() {
            let env_file = env::read_env(&dir)?;
            (
                env_file.lb.map(|lb| dir.join(lb)),
                env_file.web_admin.map(|w| dir.join(w)),
            )
        } else {
            (None, None)
        };
        if configs.len() > 1 {
            // Each server exports its own traces, from its own process.
            init_logging(self.log.log_format);
            let policy = supervisor::Policy {
                backoff: Duration::from_millis(self.restart_backoff_ms),
                max_restarts: self.max_restarts,
                log_format: self.log.log_format,
            };
            return supervisor::run(
                &configs,
                lb_dir.as_deref(),
                web_admin_dir.as_deref(),
                policy,
            )
            .await;
        }
        let config_path = configs.first().ok_or_else(|| {
            CliError::new(
                ExitCode::Failed,
                format!("`{}` lists no servers", dir.display()),
            )
        })?;
        let config = ServerConfig::load(config_path)?;
        let _traces = init_logging_and_traces(self.log.log_format, Some(&config))?;
        let port_zero = env::binds_port_zero(&config.bind);
        // One server: its load balancer runs in this process, started first so that a
        // port it cannot have stops everything before the server starts.
        let lb = match &lb_dir {
            Some(lb_dir) => Some(super::lb::Started::start(lb_dir, false).await?),
            None => None,
        };
        // The server does not depend on its web admin: one that cannot start (its port
        // taken by another environment's, say) is logged, and the server serves.
        let web_admin = match &web_admin_dir {
            Some(dir) => match super::web_admin::Started::start(dir).await {
                Ok(web_admin) => Some(web_admin),
                Err(e) => {
                    tracing::warn!("the web admin is not running: {e:#}");
                    None
                }
            },
            None => None,
        };
        let server = match Server::start(config).await {
            Ok(server) => server,
            Err(e) => {
                if let Some(lb) = lb {
                    lb.stop().await;
                }
                if let Some(web_admin) = web_admin {
                    web_admin.shutdown_token().cancel();
                    let _ = web_admin.run_until_stopped().await;
                }
                return Err(e.into());
            }
        };
        // The CLI finds a server that bound port 0 through this file (`env::admin_url`).
        let address_file = if port_zero {
            Some(env::write_address(config_path, server.addr())?)
        } else {
            None
        };
        let stop = server.shutdown_token();
        let stop_lb = lb.as_ref().map(super::lb::Started::shutdown_token);
        let stop_web_admin = web_admin
            .as_ref()
            .map(super::web_admin::Started::shutdown_token);
        tokio::spawn({
            let stop_lb = stop_lb.clone();
            async move {
                wait_for_signal().await;
                tracing::info!("stopping: waiting for requests in flight");
                if let Some(stop_lb) = stop_lb {
                    stop_lb.cancel();
                }
                stop.cancel();
            }
        });
        let around = Around {
            lb: lb.as_ref().map(super::lb::Started::url),
            web_admin: web_admin.as_ref().map(super::web_admin::Started::url),
        };
        let lb = lb.map(|lb| tokio::spawn(lb.run_until_stopped()));
        let web_admin = web_admin.map(|w| tokio::spawn(w.run_until_stopped()));
        if dev && let Err(e) = deploy_examples(&server, &dir, &around, out).await {
            tracing::warn!("cannot deploy the examples: {e:#}");
        }
        let stopped = server.run_until_stopped().await;
        // The load balancer and the web admin do not outlive the server.
        if let Some(stop_lb) = stop_lb {
            stop_lb.cancel();
        }
        if let Some(stop) = stop_web_admin {
            stop.cancel();
        }
        if let Some(lb) = lb {
            let _ = lb.await;
        }
        if let Some(web_admin) = web_admin
            && let Ok(Err(e)) = web_admin.await
        {
            tracing::warn!("the web admin stopped with an error: {e:#}");
        }
        if let Some(file) = address_file {
            let _ = std::fs::remove_file(file);
        }
        stopped?;
        Ok(())
    }
}

/// How a long-running command (`zato start`, `zato lb start`, `zato web-admin start`)
/// writes its log on standard error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// Lines for a person: time, level, target, message, fields.
    #[default]
    Text,
    /// One JSON object a line (`timestamp`, `level`, `target`, `fields` with `message`
    /// and the event's fields such as `cid`, `span`, `spans`), for a log collector.
    Json,
}

impl LogFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Json => "json",
        }
    }
}

/// The log options of the long-running commands.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct LogArgs {
    /// The log's format on standard error: `text` or `json` (one object a line). The
    /// servers, load balancer and web admin `zato start` runs get the same.
    #[arg(long, env = "ZATO_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

pub(crate) fn init_logging(format: LogFormat) {
    // Without a server's configuration there is nothing to export, and nothing to fail.
    let _ = init_logging_and_traces(format, None);
}

/// The log on standard error and, when `server` configures an OTLP endpoint, the
/// exporter of its call spans (`zato_host::telemetry`), which sends what is left when
/// dropped. The log shows the call spans only when `ZATO_LOG` names their target.
pub(crate) fn init_logging_and_traces(
    format: LogFormat,
    server: Option<&ServerConfig>,
) -> anyhow::Result<Option<zato_host::telemetry::Exporting>> {
    use tracing_subscriber::Layer as _;
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let filter = tracing_subscriber::EnvFilter::try_from_env("ZATO_LOG").unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(format!(
            "info,sqlx=warn,cranelift=warn,wasmtime=warn,opentelemetry=warn,{}=warn",
            zato_host::telemetry::TARGET
        ))
    });
    let log = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let log = match format {
        LogFormat::Text => log.with_ansi(colour()).boxed(),
        LogFormat::Json => log
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .boxed(),
    };
    let traces = match server {
        Some(config) => {
            zato_host::telemetry::otlp_layer(&config.telemetry, &config.cluster, &config.name)
                .with_context(|| format!("server `{}`: traces", config.name))?
        }
        None => None,
    };
    let (traces, exporting) = match traces {
        Some((layer, exporting)) => {
            let only_calls = tracing_subscriber::filter::Targets::new()
                .with_target(zato_host::telemetry::TARGET, tracing::Level::INFO);
            (Some(layer.with_filter(only_calls)), Some(exporting))
        }
        None => (None, None),
    };
    let _ = tracing_subscriber::registry()
        .with(log.with_filter(filter))
        .with(traces)
        .try_init();
    if let Some(exporting) = &exporting {
        tracing::info!(
            endpoint = exporting.endpoint(),
            "exporting traces with OTLP"
        );
    }
    Ok(exporting)
}

/// Colour in the log only for a person at a terminal, and not with `NO_COLOR` set
/// (<https://no-color.org>): a file or a pipe gets plain text.
fn colour() -> bool {
    use std::io::IsTerminal as _;
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

pub(crate) async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

/// Where the README's build command puts the examples.
fn examples_dir() -> Option<PathBuf> {
    let mut candidates = vec![PathBuf::from("examples/target/wasm32-wasip2/release")];
    if let Ok(target) = std::env::var("CARGO_TARGET_DIR") {
        candidates.insert(0, Path::new(&target).join("wasm32-wasip2/release"));
    }
    candidates.into_iter().find(|d| d.is_dir())
}

/// What runs beside the development server, for the text printed once it is up.
struct Around {
    /// The load balancer's URL.
    lb: Option<String>,
    /// The web admin's URL.
    web_admin: Option<String>,
}

impl Around {
    fn text(&self, dir: &Path) -> String {
        let mut text = String::new();
        if let Some(url) = &self.web_admin {
            text.push_str(&format!(
                "Web admin: {url} (user `admin`, password in {}/{})\n",
                dir.display(),
                env::CREDENTIALS_FILE
            ));
        }
        if let Some(url) = &self.lb {
            text.push_str(&format!(
                "Load balancer: {url} (in front of the server; `zato lb status`)\n"
            ));
        }
        text
    }
}

/// Deploys every built example and gives each an HTTP channel at `/` + its name with
/// dots as slashes (`demo.hello` -> `/demo/hello`).
async fn deploy_examples(
    server: &Server,
    env_dir: &Path,
    around: &Around,
    out: &Output,
) -> anyhow::Result<()> {
    let base = format!("http://{}", server.addr());
    let Some(dir) = examples_dir() else {
        eprintln!(
            "\nServer on {base}. No built examples found: build them with\n  \
             cargo build --release --target wasm32-wasip2 --manifest-path examples/Cargo.toml\n\
             and copy the .wasm files into ./pickup.\n{}",
            around.text(env_dir)
        );
        return Ok(());
    };
    let mut files: Vec<_> = std::fs::read_dir(&dir)?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "wasm"))
        .collect();
    files.sort();
    let mut names = Vec::new();
    for file in files {
        let bytes = std::fs::read(&file)?;
        let label = file
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        // The development environment gives each new service an HTTP channel by itself.
        match server
            .deployer()
            .deploy(bytes, &format!("examples:{label}"))
            .await
        {
            Ok(outcome) => names.push(outcome.name),
            Err(e) => tracing::warn!("example `{label}` not deployed: {e}"),
        }
    }
    if !out.json {
        let mut text = format!(
            "\nzato is running on {base} with {} example services:\n",
            names.len()
        );
        for name in &names {
            text.push_str(&format!("  {name:<18} {base}/{}\n", name.replace('.', "/")));
        }
        text.push_str(&format!(
            "\nTry:\n  curl '{base}/demo/hello?name=you'\n  \
             curl -X POST {base}/demo/transform -d '{{\"first_name\":\"Ada\",\"last_name\":\"Lovelace\",\"email\":\"ada@example.com\"}}'\n\
             Deploy your own: copy a .wasm into ./pickup (service `a.b` answers at {base}/a/b),\n\
             or `zato deploy FILE.wasm`, or upload it in the web admin. Ctrl-C stops the server.\n"
        ));
        text.push_str(&around.text(env_dir));
        eprintln!("{text}");
    }
    Ok(())
}
