//! Data dictionaries: read, import, export, set and delete translations and entries.
//! Every change reloads [`Kind::Dictionaries`] here before it answers and tells the
//! other servers, so a service's next `translate` on this server reads it, and on the
//! others as soon as the notice arrives (or at their next reconcile).
//!
//! An import is parsed and checked whole (`zato_api::dictionary::parse`, whose errors
//! name the line or the item) before one transaction stores it: one bad line and
//! nothing changes.

use axum::extract::State;
use axum::response::Response;
use http::StatusCode;
use serde::Deserialize;
use utoipa::IntoParams;

use super::extract::{Json, Query};
use super::{AdminState, ApiError, Shared};
use crate::api::dictionary::{self, check_translation};
use crate::api::{
    DictDeleted, DictEntry, DictExport, DictFormat, DictImport, DictImported, DictTranslated,
    DictTranslation, Dictionary, ErrorBody,
};
use crate::http_response::json_response;
use crate::reload::Kind;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only the entries of this system, and the translations of its entries.
    #[serde(default)]
    system: Option<String>,
    /// Only the entries of this key (of `system` when given), and their translations.
    #[serde(default)]
    key: Option<String>,
}

/// The dictionary, or the part of it a system (and a key) names: its entries, and the
/// translations either of whose entries is of them.
#[utoipa::path(
    get,
    path = "/zato/api/dictionaries",
    tag = "dictionaries",
    operation_id = "get_dictionary",
    params(ListQuery),
    responses(
        (status = 200, description = "the entries by system, key and value; the \
            translations each once, by their first entry", body = Dictionary),
        (status = 400, description = "a query parameter other than `system` and `key`",
            body = ErrorBody),
    ),
)]
pub async fn list(
    State(state): Shared,
    Query(query): Query<ListQuery>,
) -> Result<Response, ApiError> {
    let mut dict = state.odb.dictionary().await?;
    let system = query.system.as_deref();
    let key = query.key.as_deref();
    let wanted = |s: &str, k: &str| system.is_none_or(|x| x == s) && key.is_none_or(|x| x == k);
    dict.entries.retain(|e| wanted(&e.system, &e.key));
    dict.translations
        .retain(|t| wanted(&t.system1, &t.key1) || wanted(&t.system2, &t.key2));
    Ok(json_response(StatusCode::OK, &dict))
}

/// Imports a dictionary written as CSV or JSON on every server, all or nothing: every
/// line is checked before anything is stored.
#[utoipa::path(
    post,
    path = "/zato/api/dictionaries/import",
    tag = "dictionaries",
    operation_id = "import_dictionary",
    request_body = DictImport,
    responses(
        (status = 200, description = "imported: services on this server translate with \
            it now, on the others within moments", body = DictImported),
        (status = 400, description = "CSV or JSON that does not read, an unknown or \
            missing column, an empty, too long or badly spaced name or value, a \
            translation of a (system, key) into itself, or two values for one \
            translation; the message names the line (CSV) or the item (JSON). Nothing \
            was stored", body = ErrorBody),
        (status = 413, description = "a body over the size limit", body = ErrorBody),
    ),
)]
pub async fn import(
    State(state): Shared,
    Json(import): Json<DictImport>,
) -> Result<Response, ApiError> {
    let dict = dictionary::parse(import.format, &import.data).map_err(bad)?;
    state.odb.import_dictionary(&dict, import.replace).await?;
    reload(&state).await?;
    let mut entries = std::collections::HashSet::new();
    entries.extend(dict.entries.iter().cloned());
    for t in &dict.translations {
        entries.insert(t.first());
        entries.insert(t.second());
    }
    tracing::info!(
        entries = entries.len(),
        translations = dict.translations.len(),
        replace = import.replace,
        "dictionary imported"
    );
    Ok(json_response(
        StatusCode::OK,
        &DictImported {
            entries: entries.len() as u64,
            translations: dict.translations.len() as u64,
            replaced: import.replace,
        },
    ))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    /// `csv` (the default) or `json`.
    #[serde(default)]
    #[param(inline)]
    format: DictFormat,
}

/// The whole dictionary written as CSV or JSON, as an import reads it back.
#[utoipa::path(
    get,
    path = "/zato/api/dictionaries/export",
    tag = "dictionaries",
    operation_id = "export_dictionary",
    params(ExportQuery),
    responses(
        (status = 200, description = "the dictionary", body = DictExport),
        (status = 400, description = "an unknown format, or a query parameter other \
            than `format`", body = ErrorBody),
    ),
)]
pub async fn export(
    State(state): Shared,
    Query(query): Query<ExportQuery>,
) -> Result<Response, ApiError> {
    let dict = state.odb.dictionary().await?;
    let data = match query.format {
        DictFormat::Csv => dictionary::to_csv(&dict),
        DictFormat::Json => {
            let mut text = serde_json::to_string_pretty(&dict).expect("a dictionary serialises");
            text.push('\n');
            text
        }
    };
    Ok(json_response(
        StatusCode::OK,
        &DictExport {
            format: query.format,
            data,
            entries: dict.entries.len() as u64,
            translations: dict.translations.len() as u64,
        },
    ))
}

/// Sets a translation on every server: its entries are created if need be, and the
/// translations it conflicts with (either entry's into the other's system and key)
/// are replaced.
#[utoipa::path(
    put,
    path = "/zato/api/dictionaries/translations",
    tag = "dictionaries",
    operation_id = "set_translation",
    request_body = DictTranslation,
    responses(
        (status = 200, description = "set: in force on this server now, on the others \
            within moments", body = DictTranslation),
        (status = 400, description = "an empty, too long or badly spaced name or value, \
            a translation of a (system, key) into itself, or a body that is not a \
            translation", body = ErrorBody),
        (status = 413, description = "a body over the size limit", body = ErrorBody),
    ),
)]
pub async fn set_translation(
    State(state): Shared,
    Json(translation): Json<DictTranslation>,
) -> Result<Response, ApiError> {
    check_translation("the translation", &translation).map_err(bad)?;
    let dict = Dictionary {
        entries: Vec::new(),
        translations: vec![translation.clone()],
    };
    state.odb.import_dictionary(&dict, false).await?;
    reload(&state).await?;
    tracing::info!(
        from = %translation.first(),
        to = %translation.second(),
        "dictionary translation set"
    );
    Ok(json_response(StatusCode::OK, &translation))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct TranslationQuery {
    /// The system of the value to translate.
    system1: String,
    /// Its key.
    key1: String,
    /// The value.
    value1: String,
    /// The system to translate it into.
    system2: String,
    /// The key of that system.
    key2: String,
}

impl TranslationQuery {
    fn from(&self) -> DictEntry {
        DictEntry {
            system: self.system1.clone(),
            key: self.key1.clone(),
            value: self.value1.clone(),
        }
    }
}

/// Removes a translation on every server; its entries stay.
#[utoipa::path(
    delete,
    path = "/zato/api/dictionaries/translations",
    tag = "dictionaries",
    operation_id = "delete_translation",
    params(TranslationQuery),
    responses(
        (status = 200, description = "removed", body = DictDeleted),
        (status = 400, description = "a missing, empty, too long or badly spaced name or \
            value", body = ErrorBody),
        (status = 404, description = "the value has no translation into that system and \
            key", body = ErrorBody),
    ),
)]
pub async fn delete_translation(
    State(state): Shared,
    Query(query): Query<TranslationQuery>,
) -> Result<Response, ApiError> {
    let from = query.from();
    let deleted = state
        .odb
        .delete_translation(&from, &query.system2, &query.key2)
        .await?;
    if deleted.translations == 0 {
        return Err(ApiError(
            StatusCode::NOT_FOUND,
            format!(
                "{from} has no translation into {}/{}",
                query.system2, query.key2
            ),
        ));
    }
    reload(&state).await?;
    tracing::info!(%from, system2 = %query.system2, key2 = %query.key2, "dictionary translation deleted");
    Ok(json_response(StatusCode::OK, &deleted))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct EntriesQuery {
    /// The system whose entries go.
    system: String,
    /// Only the entries of this key.
    #[serde(default)]
    key: Option<String>,
    /// Only the entry of this value (with `key`).
    #[serde(default)]
    value: Option<String>,
}

/// Removes the entries of a system (of one of its keys; one value of it) and their
/// translations on every server.
#[utoipa::path(
    delete,
    path = "/zato/api/dictionaries/entries",
    tag = "dictionaries",
    operation_id = "delete_entries",
    params(EntriesQuery),
    responses(
        (status = 200, description = "removed", body = DictDeleted),
        (status = 400, description = "no system, a value without its key, or an empty, \
            too long or badly spaced name or value", body = ErrorBody),
        (status = 404, description = "no entry matched", body = ErrorBody),
    ),
)]
pub async fn delete_entries(
    State(state): Shared,
    Query(query): Query<EntriesQuery>,
) -> Result<Response, ApiError> {
    let deleted = state
        .odb
        .delete_entries(&query.system, query.key.as_deref(), query.value.as_deref())
        .await?;
    let what = [
        Some(query.system.as_str()),
        query.key.as_deref(),
        query.value.as_deref(),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join("/");
    if deleted.entries == 0 {
        return Err(ApiError(
            StatusCode::NOT_FOUND,
            format!("the dictionary has no entry of {what}"),
        ));
    }
    reload(&state).await?;
    tracing::info!(
        of = %what,
        entries = deleted.entries,
        translations = deleted.translations,
        "dictionary entries deleted"
    );
    Ok(json_response(StatusCode::OK, &deleted))
}

/// Translates a value as a service on this server would: from this server's copy of
/// the dictionary, not the ODB.
#[utoipa::path(
    get,
    path = "/zato/api/dictionaries/translate",
    tag = "dictionaries",
    operation_id = "translate",
    params(TranslationQuery),
    responses(
        (status = 200, description = "the translation, `null` when there is none",
            body = DictTranslated),
        (status = 400, description = "a missing query parameter", body = ErrorBody),
    ),
)]
pub async fn translate(
    State(state): Shared,
    Query(query): Query<TranslationQuery>,
) -> Result<Response, ApiError> {
    let table = state.deployer.runtime().dictionaries().table();
    let lookup = [
        query.system1,
        query.key1,
        query.value1,
        query.system2,
        query.key2,
    ];
    let value = table.translate(&lookup).map(str::to_owned);
    Ok(json_response(StatusCode::OK, &DictTranslated { value }))
}

fn bad(message: String) -> ApiError {
    ApiError(StatusCode::BAD_REQUEST, message)
}

/// Puts the change in force here before answering, and tells the other servers.
async fn reload(state: &AdminState) -> Result<(), ApiError> {
    state
        .reloader
        .changed(Kind::Dictionaries)
        .await
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, format!("{e:#}")))
}
