//! The live channel table of the HTTP listener (HTTP and SOAP channels), and the
//! development environment's automatic channels.

use std::sync::Arc;

use arc_swap::{ArcSwap, Guard};
use async_trait::async_trait;

use super::router::{ChannelRouter, RouteError};
use crate::api::{DataFormat, HttpChannel, SoapChannel};
use crate::deploy::DeployHook;
use crate::odb::{Odb, OdbError};
use crate::rate_limit::Limits;
use crate::reload::{Kind, Notice, Notifier, Reloadable};
use crate::security::Guards;
use crate::security::jwt::Revocations;

/// The live HTTP channel table, rebuilt from the ODB and swapped whole.
pub struct Channels {
    routes: ArcSwap<ChannelRouter>,
    /// The security definitions the routes' guards come from, kept to carry what
    /// they verified over to the next table.
    guards: ArcSwap<Guards>,
    /// The cluster's revoked JWTs, which JWT guards check.
    revoked: Arc<Revocations>,
    /// Rate limits and allow lists: what is attached to the channels, the security
    /// definitions and the services, and this server's counts.
    limits: Limits,
    odb: Arc<dyn Odb>,
    /// One reload at a time. Reloads come from the admin API, from notices and from the
    /// reconcile loop at once; unserialised, one that read the ODB before a channel was
    /// created could store its table after the admin API's reload, and the new channel
    /// would answer 404 until the next reload.
    reloading: tokio::sync::Mutex<()>,
}

impl Channels {
    pub fn new(odb: Arc<dyn Odb>) -> Self {
        Self {
            routes: ArcSwap::from_pointee(ChannelRouter::default()),
            guards: ArcSwap::from_pointee(Guards::default()),
            revoked: Arc::default(),
            limits: Limits::default(),
            odb,
            reloading: tokio::sync::Mutex::new(()),
        }
    }

    /// The table in force.
    pub(super) fn routes(&self) -> Guard<Arc<ChannelRouter>> {
        self.routes.load()
    }

    /// The security definitions in force (JWT log-in and log-out use them).
    pub fn guards(&self) -> Guard<Arc<Guards>> {
        self.guards.load()
    }

    /// The rate limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The cluster's revoked JWTs, as this server holds them.
    pub fn revocations(&self) -> &Arc<Revocations> {
        &self.revoked
    }

    /// Rebuilds the table from the ODB (HTTP and SOAP channels, the security
    /// definitions they name, and the rate limits attached to them, to those
    /// definitions and to services: a change of any reloads as `Kind::HttpChannels`). A table that does not build (which
    /// [`Channels::check_new`] prevents) leaves the running one in place. When it
    /// returns, the table holds at least every channel the ODB held when it was called.
    pub async fn reload(&self) -> anyhow::Result<()> {
        self.reload_from(|| self.odb.http_channels()).await
    }

    async fn reload_from<F, R>(&self, read: F) -> anyhow::Result<()>
    where
        F: FnOnce() -> R,
        R: Future<Output = crate::odb::OdbResult<Vec<HttpChannel>>>,
    {
        let _turn = self.reloading.lock().await;
        let channels = read().await?;
        let soap = self.odb.soap_channels().await?;
        let guards = Guards::build(
            &self.odb.security_hashes().await?,
            &self.guards.load(),
            &self.revoked,
        );
        let routes = ChannelRouter::build_guarded(&channels, &soap, &guards)?;
        let (limits, uses) = (
            self.odb.rate_limits().await?,
            self.odb.rate_limit_uses().await?,
        );
        self.guards.store(Arc::new(guards));
        self.limits.store(&limits, &uses);
        self.routes.store(Arc::new(routes));
        Ok(())
    }

    /// Checks that `channel` fits with the channels in the ODB, without storing it: the
    /// one check every way of creating a channel goes through.
    pub async fn check_new(&self, channel: &HttpChannel) -> anyhow::Result<Result<(), RouteError>> {
        self.check_replacing(None, channel).await
    }

    /// As [`Channels::check_new`], for `channel` taking the place of the channel named
    /// `replaced` (an update: its old path no longer counts).
    pub async fn check_replacing(
        &self,
        replaced: Option<&str>,
        channel: &HttpChannel,
    ) -> anyhow::Result<Result<(), RouteError>> {
        let mut all = self.odb.http_channels().await?;
        all.retain(|c| Some(c.name.as_str()) != replaced);
        all.push(channel.clone());
        let soap = self.odb.soap_channels().await?;
        Ok(ChannelRouter::build_all(&all, &soap).map(|_| ()))
    }

    /// As [`Channels::check_replacing`], for a SOAP channel: it takes the place of the
    /// SOAP channel named `replaced`, if any, and fits with every channel of both kinds.
    pub async fn check_soap_replacing(
        &self,
        replaced: Option<&str>,
        channel: &SoapChannel,
    ) -> anyhow::Result<Result<(), RouteError>> {
        let http = self.odb.http_channels().await?;
        let mut all = self.odb.soap_channels().await?;
        all.retain(|c| Some(c.name.as_str()) != replaced);
        all.push(channel.clone());
        Ok(ChannelRouter::build_all(&http, &all).map(|_| ()))
    }
}

#[async_trait]
impl Reloadable for Channels {
    async fn reload(&self) -> anyhow::Result<()> {
        Channels::reload(self).await
    }
}

/// In the development environment, every newly deployed service gets an HTTP channel at
/// `/` + its name with dots as slashes, unless some channel already routes to it or that
/// path would clash with another channel.
pub struct AutoHttpChannels {
    channels: Arc<Channels>,
    odb: Arc<dyn Odb>,
    notifier: Arc<Notifier>,
}

impl AutoHttpChannels {
    pub fn new(channels: Arc<Channels>, odb: Arc<dyn Odb>, notifier: Arc<Notifier>) -> Self {
        Self {
            channels,
            odb,
            notifier,
        }
    }
}

#[async_trait]
impl DeployHook for AutoHttpChannels {
    async fn deployed(&self, service: &str) -> anyhow::Result<()> {
        if self
            .odb
            .http_channels()
            .await?
            .iter()
            .any(|c| c.service == service)
        {
            return Ok(());
        }
        let channel = HttpChannel {
            name: service.to_owned(),
            path: format!("/{}", service.replace('.', "/")),
            methods: Vec::new(),
            service: service.to_owned(),
            data_format: DataFormat::Json,
            timeout_ms: 0,
            security: None,
        };
        // A channel that would stop the route table from building is never stored.
        if let Err(e) = self.channels.check_new(&channel).await? {
            tracing::warn!(service, "no automatic HTTP channel: {e}");
            return Ok(());
        }
        match self.odb.create_http_channel(&channel).await {
            Ok(()) => {
                tracing::info!(service, path = %channel.path, "automatic HTTP channel created");
                self.channels.reload().await?;
                self.notifier
                    .publish(&Notice::Changed {
                        of: Kind::HttpChannels,
                    })
                    .await;
            }
            Err(OdbError::Conflict(e)) => tracing::warn!(service, "no automatic HTTP channel: {e}"),
            Err(e) => return Err(e.into()),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::router::test_channel as channel;
    use super::*;

    #[tokio::test]
    async fn a_reload_that_read_the_odb_earlier_never_hides_a_newer_channel() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/odb.sqlite", dir.path().display());
        let odb = Arc::new(crate::odb::SqlOdb::connect(&url).await.unwrap());
        let channels = Arc::new(Channels::new(odb));
        // A slow reload (a notice's, say) reads the table before `/new` exists...
        let (read, read_rx) = tokio::sync::oneshot::channel();
        let (go, go_rx) = tokio::sync::oneshot::channel::<()>();
        let slow = tokio::spawn({
            let channels = Arc::clone(&channels);
            async move {
                channels
                    .reload_from(|| async move {
                        let old = vec![channel("old", "/old")];
                        read.send(()).unwrap();
                        go_rx.await.unwrap();
                        Ok(old)
                    })
                    .await
            }
        });
        read_rx.await.unwrap();
        // ... then the admin API creates `/new` and reloads, and answers once that
        // reload returns; only then does the slow reload store what it read.
        let admin = tokio::spawn({
            let channels = Arc::clone(&channels);
            async move {
                channels
                    .reload_from(|| async {
                        Ok(vec![channel("old", "/old"), channel("new", "/new")])
                    })
                    .await
            }
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        go.send(()).unwrap();
        slow.await.unwrap().unwrap();
        admin.await.unwrap().unwrap();
        assert!(
            channels.routes().find("/new").is_some(),
            "the channel the admin API reloaded with is routed"
        );
    }
}
