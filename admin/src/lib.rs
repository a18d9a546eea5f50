//! `zato-admin`: the web admin, Zato's browser interface to one or more clusters.
//!
//! It talks to a cluster only through the cluster's admin API over HTTP
//! ([`zato_api::AdminClient`]): never its ODB, never `zato-host`. Pages are rendered on
//! the server (askama templates in `templates/`) and work without JavaScript; htmx,
//! embedded with the stylesheet (`assets/`), only enhances them (progress polling, an
//! invoke's answer shown in place).
//!
//! Layout:
//! - [`config`]: `web-admin.toml` ([`WebAdminConfig`]), loaded, checked and saved
//!   atomically; [`hash_password`] for its users.
//! - [`clusters`]: a cluster's way in ([`ClusterAccess`], an environment's through the
//!   caller's [`Resolver`]), the first URL that answers, and what was tried when none did.
//! - `auth`: signed cookies, in-memory sessions, CSRF tokens, the login rate limit.
//! - `app`: the shared state, the routes, the guard every request passes (session and
//!   CSRF) and the one place where failures become pages.
//! - `pages/`: one module per area (login, dashboard, services, upload, invoke,
//!   channels, settings).
//! - `assets`: the embedded stylesheet and htmx.
//!
//! *Invariants*: every POST is checked for its form's CSRF token before its handler acts
//! (`app::guard`, or the upload handler for its multipart form); a list page makes one
//! `services()` and at most one `servers()` call whatever the number of services.
//!
//! ```no_run
//! # async fn example() -> anyhow::Result<()> {
//! use std::sync::Arc;
//! use zato_admin::{ClusterAccess, WebAdmin, WebAdminConfig};
//! let path = std::path::PathBuf::from("web-admin.toml");
//! let config = WebAdminConfig::load(&path)?;
//! let resolver: zato_admin::Resolver = Arc::new(|_dir: &std::path::Path| {
//!     anyhow::bail!("no environments here")
//! });
//! let admin = WebAdmin::bind(config, path, resolver).await?;
//! println!("web admin at http://{}", admin.local_addr());
//! admin.run(async { tokio::signal::ctrl_c().await.unwrap() }).await
//! # }
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod app;
mod assets;
mod auth;
pub mod clusters;
pub mod config;
mod pages;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;

pub use clusters::{ClusterAccess, Resolver};
pub use config::{
    ClusterConfig, ListenerTls, LoginLimits, UserConfig, WebAdminConfig, hash_password,
    new_secret_key,
};

/// How long [`WebAdmin::bind`] keeps trying an address in use.
const BIND_RETRY: Duration = Duration::from_secs(5);

/// A web admin bound to its address, ready to [`run`](WebAdmin::run).
pub struct WebAdmin {
    listener: tokio::net::TcpListener,
    addr: SocketAddr,
    app: Arc<app::App>,
    tls: Option<zato_api::tls::ServerTls>,
}

impl std::fmt::Debug for WebAdmin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebAdmin")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl WebAdmin {
    /// Binds `config.listen` (retrying a few seconds while the address is in use, as
    /// when a previous process is still stopping); `config_path` is where the settings
    /// pages save the configuration, and environments are relative to its directory.
    pub async fn bind(
        config: WebAdminConfig,
        config_path: PathBuf,
        resolver: Resolver,
    ) -> anyhow::Result<WebAdmin> {
        let listen = config.listen;
        let base = config_path
            .parent()
            .map(std::path::Path::to_path_buf)
            .unwrap_or_default();
        let tls = config
            .tls
            .as_ref()
            .map(|tls| {
                zato_api::tls::ServerTls::load(
                    zato_api::tls::TlsFiles {
                        cert: base.join(&tls.cert),
                        key: base.join(&tls.key),
                    },
                    false,
                )
            })
            .transpose()
            .map_err(|e| anyhow::anyhow!("the web admin's [tls]: {e}"))?;
        let app = Arc::new(app::App::new(config, config_path, resolver)?);
        let started = Instant::now();
        let listener = loop {
            match tokio::net::TcpListener::bind(listen).await {
                Ok(listener) => break listener,
                Err(e)
                    if e.kind() == std::io::ErrorKind::AddrInUse
                        && started.elapsed() < BIND_RETRY =>
                {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => {
                    return Err(e).with_context(|| format!("cannot listen on {listen}"));
                }
            }
        };
        let addr = listener.local_addr()?;
        Ok(WebAdmin {
            listener,
            addr,
            app,
            tls,
        })
    }

    /// The address it listens on (the port chosen when `listen` gave port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Whether it serves HTTPS.
    pub fn tls(&self) -> bool {
        self.tls.is_some()
    }

    /// Serves until `shutdown` completes, then lets requests in flight finish.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let stop = tokio_util::sync::CancellationToken::new();
        tokio::spawn({
            let stop = stop.clone();
            async move {
                shutdown.await;
                stop.cancel();
            }
        });
        match &self.tls {
            Some(tls) => {
                tracing::info!(address = %self.addr, "web admin listening (HTTPS)");
                tokio::spawn(
                    tls.clone()
                        .watch("the web admin", stop.clone().cancelled_owned()),
                );
            }
            None => tracing::warn!(
                address = %self.addr,
                "web admin listening on plain HTTP: passwords cross the network \
                 unencrypted; fine for development, not beyond ([tls] in web-admin.toml; \
                 `zato quickstart create DIR --tls` sets it)"
            ),
        }
        let settings = zato_api::serve::ServeSettings {
            max_header_bytes: 64 * 1024,
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(75),
            max_connections: 1024,
            max_connections_setting: "the web admin's connection cap",
            tls: self.tls.as_ref().map(|tls| tls.config()),
        };
        let router = app::router(self.app);
        let handler = move |req: hyper::Request<hyper::body::Incoming>, peer: SocketAddr| {
            let mut req = req.map(axum::body::Body::new);
            req.extensions_mut()
                .insert(axum::extract::ConnectInfo(peer));
            let router = router.clone();
            async move {
                match tower::ServiceExt::oneshot(router, req).await {
                    Ok(response) => response,
                    Err(never) => match never {},
                }
            }
        };
        zato_api::serve::serve(self.listener, settings, handler, stop).await;
        Ok(())
    }
}
