//! A running server: the runtime, the ODB, the KVDB, the deploy pipeline, the HTTP
//! listener, the pickup watcher and the background loops, started and stopped together.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::admin::{self, AdminAuth, AdminState};
use crate::channel::http::{self, Channels, HttpState};
use crate::config::ServerConfig;
use crate::deploy::{Deployer, NOTICES, Notice, Startup};
use crate::kvdb::{self, BrokerEvent};
use crate::odb::{Odb, SqlOdb, VersionRef};
use crate::runtime::Runtime;

pub struct Server {
    addr: SocketAddr,
    name: String,
    deployer: Arc<Deployer>,
    startup: Arc<Startup>,
    odb: Arc<dyn Odb>,
    shutdown: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

impl Server {
    /// Starts a server and returns once it listens. The services in the ODB are loaded
    /// in the background: [`Server::loaded`] waits for them (see `deploy::startup`).
    pub async fn start(config: ServerConfig) -> anyhow::Result<Self> {
        let started = Instant::now();
        let runtime =
            Runtime::new(config.runtime.clone()).context("cannot start the WebAssembly runtime")?;
        let odb: Arc<dyn Odb> = Arc::new(
            SqlOdb::connect(&config.odb)
                .await
                .with_context(|| format!("cannot open the ODB at `{}`", config.odb))?,
        );
        let (kvdb, broker) = kvdb::open(&config.kvdb, &config.cluster).await?;
        let listener = TcpListener::bind(&config.bind)
            .await
            .with_context(|| format!("cannot listen on `{}`", config.bind))?;
        let addr = listener.local_addr()?;
        let deployer = Arc::new(Deployer::new(
            runtime.clone(),
            odb.clone(),
            kvdb,
            broker.clone(),
            config.name.clone(),
            config.deploy.auto_http_channels,
        ));
        let channels = Arc::new(Channels::new(odb.clone()));
        let shutdown = CancellationToken::new();

        odb.register_server(
            &config.name,
            &http::base_url(addr),
            i64::from(std::process::id()),
        )
        .await?;
        // Subscribe before loading, so nothing published in between is missed.
        let notices = broker.subscribe(NOTICES).await?;
        channels.reload().await?;
        let startup = Arc::new(Startup::default());
        let todo = deployer.plan_load(&startup).await?;

        let auth = Arc::new(AdminAuth::new(
            config.admin.username.clone(),
            config.admin.password_hash.clone(),
        )?);
        let admin_state = Arc::new(AdminState {
            deployer: deployer.clone(),
            odb: odb.clone(),
            channels: channels.clone(),
            server_name: config.name.clone(),
            address: http::base_url(addr),
            started,
            dead_after_ms: config.membership.dead_after_ms as i64,
        });
        let http_state = Arc::new(HttpState {
            runtime: runtime.clone(),
            channels: channels.clone(),
            admin: admin::router(admin_state, auth, config.runtime.max_component_bytes),
            settings: config.http.clone(),
            server_name: config.name.clone(),
            startup: startup.clone(),
        });

        let mut tasks = vec![tokio::spawn(http::serve(
            listener,
            http_state,
            shutdown.clone(),
        ))];
        tasks.push(tokio::spawn(load_services(
            todo,
            deployer.clone(),
            channels.clone(),
            startup.clone(),
            shutdown.clone(),
        )));
        tasks.push(tokio::spawn(follow_notices(
            notices,
            deployer.clone(),
            channels.clone(),
            startup.clone(),
            shutdown.clone(),
        )));
        tasks.push(tokio::spawn(reconcile_loop(
            deployer.clone(),
            channels.clone(),
            startup.clone(),
            Duration::from_millis(config.deploy.reconcile_interval_ms.max(100)),
            shutdown.clone(),
        )));
        tasks.push(tokio::spawn(heartbeat(
            odb.clone(),
            config.name.clone(),
            Duration::from_millis(config.membership.heartbeat_ms.max(100)),
            shutdown.clone(),
        )));
        if let Some(dir) = &config.pickup_dir {
            tasks.push(crate::pickup::spawn(
                dir,
                deployer.clone(),
                Duration::from_millis(config.deploy.pickup_debounce_ms),
                config.deploy.pickup_delete_deployed,
                shutdown.clone(),
            )?);
        }
        tracing::info!(
            server = %config.name,
            "listening on {} ({:?} allocator, in {} ms)",
            http::base_url(addr),
            runtime.allocator(),
            started.elapsed().as_millis()
        );
        Ok(Self {
            addr,
            name: config.name,
            deployer,
            startup,
            odb,
            shutdown,
            tasks,
        })
    }

    /// Returns once the services that were in the ODB at start are loaded (or refused).
    pub async fn loaded(&self) {
        self.startup.wait().await;
    }

    pub fn startup(&self) -> &Arc<Startup> {
        &self.startup
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn deployer(&self) -> &Arc<Deployer> {
        &self.deployer
    }

    /// A token that stops the server when cancelled (e.g. by a signal handler).
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Waits until the server is asked to stop, then stops it.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        self.shutdown.cancelled().await;
        self.stop().await
    }

    /// Stops accepting work, lets requests in flight finish, and deregisters.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        for task in self.tasks {
            let _ = task.await;
        }
        self.odb.deregister_server(&self.name).await?;
        tracing::info!(server = %self.name, "stopped");
        Ok(())
    }
}

/// The first load of the ODB's services, while the server already listens.
async fn load_services(
    todo: Vec<VersionRef>,
    deployer: Arc<Deployer>,
    channels: Arc<Channels>,
    startup: Arc<Startup>,
    shutdown: CancellationToken,
) {
    tokio::select! {
        // A server stopped while loading never reports itself loaded.
        _ = shutdown.cancelled() => {}
        _ = deployer.load(todo, &startup) => {
            if let Err(e) = channels.reload().await {
                tracing::warn!("reloading channels failed: {e:#}");
            }
            startup.finish();
        }
    }
}

async fn follow_notices(
    mut notices: tokio::sync::mpsc::Receiver<BrokerEvent>,
    deployer: Arc<Deployer>,
    channels: Arc<Channels>,
    startup: Arc<Startup>,
    shutdown: CancellationToken,
) {
    loop {
        let event = tokio::select! {
            _ = shutdown.cancelled() => return,
            event = notices.recv() => match event {
                Some(event) => event,
                None => return,
            },
        };
        let notice = match event {
            BrokerEvent::Message(payload) => match serde_json::from_slice::<Notice>(&payload) {
                Ok(notice) => notice,
                Err(e) => {
                    tracing::warn!("ignoring an unreadable notice: {e}");
                    continue;
                }
            },
            // While the first load runs, the reconcile loop has yet to start: it will
            // catch up on what the lost connection missed.
            BrokerEvent::Reconnected if startup.is_loading() => continue,
            BrokerEvent::Reconnected => {
                if let Err(e) = deployer.reconcile().await {
                    tracing::warn!("reconcile after reconnecting failed: {e}");
                }
                continue;
            }
        };
        let result = match notice {
            Notice::Service {
                name,
                version,
                sha256,
                deleted,
            } => {
                deployer
                    .apply(&VersionRef {
                        name,
                        version,
                        sha256,
                        deleted,
                    })
                    .await;
                Ok(())
            }
            Notice::Channels => channels.reload().await,
            Notice::Config => deployer.reload_configs().await.map_err(Into::into),
        };
        if let Err(e) = result {
            tracing::warn!("cannot apply a notice (the next reconcile will): {e:#}");
        }
    }
}

/// Pub/sub is at-most-once: reconciling with the ODB turns a lost notice into a delay.
async fn reconcile_loop(
    deployer: Arc<Deployer>,
    channels: Arc<Channels>,
    startup: Arc<Startup>,
    every: Duration,
    shutdown: CancellationToken,
) {
    // Until the first load is done, a reconcile would only redo its work one by one.
    tokio::select! {
        _ = shutdown.cancelled() => return,
        _ = startup.wait() => {}
    }
    let mut ticker = tokio::time::interval(every);
    ticker.tick().await;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = ticker.tick() => {}
        }
        if let Err(e) = deployer.reconcile().await {
            tracing::warn!("reconcile failed: {e}");
        }
        if let Err(e) = channels.reload().await {
            tracing::warn!("reloading channels failed: {e:#}");
        }
    }
}

async fn heartbeat(odb: Arc<dyn Odb>, name: String, every: Duration, shutdown: CancellationToken) {
    let mut ticker = tokio::time::interval(every);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = ticker.tick() => {}
        }
        if let Err(e) = odb.touch_server(&name).await {
            tracing::warn!("heartbeat failed: {e}");
        }
    }
}
