//! The scheduler: jobs that invoke a service one time, at intervals or cron-style, the
//! calendars of dates on which a job does not fire, the recorded firings (runs), and the
//! singleton server that plans them.
//!
//! Times on the wire are ISO 8601 strings with an offset (`2026-03-29T03:00:00+02:00`),
//! in the job's time zone, or milliseconds since the Unix epoch where a field's name
//! ends in `_at` or `_ms`.

use serde::{Deserialize, Serialize};

use crate::services::DataFormat;

/// A job as it is created and edited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Job {
    /// Unique name of the job.
    #[cfg_attr(feature = "openapi", schema(example = "billing.nightly"))]
    pub name: String,
    /// The service each firing invokes.
    #[cfg_attr(feature = "openapi", schema(example = "demo.hello"))]
    pub service: String,
    /// What the service receives as its payload, as text.
    #[serde(default)]
    pub payload: String,
    /// The format of the payload.
    #[serde(default)]
    pub data_format: DataFormat,
    /// The IANA time zone the job's times are meant in, e.g. `Europe/Warsaw`; `UTC` by
    /// default. Cron fields, a one-time job's `at` and an interval's `start` without an
    /// offset are read in it, and a calendar's dates are dates there.
    #[serde(default = "utc")]
    #[cfg_attr(feature = "openapi", schema(example = "Europe/Warsaw"))]
    pub timezone: String,
    /// When the job fires.
    #[cfg_attr(feature = "openapi", schema(example = json!({"kind": "cron", "expression": "0 2 * * 1-5"})))]
    pub schedule: Schedule,
    /// Names of calendars: the job does not fire on their dates.
    #[serde(default)]
    pub calendars: Vec<String>,
    /// What happens to firings missed while no server was the singleton.
    #[serde(default)]
    pub missed: MissedPolicy,
    /// A paused job (false) keeps its definition and does not fire.
    #[serde(default = "yes")]
    pub active: bool,
    /// Each invocation's timeout; 0 means the server default.
    #[serde(default)]
    pub timeout_ms: u64,
}

fn utc() -> String {
    "UTC".to_owned()
}

fn yes() -> bool {
    true
}

/// When a job fires: one of three kinds, told apart by `kind`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Schedule {
    /// Once, at a date and time (ISO 8601; without an offset, in the job's time zone).
    OneTime {
        /// When, e.g. `2026-12-24T18:00:00`.
        at: String,
    },
    /// Every `weeks` + `days` + `hours` + `minutes` + `seconds` (their sum must be at
    /// least one second), from `start` (or one interval after the job was created),
    /// `repeats` times in all (or forever).
    Interval {
        /// Weeks of the interval.
        #[serde(default)]
        weeks: u64,
        /// Days of the interval.
        #[serde(default)]
        days: u64,
        /// Hours of the interval.
        #[serde(default)]
        hours: u64,
        /// Minutes of the interval.
        #[serde(default)]
        minutes: u64,
        /// Seconds of the interval.
        #[serde(default)]
        seconds: u64,
        /// The first firing (ISO 8601; without an offset, in the job's time zone).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        start: Option<String>,
        /// How many times it fires in all (scheduled times a calendar skips count
        /// too); none: forever.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        repeats: Option<u64>,
        /// What happens to the job after its last firing.
        #[serde(default)]
        after_last: AfterLast,
    },
    /// At the times a crontab(5) expression names, in the job's time zone: 5 fields, or
    /// 6 with seconds first; ranges, steps, lists, month and day names, 0 or 7 for
    /// Sunday, `L` for the last day of the month. A local time that a DST change skips
    /// fires once at the change, a repeated one once (as Vixie cron does for fixed
    /// times; an expression whose minute or hour field starts with `*` follows the
    /// clock).
    Cron {
        /// E.g. `*/55 06-20 * * *`.
        expression: String,
    },
}

/// What an interval job becomes after its last firing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AfterLast {
    /// It stays, paused.
    #[default]
    Deactivate,
    /// It is deleted.
    Delete,
}

/// What happens to the firings a job missed while no server was the singleton.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum MissedPolicy {
    /// The job fires once for all of them, as soon as a singleton sees them.
    #[default]
    Once,
    /// They are skipped; the job fires at its next time.
    Skip,
}

/// A job as the admin API answers it: its definition and its state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JobInfo {
    /// The definition.
    pub job: Job,
    /// When it was created, in ms since the Unix epoch.
    pub created_at: i64,
    /// When it was last changed, in ms since the Unix epoch.
    pub updated_at: i64,
    /// Its next fire time, if it is active and has one.
    pub next_fire_time: Option<String>,
    /// Its latest recorded firing.
    pub last_run: Option<Run>,
}

/// Why a firing happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RunTrigger {
    /// At its scheduled time.
    Schedule,
    /// For the firings missed while there was no singleton (policy `once`).
    Missed,
    /// Asked for with "run now".
    Manual,
}

/// How a firing ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RunOutcome {
    /// Recorded and queued; no server has finished it yet.
    Pending,
    /// The service answered.
    Ok,
    /// The service failed (`detail` says how).
    Error,
    /// The service is not deployed.
    Missing,
    /// Not run: the job was paused or deleted before its time came.
    Skipped,
}

/// One recorded firing of a job. Each (job, fire time) is recorded once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Run {
    /// The job's name.
    pub job: String,
    /// The scheduled time, ISO 8601 in the job's time zone.
    pub fire_time: String,
    /// The scheduled time, in ms since the Unix epoch.
    pub fire_time_ms: i64,
    /// Why it fired.
    pub trigger: RunTrigger,
    /// The singleton's epoch that recorded it.
    pub epoch: i64,
    /// The server that ran it, once one has.
    pub server: Option<String>,
    /// When the service was called, ISO 8601 in the job's time zone.
    pub started: Option<String>,
    /// `started` minus the scheduled time, in ms.
    pub delay_ms: Option<i64>,
    /// How long the service took, in ms.
    pub duration_ms: Option<i64>,
    /// How it ended.
    pub outcome: RunOutcome,
    /// The error, for `error` and `missing`.
    pub detail: Option<String>,
}

/// A named list of dates on which the jobs that name it do not fire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Calendar {
    /// Unique name of the calendar.
    #[cfg_attr(feature = "openapi", schema(example = "pl.holidays"))]
    pub name: String,
    /// What the dates are.
    #[serde(default)]
    pub description: String,
    /// Dates as `YYYY-MM-DD`, in each job's own time zone.
    #[cfg_attr(feature = "openapi", schema(example = json!(["2026-12-25", "2026-12-26"])))]
    pub dates: Vec<String>,
}

/// The body of `POST /zato/api/scheduler/preview`: the next fire times of a job that
/// need not exist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Preview {
    /// The job (its service need not be deployed).
    pub job: Job,
    /// How many fire times, 1 to [`MAX_PREVIEW`].
    pub count: u32,
    /// After when (ISO 8601); now by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
}

/// The most fire times a preview answers.
pub const MAX_PREVIEW: u32 = 1000;

/// The answer to the delete of a job or a calendar.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Deleted {
    /// The deleted object's name.
    pub name: String,
}

/// The answer to "run now": the firing recorded and queued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RunQueued {
    /// The firing, `pending` until a server runs it.
    pub run: Run,
}

/// Which server is the singleton (`GET /zato/api/singleton`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SingletonInfo {
    /// The server holding the lease, if one holds it now.
    pub holder: Option<String>,
    /// Grows by one at every takeover.
    pub epoch: i64,
    /// When the holder took it, in ms since the Unix epoch.
    pub since: Option<i64>,
    /// When the lease ends unless renewed, in ms since the Unix epoch (the ODB's clock).
    pub expires_at: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_reads_with_its_defaults_and_refuses_unknown_fields() {
        let job: Job = serde_json::from_str(
            r#"{"name":"tick","service":"demo.hello","schedule":{"kind":"interval","seconds":1}}"#,
        )
        .unwrap();
        assert_eq!(job.timezone, "UTC");
        assert!(job.active);
        assert_eq!(job.missed, MissedPolicy::Once);
        assert_eq!(
            job.schedule,
            Schedule::Interval {
                weeks: 0,
                days: 0,
                hours: 0,
                minutes: 0,
                seconds: 1,
                start: None,
                repeats: None,
                after_last: AfterLast::Deactivate,
            }
        );
        let err = serde_json::from_str::<Job>(
            r#"{"name":"t","service":"s","schedule":{"kind":"cron","expresion":"* * * * *"}}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("expresion"), "{err}");
        let cron: Schedule =
            serde_json::from_str(r#"{"kind":"cron","expression":"*/55 06-20 * * *"}"#).unwrap();
        assert_eq!(
            serde_json::to_string(&cron).unwrap(),
            r#"{"kind":"cron","expression":"*/55 06-20 * * *"}"#
        );
    }
}
