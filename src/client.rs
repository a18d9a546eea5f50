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
    /// Environment directory (made by `zato quickstart create`, or `.zato` in the
    /// directory where `zato start` runs the development server); defaults to
    /// `./.zato` when it exists.
    #[arg(long, env = "ZATO_ENV", value_name = "DIR")]
    pub env: Option<PathBuf>,
    /// Admin API base URL, e.g. http://127.0.0.1:17010 (instead of --env).
    #[arg(long, env = "ZATO_URL")]
    pub url: Option<String>,
    /// Admin user name: needed with --url; with an environment, it replaces the one
    /// saved in its credentials.toml.
    #[arg(long, env = "ZATO_USER")]
    pub user: Option<String>,
    /// Admin password: needed with --url; with an environment, it replaces the one
    /// saved in its credentials.toml.
    #[arg(long, env = "ZATO_PASSWORD", global = true, hide_env_values = true)]
    pub password: Option<String>,
    /// PEM file of the CA to trust alone for an https:// --url (an environment made
    /// with --tls names its own).
    #[arg(long, env = "ZATO_CA", value_name = "FILE")]
    pub ca: Option<PathBuf>,
}

/// Where a [`Target`] leads: the environment directory or the URL, and the
/// credentials to use.
pub struct Resolved {
    pub env: Option<PathBuf>,
    url: Option<String>,
    pub user: String,
    pub password: String,
    /// The CA to trust alone, when the servers speak TLS with certificates of their
    /// environment's own.
    pub ca: Option<PathBuf>,
}

impl Resolved {
    /// The admin API's URL: the one given, or the environment's first server's, which
    /// a server on port 0 writes only while it runs (so this fails when it is down).
    pub fn base(&self) -> Result<String, CliError> {
        match (&self.url, &self.env) {
            (Some(url), _) => Ok(url.clone()),
            (None, Some(dir)) => env::admin_url(dir).map_err(|e| unreachable(format!("{e:#}"))),
            (None, None) => unreachable!("a target resolves to a URL or an environment"),
        }
    }
}

impl Target {
    /// The environment directory this target names, checked to be one, if it names
    /// one (`--url` names none).
    pub fn env_dir(&self) -> Result<Option<PathBuf>, CliError> {
        if self.url.is_some() {
            return Ok(None);
        }
        let dir = match &self.env {
            Some(dir) => dir.clone(),
            None if PathBuf::from(env::DEV_ENV_DIR).join(env::ENV_FILE).exists() => {
                PathBuf::from(env::DEV_ENV_DIR)
            }
            None => {
                return Err(unreachable(
                    "no environment to talk to: pass --env DIR (made by `zato quickstart create DIR`), \
                     set ZATO_ENV, or pass --url URL --user USER --password PASSWORD, or run \
                     `zato start` here first"
                        .into(),
                ));
            }
        };
        env::check_env(&dir).map_err(|e| unreachable(format!("{e:#}")))?;
        Ok(Some(dir))
    }

    /// The admin API and credentials this target names. A user name or password
    /// given explicitly (flag or variable) wins over the environment's saved ones.
    pub fn resolve(&self) -> Result<Resolved, CliError> {
        let Some(dir) = self.env_dir()? else {
            let url = self.url.clone().expect("env_dir is None only with --url");
            let (Some(user), Some(password)) = (&self.user, &self.password) else {
                return Err(unreachable(
                    "--url needs --user and --password (or ZATO_USER and ZATO_PASSWORD)".into(),
                ));
            };
            return Ok(Resolved {
                env: None,
                url: Some(url),
                user: user.clone(),
                password: password.clone(),
                ca: self.ca.clone(),
            });
        };
        let saved = match (&self.user, &self.password) {
            (Some(_), Some(_)) => None,
            _ => Some(env::read_credentials(&dir).map_err(|e| unreachable(format!("{e:#}")))?),
        };
        let user = self
            .user
            .clone()
            .or_else(|| saved.as_ref().map(|c| c.username.clone()))
            .unwrap_or_default();
        let password = self
            .password
            .clone()
            .or_else(|| saved.map(|c| c.password))
            .unwrap_or_default();
        let ca = match &self.ca {
            Some(ca) => Some(ca.clone()),
            None => env::ca_file(&dir).map_err(|e| unreachable(format!("{e:#}")))?,
        };
        Ok(Resolved {
            env: Some(dir),
            url: None,
            user,
            password,
            ca,
        })
    }

    /// A client of the admin API this target names, with its credentials.
    pub fn connect(&self) -> Result<AdminClient, CliError> {
        let resolved = self.resolve()?;
        client(&resolved.base()?, &resolved)
    }
}

/// A client of the admin API at `base` with `resolved`'s credentials.
pub fn client(base: &str, resolved: &Resolved) -> Result<AdminClient, CliError> {
    client_within(base, resolved, None)
}

/// [`client`] whose every request gives up after `limit`: for status commands, which
/// must not wait on a server that accepts connections but does not answer (stopped
/// with SIGSTOP, say).
pub fn client_within(
    base: &str,
    resolved: &Resolved,
    limit: Option<Duration>,
) -> Result<AdminClient, CliError> {
    let mut http = reqwest::Client::builder().connect_timeout(Duration::from_secs(5));
    if let Some(limit) = limit {
        http = http.timeout(limit);
    }
    let ca = match &resolved.ca {
        Some(path) => Some(std::fs::read(path).map_err(|e| {
            CliError::new(
                ExitCode::Usage,
                format!("cannot read the CA `{}`: {e}", path.display()),
            )
        })?),
        None => None,
    };
    let http = zato_api::tls::http_client(http, ca.as_deref()).map_err(|e| match &resolved.ca {
        Some(path) => CliError::new(ExitCode::Usage, format!("`{}`: {e}", path.display())),
        None => unreachable(e),
    })?;
    Ok(AdminClient::with_client(
        http,
        base,
        &resolved.user,
        &resolved.password,
    ))
}

fn unreachable(message: String) -> CliError {
    CliError::new(ExitCode::Unreachable, message)
}

/// Exit 3 when no server answered or it refused the credentials, 1 when it refused or
/// failed the operation. A refusal reads as the server's own message (which says what
/// was wrong); its HTTP status and correlation ID go in the `--json` document.
impl From<ClientError> for CliError {
    fn from(e: ClientError) -> Self {
        match e {
            ClientError::Server {
                status,
                message,
                cid,
            } => {
                let mut details = serde_json::Map::new();
                details.insert("status".into(), status.as_u16().into());
                if let Some(cid) = cid {
                    details.insert("cid".into(), cid.into());
                }
                CliError::new(ExitCode::Failed, message).with_details(details)
            }
            ClientError::Unexpected(_) => CliError::new(ExitCode::Failed, e.to_string()),
            ClientError::Unreachable { .. }
            | ClientError::Interrupted { .. }
            | ClientError::CredentialsRefused { .. } => {
                CliError::new(ExitCode::Unreachable, e.to_string())
            }
        }
    }
}
