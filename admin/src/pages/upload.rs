//! `/services/upload`: a component uploaded from the browser, deployed through the admin
//! API, then a progress page that follows every running server until it runs the new
//! version (htmx polls a fragment; without JavaScript the page refreshes itself).

use askama::Template;
use axum::extract::{Extension, Multipart, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Deserialize;
use zato_api::ServerState;

use super::{FormErrors, format_size};
use crate::app::{App, Chrome, PageError, Shared, check_csrf, render, see_other, seg};
use crate::auth::Session;

#[derive(Template)]
#[template(path = "upload.html")]
struct UploadPage {
    chrome: Chrome,
    max_size: String,
    errors: FormErrors,
}

fn upload_page(app: &App, session: &Session, errors: FormErrors) -> Response {
    let status = if errors.any() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let page = UploadPage {
        chrome: app.chrome(session, "services"),
        max_size: format_size(app.max_upload_bytes as i64),
        errors,
    };
    (status, render(&page)).into_response()
}

/// `GET /services/upload`.
pub async fn form(State(app): Shared, Extension(session): Extension<Session>) -> Response {
    upload_page(&app, &session, FormErrors::default())
}

/// `POST /services/upload`: a multipart form with `csrf` and `file`.
pub async fn submit(
    State(app): Shared,
    Extension(session): Extension<Session>,
    mut multipart: Multipart,
) -> Result<Response, PageError> {
    let too_large = || {
        let mut errors = FormErrors::default();
        errors.set(
            "file",
            format!(
                "The file is larger than the largest upload allowed ({}, `max_upload_bytes`).",
                format_size(app.max_upload_bytes as i64)
            ),
        );
        errors
    };
    let mut csrf = None;
    let mut file: Option<(String, Bytes)> = None;
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                return Ok(upload_page(&app, &session, too_large()));
            }
            Err(e) => return Err(PageError::BadRequest(format!("unreadable form: {e}"))),
        };
        match field.name() {
            Some("csrf") => {
                csrf = Some(
                    field
                        .text()
                        .await
                        .map_err(|e| PageError::BadRequest(format!("unreadable form: {e}")))?,
                )
            }
            Some("file") => {
                let name = field
                    .file_name()
                    .map(|n| n.rsplit(['/', '\\']).next().unwrap_or(n).to_owned())
                    .filter(|n| !n.is_empty())
                    .unwrap_or_else(|| "upload.wasm".into());
                match field.bytes().await {
                    Ok(bytes) => file = Some((name, bytes)),
                    Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                        return Ok(upload_page(&app, &session, too_large()));
                    }
                    Err(e) => {
                        return Err(PageError::BadRequest(format!("unreadable form: {e}")));
                    }
                }
            }
            _ => {}
        }
    }
    check_csrf(Some(&session.csrf), csrf.as_deref())?;
    let Some((source, bytes)) = file.filter(|(_, b)| !b.is_empty()) else {
        let mut errors = FormErrors::default();
        errors.set("file", "Choose a component file to upload.");
        return Ok(upload_page(&app, &session, errors));
    };
    if bytes.len() > app.max_upload_bytes {
        return Ok(upload_page(&app, &session, too_large()));
    }
    let cluster = app.cluster(&session)?;
    let source_ref = source.as_str();
    let outcome = app
        .clusters
        .call(&cluster, false, |c| {
            let bytes = bytes.clone();
            async move { c.deploy(bytes, source_ref).await }
        })
        .await;
    match outcome {
        Ok(outcome) => Ok(see_other(&format!(
            "/services/{}/progress?version={}",
            seg(&outcome.name),
            outcome.version
        ))),
        Err(e) => match e.refusal() {
            Some((_, message)) => {
                tracing::info!(source, "upload refused by the cluster: {message}");
                let mut errors = FormErrors::default();
                errors.set("file", format!("The cluster refused {source}: {message}"));
                Ok(upload_page(&app, &session, errors))
            }
            None => Err(e.into()),
        },
    }
}

struct ProgressRow {
    server: String,
    address: String,
    runs: Option<i64>,
    ready: bool,
}

#[derive(Template)]
#[template(path = "progress.html")]
struct ProgressPage {
    chrome: Chrome,
    name: String,
    link: String,
    version: i64,
    rows: Vec<ProgressRow>,
    ready: usize,
    done: bool,
}

#[derive(Template)]
#[template(path = "progress_fragment.html")]
struct ProgressFragment {
    name: String,
    link: String,
    version: i64,
    rows: Vec<ProgressRow>,
    ready: usize,
    done: bool,
}

/// The progress page's query.
#[derive(Deserialize)]
pub struct ProgressQuery {
    version: i64,
}

/// `GET /services/{name}/progress?version=V`: which running server runs version `V`
/// (or newer) yet; htmx asks for the fragment alone (`HX-Request`).
pub async fn progress(
    State(app): Shared,
    Extension(session): Extension<Session>,
    Path(name): Path<String>,
    Query(query): Query<ProgressQuery>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let cluster = app.cluster(&session)?;
    let servers = app
        .clusters
        .call(&cluster, true, |c| async move { c.servers().await })
        .await?;
    let rows: Vec<ProgressRow> = servers
        .into_iter()
        .filter(|s| s.state == ServerState::Running)
        .map(|s| {
            let runs = s.services.get(&name).copied();
            ProgressRow {
                ready: runs >= Some(query.version),
                runs,
                server: s.name,
                address: s.address,
            }
        })
        .collect();
    let ready = rows.iter().filter(|r| r.ready).count();
    let done = !rows.is_empty() && ready == rows.len();
    let link = seg(&name);
    if headers.contains_key("hx-request") {
        return Ok(render(&ProgressFragment {
            name,
            link,
            version: query.version,
            rows,
            ready,
            done,
        }));
    }
    Ok(render(&ProgressPage {
        chrome: app.chrome(&session, "services"),
        name,
        link,
        version: query.version,
        rows,
        ready,
        done,
    }))
}
