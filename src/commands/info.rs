//! `zato info [DIR]`: the servers of an environment and the versions they run, its
//! load balancer and its web admin.

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::Args;
use serde::Serialize;
use zato_api::lb::LbStats;
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
///
/// An environment's load balancer is shown below the servers (its address, whether it
/// answers), and the state of each server behind it (up, down, draining) in the LB
/// column; with --json, in each server's `lb` field. Its web admin is shown last.
///
/// With --json: `{"servers": [...], "lb": {"url", "answers", "algorithm"} or null,
/// "web_admin": {"url", "answers"} or null}`.
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
    /// The environment's load balancer and this server as it sees it (absent without
    /// one, and with --url).
    #[serde(skip_serializing_if = "Option::is_none")]
    lb: Option<LbLine>,
}

/// The load balancer in front of a server.
#[derive(Debug, Clone, Serialize)]
struct LbLine {
    /// Its URL (`http://HOST:PORT`).
    url: String,
    /// Whether it answered just now.
    answers: bool,
    /// This server's state behind it (`up`, `down`, `draining`), when it answers and
    /// knows the server.
    state: Option<&'static str>,
}

/// What `zato info --json` prints.
#[derive(Debug, Serialize)]
struct InfoDoc<'a> {
    servers: &'a [ServerLine],
    lb: Option<LbDoc<'a>>,
    web_admin: Option<&'a WebAdminFound>,
}

/// The environment's load balancer in `zato info --json`.
#[derive(Debug, Serialize)]
struct LbDoc<'a> {
    url: &'a str,
    answers: bool,
    /// How it chooses a server, when it answers.
    algorithm: Option<&'a str>,
}

/// The environment's web admin, as `zato info` found it.
#[derive(Debug, Serialize)]
struct WebAdminFound {
    /// Its URL (`http://HOST:PORT/`), or why it is not known.
    url: String,
    /// Whether it answered just now.
    answers: bool,
}

impl WebAdminFound {
    async fn of_env(dir: &std::path::Path) -> Option<Self> {
        let web_admin_dir = env::web_admin_dir(dir).ok()??;
        let Ok(url) = env::web_admin_url(&web_admin_dir) else {
            // It listens on port 0 and is not running: only a running one knows its port.
            return Some(Self {
                url: "(port chosen at start)".into(),
                answers: false,
            });
        };
        let url = format!("{}/", url.trim_end_matches('/'));
        let builder = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(1))
            .timeout(Duration::from_secs(2))
            .redirect(reqwest::redirect::Policy::none());
        let http = env::http_client(&web_admin_dir, builder).ok()?;
        // Any HTTP answer to the login page is a web admin up.
        let answers = http.get(format!("{url}login")).send().await.is_ok();
        Some(Self { url, answers })
    }
}

/// The environment's load balancer, as `zato info` found it.
#[derive(Debug)]
struct LbFound {
    url: String,
    stats: Option<LbStats>,
}

impl LbFound {
    /// What it says of the server named `name` at `address`.
    fn line(&self, name: &str, address: &str) -> LbLine {
        let address = address
            .trim_start_matches("http://")
            .trim_start_matches("https://")
            .trim_end_matches('/');
        let state = self.stats.as_ref().and_then(|stats| {
            stats
                .backends
                .iter()
                .find(|b| b.name.as_deref() == Some(name) || b.address == address)
                .map(|b| super::lb::state(b.state))
        });
        LbLine {
            url: self.url.clone(),
            answers: self.stats.is_some(),
            state,
        }
    }
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
                    lb: None,
                })
                .collect();
            return print(out, lines, None, None);
        };
        let from_files = env::servers(dir).map_err(CliError::from)?;
        let (lb, web_admin) = tokio::join!(super::lb::of_env(dir), WebAdminFound::of_env(dir));
        let lb = lb.map(|(url, stats)| LbFound { url, stats });
        // The cluster's view from the first server that answers; the others are asked
        // only whether they answer.
        let mut view: Option<Vec<ServerInfo>> = None;
        let mut answering = Vec::new();
        let mut first_error: Option<ClientError> = None;
        for server in &from_files {
            let Some(url) = &server.url else { continue };
            // A server that does not answer within this is shown as not answering.
            let api = client::client_within(url, &resolved, Some(Duration::from_secs(5)))?;
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
                lb: lb.as_ref().map(|lb| lb.line(&info.name, &info.address)),
                info,
            })
            .collect();
        for server in &from_files {
            if lines.iter().any(|l| l.info.name == server.name) {
                continue;
            }
            // Never registered in the ODB as far as a live server knows, or nobody
            // answers: what the files say.
            let address = server
                .url
                .clone()
                .unwrap_or_else(|| "(port chosen at start)".into());
            lines.push(ServerLine {
                lb: lb.as_ref().map(|lb| lb.line(&server.name, &address)),
                info: ServerInfo {
                    name: server.name.clone(),
                    address,
                    state: ServerState::Stopped,
                    pid: 0,
                    started_at: 0,
                    last_seen: 0,
                    services: Default::default(),
                    singleton: false,
                    singleton_since: None,
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
        print(out, lines, lb.as_ref(), web_admin.as_ref())
    }
}

fn print(
    out: &Output,
    lines: Vec<ServerLine>,
    lb: Option<&LbFound>,
    web_admin: Option<&WebAdminFound>,
) -> CliResult {
    let doc = InfoDoc {
        servers: &lines,
        lb: lb.map(|lb| LbDoc {
            url: &lb.url,
            answers: lb.stats.is_some(),
            algorithm: lb.stats.as_ref().map(|s| s.algorithm.as_str()),
        }),
        web_admin,
    };
    out.print(&doc, || {
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
                let mut row = vec![
                    s.name.clone(),
                    s.address.clone(),
                    state,
                    if s.pid == 0 {
                        "-".into()
                    } else {
                        s.pid.to_string()
                    },
                    seen,
                ];
                if lb.is_some() {
                    let behind = line.lb.as_ref().and_then(|l| l.state);
                    row.push(behind.unwrap_or("-").into());
                }
                row.push(services);
                row
            })
            .collect();
        let mut header = vec!["SERVER", "ADDRESS", "STATE", "PID", "LAST SEEN"];
        if lb.is_some() {
            header.push("LB");
        }
        header.push("SERVICES");
        let mut text = table(&header, &rows);
        if let Some(holder) = lines.iter().find(|l| l.info.singleton) {
            let since = holder
                .info
                .singleton_since
                .map(|at| format!(" for {}s", (now - at).max(0) / 1000))
                .unwrap_or_default();
            text.push_str(&format!(
                "\nsingleton: {}{since} (it runs the scheduler)",
                holder.info.name
            ));
        }
        if let Some(lb) = lb {
            text.push_str(&match &lb.stats {
                Some(stats) => format!(
                    "\nload balancer: {} ({}; `zato lb status` for its backends)",
                    lb.url, stats.algorithm
                ),
                None => format!("\nload balancer: {} (not answering)", lb.url),
            });
        }
        if let Some(web_admin) = web_admin {
            text.push_str(&format!(
                "\nweb admin: {}{}",
                web_admin.url,
                if web_admin.answers {
                    ""
                } else {
                    " (not answering)"
                }
            ));
        }
        text
    });
    Ok(())
}
