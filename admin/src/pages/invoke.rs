//! `/services/{name}/invoke`: a payload sent to a service through the admin API and its
//! answer shown with status, headers, time and cid (in place, with htmx).

use std::time::Instant;

use askama::Template;
use axum::extract::{Extension, Form, Path, State};
use axum::response::Response;
use serde::Deserialize;

use super::FormErrors;
use crate::app::{Chrome, PageError, Shared, render, seg};
use crate::auth::Session;

/// The data formats a service's payload may have.
const FORMATS: [&str; 3] = ["json", "xml", "raw"];

struct InvokeResult {
    status: String,
    ok: bool,
    elapsed_ms: u128,
    cid: String,
    headers: Vec<(String, String)>,
    body: String,
}

#[derive(Template)]
#[template(path = "invoke.html")]
struct InvokePage {
    chrome: Chrome,
    name: String,
    link: String,
    payload: String,
    data_format: String,
    timeout_ms: String,
    formats: [&'static str; 3],
    errors: FormErrors,
    result: Option<InvokeResult>,
}

/// `GET /services/{name}/invoke`.
pub async fn form(
    State(app): Shared,
    Extension(session): Extension<Session>,
    Path(name): Path<String>,
) -> Response {
    render(&InvokePage {
        chrome: app.chrome(&session, "services"),
        link: seg(&name),
        name,
        payload: "{}".into(),
        data_format: "json".into(),
        timeout_ms: String::new(),
        formats: FORMATS,
        errors: FormErrors::default(),
        result: None,
    })
}

/// The invoke form.
#[derive(Deserialize)]
pub struct InvokeForm {
    #[serde(default)]
    payload: String,
    #[serde(default)]
    data_format: String,
    #[serde(default)]
    timeout_ms: String,
}

/// `POST /services/{name}/invoke`.
pub async fn submit(
    State(app): Shared,
    Extension(session): Extension<Session>,
    Path(name): Path<String>,
    Form(form): Form<InvokeForm>,
) -> Result<Response, PageError> {
    let mut errors = FormErrors::default();
    let data_format = if FORMATS.contains(&form.data_format.as_str()) {
        form.data_format.clone()
    } else {
        "json".to_owned()
    };
    let timeout_ms = match form.timeout_ms.trim() {
        "" => None,
        t => match t.parse::<u64>() {
            Ok(ms) if ms > 0 => Some(ms),
            _ => {
                errors.set(
                    "timeout_ms",
                    "A timeout is a number of milliseconds above 0.",
                );
                None
            }
        },
    };
    if data_format == "json"
        && let Err(e) = serde_json::from_str::<serde_json::Value>(&form.payload)
    {
        errors.set("payload", format!("The payload is not JSON: {e}."));
    }
    let mut result = None;
    if !errors.any() {
        let cluster = app.cluster(&session)?;
        let (name_ref, format_ref) = (name.as_str(), data_format.as_str());
        let payload = bytes::Bytes::from(form.payload.clone());
        let started = Instant::now();
        let answer = app
            .clusters
            .call(&cluster, false, |c| {
                let payload = payload.clone();
                async move { c.invoke_as(name_ref, payload, format_ref, timeout_ms).await }
            })
            .await?;
        let elapsed_ms = started.elapsed().as_millis();
        let mut headers = Vec::new();
        if let Some(t) = &answer.content_type {
            headers.push(("content-type".to_owned(), t.clone()));
        }
        let body = match serde_json::from_slice::<serde_json::Value>(&answer.body) {
            Ok(v) => serde_json::to_string_pretty(&v).unwrap_or_default(),
            Err(_) => String::from_utf8_lossy(&answer.body).into_owned(),
        };
        result = Some(InvokeResult {
            status: answer.status.to_string(),
            ok: answer.status.is_success(),
            elapsed_ms,
            cid: answer.cid.clone().unwrap_or_else(|| "-".into()),
            headers,
            body,
        });
    }
    Ok(render(&InvokePage {
        chrome: app.chrome(&session, "services"),
        link: seg(&name),
        name,
        payload: form.payload,
        data_format,
        timeout_ms: form.timeout_ms,
        formats: FORMATS,
        errors,
        result,
    }))
}
