//! `/rate-limits`: rate limits and IP allow lists: the definitions with what each is
//! attached to, a create and edit form (the lines in a text area, one per line), delete
//! with a confirmation, and a form that attaches a definition to a security definition,
//! an HTTP or SOAP channel or a service, or detaches one.

use askama::Template;
use axum::extract::{Extension, Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use zato_api::rate_limit::{LimitedKind, RateLimit, RateLimitInfo, RateLimitUse, parse_rules};

use super::FormErrors;
use crate::app::{App, Chrome, PageError, Shared, render, see_other, seg};
use crate::auth::Session;
use crate::clusters::ClusterError;
use crate::pages::Deletion;

const SECTION: &str = "rate-limits";

struct Row {
    d: RateLimitInfo,
    link: String,
    /// What it is attached to, as a person reads it.
    uses: Vec<String>,
}

#[derive(Template)]
#[template(path = "rate_limits.html")]
struct ListPage {
    chrome: Chrome,
    notice: String,
    rows: Vec<Row>,
    uses: Vec<RateLimitUse>,
    kinds: Vec<(&'static str, &'static str)>,
    errors: FormErrors,
    attach: AttachForm,
}

/// The list's query: `done` carries an outcome to show.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    done: String,
}

/// The attach form: a definition (empty: detach) for an object.
#[derive(Debug, Default, Deserialize)]
pub struct AttachForm {
    #[serde(default)]
    rate_limit: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    object: String,
}

async fn list_page(
    app: &App,
    session: &Session,
    notice: String,
    attach: AttachForm,
    errors: FormErrors,
) -> Result<Response, PageError> {
    let cluster = app.cluster(session)?;
    let defs = app
        .clusters
        .call(&cluster, true, |c| async move { c.rate_limits().await })
        .await?;
    let uses = app
        .clusters
        .call(&cluster, true, |c| async move { c.rate_limit_uses().await })
        .await?;
    let rows = defs
        .into_iter()
        .map(|d| Row {
            link: seg(&d.name),
            uses: uses
                .iter()
                .filter(|u| u.rate_limit == d.name)
                .map(|u| format!("{} {}", u.kind.describe(), u.object))
                .collect(),
            d,
        })
        .collect();
    let status = if errors.any() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let page = ListPage {
        chrome: app.chrome(session, SECTION),
        notice,
        rows,
        uses,
        kinds: LimitedKind::ALL
            .iter()
            .map(|k| (k.as_str(), k.describe()))
            .collect(),
        errors,
        attach,
    };
    Ok((status, render(&page)).into_response())
}

/// `GET /rate-limits`.
pub async fn list(
    State(app): Shared,
    Extension(session): Extension<Session>,
    Query(query): Query<ListQuery>,
) -> Result<Response, PageError> {
    list_page(
        &app,
        &session,
        query.done,
        AttachForm::default(),
        FormErrors::default(),
    )
    .await
}

/// `POST /rate-limits/attach`: attaches the definition chosen to the object named, or
/// detaches the object's (no definition chosen).
pub async fn attach(
    State(app): Shared,
    Extension(session): Extension<Session>,
    Form(form): Form<AttachForm>,
) -> Result<Response, PageError> {
    let mut errors = FormErrors::default();
    let kind = form
        .kind
        .parse::<LimitedKind>()
        .map_err(|e| errors.set("kind", e));
    let object = form.object.trim().to_owned();
    if object.is_empty() {
        errors.set("object", "Name the object.");
    }
    let Ok(kind) = kind else {
        return list_page(&app, &session, String::new(), form, errors).await;
    };
    if errors.any() {
        return list_page(&app, &session, String::new(), form, errors).await;
    }
    let cluster = app.cluster(&session)?;
    let rate_limit = Some(form.rate_limit.trim()).filter(|r| !r.is_empty());
    let object_ref = object.as_str();
    match app
        .clusters
        .call(&cluster, false, |c| async move {
            c.attach_rate_limit(kind, object_ref, rate_limit).await
        })
        .await
    {
        Ok(_) => Ok(see_other(&format!(
            "/rate-limits?done={}",
            seg(&match rate_limit {
                Some(r) => format!("Rate limit {r} attached to {} {object}.", kind.describe()),
                None => format!(
                    "{} {object} has no rate limit of its own now.",
                    kind.describe()
                ),
            })
        ))),
        Err(e) => match e.refusal() {
            Some((_, message)) => {
                let mut errors = FormErrors::default();
                errors.top.push(message.to_owned());
                list_page(&app, &session, String::new(), form, errors).await
            }
            None => Err(e.into()),
        },
    }
}

/// The form, as typed.
#[derive(Debug, Default, Deserialize)]
pub struct RateLimitForm {
    #[serde(default)]
    name: String,
    /// One `source = limit` per line.
    #[serde(default)]
    rules: String,
    /// A checkbox: present when ticked.
    #[serde(default)]
    exact: Option<String>,
}

impl RateLimitForm {
    fn of(d: &RateLimitInfo) -> Self {
        Self {
            name: d.name.clone(),
            rules: d.rules.join("\n"),
            exact: d.exact.then(|| "on".into()),
        }
    }

    /// The definition the form describes, or what is wrong with it.
    fn def(&self) -> Result<RateLimit, FormErrors> {
        let mut errors = FormErrors::default();
        let name = self.name.trim();
        if name.is_empty() {
            errors.set("name", "A definition needs a name.");
        }
        let rules: Vec<String> = self
            .rules
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect();
        if let Err(e) = parse_rules(rules.iter().map(String::as_str)) {
            errors.set("rules", e);
        }
        if errors.any() {
            return Err(errors);
        }
        Ok(RateLimit {
            name: name.into(),
            rules,
            exact: self.exact.is_some(),
        })
    }
}

#[derive(Template)]
#[template(path = "rate_limit_form.html")]
struct FormPage {
    chrome: Chrome,
    editing: bool,
    action: String,
    link: String,
    form: RateLimitForm,
    errors: FormErrors,
}

fn form_page(
    app: &App,
    session: &Session,
    editing: bool,
    form: RateLimitForm,
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
            format!("/rate-limits/{link}")
        } else {
            "/rate-limits/new".into()
        },
        link,
        form,
        errors,
    };
    (status, render(&page)).into_response()
}

/// An admin API refusal next to the field it names, else above the form.
fn refused(
    app: &App,
    session: &Session,
    editing: bool,
    form: RateLimitForm,
    e: ClusterError,
) -> Result<Response, PageError> {
    match e.refusal() {
        Some((status, message)) => {
            let mut errors = FormErrors::default();
            if message.starts_with("`rules`") {
                errors.set("rules", message);
            } else if message.starts_with("`name`") || status == 409 {
                errors.set("name", message);
            } else {
                errors.top.push(message.to_owned());
            }
            Ok(form_page(app, session, editing, form, errors))
        }
        None => Err(e.into()),
    }
}

/// `GET /rate-limits/new`.
pub async fn new_form(
    State(app): Shared,
    Extension(session): Extension<Session>,
) -> Result<Response, PageError> {
    let form = RateLimitForm {
        rules: "* = 100/m".into(),
        ..RateLimitForm::default()
    };
    Ok(form_page(
        &app,
        &session,
        false,
        form,
        FormErrors::default(),
    ))
}

/// `POST /rate-limits/new`.
pub async fn create(
    State(app): Shared,
    Extension(session): Extension<Session>,
    Form(form): Form<RateLimitForm>,
) -> Result<Response, PageError> {
    let def = match form.def() {
        Ok(def) => def,
        Err(errors) => return Ok(form_page(&app, &session, false, form, errors)),
    };
    let cluster = app.cluster(&session)?;
    let def_ref = &def;
    match app
        .clusters
        .call(&cluster, false, |c| async move {
            c.create_rate_limit(def_ref).await
        })
        .await
    {
        Ok(created) => Ok(see_other(&format!(
            "/rate-limits?done={}",
            seg(&format!("Rate limit {} created.", created.name))
        ))),
        Err(e) => refused(&app, &session, false, form, e),
    }
}

/// `GET /rate-limits/{name}`: the edit form.
pub async fn edit_form(
    State(app): Shared,
    Extension(session): Extension<Session>,
    Path(name): Path<String>,
) -> Result<Response, PageError> {
    let cluster = app.cluster(&session)?;
    let name_ref = name.as_str();
    let info = app
        .clusters
        .call(
            &cluster,
            true,
            |c| async move { c.rate_limit(name_ref).await },
        )
        .await?;
    Ok(form_page(
        &app,
        &session,
        true,
        RateLimitForm::of(&info),
        FormErrors::default(),
    ))
}

/// `POST /rate-limits/{name}`: saves the edit form (a definition keeps its name).
pub async fn update(
    State(app): Shared,
    Extension(session): Extension<Session>,
    Path(name): Path<String>,
    Form(mut form): Form<RateLimitForm>,
) -> Result<Response, PageError> {
    form.name = name.clone();
    let def = match form.def() {
        Ok(def) => def,
        Err(errors) => return Ok(form_page(&app, &session, true, form, errors)),
    };
    let cluster = app.cluster(&session)?;
    let (name_ref, def_ref) = (name.as_str(), &def);
    match app
        .clusters
        .call(&cluster, false, |c| async move {
            c.update_rate_limit(name_ref, def_ref).await
        })
        .await
    {
        Ok(_) => Ok(see_other(&format!(
            "/rate-limits?done={}",
            seg(&format!("Rate limit {name} saved."))
        ))),
        Err(e) => refused(&app, &session, true, form, e),
    }
}

fn deletion(name: &str) -> Deletion {
    Deletion {
        section: SECTION,
        title: format!("Delete rate limit {name}"),
        question: format!("Delete rate limit {name}? Nothing may be attached to it."),
        action: format!("/rate-limits/{}/delete", seg(name)),
        cancel: "/rate-limits".into(),
    }
}

/// `GET /rate-limits/{name}/delete`: asks first.
pub async fn confirm_delete(
    State(app): Shared,
    Extension(session): Extension<Session>,
    Path(name): Path<String>,
) -> Result<Response, PageError> {
    Ok(deletion(&name).page(&app, &session, Vec::new()))
}

/// `POST /rate-limits/{name}/delete`.
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
            |c| async move { c.delete_rate_limit(name_ref).await },
            |deleted| {
                (
                    "/rate-limits".into(),
                    format!("Rate limit {} deleted.", deleted.name),
                )
            },
        )
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_form_becomes_a_definition_and_a_wrong_line_is_named() {
        let form = RateLimitForm {
            name: " partners ".into(),
            rules: "* = 100/m\n\n 10.0.0.0/8 = unlimited \n".into(),
            exact: Some("on".into()),
        };
        let def = form.def().unwrap();
        assert_eq!(def.name, "partners");
        assert_eq!(def.rules, ["* = 100/m", "10.0.0.0/8 = unlimited"]);
        assert!(def.exact);
        let bad = RateLimitForm {
            name: "x".into(),
            rules: "* = 100/m\n* = 10/w".into(),
            exact: None,
        };
        let errors = bad.def().unwrap_err();
        assert!(errors.field("rules").unwrap().contains("line 2"));
    }
}
