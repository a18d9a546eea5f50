//! `zato web-admin`: the web admin (`zato-admin`), a browser console for clusters that
//! talks to them only through their admin API.
//!
//! `zato start ENV` runs an environment's web admin by itself; `zato web-admin start
//! DIR` runs one alone, e.g. on another host, for clusters named in its web-admin.toml.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use tokio_util::sync::CancellationToken;
use zato_admin::{WebAdmin, WebAdminConfig};

use crate::env;
use crate::exit::{CliError, CliResult, ExitCode};

/// The web admin: a browser console to see servers and services, upload, invoke and
/// configure them.
///
/// An environment made by `zato quickstart create` has one in DIR/web-admin (its
/// web-admin.toml says where it listens: --web-admin-port, 8183 by default), and
/// `zato start DIR` runs it with the servers. Log in with the environment's admin user
/// and password (DIR/credentials.toml), or a user of the web admin's own (its settings
/// page adds them).
#[derive(Debug, Args)]
pub struct WebAdminCommand {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a web admin in the foreground until SIGINT or SIGTERM.
    ///
    /// DIR holds its web-admin.toml (an environment's is DIR/web-admin; an
    /// environment's directory names it too).
    Start(StartWebAdmin),
}

#[derive(Debug, Args)]
struct StartWebAdmin {
    /// The web admin's directory (holding web-admin.toml), or an environment's.
    dir: PathBuf,
    #[command(flatten)]
    log: super::start::LogArgs,
}

impl WebAdminCommand {
    pub async fn run(self) -> CliResult {
        let Command::Start(cmd) = self.command;
        super::start::init_logging(cmd.log.log_format);
        let dir = env::web_admin_dir(&cmd.dir)?.ok_or_else(|| no_web_admin(&cmd.dir))?;
        let web_admin = Started::start(&dir).await?;
        let stop = web_admin.shutdown_token();
        tokio::spawn(async move {
            super::start::wait_for_signal().await;
            tracing::info!("stopping the web admin");
            stop.cancel();
        });
        web_admin.run_until_stopped().await?;
        Ok(())
    }
}

fn no_web_admin(dir: &Path) -> CliError {
    CliError::new(
        ExitCode::Usage,
        format!(
            "`{}` has no web admin: neither a {} nor an environment with one (create an \
             environment with `zato quickstart create DIR`)",
            dir.display(),
            env::WEB_ADMIN_FILE
        ),
    )
}

/// How the web admin finds the cluster of an environment it names (`environment =
/// PATH` in web-admin.toml): through the environment's files, at each use.
fn resolver() -> zato_admin::Resolver {
    Arc::new(|dir: &Path| env::cluster_access(dir))
}

/// A web admin started from its directory, and the address file it wrote.
pub struct Started {
    web_admin: WebAdmin,
    address_file: Option<PathBuf>,
    stop: CancellationToken,
}

impl Started {
    /// Starts the web admin of `dir` (holding web-admin.toml); one that listens on port
    /// 0 writes its address to `dir/address`, where the CLI finds it
    /// (`env::web_admin_url`).
    pub async fn start(dir: &Path) -> anyhow::Result<Self> {
        let config_path = dir.join(env::WEB_ADMIN_FILE);
        let config = WebAdminConfig::load(&config_path)?;
        let port_zero = env::binds_port_zero(&config.listen.to_string());
        let web_admin = WebAdmin::bind(config, config_path.clone(), resolver())
            .await
            .with_context(|| format!("cannot start the web admin of `{}`", dir.display()))?;
        let address_file = if port_zero {
            Some(env::write_address(&config_path, web_admin.local_addr())?)
        } else {
            None
        };
        let scheme = if web_admin.tls() { "https" } else { "http" };
        tracing::info!("web admin on {scheme}://{}/", web_admin.local_addr());
        Ok(Self {
            web_admin,
            address_file,
            stop: CancellationToken::new(),
        })
    }

    /// Its URL (`https://` when it speaks TLS).
    pub fn url(&self) -> String {
        let scheme = if self.web_admin.tls() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}/", self.web_admin.local_addr())
    }

    /// A token that stops the web admin when cancelled.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.stop.clone()
    }

    /// Serves until asked to stop, then removes the address file.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let stop = self.stop.clone();
        let served = self
            .web_admin
            .run(async move { stop.cancelled().await })
            .await;
        if let Some(file) = self.address_file {
            let _ = std::fs::remove_file(file);
        }
        served
    }
}
