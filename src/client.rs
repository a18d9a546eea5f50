//! How the CLI finds the server to talk to, and the exit code each failure of the admin
//! API maps to; the HTTP part is `zato_api::AdminClient`.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use zato_api::{AdminClient, ClientError};

use crate::env;
use crate::exit::{CliError, ExitCode};

/// Which server to talk to: an environment directory, or a URL with credentials.
#[derive(Debug, Args, Clone)]
pub struct Target {
    /// Environment directory (made by `zato quickstart create`); defaults to `./.zato`
    /// when it exists.
    #[arg(long, env = "ZATO_ENV")]
    pub env: Option<PathBuf>,
    /// Admin API base URL, e.g. http://127.0.0.1:17010 (instead of --env).
    #[arg(long, env = "ZATO_URL")]
    pub url: Option<String>,
    /// Admin username with --url.
    #[arg(long, env = "ZATO_USER")]
    pub user: Option<String>,
    /// Admin password with --url.
    #[arg(long, env = "ZATO_PASSWORD", global = true, hide_env_values = true)]
    pub password: Option<String>,
}

impl Target {
    /// A client of the admin API this target names, with its credentials.
    pub fn connect(&self) -> Result<AdminClient, CliError> {
        let unreachable = |m: String| CliError::new(ExitCode::Unreachable, m);
        let (base, username, password) = if let Some(url) = &self.url {
            let (Some(user), Some(password)) = (&self.user, &self.password) else {
                return Err(unreachable(
                    "--url needs --user and --password (or ZATO_USER and ZATO_PASSWORD)".into(),
                ));
            };
            (url.clone(), user.clone(), password.clone())
        } else {
            let dir = match &self.env {
                Some(dir) => dir.clone(),
                None if PathBuf::from(env::DEV_ENV_DIR).join(env::ENV_FILE).exists() => {
                    PathBuf::from(env::DEV_ENV_DIR)
                }
                None => {
                    return Err(unreachable(
                        "no environment to talk to: pass --env DIR (made by `zato quickstart create DIR`), \
                         or --url URL --user USER --password PASSWORD, or run `zato start` here first"
                            .into(),
                    ));
                }
            };
            let credentials =
                env::read_credentials(&dir).map_err(|e| unreachable(format!("{e:#}")))?;
            let base = env::admin_url(&dir).map_err(|e| unreachable(format!("{e:#}")))?;
            (base, credentials.username, credentials.password)
        };
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| unreachable(format!("cannot build an HTTP client: {e}")))?;
        Ok(AdminClient::with_client(http, base, username, password))
    }
}

/// Exit 3 when no server answered or it refused the credentials, 1 when it refused or
/// failed the operation.
impl From<ClientError> for CliError {
    fn from(e: ClientError) -> Self {
        let code = match &e {
            ClientError::Unreachable { .. }
            | ClientError::Interrupted { .. }
            | ClientError::CredentialsRefused { .. } => ExitCode::Unreachable,
            ClientError::Server { .. } | ClientError::Unexpected(_) => ExitCode::Failed,
        };
        CliError::new(code, e.to_string())
    }
}
