//! `/`: the cluster at a glance: its servers, how many services and channels, the
//! latest deploys. (The admin API says nothing of a load balancer, so neither does this
//! page.)

use askama::Template;
use axum::extract::{Extension, State};
use axum::response::Response;
use zato_api::ServerState;

use super::{format_ago, format_time, short_sha};
use crate::app::{Chrome, PageError, Shared, render, seg};
use crate::auth::Session;

/// How many deploys the dashboard lists.
const RECENT: usize = 10;

struct ServerRow {
    name: String,
    state: &'static str,
    address: String,
    last_seen: String,
    started: String,
    pid: i64,
    services: usize,
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
}

/// `GET /`.
pub async fn show(
    State(app): Shared,
    Extension(session): Extension<Session>,
) -> Result<Response, PageError> {
    let cluster = app.cluster(&session)?;
    let (servers, services, channels) = tokio::try_join!(
        app.clusters
            .call(&cluster, true, |c| async move { c.servers().await }),
        app.clusters
            .call(&cluster, true, |c| async move { c.services().await }),
        app.clusters
            .call(&cluster, true, |c| async move { c.http_channels().await }),
    )?;
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
            .map(|s| ServerRow {
                state: s.state.as_str(),
                last_seen: format_ago(s.last_seen),
                started: format_time(s.started_at),
                services: s.services.len(),
                name: s.name,
                address: s.address,
                pid: s.pid,
            })
            .collect(),
        services: services.len(),
        channels: channels.len(),
        recent,
    };
    Ok(render(&page))
}
