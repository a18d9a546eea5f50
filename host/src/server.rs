//! A running server: the runtime, the ODB, the KVDB, the deploy pipeline, the HTTP
//! listener, the pickup watcher and the background loops, started and stopped together.
//!
//! This is where the parts are wired, and the one place that knows them all: a new
//! reloadable kind of configuration is registered here (one line), a new channel kind
//! is started here (one line), a new host capability is linked in `runtime.rs`.

mod dictionaries;
mod loops;
mod msg_channels;
mod outconns;
mod startup;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::admin::{self, AdminAuth, AdminState};
use crate::channel::http::{self, AutoHttpChannels, Channels, HttpState};
use crate::config::ServerConfig;
use crate::deploy::{ConfigsReload, DeployHook, Deployer, ServicesReload};
use crate::kvdb;
use crate::odb::{Odb, SqlOdb};
use crate::reload::{Kind, NOTICES, Notifier, Reloadable as _, Reloader};
use crate::runtime::Runtime;
use crate::scheduler::Scheduler;
pub use startup::Startup;

/// How often a starting server tries again an address in use.
const BIND_RETRY_EVERY: Duration = Duration::from_millis(250);

pub struct Server {
    addr: SocketAddr,
    name: String,
    deployer: Arc<Deployer>,
    startup: Arc<Startup>,
    odb: Arc<dyn Odb>,
    /// The same ODB, to close its pool when the server stops.
    sql_odb: Arc<SqlOdb>,
    shutdown: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

impl Server {
    /// Starts a server and returns once it listens. The services in the ODB are loaded
    /// in the background: [`Server::loaded`] waits for them (see `deploy/load.rs`).
    pub async fn start(config: ServerConfig) -> anyhow::Result<Self> {
        let started = Instant::now();
        let runtime =
            Runtime::new(config.runtime.clone()).context("cannot start the WebAssembly runtime")?;
        let sql_odb = Arc::new(
            SqlOdb::connect(&config.odb)
                .await
                .with_context(|| format!("cannot open the ODB at `{}`", config.odb))?,
        );
        let odb: Arc<dyn Odb> = sql_odb.clone();
        let (kvdb, broker) = kvdb::open(&config.kvdb, &config.cluster).await?;
        let scheduler_kvdb = kvdb.clone();
        let async_queue = Arc::new(crate::invoke_async::AsyncQueue::new(
            kvdb.clone(),
            Duration::from_secs(config.async_invoke.keep_outcomes_s.max(1)),
        ));
        runtime.set_async_queue(async_queue.clone());
        runtime.set_kvdb(kvdb.clone());
        let stats_recorder = config.stats.enabled.then(|| {
            let recorder = Arc::new(crate::stats::Recorder::new(
                config.name.clone(),
                config.stats.clone(),
            ));
            runtime.set_stats(recorder.clone());
            recorder
        });
        // Read before binding: a certificate that cannot serve stops the start with the
        // file it names, before any client can connect.
        let tls = config
            .tls
            .as_ref()
            .map(|tls| {
                zato_api::tls::ServerTls::load(
                    zato_api::tls::TlsFiles {
                        cert: tls.cert.clone(),
                        key: tls.key.clone(),
                    },
                    true,
                )
            })
            .transpose()
            .map_err(|e| anyhow::anyhow!("cannot serve TLS: {e}"))?;
        let listener = bind(
            &config.bind,
            Duration::from_millis(config.http.bind_retry_ms),
        )
        .await?;
        let addr = listener.local_addr()?;
        let notifier = Arc::new(Notifier::new(broker.clone()));
        let channels = Arc::new(Channels::new(odb.clone()));
        let mut hooks: Vec<Arc<dyn DeployHook>> = Vec::new();
        if config.deploy.auto_http_channels {
            hooks.push(Arc::new(AutoHttpChannels::new(
                channels.clone(),
                odb.clone(),
                notifier.clone(),
            )));
        }
        let deployer = Arc::new(Deployer::new(
            runtime.clone(),
            odb.clone(),
            kvdb,
            notifier.clone(),
            config.name.clone(),
            hooks,
            config.deploy.keep_versions,
        ));
        // Every reloadable kind, in reload order: what others depend on comes first
        // (a service never runs without its configuration; a channel names a service).
        let mut reloader = Reloader::new(notifier);
        reloader.register(
            Kind::ServiceConfigs,
            Arc::new(ConfigsReload(deployer.clone())),
        );
        reloader.register(Kind::Services, Arc::new(ServicesReload(deployer.clone())));
        reloader.register(Kind::HttpChannels, channels.clone());
        let revocations = Arc::new(http::RevocationsReload::new(
            scheduler_kvdb.clone(),
            channels.revocations().clone(),
        ));
        reloader.register(Kind::JwtRevocations, revocations.clone());
        let scheduler = Scheduler::new(
            odb.clone(),
            scheduler_kvdb.clone(),
            reloader.notifier().clone(),
            config.name.clone(),
            config.scheduler.clone(),
        );
        reloader.register(Kind::Jobs, scheduler.clone());
        scheduler
            .singleton_lease()
            .register(Arc::new(crate::stats::Rollup::new(
                scheduler_kvdb.clone(),
                config.stats.clone(),
            )));
        let outconns = Arc::new(outconns::OutconnsReload::new(odb.clone(), runtime.clone()));
        reloader.register(Kind::Outconns, outconns.clone());
        let shutdown = CancellationToken::new();
        let amqp_channels = crate::channel::amqp::AmqpChannels::new(
            runtime.clone(),
            scheduler.singleton_lease(),
            config.name.clone(),
            shutdown.clone(),
        );
        let zmq_channels = crate::channel::zmq::ZmqChannels::new(
            runtime.clone(),
            scheduler_kvdb.clone(),
            scheduler.singleton_lease(),
            config.name.clone(),
            shutdown.clone(),
        );
        let msg_channels = Arc::new(msg_channels::MsgChannelsReload::new(
            odb.clone(),
            amqp_channels,
            zmq_channels,
        ));
        reloader.register(Kind::MsgChannels, msg_channels.clone());
        let dictionaries = Arc::new(dictionaries::DictionariesReload::new(
            odb.clone(),
            runtime.clone(),
        ));
        reloader.register(Kind::Dictionaries, dictionaries.clone());
        let auth = Arc::new(AdminAuth::new(
            config.admin.username.clone(),
            config.admin.password_hash.clone(),
            config.admin.login.clone(),
        )?);
        let users = Arc::new(admin::UsersReload {
            auth: auth.clone(),
            odb: odb.clone(),
        });
        reloader.register(Kind::AdminUsers, users.clone());
        let reloader = Arc::new(reloader);

        odb.register_server(
            &config.name,
            &http::base_url(addr, tls.is_some()),
            i64::from(std::process::id()),
        )
        .await?;
        // Subscribe before loading, so nothing published in between is missed.
        let notices = broker.subscribe(NOTICES).await?;
        channels.reload().await?;
        revocations.reload().await?;
        // Before any service runs, so that its first call finds its connections and
        // its translations.
        outconns.reload().await?;
        dictionaries.reload().await?;
        users.reload().await?;
        let startup = Arc::new(Startup::default());
        let todo = deployer.plan_load(startup.progress()).await?;

        let admin_state = Arc::new(AdminState {
            deployer: deployer.clone(),
            odb: odb.clone(),
            channels: channels.clone(),
            reloader: reloader.clone(),
            scheduler: scheduler.clone(),
            kvdb: scheduler_kvdb.clone(),
            stats: config.stats.clone(),
            server_name: config.name.clone(),
            address: http::base_url(addr, tls.is_some()),
            started,
            dead_after_ms: config.membership.dead_after_ms as i64,
            auth: auth.clone(),
        });
        let system = startup::ping_route(
            admin::router(admin_state, auth, config.runtime.max_component_bytes),
            startup.clone(),
            config.name.clone(),
        );
        let http_state = Arc::new(HttpState {
            runtime: runtime.clone(),
            channels: channels.clone(),
            system,
            settings: config.http.clone(),
            kvdb: scheduler_kvdb.clone(),
            reloader: reloader.clone(),
            tls: tls.clone(),
        });

        let mut tasks = vec![tokio::spawn(http::serve(
            listener,
            http_state,
            shutdown.clone(),
        ))];
        tasks.push(tokio::spawn(loops::load_services(
            todo,
            deployer.clone(),
            reloader.clone(),
            startup.clone(),
            shutdown.clone(),
        )));
        tasks.push(tokio::spawn(loops::follow_notices(
            notices,
            deployer.clone(),
            reloader.clone(),
            startup.clone(),
            shutdown.clone(),
        )));
        tasks.push(tokio::spawn(loops::reconcile(
            reloader.clone(),
            startup.clone(),
            Duration::from_millis(config.deploy.reconcile_interval_ms.max(100)),
            shutdown.clone(),
        )));
        let ready = {
            let startup = startup.clone();
            async move { startup.wait().await }
        };
        tasks.extend(scheduler.spawn(runtime.clone(), ready, shutdown.clone()));
        tasks.push(
            crate::invoke_async::AsyncWorker::new(
                runtime.clone(),
                async_queue,
                config.name.clone(),
                config.async_invoke.clone(),
            )
            .spawn(
                {
                    let startup = startup.clone();
                    async move { startup.wait().await }
                },
                shutdown.clone(),
            ),
        );
        tasks.push(tokio::spawn({
            // Messaging channels start consuming once the services they call are loaded.
            let startup = startup.clone();
            let shutdown = shutdown.clone();
            async move {
                tokio::select! {
                    _ = shutdown.cancelled() => {}
                    _ = startup.wait() => {
                        if let Err(e) = msg_channels.reload().await {
                            tracing::warn!("cannot load the messaging channels (the next reconcile will): {e:#}");
                        }
                    }
                }
            }
        }));
        if let Some(tls) = tls.clone() {
            let stop = shutdown.clone();
            tasks.push(tokio::spawn(async move {
                tls.watch("the HTTP listener", stop.cancelled_owned()).await;
            }));
        }
        if let Some(recorder) = stats_recorder {
            let flusher = crate::stats::Flusher::new(recorder, scheduler_kvdb.clone());
            tasks.push(tokio::spawn(flusher.run(shutdown.clone())));
        }
        tasks.push(tokio::spawn(loops::heartbeat(
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
        if tls.is_none() {
            tracing::warn!(
                server = %config.name,
                "plain HTTP on {addr}: credentials and payloads cross the network unencrypted; \
                 fine for development, not beyond (`zato quickstart create DIR --tls` makes an \
                 environment with a CA and a certificate for each server, or set [tls] cert \
                 and key in server.toml)"
            );
        }
        tracing::info!(
            server = %config.name,
            "listening on {} ({:?} allocator, in {} ms)",
            http::base_url(addr, tls.is_some()),
            runtime.allocator(),
            started.elapsed().as_millis()
        );
        Ok(Self {
            addr,
            name: config.name,
            deployer,
            startup,
            odb,
            sql_odb,
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
        // A connection still held elsewhere (a request that outlived the grace) must not
        // hold the stop: its close waits at most this long.
        let _ = tokio::time::timeout(Duration::from_secs(5), self.sql_odb.close()).await;
        tracing::info!(server = %self.name, "stopped");
        Ok(())
    }
}

/// Binds `addr`, trying again for `retry_for` while it is in use: a server restarted in
/// place often starts before its predecessor has closed its listener.
async fn bind(addr: &str, retry_for: Duration) -> anyhow::Result<TcpListener> {
    let started = Instant::now();
    let mut attempt = 1;
    loop {
        match TcpListener::bind(addr).await {
            Ok(listener) => return Ok(listener),
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
                if started.elapsed() + BIND_RETRY_EVERY > retry_for {
                    anyhow::bail!(
                        "cannot listen on `{addr}`: {e}, still after {} ms of retrying \
                         (http.bind_retry_ms); is another server running there?",
                        retry_for.as_millis()
                    );
                }
                tracing::warn!(
                    "`{addr}` is in use (try {attempt}); trying again in {} ms, for up to {} ms",
                    BIND_RETRY_EVERY.as_millis(),
                    retry_for.as_millis()
                );
                attempt += 1;
                tokio::time::sleep(BIND_RETRY_EVERY).await;
            }
            Err(e) => {
                return Err(e).with_context(|| format!("cannot listen on `{addr}`"));
            }
        }
    }
}
