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
    /// Outgoing connections (HTTP, SOAP, SQL, FTP, AMQP, ZeroMQ).
    Outconns,
    /// Messaging channels (AMQP, ZeroMQ).
    MsgChannels,
    /// The data dictionary (entries and translations).
    Dictionaries,
    /// The JWTs revoked by a log-out (read from the KVDB).
    JwtRevocations,
    /// The admin API's users.
    AdminUsers,
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
///
/// Reloads of one kind run one at a time: a reload reads the ODB, then installs what it
/// read, so two at once (a notice's and an admin change's, say) could install the older
/// read last and undo a change until the next reconcile.
pub struct Reloader {
    kinds: Vec<(Kind, Arc<dyn Reloadable>, tokio::sync::Mutex<()>)>,
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
            self.kinds.iter().all(|(k, _, _)| *k != kind),
            "{kind:?} registered twice"
        );
        self.kinds
            .push((kind, reloadable, tokio::sync::Mutex::new(())));
    }

    pub fn notifier(&self) -> &Arc<Notifier> {
        &self.notifier
    }

    /// Reloads one kind (a notice's, say).
    pub async fn reload(&self, kind: Kind) -> anyhow::Result<()> {
        match self.kinds.iter().find(|(k, _, _)| *k == kind) {
            Some((_, reloadable, one_at_a_time)) => {
                let _turn = one_at_a_time.lock().await;
                reloadable.reload().await
            }
            None => Ok(()),
        }
    }

    /// Reloads every kind, in order; one that fails is logged and the others go on.
    pub async fn reload_all(&self) {
        for (kind, reloadable, one_at_a_time) in &self.kinds {
            let _turn = one_at_a_time.lock().await;
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
        let text = serde_json::to_string(&Notice::Changed {
            of: Kind::Dictionaries,
        })
        .unwrap();
        assert_eq!(text, r#"{"kind":"changed","of":"dictionaries"}"#);
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

    /// Reads a shared "ODB" value, waits as a slow query would, then installs the value.
    struct SlowCopy {
        odb: Arc<Mutex<u32>>,
        installed: Arc<Mutex<u32>>,
        first_read: Arc<tokio::sync::Notify>,
        finish_first: Arc<tokio::sync::Notify>,
        calls: Mutex<u32>,
    }

    #[async_trait]
    impl Reloadable for SlowCopy {
        async fn reload(&self) -> anyhow::Result<()> {
            let read = *self.odb.lock().unwrap();
            let first = {
                let mut calls = self.calls.lock().unwrap();
                *calls += 1;
                *calls == 1
            };
            if first {
                self.first_read.notify_one();
                self.finish_first.notified().await;
            }
            *self.installed.lock().unwrap() = read;
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_reload_that_read_older_data_never_installs_it_over_a_newer_one() {
        let odb = Arc::new(Mutex::new(1));
        let installed = Arc::new(Mutex::new(0));
        let first_read = Arc::new(tokio::sync::Notify::new());
        let finish_first = Arc::new(tokio::sync::Notify::new());
        let broker = Arc::new(crate::kvdb::memory::MemoryKvdb::default());
        let mut reloader = Reloader::new(Arc::new(Notifier::new(broker)));
        reloader.register(
            Kind::ServiceConfigs,
            Arc::new(SlowCopy {
                odb: odb.clone(),
                installed: installed.clone(),
                first_read: first_read.clone(),
                finish_first: finish_first.clone(),
                calls: Mutex::new(0),
            }),
        );
        let reloader = Arc::new(reloader);
        // A notice's reload reads value 1 and is slow to install it.
        let notice = tokio::spawn({
            let reloader = reloader.clone();
            async move { reloader.reload(Kind::ServiceConfigs).await }
        });
        first_read.notified().await;
        // Meanwhile an admin change writes 2 and reloads.
        *odb.lock().unwrap() = 2;
        let change = tokio::spawn({
            let reloader = reloader.clone();
            async move { reloader.reload(Kind::ServiceConfigs).await }
        });
        // Let the change's reload run as far as it can before the slow one finishes.
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        finish_first.notify_one();
        notice.await.unwrap().unwrap();
        change.await.unwrap().unwrap();
        assert_eq!(*installed.lock().unwrap(), 2, "the newer read is in force");
    }
}
