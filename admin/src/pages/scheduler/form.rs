//! The job form (`/scheduler/new-job`, `/scheduler/jobs/{name}/edit`): its fields as
//! typed, the job they describe, the admin API's refusals put next to their field, and
//! the preview of the next fire times (a button of the same form: with htmx only the
//! preview is swapped in, without JavaScript the whole form comes back with it).
//!
//! The form is read from its raw body rather than through `Form`: the calendars'
//! multi-select sends one `calendars=` pair per choice.

use askama::Template;
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use zato_api::{AfterLast, DataFormat, Job, MissedPolicy, Preview, Schedule};

use super::{NEXT_SHOWN, SECTION, show_time};
use crate::app::{App, Chrome, PageError, Shared, render, see_other, seg};
use crate::auth::Session;
use crate::clusters::ClusterError;
use crate::pages::FormErrors;

const FORMATS: [&str; 3] = ["json", "xml", "raw"];
/// A few time zones for the field's suggestions; any IANA name is accepted.
const ZONES: [&str; 12] = [
    "UTC",
    "Europe/London",
    "Europe/Paris",
    "Europe/Berlin",
    "Europe/Warsaw",
    "Europe/Kyiv",
    "America/New_York",
    "America/Chicago",
    "America/Los_Angeles",
    "America/Sao_Paulo",
    "Asia/Tokyo",
    "Australia/Sydney",
];

/// The job form, as typed: nothing is lost when it comes back with errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobForm {
    name: String,
    service: String,
    /// `one_time`, `interval` or `cron`.
    kind: String,
    at: String,
    weeks: String,
    days: String,
    hours: String,
    minutes: String,
    seconds: String,
    start: String,
    repeats: String,
    after_last: String,
    expression: String,
    timezone: String,
    payload: String,
    data_format: String,
    calendars: Vec<String>,
    missed: String,
    active: bool,
    timeout_ms: String,
    /// The button pressed: `preview`, or anything else to save.
    op: String,
}

impl Default for JobForm {
    fn default() -> Self {
        Self {
            name: String::new(),
            service: String::new(),
            kind: "interval".into(),
            at: String::new(),
            weeks: String::new(),
            days: String::new(),
            hours: String::new(),
            minutes: String::new(),
            seconds: String::new(),
            start: String::new(),
            repeats: String::new(),
            after_last: "deactivate".into(),
            expression: String::new(),
            timezone: "UTC".into(),
            payload: String::new(),
            data_format: "json".into(),
            calendars: Vec::new(),
            missed: "once".into(),
            active: true,
            timeout_ms: "0".into(),
            op: String::new(),
        }
    }
}

/// A number field: empty is 0.
fn number(text: &str, field: &'static str, errors: &mut FormErrors) -> u64 {
    match text.trim() {
        "" => 0,
        t => t.parse().unwrap_or_else(|_| {
            errors.set(field, format!("`{t}` is not a whole number."));
            0
        }),
    }
}

fn optional(text: &str) -> Option<String> {
    Some(text.trim())
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
}

fn shown(n: u64) -> String {
    if n == 0 { String::new() } else { n.to_string() }
}

impl JobForm {
    /// The form from its URL-encoded body; an unticked checkbox sends nothing.
    pub fn parse(body: &[u8]) -> Self {
        let mut form = JobForm {
            kind: String::new(),
            after_last: String::new(),
            timezone: String::new(),
            data_format: String::new(),
            missed: String::new(),
            active: false,
            timeout_ms: String::new(),
            ..JobForm::default()
        };
        for (key, value) in form_urlencoded::parse(body) {
            let value = value.into_owned();
            match &*key {
                "name" => form.name = value,
                "service" => form.service = value,
                "kind" => form.kind = value,
                "at" => form.at = value,
                "weeks" => form.weeks = value,
                "days" => form.days = value,
                "hours" => form.hours = value,
                "minutes" => form.minutes = value,
                "seconds" => form.seconds = value,
                "start" => form.start = value,
                "repeats" => form.repeats = value,
                "after_last" => form.after_last = value,
                "expression" => form.expression = value,
                "timezone" => form.timezone = value,
                "payload" => form.payload = value,
                "data_format" => form.data_format = value,
                "calendars" => form.calendars.push(value),
                "missed" => form.missed = value,
                "active" => form.active = true,
                "timeout_ms" => form.timeout_ms = value,
                "op" => form.op = value,
                _ => {}
            }
        }
        form
    }

    /// The form of an existing job.
    pub fn of(job: &Job) -> Self {
        let mut form = JobForm {
            name: job.name.clone(),
            service: job.service.clone(),
            timezone: job.timezone.clone(),
            payload: job.payload.clone(),
            data_format: job.data_format.as_str().into(),
            calendars: job.calendars.clone(),
            missed: match job.missed {
                MissedPolicy::Once => "once",
                MissedPolicy::Skip => "skip",
            }
            .into(),
            active: job.active,
            timeout_ms: job.timeout_ms.to_string(),
            ..JobForm::default()
        };
        match &job.schedule {
            Schedule::OneTime { at } => {
                form.kind = "one_time".into();
                form.at = at.clone();
            }
            Schedule::Interval {
                weeks,
                days,
                hours,
                minutes,
                seconds,
                start,
                repeats,
                after_last,
            } => {
                form.kind = "interval".into();
                form.weeks = shown(*weeks);
                form.days = shown(*days);
                form.hours = shown(*hours);
                form.minutes = shown(*minutes);
                form.seconds = shown(*seconds);
                form.start = start.clone().unwrap_or_default();
                form.repeats = repeats.map(|r| r.to_string()).unwrap_or_default();
                form.after_last = match after_last {
                    AfterLast::Deactivate => "deactivate",
                    AfterLast::Delete => "delete",
                }
                .into();
            }
            Schedule::Cron { expression } => {
                form.kind = "cron".into();
                form.expression = expression.clone();
            }
        }
        form
    }

    /// The job the form describes, or what is wrong with it. For a preview, a job
    /// without a name or a service yet is fine.
    pub fn job(&self, preview: bool) -> Result<Job, FormErrors> {
        let mut errors = FormErrors::default();
        let mut name = self.name.trim().to_owned();
        let mut service = self.service.trim().to_owned();
        if preview {
            for value in [&mut name, &mut service] {
                if value.is_empty() {
                    "preview".clone_into(value);
                }
            }
        }
        if name.is_empty() {
            errors.set("name", "A job needs a name.");
        }
        if service.is_empty() {
            errors.set("service", "Name the service the job invokes.");
        }
        let schedule = match self.kind.as_str() {
            "one_time" => {
                if self.at.trim().is_empty() {
                    errors.set("at", "Give the date and time the job fires at.");
                }
                Schedule::OneTime {
                    at: self.at.trim().into(),
                }
            }
            "interval" => {
                let weeks = number(&self.weeks, "interval", &mut errors);
                let days = number(&self.days, "interval", &mut errors);
                let hours = number(&self.hours, "interval", &mut errors);
                let minutes = number(&self.minutes, "interval", &mut errors);
                let seconds = number(&self.seconds, "interval", &mut errors);
                if errors.field("interval").is_none()
                    && weeks + days + hours + minutes + seconds == 0
                {
                    errors.set("interval", "An interval is at least one second.");
                }
                let repeats = match self.repeats.trim() {
                    "" => None,
                    r => match r.parse::<u64>() {
                        Ok(n) if n > 0 => Some(n),
                        _ => {
                            errors.set(
                                "repeats",
                                "Repeats is a number of times, at least 1 (empty: forever).",
                            );
                            None
                        }
                    },
                };
                let after_last = match self.after_last.as_str() {
                    "delete" => AfterLast::Delete,
                    _ => AfterLast::Deactivate,
                };
                Schedule::Interval {
                    weeks,
                    days,
                    hours,
                    minutes,
                    seconds,
                    start: optional(&self.start),
                    repeats,
                    after_last,
                }
            }
            "cron" => {
                if self.expression.trim().is_empty() {
                    errors.set("expression", "Give a cron expression, e.g. `0 6 * * 1-5`.");
                }
                Schedule::Cron {
                    expression: self.expression.trim().into(),
                }
            }
            _ => {
                errors.set("kind", "Choose one-time, interval or cron.");
                Schedule::Cron {
                    expression: String::new(),
                }
            }
        };
        let data_format = self.data_format.parse::<DataFormat>().unwrap_or_else(|e| {
            errors.set("data_format", e);
            DataFormat::Json
        });
        if data_format == DataFormat::Json
            && !self.payload.trim().is_empty()
            && let Err(e) = serde_json::from_str::<serde_json::Value>(&self.payload)
        {
            errors.set("payload", format!("The payload is not JSON: {e}."));
        }
        let missed = match self.missed.as_str() {
            "skip" => MissedPolicy::Skip,
            _ => MissedPolicy::Once,
        };
        let timeout_ms = match self.timeout_ms.trim() {
            "" => 0,
            t => t.parse::<u64>().unwrap_or_else(|_| {
                errors.set(
                    "timeout_ms",
                    "A timeout is a number of milliseconds (0 for the server's).",
                );
                0
            }),
        };
        if errors.any() {
            return Err(errors);
        }
        Ok(Job {
            name,
            service,
            payload: self.payload.clone(),
            data_format,
            timezone: optional(&self.timezone).unwrap_or_else(|| "UTC".into()),
            schedule,
            calendars: self.calendars.clone(),
            missed,
            active: self.active,
            timeout_ms,
        })
    }
}

/// How the admin API's refusals of a job begin, and the field each is about (the more
/// precise first): the planner names the field (`schedule.expression: ...`), the other
/// checks start with it (`timeout_ms 9999999 is over ...`).
const REFUSALS: [(&str, &str); 14] = [
    ("schedule.expression:", "expression"),
    ("schedule.at:", "at"),
    ("schedule.start:", "start"),
    ("schedule.repeats:", "repeats"),
    ("schedule:", "interval"),
    ("interval ", "interval"),
    ("timezone:", "timezone"),
    ("calendars:", "calendars"),
    ("payload", "payload"),
    ("data_format", "data_format"),
    ("timeout_ms", "timeout_ms"),
    ("job name", "name"),
    ("invalid service name", "service"),
    ("service `", "service"),
];

/// Puts an admin API refusal next to the field it is about, or above the form.
fn attribute(message: &str, status: u16) -> FormErrors {
    let mut errors = FormErrors::default();
    let field = REFUSALS
        .iter()
        .find(|(start, _)| message.starts_with(start))
        .map(|(_, field)| *field)
        .or((status == 409).then_some("name"));
    match field {
        Some(field) => errors.set(field, message),
        None => errors.top.push(message.to_owned()),
    }
    errors
}

/// The preview's answer: the next fire times, or why there are none.
struct PreviewView {
    times: Vec<String>,
    errors: Vec<String>,
}

#[derive(Template)]
#[template(path = "scheduler_form.html")]
struct FormPage {
    chrome: Chrome,
    editing: bool,
    action: String,
    link: String,
    form: JobForm,
    services: Vec<String>,
    /// Every calendar the job may name: the cluster's, and any the form names.
    calendars: Vec<String>,
    formats: [&'static str; 3],
    zones: [&'static str; 12],
    next_shown: u32,
    errors: FormErrors,
    preview: Option<PreviewView>,
}

async fn form_page(
    app: &App,
    session: &Session,
    editing: bool,
    form: JobForm,
    errors: FormErrors,
    preview: Option<PreviewView>,
) -> Result<Response, PageError> {
    let cluster = app.cluster(session)?;
    // Suggestions for the fields: a cluster that cannot list them still gets its form.
    let (services, calendars) = tokio::join!(
        app.clusters
            .call(&cluster, true, |c| async move { c.services().await }),
        app.clusters
            .call(&cluster, true, |c| async move { c.calendars().await }),
    );
    let services = services
        .map(|s| s.into_iter().map(|s| s.name).collect())
        .unwrap_or_default();
    let mut calendars: Vec<String> = calendars
        .map(|c| c.into_iter().map(|c| c.name).collect())
        .unwrap_or_default();
    calendars.extend(form.calendars.iter().cloned());
    calendars.sort();
    calendars.dedup();
    let link = seg(&form.name);
    // A preview answers 200 whatever it found: htmx swaps in only successful answers.
    let status = if errors.any() && preview.is_none() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let page = FormPage {
        chrome: app.chrome(session, SECTION),
        editing,
        action: if editing {
            format!("/scheduler/jobs/{link}/edit")
        } else {
            "/scheduler/new-job".into()
        },
        link,
        form,
        services,
        calendars,
        formats: FORMATS,
        zones: ZONES,
        next_shown: super::NEXT_SHOWN,
        errors,
        preview,
    };
    Ok((status, render(&page)).into_response())
}

/// The form again with the next fire times of the job it describes (not saved).
async fn preview(
    app: &App,
    session: &Session,
    editing: bool,
    form: JobForm,
) -> Result<Response, PageError> {
    let job = match form.job(true) {
        Ok(job) => job,
        Err(errors) => {
            let view = PreviewView {
                times: Vec::new(),
                errors: errors
                    .top
                    .iter()
                    .chain(errors.fields.values())
                    .cloned()
                    .collect(),
            };
            return form_page(app, session, editing, form, errors, Some(view)).await;
        }
    };
    let cluster = app.cluster(session)?;
    let asked = Preview {
        job,
        count: NEXT_SHOWN,
        from: None,
    };
    let asked = &asked;
    let (errors, view) = match app
        .clusters
        .call(&cluster, true, |c| async move { c.preview(asked).await })
        .await
    {
        Ok(times) => (
            FormErrors::default(),
            PreviewView {
                times: times.iter().map(|t| show_time(t)).collect(),
                errors: Vec::new(),
            },
        ),
        Err(e) => match e.refusal() {
            Some((status, message)) => (
                attribute(message, status),
                PreviewView {
                    times: Vec::new(),
                    errors: vec![message.to_owned()],
                },
            ),
            None => return Err(e.into()),
        },
    };
    form_page(app, session, editing, form, errors, Some(view)).await
}

async fn refused(
    app: &App,
    session: &Session,
    editing: bool,
    form: JobForm,
    e: ClusterError,
) -> Result<Response, PageError> {
    match e.refusal() {
        Some((status, message)) => {
            let errors = attribute(message, status);
            form_page(app, session, editing, form, errors, None).await
        }
        None => Err(e.into()),
    }
}

/// `GET /scheduler/new-job`: an interval job's form to start with.
pub async fn new_form(
    State(app): Shared,
    Extension(session): Extension<Session>,
) -> Result<Response, PageError> {
    form_page(
        &app,
        &session,
        false,
        JobForm::default(),
        FormErrors::default(),
        None,
    )
    .await
}

/// `POST /scheduler/new-job`: creates the job, or previews it.
pub async fn create(
    State(app): Shared,
    Extension(session): Extension<Session>,
    body: Bytes,
) -> Result<Response, PageError> {
    let form = JobForm::parse(&body);
    if form.op == "preview" {
        return preview(&app, &session, false, form).await;
    }
    let job = match form.job(false) {
        Ok(job) => job,
        Err(errors) => return form_page(&app, &session, false, form, errors, None).await,
    };
    let cluster = app.cluster(&session)?;
    let job_ref = &job;
    match app
        .clusters
        .call(
            &cluster,
            false,
            |c| async move { c.create_job(job_ref).await },
        )
        .await
    {
        Ok(created) => {
            let next = created
                .next_fire_time
                .as_deref()
                .map(|t| format!("; it fires next at {}", show_time(t)))
                .unwrap_or_default();
            Ok(see_other(&format!(
                "/scheduler?done={}",
                seg(&format!("Job {} created{next}.", created.job.name))
            )))
        }
        Err(e) => refused(&app, &session, false, form, e).await,
    }
}

/// `GET /scheduler/jobs/{name}/edit`.
pub async fn edit_form(
    State(app): Shared,
    Extension(session): Extension<Session>,
    Path(name): Path<String>,
) -> Result<Response, PageError> {
    let cluster = app.cluster(&session)?;
    let name_ref = name.as_str();
    let info = app
        .clusters
        .call(&cluster, true, |c| async move { c.job(name_ref).await })
        .await?;
    form_page(
        &app,
        &session,
        true,
        JobForm::of(&info.job),
        FormErrors::default(),
        None,
    )
    .await
}

/// `POST /scheduler/jobs/{name}/edit`: saves the form (a job keeps its name), or
/// previews it.
pub async fn update(
    State(app): Shared,
    Extension(session): Extension<Session>,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Response, PageError> {
    let mut form = JobForm::parse(&body);
    form.name = name.clone();
    if form.op == "preview" {
        return preview(&app, &session, true, form).await;
    }
    let job = match form.job(false) {
        Ok(job) => job,
        Err(errors) => return form_page(&app, &session, true, form, errors, None).await,
    };
    let cluster = app.cluster(&session)?;
    let (name_ref, job_ref) = (name.as_str(), &job);
    match app
        .clusters
        .call(&cluster, false, |c| async move {
            c.update_job(name_ref, job_ref).await
        })
        .await
    {
        Ok(saved) => Ok(see_other(&format!(
            "/scheduler/jobs/{}?done={}",
            seg(&name),
            seg(&format!("Job {} saved.", saved.job.name))
        ))),
        Err(e) => refused(&app, &session, true, form, e).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_form_becomes_a_job_and_back() {
        let form = JobForm::parse(
            b"csrf=x&name=+tick+&service=demo.hello&kind=interval&seconds=1&minutes=&\
              repeats=3&after_last=delete&timezone=&payload=%7B%7D&data_format=json&\
              calendars=pl.holidays&calendars=de.holidays&missed=skip&timeout_ms=&op=save",
        );
        assert!(!form.active, "an unticked checkbox sends nothing");
        let job = form.job(false).unwrap();
        assert_eq!(job.name, "tick");
        assert_eq!(job.timezone, "UTC");
        assert_eq!(job.calendars, ["pl.holidays", "de.holidays"]);
        assert_eq!(job.missed, MissedPolicy::Skip);
        assert_eq!(
            job.schedule,
            Schedule::Interval {
                weeks: 0,
                days: 0,
                hours: 0,
                minutes: 0,
                seconds: 1,
                start: None,
                repeats: Some(3),
                after_last: AfterLast::Delete,
            }
        );
        let again = JobForm::of(&job);
        assert_eq!(again.job(false).unwrap(), job);
    }

    #[test]
    fn a_bad_form_names_its_fields_and_a_preview_needs_only_the_schedule() {
        let form = JobForm::parse(b"kind=interval&seconds=soon&data_format=json&payload=%7B");
        let errors = form.job(false).unwrap_err();
        for field in ["name", "service", "interval", "payload"] {
            assert!(errors.field(field).is_some(), "{field}: {errors:?}");
        }
        let form = JobForm::parse(b"kind=cron&expression=0+6+*+*+1-5&data_format=json");
        assert!(form.job(false).is_err());
        let job = form.job(true).unwrap();
        assert_eq!(
            job.schedule,
            Schedule::Cron {
                expression: "0 6 * * 1-5".into()
            }
        );
        let form = JobForm::parse(b"name=a&service=b&kind=interval&data_format=json");
        assert!(form.job(false).unwrap_err().field("interval").is_some());
    }

    #[test]
    fn refusals_land_next_to_their_field() {
        let e = attribute(
            "schedule.expression: `*/61 * * * *`: minute step 61 is out of range (1-59)",
            400,
        );
        assert!(e.field("expression").is_some(), "{e:?}");
        let e = attribute("timezone: unknown time zone `Europe/Warsw`", 400);
        assert!(e.field("timezone").is_some());
        let e = attribute("calendars: calendar `pl.holidays` does not exist", 400);
        assert!(e.field("calendars").is_some());
        let e = attribute("a job named `tick` exists already", 409);
        assert!(e.field("name").is_some());
        let e = attribute("invalid service name `a b`: it has a space", 400);
        assert!(e.field("service").is_some());
        let e = attribute("timeout_ms 99999999 is over the largest, 3600000", 400);
        assert!(e.field("timeout_ms").is_some());
        let e = attribute(
            "schedule: the interval (weeks + days + hours + minutes + seconds) is too long",
            400,
        );
        assert!(e.field("interval").is_some());
        let e = attribute("the body names job `a` but the URL names `b`", 400);
        assert_eq!(e.top.len(), 1);
    }
}
