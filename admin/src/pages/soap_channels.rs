//! `/channels/soap`: the SOAP channels: list, create, edit, delete. A channel exposes
//! one service or several at one path, with its WSDL at `?wsdl`. A refusal of the admin
//! API is shown next to the field it is about, or above the form.

use askama::Template;
use axum::extract::{Extension, Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use zato_api::{SoapChannel, SoapVersion};

use super::{FormErrors, Search};
use crate::app::{App, Chrome, PageError, Shared, render, see_other, seg};
use crate::auth::Session;
use crate::clusters::ClusterError;
use crate::pages::Deletion;

struct Row {
    c: SoapChannel,
    link: String,
    /// (name, link) of each service.
    services: Vec<(String, String)>,
    versions: String,
}

/// How the versions a channel accepts read: both when it names none.
fn versions_text(versions: &[SoapVersion]) -> String {
    if versions.is_empty() {
        return "1.1, 1.2".into();
    }
    versions
        .iter()
        .map(|v| match v {
            SoapVersion::V11 => "1.1",
            SoapVersion::V12 => "1.2",
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[derive(Template)]
#[template(path = "soap_channels.html")]
struct ListPage {
    chrome: Chrome,
    q: String,
    notice: String,
    total: usize,
    rows: Vec<Row>,
}

/// The list's query.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    done: String,
}

/// `GET /channels/soap?q=`.
pub async fn list(
    State(app): Shared,
    Extension(session): Extension<Session>,
    Query(query): Query<ListQuery>,
) -> Result<Response, PageError> {
    let cluster = app.cluster(&session)?;
    let channels = app
        .clusters
        .call(&cluster, true, |c| async move { c.soap_channels().await })
        .await?;
    let search = Search { q: query.q };
    let total = channels.len();
    let mut rows: Vec<Row> = channels
        .into_iter()
        .filter(|c| {
            let mut fields = vec![c.name.as_str(), c.path.as_str()];
            fields.extend(c.services.iter().map(String::as_str));
            search.matches(&fields)
        })
        .map(|c| Row {
            link: seg(&c.name),
            services: c.services.iter().map(|s| (s.clone(), seg(s))).collect(),
            versions: versions_text(&c.versions),
            c,
        })
        .collect();
    rows.sort_by(|a, b| a.c.name.cmp(&b.c.name));
    Ok(render(&ListPage {
        chrome: app.chrome(&session, "soap"),
        q: search.q,
        notice: query.done,
        total,
        rows,
    }))
}

/// The channel form, as typed.
#[derive(Debug, Default, Deserialize)]
pub struct SoapForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    path: String,
    /// One service per line (or comma-separated).
    #[serde(default)]
    services: String,
    /// Checked boxes: "on"; both unchecked means both versions.
    #[serde(default)]
    v11: String,
    #[serde(default)]
    v12: String,
    #[serde(default)]
    timeout_ms: String,
    #[serde(default)]
    namespace: String,
    /// The security definition's name; empty: none.
    #[serde(default)]
    security: String,
}

impl SoapForm {
    fn of(c: &SoapChannel) -> Self {
        let on = |v| if c.accepts(v) { "on" } else { "" }.to_owned();
        Self {
            name: c.name.clone(),
            path: c.path.clone(),
            services: c.services.join("\n"),
            v11: on(SoapVersion::V11),
            v12: on(SoapVersion::V12),
            timeout_ms: c.timeout_ms.to_string(),
            namespace: c.namespace.clone(),
            security: c.security.clone().unwrap_or_default(),
        }
    }

    /// The channel the form describes, or what is wrong with it.
    fn channel(&self) -> Result<SoapChannel, FormErrors> {
        let mut errors = FormErrors::default();
        let name = self.name.trim();
        if name.is_empty() {
            errors.set("name", "A channel needs a name.");
        }
        let path = self.path.trim();
        if !path.starts_with('/') {
            errors.set("path", "A path starts with `/`.");
        }
        let services: Vec<String> = self
            .services
            .split(['\n', ','])
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        if services.is_empty() {
            errors.set("services", "Name at least one service the channel exposes.");
        }
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
        let (v11, v12) = (!self.v11.is_empty(), !self.v12.is_empty());
        // Both or neither: every version, said the one way the API keeps it.
        let versions = match (v11, v12) {
            (true, false) => vec![SoapVersion::V11],
            (false, true) => vec![SoapVersion::V12],
            _ => Vec::new(),
        };
        if errors.any() {
            return Err(errors);
        }
        Ok(SoapChannel {
            name: name.into(),
            path: path.into(),
            services,
            versions,
            timeout_ms,
            namespace: self.namespace.trim().into(),
            security: Some(self.security.trim())
                .filter(|s| !s.is_empty())
                .map(str::to_owned),
        })
    }
}

/// Puts an admin API refusal next to the field it is about.
fn attribute(message: &str, status: u16) -> FormErrors {
    let mut errors = FormErrors::default();
    let field = if message.starts_with("invalid path")
        || message.contains("path")
        || message.contains("overlaps")
    {
        Some("path")
    } else if message.starts_with("service `") || message.contains("at least one service") {
        Some("services")
    } else if message.contains("security definition") {
        Some("security")
    } else if message.starts_with("timeout_ms") {
        Some("timeout_ms")
    } else if status == 409 || message.starts_with("channel name") {
        Some("name")
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
#[template(path = "soap_channel_form.html")]
struct FormPage {
    chrome: Chrome,
    editing: bool,
    action: String,
    link: String,
    form: SoapForm,
    services: Vec<String>,
    /// The security definitions to choose from.
    securities: Vec<String>,
    errors: FormErrors,
}

async fn form_page(
    app: &App,
    session: &Session,
    editing: bool,
    form: SoapForm,
    errors: FormErrors,
) -> Result<Response, PageError> {
    let cluster = app.cluster(session)?;
    // Suggestions only: a cluster that cannot list them still gets its form.
    let services = app
        .clusters
        .call(&cluster, true, |c| async move { c.services().await })
        .await
        .map(|s| s.into_iter().map(|s| s.name).collect())
        .unwrap_or_default();
    let mut securities: Vec<String> = app
        .clusters
        .call(&cluster, true, |c| async move { c.security_defs().await })
        .await
        .map(|s| s.into_iter().map(|s| s.name).collect())
        .unwrap_or_default();
    let own = form.security.trim();
    if !own.is_empty() && !securities.iter().any(|s| s == own) {
        securities.push(own.to_owned());
    }
    let link = seg(&form.name);
    let status = if errors.any() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let page = FormPage {
        chrome: app.chrome(session, "soap"),
        editing,
        action: if editing {
            format!("/channels/soap/{link}")
        } else {
            "/channels/soap/new".into()
        },
        link,
        form,
        services,
        securities,
        errors,
    };
    Ok((status, render(&page)).into_response())
}

/// The new-channel form's query: `?service=` fills the first service in.
#[derive(Debug, Default, Deserialize)]
pub struct NewQuery {
    #[serde(default)]
    service: String,
}

/// `GET /channels/soap/new`.
pub async fn new_form(
    State(app): Shared,
    Extension(session): Extension<Session>,
    Query(query): Query<NewQuery>,
) -> Result<Response, PageError> {
    let form = SoapForm {
        services: query.service,
        timeout_ms: "0".into(),
        ..SoapForm::default()
    };
    form_page(&app, &session, false, form, FormErrors::default()).await
}

/// `POST /channels/soap/new`.
pub async fn create(
    State(app): Shared,
    Extension(session): Extension<Session>,
    Form(form): Form<SoapForm>,
) -> Result<Response, PageError> {
    let channel = match form.channel() {
        Ok(channel) => channel,
        Err(errors) => return form_page(&app, &session, false, form, errors).await,
    };
    let cluster = app.cluster(&session)?;
    let channel_ref = &channel;
    match app
        .clusters
        .call(&cluster, false, |c| async move {
            c.create_soap_channel(channel_ref).await
        })
        .await
    {
        Ok(created) => Ok(see_other(&format!(
            "/channels/soap?done={}",
            seg(&format!(
                "SOAP channel {} created at {} (its WSDL at {}?wsdl).",
                created.name, created.path, created.path
            ))
        ))),
        Err(e) => refused(&app, &session, false, form, e).await,
    }
}

async fn refused(
    app: &App,
    session: &Session,
    editing: bool,
    form: SoapForm,
    e: ClusterError,
) -> Result<Response, PageError> {
    match e.refusal() {
        Some((status, message)) => {
            let errors = attribute(message, status);
            form_page(app, session, editing, form, errors).await
        }
        None => Err(e.into()),
    }
}

/// `GET /channels/soap/{name}`: the channel's edit form.
pub async fn edit_form(
    State(app): Shared,
    Extension(session): Extension<Session>,
    Path(name): Path<String>,
) -> Result<Response, PageError> {
    let cluster = app.cluster(&session)?;
    let name_ref = name.as_str();
    let channel = app
        .clusters
        .call(
            &cluster,
            true,
            |c| async move { c.soap_channel(name_ref).await },
        )
        .await?;
    form_page(
        &app,
        &session,
        true,
        SoapForm::of(&channel),
        FormErrors::default(),
    )
    .await
}

/// `POST /channels/soap/{name}`: saves the edit form (a channel keeps its name).
pub async fn update(
    State(app): Shared,
    Extension(session): Extension<Session>,
    Path(name): Path<String>,
    Form(mut form): Form<SoapForm>,
) -> Result<Response, PageError> {
    form.name = name.clone();
    let channel = match form.channel() {
        Ok(channel) => channel,
        Err(errors) => return form_page(&app, &session, true, form, errors).await,
    };
    let cluster = app.cluster(&session)?;
    let (name_ref, channel_ref) = (name.as_str(), &channel);
    match app
        .clusters
        .call(&cluster, false, |c| async move {
            c.update_soap_channel(name_ref, channel_ref).await
        })
        .await
    {
        Ok(saved) => Ok(see_other(&format!(
            "/channels/soap?done={}",
            seg(&format!("SOAP channel {} saved.", saved.name))
        ))),
        Err(e) => refused(&app, &session, true, form, e).await,
    }
}

fn deletion(name: &str) -> Deletion {
    Deletion {
        section: "soap",
        title: format!("Delete SOAP channel {name}"),
        question: format!(
            "Delete SOAP channel {name}? Its path and its WSDL stop answering on every \
             server at once."
        ),
        action: format!("/channels/soap/{}/delete", seg(name)),
        cancel: "/channels/soap".into(),
    }
}

/// `GET /channels/soap/{name}/delete`: asks first.
pub async fn confirm_delete(
    State(app): Shared,
    Extension(session): Extension<Session>,
    Path(name): Path<String>,
) -> Response {
    deletion(&name).page(&app, &session, Vec::new())
}

/// `POST /channels/soap/{name}/delete`.
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
            |c| async move { c.delete_soap_channel(name_ref).await },
            |_| {
                (
                    "/channels/soap".into(),
                    format!("SOAP channel {name} deleted."),
                )
            },
        )
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_form_becomes_a_channel_or_names_its_bad_fields() {
        let form = SoapForm {
            name: " billing ".into(),
            path: "/soap/billing".into(),
            services: "billing.get-invoice\n billing.pay , ".into(),
            v11: "on".into(),
            v12: String::new(),
            timeout_ms: "".into(),
            namespace: " urn:example:billing ".into(),
            security: " partner ".into(),
        };
        let channel = form.channel().unwrap();
        assert_eq!(channel.name, "billing");
        assert_eq!(channel.services, ["billing.get-invoice", "billing.pay"]);
        assert_eq!(channel.versions, [SoapVersion::V11]);
        assert_eq!(channel.timeout_ms, 0);
        assert_eq!(channel.namespace, "urn:example:billing");
        assert_eq!(channel.security.as_deref(), Some("partner"));
        // Both boxes, or neither, is every version.
        for (v11, v12) in [("on", "on"), ("", "")] {
            let both = SoapForm {
                v11: v11.into(),
                v12: v12.into(),
                ..SoapForm::of(&channel)
            };
            assert!(both.channel().unwrap().versions.is_empty());
        }
        let bad = SoapForm {
            path: "soap".into(),
            timeout_ms: "soon".into(),
            ..SoapForm::default()
        };
        let errors = bad.channel().unwrap_err();
        for field in ["name", "path", "services", "timeout_ms"] {
            assert!(errors.field(field).is_some(), "{field}: {errors:?}");
        }
    }

    #[test]
    fn an_edit_form_shows_what_the_channel_accepts() {
        let channel = SoapChannel {
            name: "b".into(),
            path: "/b".into(),
            services: vec!["x.y".into(), "x.z".into()],
            versions: vec![SoapVersion::V12],
            timeout_ms: 5,
            namespace: String::new(),
            security: None,
        };
        let form = SoapForm::of(&channel);
        assert_eq!((form.v11.as_str(), form.v12.as_str()), ("", "on"));
        assert_eq!(form.services, "x.y\nx.z");
        assert_eq!(form.channel().unwrap(), channel);
        assert_eq!(versions_text(&[]), "1.1, 1.2");
    }

    #[test]
    fn refusals_land_next_to_their_field() {
        let e = attribute("service `x` is not deployed", 400);
        assert!(e.field("services").is_some());
        let e = attribute("SOAP channel `a` needs at least one service", 400);
        assert!(e.field("services").is_some());
        let e = attribute("a SOAP channel named `a` exists already", 409);
        assert!(e.field("name").is_some());
        let e = attribute("there is no security definition named `x`", 400);
        assert!(e.field("security").is_some());
        let e = attribute("the ODB is down", 500);
        assert_eq!(e.top.len(), 1);
    }
}
