//! `/dictionaries`: the data dictionary. Its translations (of one system, if asked),
//! a form that sets one, a form that imports CSV or JSON text (all or nothing: the admin
//! API's refusal names the line), an export, and removals of translations and entries.

use askama::Template;
use axum::extract::{Extension, Form, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use zato_api::{DictEntry, DictFormat, DictImport, DictTranslation};

use crate::app::{App, Chrome, PageError, Shared, download, render, see_other, seg};
use crate::auth::Session;
use crate::clusters::ClusterError;

struct Row {
    t: DictTranslation,
}

#[derive(Template)]
#[template(path = "dictionaries.html")]
struct Page {
    chrome: Chrome,
    system: String,
    systems: Vec<String>,
    notice: String,
    errors: Vec<String>,
    rows: Vec<Row>,
    entries: usize,
    set: SetForm,
    import: ImportForm,
}

/// The page's query.
#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    /// Only this system's translations.
    #[serde(default)]
    system: String,
    #[serde(default)]
    done: String,
}

/// The set-a-translation form, as typed.
#[derive(Debug, Default, Deserialize)]
pub struct SetForm {
    #[serde(default)]
    system1: String,
    #[serde(default)]
    key1: String,
    #[serde(default)]
    value1: String,
    #[serde(default)]
    system2: String,
    #[serde(default)]
    key2: String,
    #[serde(default)]
    value2: String,
}

impl SetForm {
    fn translation(&self) -> DictTranslation {
        DictTranslation {
            system1: self.system1.trim().into(),
            key1: self.key1.trim().into(),
            value1: self.value1.trim().into(),
            system2: self.system2.trim().into(),
            key2: self.key2.trim().into(),
            value2: self.value2.trim().into(),
        }
    }
}

/// The import form, as typed.
#[derive(Debug, Default, Deserialize)]
pub struct ImportForm {
    #[serde(default)]
    format: String,
    #[serde(default)]
    data: String,
    /// A checkbox: present when ticked.
    #[serde(default)]
    replace: Option<String>,
}

/// What the page shows besides the dictionary: a form kept as typed, its errors.
#[derive(Default)]
struct Shown {
    system: String,
    notice: String,
    errors: Vec<String>,
    set: SetForm,
    import: ImportForm,
}

async fn page(app: &App, session: &Session, s: Shown) -> Result<Response, PageError> {
    let cluster = app.cluster(session)?;
    let dict = app
        .clusters
        .call(
            &cluster,
            true,
            |c| async move { c.dictionary(None, None).await },
        )
        .await?;
    let mut systems: Vec<String> = dict.entries.iter().map(|e| e.system.clone()).collect();
    systems.dedup();
    let rows = dict
        .translations
        .into_iter()
        .filter(|t| s.system.is_empty() || t.system1 == s.system || t.system2 == s.system)
        .map(|t| Row { t })
        .collect();
    let status = if s.errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = Page {
        chrome: app.chrome(session, "dictionaries"),
        system: s.system,
        systems,
        notice: s.notice,
        errors: s.errors,
        rows,
        entries: dict.entries.len(),
        set: s.set,
        import: s.import,
    };
    Ok((status, render(&page)).into_response())
}

/// `GET /dictionaries?system=`.
pub async fn show(
    State(app): Shared,
    Extension(session): Extension<Session>,
    Query(query): Query<PageQuery>,
) -> Result<Response, PageError> {
    let s = Shown {
        system: query.system,
        notice: query.done,
        import: ImportForm {
            format: "csv".into(),
            ..ImportForm::default()
        },
        ..Shown::default()
    };
    page(&app, &session, s).await
}

/// The admin API's refusal as the page's error, or the page error it is.
fn refusal(e: ClusterError) -> Result<String, PageError> {
    match e.refusal() {
        Some((_, message)) => Ok(message.to_owned()),
        None => Err(e.into()),
    }
}

/// `POST /dictionaries/translations`: sets a translation.
pub async fn set(
    State(app): Shared,
    Extension(session): Extension<Session>,
    Form(form): Form<SetForm>,
) -> Result<Response, PageError> {
    let translation = form.translation();
    let cluster = app.cluster(&session)?;
    let t = &translation;
    match app
        .clusters
        .call(
            &cluster,
            false,
            |c| async move { c.set_translation(t).await },
        )
        .await
    {
        Ok(set) => Ok(see_other(&format!(
            "/dictionaries?done={}",
            seg(&format!(
                "{} now translates to {}.",
                set.first(),
                set.second()
            ))
        ))),
        Err(e) => {
            let errors = vec![refusal(e)?];
            let s = Shown {
                errors,
                set: form,
                import: ImportForm {
                    format: "csv".into(),
                    ..ImportForm::default()
                },
                ..Shown::default()
            };
            page(&app, &session, s).await
        }
    }
}

/// `POST /dictionaries/import`: imports CSV or JSON text, all or nothing.
pub async fn import(
    State(app): Shared,
    Extension(session): Extension<Session>,
    Form(form): Form<ImportForm>,
) -> Result<Response, PageError> {
    let format = form.format.parse::<DictFormat>().unwrap_or_default();
    let import = DictImport {
        format,
        data: form.data.clone(),
        replace: form.replace.is_some(),
    };
    let cluster = app.cluster(&session)?;
    let import_ref = &import;
    match app
        .clusters
        .call(&cluster, false, |c| async move {
            c.import_dictionary(import_ref).await
        })
        .await
    {
        Ok(done) => Ok(see_other(&format!(
            "/dictionaries?done={}",
            seg(&format!(
                "Imported {} translations and {} entries{}.",
                done.translations,
                done.entries,
                if done.replaced {
                    " (the dictionary replaced)"
                } else {
                    ""
                }
            ))
        ))),
        Err(e) => {
            let errors = vec![format!("Nothing was imported: {}", refusal(e)?)];
            let s = Shown {
                errors,
                import: form,
                ..Shown::default()
            };
            page(&app, &session, s).await
        }
    }
}

/// An export's query (this page's and the Enmasse page's).
#[derive(Debug, Default, Deserialize)]
pub struct ExportQuery {
    #[serde(default)]
    pub(crate) format: String,
}

/// `GET /dictionaries/export?format=csv|json`: the dictionary as a download.
pub async fn export(
    State(app): Shared,
    Extension(session): Extension<Session>,
    Query(query): Query<ExportQuery>,
) -> Result<Response, PageError> {
    let format = query.format.parse::<DictFormat>().unwrap_or_default();
    let cluster = app.cluster(&session)?;
    let export = app
        .clusters
        .call(&cluster, true, |c| async move {
            c.export_dictionary(format).await
        })
        .await?;
    let content_type = match format {
        DictFormat::Csv => "text/csv; charset=utf-8",
        DictFormat::Json => "application/json",
    };
    Ok(download(
        content_type,
        &format!("dictionary.{format}"),
        export.data,
    ))
}

/// A removal's form: the translation of an entry into a system and key.
#[derive(Debug, Deserialize)]
pub struct UnsetForm {
    system1: String,
    key1: String,
    value1: String,
    system2: String,
    key2: String,
}

/// `POST /dictionaries/translations/delete`: removes a translation (its entries stay).
pub async fn unset(
    State(app): Shared,
    Extension(session): Extension<Session>,
    Form(form): Form<UnsetForm>,
) -> Result<Response, PageError> {
    let from = DictEntry {
        system: form.system1,
        key: form.key1,
        value: form.value1,
    };
    let cluster = app.cluster(&session)?;
    let (from_ref, system2, key2) = (&from, form.system2.as_str(), form.key2.as_str());
    match app
        .clusters
        .call(&cluster, false, |c| async move {
            c.delete_translation(from_ref, system2, key2).await
        })
        .await
    {
        Ok(_) => Ok(see_other(&format!(
            "/dictionaries?done={}",
            seg(&format!(
                "Removed the translation of {from} into {system2}/{key2}."
            ))
        ))),
        Err(e) => {
            let s = Shown {
                errors: vec![refusal(e)?],
                ..Shown::default()
            };
            page(&app, &session, s).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_set_form_trims_what_was_typed() {
        let form = SetForm {
            system1: " crm ".into(),
            key1: "currency".into(),
            value1: "USD ".into(),
            system2: "accounting".into(),
            key2: " currency".into(),
            value2: "840".into(),
        };
        let t = form.translation();
        assert_eq!(
            (t.system1.as_str(), t.value1.as_str(), t.key2.as_str()),
            ("crm", "USD", "currency")
        );
    }
}
