//! `/scheduler/calendars`: the named lists of dates on which the jobs that name them do
//! not fire: list, create, edit, delete (refused while a job names the calendar; the
//! admin API's message says which).

use askama::Template;
use axum::extract::{Extension, Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use zato_api::Calendar;

use super::SECTION;
use crate::app::{App, Chrome, PageError, Shared, render, see_other, seg};
use crate::auth::Session;
use crate::clusters::ClusterError;
use crate::pages::Deletion;
use crate::pages::FormErrors;

/// How many of a calendar's dates its row shows.
const DATES_SHOWN: usize = 6;

struct Row {
    c: Calendar,
    link: String,
    /// The first dates, and how many more there are.
    first: String,
    more: usize,
}

#[derive(Template)]
#[template(path = "calendars.html")]
struct ListPage {
    chrome: Chrome,
    notice: String,
    rows: Vec<Row>,
}

/// The list's query: what a redirect wants said.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    done: String,
}

/// `GET /scheduler/calendars`.
pub async fn list(
    State(app): Shared,
    Extension(session): Extension<Session>,
    Query(query): Query<ListQuery>,
) -> Result<Response, PageError> {
    let cluster = app.cluster(&session)?;
    let calendars = app
        .clusters
        .call(&cluster, true, |c| async move { c.calendars().await })
        .await?;
    let mut rows: Vec<Row> = calendars
        .into_iter()
        .map(|c| Row {
            link: seg(&c.name),
            first: c
                .dates
                .iter()
                .take(DATES_SHOWN)
                .cloned()
                .collect::<Vec<_>>()
                .join(", "),
            more: c.dates.len().saturating_sub(DATES_SHOWN),
            c,
        })
        .collect();
    rows.sort_by(|a, b| a.c.name.cmp(&b.c.name));
    Ok(render(&ListPage {
        chrome: app.chrome(&session, SECTION),
        notice: query.done,
        rows,
    }))
}

/// The calendar form, as typed.
#[derive(Debug, Default, Deserialize)]
pub struct CalendarForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
    /// One date per line (commas and spaces separate them too).
    #[serde(default)]
    dates: String,
}

/// Whether `s` reads as `YYYY-MM-DD` with a month and a day in range.
fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    if !(digits(0..4) && digits(5..7) && digits(8..10)) {
        return false;
    }
    let month: u32 = s[5..7].parse().unwrap_or(0);
    let day: u32 = s[8..10].parse().unwrap_or(0);
    (1..=12).contains(&month) && (1..=31).contains(&day)
}

impl CalendarForm {
    fn of(c: &Calendar) -> Self {
        Self {
            name: c.name.clone(),
            description: c.description.clone(),
            dates: c.dates.join("\n"),
        }
    }

    /// The calendar the form describes, or what is wrong with it.
    fn calendar(&self) -> Result<Calendar, FormErrors> {
        let mut errors = FormErrors::default();
        let name = self.name.trim();
        if name.is_empty() {
            errors.set("name", "A calendar needs a name.");
        }
        let dates: Vec<String> = self
            .dates
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|d| !d.is_empty())
            .map(str::to_owned)
            .collect();
        let bad: Vec<&str> = dates
            .iter()
            .map(String::as_str)
            .filter(|d| !is_date(d))
            .collect();
        if !bad.is_empty() {
            errors.set(
                "dates",
                format!(
                    "Dates are written YYYY-MM-DD, one per line; these are not: {}.",
                    bad.join(", ")
                ),
            );
        }
        if errors.any() {
            return Err(errors);
        }
        Ok(Calendar {
            name: name.into(),
            description: self.description.trim().into(),
            dates,
        })
    }
}

/// Puts an admin API refusal next to the field it is about.
fn attribute(message: &str, status: u16) -> FormErrors {
    let mut errors = FormErrors::default();
    // `calendar name `x` ...`, `calendar date `x` is not a date ...`, `description ...`.
    let field = if message.starts_with("calendar name") || status == 409 {
        Some("name")
    } else if message.starts_with("calendar date") {
        Some("dates")
    } else if message.starts_with("description") {
        Some("description")
    } else {
        None
    };
    match field {
        Some(field) => errors.set(field, message),
        None => errors.top.push(message.to_owned()),
    }
    errors
}

#[derive(Template)]
#[template(path = "calendar_form.html")]
struct FormPage {
    chrome: Chrome,
    editing: bool,
    action: String,
    link: String,
    form: CalendarForm,
    errors: FormErrors,
}

fn form_page(
    app: &App,
    session: &Session,
    editing: bool,
    form: CalendarForm,
    errors: FormErrors,
) -> Response {
    let link = seg(&form.name);
    let status = if errors.any() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let page = FormPage {
        chrome: app.chrome(session, SECTION),
        editing,
        action: if editing {
            format!("/scheduler/calendars/{link}")
        } else {
            "/scheduler/new-calendar".into()
        },
        link,
        form,
        errors,
    };
    (status, render(&page)).into_response()
}

fn refused(
    app: &App,
    session: &Session,
    editing: bool,
    form: CalendarForm,
    e: ClusterError,
) -> Result<Response, PageError> {
    match e.refusal() {
        Some((status, message)) => Ok(form_page(
            app,
            session,
            editing,
            form,
            attribute(message, status),
        )),
        None => Err(e.into()),
    }
}

/// `GET /scheduler/new-calendar`.
pub async fn new_form(State(app): Shared, Extension(session): Extension<Session>) -> Response {
    form_page(
        &app,
        &session,
        false,
        CalendarForm::default(),
        FormErrors::default(),
    )
}

/// `POST /scheduler/new-calendar`.
pub async fn create(
    State(app): Shared,
    Extension(session): Extension<Session>,
    Form(form): Form<CalendarForm>,
) -> Result<Response, PageError> {
    let calendar = match form.calendar() {
        Ok(calendar) => calendar,
        Err(errors) => return Ok(form_page(&app, &session, false, form, errors)),
    };
    let cluster = app.cluster(&session)?;
    let calendar_ref = &calendar;
    match app
        .clusters
        .call(&cluster, false, |c| async move {
            c.create_calendar(calendar_ref).await
        })
        .await
    {
        Ok(created) => Ok(see_other(&format!(
            "/scheduler/calendars?done={}",
            seg(&format!(
                "Calendar {} created with {} dates.",
                created.name,
                created.dates.len()
            ))
        ))),
        Err(e) => refused(&app, &session, false, form, e),
    }
}

/// `GET /scheduler/calendars/{name}`: the calendar's edit form.
pub async fn edit_form(
    State(app): Shared,
    Extension(session): Extension<Session>,
    Path(name): Path<String>,
) -> Result<Response, PageError> {
    let cluster = app.cluster(&session)?;
    let name_ref = name.as_str();
    let calendar = app
        .clusters
        .call(
            &cluster,
            true,
            |c| async move { c.calendar(name_ref).await },
        )
        .await?;
    Ok(form_page(
        &app,
        &session,
        true,
        CalendarForm::of(&calendar),
        FormErrors::default(),
    ))
}

/// `POST /scheduler/calendars/{name}`: saves the edit form (a calendar keeps its name).
pub async fn update(
    State(app): Shared,
    Extension(session): Extension<Session>,
    Path(name): Path<String>,
    Form(mut form): Form<CalendarForm>,
) -> Result<Response, PageError> {
    form.name = name.clone();
    let calendar = match form.calendar() {
        Ok(calendar) => calendar,
        Err(errors) => return Ok(form_page(&app, &session, true, form, errors)),
    };
    let cluster = app.cluster(&session)?;
    let (name_ref, calendar_ref) = (name.as_str(), &calendar);
    match app
        .clusters
        .call(&cluster, false, |c| async move {
            c.update_calendar(name_ref, calendar_ref).await
        })
        .await
    {
        Ok(saved) => Ok(see_other(&format!(
            "/scheduler/calendars?done={}",
            seg(&format!("Calendar {} saved.", saved.name))
        ))),
        Err(e) => refused(&app, &session, true, form, e),
    }
}

fn deletion(name: &str) -> Deletion {
    Deletion {
        section: SECTION,
        title: format!("Delete calendar {name}"),
        question: format!(
            "Delete calendar {name}? A calendar that a job names cannot be deleted: take it \
             off the job first."
        ),
        action: format!("/scheduler/calendars/{}/delete", seg(name)),
        cancel: "/scheduler/calendars".into(),
    }
}

/// `GET /scheduler/calendars/{name}/delete`: asks first.
pub async fn confirm_delete(
    State(app): Shared,
    Extension(session): Extension<Session>,
    Path(name): Path<String>,
) -> Response {
    deletion(&name).page(&app, &session, Vec::new())
}

/// `POST /scheduler/calendars/{name}/delete`: a calendar in use stays, with the admin
/// API's message (409) on the confirm page.
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
            |c| async move { c.delete_calendar(name_ref).await },
            |_| {
                (
                    "/scheduler/calendars".into(),
                    format!("Calendar {name} deleted."),
                )
            },
        )
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_one_per_line_and_checked() {
        let form = CalendarForm {
            name: " pl.holidays ".into(),
            description: "Public holidays".into(),
            dates: "2026-12-25\r\n2026-12-26, 2027-01-01\n\n".into(),
        };
        let calendar = form.calendar().unwrap();
        assert_eq!(calendar.name, "pl.holidays");
        assert_eq!(calendar.dates, ["2026-12-25", "2026-12-26", "2027-01-01"]);
        let bad = CalendarForm {
            dates: "2026-13-01\n25.12.2026\n2026-12-25".into(),
            ..CalendarForm::default()
        };
        let errors = bad.calendar().unwrap_err();
        assert!(errors.field("name").is_some());
        let dates = errors.field("dates").unwrap();
        assert!(
            dates.contains("2026-13-01") && dates.contains("25.12.2026"),
            "{dates}"
        );
        assert!(!dates.contains("2026-12-25"), "{dates}");
    }

    #[test]
    fn refusals_land_next_to_their_field() {
        let e = attribute(
            "calendar date `2026-02-30` is not a date as YYYY-MM-DD",
            400,
        );
        assert!(e.field("dates").is_some(), "{e:?}");
        let e = attribute("calendar name `a ` ends with a space", 400);
        assert!(e.field("name").is_some(), "{e:?}");
        let e = attribute("a calendar named `a` exists already", 409);
        assert!(e.field("name").is_some(), "{e:?}");
        let e = attribute("the ODB is down", 500);
        assert_eq!(e.top.len(), 1, "{e:?}");
    }
}
