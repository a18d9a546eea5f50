//! The services a server runs, swapped atomically on deploy.
//!
//! In-flight calls keep the `Arc<LoadedService>` they started with; new calls see the
//! new version as soon as it is installed.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;

use super::Compiled;
use crate::api::ServiceInfo;

/// One deployed version of a service, compiled and linked.
pub struct LoadedService {
    pub name: Arc<str>,
    pub version: i64,
    pub sha256: String,
    pub info: ServiceInfo,
    pub(crate) entry: super::Entry,
    /// Idle warm instances, used only if the service opted in.
    pub(crate) warm: super::warm::WarmPool,
}

impl LoadedService {
    pub fn new(compiled: Compiled, info: ServiceInfo, version: i64, sha256: String) -> Self {
        Self {
            name: Arc::from(info.name.as_str()),
            version,
            sha256,
            info,
            entry: compiled.entry,
            warm: Default::default(),
        }
    }
}

#[derive(Default, Clone)]
struct Snapshot {
    services: HashMap<Arc<str>, Arc<LoadedService>>,
    /// Version at which a service was deleted, so an older version is not reinstalled.
    deleted: HashMap<Arc<str>, i64>,
}

/// Name -> current version, plus each service's configuration.
#[derive(Default)]
pub struct Registry {
    snapshot: ArcSwap<Snapshot>,
    configs: ArcSwap<Configs>,
    /// Services in the ODB that a starting server has not loaded yet: a call to one is
    /// "not loaded yet" (503), not "not deployed" (404). Read only on that error path.
    pending: Mutex<HashSet<String>>,
}

/// Every service's configuration, and what the runtime derives from it, swapped whole.
#[derive(Default)]
struct Configs {
    by_service: HashMap<String, Arc<BTreeMap<String, String>>>,
    /// Uses per instance of the services that opted in to warm instances; parsed here
    /// once per change rather than on every request.
    instance_reuse: HashMap<String, u32>,
    /// What the services that say anything of their statistics say.
    stats_policy: HashMap<String, crate::stats::Policy>,
}

impl Registry {
    pub fn get(&self, name: &str) -> Option<Arc<LoadedService>> {
        self.snapshot.load().services.get(name).cloned()
    }

    /// Marks services as about to be loaded (a starting server's first load).
    pub fn set_pending(&self, names: impl IntoIterator<Item = String>) {
        self.pending_set().extend(names);
    }

    /// Marks a service's first load as over, whether it loaded or failed.
    pub fn done_pending(&self, name: &str) {
        self.pending_set().remove(name);
    }

    pub fn is_pending(&self, name: &str) -> bool {
        self.pending_set().contains(name)
    }

    fn pending_set(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The version this server runs or has deleted, if it knows the service at all.
    pub fn known_version(&self, name: &str) -> Option<i64> {
        let snapshot = self.snapshot.load();
        snapshot
            .services
            .get(name)
            .map(|s| s.version)
            .or_else(|| snapshot.deleted.get(name).copied())
    }

    /// Every running service, sorted by name.
    pub fn list(&self) -> Vec<Arc<LoadedService>> {
        let mut all: Vec<_> = self.snapshot.load().services.values().cloned().collect();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        all
    }

    /// Installs `service` unless this server already runs that version or a newer one.
    /// Returns whether it was installed.
    pub fn install(&self, service: LoadedService) -> bool {
        let service = Arc::new(service);
        let mut installed = false;
        self.snapshot.rcu(|current| {
            installed = current
                .known_version_of(&service.name)
                .is_none_or(|v| v < service.version);
            let mut next = Snapshot::clone(current);
            if installed {
                next.deleted.remove(&service.name);
                next.services
                    .insert(Arc::clone(&service.name), Arc::clone(&service));
            }
            next
        });
        installed
    }

    /// Removes a service deleted at `version`, unless a newer version runs already.
    pub fn remove(&self, name: &str, version: i64) -> bool {
        let mut removed = false;
        self.snapshot.rcu(|current| {
            removed = current.known_version_of(name).is_none_or(|v| v < version);
            let mut next = Snapshot::clone(current);
            if removed {
                next.services.remove(name);
                next.deleted.insert(Arc::from(name), version);
            }
            next
        });
        removed
    }

    pub fn config(&self, service: &str) -> Option<Arc<BTreeMap<String, String>>> {
        self.configs.load().by_service.get(service).cloned()
    }

    /// The uses per warm instance of `service`, if it opted in to instance reuse.
    pub(crate) fn instance_reuse(&self, service: &str) -> Option<u32> {
        self.configs.load().instance_reuse.get(service).copied()
    }

    /// What `service`'s configuration says of its statistics.
    pub fn stats_policy(&self, service: &str) -> crate::stats::Policy {
        self.configs
            .load()
            .stats_policy
            .get(service)
            .copied()
            .unwrap_or_default()
    }

    /// Replaces every service's configuration at once.
    pub fn set_configs(&self, configs: HashMap<String, BTreeMap<String, String>>) {
        let instance_reuse = configs
            .iter()
            .filter_map(|(name, config)| Some((name.clone(), super::warm::reuse_limit(config)?)))
            .collect();
        let stats_policy = configs
            .iter()
            .filter_map(|(name, config)| Some((name.clone(), crate::stats::policy(config)?)))
            .collect();
        let by_service = configs.into_iter().map(|(k, v)| (k, Arc::new(v))).collect();
        self.configs.store(Arc::new(Configs {
            by_service,
            instance_reuse,
            stats_policy,
        }));
    }
}

impl Snapshot {
    fn known_version_of(&self, name: &str) -> Option<i64> {
        self.services
            .get(name)
            .map(|s| s.version)
            .or_else(|| self.deleted.get(name).copied())
    }
}
