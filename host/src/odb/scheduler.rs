//! The scheduler's objects: jobs, calendars, the recorded firings (runs), and the
//! singleton's lease.
//!
//! The lease is one row per name (`scheduler` for the singleton) claimed and renewed
//! against the database's own clock, so that servers' clocks never decide who holds
//! it. Its epoch grows by one at every claim that changes hands or follows an expiry;
//! a run is recorded only in a transaction that finds the lease still held by the
//! recorder's epoch and not expired (the fencing token), and (job, fire time) is
//! unique, so a firing is recorded once whatever two servers believe.
//!
//! Tables (`migrations/*/0003_scheduler.sql`):
//!
//! - `scheduler_job`: the name, the service, the definition (the admin API's [`Job`] as
//!   JSON), `active` (1 or 0) and the creation and change times (the server's clock).
//!   `service` and `active` repeat fields of the definition and every write keeps them
//!   equal; pausing rewrites both, comparing the definition it read so that a
//!   concurrent edit is never lost. An update keeps `created_at`.
//! - `scheduler_calendar`: the name, the description, the dates as a JSON array.
//! - `scheduler_run`: one row per (job, fire time), the primary key, which also serves
//!   a job's runs newest first and the latest run of each job; `planned_at` (the
//!   database's clock when it was recorded) has an index for the pruning. Trigger and
//!   outcome are stored as the API spells them (`schedule`, `pending`, ...). A job's
//!   runs go with it, in the same transaction.
//! - `singleton_lease`: the name, the holder (NULL before the first claim and after a
//!   release), the epoch, and when it was acquired and expires.
//!
//! Every "now" of the lease and of `planned_at` is the database's clock in ms:
//! `julianday('now')` on SQLite, `clock_timestamp()` on PostgreSQL, `NOW(3)` on MySQL
//! (whose sessions sqlx sets to UTC, so no DST hour is ambiguous). A lease has expired
//! when `expires_at <= now`.
//!
//! A claim creates the lease's row if it is missing (an insert that skips an existing
//! row, so servers claiming a new lease at once do not fail), then one conditional
//! UPDATE renews it (the holder's, unexpired: same epoch) or takes it (no holder, or
//! expired: epoch + 1), and reads it back. Every successful update moves `expires_at`,
//! and MySQL counts matched rows anyway (sqlx asks for `CLIENT_FOUND_ROWS`), so
//! "one row affected" means "it held" on every backend.
//!
//! Fencing: `record_runs` first locks the lease's row and reads it in the same
//! transaction: `SELECT ... FOR UPDATE` on PostgreSQL (READ COMMITTED: a claim waiting
//! on the row sees the committed recording and takes the lease after it) and MySQL,
//! `BEGIN IMMEDIATE` on SQLite (the one writer). A claim that takes the lease over
//! must update that row, so it waits for the recording to commit, and a recording
//! that comes after it finds another epoch and records nothing. Runs are inserted in
//! multi-row statements of at most [`CHUNK_ROWS`] rows, padded to a power of two (so a
//! connection prepares a handful of statements, not one per batch size) by repeating
//! the last row, which the insert skips like any recorded pair. What was new comes from
//! the insert itself on SQLite and PostgreSQL (`ON CONFLICT DO NOTHING RETURNING`);
//! MySQL has no RETURNING, so it reads the chunk's recorded pairs with `FOR UPDATE`
//! first (which also locks the gaps of the missing ones against a concurrent manual
//! run) and inserts the others; if an insert still finds fewer new rows than expected,
//! the whole transaction starts over.
//!
//! `finish_runs` runs one UPDATE per result in one READ COMMITTED transaction: results
//! touch distinct rows, so stronger isolation would only cost. A NUL in a result's
//! detail (an error text from a service) is stored as U+FFFD rather than fail the
//! batch; results of jobs whose names could not have been recorded are ignored.
//!
//! On SQLite every write takes a turn (`SqlOdb::write_turn`) first, as the heartbeat
//! does: a planner recording four times a second must not starve it nor be starved.

use std::collections::HashSet;

use async_trait::async_trait;
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use super::sql::{Dialect, LONGEST_KEY, check_key, check_text};
use super::{OdbError, OdbResult, SqlOdb, now_ms};
use crate::api::{Calendar, Job, RunOutcome, RunTrigger};

/// A stored job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRow {
    pub job: Job,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A firing to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRun {
    pub job: String,
    /// The scheduled time, ms since the Unix epoch.
    pub fire_time: i64,
    pub trigger: RunTrigger,
}

/// How a recorded firing ended, written by the server that ran it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunResult {
    pub job: String,
    pub fire_time: i64,
    pub server: String,
    pub started_at: i64,
    pub duration_ms: i64,
    pub outcome: RunOutcome,
    pub detail: Option<String>,
}

/// A recorded firing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunRow {
    pub job: String,
    pub fire_time: i64,
    pub trigger: RunTrigger,
    pub epoch: i64,
    /// When it was recorded.
    pub planned_at: i64,
    pub server: Option<String>,
    pub started_at: Option<i64>,
    pub duration_ms: Option<i64>,
    pub outcome: RunOutcome,
    pub detail: Option<String>,
}

/// A lease as the ODB holds it, with the ODB's clock when it was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseRow {
    /// The holder; none before the first claim and after a release.
    pub holder: Option<String>,
    pub epoch: i64,
    pub acquired_at: i64,
    pub expires_at: i64,
    /// The database's clock, ms since the Unix epoch, as the row was read.
    pub now: i64,
}

/// Jobs, calendars, runs and leases.
#[async_trait]
pub trait Scheduling: Send + Sync {
    /// Every job, sorted by name.
    async fn jobs(&self) -> OdbResult<Vec<JobRow>>;
    async fn job(&self, name: &str) -> OdbResult<Option<JobRow>>;
    /// Fails with [`OdbError::Conflict`](super::OdbError::Conflict) when the name is
    /// taken.
    async fn create_job(&self, job: &Job) -> OdbResult<JobRow>;
    /// Replaces the job named `name` with `job` (whose name must be `name`); returns
    /// whether it existed.
    async fn update_job(&self, name: &str, job: &Job) -> OdbResult<bool>;
    /// Pauses (false) or resumes (true) a job; returns whether it existed.
    async fn set_job_active(&self, name: &str, active: bool) -> OdbResult<bool>;
    /// Deletes a job and its runs; returns whether it existed.
    async fn delete_job(&self, name: &str) -> OdbResult<bool>;

    /// Every calendar, sorted by name.
    async fn calendars(&self) -> OdbResult<Vec<Calendar>>;
    async fn calendar(&self, name: &str) -> OdbResult<Option<Calendar>>;
    /// Fails with `Conflict` when the name is taken.
    async fn create_calendar(&self, calendar: &Calendar) -> OdbResult<()>;
    /// Returns whether it existed.
    async fn update_calendar(&self, name: &str, calendar: &Calendar) -> OdbResult<bool>;
    /// Returns whether it existed.
    async fn delete_calendar(&self, name: &str) -> OdbResult<bool>;

    /// Records `runs` as `pending` under the lease `name` held by `holder` in `epoch`,
    /// in one transaction that first checks, against the ODB's clock, that the lease is
    /// still theirs and not expired. `None`: it is not (nothing was recorded); `Some`:
    /// the runs that were recorded now (a (job, fire time) already recorded is left
    /// as it was and not returned).
    async fn record_runs(
        &self,
        lease: &str,
        holder: &str,
        epoch: i64,
        runs: &[NewRun],
    ) -> OdbResult<Option<Vec<NewRun>>>;
    /// Records a firing asked for by hand (no lease needed), with `epoch` as the lease
    /// was when asked; if its fire time is taken, the next free millisecond is used.
    /// Returns the run as recorded.
    async fn record_manual_run(&self, run: &NewRun, epoch: i64) -> OdbResult<RunRow>;
    /// Writes how runs ended (a run that is not recorded is ignored).
    async fn finish_runs(&self, results: &[RunResult]) -> OdbResult<()>;
    /// The latest `limit` runs of a job, newest first.
    async fn runs(&self, job: &str, limit: u32) -> OdbResult<Vec<RunRow>>;
    /// The latest run of each job that has any.
    async fn last_runs(&self) -> OdbResult<Vec<RunRow>>;
    /// Deletes runs recorded before `before` (ms); returns how many.
    async fn prune_runs(&self, before: i64) -> OdbResult<u64>;

    /// Takes the lease `name` for `holder` for `lease_ms` of the ODB's clock if nobody
    /// holds it or it expired (the epoch grows by one), or renews it if `holder` holds
    /// it still (same epoch). Returns the lease as it is after the attempt: held by
    /// `holder` or by someone else.
    async fn claim_lease(&self, name: &str, holder: &str, lease_ms: i64) -> OdbResult<LeaseRow>;
    /// Extends the lease by `lease_ms` from the ODB's now if `holder` holds it in
    /// `epoch` and it has not expired; returns whether it did.
    async fn renew_lease(
        &self,
        name: &str,
        holder: &str,
        epoch: i64,
        lease_ms: i64,
    ) -> OdbResult<bool>;
    /// Gives the lease up (a clean stop), so that another server takes it at once.
    async fn release_lease(&self, name: &str, holder: &str, epoch: i64) -> OdbResult<()>;
    /// The lease as it is; none before its first claim.
    async fn lease(&self, name: &str) -> OdbResult<Option<LeaseRow>>;
}

/// The most runs one INSERT of `record_runs` carries: 5 parameters each, 2,560 in all,
/// far below every backend's limit (SQLite 32,766, PostgreSQL and MySQL 65,535). A
/// power of two: shorter chunks are padded to the next one.
const CHUNK_ROWS: usize = 512;
/// How many recorded fire times after a taken one a manual run reads at once, looking
/// for the first free millisecond.
const MANUAL_LOOKAHEAD: i64 = 1_000;
/// How many times a write whose premise changed under it (a concurrent edit of the
/// same job, a run recorded between a check and an insert) starts over.
const ATTEMPTS: usize = 20;

/// What an attempt of `record_runs` found.
enum Recording {
    /// The lease is not the recorder's (or expired): nothing was recorded.
    NotHeld,
    /// These runs were new and are recorded.
    Recorded(Vec<NewRun>),
    /// A pair found free was taken before the insert (MySQL only): start over.
    Raced,
}

/// The database's clock, ms since the Unix epoch, as an SQL expression. SQLite's
/// `julianday` is a double: the product is rounded back to the millisecond it holds.
fn now_expr(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Sqlite => "CAST(ROUND((julianday('now') - 2440587.5) * 86400000) AS INTEGER)",
        Dialect::Postgres => "FLOOR(EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT",
        Dialect::MySql => "CAST(UNIX_TIMESTAMP(NOW(3)) * 1000 AS SIGNED)",
    }
}

/// `template` for `dialect`: `{now}` becomes [`now_expr`], and `?` placeholders become
/// `$1, $2, ...` on PostgreSQL (`SqlOdb::sql` takes only static text).
fn statement(dialect: Dialect, template: &str) -> AssertSqlSafe<String> {
    let text = template.replace("{now}", now_expr(dialect));
    if dialect != Dialect::Postgres {
        return AssertSqlSafe(text);
    }
    let mut out = String::with_capacity(text.len() + text.len() / 4);
    let mut n = 0;
    for c in text.chars() {
        if c == '?' {
            n += 1;
            out.push('$');
            out.push_str(&n.to_string());
        } else {
            out.push(c);
        }
    }
    AssertSqlSafe(out)
}

/// An INSERT that skips a row whose key is taken: what comes before the table, and
/// after the values.
fn insert_or_skip(dialect: Dialect) -> (&'static str, &'static str) {
    match dialect {
        Dialect::Sqlite | Dialect::Postgres => ("INSERT INTO", " ON CONFLICT DO NOTHING"),
        Dialect::MySql => ("INSERT IGNORE INTO", ""),
    }
}

/// The columns of a run, as [`run_row`] reads them, from the table known as `table`.
fn run_columns(table: &str) -> String {
    [
        "job",
        "fire_time",
        "run_trigger",
        "epoch",
        "planned_at",
        "server",
        "started_at",
        "duration_ms",
        "outcome",
        "detail",
    ]
    .map(|column| format!("{table}.{column} AS {column}"))
    .join(", ")
}

fn trigger_name(trigger: RunTrigger) -> &'static str {
    match trigger {
        RunTrigger::Schedule => "schedule",
        RunTrigger::Missed => "missed",
        RunTrigger::Manual => "manual",
    }
}

fn trigger_of(name: &str) -> OdbResult<RunTrigger> {
    Ok(match name {
        "schedule" => RunTrigger::Schedule,
        "missed" => RunTrigger::Missed,
        "manual" => RunTrigger::Manual,
        other => {
            return Err(OdbError::Invalid(format!(
                "a recorded run has an unknown trigger `{other}`"
            )));
        }
    })
}

fn outcome_name(outcome: RunOutcome) -> &'static str {
    match outcome {
        RunOutcome::Pending => "pending",
        RunOutcome::Ok => "ok",
        RunOutcome::Error => "error",
        RunOutcome::Missing => "missing",
        RunOutcome::Skipped => "skipped",
    }
}

fn outcome_of(name: &str) -> OdbResult<RunOutcome> {
    Ok(match name {
        "pending" => RunOutcome::Pending,
        "ok" => RunOutcome::Ok,
        "error" => RunOutcome::Error,
        "missing" => RunOutcome::Missing,
        "skipped" => RunOutcome::Skipped,
        other => {
            return Err(OdbError::Invalid(format!(
                "a recorded run has an unknown outcome `{other}`"
            )));
        }
    })
}

fn run_row(row: &AnyRow) -> OdbResult<RunRow> {
    Ok(RunRow {
        job: row.try_get("job")?,
        fire_time: row.try_get("fire_time")?,
        trigger: trigger_of(&row.try_get::<String, _>("run_trigger")?)?,
        epoch: row.try_get("epoch")?,
        planned_at: row.try_get("planned_at")?,
        server: row.try_get("server")?,
        started_at: row.try_get("started_at")?,
        duration_ms: row.try_get("duration_ms")?,
        outcome: outcome_of(&row.try_get::<String, _>("outcome")?)?,
        detail: row.try_get("detail")?,
    })
}

fn job_row(row: &AnyRow) -> OdbResult<JobRow> {
    let definition: String = row.try_get("definition")?;
    let job = serde_json::from_str(&definition).map_err(|e| {
        OdbError::Invalid(format!(
            "a stored job definition does not read as a job: {e}"
        ))
    })?;
    Ok(JobRow {
        job,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn calendar_row(row: &AnyRow) -> OdbResult<Calendar> {
    let name: String = row.try_get("name")?;
    let dates: String = row.try_get("dates")?;
    let dates = serde_json::from_str(&dates).map_err(|e| {
        OdbError::Invalid(format!(
            "the stored dates of calendar `{name}` are not a list of dates: {e}"
        ))
    })?;
    Ok(Calendar {
        name,
        description: row.try_get("description")?,
        dates,
    })
}

fn lease_row(row: &AnyRow) -> OdbResult<LeaseRow> {
    Ok(LeaseRow {
        holder: row.try_get("holder")?,
        epoch: row.try_get("epoch")?,
        acquired_at: row.try_get("acquired_at")?,
        expires_at: row.try_get("expires_at")?,
        now: row.try_get("db_now")?,
    })
}

/// Whether something could be stored under `key`: a key no object can have (too long,
/// with a trailing space or a control character) is looked up nowhere, so that a NUL,
/// which PostgreSQL refuses in text, cannot fail a lookup.
fn findable(key: &str) -> bool {
    check_key("name", key, LONGEST_KEY).is_ok()
}

/// Checks what `job` stores under keys, and returns its definition as stored.
fn definition_of(job: &Job) -> OdbResult<String> {
    check_key("job name", &job.name, LONGEST_KEY)?;
    check_key("service name", &job.service, LONGEST_KEY)?;
    for calendar in &job.calendars {
        check_key("calendar name", calendar, LONGEST_KEY)?;
    }
    let definition = serde_json::to_string(job)
        .map_err(|e| OdbError::Invalid(format!("job `{}` cannot be stored: {e}", job.name)))?;
    check_text(
        &format!("the definition of job `{}`", job.name),
        &definition,
    )?;
    Ok(definition)
}

fn check_lease_ms(lease_ms: i64) -> OdbResult<()> {
    if lease_ms < 1 {
        return Err(OdbError::Invalid(format!(
            "a lease lasts at least 1 ms, not {lease_ms}"
        )));
    }
    Ok(())
}

const LEASE_COLUMNS: &str = "holder, epoch, acquired_at, expires_at, {now} AS db_now";

/// Renews the lease for its holder (same epoch) or takes it when it has no holder or
/// expired (epoch + 1). MySQL assigns left to right, each assignment seeing the ones
/// before: `holder` and `expires_at` come after the CASEs that read them.
const CLAIM: &str = "UPDATE singleton_lease SET \
    epoch = CASE WHEN holder = ? AND expires_at > {now} THEN epoch ELSE epoch + 1 END, \
    acquired_at = CASE WHEN holder = ? AND expires_at > {now} THEN acquired_at ELSE {now} END, \
    holder = ?, \
    expires_at = {now} + ? \
    WHERE name = ? AND (holder = ? OR holder IS NULL OR expires_at <= {now})";

#[async_trait]
impl Scheduling for SqlOdb {
    async fn jobs(&self) -> OdbResult<Vec<JobRow>> {
        let rows = sqlx::query(
            self.sql("SELECT definition, created_at, updated_at FROM scheduler_job ORDER BY name"),
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(job_row).collect()
    }

    async fn job(&self, name: &str) -> OdbResult<Option<JobRow>> {
        if !findable(name) {
            return Ok(None);
        }
        let row = sqlx::query(
            self.sql("SELECT definition, created_at, updated_at FROM scheduler_job WHERE name = ?"),
        )
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(job_row).transpose()
    }

    async fn create_job(&self, job: &Job) -> OdbResult<JobRow> {
        let definition = definition_of(job)?;
        let now = now_ms();
        let result = sqlx::query(self.sql(
            "INSERT INTO scheduler_job (name, service, definition, active, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?)",
        ))
        .bind(&job.name)
        .bind(&job.service)
        .bind(&definition)
        .bind(i64::from(job.active))
        .bind(now)
        .bind(now)
        .execute(&self.pool)
        .await;
        match result {
            Ok(_) => Ok(JobRow {
                job: job.clone(),
                created_at: now,
                updated_at: now,
            }),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(OdbError::Conflict(
                format!("a job named `{}` exists already", job.name),
            )),
            Err(e) => Err(e.into()),
        }
    }

    async fn update_job(&self, name: &str, job: &Job) -> OdbResult<bool> {
        if !findable(name) {
            return Ok(false);
        }
        if job.name != name {
            return Err(OdbError::Invalid(format!(
                "job `{name}` cannot be renamed `{}`: a job's name is its key",
                job.name
            )));
        }
        let definition = definition_of(job)?;
        let done = sqlx::query(self.sql(
            "UPDATE scheduler_job SET service = ?, definition = ?, active = ?, updated_at = ? \
             WHERE name = ?",
        ))
        .bind(&job.service)
        .bind(&definition)
        .bind(i64::from(job.active))
        .bind(now_ms())
        .bind(name)
        .execute(&self.pool)
        .await?;
        // MySQL counts rows found, not rows changed (sqlx asks for FOUND_ROWS).
        Ok(done.rows_affected() > 0)
    }

    async fn set_job_active(&self, name: &str, active: bool) -> OdbResult<bool> {
        if !findable(name) {
            return Ok(false);
        }
        // Read, change, and write back only over what was read: an edit in between
        // makes the write miss, and it starts over from the edited definition.
        for _ in 0..ATTEMPTS {
            let read: Option<String> =
                sqlx::query_scalar(self.sql("SELECT definition FROM scheduler_job WHERE name = ?"))
                    .bind(name)
                    .fetch_optional(&self.pool)
                    .await?;
            let Some(read) = read else {
                return Ok(false);
            };
            let mut job: Job = serde_json::from_str(&read).map_err(|e| {
                OdbError::Invalid(format!("the stored definition of job `{name}`: {e}"))
            })?;
            job.active = active;
            let definition = definition_of(&job)?;
            let done = sqlx::query(self.sql(
                "UPDATE scheduler_job SET definition = ?, active = ?, updated_at = ? \
                 WHERE name = ? AND definition = ?",
            ))
            .bind(&definition)
            .bind(i64::from(active))
            .bind(now_ms())
            .bind(name)
            .bind(&read)
            .execute(&self.pool)
            .await?;
            if done.rows_affected() > 0 {
                return Ok(true);
            }
        }
        Err(OdbError::Conflict(format!(
            "could not {} job `{name}`: it was edited {ATTEMPTS} times meanwhile",
            if active { "resume" } else { "pause" }
        )))
    }

    async fn delete_job(&self, name: &str) -> OdbResult<bool> {
        if !findable(name) {
            return Ok(false);
        }
        let _turn = self.write_turn().await;
        let delete = || async move {
            let mut tx = self.begin().await?;
            sqlx::query(self.sql("DELETE FROM scheduler_run WHERE job = ?"))
                .bind(name)
                .execute(&mut *tx)
                .await?;
            let done = sqlx::query(self.sql("DELETE FROM scheduler_job WHERE name = ?"))
                .bind(name)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(done.rows_affected() > 0)
        };
        self.retry(format!("delete job `{name}`"), delete).await
    }

    async fn calendars(&self) -> OdbResult<Vec<Calendar>> {
        let rows = sqlx::query(
            self.sql("SELECT name, description, dates FROM scheduler_calendar ORDER BY name"),
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(calendar_row).collect()
    }

    async fn calendar(&self, name: &str) -> OdbResult<Option<Calendar>> {
        if !findable(name) {
            return Ok(None);
        }
        let row = sqlx::query(
            self.sql("SELECT name, description, dates FROM scheduler_calendar WHERE name = ?"),
        )
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(calendar_row).transpose()
    }

    async fn create_calendar(&self, calendar: &Calendar) -> OdbResult<()> {
        check_key("calendar name", &calendar.name, LONGEST_KEY)?;
        let (description, dates) = calendar_texts(&calendar.name, calendar)?;
        let result = sqlx::query(
            self.sql("INSERT INTO scheduler_calendar (name, description, dates) VALUES (?, ?, ?)"),
        )
        .bind(&calendar.name)
        .bind(description)
        .bind(&dates)
        .execute(&self.pool)
        .await;
        match result {
            Ok(_) => Ok(()),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(OdbError::Conflict(
                format!("a calendar named `{}` exists already", calendar.name),
            )),
            Err(e) => Err(e.into()),
        }
    }

    /// The calendar keeps its name, `name`, whatever `calendar.name` says.
    async fn update_calendar(&self, name: &str, calendar: &Calendar) -> OdbResult<bool> {
        if !findable(name) {
            return Ok(false);
        }
        let (description, dates) = calendar_texts(name, calendar)?;
        let done = sqlx::query(
            self.sql("UPDATE scheduler_calendar SET description = ?, dates = ? WHERE name = ?"),
        )
        .bind(description)
        .bind(&dates)
        .bind(name)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_calendar(&self, name: &str) -> OdbResult<bool> {
        if !findable(name) {
            return Ok(false);
        }
        let done = sqlx::query(self.sql("DELETE FROM scheduler_calendar WHERE name = ?"))
            .bind(name)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn record_runs(
        &self,
        lease: &str,
        holder: &str,
        epoch: i64,
        runs: &[NewRun],
    ) -> OdbResult<Option<Vec<NewRun>>> {
        check_key("lease name", lease, LONGEST_KEY)?;
        check_key("lease holder", holder, LONGEST_KEY)?;
        for run in runs {
            check_key("job name", &run.job, LONGEST_KEY)?;
        }
        // Each (job, fire time) once, the first of a kind.
        let mut seen = HashSet::with_capacity(runs.len());
        let runs: Vec<&NewRun> = runs
            .iter()
            .filter(|run| seen.insert((run.job.as_str(), run.fire_time)))
            .collect();
        let runs = &runs[..];
        let _turn = self.write_turn().await;
        for _ in 0..ATTEMPTS {
            let record = || async move { self.record_runs_once(lease, holder, epoch, runs).await };
            let what = format!("record runs under lease `{lease}`");
            match self.retry(what, record).await? {
                Recording::NotHeld => return Ok(None),
                Recording::Recorded(recorded) => return Ok(Some(recorded)),
                Recording::Raced => {}
            }
        }
        Err(OdbError::Conflict(format!(
            "could not record runs under lease `{lease}`: manual runs took their times \
             {ATTEMPTS} times in a row"
        )))
    }

    async fn record_manual_run(&self, run: &NewRun, epoch: i64) -> OdbResult<RunRow> {
        check_key("job name", &run.job, LONGEST_KEY)?;
        let dialect = self.dialect;
        let (insert, skip) = insert_or_skip(dialect);
        let insert = format!(
            "{insert} scheduler_run (job, fire_time, run_trigger, epoch, planned_at, outcome) \
             VALUES (?, ?, ?, ?, {{now}}, 'pending'){skip}"
        );
        let next_taken = format!(
            "SELECT fire_time FROM scheduler_run WHERE job = ? AND fire_time > ? \
             ORDER BY fire_time LIMIT {MANUAL_LOOKAHEAD}"
        );
        let _turn = self.write_turn().await;
        let mut fire_time = run.fire_time;
        for _ in 0..ATTEMPTS {
            let done = sqlx::query(statement(dialect, &insert))
                .bind(&run.job)
                .bind(fire_time)
                .bind(trigger_name(RunTrigger::Manual))
                .bind(epoch)
                .execute(&self.pool)
                .await?;
            if done.rows_affected() == 1 {
                let select = format!(
                    "SELECT {} FROM scheduler_run r WHERE job = ? AND fire_time = ?",
                    run_columns("r")
                );
                let row = sqlx::query(statement(dialect, &select))
                    .bind(&run.job)
                    .bind(fire_time)
                    .fetch_one(&self.pool)
                    .await?;
                return run_row(&row);
            }
            // Taken: the first free millisecond after it, as the table is now (another
            // writer may take it first, and the search goes on from there).
            let taken: Vec<i64> = sqlx::query_scalar(statement(dialect, &next_taken))
                .bind(&run.job)
                .bind(fire_time)
                .fetch_all(&self.pool)
                .await?;
            let mut free = fire_time.saturating_add(1);
            for time in taken {
                if time != free {
                    break;
                }
                free = free.saturating_add(1);
            }
            fire_time = free;
        }
        Err(OdbError::Conflict(format!(
            "could not find a free fire time for a manual run of job `{}` from {}: \
             other runs took them {ATTEMPTS} times in a row",
            run.job, run.fire_time
        )))
    }

    async fn finish_runs(&self, results: &[RunResult]) -> OdbResult<()> {
        for result in results {
            check_key("server name", &result.server, LONGEST_KEY)?;
        }
        // A job that no run could have been recorded for has nothing to finish.
        let results: Vec<&RunResult> = results.iter().filter(|r| findable(&r.job)).collect();
        if results.is_empty() {
            return Ok(());
        }
        // An error text is the service's: a NUL in it must not lose the whole batch.
        let cleaned: Vec<Option<String>> = results
            .iter()
            .map(|r| {
                r.detail
                    .as_deref()
                    .filter(|d| d.contains('\0'))
                    .map(|d| d.replace('\0', "\u{FFFD}"))
            })
            .collect();
        let (results, cleaned) = (&results[..], &cleaned[..]);
        let _turn = self.write_turn().await;
        let finish = || async move {
            // READ COMMITTED on PostgreSQL: every result is its own row.
            let mut tx = self.pool.begin().await?;
            for (result, cleaned) in results.iter().zip(cleaned) {
                sqlx::query(self.sql(
                    "UPDATE scheduler_run SET server = ?, started_at = ?, duration_ms = ?, \
                     outcome = ?, detail = ? WHERE job = ? AND fire_time = ?",
                ))
                .bind(&result.server)
                .bind(result.started_at)
                .bind(result.duration_ms)
                .bind(outcome_name(result.outcome))
                .bind(cleaned.as_deref().or(result.detail.as_deref()))
                .bind(&result.job)
                .bind(result.fire_time)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await
        };
        let what = format!("record how {} runs ended", results.len());
        self.retry(what, finish).await
    }

    async fn runs(&self, job: &str, limit: u32) -> OdbResult<Vec<RunRow>> {
        if !findable(job) || limit == 0 {
            return Ok(Vec::new());
        }
        let select = format!(
            "SELECT {} FROM scheduler_run r WHERE job = ? ORDER BY fire_time DESC LIMIT ?",
            run_columns("r")
        );
        let rows = sqlx::query(statement(self.dialect, &select))
            .bind(job)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(run_row).collect()
    }

    async fn last_runs(&self) -> OdbResult<Vec<RunRow>> {
        let select = format!(
            "SELECT {} FROM scheduler_run r \
             JOIN (SELECT job, MAX(fire_time) AS fire_time FROM scheduler_run GROUP BY job) m \
             ON r.job = m.job AND r.fire_time = m.fire_time ORDER BY r.job",
            run_columns("r")
        );
        let rows = sqlx::query(statement(self.dialect, &select))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(run_row).collect()
    }

    async fn prune_runs(&self, before: i64) -> OdbResult<u64> {
        let _turn = self.write_turn().await;
        let prune = || async move {
            let done = sqlx::query(self.sql("DELETE FROM scheduler_run WHERE planned_at < ?"))
                .bind(before)
                .execute(&self.pool)
                .await?;
            Ok(done.rows_affected())
        };
        self.retry(format!("prune the runs recorded before {before}"), prune)
            .await
    }

    async fn claim_lease(&self, name: &str, holder: &str, lease_ms: i64) -> OdbResult<LeaseRow> {
        check_key("lease name", name, LONGEST_KEY)?;
        check_key("lease holder", holder, LONGEST_KEY)?;
        check_lease_ms(lease_ms)?;
        let dialect = self.dialect;
        let (insert, skip) = insert_or_skip(dialect);
        let create = format!(
            "{insert} singleton_lease (name, holder, epoch, acquired_at, expires_at) \
             VALUES (?, NULL, 0, 0, 0){skip}"
        );
        let create = &create[..];
        let _turn = self.write_turn().await;
        let claim = || async move {
            sqlx::query(statement(dialect, create))
                .bind(name)
                .execute(&self.pool)
                .await?;
            sqlx::query(statement(dialect, CLAIM))
                .bind(holder)
                .bind(holder)
                .bind(holder)
                .bind(lease_ms)
                .bind(name)
                .bind(holder)
                .execute(&self.pool)
                .await?;
            let select = format!("SELECT {LEASE_COLUMNS} FROM singleton_lease WHERE name = ?");
            sqlx::query(statement(dialect, &select))
                .bind(name)
                .fetch_one(&self.pool)
                .await
        };
        let row = self
            .retry(format!("claim lease `{name}` for `{holder}`"), claim)
            .await?;
        lease_row(&row)
    }

    async fn renew_lease(
        &self,
        name: &str,
        holder: &str,
        epoch: i64,
        lease_ms: i64,
    ) -> OdbResult<bool> {
        check_lease_ms(lease_ms)?;
        if !findable(name) || !findable(holder) {
            return Ok(false);
        }
        let _turn = self.write_turn().await;
        // `expires_at` moves forward at every renewal that finds the lease unexpired
        // (`now + lease_ms` against an `expires_at` past `now`) unless `lease_ms`
        // shrinks; MySQL counts the row even then (FOUND_ROWS).
        let done = sqlx::query(statement(
            self.dialect,
            "UPDATE singleton_lease SET expires_at = {now} + ? \
             WHERE name = ? AND holder = ? AND epoch = ? AND expires_at > {now}",
        ))
        .bind(lease_ms)
        .bind(name)
        .bind(holder)
        .bind(epoch)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn release_lease(&self, name: &str, holder: &str, epoch: i64) -> OdbResult<()> {
        if !findable(name) || !findable(holder) {
            return Ok(());
        }
        let _turn = self.write_turn().await;
        // It ends now, or when it ended if it expired before.
        sqlx::query(statement(
            self.dialect,
            "UPDATE singleton_lease SET holder = NULL, \
             expires_at = CASE WHEN expires_at > {now} THEN {now} ELSE expires_at END \
             WHERE name = ? AND holder = ? AND epoch = ?",
        ))
        .bind(name)
        .bind(holder)
        .bind(epoch)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn lease(&self, name: &str) -> OdbResult<Option<LeaseRow>> {
        if !findable(name) {
            return Ok(None);
        }
        let select = format!("SELECT {LEASE_COLUMNS} FROM singleton_lease WHERE name = ?");
        let row = sqlx::query(statement(self.dialect, &select))
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(lease_row).transpose()
    }
}

/// Checks a calendar's texts and returns its description and its dates as stored.
fn calendar_texts<'c>(name: &str, calendar: &'c Calendar) -> OdbResult<(&'c str, String)> {
    check_text(
        &format!("the description of calendar `{name}`"),
        &calendar.description,
    )?;
    let dates = serde_json::to_string(&calendar.dates)
        .map_err(|e| OdbError::Invalid(format!("calendar `{name}` cannot be stored: {e}")))?;
    Ok((&calendar.description, dates))
}

impl SqlOdb {
    /// One attempt of [`Scheduling::record_runs`]: `runs` are distinct pairs.
    async fn record_runs_once(
        &self,
        lease: &str,
        holder: &str,
        epoch: i64,
        runs: &[&NewRun],
    ) -> Result<Recording, sqlx::Error> {
        let dialect = self.dialect;
        // The fence: the lease's row, read and locked until the commit. SQLite's lock
        // is the database's write lock, taken by BEGIN IMMEDIATE before the read.
        let (mut tx, fence) = match dialect {
            Dialect::Sqlite => (
                self.pool.begin_with("BEGIN IMMEDIATE").await?,
                "SELECT holder, epoch, expires_at, {now} AS db_now FROM singleton_lease \
                 WHERE name = ?",
            ),
            Dialect::Postgres | Dialect::MySql => (
                self.pool.begin().await?,
                "SELECT holder, epoch, expires_at, {now} AS db_now FROM singleton_lease \
                 WHERE name = ? FOR UPDATE",
            ),
        };
        let row = sqlx::query(statement(dialect, fence))
            .bind(lease)
            .fetch_optional(&mut *tx)
            .await?;
        let mut now = None;
        if let Some(row) = row {
            let held_by: Option<String> = row.try_get("holder")?;
            let held_epoch: i64 = row.try_get("epoch")?;
            let expires_at: i64 = row.try_get("expires_at")?;
            let db_now: i64 = row.try_get("db_now")?;
            if held_by.as_deref() == Some(holder) && held_epoch == epoch && expires_at > db_now {
                now = Some(db_now);
            }
        }
        let Some(now) = now else {
            tx.rollback().await?;
            return Ok(Recording::NotHeld);
        };

        let index: std::collections::HashMap<(&str, i64), usize> = runs
            .iter()
            .enumerate()
            .map(|(i, run)| ((run.job.as_str(), run.fire_time), i))
            .collect();
        let mut new = vec![false; runs.len()];
        let (insert, skip) = insert_or_skip(dialect);
        for chunk in runs.chunks(CHUNK_ROWS) {
            let to_insert: Vec<&NewRun> = match dialect {
                Dialect::Sqlite | Dialect::Postgres => chunk.to_vec(),
                Dialect::MySql => {
                    // No RETURNING: the pairs recorded already, locked (their gaps too,
                    // against a manual run) until the commit.
                    let width = chunk.len().next_power_of_two();
                    let mut select = "SELECT job, fire_time FROM scheduler_run WHERE ".to_owned();
                    for i in 0..width {
                        select.push_str(if i == 0 { "" } else { " OR " });
                        select.push_str("(job = ? AND fire_time = ?)");
                    }
                    select.push_str(" FOR UPDATE");
                    let mut query = sqlx::query(statement(dialect, &select));
                    for i in 0..width {
                        let run = chunk[i.min(chunk.len() - 1)];
                        query = query.bind(&run.job).bind(run.fire_time);
                    }
                    let mut taken = HashSet::new();
                    for row in query.fetch_all(&mut *tx).await? {
                        taken.insert((row.try_get::<String, _>("job")?, row.try_get("fire_time")?));
                    }
                    chunk
                        .iter()
                        .filter(|run| !taken.contains(&(run.job.clone(), run.fire_time)))
                        .copied()
                        .collect()
                }
            };
            if to_insert.is_empty() {
                continue;
            }
            // Padded with the last row again, which the insert skips.
            let width = to_insert.len().next_power_of_two();
            let mut sql = format!(
                "{insert} scheduler_run (job, fire_time, run_trigger, epoch, planned_at, outcome) VALUES "
            );
            for i in 0..width {
                sql.push_str(if i == 0 { "" } else { ", " });
                sql.push_str("(?, ?, ?, ?, ?, 'pending')");
            }
            sql.push_str(skip);
            if dialect != Dialect::MySql {
                sql.push_str(" RETURNING job, fire_time");
            }
            let mut query = sqlx::query(statement(dialect, &sql));
            for i in 0..width {
                let run = to_insert[i.min(to_insert.len() - 1)];
                query = query
                    .bind(&run.job)
                    .bind(run.fire_time)
                    .bind(trigger_name(run.trigger))
                    .bind(epoch)
                    .bind(now);
            }
            if dialect == Dialect::MySql {
                let done = query.execute(&mut *tx).await?;
                if done.rows_affected() != to_insert.len() as u64 {
                    tx.rollback().await?;
                    return Ok(Recording::Raced);
                }
                for run in to_insert {
                    new[index[&(run.job.as_str(), run.fire_time)]] = true;
                }
            } else {
                for row in query.fetch_all(&mut *tx).await? {
                    let job: String = row.try_get("job")?;
                    let fire_time: i64 = row.try_get("fire_time")?;
                    if let Some(&i) = index.get(&(job.as_str(), fire_time)) {
                        new[i] = true;
                    }
                }
            }
        }
        tx.commit().await?;
        Ok(Recording::Recorded(
            runs.iter()
                .zip(new)
                .filter(|(_, new)| *new)
                .map(|(run, _)| (*run).clone())
                .collect(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Triggers and outcomes are stored as the admin API spells them.
    #[test]
    fn stored_names_are_the_wire_names() {
        for trigger in [RunTrigger::Schedule, RunTrigger::Missed, RunTrigger::Manual] {
            let wire = serde_json::to_value(trigger).unwrap();
            assert_eq!(wire, trigger_name(trigger));
            assert_eq!(trigger_of(trigger_name(trigger)).unwrap(), trigger);
        }
        for outcome in [
            RunOutcome::Pending,
            RunOutcome::Ok,
            RunOutcome::Error,
            RunOutcome::Missing,
            RunOutcome::Skipped,
        ] {
            let wire = serde_json::to_value(outcome).unwrap();
            assert_eq!(wire, outcome_name(outcome));
            assert_eq!(outcome_of(outcome_name(outcome)).unwrap(), outcome);
        }
    }

    #[test]
    fn statements_number_placeholders_on_postgres_only() {
        let sql = "UPDATE t SET a = {now} + ? WHERE b = ?";
        assert_eq!(
            statement(Dialect::Postgres, sql).0,
            format!(
                "UPDATE t SET a = {} + $1 WHERE b = $2",
                now_expr(Dialect::Postgres)
            )
        );
        assert_eq!(
            statement(Dialect::MySql, sql).0,
            format!(
                "UPDATE t SET a = {} + ? WHERE b = ?",
                now_expr(Dialect::MySql)
            )
        );
    }
}
