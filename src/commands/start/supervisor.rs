//! `zato start DIR` on an environment of several servers: one child process per server
//! (`zato start DIR/serverN`), one for its load balancer (`zato lb start DIR/lb`) and
//! one for its web admin (`zato web-admin start DIR/web-admin`), kept running.
//!
//! A server that dies is restarted after a back-off that doubles from
//! `--restart-backoff-ms` up to [`MAX_BACKOFF`] (and starts over once a server has run
//! for [`STABLE_AFTER`]); one that dies more than `--max-restarts` times within
//! [`RESTART_WINDOW`] is given up on, with a log line saying so. The others keep
//! serving whatever happens to one of them: everything stops only on SIGINT or SIGTERM,
//! or when every server has been given up on. The load balancer and the web admin are
//! restarted alike; the servers never depend on them.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use tokio_util::sync::CancellationToken;

use crate::exit::{CliError, CliResult, ExitCode};

/// The longest wait before a restart.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// A server that ran this long before it died gets the shortest back-off again.
const STABLE_AFTER: Duration = Duration::from_secs(60);
/// Restarts counted against `--max-restarts` are those within this window.
pub const RESTART_WINDOW: Duration = Duration::from_secs(300);

/// How the supervisor restarts servers.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// The first wait before a restart; it doubles on each restart in a row.
    pub backoff: Duration,
    /// Restarts allowed within [`RESTART_WINDOW`] before a server is given up on.
    pub max_restarts: usize,
    /// The log format every process it starts uses.
    pub log_format: super::LogFormat,
}

/// `args` with the log format of `policy`.
fn with_log(policy: Policy, mut args: Vec<OsString>) -> Vec<OsString> {
    args.push("--log-format".into());
    args.push(policy.log_format.as_str().into());
    args
}

/// Runs every server of `configs`, the load balancer in `lb_dir` and the web admin in
/// `web_admin_dir`, until a signal, restarting those that die.
pub async fn run(
    configs: &[PathBuf],
    lb_dir: Option<&Path>,
    web_admin_dir: Option<&Path>,
    policy: Policy,
) -> CliResult {
    let exe = std::env::current_exe().context("cannot find the zato executable")?;
    let stop = CancellationToken::new();
    let pids: Arc<Mutex<HashMap<String, u32>>> = Arc::default();
    let mut servers = tokio::task::JoinSet::new();
    for config in configs {
        let dir = config.parent().unwrap_or(Path::new(".")).to_path_buf();
        let supervised = Supervised {
            name: name_of(&dir),
            what: "server",
            args: with_log(policy, vec!["start".into(), dir.into_os_string()]),
            exe: exe.clone(),
            pids: Arc::clone(&pids),
        };
        servers.spawn(supervised.run(policy, stop.clone()));
    }
    // Apart from the servers: when every server has been given up on, it stops too.
    let lb = lb_dir.map(|dir| {
        let supervised = Supervised {
            name: name_of(dir),
            what: "load balancer",
            args: with_log(
                policy,
                vec!["lb".into(), "start".into(), dir.as_os_str().to_owned()],
            ),
            exe: exe.clone(),
            pids: Arc::clone(&pids),
        };
        tokio::spawn(supervised.run(policy, stop.clone()))
    });
    let web_admin = web_admin_dir.map(|dir| {
        let supervised = Supervised {
            name: name_of(dir),
            what: "web admin",
            args: with_log(
                policy,
                vec![
                    "web-admin".into(),
                    "start".into(),
                    dir.as_os_str().to_owned(),
                ],
            ),
            exe: exe.clone(),
            pids: Arc::clone(&pids),
        };
        tokio::spawn(supervised.run(policy, stop.clone()))
    });
    let beside: Vec<&str> = [
        lb.as_ref().map(|_| "the load balancer"),
        web_admin.as_ref().map(|_| "the web admin"),
    ]
    .into_iter()
    .flatten()
    .collect();
    tracing::info!(
        "started {} servers{}; one that dies is restarted; Ctrl-C or SIGTERM stops them all",
        configs.len(),
        if beside.is_empty() {
            String::new()
        } else {
            format!(", {}", beside.join(" and "))
        }
    );
    let mut outcomes = Vec::new();
    tokio::select! {
        _ = super::wait_for_signal() => {}
        // Every server was given up on: nothing is left to supervise.
        _ = wait_all(&mut servers, &mut outcomes) => {}
    }
    stop.cancel();
    let running: Vec<u32> = pids
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .values()
        .copied()
        .collect();
    for pid in running {
        // The children stop gracefully on SIGTERM, as `zato start` does.
        let _ = tokio::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .await;
    }
    wait_all(&mut servers, &mut outcomes).await;
    for beside in [lb, web_admin].into_iter().flatten() {
        if let Ok(outcome) = beside.await {
            outcomes.push(outcome);
        }
    }
    let failed: Vec<String> = outcomes
        .into_iter()
        .filter_map(|outcome| match outcome {
            Outcome::Stopped { .. } => None,
            Outcome::GaveUp { name } | Outcome::Unclean { name } => Some(name),
        })
        .collect();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(CliError::new(
            ExitCode::Failed,
            format!("did not stop cleanly: {}", failed.join(", ")),
        ))
    }
}

/// A supervised process's name: its directory's (`server2`, `lb`).
fn name_of(dir: &Path) -> String {
    dir.file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned()
}

async fn wait_all(servers: &mut tokio::task::JoinSet<Outcome>, outcomes: &mut Vec<Outcome>) {
    while let Some(outcome) = servers.join_next().await {
        if let Ok(outcome) = outcome {
            outcomes.push(outcome);
        }
    }
}

/// How a supervised server ended.
enum Outcome {
    /// Stopped on request, cleanly.
    Stopped { _name: String },
    /// Stopped on request, but its process did not exit with success.
    Unclean { name: String },
    /// Died more often than the policy allows.
    GaveUp { name: String },
}

struct Supervised {
    name: String,
    /// What it is, for the log: `server` or `load balancer`.
    what: &'static str,
    /// `zato`'s arguments that run it.
    args: Vec<OsString>,
    exe: PathBuf,
    /// The process id of everything running now, for the signal handler.
    pids: Arc<Mutex<HashMap<String, u32>>>,
}

impl Supervised {
    async fn run(self, policy: Policy, stop: CancellationToken) -> Outcome {
        let mut restarts = Restarts::new(policy);
        loop {
            let started = Instant::now();
            let status = match self.run_once(&stop).await {
                Ok(status) => status,
                Err(e) => {
                    tracing::error!("cannot start {} `{}`: {e:#}", self.what, self.name);
                    None
                }
            };
            if stop.is_cancelled() {
                let clean = status.is_some_and(|s| s.success());
                let name = self.name;
                return if clean {
                    Outcome::Stopped { _name: name }
                } else {
                    Outcome::Unclean { name }
                };
            }
            let described = status.map_or("could not run".to_owned(), |s| s.to_string());
            let Some(wait) = restarts.next(started.elapsed(), Instant::now()) else {
                tracing::error!(
                    "{} `{}` exited ({described}) {} times within {} s: giving up on it; {}",
                    self.what,
                    self.name,
                    policy.max_restarts + 1,
                    RESTART_WINDOW.as_secs(),
                    match self.what {
                        "server" => "the other servers go on",
                        "load balancer" => "the servers go on, reachable only directly",
                        _ => "the servers go on",
                    }
                );
                return Outcome::GaveUp { name: self.name };
            };
            tracing::error!(
                "{} `{}` exited ({described}); restarting it in {} ms",
                self.what,
                self.name,
                wait.as_millis()
            );
            tokio::select! {
                _ = stop.cancelled() => return Outcome::Stopped { _name: self.name },
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Runs the server's process until it exits (`None`: it could not be waited for).
    async fn run_once(&self, stop: &CancellationToken) -> anyhow::Result<Option<ExitStatus>> {
        let mut child = tokio::process::Command::new(&self.exe)
            .args(&self.args)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start the {} `{}`", self.what, self.name))?;
        if let Some(pid) = child.id() {
            self.pids
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(self.name.clone(), pid);
        }
        // A stop requested before the pid was recorded would miss this child.
        if stop.is_cancelled() {
            let _ = child.start_kill();
        }
        let status = child.wait().await.ok();
        self.pids
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.name);
        Ok(status)
    }
}

/// When to restart a server that died, and when to give up on it.
struct Restarts {
    policy: Policy,
    /// When each restart within the window happened.
    recent: Vec<Instant>,
    backoff: Duration,
}

impl Restarts {
    fn new(policy: Policy) -> Self {
        Self {
            policy,
            recent: Vec::new(),
            backoff: policy.backoff,
        }
    }

    /// The wait before the next restart of a server that ran for `ran`, or `None` to
    /// give up on it.
    fn next(&mut self, ran: Duration, now: Instant) -> Option<Duration> {
        self.recent
            .retain(|at| now.saturating_duration_since(*at) < RESTART_WINDOW);
        if self.recent.len() >= self.policy.max_restarts {
            return None;
        }
        self.recent.push(now);
        if ran >= STABLE_AFTER {
            self.backoff = self.policy.backoff;
        }
        let wait = self.backoff;
        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
        Some(wait)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: Policy = Policy {
        backoff: Duration::from_millis(500),
        max_restarts: 3,
        log_format: crate::commands::start::LogFormat::Text,
    };

    #[test]
    fn every_supervised_process_is_told_the_log_format() {
        use clap::Parser as _;
        let policy = Policy {
            log_format: crate::commands::start::LogFormat::Json,
            ..POLICY
        };
        for args in [
            vec!["start", "env/server1"],
            vec!["lb", "start", "env/lb"],
            vec!["web-admin", "start", "env/web-admin"],
        ] {
            let args = with_log(policy, args.into_iter().map(OsString::from).collect());
            assert_eq!(args[args.len() - 2..], ["--log-format", "json"]);
            let parsed = crate::Cli::try_parse_from(
                std::iter::once(OsString::from("zato")).chain(args.iter().cloned()),
            );
            assert!(parsed.is_ok(), "{args:?}: {:?}", parsed.err());
        }
    }

    #[test]
    fn the_back_off_doubles_to_its_cap_and_starts_over_after_a_stable_run() {
        let mut restarts = Restarts::new(Policy {
            max_restarts: 100,
            ..POLICY
        });
        let now = Instant::now();
        let quick = Duration::from_millis(10);
        let waits: Vec<u64> = (0..8)
            .map(|_| restarts.next(quick, now).unwrap().as_millis() as u64)
            .collect();
        assert_eq!(waits, [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000]);
        assert_eq!(restarts.next(STABLE_AFTER, now), Some(POLICY.backoff));
    }

    #[test]
    fn a_server_that_keeps_dying_is_given_up_on_and_the_window_forgets() {
        let mut restarts = Restarts::new(POLICY);
        let now = Instant::now();
        let quick = Duration::from_millis(10);
        for _ in 0..POLICY.max_restarts {
            assert!(restarts.next(quick, now).is_some());
        }
        assert_eq!(restarts.next(quick, now), None, "given up after 3 restarts");
        // Restarts older than the window no longer count.
        let later = now + RESTART_WINDOW + Duration::from_secs(1);
        assert!(restarts.next(quick, later).is_some());
    }
}
