//! Security definitions: named, unique across types, with a hash of the secret.
//!
//! Table `security_def` (`migrations/*/0008_security.sql`): the name (the key), the type,
//! the settings (the admin API's [`SecuritySettings`] as JSON, whose `type` every write
//! keeps equal to the row's), the secret's hash, and the creation and change times (the
//! server's clock). An update keeps `created_at`.
//!
//! *Invariant*: only [`SecurityDefinitions::security_hashes`] reads `secret_hash`;
//! everything the admin API answers comes from the other queries. The ODB never sees a
//! password or an API key, only its hash: the caller hashes. A JWT definition's signing
//! key is the exception (`key:` and the key: a token cannot be signed with a hash),
//! held like an outgoing connection's password.

use async_trait::async_trait;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::sql::{LONGEST_KEY, check_key, check_text};
use super::{OdbError, OdbResult, SqlOdb, now_ms};
use crate::api::{SecurityDefInfo, SecuritySettings};

/// Security definitions, unique by name.
#[async_trait]
pub trait SecurityDefinitions: Send + Sync {
    /// Every definition, by name; no hashes.
    async fn security_defs(&self) -> OdbResult<Vec<SecurityDefInfo>>;
    /// One definition, without its hash.
    async fn security_def(&self, name: &str) -> OdbResult<Option<SecurityDefInfo>>;
    /// Fails with [`OdbError::Conflict`] when a definition has the name.
    async fn create_security_def(
        &self,
        name: &str,
        settings: &SecuritySettings,
        secret_hash: &str,
    ) -> OdbResult<SecurityDefInfo>;
    /// Replaces the settings of `name`, and its hash when one is given (a new type
    /// needs one: the old secret is not a secret of the new type). `None` when there is
    /// no such definition.
    async fn update_security_def(
        &self,
        name: &str,
        settings: &SecuritySettings,
        secret_hash: Option<&str>,
    ) -> OdbResult<Option<SecurityDefInfo>>;
    /// Replaces the hash of `name`'s secret; whether it existed.
    async fn change_security_secret(&self, name: &str, secret_hash: &str) -> OdbResult<bool>;
    /// Returns whether it existed.
    async fn delete_security_def(&self, name: &str) -> OdbResult<bool>;
    /// Every definition with its secret's hash, for the servers' live table.
    async fn security_hashes(&self) -> OdbResult<Vec<(SecurityDefInfo, String)>>;
}

/// A query of what the admin API answers, `$tail` after the table: no hash.
macro_rules! info_query {
    ($tail:literal) => {
        concat!(
            "SELECT name, sec_type, settings, created_at, updated_at FROM security_def",
            $tail
        )
    };
}

/// What a channel names as its security definition, checked to be a name one could
/// have (the channel tables' foreign keys check that one does).
pub(super) fn check_security(security: Option<&str>) -> OdbResult<()> {
    match security {
        Some(name) => check_key("security definition name", name, LONGEST_KEY),
        None => Ok(()),
    }
}

/// A channel's write that the foreign key to `security_def` refused.
pub(super) fn no_such_definition(security: Option<&str>) -> OdbError {
    OdbError::Invalid(format!(
        "there is no security definition named `{}`",
        security.unwrap_or_default()
    ))
}

/// Whether something could be stored under `name` (see `odb/outconn.rs`).
fn findable(name: &str) -> bool {
    check_key("name", name, LONGEST_KEY).is_ok()
}

/// The settings as stored, checked to be storable on every backend.
fn settings_of(name: &str, settings: &SecuritySettings, hash: Option<&str>) -> OdbResult<String> {
    check_key("security definition name", name, LONGEST_KEY)?;
    let json = serde_json::to_string(settings).map_err(|e| {
        OdbError::Invalid(format!(
            "security definition `{name}` cannot be stored: {e}"
        ))
    })?;
    check_text(
        &format!("the settings of security definition `{name}`"),
        &json,
    )?;
    if let Some(hash) = hash {
        // A client-certificate definition has no secret; every other needs one.
        if hash.is_empty() && settings.kind().has_secret() {
            return Err(OdbError::Invalid(format!(
                "security definition `{name}` needs a secret"
            )));
        }
        check_text(&format!("the secret of security definition `{name}`"), hash)?;
    }
    Ok(json)
}

fn info_row(row: &AnyRow) -> OdbResult<SecurityDefInfo> {
    let kind: String = row.try_get("sec_type")?;
    let name: String = row.try_get("name")?;
    let settings: SecuritySettings = serde_json::from_str(&row.try_get::<String, _>("settings")?)
        .map_err(|e| {
        OdbError::Invalid(format!(
            "the stored settings of security definition `{name}` do not read: {e}"
        ))
    })?;
    if settings.kind().as_str() != kind {
        return Err(OdbError::Invalid(format!(
            "the stored settings of {kind} security definition `{name}` are of type {}",
            settings.kind()
        )));
    }
    Ok(SecurityDefInfo {
        kind: settings.kind(),
        settings,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        name,
    })
}

#[async_trait]
impl SecurityDefinitions for SqlOdb {
    async fn security_defs(&self) -> OdbResult<Vec<SecurityDefInfo>> {
        let rows = sqlx::query(self.sql(info_query!(" ORDER BY name")))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(info_row).collect()
    }

    async fn security_def(&self, name: &str) -> OdbResult<Option<SecurityDefInfo>> {
        if !findable(name) {
            return Ok(None);
        }
        let row = sqlx::query(self.sql(info_query!(" WHERE name = ?")))
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(info_row).transpose()
    }

    async fn create_security_def(
        &self,
        name: &str,
        settings: &SecuritySettings,
        secret_hash: &str,
    ) -> OdbResult<SecurityDefInfo> {
        let json = settings_of(name, settings, Some(secret_hash))?;
        let now = now_ms();
        let result = sqlx::query(self.sql(
            "INSERT INTO security_def (name, sec_type, settings, secret_hash, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?)",
        ))
        .bind(name)
        .bind(settings.kind().as_str())
        .bind(&json)
        .bind(secret_hash)
        .bind(now)
        .bind(now)
        .execute(&self.pool)
        .await;
        match result {
            Ok(_) => Ok(SecurityDefInfo {
                name: name.to_owned(),
                kind: settings.kind(),
                settings: settings.clone(),
                created_at: now,
                updated_at: now,
            }),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(OdbError::Conflict(
                format!("a security definition named `{name}` exists already"),
            )),
            Err(e) => Err(e.into()),
        }
    }

    async fn update_security_def(
        &self,
        name: &str,
        settings: &SecuritySettings,
        secret_hash: Option<&str>,
    ) -> OdbResult<Option<SecurityDefInfo>> {
        if !findable(name) {
            return Ok(None);
        }
        let json = settings_of(name, settings, secret_hash)?;
        let kind = settings.kind();
        let done = match secret_hash {
            // The type stays, or nothing is changed: a secret of one type is no secret
            // of another.
            None => {
                sqlx::query(self.sql(
                    "UPDATE security_def SET settings = ?, updated_at = ? \
                     WHERE name = ? AND sec_type = ?",
                ))
                .bind(&json)
                .bind(now_ms())
                .bind(name)
                .bind(kind.as_str())
                .execute(&self.pool)
                .await?
            }
            Some(hash) => {
                sqlx::query(self.sql(
                    "UPDATE security_def SET sec_type = ?, settings = ?, secret_hash = ?, \
                     updated_at = ? WHERE name = ?",
                ))
                .bind(kind.as_str())
                .bind(&json)
                .bind(hash)
                .bind(now_ms())
                .bind(name)
                .execute(&self.pool)
                .await?
            }
        };
        // MySQL counts rows found, not rows changed (sqlx asks for FOUND_ROWS).
        if done.rows_affected() == 0 {
            return match self.security_def(name).await? {
                Some(existing) => Err(OdbError::Invalid(format!(
                    "security definition `{name}` is of type {}: a change to {kind} needs a \
                     new secret",
                    existing.kind
                ))),
                None => Ok(None),
            };
        }
        self.security_def(name).await
    }

    async fn change_security_secret(&self, name: &str, secret_hash: &str) -> OdbResult<bool> {
        if !findable(name) {
            return Ok(false);
        }
        if secret_hash.is_empty() {
            return Err(OdbError::Invalid(format!(
                "security definition `{name}` needs a secret"
            )));
        }
        check_text(
            &format!("the secret of security definition `{name}`"),
            secret_hash,
        )?;
        let done = sqlx::query(
            self.sql("UPDATE security_def SET secret_hash = ?, updated_at = ? WHERE name = ?"),
        )
        .bind(secret_hash)
        .bind(now_ms())
        .bind(name)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_security_def(&self, name: &str) -> OdbResult<bool> {
        if !findable(name) {
            return Ok(false);
        }
        let done = sqlx::query(self.sql("DELETE FROM security_def WHERE name = ?"))
            .bind(name)
            .execute(&self.pool)
            .await;
        match done {
            Ok(done) => Ok(done.rows_affected() > 0),
            // A channel names it (the channels' foreign keys): say which.
            Err(sqlx::Error::Database(e)) if e.is_foreign_key_violation() => {
                let mut users = Vec::new();
                let tables = [
                    (
                        "HTTP",
                        "SELECT name FROM http_channel WHERE security = ? ORDER BY name",
                    ),
                    (
                        "SOAP",
                        "SELECT name FROM soap_channel WHERE security = ? ORDER BY name",
                    ),
                ];
                for (kind, query) in tables {
                    for row in sqlx::query(self.sql(query))
                        .bind(name)
                        .fetch_all(&self.pool)
                        .await?
                    {
                        let channel: String = row.try_get("name")?;
                        users.push(format!("{kind} channel `{channel}`"));
                    }
                }
                Err(OdbError::Conflict(format!(
                    "security definition `{name}` is used by {}: attach another definition \
                     to them, or none, first",
                    if users.is_empty() {
                        "a channel".to_owned()
                    } else {
                        users.join(", ")
                    }
                )))
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn security_hashes(&self) -> OdbResult<Vec<(SecurityDefInfo, String)>> {
        let rows = sqlx::query(self.sql(
            "SELECT name, sec_type, settings, secret_hash, created_at, updated_at \
             FROM security_def ORDER BY name",
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| Ok((info_row(row)?, row.try_get("secret_hash")?)))
            .collect()
    }
}
