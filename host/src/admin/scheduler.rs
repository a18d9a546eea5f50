//! The scheduler's objects: jobs (create, list, read, replace, pause, resume, delete,
//! run now, their runs and next fire times), calendars, a preview of a job that need
//! not exist, and which server is the singleton.
//!
//! A job is checked by the planner itself ([`Plan::new`], against the ODB's calendars)
//! before it is stored, so that what the admin API accepts is what the singleton can
//! plan, and `next` answers what it will do. Every change reloads [`Kind::Jobs`] here
//! and tells the other servers, as a channel's does.

use std::collections::HashMap;

use axum::extract::State;
use axum::response::Response;
use chrono_tz::Tz;
use http::StatusCode;
use serde::Deserialize;
use utoipa::IntoParams;

use super::extract::{Json, Path, Query};
use super::{AdminState, ApiError, Shared};
use crate::api::scheduler::Deleted;
use crate::api::{
    Calendar, ErrorBody, Job, JobInfo, MAX_PREVIEW, MAX_TIMEOUT_MS, Preview, Run, RunQueued,
    Schedule, SingletonInfo, check_service_name,
};
use crate::http_response::json_response;
use crate::odb::{JobRow, RunRow, now_ms};
use crate::reload::Kind;
use crate::scheduler::{Plan, format_time, parse_time, parse_zone};

/// The longest job or calendar name, in characters: what every ODB backend keys on.
const LONGEST_NAME: usize = 255;
/// How many runs `GET .../runs` answers when not told.
const DEFAULT_RUNS: u32 = 100;
/// The most runs `GET .../runs` answers.
const MAX_RUNS: u32 = 10_000;
/// How many fire times `GET .../next` answers when not told.
const DEFAULT_NEXT: u32 = 10;

/// The jobs, sorted by name, each with its next fire time and latest run.
#[utoipa::path(
    get,
    path = "/zato/api/scheduler/jobs",
    tag = "scheduler",
    operation_id = "list_jobs",
    responses((status = 200, description = "the jobs, by name", body = Vec<JobInfo>)),
)]
pub async fn list_jobs(State(state): Shared) -> Result<Response, ApiError> {
    let rows = state.odb.jobs().await?;
    // One query for every job's latest run, not one per job.
    let mut last: HashMap<String, RunRow> = state
        .odb
        .last_runs()
        .await?
        .into_iter()
        .map(|run| (run.job.clone(), run))
        .collect();
    let calendars = state.odb.calendars().await?;
    let now = now_ms();
    let jobs: Vec<JobInfo> = rows
        .into_iter()
        .map(|row| {
            let last_run = last.remove(&row.job.name);
            info(row, last_run.as_ref(), &calendars, now)
        })
        .collect();
    Ok(json_response(StatusCode::OK, &jobs))
}

/// Creates a job; the singleton plans it at once. Its service need not be deployed
/// yet: a firing while it is not records the outcome `missing`.
#[utoipa::path(
    post,
    path = "/zato/api/scheduler/jobs",
    tag = "scheduler",
    operation_id = "create_job",
    request_body = Job,
    responses(
        (status = 201, description = "created; with its next fire time", body = JobInfo),
        (status = 400, description = "a body that is not a job, or a job that is wrong \
            (the message names the field): an empty or unstorable name, an invalid \
            service name, an unknown time zone, a cron expression that does not parse, \
            an interval of zero, an unknown calendar, a time that is not ISO 8601, a \
            payload that is not JSON with `data_format` json", body = ErrorBody),
        (status = 409, description = "a job of this name exists", body = ErrorBody),
        (status = 413, description = "a body over the size limit", body = ErrorBody),
    ),
)]
pub async fn create_job(State(state): Shared, Json(job): Json<Job>) -> Result<Response, ApiError> {
    let now = now_ms();
    let calendars = state.odb.calendars().await?;
    check_job(&job, now, &calendars)?;
    if state.odb.job(&job.name).await?.is_some() {
        return Err(taken("job", &job.name));
    }
    let row = state.odb.create_job(&job).await?;
    reload(&state).await?;
    tracing::info!(job = %job.name, service = %job.service, "scheduler job created");
    Ok(json_response(
        StatusCode::CREATED,
        &info(row, None, &calendars, now),
    ))
}

/// One job, with its next fire time and latest run.
#[utoipa::path(
    get,
    path = "/zato/api/scheduler/jobs/{name}",
    tag = "scheduler",
    operation_id = "get_job",
    params(("name" = String, Path, description = "the job's name", example = "billing.nightly")),
    responses(
        (status = 200, description = "the job", body = JobInfo),
        (status = 400, description = "a name that does not decode", body = ErrorBody),
        (status = 404, description = "no job has this name", body = ErrorBody),
    ),
)]
pub async fn get_job(State(state): Shared, Path(name): Path<String>) -> Result<Response, ApiError> {
    let row = job_row(&state, &name).await?;
    Ok(json_response(StatusCode::OK, &job_info(&state, row).await?))
}

/// Replaces a job's definition, with the checks of a create; the singleton plans it
/// anew. An interval job without a `start` keeps counting from when it was created.
#[utoipa::path(
    put,
    path = "/zato/api/scheduler/jobs/{name}",
    tag = "scheduler",
    operation_id = "update_job",
    params(("name" = String, Path, description = "the job's name", example = "billing.nightly")),
    request_body(content = Job, description = "the whole job as it is to be; its `name` \
        must be the one in the URL (a job is not renamed)"),
    responses(
        (status = 200, description = "replaced; with its next fire time", body = JobInfo),
        (status = 400, description = "a name other than the URL's, a body that is not a \
            job, or a job that is wrong (the message names the field, as for a create)",
            body = ErrorBody),
        (status = 404, description = "no job has this name", body = ErrorBody),
        (status = 413, description = "a body over the size limit", body = ErrorBody),
    ),
)]
pub async fn update_job(
    State(state): Shared,
    Path(name): Path<String>,
    Json(job): Json<Job>,
) -> Result<Response, ApiError> {
    let row = job_row(&state, &name).await?;
    if job.name != name {
        return Err(bad(format!(
            "the body names job `{}` but the URL names `{name}`: a job cannot be renamed \
             (create one and delete this one)",
            job.name
        )));
    }
    let calendars = state.odb.calendars().await?;
    check_job(&job, row.created_at, &calendars)?;
    if !state.odb.update_job(&name, &job).await? {
        // Deleted meanwhile.
        return Err(job_not_found(&name));
    }
    reload(&state).await?;
    tracing::info!(job = %name, service = %job.service, "scheduler job updated");
    let row = job_row(&state, &name).await?;
    Ok(json_response(StatusCode::OK, &job_info(&state, row).await?))
}

/// Deletes a job and its recorded runs; a firing already queued is skipped.
#[utoipa::path(
    delete,
    path = "/zato/api/scheduler/jobs/{name}",
    tag = "scheduler",
    operation_id = "delete_job",
    params(("name" = String, Path, description = "the job's name", example = "billing.nightly")),
    responses(
        (status = 200, description = "deleted", body = Deleted),
        (status = 400, description = "a name that does not decode", body = ErrorBody),
        (status = 404, description = "no job has this name", body = ErrorBody),
    ),
)]
pub async fn delete_job(
    State(state): Shared,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    if !storable(&name) || !state.odb.delete_job(&name).await? {
        return Err(job_not_found(&name));
    }
    reload(&state).await?;
    tracing::info!(job = %name, "scheduler job deleted");
    Ok(json_response(StatusCode::OK, &Deleted { name }))
}

/// Pauses a job: it keeps its definition and does not fire until resumed.
#[utoipa::path(
    post,
    path = "/zato/api/scheduler/jobs/{name}/pause",
    tag = "scheduler",
    operation_id = "pause_job",
    params(("name" = String, Path, description = "the job's name", example = "billing.nightly")),
    responses(
        (status = 200, description = "paused (or paused already)", body = JobInfo),
        (status = 400, description = "a name that does not decode", body = ErrorBody),
        (status = 404, description = "no job has this name", body = ErrorBody),
    ),
)]
pub async fn pause_job(
    State(state): Shared,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    set_active(&state, name, false).await
}

/// Resumes a paused job: it fires from its next time on (a missed firing follows the
/// job's `missed` policy).
#[utoipa::path(
    post,
    path = "/zato/api/scheduler/jobs/{name}/resume",
    tag = "scheduler",
    operation_id = "resume_job",
    params(("name" = String, Path, description = "the job's name", example = "billing.nightly")),
    responses(
        (status = 200, description = "active (or active already); with its next fire time",
            body = JobInfo),
        (status = 400, description = "a name that does not decode", body = ErrorBody),
        (status = 404, description = "no job has this name", body = ErrorBody),
    ),
)]
pub async fn resume_job(
    State(state): Shared,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    set_active(&state, name, true).await
}

async fn set_active(state: &AdminState, name: String, active: bool) -> Result<Response, ApiError> {
    if !storable(&name) || !state.odb.set_job_active(&name, active).await? {
        return Err(job_not_found(&name));
    }
    reload(state).await?;
    tracing::info!(job = %name, active, "scheduler job paused or resumed");
    let row = job_row(state, &name).await?;
    Ok(json_response(StatusCode::OK, &job_info(state, row).await?))
}

/// Runs a job now, paused or not: the firing is recorded (trigger `manual`) and queued
/// for a server to run at once.
#[utoipa::path(
    post,
    path = "/zato/api/scheduler/jobs/{name}/run",
    tag = "scheduler",
    operation_id = "run_job",
    params(("name" = String, Path, description = "the job's name", example = "billing.nightly")),
    responses(
        (status = 202, description = "recorded and queued; `pending` until a server runs it \
            (`GET .../runs` shows how it ended)", body = RunQueued),
        (status = 400, description = "a name that does not decode", body = ErrorBody),
        (status = 404, description = "no job has this name", body = ErrorBody),
    ),
)]
pub async fn run_job(State(state): Shared, Path(name): Path<String>) -> Result<Response, ApiError> {
    let row = job_row(&state, &name).await?;
    let recorded = state
        .scheduler
        .run_now(&row)
        .await
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, format!("{e:#}")))?;
    tracing::info!(job = %name, fire_time = recorded.fire_time, "scheduler job run by hand");
    Ok(json_response(
        StatusCode::ACCEPTED,
        &RunQueued {
            run: run(&recorded, zone_of(&row.job)),
        },
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RunsQuery {
    /// How many runs, newest first: 1 to 10000 (100 when absent).
    #[serde(default)]
    #[param(minimum = 1, maximum = 10000)]
    limit: Option<u32>,
}

/// A job's recorded firings, newest first.
#[utoipa::path(
    get,
    path = "/zato/api/scheduler/jobs/{name}/runs",
    tag = "scheduler",
    operation_id = "job_runs",
    params(("name" = String, Path, description = "the job's name", example = "billing.nightly"),
        RunsQuery),
    responses(
        (status = 200, description = "the latest runs, newest first; times in the job's \
            time zone", body = Vec<Run>),
        (status = 400, description = "a name that does not decode, or a `limit` out of \
            range", body = ErrorBody),
        (status = 404, description = "no job has this name", body = ErrorBody),
    ),
)]
pub async fn job_runs(
    State(state): Shared,
    Path(name): Path<String>,
    Query(query): Query<RunsQuery>,
) -> Result<Response, ApiError> {
    let limit = query.limit.unwrap_or(DEFAULT_RUNS);
    if !(1..=MAX_RUNS).contains(&limit) {
        return Err(bad(format!(
            "limit {limit} is out of range: 1 to {MAX_RUNS}"
        )));
    }
    let row = job_row(&state, &name).await?;
    let zone = zone_of(&row.job);
    let runs: Vec<Run> = state
        .odb
        .runs(&name, limit)
        .await?
        .iter()
        .map(|r| run(r, zone))
        .collect();
    Ok(json_response(StatusCode::OK, &runs))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NextQuery {
    /// How many fire times: 1 to 1000 (10 when absent).
    #[serde(default)]
    #[param(minimum = 1, maximum = 1000)]
    count: Option<u32>,
    /// After when (ISO 8601; without an offset, in the job's time zone); now when
    /// absent.
    #[serde(default)]
    #[param(example = "2026-03-28T00:00:00")]
    from: Option<String>,
}

/// A job's next fire times, as the singleton will fire them (paused or not), skipping
/// its calendars' dates.
#[utoipa::path(
    get,
    path = "/zato/api/scheduler/jobs/{name}/next",
    tag = "scheduler",
    operation_id = "job_next",
    params(("name" = String, Path, description = "the job's name", example = "billing.nightly"),
        NextQuery),
    responses(
        (status = 200, description = "up to `count` fire times, ISO 8601 in the job's time \
            zone, earliest first; fewer when the job has no more", body = Vec<String>),
        (status = 400, description = "a name that does not decode, a `count` out of range \
            or a `from` that is not ISO 8601", body = ErrorBody),
        (status = 404, description = "no job has this name", body = ErrorBody),
    ),
)]
pub async fn job_next(
    State(state): Shared,
    Path(name): Path<String>,
    Query(query): Query<NextQuery>,
) -> Result<Response, ApiError> {
    let count = check_count(query.count.unwrap_or(DEFAULT_NEXT))?;
    let row = job_row(&state, &name).await?;
    let calendars = state.odb.calendars().await?;
    let plan = Plan::new(&row.job, row.created_at, &calendars).map_err(bad)?;
    let from = from(query.from.as_deref(), &plan)?;
    Ok(json_response(
        StatusCode::OK,
        &fire_times(&plan, from, count),
    ))
}

/// The next fire times of a job that need not exist (nor its service): to try a cron
/// expression, an interval or a time zone before creating a job.
#[utoipa::path(
    post,
    path = "/zato/api/scheduler/preview",
    tag = "scheduler",
    operation_id = "preview_job",
    request_body = Preview,
    responses(
        (status = 200, description = "up to `count` fire times, ISO 8601 in the job's time \
            zone, earliest first; fewer when the job has no more (an interval without a \
            `start` counts from now)", body = Vec<String>),
        (status = 400, description = "a body that is not a preview, a `count` out of \
            range, a `from` that is not ISO 8601, or a job that is wrong (the message \
            names the field, as for a create)", body = ErrorBody),
        (status = 413, description = "a body over the size limit", body = ErrorBody),
    ),
)]
pub async fn preview(
    State(state): Shared,
    Json(preview): Json<Preview>,
) -> Result<Response, ApiError> {
    let count = check_count(preview.count)?;
    let calendars = state.odb.calendars().await?;
    let now = now_ms();
    let plan = check_job(&preview.job, now, &calendars)?;
    let from = from(preview.from.as_deref(), &plan)?;
    Ok(json_response(
        StatusCode::OK,
        &fire_times(&plan, from, count),
    ))
}

/// The calendars, sorted by name.
#[utoipa::path(
    get,
    path = "/zato/api/scheduler/calendars",
    tag = "scheduler",
    operation_id = "list_calendars",
    responses((status = 200, description = "the calendars, by name", body = Vec<Calendar>)),
)]
pub async fn list_calendars(State(state): Shared) -> Result<Response, ApiError> {
    Ok(json_response(StatusCode::OK, &state.odb.calendars().await?))
}

/// Creates a calendar, for jobs to name.
#[utoipa::path(
    post,
    path = "/zato/api/scheduler/calendars",
    tag = "scheduler",
    operation_id = "create_calendar",
    request_body = Calendar,
    responses(
        (status = 201, description = "created", body = Calendar),
        (status = 400, description = "a body that is not a calendar, an empty or \
            unstorable name, or a date that is not `YYYY-MM-DD`", body = ErrorBody),
        (status = 409, description = "a calendar of this name exists", body = ErrorBody),
        (status = 413, description = "a body over the size limit", body = ErrorBody),
    ),
)]
pub async fn create_calendar(
    State(state): Shared,
    Json(calendar): Json<Calendar>,
) -> Result<Response, ApiError> {
    check_calendar(&calendar)?;
    if state.odb.calendar(&calendar.name).await?.is_some() {
        return Err(taken("calendar", &calendar.name));
    }
    state.odb.create_calendar(&calendar).await?;
    reload(&state).await?;
    tracing::info!(calendar = %calendar.name, dates = calendar.dates.len(), "scheduler calendar created");
    Ok(json_response(StatusCode::CREATED, &calendar))
}

/// One calendar.
#[utoipa::path(
    get,
    path = "/zato/api/scheduler/calendars/{name}",
    tag = "scheduler",
    operation_id = "get_calendar",
    params(("name" = String, Path, description = "the calendar's name", example = "pl.holidays")),
    responses(
        (status = 200, description = "the calendar", body = Calendar),
        (status = 400, description = "a name that does not decode", body = ErrorBody),
        (status = 404, description = "no calendar has this name", body = ErrorBody),
    ),
)]
pub async fn get_calendar(
    State(state): Shared,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let calendar = calendar(&state, &name).await?;
    Ok(json_response(StatusCode::OK, &calendar))
}

/// Replaces a calendar: the jobs that name it are planned anew. A calendar may be
/// renamed, unless jobs name it.
#[utoipa::path(
    put,
    path = "/zato/api/scheduler/calendars/{name}",
    tag = "scheduler",
    operation_id = "update_calendar",
    params(("name" = String, Path, description = "the calendar's name", example = "pl.holidays")),
    request_body(content = Calendar, description = "the whole calendar as it is to be; \
        a `name` other than the URL's renames it"),
    responses(
        (status = 200, description = "replaced", body = Calendar),
        (status = 400, description = "a body that is not a calendar, an empty or \
            unstorable name, or a date that is not `YYYY-MM-DD`", body = ErrorBody),
        (status = 404, description = "no calendar has this name", body = ErrorBody),
        (status = 409, description = "a rename to a name that is taken, or of a calendar \
            that jobs name (the message names them)", body = ErrorBody),
        (status = 413, description = "a body over the size limit", body = ErrorBody),
    ),
)]
pub async fn update_calendar(
    State(state): Shared,
    Path(name): Path<String>,
    Json(calendar): Json<Calendar>,
) -> Result<Response, ApiError> {
    self::calendar(&state, &name).await?;
    check_calendar(&calendar)?;
    if calendar.name != name {
        if state.odb.calendar(&calendar.name).await?.is_some() {
            return Err(taken("calendar", &calendar.name));
        }
        in_use(&state, &name, "renamed").await?;
        // The ODB keeps a calendar's name: a rename is the new one made, then the old
        // one deleted (no job names it: checked above).
        state.odb.create_calendar(&calendar).await?;
        state.odb.delete_calendar(&name).await?;
    } else if !state.odb.update_calendar(&name, &calendar).await? {
        // Deleted meanwhile.
        return Err(calendar_not_found(&name));
    }
    reload(&state).await?;
    tracing::info!(calendar = %name, dates = calendar.dates.len(), "scheduler calendar updated");
    Ok(json_response(StatusCode::OK, &calendar))
}

/// Deletes a calendar that no job names.
#[utoipa::path(
    delete,
    path = "/zato/api/scheduler/calendars/{name}",
    tag = "scheduler",
    operation_id = "delete_calendar",
    params(("name" = String, Path, description = "the calendar's name", example = "pl.holidays")),
    responses(
        (status = 200, description = "deleted", body = Deleted),
        (status = 400, description = "a name that does not decode", body = ErrorBody),
        (status = 404, description = "no calendar has this name", body = ErrorBody),
        (status = 409, description = "jobs name this calendar (the message names them)",
            body = ErrorBody),
    ),
)]
pub async fn delete_calendar(
    State(state): Shared,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    calendar(&state, &name).await?;
    in_use(&state, &name, "deleted").await?;
    if !state.odb.delete_calendar(&name).await? {
        return Err(calendar_not_found(&name));
    }
    reload(&state).await?;
    tracing::info!(calendar = %name, "scheduler calendar deleted");
    Ok(json_response(StatusCode::OK, &Deleted { name }))
}

/// Which server is the singleton, the one that plans and records every job's firings.
#[utoipa::path(
    get,
    path = "/zato/api/singleton",
    tag = "scheduler",
    operation_id = "singleton",
    responses(
        (status = 200, description = "the singleton's lease as the ODB holds it; no holder \
            when no server holds it now", body = SingletonInfo),
    ),
)]
pub async fn singleton(State(state): Shared) -> Result<Response, ApiError> {
    Ok(json_response(
        StatusCode::OK,
        &state.scheduler.singleton().await?,
    ))
}

fn bad(message: String) -> ApiError {
    ApiError(StatusCode::BAD_REQUEST, message)
}

fn taken(what: &str, name: &str) -> ApiError {
    ApiError(
        StatusCode::CONFLICT,
        format!("a {what} named `{name}` exists already"),
    )
}

fn job_not_found(name: &str) -> ApiError {
    ApiError(
        StatusCode::NOT_FOUND,
        format!("no scheduler job named `{}`", name.escape_debug()),
    )
}

fn calendar_not_found(name: &str) -> ApiError {
    ApiError(
        StatusCode::NOT_FOUND,
        format!("no calendar named `{}`", name.escape_debug()),
    )
}

/// What is wrong with a job or calendar name, if anything: the rules of the ODB's keys
/// (as for an HTTP channel's name), checked here so that a refusal names the field.
fn name_problem(name: &str) -> Option<&'static str> {
    if name.trim().is_empty() {
        Some("must not be empty")
    } else if name.chars().count() > LONGEST_NAME {
        Some("is longer than 255 characters")
    } else if name.ends_with(' ') {
        Some("ends with a space")
    } else if name.chars().any(char::is_control) {
        Some("contains a control character")
    } else {
        None
    }
}

/// Whether a name from a URL could name a stored object; one that could not is not
/// looked up (PostgreSQL refuses a NUL even in a query).
fn storable(name: &str) -> bool {
    name_problem(name).is_none()
}

fn check_name(what: &str, name: &str) -> Result<(), ApiError> {
    match name_problem(name) {
        Some(problem) => Err(bad(format!(
            "{what} name `{}` {problem}",
            name.escape_debug()
        ))),
        None => Ok(()),
    }
}

/// Checks a job as a create, an update and a preview do: what the planner does not
/// know (its name, service, payload and numbers the ODB must hold), then the planner's
/// own check, with `created_at` anchoring an interval without a start; gives the plan.
fn check_job(job: &Job, created_at: i64, calendars: &[Calendar]) -> Result<Plan, ApiError> {
    check_name("job", &job.name)?;
    if let Err(e) = check_service_name(&job.service) {
        return Err(bad(format!(
            "invalid service name `{}`: {e}",
            job.service.escape_debug()
        )));
    }
    if job.timeout_ms > MAX_TIMEOUT_MS {
        return Err(bad(format!(
            "timeout_ms {} is over the largest, {MAX_TIMEOUT_MS}",
            job.timeout_ms
        )));
    }
    if job.payload.contains('\0') {
        return Err(bad("payload contains a NUL character".into()));
    }
    if job.data_format == crate::api::DataFormat::Json
        && !job.payload.is_empty()
        && let Err(e) = serde_json::from_str::<serde_json::Value>(&job.payload)
    {
        return Err(bad(format!(
            "payload is not JSON (data_format is json): {e}"
        )));
    }
    if let Schedule::Interval {
        weeks,
        days,
        hours,
        minutes,
        seconds,
        repeats,
        ..
    } = &job.schedule
    {
        // The ODB holds signed 64-bit integers (the description's int64).
        let fields = [
            ("weeks", Some(*weeks)),
            ("days", Some(*days)),
            ("hours", Some(*hours)),
            ("minutes", Some(*minutes)),
            ("seconds", Some(*seconds)),
            ("repeats", *repeats),
        ];
        for (field, value) in fields {
            if let Some(value) = value
                && value > i64::MAX as u64
            {
                return Err(bad(format!(
                    "interval {field} {value} is over the largest, {}",
                    i64::MAX
                )));
            }
        }
    }
    Plan::new(job, created_at, calendars).map_err(bad)
}

fn check_calendar(calendar: &Calendar) -> Result<(), ApiError> {
    check_name("calendar", &calendar.name)?;
    if calendar.description.contains('\0') {
        return Err(bad("description contains a NUL character".into()));
    }
    for date in &calendar.dates {
        // Strict: exactly the form it is written back in.
        let parsed = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").ok();
        if parsed.is_none_or(|d| d.format("%Y-%m-%d").to_string() != *date) {
            return Err(bad(format!(
                "calendar date `{}` is not a date as YYYY-MM-DD",
                date.escape_debug()
            )));
        }
    }
    Ok(())
}

/// Refuses to delete or rename calendar `name` while jobs name it.
async fn in_use(state: &AdminState, name: &str, change: &str) -> Result<(), ApiError> {
    let users: Vec<String> = state
        .odb
        .jobs()
        .await?
        .into_iter()
        .filter(|row| row.job.calendars.iter().any(|c| c == name))
        .map(|row| format!("`{}`", row.job.name))
        .collect();
    if users.is_empty() {
        return Ok(());
    }
    Err(ApiError(
        StatusCode::CONFLICT,
        format!(
            "calendar `{name}` cannot be {change}: jobs {} name it",
            users.join(", ")
        ),
    ))
}

fn check_count(count: u32) -> Result<u32, ApiError> {
    if !(1..=MAX_PREVIEW).contains(&count) {
        return Err(bad(format!(
            "count {count} is out of range: 1 to {MAX_PREVIEW}"
        )));
    }
    Ok(count)
}

/// The instant fire times are counted after: `from` read in the job's zone, or now.
fn from(from: Option<&str>, plan: &Plan) -> Result<i64, ApiError> {
    match from {
        None => Ok(now_ms()),
        Some(text) => parse_time(text, plan.zone()).map_err(|e| bad(format!("from: {e}"))),
    }
}

/// Up to `count` fire times strictly after `from`, formatted in the job's zone.
fn fire_times(plan: &Plan, from: i64, count: u32) -> Vec<String> {
    let mut out = Vec::new();
    let mut after = from;
    while out.len() < count as usize {
        match plan.next_after(after) {
            Some(next) if next > after => {
                out.push(format_time(next, plan.zone()));
                after = next;
            }
            _ => break,
        }
    }
    out
}

async fn job_row(state: &AdminState, name: &str) -> Result<JobRow, ApiError> {
    if !storable(name) {
        return Err(job_not_found(name));
    }
    state
        .odb
        .job(name)
        .await?
        .ok_or_else(|| job_not_found(name))
}

async fn calendar(state: &AdminState, name: &str) -> Result<Calendar, ApiError> {
    if !storable(name) {
        return Err(calendar_not_found(name));
    }
    state
        .odb
        .calendar(name)
        .await?
        .ok_or_else(|| calendar_not_found(name))
}

/// One job as the admin API answers it, with its latest run.
async fn job_info(state: &AdminState, row: JobRow) -> Result<JobInfo, ApiError> {
    let calendars = state.odb.calendars().await?;
    // The latest run alone: `runs` with a limit of one reads one row.
    let last = state.odb.runs(&row.job.name, 1).await?;
    Ok(info(row, last.first(), &calendars, now_ms()))
}

fn info(row: JobRow, last: Option<&RunRow>, calendars: &[Calendar], now: i64) -> JobInfo {
    let zone = zone_of(&row.job);
    let next_fire_time = if row.job.active {
        // A stored job was checked; one that no longer plans (its definition or the
        // planner changed since) has no next time rather than failing the list.
        Plan::new(&row.job, row.created_at, calendars)
            .ok()
            .and_then(|plan| plan.next_after(now))
            .map(|ms| format_time(ms, zone))
    } else {
        None
    };
    JobInfo {
        next_fire_time,
        last_run: last.map(|r| run(r, zone)),
        created_at: row.created_at,
        updated_at: row.updated_at,
        job: row.job,
    }
}

/// A job's time zone; UTC for one that no longer reads (see [`info`]).
fn zone_of(job: &Job) -> Tz {
    parse_zone(&job.timezone).unwrap_or(Tz::UTC)
}

/// A recorded firing as the admin API answers it, its times in the job's zone.
fn run(row: &RunRow, zone: Tz) -> Run {
    Run {
        job: row.job.clone(),
        fire_time: format_time(row.fire_time, zone),
        fire_time_ms: row.fire_time,
        trigger: row.trigger,
        epoch: row.epoch,
        server: row.server.clone(),
        started: row.started_at.map(|ms| format_time(ms, zone)),
        delay_ms: row.started_at.map(|ms| ms - row.fire_time),
        duration_ms: row.duration_ms,
        outcome: row.outcome,
        detail: row.detail.clone(),
    }
}

/// Puts the change in force here before answering, and tells the other servers.
async fn reload(state: &AdminState) -> Result<(), ApiError> {
    state
        .reloader
        .changed(Kind::Jobs)
        .await
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, format!("{e:#}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_odb_key_rules() {
        assert_eq!(name_problem("billing.nightly"), None);
        assert_eq!(name_problem("with space inside"), None);
        assert_eq!(name_problem(""), Some("must not be empty"));
        assert_eq!(name_problem("   "), Some("must not be empty"));
        assert_eq!(name_problem("a "), Some("ends with a space"));
        assert_eq!(name_problem("a\0b"), Some("contains a control character"));
        assert_eq!(name_problem(&"x".repeat(255)), None);
        assert_eq!(
            name_problem(&"x".repeat(256)),
            Some("is longer than 255 characters")
        );
    }

    #[test]
    fn calendar_dates_are_strict_iso_dates() {
        let calendar = |date: &str| Calendar {
            name: "c".into(),
            description: String::new(),
            dates: vec![date.into()],
        };
        assert!(check_calendar(&calendar("2026-12-25")).is_ok());
        for wrong in ["2026-2-5", "2026-02-30", "26-02-05", "2026-02-05T00:00", ""] {
            let ApiError(status, message) = check_calendar(&calendar(wrong)).unwrap_err();
            assert_eq!(status, StatusCode::BAD_REQUEST);
            assert!(message.contains(&format!("`{wrong}`")), "{message}");
        }
    }
}
