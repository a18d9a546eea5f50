//! The singleton: at most one server of a cluster at a time holds a lease in the ODB,
//! and runs what must not run twice (the scheduler's planner; later, connectors).
//!
//! The lease is claimed and renewed against the ODB's clock (`odb::Scheduling`): a
//! server holds it for `lease_ms` from the ODB's now at each renewal, renews every
//! `renew_ms`, and an expired lease is claimed by the first server that asks, with an
//! epoch one greater. The holder steps down by itself when it could not renew before
//! its own deadline: `lease_ms` from the moment it *sent* the last renewal that
//! succeeded, which is never later than the ODB's expiry, so a holder always believes
//! it holds the lease for less time than the ODB grants it. A server that lost the race
//! (or was paused past its lease) learns it at its next renewal, and whatever it does
//! meanwhile is fenced by the epoch: writes made in the singleton's name check it in
//! the same transaction (`record_runs`).
//!
//! The API, for anything that must run on one server only:
//!
//! ```ignore
//! singleton.register(Arc::new(MyConnector));   // before `spawn`
//! // MyConnector: SingletonTask, whose `run(lease)` runs while this server holds the
//! // lease and returns when `lease.lost()` resolves.
//! ```
//!
//! A task is started each time this server takes the lease, with that term's
//! [`Lease`] (epoch and a token cancelled when the term ends: the lease lost, not
//! renewed in time, or the server stopping), and must return soon after.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::config::SchedulerSettings;
use crate::odb::Odb;

/// One term of this server as the singleton.
#[derive(Debug, Clone)]
pub struct Lease {
    /// The lease's epoch in this term: the fencing token of the singleton's writes.
    pub epoch: i64,
    /// When the term started, ms since the Unix epoch (the ODB's clock).
    pub since: i64,
    /// Cancelled when the term ends.
    pub token: CancellationToken,
}

impl Lease {
    /// Resolves when the term ends.
    pub async fn lost(&self) {
        self.token.cancelled().await
    }

    pub fn is_lost(&self) -> bool {
        self.token.is_cancelled()
    }
}

/// Something that runs on the singleton only.
#[async_trait]
pub trait SingletonTask: Send + Sync + 'static {
    /// For the log.
    fn name(&self) -> &'static str;
    /// Runs for one term; returns soon after `lease.lost()` resolves.
    async fn run(self: Arc<Self>, lease: Lease);
}

/// This server's side of the lease `name`.
pub struct Singleton {
    odb: Arc<dyn Odb>,
    name: &'static str,
    server: String,
    renew: Duration,
    lease: Duration,
    eligible: bool,
    tasks: Mutex<Vec<Arc<dyn SingletonTask>>>,
    /// The current term, if this server holds the lease.
    term: Mutex<Option<Lease>>,
}

impl Singleton {
    pub fn new(
        odb: Arc<dyn Odb>,
        name: &'static str,
        server: String,
        settings: &SchedulerSettings,
    ) -> Self {
        Self {
            odb,
            name,
            server,
            renew: Duration::from_millis(settings.renew_ms.max(10)),
            lease: Duration::from_millis(settings.lease_ms.max(settings.renew_ms * 2).max(20)),
            eligible: settings.singleton,
            tasks: Mutex::new(Vec::new()),
            term: Mutex::new(None),
        }
    }

    /// Adds a task started at every term of this server (before [`Singleton::run`]).
    pub fn register(&self, task: Arc<dyn SingletonTask>) {
        self.tasks.lock().expect("not poisoned").push(task);
    }

    /// The current term, if this server holds the lease.
    pub fn term(&self) -> Option<Lease> {
        self.term.lock().expect("not poisoned").clone()
    }

    /// Ends the current term if it is `epoch`'s: a write in the singleton's name was
    /// refused by the ODB's fence, so another server holds the lease.
    pub fn fenced(&self, epoch: i64) {
        let mut term = self.term.lock().expect("not poisoned");
        if term.as_ref().is_some_and(|t| t.epoch == epoch) {
            tracing::warn!(
                server = %self.server,
                epoch,
                "no longer the singleton: the ODB refused a write of its term (another server holds the lease)"
            );
            if let Some(term) = term.take() {
                term.token.cancel();
            }
        }
    }

    /// Claims, renews and gives up the lease until `shutdown`; then releases it, so
    /// another server takes over at once.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        if !self.eligible {
            return;
        }
        let mut running = JoinSet::new();
        // While holding: the moment by which a renewal must have succeeded.
        let mut deadline: Option<Instant> = None;
        loop {
            let wait = match (self.term(), deadline) {
                (Some(_), Some(due)) => {
                    let sent = Instant::now();
                    let renewal = tokio::time::timeout(
                        due.saturating_duration_since(sent),
                        self.renew_once(),
                    )
                    .await;
                    match renewal {
                        Ok(Ok(true)) => {
                            self.extend(sent, &mut deadline);
                            self.renew
                        }
                        Ok(Ok(false)) => {
                            self.step_down("the ODB says another server holds the lease");
                            self.renew
                        }
                        Ok(Err(e)) if Instant::now() < due => {
                            tracing::warn!(server = %self.server, "cannot renew the singleton's lease (trying again): {e}");
                            self.renew / 4
                        }
                        Ok(Err(e)) => {
                            self.step_down(&format!("the lease could not be renewed in time: {e}"));
                            self.renew
                        }
                        Err(_) => {
                            self.step_down("the lease could not be renewed in time");
                            self.renew
                        }
                    }
                }
                _ => {
                    let sent = Instant::now();
                    match self
                        .odb
                        .claim_lease(self.name, &self.server, self.lease_ms())
                        .await
                    {
                        Ok(row) if row.holder.as_deref() == Some(self.server.as_str()) => {
                            self.extend(sent, &mut deadline);
                            self.start_term(row.epoch, row.acquired_at, &mut running);
                            self.renew
                        }
                        // Someone else holds it: ask again as soon as it would expire.
                        Ok(row) => Duration::from_millis(
                            (row.expires_at - row.now + 1).clamp(1, self.renew.as_millis() as i64)
                                as u64,
                        ),
                        Err(e) => {
                            tracing::warn!(server = %self.server, "cannot claim the singleton's lease: {e}");
                            self.renew
                        }
                    }
                }
            };
            // A term also ends without a renewal: by its deadline.
            let until_deadline = match (self.term(), deadline) {
                (Some(_), Some(due)) => due.saturating_duration_since(Instant::now()),
                _ => wait,
            };
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(wait.min(until_deadline)) => {}
            }
            if self.term().is_some() && deadline.is_some_and(|d| Instant::now() >= d) {
                self.step_down("its lease was not renewed before its deadline");
            }
            // Tasks of ended terms.
            while running.try_join_next().is_some() {}
        }
        let held = self.term.lock().expect("not poisoned").take();
        if let Some(term) = held {
            term.token.cancel();
            while running.join_next().await.is_some() {}
            match self
                .odb
                .release_lease(self.name, &self.server, term.epoch)
                .await
            {
                Ok(()) => {
                    tracing::info!(server = %self.server, epoch = term.epoch, "released the singleton's lease")
                }
                Err(e) => {
                    tracing::warn!(server = %self.server, "cannot release the singleton's lease (it expires by itself): {e}")
                }
            }
        }
    }

    fn lease_ms(&self) -> i64 {
        self.lease.as_millis() as i64
    }

    async fn renew_once(&self) -> crate::odb::OdbResult<bool> {
        let Some(epoch) = self.term().map(|t| t.epoch) else {
            return Ok(false);
        };
        self.odb
            .renew_lease(self.name, &self.server, epoch, self.lease_ms())
            .await
    }

    fn extend(&self, sent: Instant, deadline: &mut Option<Instant>) {
        *deadline = Some(sent + self.lease);
    }

    fn start_term(&self, epoch: i64, since: i64, running: &mut JoinSet<()>) {
        let lease = Lease {
            epoch,
            since,
            token: CancellationToken::new(),
        };
        {
            let mut term = self.term.lock().expect("not poisoned");
            if term.as_ref().is_some_and(|t| t.epoch == epoch) {
                return;
            }
            *term = Some(lease.clone());
        }
        tracing::info!(server = %self.server, epoch, "this server is now the singleton");
        let tasks = self.tasks.lock().expect("not poisoned").clone();
        for task in tasks {
            let lease = lease.clone();
            let name = task.name();
            running.spawn(async move {
                task.run(lease).await;
                tracing::debug!("singleton task `{name}` ended its term");
            });
        }
    }

    fn step_down(&self, why: &str) {
        if let Some(term) = self.term.lock().expect("not poisoned").take() {
            tracing::warn!(server = %self.server, epoch = term.epoch, "no longer the singleton: {why}");
            term.token.cancel();
        }
    }
}
