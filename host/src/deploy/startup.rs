//! A server's first load of the services in the ODB, done while it already listens.
//!
//! Compiling a thousand components takes minutes; a server that waited for all of them
//! before listening would be silent for that long. Instead it listens at once:
//! `/zato/ping` answers 503 with the progress until every service is loaded (a load
//! balancer's health check keeps traffic away meanwhile), a call to a service not loaded
//! yet fails with `CallError::NotLoaded` (503, and `Retry-After` over HTTP), whether it
//! comes through a channel, the admin API or another service's `invoke`, and the admin
//! API works. Components are
//! compiled (or read from the artifact cache) a few at a time, one per core.
//!
//! Invariants: service configurations are loaded before any service, so no call ever
//! runs with a configuration missing; a service deleted in the ODB is recorded as
//! deleted before the server listens.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use serde::Serialize;
use tokio::sync::watch;

use super::{DeployError, Deployer};
use crate::odb::VersionRef;

/// How often progress is logged while loading.
const PROGRESS_EVERY: Duration = Duration::from_secs(2);

/// Where the first load stands; shared by the loading task and the HTTP listener.
pub struct Startup {
    total: AtomicUsize,
    done: AtomicUsize,
    failed: AtomicUsize,
    loaded: watch::Sender<bool>,
}

/// A snapshot of [`Startup`], as `/zato/ping` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Progress {
    pub loading: bool,
    /// Services loaded (or refused) so far, of `total`.
    pub done: usize,
    pub total: usize,
    pub failed: usize,
}

impl Default for Startup {
    fn default() -> Self {
        Self {
            total: AtomicUsize::new(0),
            done: AtomicUsize::new(0),
            failed: AtomicUsize::new(0),
            loaded: watch::Sender::new(false),
        }
    }
}

impl Startup {
    pub fn progress(&self) -> Progress {
        Progress {
            loading: !*self.loaded.borrow(),
            done: self.done.load(Ordering::Relaxed),
            total: self.total.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
        }
    }

    pub fn is_loading(&self) -> bool {
        !*self.loaded.borrow()
    }

    /// Returns once the first load has finished.
    pub async fn wait(&self) {
        let mut loaded = self.loaded.subscribe();
        // The sender lives in `self`, so the channel cannot close while we wait.
        let _ = loaded.wait_for(|loaded| *loaded).await;
    }

    pub(crate) fn finish(&self) {
        self.loaded.send_replace(true);
    }
}

impl Deployer {
    /// What the first load has to do: every service of the ODB this server does not
    /// run yet. Loads the service configurations first, and counts the services in
    /// `startup`.
    pub async fn plan_load(&self, startup: &Startup) -> Result<Vec<VersionRef>, DeployError> {
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
        startup.total.store(todo.len(), Ordering::Relaxed);
        Ok(todo)
    }

    /// Loads `todo` (from [`Deployer::plan_load`]) a few at a time, reporting progress
    /// in `startup`. A component that fails to load is logged and skipped (the periodic
    /// reconcile tries it again).
    pub async fn load(&self, todo: Vec<VersionRef>, startup: &Startup) {
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
                    startup.failed.fetch_add(1, Ordering::Relaxed);
                    tracing::error!(
                        service = %target.name,
                        version = target.version,
                        "cannot load: {e:#}"
                    );
                }
            }
            self.runtime.registry().done_pending(&target.name);
            let done = startup.done.fetch_add(1, Ordering::Relaxed) + 1;
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
                startup.failed.load(Ordering::Relaxed)
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[tokio::test]
    async fn progress_reports_loading_until_finished() {
        let startup = Arc::new(Startup::default());
        startup.total.store(3, Ordering::Relaxed);
        startup.done.store(1, Ordering::Relaxed);
        let expected = Progress {
            loading: true,
            done: 1,
            total: 3,
            failed: 0,
        };
        assert_eq!(startup.progress(), expected);
        let waiting = tokio::spawn({
            let startup = startup.clone();
            async move { startup.wait().await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiting.is_finished(), "wait() returned before finish()");
        startup.finish();
        tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("wait() returns after finish()")
            .unwrap();
        assert!(!startup.progress().loading);
    }
}
