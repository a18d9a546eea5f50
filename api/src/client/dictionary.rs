//! The data dictionaries' routes.

use super::{AdminClient, Body, ClientError, Method, segment};
use crate::dictionary::{
    DictDeleted, DictEntry, DictExport, DictFormat, DictImport, DictImported, DictTranslated,
    DictTranslation, Dictionary,
};

const DICTIONARIES: &str = "/zato/api/dictionaries";

/// `?name=value&...` of the pairs whose value is given.
fn query(pairs: &[(&str, Option<&str>)]) -> String {
    let mut out = String::new();
    for (name, value) in pairs {
        if let Some(value) = value {
            out.push(if out.is_empty() { '?' } else { '&' });
            out.push_str(name);
            out.push('=');
            out.push_str(&segment(value));
        }
    }
    out
}

impl AdminClient {
    /// `GET /zato/api/dictionaries`: the entries and translations, of `system` (and
    /// `key`) when given: a translation is listed when either of its entries matches.
    pub async fn dictionary(
        &self,
        system: Option<&str>,
        key: Option<&str>,
    ) -> Result<Dictionary, ClientError> {
        let q = query(&[("system", system), ("key", key)]);
        self.get(&format!("{DICTIONARIES}{q}")).await
    }

    /// `POST /zato/api/dictionaries/import`: imports a dictionary written as CSV or
    /// JSON on every server, all or nothing.
    pub async fn import_dictionary(
        &self,
        import: &DictImport,
    ) -> Result<DictImported, ClientError> {
        let body = serde_json::to_value(import).expect("an import serialises");
        self.send(
            Method::POST,
            &format!("{DICTIONARIES}/import"),
            Body::Json(body),
        )
        .await?
        .json()
    }

    /// `GET /zato/api/dictionaries/export`: the whole dictionary written as `format`.
    pub async fn export_dictionary(&self, format: DictFormat) -> Result<DictExport, ClientError> {
        self.get(&format!("{DICTIONARIES}/export?format={format}"))
            .await
    }

    /// `PUT /zato/api/dictionaries/translations`: sets a translation on every server,
    /// creating its entries and replacing the translations it conflicts with.
    pub async fn set_translation(
        &self,
        translation: &DictTranslation,
    ) -> Result<DictTranslation, ClientError> {
        let body = serde_json::to_value(translation).expect("a translation serialises");
        self.send(
            Method::PUT,
            &format!("{DICTIONARIES}/translations"),
            Body::Json(body),
        )
        .await?
        .json()
    }

    /// `DELETE /zato/api/dictionaries/translations`: removes the translation between
    /// `from` and the value of `(system2, key2)` it has, keeping the entries.
    pub async fn delete_translation(
        &self,
        from: &DictEntry,
        system2: &str,
        key2: &str,
    ) -> Result<DictDeleted, ClientError> {
        let q = query(&[
            ("system1", Some(from.system.as_str())),
            ("key1", Some(from.key.as_str())),
            ("value1", Some(from.value.as_str())),
            ("system2", Some(system2)),
            ("key2", Some(key2)),
        ]);
        self.send(
            Method::DELETE,
            &format!("{DICTIONARIES}/translations{q}"),
            Body::Empty,
        )
        .await?
        .json()
    }

    /// `DELETE /zato/api/dictionaries/entries`: removes the entries of `system` (of its
    /// `key`, of that `value`) and their translations.
    pub async fn delete_entries(
        &self,
        system: &str,
        key: Option<&str>,
        value: Option<&str>,
    ) -> Result<DictDeleted, ClientError> {
        let q = query(&[("system", Some(system)), ("key", key), ("value", value)]);
        self.send(
            Method::DELETE,
            &format!("{DICTIONARIES}/entries{q}"),
            Body::Empty,
        )
        .await?
        .json()
    }

    /// `GET /zato/api/dictionaries/translate`: what the answering server's services
    /// read through `translate` (its cache, not the ODB).
    pub async fn translate(
        &self,
        from: &DictEntry,
        system2: &str,
        key2: &str,
    ) -> Result<Option<String>, ClientError> {
        let q = query(&[
            ("system1", Some(from.system.as_str())),
            ("key1", Some(from.key.as_str())),
            ("value1", Some(from.value.as_str())),
            ("system2", Some(system2)),
            ("key2", Some(key2)),
        ]);
        let answer: DictTranslated = self.get(&format!("{DICTIONARIES}/translate{q}")).await?;
        Ok(answer.value)
    }
}
