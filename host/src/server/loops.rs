//! A server's background loops: the first load, following notices, reconciling with the
//! ODB, and the membership heartbeat.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::startup::Startup;
use crate::deploy::Deployer;
use crate::kvdb::BrokerEvent;
use crate::odb::{Odb, VersionRef};
use crate::reload::{Kind, Notice, Reloader};

/// The first load of the ODB's services, while the server already listens.
pub(super) async fn load_services(
    todo: Vec<VersionRef>,
    deployer: Arc<Deployer>,
    reloader: Arc<Reloader>,
    startup: Arc<Startup>,
    shutdown: CancellationToken,
) {
    tokio::select! {
        // A server stopped while loading never reports itself loaded.
        _ = shutdown.cancelled() => {}
        _ = deployer.load(todo, startup.progress()) => {
            // Channels created while loading. Services that failed to load are left to
            // the reconcile loop, so that `/zato/ping` does not wait for them twice.
            if let Err(e) = reloader.reload(Kind::HttpChannels).await {
                tracing::warn!("reloading HTTP channels failed: {e:#}");
            }
            startup.finish();
        }
    }
}

/// Applies what other servers announce.
pub(super) async fn follow_notices(
    mut notices: tokio::sync::mpsc::Receiver<BrokerEvent>,
    deployer: Arc<Deployer>,
    reloader: Arc<Reloader>,
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
            // Notices of every kind may have been lost meanwhile.
            BrokerEvent::Reconnected => {
                reloader.reload_all().await;
                continue;
            }
        };
        match notice {
            Notice::Service {
                name,
                version,
                sha256,
                deleted,
            } => {
                let target = VersionRef {
                    name,
                    version,
                    sha256,
                    deleted,
                };
                deployer.apply(&target).await;
            }
            Notice::Changed { of } => {
                if let Err(e) = reloader.reload(of).await {
                    tracing::warn!("cannot reload {of:?} (the next reconcile will): {e:#}");
                }
            }
        }
    }
}

/// Pub/sub is at-most-once: reconciling every kind with the ODB turns a lost notice
/// into a delay.
pub(super) async fn reconcile(
    reloader: Arc<Reloader>,
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
        reloader.reload_all().await;
    }
}

pub(super) async fn heartbeat(
    odb: Arc<dyn Odb>,
    name: String,
    every: Duration,
    shutdown: CancellationToken,
) {
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
