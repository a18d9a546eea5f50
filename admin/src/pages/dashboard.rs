//! `/`: the cluster at a glance: its servers, the load balancer in front of them (from
//! its own `/zato-lb-stats`, when the cluster has one), how many services and channels,
//! the latest deploys.

use askama::Template;
use axum::extract::{Extension, State};
use axum::response::Response;
use zato_api::ServerState;

use super::{format_ago, format_time, short_sha};
use crate::app::{Chrome, PageError, Shared, render, seg};
use crate::auth::Session;

/// How many deploys the dashboard lists.
const RECENT: usize = 10;

/// How many lagging services a server's row names before it only counts the rest.
const LAGGING_NAMED: usize = 5;

struct ServerRow {
    name: String,
    state: &'static str,
    address: String,
    last_seen: String,
    started: String,
    pid: i64,
    services: usize,
    /// The services this server does not run at their latest version, as
    /// `name vN of vM` (`name none of vM` when it runs none), the first few only.
    lagging: Vec<String>,
    /// How many lag in all.
    lagging_count: usize,
}

/// The services that `running` (a server's name -> version) does not hold at the
/// version `latest` says, named as the dashboard shows them, in name order.
fn lagging(
    running: &std::collections::BTreeMap<String, i64>,
    latest: &[zato_api::services::ServiceSummary],
) -> Vec<String> {
    let mut behind: Vec<String> = latest
        .iter()
        .filter(|s| running.get(&s.name) != Some(&s.version))
        .map(|s| match running.get(&s.name) {
            Some(v) => format!("{} v{v} of v{}", s.name, s.version),
            None => format!("{} none of v{}", s.name, s.version),
        })
        .collect();
    behind.sort();
    behind
}

/// The load balancer in front of the cluster.
struct LbView {
    url: String,
    /// Why its statistics are missing, when they are.
    error: Option<String>,
    algorithm: String,
    backends: Vec<BackendRow>,
}

struct BackendRow {
    name: String,
    address: String,
    state: &'static str,
    requests: u64,
    errors: u64,
    p99_ms: String,
}

impl LbView {
    fn of(url: String, stats: Result<zato_api::lb::LbStats, String>) -> Self {
        match stats {
            Err(error) => Self {
                url,
                error: Some(error),
                algorithm: String::new(),
                backends: Vec::new(),
            },
            Ok(stats) => Self {
                url,
                error: None,
                algorithm: stats.algorithm,
                backends: stats
                    .backends
                    .into_iter()
                    .map(|b| BackendRow {
                        name: b.name.unwrap_or_else(|| "-".into()),
                        state: match b.state {
                            zato_api::lb::BackendState::Up => "up",
                            zato_api::lb::BackendState::Down => "down",
                            zato_api::lb::BackendState::Draining => "draining",
                        },
                        address: b.address,
                        requests: b.requests,
                        errors: b.errors,
                        p99_ms: format!("{:.1} ms", b.p99_ms),
                    })
                    .collect(),
            },
        }
    }
}

struct RecentRow {
    name: String,
    link: String,
    version: i64,
    deployed_at: String,
    sha: String,
    source: String,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    chrome: Chrome,
    servers: Vec<ServerRow>,
    running: usize,
    services: usize,
    channels: usize,
    recent: Vec<RecentRow>,
    lb: Option<LbView>,
}

/// `GET /`.
pub async fn show(
    State(app): Shared,
    Extension(session): Extension<Session>,
) -> Result<Response, PageError> {
    let cluster = app.cluster(&session)?;
    let (answers, lb) = tokio::join!(
        async {
            tokio::try_join!(
                app.clusters
                    .call(&cluster, true, |c| async move { c.servers().await }),
                app.clusters
                    .call(&cluster, true, |c| async move { c.services().await }),
                app.clusters
                    .call(&cluster, true, |c| async move { c.http_channels().await }),
            )
        },
        app.clusters.lb_stats(&cluster),
    );
    let (servers, services, channels) = answers?;
    let mut recent: Vec<_> = services.iter().collect();
    recent.sort_by_key(|s| std::cmp::Reverse(s.deployed_at));
    let recent = recent
        .into_iter()
        .take(RECENT)
        .map(|s| RecentRow {
            name: s.name.clone(),
            link: seg(&s.name),
            version: s.version,
            deployed_at: format_time(s.deployed_at),
            sha: short_sha(&s.sha256).to_owned(),
            source: s.source.clone(),
        })
        .collect();
    let page = DashboardPage {
        chrome: app.chrome(&session, "dashboard"),
        running: servers
            .iter()
            .filter(|s| s.state == ServerState::Running)
            .count(),
        servers: servers
            .into_iter()
            .map(|s| {
                let mut lagging = lagging(&s.services, &services);
                let lagging_count = lagging.len();
                lagging.truncate(LAGGING_NAMED);
                ServerRow {
                    state: s.state.as_str(),
                    last_seen: format_ago(s.last_seen),
                    started: format_time(s.started_at),
                    services: s.services.len(),
                    name: s.name,
                    address: s.address,
                    pid: s.pid,
                    lagging,
                    lagging_count,
                }
            })
            .collect(),
        services: services.len(),
        channels: channels.len(),
        recent,
        lb: lb.map(|(url, stats)| LbView::of(url, stats)),
    };
    Ok(render(&page))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn service(name: &str, version: i64) -> zato_api::services::ServiceSummary {
        zato_api::services::ServiceSummary {
            name: name.to_owned(),
            version,
            running_version: Some(version),
            sha256: "00".to_owned(),
            size: 1,
            description: String::new(),
            deployed_at: 0,
            source: "api".to_owned(),
        }
    }

    #[test]
    fn a_server_lags_on_an_older_version_and_on_a_missing_service() {
        let latest = [service("b", 3), service("a", 2), service("c", 1)];
        let running = BTreeMap::from([("a".to_owned(), 2), ("b".to_owned(), 2)]);
        assert_eq!(lagging(&running, &latest), ["b v2 of v3", "c none of v1"]);
        let running = BTreeMap::from([
            ("a".to_owned(), 2),
            ("b".to_owned(), 3),
            ("c".to_owned(), 1),
        ]);
        assert!(lagging(&running, &latest).is_empty());
    }
}
