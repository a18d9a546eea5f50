//! `/channels/http`: the HTTP channels: list, create, edit, delete. A refusal of the
//! admin API is shown next to the field it is about, or above the form.

use askama::Template;
use axum::extract::{Extension, Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use zato_api::{DataFormat, HttpChannel};

use super::{FormErrors, Search};
use crate::app::{App, Chrome, PageError, Shared, render, see_other, seg};
use crate::auth::Session;
use crate::clusters::ClusterError;
use crate::pages::Deletion;

const FORMATS: [&str; 3] = ["json", "xml", "raw"];

struct Row {
    c: HttpChannel,
    link: String,
    service_link: String,
}

#[derive(Template)]
#[template(path = "channels.html")]
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

/// `GET /channels/http?q=`.
pub async fn list(
    State(app): Shared,
    Extension(session): Extension<Session>,
    Query(query): Query<ListQuery>,
) -> Result<Response, PageError> {
    let cluster = app.cluster(&session)?;
    let channels = app
        .clusters
        .call(&cluster, true, |c| async move { c.http_channels().await })
        .await?;
    let search = Search { q: query.q };
    let total = channels.len();
    let mut rows: Vec<Row> = channels
        .into_iter()
        .filter(|c| search.matches(&[&c.name, &c.path, &c.service]))
        .map(|c| Row {
            link: seg(&c.name),
            service_link: seg(&c.service),
            c,
        })
        .collect();
    rows.sort_by(|a, b| a.c.name.cmp(&b.c.name));
    Ok(render(&ListPage {
        chrome: app.chrome(&session, "channels"),
        q: search.q,
        notice: query.done,
        total,
        rows,
    }))
}

/// The channel form, as typed.
#[derive(Debug, Default, Deserialize)]
pub struct ChannelForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    path: String,
    #[serde(default)]
    methods: String,
    #[serde(default)]
    service: String,
    #[serde(default)]
    data_format: String,
    #[serde(default)]
    timeout_ms: String,
    /// The security definition's name; empty: none.
    #[serde(default)]
    security: String,
}

impl ChannelForm {
    fn of(c: &HttpChannel) -> Self {
        Self {
            name: c.name.clone(),
            path: c.path.clone(),
            methods: c.methods.join(", "),
            service: c.service.clone(),
            data_format: c.data_format.as_str().into(),
            timeout_ms: c.timeout_ms.to_string(),
            security: c.security.clone().unwrap_or_default(),
        }
    }

    /// The channel the form describes, or what is wrong with it.
    fn channel(&self) -> Result<HttpChannel, FormErrors> {
        let mut errors = FormErrors::default();
        let name = self.name.trim();
        if name.is_empty() {
            errors.set("name", "A channel needs a name.");
        }
        let path = self.path.trim();
        if !path.starts_with('/') {
            errors.set("path", "A path starts with `/`.");
        }
        let service = self.service.trim();
        if service.is_empty() {
            errors.set("service", "Name the service the channel invokes.");
        }
        let data_format = self.data_format.parse::<DataFormat>().unwrap_or_else(|e| {
            errors.set("data_format", e);
            DataFormat::Json
        });
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
        let methods = self
            .methods
            .split([',', ' '])
            .map(str::trim)
            .filter(|m| !m.is_empty())
            .map(str::to_ascii_uppercase)
            .collect();
        if errors.any() {
            return Err(errors);
        }
        Ok(HttpChannel {
            name: name.into(),
            path: path.into(),
            methods,
            service: service.into(),
            data_format,
            timeout_ms,
            security: Some(self.security.trim())
                .filter(|s| !s.is_empty())
                .map(str::to_owned),
        })
    }
}

/// Puts an admin API refusal next to the field it is about.
fn attribute(message: &str, status: u16) -> FormErrors {
    let mut errors = FormErrors::default();
    let field = if message.starts_with("invalid path") || message.contains("overlaps") {
        Some("path")
    } else if message.contains("HTTP method") {
        Some("methods")
    } else if message.starts_with("service `") {
        Some("service")
    } else if message.contains("security definition") {
        Some("security")
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
#[template(path = "channel_form.html")]
struct FormPage {
    chrome: Chrome,
    editing: bool,
    action: String,
    link: String,
    form: ChannelForm,
    services: Vec<String>,
    /// The security definitions to choose from.
    securities: Vec<String>,
    formats: [&'static str; 3],
    errors: FormErrors,
}

async fn form_page(
    app: &App,
    session: &Session,
    editing: bool,
    form: ChannelForm,
    errors: FormErrors,
) -> Result<Response, PageError> {
    let cluster = app.cluster(session)?;
    // The service names for the field's suggestions; a cluster that cannot list them
    // still gets its form.
    let services = app
        .clusters
        .call(&cluster, true, |c| async move { c.services().await })
        .await
        .map(|s| s.into_iter().map(|s| s.name).collect())
        .unwrap_or_default();
    // Likewise the security definitions; the channel's own stays a choice even when
    // the list could not be read.
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
        chrome: app.chrome(session, "channels"),
        editing,
        action: if editing {
            format!("/channels/http/{link}")
        } else {
            "/channels/http/new".into()
        },
        link,
        form,
        services,
        securities,
        formats: FORMATS,
        errors,
    };
    Ok((status, render(&page)).into_response())
}

/// The new-channel form's query: `?service=` fills the service in.
#[derive(Debug, Default, Deserialize)]
pub struct NewQuery {
    #[serde(default)]
    service: String,
}

/// `GET /channels/http/new`.
pub async fn new_form(
    State(app): Shared,
    Extension(session): Extension<Session>,
    Query(query): Query<NewQuery>,
) -> Result<Response, PageError> {
    let form = ChannelForm {
        service: query.service,
        data_format: "json".into(),
        timeout_ms: "0".into(),
        ..ChannelForm::default()
    };
    form_page(&app, &session, false, form, FormErrors::default()).await
}

/// `POST /channels/http/new`.
pub async fn create(
    State(app): Shared,
    Extension(session): Extension<Session>,
    Form(form): Form<ChannelForm>,
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
            c.create_http_channel(channel_ref).await
        })
        .await
    {
        Ok(created) => Ok(see_other(&format!(
            "/channels/http?done={}",
            seg(&format!(
                "Channel {} created at {}.",
                created.name, created.path
            ))
        ))),
        Err(e) => refused(&app, &session, false, form, e).await,
    }
}

async fn refused(
    app: &App,
    session: &Session,
    editing: bool,
    form: ChannelForm,
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

/// `GET /channels/http/{name}`: the channel's edit form.
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
            |c| async move { c.http_channel(name_ref).await },
        )
        .await?;
    form_page(
        &app,
        &session,
        true,
        ChannelForm::of(&channel),
        FormErrors::default(),
    )
    .await
}

/// `POST /channels/http/{name}`: saves the edit form (a channel keeps its name).
pub async fn update(
    State(app): Shared,
    Extension(session): Extension<Session>,
    Path(name): Path<String>,
    Form(mut form): Form<ChannelForm>,
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
            c.update_http_channel(name_ref, channel_ref).await
        })
        .await
    {
        Ok(saved) => Ok(see_other(&format!(
            "/channels/http?done={}",
            seg(&format!("Channel {} saved.", saved.name))
        ))),
        Err(e) => refused(&app, &session, true, form, e).await,
    }
}

fn deletion(name: &str) -> Deletion {
    Deletion {
        section: "channels",
        title: format!("Delete channel {name}"),
        question: format!(
            "Delete HTTP channel {name}? Its path stops answering on every server at once."
        ),
        action: format!("/channels/http/{}/delete", seg(name)),
        cancel: "/channels/http".into(),
    }
}

/// `GET /channels/http/{name}/delete`: asks first.
pub async fn confirm_delete(
    State(app): Shared,
    Extension(session): Extension<Session>,
    Path(name): Path<String>,
) -> Response {
    deletion(&name).page(&app, &session, Vec::new())
}

/// `POST /channels/http/{name}/delete`.
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
            |c| async move { c.delete_http_channel(name_ref).await },
            |_| ("/channels/http".into(), format!("Channel {name} deleted.")),
        )
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_form_becomes_a_channel_or_names_its_bad_fields() {
        let form = ChannelForm {
            name: " orders ".into(),
            path: "/orders/{id}".into(),
            methods: "get, post".into(),
            service: "crm.orders".into(),
            data_format: "json".into(),
            timeout_ms: "".into(),
            security: " partner ".into(),
        };
        let channel = form.channel().unwrap();
        assert_eq!(channel.security.as_deref(), Some("partner"));
        assert_eq!(channel.name, "orders");
        assert_eq!(channel.methods, ["GET", "POST"]);
        assert_eq!(channel.timeout_ms, 0);
        let bad = ChannelForm {
            path: "orders".into(),
            timeout_ms: "soon".into(),
            data_format: "yaml".into(),
            ..ChannelForm::default()
        };
        let errors = bad.channel().unwrap_err();
        for field in ["name", "path", "service", "timeout_ms", "data_format"] {
            assert!(errors.field(field).is_some(), "{field}: {errors:?}");
        }
    }

    #[test]
    fn refusals_land_next_to_their_field() {
        let e = attribute("invalid path `x` of channel `a`: must start with `/`", 400);
        assert!(e.field("path").is_some());
        let e = attribute("an HTTP channel named `a` exists already", 409);
        assert!(e.field("name").is_some());
        let e = attribute("service `x` is not deployed", 400);
        assert!(e.field("service").is_some());
        let e = attribute("there is no security definition named `x`", 400);
        assert!(e.field("security").is_some());
        let e = attribute("the ODB is down", 500);
        assert_eq!(e.top.len(), 1);
    }
}
