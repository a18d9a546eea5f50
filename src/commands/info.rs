//! `zato info [DIR]`: the servers of an environment and the versions they run.

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::Args;
use serde::Serialize;
use zato_api::{ClientError, ServerInfo, ServerState};

use crate::client::{self, Target};
use crate::env;
use crate::exit::{CliError, CliResult};
use crate::output::{Output, table};

/// Show each server, its state (running, stopped or gone) and the versions of the
/// services it runs.
///
/// The cluster's view comes from any of its servers that answers; with an environment
/// directory, its servers that answer nothing are shown from its files as not
/// answering, and when none answers, every server is, with exit code 0 (the
/// information is there: the servers are down).
#[derive(Debug, Args)]
pub struct Info {
    /// Environment directory (same as --env).
    dir: Option<PathBuf>,
    #[command(flatten)]
    target: Target,
}

/// One line of `zato info`: what the cluster says of a server, and whether it answered.
#[derive(Debug, Serialize)]
struct ServerLine {
    #[serde(flatten)]
    info: ServerInfo,
    /// Whether the server answered `zato info` just now (null with --url, where only
    /// the server asked is known).
    answers: Option<bool>,
}

impl Info {
    pub async fn run(mut self, out: &Output) -> CliResult {
        if self.dir.is_some() {
            self.target.env = self.dir.take();
        }
        let resolved = self.target.resolve()?;
        let Some(dir) = &resolved.env else {
            let servers = client::client(&resolved.base()?, &resolved)?
                .servers()
                .await?;
            let lines = servers
                .into_iter()
                .map(|info| ServerLine {
                    info,
                    answers: None,
                })
                .collect();
            return print(out, lines);
        };
        let from_files = env::servers(dir).map_err(CliError::from)?;
        // The cluster's view from the first server that answers; the others are asked
        // only whether they answer.
        let mut view: Option<Vec<ServerInfo>> = None;
        let mut answering = Vec::new();
        let mut first_error: Option<ClientError> = None;
        for server in &from_files {
            let Some(url) = &server.url else { continue };
            let api = client::client(url, &resolved)?;
            let answer = match &view {
                None => api.servers().await.map(|servers| view = Some(servers)),
                Some(_) => api.server_status().await.map(drop),
            };
            match answer {
                Ok(()) => answering.push(server.name.clone()),
                // Wrong credentials are not a server down: say so as it is.
                Err(e @ ClientError::CredentialsRefused { .. }) => return Err(e.into()),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        let mut lines: Vec<ServerLine> = view
            .unwrap_or_default()
            .into_iter()
            .map(|info| ServerLine {
                answers: Some(answering.contains(&info.name)),
                info,
            })
            .collect();
        for server in &from_files {
            if lines.iter().any(|l| l.info.name == server.name) {
                continue;
            }
            // Never registered in the ODB as far as a live server knows, or nobody
            // answers: what the files say.
            lines.push(ServerLine {
                info: ServerInfo {
                    name: server.name.clone(),
                    address: server
                        .url
                        .clone()
                        .unwrap_or_else(|| "(port chosen at start)".into()),
                    state: ServerState::Stopped,
                    pid: 0,
                    started_at: 0,
                    last_seen: 0,
                    services: Default::default(),
                },
                answers: Some(false),
            });
        }
        let down: Vec<&str> = lines
            .iter()
            .filter(|l| l.answers == Some(false))
            .map(|l| l.info.name.as_str())
            .collect();
        if !out.json && !down.is_empty() {
            let why = first_error.map_or_else(String::new, |e| format!(" ({e})"));
            if answering.is_empty() {
                eprintln!(
                    "no server of `{}` answers{why}: it is stopped; start it with `zato start {}`",
                    dir.display(),
                    dir.display()
                );
            } else {
                eprintln!("not answering: {}", down.join(", "));
            }
        }
        print(out, lines)
    }
}

fn print(out: &Output, lines: Vec<ServerLine>) -> CliResult {
    out.print(&lines, || {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        let rows: Vec<Vec<String>> = lines
            .iter()
            .map(|line| {
                let s = &line.info;
                let services = s
                    .services
                    .iter()
                    .map(|(name, v)| format!("{name}@{v}"))
                    .collect::<Vec<_>>()
                    .join(" ");
                let seen = if s.last_seen == 0 {
                    "-".to_owned()
                } else {
                    format!("{}s ago", (now - s.last_seen).max(0) / 1000)
                };
                let state = match line.answers {
                    Some(false) if s.state == ServerState::Running => {
                        format!("{} (not answering)", s.state)
                    }
                    Some(false) => format!("{} (down)", s.state),
                    _ => s.state.to_string(),
                };
                vec![
                    s.name.clone(),
                    s.address.clone(),
                    state,
                    if s.pid == 0 {
                        "-".into()
                    } else {
                        s.pid.to_string()
                    },
                    seen,
                    services,
                ]
            })
            .collect();
        table(
            &["SERVER", "ADDRESS", "STATE", "PID", "LAST SEEN", "SERVICES"],
            &rows,
        )
    });
    Ok(())
}
