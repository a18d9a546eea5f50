//! A client of the admin API, and how the CLI finds the server to talk to.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use serde::de::DeserializeOwned;
use zato_host::api::ErrorBody;

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

pub struct Client {
    http: reqwest::Client,
    base: String,
    username: String,
    password: String,
}

/// What a server answered.
pub struct Answer {
    pub status: reqwest::StatusCode,
    pub cid: Option<String>,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

impl Answer {
    /// The server's error message, for a non-2xx answer.
    pub fn error_message(&self) -> String {
        match serde_json::from_slice::<ErrorBody>(&self.body) {
            Ok(e) => e.error,
            Err(_) => String::from_utf8_lossy(&self.body).trim().to_owned(),
        }
    }

    /// Parses a successful answer, or turns a failed one into the CLI error it means.
    pub fn json<T: DeserializeOwned>(self) -> Result<T, CliError> {
        if !self.status.is_success() {
            return Err(CliError::new(
                ExitCode::Failed,
                format!("server answered {}: {}", self.status, self.error_message()),
            ));
        }
        serde_json::from_slice(&self.body).map_err(|e| {
            CliError::new(
                ExitCode::Failed,
                format!("unexpected answer from the server: {e}"),
            )
        })
    }
}

impl Client {
    pub fn from_target(target: &Target) -> Result<Self, CliError> {
        let unreachable = |m: String| CliError::new(ExitCode::Unreachable, m);
        let (base, username, password) = if let Some(url) = &target.url {
            let (Some(user), Some(password)) = (&target.user, &target.password) else {
                return Err(unreachable(
                    "--url needs --user and --password (or ZATO_USER and ZATO_PASSWORD)".into(),
                ));
            };
            (
                url.trim_end_matches('/').to_owned(),
                user.clone(),
                password.clone(),
            )
        } else {
            let dir = match &target.env {
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
        Ok(Self {
            http,
            base,
            username,
            password,
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// Sends a request to the admin API (`path` starts with `/zato/api/`).
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Body>,
    ) -> Result<Answer, CliError> {
        let url = format!("{}{path}", self.base);
        let mut request = self
            .http
            .request(method, &url)
            .basic_auth(&self.username, Some(&self.password));
        request = match body {
            Some(Body::Json(value)) => request.json(&value),
            Some(Body::Bytes(bytes)) => request.body(bytes),
            None => request,
        };
        let response = request.send().await.map_err(|e| {
            let what = if e.is_connect() {
                "is the server running? "
            } else {
                ""
            };
            CliError::new(
                ExitCode::Unreachable,
                format!("cannot reach {url}: {what}{e}"),
            )
        })?;
        let status = response.status();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let cid = header("x-zato-cid");
        let content_type = header("content-type");
        let body = response
            .bytes()
            .await
            .context("reading the answer")
            .map_err(|e| CliError::new(ExitCode::Unreachable, format!("{e:#}")))?;
        if status == reqwest::StatusCode::UNAUTHORIZED {
            return Err(CliError::new(
                ExitCode::Unreachable,
                format!("{url}: the admin credentials were refused"),
            ));
        }
        Ok(Answer {
            status,
            cid,
            content_type,
            body: body.to_vec(),
        })
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, CliError> {
        self.send(reqwest::Method::GET, path, None).await?.json()
    }
}

pub enum Body {
    Json(serde_json::Value),
    Bytes(Vec<u8>),
}

/// Percent-encodes one path segment (service and channel names).
pub fn segment(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
