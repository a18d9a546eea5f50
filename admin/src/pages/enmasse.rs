//! `/enmasse`: configuration as code in the browser (`zato_api::enmasse`, as `zato
//! enmasse`). The export downloads the cluster's document (its services named by file
//! and sha256; `zato enmasse export` also writes their components). The import takes a
//! document pasted as YAML or JSON, checks it whole against the cluster and shows the
//! plan (Preview), or carries it out (Import). A browser sends no component files and
//! reads no environment variables: a service whose component the cluster does not run
//! already, or a secret given as a `${VARIABLE}` reference for an object to create, is
//! refused with the rest of the document's problems, and nothing changes.

use askama::Template;
use axum::extract::{Extension, Form, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use zato_api::enmasse::{self, Action, Enmasse, Plan, PlanError, Sources};

use super::dictionaries::ExportQuery;
use crate::app::{Chrome, PageError, Shared, download, render};
use crate::auth::Session;

struct StepRow {
    action: &'static str,
    kind: &'static str,
    name: String,
    detail: String,
}

#[derive(Template)]
#[template(path = "enmasse.html")]
struct Page {
    chrome: Chrome,
    notice: String,
    errors: Vec<String>,
    document: String,
    steps: Vec<StepRow>,
}

/// The import form, as typed.
#[derive(Debug, Default, Deserialize)]
pub struct ImportForm {
    #[serde(default)]
    document: String,
    /// `preview` or `import`: the button pressed.
    #[serde(default)]
    action: String,
}

fn action_text(action: Action) -> &'static str {
    match action {
        Action::Create => "create",
        Action::Update => "update",
        Action::Unchanged => "unchanged",
    }
}

fn rows(plan: &Plan) -> Vec<StepRow> {
    plan.steps
        .iter()
        .map(|s| StepRow {
            action: action_text(s.action),
            kind: s.kind,
            name: s.name.clone(),
            detail: s.detail.clone().unwrap_or_default(),
        })
        .collect()
}

fn show(page: Page) -> Response {
    let status = if page.errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    (status, render(&page)).into_response()
}

/// `GET /enmasse`.
pub async fn page(State(app): Shared, Extension(session): Extension<Session>) -> Response {
    let page = Page {
        chrome: app.chrome(&session, "enmasse"),
        notice: String::new(),
        errors: Vec::new(),
        document: String::new(),
        steps: Vec::new(),
    };
    show(page)
}

/// `GET /enmasse/export?format=yaml|json`: the cluster's document, as a download.
pub async fn export(
    State(app): Shared,
    Extension(session): Extension<Session>,
    Query(query): Query<ExportQuery>,
) -> Result<Response, PageError> {
    let cluster = app.cluster(&session)?;
    let exported = app
        .clusters
        .call(&cluster, true, |c| async move {
            enmasse::export(&c, false).await
        })
        .await?;
    let (text, content_type, extension) = if query.format == "json" {
        let mut text = serde_json::to_string_pretty(&exported.doc).expect("serialises");
        text.push('\n');
        (text, "application/json", "json")
    } else {
        let text = serde_yaml_ng::to_string(&exported.doc)
            .map_err(|e| PageError::Internal(anyhow::anyhow!("cannot write YAML: {e}")))?;
        (text, "application/yaml; charset=utf-8", "yaml")
    };
    Ok(download(
        content_type,
        &format!("enmasse.{extension}"),
        text,
    ))
}

/// A component file, which a browser does not send.
fn no_file(path: &str) -> Result<Vec<u8>, String> {
    Err(format!(
        "the web admin imports definitions, not components: deploy `{path}` first (Services, \
         Upload) or import with `zato enmasse import`"
    ))
}

/// An environment variable, which the web admin does not read for a browser.
fn no_variable(_: &str) -> Option<String> {
    None
}

/// `POST /enmasse/import`: checks the document and shows its plan, or imports it.
pub async fn import(
    State(app): Shared,
    Extension(session): Extension<Session>,
    Form(form): Form<ImportForm>,
) -> Result<Response, PageError> {
    let mut page = Page {
        chrome: app.chrome(&session, "enmasse"),
        notice: String::new(),
        errors: Vec::new(),
        document: form.document.clone(),
        steps: Vec::new(),
    };
    // YAML reads JSON too.
    let doc: Enmasse = match serde_yaml_ng::from_str(&form.document) {
        Ok(doc) => doc,
        Err(e) => {
            page.errors
                .push(format!("Nothing was changed: not an enmasse document: {e}"));
            return Ok(show(page));
        }
    };
    let cluster = app.cluster(&session)?;
    let sources = Sources {
        file: &no_file,
        variable: &no_variable,
        update_secrets: false,
    };
    let (doc_ref, sources_ref) = (&doc, &sources);
    let planned = app
        .clusters
        .call(&cluster, true, |c| async move {
            match enmasse::plan(&c, doc_ref, sources_ref).await {
                Ok(plan) => Ok(Ok(plan)),
                Err(PlanError::Refused(problems)) => Ok(Err(problems)),
                Err(PlanError::Client(e)) => Err(e),
            }
        })
        .await?;
    let plan = match planned {
        Ok(plan) => plan,
        Err(problems) => {
            page.errors.push(format!(
                "Nothing was changed: the document has {} problem{}.",
                problems.len(),
                if problems.len() == 1 { "" } else { "s" }
            ));
            page.errors.extend(problems);
            return Ok(show(page));
        }
    };
    let (create, update, unchanged) = (
        plan.count(Action::Create),
        plan.count(Action::Update),
        plan.count(Action::Unchanged),
    );
    page.steps = rows(&plan);
    if form.action != "import" {
        page.notice = format!(
            "Preview: the import would create {create}, update {update} and leave {unchanged} \
             unchanged. Nothing has changed yet."
        );
        return Ok(show(page));
    }
    let plan_ref = &plan;
    let applied = app
        .clusters
        .call(&cluster, false, |c| async move {
            Ok(enmasse::apply(&c, plan_ref, |_| {})
                .await
                .map_err(|e| (e.step, e.error.to_string())))
        })
        .await?;
    match applied {
        Ok(()) => {
            page.notice = format!(
                "Imported: created {create}, updated {update}, left {unchanged} unchanged."
            );
            // The document may hold secrets: once imported, it is not shown again.
            page.document.clear();
        }
        Err((at, message)) => {
            let step = &plan.steps[at];
            let before = plan.steps[..at]
                .iter()
                .filter(|s| s.action != Action::Unchanged)
                .count();
            page.errors.push(format!(
                "Cannot {} {} `{}`: {message}. The {before} change(s) before it were made; \
                 importing the document again once this is fixed leaves them as they are.",
                action_text(step.action),
                step.kind,
                step.name
            ));
        }
    }
    Ok(show(page))
}
