//! A server's first load of the services in the ODB, done while it already listens.
//!
//! Compiling a thousand components takes minutes; a server that waited for all of them
//! before listening would be silent for that long. Instead it listens at once and
//! reports the progress kept here (`server/startup.rs` turns it into `/zato/ping`'s
//! answer); a call to a service not loaded yet fails with `CallError::NotLoaded`,
//! whether it comes through a channel, the admin API or another service's `invoke`.
//! Components are compiled (or read from the artifact cache) a few at a time, one per
//! core.
//!
//! Invariants: service configurations are loaded before any service, so no call ever
//! runs with a configuration missing; a service deleted in the ODB is recorded as
//! deleted before the server listens.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use serde::Serialize;

use super::{DeployError, Deployer};
use crate::odb::VersionRef;

/// How often progress is logged while loading.
const PROGRESS_EVERY: Duration = Duration::from_secs(2);

/// How far the first load has come; shared by the loading task and whoever reports it.
#[derive(Default)]
pub struct LoadProgress {
    total: AtomicUsize,
    done: AtomicUsize,
    failed: AtomicUsize,
}

/// A snapshot of [`LoadProgress`], as `/zato/ping` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Progress {
    /// Services loaded (or refused) so far, of `total`.
    pub done: usize,
    pub total: usize,
    pub failed: usize,
}

impl LoadProgress {
    pub fn snapshot(&self) -> Progress {
        Progress {
            done: self.done.load(Ordering::Relaxed),
            total: self.total.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
        }
    }
}

impl Deployer {
    /// What the first load has to do: every service of the ODB this server does not
    /// run yet. Loads the service configurations first, and counts the services in
    /// `progress`.
    pub async fn plan_load(&self, progress: &LoadProgress) -> Result<Vec<VersionRef>, DeployError> {
        self.reload_configs().await?;
        let registry = self.runtime.registry();
        let mut todo = Vec::new();
        for target in self.odb.latest_versions().await? {
            if target.deleted {
                // Recorded, so that a late notice of an older version cannot revive it.
                registry.remove(&target.name, target.version);
            } else if !self.runs(&target) {
                todo.push(target);
            }
        }
        // In name order, so that logs and tests see the same order on every backend.
        todo.sort_by(|a, b| a.name.cmp(&b.name));
        registry.set_pending(todo.iter().map(|target| target.name.clone()));
        progress.total.store(todo.len(), Ordering::Relaxed);
        Ok(todo)
    }

    /// Loads `todo` (from [`Deployer::plan_load`]) a few at a time, reporting progress
    /// in `progress`. A component that fails to load is logged and skipped (the periodic
    /// reconcile tries it again).
    pub async fn load(&self, todo: Vec<VersionRef>, progress: &LoadProgress) {
        let started = Instant::now();
        let total = todo.len();
        if total > 0 {
            tracing::info!("loading {total} services");
        }
        let jobs = std::thread::available_parallelism().map_or(2, |n| n.get());
        let mut last_report = Instant::now();
        let mut results = futures::stream::iter(todo)
            .map(|target| async move {
                let prepared = self.prepare(&target).await;
                (target, prepared)
            })
            .buffer_unordered(jobs);
        while let Some((target, prepared)) = results.next().await {
            match prepared {
                Ok((compiled, info)) => {
                    let _apply = self.apply_lock.lock().await;
                    if !self.runs(&target) {
                        self.install(compiled, info, target.version, target.sha256.clone())
                            .await;
                    }
                }
                Err(e) => {
                    progress.failed.fetch_add(1, Ordering::Relaxed);
                    tracing::error!(
                        service = %target.name,
                        version = target.version,
                        "cannot load: {e:#}"
                    );
                }
            }
            self.runtime.registry().done_pending(&target.name);
            let done = progress.done.fetch_add(1, Ordering::Relaxed) + 1;
            if done < total && last_report.elapsed() >= PROGRESS_EVERY {
                last_report = Instant::now();
                tracing::info!(
                    "loaded {done} of {total} services ({:.0} s)",
                    started.elapsed().as_secs_f64()
                );
            }
        }
        if total > 0 {
            tracing::info!(
                "loaded {total} services in {} ms ({} failed)",
                started.elapsed().as_millis(),
                progress.failed.load(Ordering::Relaxed)
            );
        }
    }
}
