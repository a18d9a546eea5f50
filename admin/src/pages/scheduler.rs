//! `/scheduler`: the scheduler's jobs (the list with which server is the singleton, a
//! job's page with its next fire times and latest runs, pause, resume, run now,
//! delete). The job form and its preview are in `form`, the calendars in `calendars`.
//!
//! Fire times come from the admin API as ISO 8601 strings in each job's time zone and
//! are shown as they are (with their offset): a job's times are meant in its zone.

pub mod calendars;
pub mod form;

use askama::Template;
use axum::extract::{Extension, Form, Path, Query, State};
use axum::response::Response;
use serde::Deserialize;
use zato_api::{Job, JobInfo, Run, RunOutcome, RunTrigger, Schedule, SingletonInfo};

use super::{Search, format_ago, format_time};
use crate::app::{App, Chrome, PageError, Shared, render, see_other, seg};
use crate::auth::Session;
use crate::pages::Deletion;

/// How many runs a job's page lists.
const RUNS_SHOWN: u32 = 50;
/// How many next fire times a job's page and the form's preview list.
pub const NEXT_SHOWN: u32 = 10;

/// The navigation section of every scheduler page.
const SECTION: &str = "scheduler";

/// A job's kind as the form and the list name it.
pub fn kind_label(schedule: &Schedule) -> &'static str {
    match schedule {
        Schedule::OneTime { .. } => "one-time",
        Schedule::Interval { .. } => "interval",
        Schedule::Cron { .. } => "cron",
    }
}

/// When a job fires, in a few words: `every 1 s`, `cron */55 06-20 * * * (Europe/Warsaw)`,
/// `once at 2026-12-24 18:00:00 (UTC)`.
pub fn summary(job: &Job) -> String {
    match &job.schedule {
        Schedule::OneTime { at } => format!("once at {} ({})", show_time(at), job.timezone),
        Schedule::Interval {
            weeks,
            days,
            hours,
            minutes,
            seconds,
            start,
            repeats,
            ..
        } => {
            let parts: Vec<String> = [
                (weeks, "w"),
                (days, "d"),
                (hours, "h"),
                (minutes, "min"),
                (seconds, "s"),
            ]
            .into_iter()
            .filter(|(n, _)| **n > 0)
            .map(|(n, unit)| format!("{n} {unit}"))
            .collect();
            let mut text = if parts.is_empty() {
                "every 0 s".to_owned()
            } else {
                format!("every {}", parts.join(" "))
            };
            if let Some(start) = start {
                text.push_str(&format!(" from {} ({})", show_time(start), job.timezone));
            }
            match repeats {
                Some(1) => text.push_str(", once"),
                Some(n) => text.push_str(&format!(", {n} times")),
                None => {}
            }
            text
        }
        Schedule::Cron { expression } => format!("cron {expression} ({})", job.timezone),
    }
}

/// An ISO 8601 time as people read it: the `T` becomes a space, the offset stays.
pub fn show_time(iso: &str) -> String {
    iso.replacen('T', " ", 1)
}

/// A number of milliseconds: `12 ms`, `1.5 s`, `3 min 20 s`.
pub fn format_ms(ms: i64) -> String {
    match ms.abs() {
        0..1000 => format!("{ms} ms"),
        1000..60_000 => format!("{:.1} s", ms as f64 / 1000.0),
        _ => format!("{} min {} s", ms / 60_000, (ms % 60_000).abs() / 1000),
    }
}

fn outcome_label(outcome: RunOutcome) -> &'static str {
    match outcome {
        RunOutcome::Pending => "pending",
        RunOutcome::Ok => "ok",
        RunOutcome::Error => "error",
        RunOutcome::Missing => "missing",
        RunOutcome::Skipped => "skipped",
    }
}

/// The stylesheet's class for an outcome's tag.
fn outcome_class(outcome: RunOutcome) -> &'static str {
    match outcome {
        RunOutcome::Ok => "status ok",
        RunOutcome::Error | RunOutcome::Missing => "status failed",
        RunOutcome::Pending => "state pending",
        RunOutcome::Skipped => "tag",
    }
}

fn trigger_label(trigger: RunTrigger) -> &'static str {
    match trigger {
        RunTrigger::Schedule => "schedule",
        RunTrigger::Missed => "missed",
        RunTrigger::Manual => "manual",
    }
}

/// One run as its table shows it.
struct RunView {
    fire_time: String,
    trigger: &'static str,
    server: String,
    epoch: i64,
    started: String,
    delay: String,
    duration: String,
    outcome: &'static str,
    outcome_class: &'static str,
    detail: String,
}

impl RunView {
    fn of(run: &Run) -> Self {
        Self {
            fire_time: show_time(&run.fire_time),
            trigger: trigger_label(run.trigger),
            server: run.server.clone().unwrap_or_else(|| "-".into()),
            epoch: run.epoch,
            started: run
                .started
                .as_deref()
                .map(show_time)
                .unwrap_or_else(|| "-".into()),
            delay: run.delay_ms.map(format_ms).unwrap_or_else(|| "-".into()),
            duration: run.duration_ms.map(format_ms).unwrap_or_else(|| "-".into()),
            outcome: outcome_label(run.outcome),
            outcome_class: outcome_class(run.outcome),
            detail: run.detail.clone().unwrap_or_default(),
        }
    }
}

/// Which server is the singleton, as the list's header shows it.
struct SingletonView {
    holder: Option<String>,
    epoch: i64,
    since: String,
    expires: String,
}

impl SingletonView {
    fn of(s: SingletonInfo) -> Self {
        Self {
            holder: s.holder,
            epoch: s.epoch,
            since: s
                .since
                .map(|ms| format!("{} UTC ({})", format_time(ms), format_ago(ms)))
                .unwrap_or_else(|| "-".into()),
            expires: s
                .expires_at
                .map(|ms| format!("{} UTC", format_time(ms)))
                .unwrap_or_else(|| "-".into()),
        }
    }
}

struct JobRow {
    name: String,
    link: String,
    kind: &'static str,
    schedule: String,
    service: String,
    service_link: String,
    active: bool,
    next: String,
    last: Option<RunView>,
}

#[derive(Template)]
#[template(path = "scheduler.html")]
struct ListPage {
    chrome: Chrome,
    q: String,
    notice: String,
    /// The singleton, or why it is not known.
    singleton: Result<SingletonView, String>,
    total: usize,
    rows: Vec<JobRow>,
}

/// The list's query: a search, and what a redirect wants said.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    done: String,
}

/// `GET /scheduler?q=`: the jobs, and which server is the singleton.
pub async fn list(
    State(app): Shared,
    Extension(session): Extension<Session>,
    Query(query): Query<ListQuery>,
) -> Result<Response, PageError> {
    let cluster = app.cluster(&session)?;
    let (jobs, singleton) = tokio::join!(
        app.clusters
            .call(&cluster, true, |c| async move { c.jobs().await }),
        app.clusters
            .call(&cluster, true, |c| async move { c.singleton().await }),
    );
    let jobs = jobs?;
    let search = Search { q: query.q };
    let total = jobs.len();
    let mut rows: Vec<JobRow> = jobs
        .into_iter()
        .filter(|j| search.matches(&[&j.job.name, &j.job.service]))
        .map(|info| JobRow {
            link: seg(&info.job.name),
            service_link: seg(&info.job.service),
            kind: kind_label(&info.job.schedule),
            schedule: summary(&info.job),
            active: info.job.active,
            next: info
                .next_fire_time
                .as_deref()
                .map(show_time)
                .unwrap_or_else(|| "-".into()),
            last: info.last_run.as_ref().map(RunView::of),
            name: info.job.name,
            service: info.job.service,
        })
        .collect();
    rows.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(render(&ListPage {
        chrome: app.chrome(&session, SECTION),
        q: search.q,
        notice: query.done,
        singleton: singleton.map(SingletonView::of).map_err(|e| e.to_string()),
        total,
        rows,
    }))
}

#[derive(Template)]
#[template(path = "scheduler_job.html")]
struct DetailPage {
    chrome: Chrome,
    notice: String,
    link: String,
    service_link: String,
    info: JobInfo,
    kind: &'static str,
    schedule: String,
    missed: &'static str,
    after_last: Option<&'static str>,
    calendars: Vec<(String, String)>,
    created: String,
    updated: String,
    /// The next fire times, or why they are not known.
    next: Result<Vec<String>, String>,
    /// The latest run that has ended (a queued one is still `pending`).
    last: Option<RunView>,
    /// How many of the runs shown are still pending.
    pending: usize,
    runs: Vec<RunView>,
}

/// A job page's query: what a redirect wants said.
#[derive(Debug, Default, Deserialize)]
pub struct DetailQuery {
    #[serde(default)]
    done: String,
}

/// `GET /scheduler/jobs/{name}`: the job's definition, its next fire times and its
/// latest runs.
pub async fn detail(
    State(app): Shared,
    Extension(session): Extension<Session>,
    Path(name): Path<String>,
    Query(query): Query<DetailQuery>,
) -> Result<Response, PageError> {
    let cluster = app.cluster(&session)?;
    let name_ref = name.as_str();
    let (answers, next) = tokio::join!(
        async {
            tokio::try_join!(
                app.clusters
                    .call(&cluster, true, |c| async move { c.job(name_ref).await }),
                app.clusters.call(&cluster, true, |c| async move {
                    c.job_runs(name_ref, Some(RUNS_SHOWN)).await
                }),
            )
        },
        app.clusters.call(&cluster, true, |c| async move {
            c.job_next(name_ref, Some(NEXT_SHOWN), None).await
        }),
    );
    let (info, runs) = answers?;
    let next = next
        .map(|times| times.iter().map(|t| show_time(t)).collect())
        .map_err(|e| {
            e.refusal()
                .map(|(_, m)| m.to_owned())
                .unwrap_or(e.to_string())
        });
    let job = &info.job;
    let page = DetailPage {
        chrome: app.chrome(&session, SECTION),
        notice: query.done,
        link: seg(&job.name),
        service_link: seg(&job.service),
        kind: kind_label(&job.schedule),
        schedule: summary(job),
        missed: match job.missed {
            zato_api::MissedPolicy::Once => "once: one firing for all those missed",
            zato_api::MissedPolicy::Skip => "skip: none, the next one is at its time",
        },
        after_last: match &job.schedule {
            Schedule::Interval {
                repeats: Some(_),
                after_last,
                ..
            } => Some(match after_last {
                zato_api::AfterLast::Deactivate => "it stays, paused",
                zato_api::AfterLast::Delete => "it is deleted",
            }),
            _ => None,
        },
        calendars: job.calendars.iter().map(|c| (c.clone(), seg(c))).collect(),
        created: format_time(info.created_at),
        updated: format_time(info.updated_at),
        next,
        last: runs
            .iter()
            .find(|r| r.outcome != RunOutcome::Pending)
            .map(RunView::of),
        pending: runs
            .iter()
            .filter(|r| r.outcome == RunOutcome::Pending)
            .count(),
        runs: runs.iter().map(RunView::of).collect(),
        info,
    };
    Ok(render(&page))
}

/// The form of the pause, resume and run-now buttons: where to go back to.
#[derive(Debug, Default, Deserialize)]
pub struct ActionForm {
    /// `job` to come back to the job's page, anything else the list.
    #[serde(default)]
    back: String,
}

enum Action {
    Pause,
    Resume,
    Run,
}

async fn act(
    app: &App,
    session: &Session,
    name: &str,
    back: &str,
    action: Action,
) -> Result<Response, PageError> {
    let cluster = app.cluster(session)?;
    let notice = match action {
        Action::Pause => {
            app.clusters
                .call(&cluster, false, |c| async move { c.pause_job(name).await })
                .await?;
            format!("Job {name} paused: it does not fire until it is resumed.")
        }
        Action::Resume => {
            app.clusters
                .call(&cluster, false, |c| async move { c.resume_job(name).await })
                .await?;
            format!("Job {name} resumed.")
        }
        Action::Run => {
            let queued = app
                .clusters
                .call(&cluster, false, |c| async move { c.run_job(name).await })
                .await?;
            format!(
                "Job {name} runs now (fire time {}).",
                show_time(&queued.run.fire_time)
            )
        }
    };
    let to = if back == "job" {
        format!("/scheduler/jobs/{}", seg(name))
    } else {
        "/scheduler".to_owned()
    };
    Ok(see_other(&format!("{to}?done={}", seg(&notice))))
}

/// `POST /scheduler/jobs/{name}/pause`.
pub async fn pause(
    State(app): Shared,
    Extension(session): Extension<Session>,
    Path(name): Path<String>,
    Form(form): Form<ActionForm>,
) -> Result<Response, PageError> {
    act(&app, &session, &name, &form.back, Action::Pause).await
}

/// `POST /scheduler/jobs/{name}/resume`.
pub async fn resume(
    State(app): Shared,
    Extension(session): Extension<Session>,
    Path(name): Path<String>,
    Form(form): Form<ActionForm>,
) -> Result<Response, PageError> {
    act(&app, &session, &name, &form.back, Action::Resume).await
}

/// `POST /scheduler/jobs/{name}/run`: fires the job once now, whatever its schedule.
pub async fn run_now(
    State(app): Shared,
    Extension(session): Extension<Session>,
    Path(name): Path<String>,
    Form(form): Form<ActionForm>,
) -> Result<Response, PageError> {
    act(&app, &session, &name, &form.back, Action::Run).await
}

fn deletion(name: &str) -> Deletion {
    Deletion {
        section: SECTION,
        title: format!("Delete job {name}"),
        question: format!(
            "Delete scheduler job {name}? It stops firing on every server; its recorded runs \
             go with it."
        ),
        action: format!("/scheduler/jobs/{}/delete", seg(name)),
        cancel: format!("/scheduler/jobs/{}", seg(name)),
    }
}

/// `GET /scheduler/jobs/{name}/delete`: asks first.
pub async fn confirm_delete(
    State(app): Shared,
    Extension(session): Extension<Session>,
    Path(name): Path<String>,
) -> Response {
    deletion(&name).page(&app, &session, Vec::new())
}

/// `POST /scheduler/jobs/{name}/delete`.
pub async fn delete(
    State(app): Shared,
    Extension(session): Extension<Session>,
    Path(name): Path<String>,
) -> Result<Response, PageError> {
    let name_ref = name.as_str();
    deletion(&name)
        .run(
            &app,
            &session,
            |c| async move { c.delete_job(name_ref).await },
            |_| ("/scheduler".into(), format!("Job {name} deleted.")),
        )
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use zato_api::{AfterLast, DataFormat, MissedPolicy};

    fn job(timezone: &str, schedule: Schedule) -> Job {
        Job {
            name: "tick".into(),
            service: "demo.hello".into(),
            payload: String::new(),
            data_format: DataFormat::Json,
            timezone: timezone.into(),
            schedule,
            calendars: Vec::new(),
            missed: MissedPolicy::Once,
            active: true,
            timeout_ms: 0,
        }
    }

    fn every(hours: u64, minutes: u64, seconds: u64, repeats: Option<u64>) -> Schedule {
        Schedule::Interval {
            weeks: 0,
            days: 0,
            hours,
            minutes,
            seconds,
            start: None,
            repeats,
            after_last: AfterLast::Deactivate,
        }
    }

    #[test]
    fn a_schedule_reads_in_a_few_words() {
        assert_eq!(summary(&job("UTC", every(0, 0, 1, None))), "every 1 s");
        assert_eq!(
            summary(&job("UTC", every(1, 30, 0, Some(3)))),
            "every 1 h 30 min, 3 times"
        );
        assert_eq!(
            summary(&job(
                "Europe/Warsaw",
                Schedule::Cron {
                    expression: "*/55 06-20 * * *".into()
                }
            )),
            "cron */55 06-20 * * * (Europe/Warsaw)"
        );
        assert_eq!(
            summary(&job(
                "UTC",
                Schedule::OneTime {
                    at: "2026-12-24T18:00:00".into()
                }
            )),
            "once at 2026-12-24 18:00:00 (UTC)"
        );
        assert_eq!(
            show_time("2026-03-29T03:00:00+02:00"),
            "2026-03-29 03:00:00+02:00"
        );
    }

    #[test]
    fn durations_read_in_their_unit() {
        assert_eq!(format_ms(12), "12 ms");
        assert_eq!(format_ms(1500), "1.5 s");
        assert_eq!(format_ms(200_000), "3 min 20 s");
    }
}
