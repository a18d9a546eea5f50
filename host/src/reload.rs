//! Reloadable configuration, one mechanism for every kind: a server that changes
//! something in the ODB tells the others with a notice on the broker, and every server
//! also reloads every kind from the ODB periodically and after a lost broker connection,
//! so that a lost notice costs a delay, never a divergence.
//!
//! A kind of configuration (service configurations, services, HTTP channels; jobs,
//! outgoing connections, security definitions and dictionaries next) implements
//! [`Reloadable`] in its own module and is registered once, in `server.rs`, in the order
//! kinds must be reloaded (what others depend on first). Nothing here knows any kind's
//! contents.

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::kvdb::Broker;

/// The broker channel on which deploys and configuration changes are announced.
pub const NOTICES: &str = "zato.notices";

/// A kind of configuration that servers reload from the ODB as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// Every service's key/values (`zato service config`).
    ServiceConfigs,
    /// The deployed services: each server runs every service's latest version.
    Services,
    /// HTTP channels.
    HttpChannels,
    /// Scheduler jobs and calendars.
    Jobs,
    /// Outgoing connections (HTTP, SOAP, SQL, FTP).
    Outconns,
}

/// What servers tell each other on the broker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Notice {
    /// A new version of a service (or its deletion) is in the ODB: servers apply that
    /// version without reading every service's latest.
    Service {
        name: String,
        version: i64,
        sha256: String,
        deleted: bool,
    },
    /// Something of kind `of` changed in the ODB: reload that kind.
    Changed { of: Kind },
}

/// Publishes notices; a lost notice only delays other servers until they reconcile.
pub struct Notifier {
    broker: Arc<dyn Broker>,
}

impl Notifier {
    pub fn new(broker: Arc<dyn Broker>) -> Self {
        Self { broker }
    }

    pub async fn publish(&self, notice: &Notice) {
        let payload = serde_json::to_vec(notice).expect("notices serialise");
        if let Err(e) = self.broker.publish(NOTICES, &payload).await {
            tracing::warn!(
                "cannot publish {notice:?} (servers will catch up when they reconcile): {e}"
            );
        }
    }
}

/// One kind of configuration that a server holds in memory and reloads from the ODB.
#[async_trait]
pub trait Reloadable: Send + Sync {
    /// Brings this server's copy in line with the ODB. Idempotent; when it returns, the
    /// copy holds at least what the ODB held when it was called.
    async fn reload(&self) -> anyhow::Result<()>;
}

/// Every reloadable kind of a server, in the order they are reloaded.
pub struct Reloader {
    kinds: Vec<(Kind, Arc<dyn Reloadable>)>,
    notifier: Arc<Notifier>,
}

impl Reloader {
    pub fn new(notifier: Arc<Notifier>) -> Self {
        Self {
            kinds: Vec::new(),
            notifier,
        }
    }

    /// Registers `kind`; kinds reload in the order they were registered.
    pub fn register(&mut self, kind: Kind, reloadable: Arc<dyn Reloadable>) {
        assert!(
            self.kinds.iter().all(|(k, _)| *k != kind),
            "{kind:?} registered twice"
        );
        self.kinds.push((kind, reloadable));
    }

    pub fn notifier(&self) -> &Arc<Notifier> {
        &self.notifier
    }

    /// Reloads one kind (a notice's, say).
    pub async fn reload(&self, kind: Kind) -> anyhow::Result<()> {
        match self.kinds.iter().find(|(k, _)| *k == kind) {
            Some((_, reloadable)) => reloadable.reload().await,
            None => Ok(()),
        }
    }

    /// Reloads every kind, in order; one that fails is logged and the others go on.
    pub async fn reload_all(&self) {
        for (kind, reloadable) in &self.kinds {
            if let Err(e) = reloadable.reload().await {
                tracing::warn!("reloading {kind:?} failed (the next reconcile retries): {e:#}");
            }
        }
    }

    /// After this server changed `kind` in the ODB: reloads it here, so that the change
    /// is in force when the caller answers, and tells the other servers.
    pub async fn changed(&self, kind: Kind) -> anyhow::Result<()> {
        self.reload(kind).await?;
        self.notifier.publish(&Notice::Changed { of: kind }).await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    #[test]
    fn notices_have_a_stable_wire_form() {
        let n = Notice::Service {
            name: "a".into(),
            version: 2,
            sha256: "ff".into(),
            deleted: false,
        };
        let text = serde_json::to_string(&n).unwrap();
        assert_eq!(
            text,
            r#"{"kind":"service","name":"a","version":2,"sha256":"ff","deleted":false}"#
        );
        assert_eq!(serde_json::from_str::<Notice>(&text).unwrap(), n);
        let changed = Notice::Changed {
            of: Kind::HttpChannels,
        };
        let text = serde_json::to_string(&changed).unwrap();
        assert_eq!(text, r#"{"kind":"changed","of":"http-channels"}"#);
        assert_eq!(serde_json::from_str::<Notice>(&text).unwrap(), changed);
        let text = serde_json::to_string(&Notice::Changed { of: Kind::Outconns }).unwrap();
        assert_eq!(text, r#"{"kind":"changed","of":"outconns"}"#);
    }

    struct Recorder {
        name: &'static str,
        log: Arc<Mutex<Vec<&'static str>>>,
        fail: bool,
    }

    #[async_trait]
    impl Reloadable for Recorder {
        async fn reload(&self) -> anyhow::Result<()> {
            self.log.lock().unwrap().push(self.name);
            anyhow::ensure!(!self.fail, "{} failed", self.name);
            Ok(())
        }
    }

    #[tokio::test]
    async fn reload_all_goes_in_registration_order_past_a_failing_kind() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let broker = Arc::new(crate::kvdb::memory::MemoryKvdb::default());
        let mut reloader = Reloader::new(Arc::new(Notifier::new(broker)));
        for (kind, name, fail) in [
            (Kind::ServiceConfigs, "configs", true),
            (Kind::Services, "services", false),
            (Kind::HttpChannels, "channels", false),
        ] {
            let log = log.clone();
            reloader.register(kind, Arc::new(Recorder { name, log, fail }));
        }
        reloader.reload_all().await;
        assert_eq!(*log.lock().unwrap(), ["configs", "services", "channels"]);
        reloader.reload(Kind::HttpChannels).await.unwrap();
        assert!(reloader.reload(Kind::ServiceConfigs).await.is_err());
        assert_eq!(log.lock().unwrap().len(), 5);
    }
}
