//! `/services`: the list, a service's detail (interface, channels, versions with
//! rollback, configuration), and its delete.
//!
//! The list makes one `services()` and one `servers()` call whatever the number of
//! services: which server runs which version comes from the servers' own maps.

use std::collections::{BTreeMap, HashMap};

use askama::Template;
use axum::extract::{Extension, Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use zato_api::{Field, HttpChannel, ServerState, ServiceDetails};

use super::{FormErrors, Search, format_size, format_time, short_sha};
use crate::app::{Chrome, PageError, Shared, render, see_other, seg};
use crate::auth::Session;

struct Row {
    name: String,
    link: String,
    description: String,
    version: i64,
    deployed_at: String,
    sha: String,
    size: String,
    /// (server, version it runs, whether that is behind the latest).
    running: Vec<(String, i64, bool)>,
}

#[derive(Template)]
#[template(path = "services.html")]
struct ListPage {
    chrome: Chrome,
    q: String,
    notice: String,
    total: usize,
    rows: Vec<Row>,
}

/// The list's query: a search, and what a redirect wants said.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    deleted: String,
}

/// `GET /services?q=`.
pub async fn list(
    State(app): Shared,
    Extension(session): Extension<Session>,
    Query(query): Query<ListQuery>,
) -> Result<Response, PageError> {
    let cluster = app.cluster(&session)?;
    let (services, servers) = tokio::try_join!(
        app.clusters
            .call(&cluster, true, |c| async move { c.services().await }),
        app.clusters
            .call(&cluster, true, |c| async move { c.servers().await }),
    )?;
    // Service -> (server, version) for the running servers, built once.
    let mut running: HashMap<&str, Vec<(String, i64)>> = HashMap::new();
    for server in servers.iter().filter(|s| s.state == ServerState::Running) {
        for (service, version) in &server.services {
            running
                .entry(service.as_str())
                .or_default()
                .push((server.name.clone(), *version));
        }
    }
    let search = Search { q: query.q };
    let total = services.len();
    let mut rows: Vec<Row> = services
        .iter()
        .filter(|s| search.matches(&[&s.name, &s.description]))
        .map(|s| Row {
            name: s.name.clone(),
            link: seg(&s.name),
            description: s.description.clone(),
            version: s.version,
            deployed_at: format_time(s.deployed_at),
            sha: short_sha(&s.sha256).to_owned(),
            size: format_size(s.size),
            running: running
                .get(s.name.as_str())
                .map(|v| {
                    v.iter()
                        .map(|(server, version)| (server.clone(), *version, *version < s.version))
                        .collect()
                })
                .unwrap_or_default(),
        })
        .collect();
    rows.sort_by(|a, b| a.name.cmp(&b.name));
    let notice = if query.deleted.is_empty() {
        String::new()
    } else {
        format!("Service {} deleted.", query.deleted)
    };
    Ok(render(&ListPage {
        chrome: app.chrome(&session, "services"),
        q: search.q,
        notice,
        total,
        rows,
    }))
}

struct FieldRow {
    name: String,
    kind: String,
    required: bool,
}

fn field_rows(fields: &[Field]) -> Vec<FieldRow> {
    fields
        .iter()
        .map(|f| FieldRow {
            name: f.name.clone(),
            kind: serde_json::to_value(f.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            required: f.required,
        })
        .collect()
}

struct VersionRow {
    version: i64,
    deployed_at: String,
    sha: String,
    size: String,
    source: String,
    running_on: String,
    deleted: bool,
    can_roll_back: bool,
}

#[derive(Template)]
#[template(path = "service.html")]
struct DetailPage {
    chrome: Chrome,
    s: ServiceDetails,
    link: String,
    deployed_at: String,
    size: String,
    input: Vec<FieldRow>,
    output: Vec<FieldRow>,
    channels: Vec<(HttpChannel, String)>,
    versions: Vec<VersionRow>,
    config_text: String,
    errors: FormErrors,
    notice: String,
}

/// The detail page's query: what a redirect wants said.
#[derive(Debug, Default, Deserialize)]
pub struct DetailQuery {
    #[serde(default)]
    saved: String,
}

/// `GET /services/{name}`.
pub async fn detail(
    State(app): Shared,
    Extension(session): Extension<Session>,
    Path(name): Path<String>,
    Query(query): Query<DetailQuery>,
) -> Result<Response, PageError> {
    let notice = match query.saved.as_str() {
        "config" => "Configuration saved.".to_owned(),
        _ => String::new(),
    };
    detail_page(&app, &session, &name, None, FormErrors::default(), notice).await
}

/// The detail page; `config_text` keeps what a refused configuration form held.
async fn detail_page(
    app: &crate::app::App,
    session: &Session,
    name: &str,
    config_text: Option<String>,
    errors: FormErrors,
    notice: String,
) -> Result<Response, PageError> {
    let cluster = app.cluster(session)?;
    let (details, versions, channels) = tokio::try_join!(
        app.clusters
            .call(&cluster, true, |c| async move { c.service(name).await }),
        app.clusters
            .call(&cluster, true, |c| async move { c.versions(name).await }),
        app.clusters
            .call(&cluster, true, |c| async move { c.http_channels().await }),
    )?;
    let latest = details.summary.version;
    let config_text = config_text.unwrap_or_else(|| {
        details
            .config
            .iter()
            .map(|(k, v)| format!("{k} = {v}\n"))
            .collect()
    });
    let page = DetailPage {
        chrome: app.chrome(session, "services"),
        link: seg(name),
        deployed_at: format_time(details.summary.deployed_at),
        size: format_size(details.summary.size),
        input: field_rows(&details.info.input),
        output: field_rows(&details.info.output),
        channels: channels
            .into_iter()
            .filter(|c| c.service == name)
            .map(|c| {
                let link = seg(&c.name);
                (c, link)
            })
            .collect(),
        versions: versions
            .into_iter()
            .map(|v| VersionRow {
                can_roll_back: !v.deleted && v.version != latest,
                version: v.version,
                deployed_at: format_time(v.deployed_at),
                sha: short_sha(&v.sha256).to_owned(),
                size: format_size(v.size),
                source: v.source,
                running_on: v.running_on.join(", "),
                deleted: v.deleted,
            })
            .collect(),
        s: details,
        config_text,
        errors,
        notice,
    };
    // A refused form is a 422, as every form's refusal is.
    let status = if page.errors.any() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok((status, render(&page)).into_response())
}

/// The configuration form.
#[derive(Deserialize)]
pub struct ConfigForm {
    #[serde(default)]
    config: String,
}

/// Reads `key = value` lines (blank lines and `#` comments skipped).
pub fn parse_config(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut config = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err(format!("line {}: `{line}` has no `=`", i + 1));
        };
        let key = key.trim();
        if key.is_empty() {
            return Err(format!("line {}: a key is missing before `=`", i + 1));
        }
        if config
            .insert(key.to_owned(), value.trim().to_owned())
            .is_some()
        {
            return Err(format!("line {}: key `{key}` is given twice", i + 1));
        }
    }
    Ok(config)
}

/// `POST /services/{name}/config`: replaces the service's configuration.
pub async fn set_config(
    State(app): Shared,
    Extension(session): Extension<Session>,
    Path(name): Path<String>,
    Form(form): Form<ConfigForm>,
) -> Result<Response, PageError> {
    let mut errors = FormErrors::default();
    match parse_config(&form.config) {
        Err(e) => errors.set("config", e),
        Ok(config) => {
            let cluster = app.cluster(&session)?;
            let config = &config;
            let name = name.as_str();
            match app
                .clusters
                .call(&cluster, false, |c| async move {
                    c.set_config(name, config).await
                })
                .await
            {
                Ok(_) => {
                    return Ok(see_other(&format!(
                        "/services/{}?saved=config#config",
                        seg(name)
                    )));
                }
                Err(e) => match e.refusal() {
                    Some((_, message)) => errors.set("config", message),
                    None => return Err(e.into()),
                },
            }
        }
    }
    detail_page(
        &app,
        &session,
        &name,
        Some(form.config),
        errors,
        String::new(),
    )
    .await
}

/// The rollback button's form.
#[derive(Deserialize)]
pub struct RollbackForm {
    to_version: i64,
}

/// `POST /services/{name}/rollback`: deploys a kept version's bytes again, then shows
/// the servers taking it.
pub async fn rollback(
    State(app): Shared,
    Extension(session): Extension<Session>,
    Path(name): Path<String>,
    Form(form): Form<RollbackForm>,
) -> Result<Response, PageError> {
    let cluster = app.cluster(&session)?;
    let name_ref = name.as_str();
    let to = form.to_version;
    match app
        .clusters
        .call(&cluster, false, |c| async move {
            c.rollback(name_ref, to).await
        })
        .await
    {
        Ok(outcome) => Ok(see_other(&format!(
            "/services/{}/progress?version={}",
            seg(&outcome.name),
            outcome.version
        ))),
        Err(e) => match e.refusal() {
            Some((_, message)) => {
                let errors = FormErrors {
                    top: vec![format!("Rollback to version {to} refused: {message}")],
                    ..FormErrors::default()
                };
                detail_page(&app, &session, &name, None, errors, String::new()).await
            }
            None => Err(e.into()),
        },
    }
}

/// A page that asks before a delete.
#[derive(Template)]
#[template(path = "confirm.html")]
pub struct ConfirmPage {
    /// The layout's data.
    pub chrome: Chrome,
    /// The page's title.
    pub title: String,
    /// What is about to happen.
    pub question: String,
    /// Where the form posts.
    pub action: String,
    /// The button's label.
    pub button: String,
    /// Where "Cancel" goes.
    pub cancel: String,
    /// Why a previous try failed.
    pub errors: Vec<String>,
}

fn confirm_page(
    app: &crate::app::App,
    session: &Session,
    name: &str,
    errors: Vec<String>,
) -> Response {
    render(&ConfirmPage {
        chrome: app.chrome(session, "services"),
        title: format!("Delete {name}"),
        question: format!(
            "Delete service {name} from every server of the cluster? Its HTTP channels stop \
             answering; its kept versions stay in the ODB."
        ),
        action: format!("/services/{}/delete", seg(name)),
        button: "Delete".into(),
        cancel: format!("/services/{}", seg(name)),
        errors,
    })
}

/// `GET /services/{name}/delete`: asks first.
pub async fn confirm_delete(
    State(app): Shared,
    Extension(session): Extension<Session>,
    Path(name): Path<String>,
) -> Response {
    confirm_page(&app, &session, &name, Vec::new())
}

/// `POST /services/{name}/delete`.
pub async fn delete(
    State(app): Shared,
    Extension(session): Extension<Session>,
    Path(name): Path<String>,
) -> Result<Response, PageError> {
    let cluster = app.cluster(&session)?;
    let name_ref = name.as_str();
    match app
        .clusters
        .call(&cluster, false, |c| async move {
            c.delete_service(name_ref).await
        })
        .await
    {
        Ok(_) => Ok(see_other(&format!("/services?deleted={}", seg(&name)))),
        Err(e) => match e.refusal() {
            Some((_, message)) => Ok(confirm_page(
                &app,
                &session,
                &name,
                vec![message.to_owned()],
            )),
            None => Err(e.into()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configuration_lines_parse_or_name_the_bad_line() {
        let config = parse_config("# title\ntitle = Dr\n\nurl= http://x/?a=b \n").unwrap();
        assert_eq!(config["title"], "Dr");
        assert_eq!(config["url"], "http://x/?a=b");
        assert_eq!(
            parse_config("a = 1\nb").unwrap_err(),
            "line 2: `b` has no `=`"
        );
        assert!(parse_config("= 1").unwrap_err().contains("key is missing"));
        assert!(
            parse_config("a=1\na=2")
                .unwrap_err()
                .contains("given twice")
        );
    }
}
