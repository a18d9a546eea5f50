//! Which backends there are: those of `lb.toml`, and the cluster's running servers
//! from the admin API of any live one (`GET /zato/api/servers`), asked every
//! `cluster.poll_ms`. A server that registers appears (and gets requests once its health
//! checks pass); one that stops or is `gone` disappears. When no server answers, the
//! list stays as it is: the health checks say which of them are down.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use zato_api::lb::BackendSource;
use zato_api::{AdminClient, ServerInfo, ServerState};

use crate::backend::Backend;
use crate::config::{ClusterSource, Credentials};
use crate::proxy::State;

/// The admin API client: trusting the backends' CA when they speak TLS.
fn client(state: &State) -> reqwest::Client {
    let builder = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(1))
        .timeout(Duration::from_secs(2));
    let ca = state.backend_tls.as_ref().map(|tls| tls.ca_pem.as_slice());
    zato_api::tls::http_client(builder, ca)
        .expect("the CA was checked when the load balancer started")
}

/// The first look at the cluster, before the load balancer listens.
pub async fn first(state: &State) {
    let Some(cluster) = &state.config.cluster else {
        return;
    };
    match servers(&client(state), cluster, &state.dir, state).await {
        Ok(servers) => update(state, &servers),
        // Usual when the servers start with it: they come in on a later round.
        Err(e) => tracing::info!("the cluster's servers are not known yet ({e}); asking again"),
    }
}

pub async fn run(state: Arc<State>, shutdown: CancellationToken) {
    let Some(cluster) = state.config.cluster.clone() else {
        return;
    };
    let http = client(&state);
    let mut tick = tokio::time::interval(Duration::from_millis(cluster.poll_ms.max(1)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // `first` has just asked.
    tick.tick().await;
    // `first` said it if the cluster did not answer.
    let mut complained = state.backends.load().is_empty();
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        match servers(&http, &cluster, &state.dir, &state).await {
            Ok(servers) => {
                complained = false;
                update(&state, &servers);
            }
            Err(e) if !complained => {
                complained = true;
                tracing::warn!(
                    "cannot read the cluster's servers: {e}; keeping the backends known"
                );
            }
            Err(_) => {}
        }
    }
}

/// The cluster's servers, from the first admin API that answers: the configured ones,
/// the addresses in the address files, then the servers already known.
async fn servers(
    http: &reqwest::Client,
    cluster: &ClusterSource,
    dir: &Path,
    state: &State,
) -> Result<Vec<ServerInfo>, String> {
    let credentials = read_credentials(&dir.join(&cluster.credentials))?;
    let mut urls: Vec<String> = cluster.admin_urls.clone();
    let scheme = crate::tls::scheme(state.backend_tls.as_ref());
    for file in &cluster.address_files {
        if let Ok(address) = std::fs::read_to_string(dir.join(file)) {
            urls.push(format!("{scheme}://{}", address.trim()));
        }
    }
    for backend in state.backends.load().iter() {
        if backend.source == BackendSource::Cluster {
            urls.push(format!("{scheme}://{}", backend.address));
        }
    }
    urls.dedup();
    if urls.is_empty() {
        return Err("no admin API address is known yet".into());
    }
    let mut errors = Vec::new();
    for url in urls {
        let client = AdminClient::with_client(
            http.clone(),
            url.clone(),
            &credentials.username,
            &credentials.password,
        );
        match client.servers().await {
            Ok(servers) => return Ok(servers),
            Err(e) => errors.push(format!("{url}: {e}")),
        }
    }
    Err(errors.join("; "))
}

fn read_credentials(path: &PathBuf) -> Result<Credentials, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
    toml::from_str(&text).map_err(|e| format!("invalid `{}`: {e}", path.display()))
}

/// The new backend list: the static backends, then the running servers, each kept
/// with its counters and health if it was known.
fn update(state: &State, servers: &[ServerInfo]) {
    let current = state.backends.load();
    let known: HashMap<(&str, BackendSource), &Arc<Backend>> = current
        .iter()
        .map(|b| ((b.address.as_str(), b.source), b))
        .collect();
    let mut next: Vec<Arc<Backend>> = current
        .iter()
        .filter(|b| b.source == BackendSource::Static)
        .cloned()
        .collect();
    for server in servers {
        if server.state != ServerState::Running {
            continue;
        }
        let address = server
            .address
            .trim_start_matches("http://")
            .trim_start_matches("https://")
            .trim_end_matches('/')
            .to_owned();
        if next.iter().any(|b| b.address == address) {
            continue;
        }
        match known.get(&(address.as_str(), BackendSource::Cluster)) {
            Some(backend) => next.push(Arc::clone(backend)),
            None => {
                tracing::info!(
                    "server `{}` at {address} joined; it gets requests once its health checks pass",
                    server.name
                );
                next.push(Arc::new(Backend::new(
                    address,
                    Some(server.name.clone()),
                    BackendSource::Cluster,
                    1,
                )));
            }
        }
    }
    for backend in current.iter() {
        if backend.source == BackendSource::Cluster && !next.iter().any(|b| Arc::ptr_eq(b, backend))
        {
            tracing::info!(
                "server `{}` at {} left the cluster; its requests in flight finish",
                backend.name.as_deref().unwrap_or("?"),
                backend.address
            );
        }
    }
    let changed = next.len() != current.len()
        || next
            .iter()
            .zip(current.iter())
            .any(|(a, b)| !Arc::ptr_eq(a, b));
    if changed {
        state.backends.store(next);
    }
}
