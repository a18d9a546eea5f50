//! zato-lb: the load balancer in front of a cluster. Clients talk only to it; it sends
//! each request to one of the cluster's servers, notices servers that go down or come
//! up, and never replays a request that may have had an effect.
//!
//! Layout (after pingora's load-balancing crate):
//! - `config`: `lb.toml`.
//! - `backend`: one backend (its health state, counters, latency histogram, pooled
//!   connections) and the set of them, swapped whole when membership changes.
//! - `selection/`: one module per algorithm (round-robin, least-connections, weighted).
//! - `health`: active checks of each backend's `/zato/ping`; passive ones happen in
//!   `proxy` (a refused connection takes a backend out at once).
//! - `discovery`: the backends, from the cluster's admin API (polled) and the file.
//! - `proxy`: one request: choose, forward (bodies streamed both ways), retry where safe.
//! - `endpoints`: the load balancer's own `/zato-lb-alive`, `/zato-lb-stats` and
//!   `/zato-lb-drain`.
//!
//! *Invariants*: a request whose body may have reached a backend is never sent to
//! another one unless its method is idempotent and its body was kept whole; no backend
//! up is a 503 at once, never a wait; the load balancer never depends on `zato-host`.

#![forbid(unsafe_code)]

mod backend;
pub mod config;
mod discovery;
mod endpoints;
mod health;
mod metrics;
mod proxy;
mod selection;
mod tls;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::net::TcpSocket;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use config::{Algorithm, CONFIG_FILE, LbConfig};

/// The file beside `lb.toml` where `zato lb start` writes the address of a load
/// balancer that binds port 0.
pub const ADDRESS_FILE: &str = "address";

/// How long a starting load balancer keeps trying an address in use.
const BIND_RETRY: Duration = Duration::from_secs(5);

/// A running load balancer.
pub struct Lb {
    addr: SocketAddr,
    tls: bool,
    shutdown: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

impl Lb {
    /// Starts a load balancer from `config`; relative paths in it are relative to
    /// `dir` (the directory of its `lb.toml`). It listens before it returns. Another
    /// load balancer answering on its address already is an error (two would split
    /// the clients between them): [`Lb::replace`] takes over from it.
    pub async fn start(config: LbConfig, dir: &Path) -> anyhow::Result<Self> {
        Self::start_taking_over(config, dir, false).await
    }

    /// Starts as [`Lb::start`] beside the load balancer listening on the same address,
    /// then asks that one to stop (SIGTERM): it stops accepting and lets its requests in
    /// flight finish, while this one takes every new connection. That is a restart
    /// that refuses no connection and fails no request.
    pub async fn replace(config: LbConfig, dir: &Path) -> anyhow::Result<Self> {
        Self::start_taking_over(config, dir, true).await
    }

    async fn start_taking_over(
        config: LbConfig,
        dir: &Path,
        replace: bool,
    ) -> anyhow::Result<Self> {
        config.check()?;
        let predecessor = running_at(&config, dir).await;
        match predecessor {
            Some(pid) if !replace => anyhow::bail!(
                "a load balancer (pid {pid}) listens on {} already; stop it, or take over \
                 from it with `zato lb start --replace`",
                config.bind
            ),
            None if replace => tracing::info!(
                "no load balancer answers on {} to take over from; starting anew",
                config.bind
            ),
            _ => {}
        }
        let socket = bind(&config.bind).await?;
        let addr = socket.local_addr()?;
        let shutdown = CancellationToken::new();
        let state = proxy::State::new(&config, dir, addr)?;
        if state.tls.is_none() {
            tracing::warn!(
                "the load balancer listens on plain HTTP ({addr}): fine for development, not \
                 beyond (`[tls]` in lb.toml; `zato quickstart create DIR --tls` sets it)"
            );
        }
        // Know the backends and which are up before taking a connection: a load
        // balancer replacing another takes its share of clients as soon as it listens.
        discovery::first(&state).await;
        health::first(&state).await;
        let listener = socket
            .listen(4096)
            .with_context(|| format!("cannot listen on {addr}"))?;
        let tasks = vec![
            tokio::spawn(discovery::run(Arc::clone(&state), shutdown.clone())),
            tokio::spawn(health::run(Arc::clone(&state), shutdown.clone())),
            tokio::spawn(proxy::serve(listener, Arc::clone(&state), shutdown.clone())),
        ];
        let mut tasks = tasks;
        if let Some(tls) = state.tls.clone() {
            let stop = shutdown.clone();
            tasks.push(tokio::spawn(async move {
                tls.watch("the load balancer", stop.cancelled_owned()).await;
            }));
        }
        tracing::info!(
            "load balancer listening on {addr} ({})",
            config.algorithm.name()
        );
        if let Some(pid) = predecessor
            && pid != std::process::id()
        {
            // Only a restart in place can lose queued connections: said when it happens.
            warn_without_migration();
            tracing::info!("listening beside the load balancer with pid {pid}; asking it to stop");
            // `kill` rather than a signal call: this crate has no unsafe code.
            let stopped = std::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
            if !stopped.is_ok_and(|s| s.success()) {
                tracing::warn!(
                    "could not signal the load balancer with pid {pid}; stop it by hand"
                );
            }
        }
        Ok(Self {
            addr,
            tls: state.tls.is_some(),
            shutdown,
            tasks,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Whether clients speak HTTPS to it.
    pub fn tls(&self) -> bool {
        self.tls
    }

    /// A token that stops the load balancer when cancelled (e.g. by a signal handler).
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Waits until asked to stop, then stops: no new connections, requests in flight
    /// finish.
    pub async fn run_until_stopped(self) {
        self.shutdown.cancelled().await;
        self.stop().await;
    }

    pub async fn stop(self) {
        self.shutdown.cancel();
        for task in self.tasks {
            let _ = task.await;
        }
        tracing::info!("load balancer stopped");
    }
}

/// The pid of the load balancer answering on `config.bind`, if one does (never on port
/// 0). Over TLS when `config` has it, trusting the backends' CA, which signs the load
/// balancer's certificate too in an environment made with `--tls`.
async fn running_at(config: &LbConfig, dir: &Path) -> Option<u32> {
    let bind = &config.bind;
    if bind.ends_with(":0") {
        return None;
    }
    let ca = match &config.backend_tls {
        Some(tls) => Some(std::fs::read(dir.join(&tls.ca)).ok()?),
        None => None,
    };
    let http = zato_api::tls::http_client(
        reqwest::Client::builder().timeout(Duration::from_millis(500)),
        ca.as_deref(),
    )
    .ok()?;
    let scheme = if config.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let stats: zato_api::lb::LbStats = http
        .get(format!("{scheme}://{bind}/zato-lb-stats"))
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    Some(stats.pid)
}

/// A load balancer restarted in place listens beside the old one, which then closes
/// its listener: connections queued on that listener and not yet accepted are reset,
/// unless the kernel hands them over (`net.ipv4.tcp_migrate_req`, Linux 5.14+).
fn warn_without_migration() {
    const SYSCTL: &str = "/proc/sys/net/ipv4/tcp_migrate_req";
    if std::fs::read_to_string(SYSCTL).is_ok_and(|v| v.trim() == "0") {
        tracing::warn!(
            "net.ipv4.tcp_migrate_req is 0: restarting this load balancer in place may reset \
             a few connections queued at that moment; `sysctl -w net.ipv4.tcp_migrate_req=1` \
             hands them to the new one"
        );
    }
}

/// The path of `lb.toml` in a load balancer's directory.
pub fn config_path(dir: &Path) -> PathBuf {
    dir.join(CONFIG_FILE)
}

/// Binds `addr` with SO_REUSEPORT, so that a new load balancer can listen beside the
/// one it replaces (which then stops accepting and drains), and tries again for a few
/// seconds while an address is in use by something else.
async fn bind(addr: &str) -> anyhow::Result<TcpSocket> {
    let addr: SocketAddr = tokio::net::lookup_host(addr)
        .await
        .with_context(|| format!("cannot resolve the load balancer's bind address `{addr}`"))?
        .next()
        .with_context(|| format!("`{addr}` resolves to no address"))?;
    let started = std::time::Instant::now();
    loop {
        let socket = if addr.is_ipv4() {
            tokio::net::TcpSocket::new_v4()?
        } else {
            tokio::net::TcpSocket::new_v6()?
        };
        socket.set_reuseaddr(true)?;
        socket.set_reuseport(true)?;
        match socket.bind(addr) {
            Ok(()) => return Ok(socket),
            Err(e)
                if e.kind() == std::io::ErrorKind::AddrInUse && started.elapsed() < BIND_RETRY =>
            {
                tracing::warn!("{addr} is in use; trying again");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => return Err(e).with_context(|| format!("cannot listen on {addr}")),
        }
    }
}
