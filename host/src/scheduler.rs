//! The scheduler: jobs that invoke services one time, at intervals or cron-style.
//!
//! - `schedule`: when a job fires ([`Plan`]), pure computation.
//! - the planner, a [`SingletonTask`]: on the singleton only, it records each firing
//!   in the ODB a little ahead of its time (`lookahead_ms`), fenced by the lease's
//!   epoch, and queues it on the KVDB's work queue [`QUEUE`]. (job, fire time) is unique
//!   in the ODB, so a firing is recorded once whatever two servers believe.
//! - the worker, on every server: takes firings off the queue (each goes to exactly one
//!   server), waits for each one's time, calls its service through the `scheduler`
//!   channel kind ([`channel::call_service`]) and records how it ended, in batches.
//!
//! At the start of each term the planner resumes every job after its last recorded
//! firing; the firings missed while there was no singleton follow the job's
//! [`MissedPolicy`]: one firing for all of them (`once`, recorded with the latest
//! missed time and trigger `missed`) or none (`skip`).
//!
//! What a firing does not survive: the server that took it off the queue dying before
//! it ran (its run stays `pending`). A server that stops cleanly puts back what it has
//! not started.

mod schedule;

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, Semaphore, mpsc};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

pub use schedule::{Plan, format_time, parse_time, parse_zone};

use crate::api::{AfterLast, DataFormat, MissedPolicy, RunOutcome, RunTrigger, SingletonInfo};
use crate::channel::{self, Inbound};
use crate::config::SchedulerSettings;
use crate::kvdb::Kvdb;
use crate::odb::{JobRow, NewRun, Odb, OdbResult, RunResult, RunRow, now_ms};
use crate::reload::{Kind, Notice, Notifier, Reloadable};
use crate::runtime::{CallError, ChannelKind, RequestDetails, Runtime};
use crate::singleton::{Lease, Singleton, SingletonTask};

/// The name of the singleton's lease in the ODB.
pub const LEASE: &str = "scheduler";
/// The KVDB work queue of firings.
pub const QUEUE: &str = "scheduler.firings";

/// The most firings a server waits on or runs at once.
const MAX_IN_FLIGHT: usize = 4096;
/// The most firings recorded in one ODB transaction.
const MAX_BATCH: usize = 2000;
/// How often finished firings are written to the ODB.
const RESULTS_EVERY: Duration = Duration::from_millis(100);
/// How many finished firings wait in memory while the ODB is unreachable.
const MAX_PENDING_RESULTS: usize = 100_000;
/// How often the singleton deletes old runs.
const PRUNE_EVERY: Duration = Duration::from_secs(60);
/// Missed fire times counted at most, per job, at a takeover.
const MAX_MISSED_SCAN: usize = 1_000_000;

/// One firing on the work queue: all a server needs to run it.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Firing {
    job: String,
    fire_time: i64,
    trigger: RunTrigger,
    epoch: i64,
    service: String,
    payload: String,
    data_format: DataFormat,
    timeout_ms: u64,
    zone: String,
    /// Set on a job's last firing: what happens to the job once it ran.
    after_last: Option<AfterLast>,
}

/// A job as this server knows it.
struct Entry {
    row: JobRow,
    /// None when the job no longer checks out (a calendar it names was deleted).
    plan: Option<Arc<Plan>>,
}

#[derive(Default)]
struct Table {
    jobs: HashMap<String, Entry>,
}

/// The scheduler of one server: the worker always, the planner while the server is
/// the singleton.
pub struct Scheduler {
    odb: Arc<dyn Odb>,
    kvdb: Arc<dyn Kvdb>,
    notifier: Arc<Notifier>,
    server: String,
    settings: SchedulerSettings,
    singleton: Arc<Singleton>,
    table: ArcSwap<Table>,
    /// Wakes the planner when jobs changed.
    changed: Notify,
    results: mpsc::Sender<RunResult>,
    results_rx: std::sync::Mutex<Option<mpsc::Receiver<RunResult>>>,
}

impl Scheduler {
    pub fn new(
        odb: Arc<dyn Odb>,
        kvdb: Arc<dyn Kvdb>,
        notifier: Arc<Notifier>,
        server: String,
        settings: SchedulerSettings,
    ) -> Arc<Self> {
        let singleton = Arc::new(Singleton::new(
            odb.clone(),
            LEASE,
            server.clone(),
            &settings,
        ));
        let (results, results_rx) = mpsc::channel(MAX_IN_FLIGHT * 2);
        let scheduler = Arc::new(Self {
            odb,
            kvdb,
            notifier,
            server,
            settings,
            singleton,
            table: ArcSwap::from_pointee(Table::default()),
            changed: Notify::new(),
            results,
            results_rx: std::sync::Mutex::new(Some(results_rx)),
        });
        scheduler
            .singleton
            .register(Arc::new(Planner(scheduler.clone())));
        scheduler
    }

    /// This server's side of the singleton lease.
    pub fn singleton_lease(&self) -> &Arc<Singleton> {
        &self.singleton
    }

    /// Records a firing of `job` at now, asked for by hand, and queues it for a server
    /// to run at once (whether the job is active or not); returns it as recorded.
    pub async fn run_now(&self, job: &JobRow) -> anyhow::Result<RunRow> {
        let epoch = self.odb.lease(LEASE).await?.map_or(0, |l| l.epoch);
        let run = NewRun {
            job: job.job.name.clone(),
            fire_time: now_ms(),
            trigger: RunTrigger::Manual,
        };
        let recorded = self.odb.record_manual_run(&run, epoch).await?;
        let firing = firing(
            &job.job,
            recorded.fire_time,
            RunTrigger::Manual,
            epoch,
            None,
        );
        self.queue(&[firing]).await?;
        Ok(recorded)
    }

    /// Which server is the singleton.
    pub async fn singleton(&self) -> OdbResult<SingletonInfo> {
        let lease = self.odb.lease(LEASE).await?;
        Ok(match lease {
            Some(l) if l.holder.is_some() && l.expires_at > l.now => SingletonInfo {
                holder: l.holder,
                epoch: l.epoch,
                since: Some(l.acquired_at),
                expires_at: Some(l.expires_at),
            },
            Some(l) => SingletonInfo {
                holder: None,
                epoch: l.epoch,
                since: None,
                expires_at: None,
            },
            None => SingletonInfo {
                holder: None,
                epoch: 0,
                since: None,
                expires_at: None,
            },
        })
    }

    /// Starts the lease loop (and with it the planner, while this server holds the
    /// lease) and the worker; both stop with `shutdown`. The worker starts taking
    /// firings once `ready` resolves (the server's first load of services).
    pub fn spawn(
        self: &Arc<Self>,
        runtime: Arc<Runtime>,
        ready: impl std::future::Future<Output = ()> + Send + 'static,
        shutdown: CancellationToken,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        let rx = self
            .results_rx
            .lock()
            .expect("not poisoned")
            .take()
            .expect("spawned once");
        vec![
            tokio::spawn(self.singleton.clone().run(shutdown.clone())),
            tokio::spawn(self.clone().work(runtime, ready, shutdown.clone())),
            tokio::spawn(self.clone().record_results(rx, shutdown)),
        ]
    }

    async fn queue(&self, firings: &[Firing]) -> anyhow::Result<()> {
        let items: Vec<Vec<u8>> = firings
            .iter()
            .map(|f| serde_json::to_vec(f).expect("firings serialise"))
            .collect();
        self.kvdb.push_many(QUEUE, &items).await?;
        Ok(())
    }

    /// The worker: takes firings off the queue, each waits for its time and runs.
    async fn work(
        self: Arc<Self>,
        runtime: Arc<Runtime>,
        ready: impl std::future::Future<Output = ()> + Send + 'static,
        shutdown: CancellationToken,
    ) {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = ready => {}
        }
        if let Err(e) = self.reload().await {
            tracing::warn!("cannot load scheduler jobs (the next reconcile will): {e:#}");
        }
        let slots = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
        let mut running = JoinSet::new();
        loop {
            let permit = tokio::select! {
                _ = shutdown.cancelled() => break,
                permit = slots.clone().acquire_owned() => permit.expect("never closed"),
            };
            let popped = tokio::select! {
                _ = shutdown.cancelled() => break,
                popped = self.kvdb.pop(QUEUE, Duration::from_secs(1)) => popped,
            };
            match popped {
                Ok(Some(item)) => match serde_json::from_slice::<Firing>(&item) {
                    Ok(firing) => {
                        let this = self.clone();
                        let runtime = runtime.clone();
                        let shutdown = shutdown.clone();
                        running.spawn(async move {
                            this.fire(firing, &runtime, shutdown).await;
                            drop(permit);
                        });
                    }
                    Err(e) => tracing::warn!("ignoring an unreadable firing on the queue: {e}"),
                },
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!("cannot take firings off the queue (trying again): {e}");
                    tokio::select! {
                        _ = shutdown.cancelled() => break,
                        _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                    }
                }
            }
            while running.try_join_next().is_some() {}
        }
        // Firings waiting for their time were put back by their tasks; the calls in
        // progress finish.
        while running.join_next().await.is_some() {}
    }

    /// Runs one firing at its time and reports how it ended.
    async fn fire(&self, firing: Firing, runtime: &Arc<Runtime>, shutdown: CancellationToken) {
        let wait = Duration::from_millis((firing.fire_time - now_ms()).max(0) as u64);
        if !wait.is_zero() {
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.cancelled() => {
                    // Not started: another server runs it.
                    if let Err(e) = self.queue(std::slice::from_ref(&firing)).await {
                        tracing::warn!(job = %firing.job, "a firing could not be put back on the queue at stop: {e}");
                    }
                    return;
                }
            }
        }
        let started_at = now_ms();
        let clock = Instant::now();
        let (outcome, detail) = match self.runnable(&firing).await {
            Some(why) => (RunOutcome::Skipped, Some(why)),
            None => {
                let cid = channel::new_cid();
                let details = SchedulerDetails {
                    job: firing.job.clone(),
                    fire_time: parse_zone(&firing.zone)
                        .map(|tz| format_time(firing.fire_time, tz))
                        .unwrap_or_else(|_| firing.fire_time.to_string()),
                    trigger: trigger_name(firing.trigger),
                    epoch: firing.epoch.to_string(),
                };
                let inbound = Inbound {
                    cid: &cid,
                    service: &firing.service,
                    channel: ChannelKind::Scheduler,
                    payload: firing.payload.as_bytes(),
                    data_format: firing.data_format,
                    details: Box::new(details),
                    timeout: (firing.timeout_ms > 0)
                        .then(|| Duration::from_millis(firing.timeout_ms)),
                };
                match channel::call_service(runtime, inbound).await {
                    Ok(_) => (RunOutcome::Ok, None),
                    Err(e @ CallError::NotDeployed(_)) => {
                        (RunOutcome::Missing, Some(e.to_string()))
                    }
                    Err(e) => (RunOutcome::Error, Some(format!("{e} (cid {cid})"))),
                }
            }
        };
        if outcome == RunOutcome::Error || outcome == RunOutcome::Missing {
            tracing::warn!(job = %firing.job, "scheduler job `{}` failed: {}", firing.job, detail.as_deref().unwrap_or(""));
        }
        let result = RunResult {
            job: firing.job.clone(),
            fire_time: firing.fire_time,
            server: self.server.clone(),
            started_at,
            duration_ms: clock.elapsed().as_millis() as i64,
            outcome,
            detail,
        };
        if self.results.send(result).await.is_err() {
            tracing::warn!(job = %firing.job, "the outcome of a firing could not be recorded: the server stops");
        }
        if let Some(after) = firing.after_last
            && outcome != RunOutcome::Skipped
        {
            self.after_last(&firing.job, after).await;
        }
    }

    /// Why a firing must not run, if it must not: its job was deleted, or paused (a
    /// firing asked for by hand runs even so). A job this server has not heard of yet
    /// (created a moment ago on another server) is looked up in the ODB first.
    async fn runnable(&self, firing: &Firing) -> Option<String> {
        if !self.table.load().jobs.contains_key(&firing.job)
            && let Err(e) = self.reload().await
        {
            tracing::warn!("cannot reload scheduler jobs: {e:#}");
        }
        let table = self.table.load();
        match table.jobs.get(&firing.job) {
            None => Some(format!("job `{}` was deleted", firing.job)),
            Some(entry) if !entry.row.job.active && firing.trigger != RunTrigger::Manual => {
                Some(format!("job `{}` is paused", firing.job))
            }
            _ => None,
        }
    }

    async fn after_last(&self, job: &str, after: AfterLast) {
        let done = match after {
            AfterLast::Deactivate => self.odb.set_job_active(job, false).await,
            AfterLast::Delete => self.odb.delete_job(job).await,
        };
        match done {
            Ok(_) => {
                tracing::info!(job, "scheduler job `{job}` fired its last time: {after:?}");
                if let Err(e) = self.reload().await {
                    tracing::warn!("cannot reload scheduler jobs: {e:#}");
                }
                self.notifier
                    .publish(&Notice::Changed { of: Kind::Jobs })
                    .await;
            }
            Err(e) => tracing::warn!(
                job,
                "cannot apply {after:?} to job `{job}` after its last firing: {e}"
            ),
        }
    }

    /// Writes finished firings to the ODB in batches; keeps them while it cannot.
    async fn record_results(
        self: Arc<Self>,
        mut rx: mpsc::Receiver<RunResult>,
        shutdown: CancellationToken,
    ) {
        let mut pending: Vec<RunResult> = Vec::new();
        let mut ticker = tokio::time::interval(RESULTS_EVERY);
        let mut closing = false;
        loop {
            tokio::select! {
                result = rx.recv() => match result {
                    Some(result) => {
                        pending.push(result);
                        if pending.len() < MAX_BATCH {
                            continue;
                        }
                    }
                    None => closing = true,
                },
                _ = ticker.tick() => {}
                _ = shutdown.cancelled(), if !closing => {
                    // The worker's calls in flight still report: drain what is there.
                    while let Ok(result) = rx.try_recv() {
                        pending.push(result);
                    }
                    closing = true;
                }
            }
            if !pending.is_empty() {
                match self.odb.finish_runs(&pending).await {
                    Ok(()) => pending.clear(),
                    Err(e) => {
                        tracing::warn!(
                            "cannot record {} finished firings (trying again): {e}",
                            pending.len()
                        );
                        if pending.len() > MAX_PENDING_RESULTS {
                            let lost = pending.len() - MAX_PENDING_RESULTS;
                            pending.drain(..lost);
                            tracing::error!(
                                "{lost} finished firings were not recorded: the ODB was unreachable too long"
                            );
                        }
                    }
                }
            }
            if closing {
                return;
            }
        }
    }
}

/// Jobs and calendars are reloaded from the ODB as one kind.
#[async_trait]
impl Reloadable for Scheduler {
    async fn reload(&self) -> anyhow::Result<()> {
        let jobs = self.odb.jobs().await?;
        let calendars = self.odb.calendars().await?;
        let mut table = Table::default();
        for row in jobs {
            let plan = match Plan::new(&row.job, row.created_at, &calendars) {
                Ok(plan) => Some(Arc::new(plan)),
                Err(e) => {
                    tracing::warn!(job = %row.job.name, "scheduler job `{}` cannot fire: {e}", row.job.name);
                    None
                }
            };
            table.jobs.insert(row.job.name.clone(), Entry { row, plan });
        }
        self.table.store(Arc::new(table));
        self.changed.notify_one();
        Ok(())
    }
}

fn firing(
    job: &crate::api::Job,
    fire_time: i64,
    trigger: RunTrigger,
    epoch: i64,
    after_last: Option<AfterLast>,
) -> Firing {
    Firing {
        job: job.name.clone(),
        fire_time,
        trigger,
        epoch,
        service: job.service.clone(),
        payload: job.payload.clone(),
        data_format: job.data_format,
        timeout_ms: job.timeout_ms,
        zone: job.timezone.clone(),
        after_last,
    }
}

fn trigger_name(trigger: RunTrigger) -> &'static str {
    match trigger {
        RunTrigger::Schedule => "schedule",
        RunTrigger::Missed => "missed",
        RunTrigger::Manual => "manual",
    }
}

/// What a service called by the scheduler reads of its request: the channel's name is
/// the job's; details `job`, `fire-time` (ISO 8601 in the job's time zone), `trigger`
/// (`schedule`, `missed` or `manual`) and `epoch`.
struct SchedulerDetails {
    job: String,
    fire_time: String,
    trigger: &'static str,
    epoch: String,
}

impl RequestDetails for SchedulerDetails {
    fn channel_name(&self) -> &str {
        &self.job
    }

    fn details(&self) -> Vec<(&str, Cow<'_, str>)> {
        vec![
            ("job", Cow::Borrowed(self.job.as_str())),
            ("fire-time", Cow::Borrowed(self.fire_time.as_str())),
            ("trigger", Cow::Borrowed(self.trigger)),
            ("epoch", Cow::Borrowed(self.epoch.as_str())),
        ]
    }
}

/// The planner, on the singleton.
struct Planner(Arc<Scheduler>);

/// Where the planner is with one job.
struct Cursor {
    /// The job's `updated_at` when the cursor was set: a change resets it.
    updated_at: i64,
    /// The next fire time to record.
    next: i64,
}

#[async_trait]
impl SingletonTask for Planner {
    fn name(&self) -> &'static str {
        "scheduler"
    }

    async fn run(self: Arc<Self>, lease: Lease) {
        let s = &self.0;
        // Where each job stands: its latest recorded firing.
        let last = loop {
            match s.odb.last_runs().await {
                Ok(runs) => break runs,
                Err(e) => {
                    tracing::warn!(
                        "the scheduler cannot read the last firings (trying again): {e}"
                    );
                    tokio::select! {
                        _ = lease.lost() => return,
                        _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                    }
                }
            }
        };
        if let Err(e) = s.reload().await {
            tracing::warn!("cannot load scheduler jobs (the planner retries): {e:#}");
        }
        let mut last_planned: HashMap<String, i64> = last
            .into_iter()
            .filter(|r| r.trigger != RunTrigger::Manual)
            .map(|r| (r.job, r.fire_time))
            .collect();
        let mut cursors: HashMap<String, Cursor> = HashMap::new();
        let mut due: BTreeSet<(i64, String)> = BTreeSet::new();
        let mut takeover = true;
        let mut missed: Vec<(NewRun, Firing)> = Vec::new();
        let mut pruned = Instant::now();
        let tick = Duration::from_millis(s.settings.tick_ms.max(10));
        let lookahead = s.settings.lookahead_ms as i64;
        let mut synced: Option<Arc<Table>> = None;
        tracing::info!(
            epoch = lease.epoch,
            "the scheduler plans firings on this server"
        );
        loop {
            let table = s.table.load_full();
            if synced.as_ref().is_none_or(|t| !Arc::ptr_eq(t, &table)) {
                let now = now_ms();
                sync(
                    &table,
                    now,
                    takeover,
                    &mut cursors,
                    &mut due,
                    &mut last_planned,
                    &mut missed,
                    lease.epoch,
                );
                takeover = false;
                synced = Some(table.clone());
            }
            let horizon = now_ms() + lookahead;
            let mut batch: Vec<(NewRun, Firing)> = std::mem::take(&mut missed);
            let mut advanced: Vec<(String, i64, Option<i64>)> = Vec::new();
            while batch.len() < MAX_BATCH {
                let Some((next, name)) = due.first().cloned() else {
                    break;
                };
                if next > horizon {
                    break;
                }
                due.pop_first();
                let Some(entry) = table.jobs.get(&name) else {
                    continue;
                };
                let Some(plan) = &entry.plan else { continue };
                let following = plan.next_after(next);
                let after_last = match (&entry.row.job.schedule, following) {
                    (crate::api::Schedule::Interval { after_last, .. }, None) => Some(*after_last),
                    _ => None,
                };
                batch.push((
                    NewRun {
                        job: name.clone(),
                        fire_time: next,
                        trigger: RunTrigger::Schedule,
                    },
                    firing(
                        &entry.row.job,
                        next,
                        RunTrigger::Schedule,
                        lease.epoch,
                        after_last,
                    ),
                ));
                advanced.push((name, next, following));
            }
            let mut failed = false;
            if !batch.is_empty() {
                let runs: Vec<NewRun> = batch.iter().map(|(r, _)| r.clone()).collect();
                let recorded = tokio::select! {
                    _ = lease.lost() => return,
                    recorded = s.odb.record_runs(LEASE, &s.server, lease.epoch, &runs) => recorded,
                };
                match recorded {
                    Ok(Some(recorded)) => {
                        for (name, at, following) in advanced {
                            last_planned.insert(name.clone(), at);
                            match (following, cursors.get_mut(&name)) {
                                (Some(following), Some(cursor)) => {
                                    cursor.next = following;
                                    due.insert((following, name));
                                }
                                _ => {
                                    cursors.remove(&name);
                                }
                            }
                        }
                        let new: std::collections::HashSet<(&str, i64)> = recorded
                            .iter()
                            .map(|r| (r.job.as_str(), r.fire_time))
                            .collect();
                        let firings: Vec<Firing> = batch
                            .into_iter()
                            .filter(|(r, _)| new.contains(&(r.job.as_str(), r.fire_time)))
                            .map(|(_, f)| f)
                            .collect();
                        if let Err(e) = s.queue(&firings).await {
                            tracing::error!(
                                "{} recorded firings could not be queued: {e}",
                                firings.len()
                            );
                        }
                    }
                    Ok(None) => {
                        s.singleton.fenced(lease.epoch);
                        return;
                    }
                    Err(e) => {
                        // Nothing was recorded: the same firings are planned again.
                        failed = true;
                        tracing::warn!("cannot record {} firings (trying again): {e}", runs.len());
                        for (name, at, _) in advanced {
                            due.insert((at, name));
                        }
                        missed = batch
                            .into_iter()
                            .filter(|(r, _)| r.trigger == RunTrigger::Missed)
                            .collect();
                    }
                }
            }
            if pruned.elapsed() >= PRUNE_EVERY {
                pruned = Instant::now();
                let before = now_ms() - (s.settings.keep_runs_hours as i64) * 3_600_000;
                match s.odb.prune_runs(before).await {
                    Ok(0) => {}
                    Ok(n) => tracing::debug!("deleted {n} old scheduler runs"),
                    Err(e) => tracing::warn!("cannot delete old scheduler runs: {e}"),
                }
            }
            let more_due = due
                .first()
                .is_some_and(|(next, _)| *next <= now_ms() + lookahead);
            if more_due && !failed {
                continue;
            }
            tokio::select! {
                _ = lease.lost() => return,
                _ = s.changed.notified() => {}
                _ = tokio::time::sleep(tick) => {}
            }
        }
    }
}

/// Brings the planner's cursors in line with `table`: new and changed jobs get a
/// cursor, paused and deleted ones lose theirs. At a takeover, the firings each job
/// missed since its last recorded one follow its policy.
#[allow(clippy::too_many_arguments)]
fn sync(
    table: &Table,
    now: i64,
    takeover: bool,
    cursors: &mut HashMap<String, Cursor>,
    due: &mut BTreeSet<(i64, String)>,
    last_planned: &mut HashMap<String, i64>,
    missed: &mut Vec<(NewRun, Firing)>,
    epoch: i64,
) {
    cursors.retain(|name, cursor| {
        let keep = table.jobs.get(name).is_some_and(|e| {
            e.row.job.active && e.plan.is_some() && e.row.updated_at == cursor.updated_at
        });
        if !keep {
            due.remove(&(cursor.next, name.clone()));
        }
        keep
    });
    for (name, entry) in &table.jobs {
        if !entry.row.job.active || cursors.contains_key(name) {
            continue;
        }
        let Some(plan) = &entry.plan else { continue };
        let next = if takeover {
            // Everything after the last recorded firing that is due by now was missed.
            let base = last_planned
                .get(name)
                .copied()
                .unwrap_or(entry.row.updated_at - 1);
            let mut latest_missed = None;
            let mut at = plan.next_after(base);
            let mut scanned = 0;
            while let Some(t) = at {
                if t > now || scanned >= MAX_MISSED_SCAN {
                    break;
                }
                latest_missed = Some(t);
                scanned += 1;
                at = plan.next_after(t);
            }
            if let Some(t) = latest_missed {
                match entry.row.job.missed {
                    MissedPolicy::Once => {
                        tracing::info!(job = %name, "job `{name}` missed {scanned} firing(s) while there was no singleton: it fires once now");
                        let after_last = match (&entry.row.job.schedule, at) {
                            (crate::api::Schedule::Interval { after_last, .. }, None) => {
                                Some(*after_last)
                            }
                            _ => None,
                        };
                        missed.push((
                            NewRun {
                                job: name.clone(),
                                fire_time: t,
                                trigger: RunTrigger::Missed,
                            },
                            firing(&entry.row.job, t, RunTrigger::Missed, epoch, after_last),
                        ));
                    }
                    MissedPolicy::Skip => {
                        tracing::info!(job = %name, "job `{name}` missed {scanned} firing(s) while there was no singleton: skipped, as its policy says");
                    }
                }
                last_planned.insert(name.clone(), t);
            }
            at
        } else {
            // A new, changed or resumed job: from now on (what was planned stays).
            let base = last_planned
                .get(name)
                .copied()
                .unwrap_or(i64::MIN)
                .max(now - 1);
            plan.next_after(base)
        };
        if let Some(next) = next {
            cursors.insert(
                name.clone(),
                Cursor {
                    updated_at: entry.row.updated_at,
                    next,
                },
            );
            due.insert((next, name.clone()));
        }
    }
}
