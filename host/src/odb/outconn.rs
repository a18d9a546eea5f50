//! Outgoing connections: named, per type, with the secret stored apart.
//!
//! Table `outconn` (`migrations/*/0004_outconn.sql`): the type and the name (the key),
//! `active` (1 or 0), the settings (the admin API's [`OutconnSettings`] as JSON, whose
//! `type` every write keeps equal to the row's), the secret (NULL when none is set)
//! and the creation and change times (the server's clock). An update keeps
//! `created_at`.
//!
//! *Invariant*: only [`OutgoingConnections::outconn_definitions`] and
//! [`OutgoingConnections::outconn_definition`] read the secret column; everything the
//! admin API answers comes from the other queries, which read whether one is set.

use async_trait::async_trait;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::sql::{LONGEST_KEY, check_key, check_text};
use super::{OdbError, OdbResult, SqlOdb, now_ms};
use crate::api::{Outconn, OutconnInfo, OutconnSettings, OutconnType};

/// Outgoing connections, unique by (type, name).
#[async_trait]
pub trait OutgoingConnections: Send + Sync {
    /// Every connection (of one type when `kind` is given), by type then name; no
    /// secrets.
    async fn outconns(&self, kind: Option<OutconnType>) -> OdbResult<Vec<OutconnInfo>>;
    /// One connection, without its secret.
    async fn outconn(&self, kind: OutconnType, name: &str) -> OdbResult<Option<OutconnInfo>>;
    /// One connection's whole definition, its secret included (for a ping).
    async fn outconn_definition(&self, kind: OutconnType, name: &str)
    -> OdbResult<Option<Outconn>>;
    /// Fails with [`OdbError::Conflict`] when a connection of that type has the name.
    async fn create_outconn(&self, conn: &Outconn) -> OdbResult<OutconnInfo>;
    /// Replaces the settings and the active flag of the connection `name` of `conn`'s
    /// type (`conn.name` must be `name`). The secret: `None` keeps the stored one,
    /// `Some("")` removes it, `Some(s)` replaces it. `None` when there is no such
    /// connection.
    async fn update_outconn(&self, name: &str, conn: &Outconn) -> OdbResult<Option<OutconnInfo>>;
    /// Returns whether it existed.
    async fn delete_outconn(&self, kind: OutconnType, name: &str) -> OdbResult<bool>;
    /// Every connection with its secret, for the live registry
    /// (`Outconns::apply` in the `outconn` module).
    async fn outconn_definitions(&self) -> OdbResult<Vec<Outconn>>;
}

/// A query of what the admin API answers, `$tail` after the table: no secret, only
/// whether one is set.
macro_rules! info_query {
    ($tail:literal) => {
        concat!(
            "SELECT conn_type, name, active, settings, \
             CASE WHEN secret IS NULL THEN 0 ELSE 1 END AS secret_set, created_at, updated_at \
             FROM outconn",
            $tail
        )
    };
}

/// Whether something could be stored under `name`: a name no connection can have is
/// looked up nowhere, so that a NUL, which PostgreSQL refuses in text, cannot fail a
/// lookup.
fn findable(name: &str) -> bool {
    check_key("name", name, LONGEST_KEY).is_ok()
}

/// The settings of `conn` as stored, checked to be storable on every backend.
fn settings_of(conn: &Outconn) -> OdbResult<String> {
    check_key("connection name", &conn.name, LONGEST_KEY)?;
    let settings = serde_json::to_string(&conn.settings).map_err(|e| {
        OdbError::Invalid(format!("connection `{}` cannot be stored: {e}", conn.name))
    })?;
    check_text(
        &format!("the settings of connection `{}`", conn.name),
        &settings,
    )?;
    if let Some(secret) = &conn.secret {
        check_text(&format!("the secret of connection `{}`", conn.name), secret)?;
    }
    Ok(settings)
}

fn settings_from(kind: &str, name: &str, settings: &str) -> OdbResult<OutconnSettings> {
    let settings: OutconnSettings = serde_json::from_str(settings).map_err(|e| {
        OdbError::Invalid(format!(
            "the stored settings of {kind} connection `{name}` do not read: {e}"
        ))
    })?;
    if settings.kind().as_str() != kind {
        return Err(OdbError::Invalid(format!(
            "the stored settings of {kind} connection `{name}` are of type {}",
            settings.kind()
        )));
    }
    Ok(settings)
}

fn info_row(row: &AnyRow) -> OdbResult<OutconnInfo> {
    let kind: String = row.try_get("conn_type")?;
    let name: String = row.try_get("name")?;
    let settings = settings_from(&kind, &name, &row.try_get::<String, _>("settings")?)?;
    Ok(OutconnInfo {
        kind: settings.kind(),
        active: row.try_get::<i64, _>("active")? != 0,
        settings,
        secret_set: row.try_get::<i64, _>("secret_set")? != 0,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        name,
    })
}

fn definition_row(row: &AnyRow) -> OdbResult<Outconn> {
    let kind: String = row.try_get("conn_type")?;
    let name: String = row.try_get("name")?;
    let settings = settings_from(&kind, &name, &row.try_get::<String, _>("settings")?)?;
    Ok(Outconn {
        active: row.try_get::<i64, _>("active")? != 0,
        settings,
        secret: row.try_get("secret")?,
        name,
    })
}

#[async_trait]
impl OutgoingConnections for SqlOdb {
    async fn outconns(&self, kind: Option<OutconnType>) -> OdbResult<Vec<OutconnInfo>> {
        let rows = match kind {
            None => {
                sqlx::query(self.sql(info_query!(" ORDER BY conn_type, name")))
                    .fetch_all(&self.pool)
                    .await?
            }
            Some(kind) => {
                sqlx::query(self.sql(info_query!(" WHERE conn_type = ? ORDER BY name")))
                    .bind(kind.as_str())
                    .fetch_all(&self.pool)
                    .await?
            }
        };
        let mut out: Vec<OutconnInfo> = rows.iter().map(info_row).collect::<OdbResult<_>>()?;
        // The order of the API's types, whatever the backend sorts by.
        out.sort_by(|a, b| (a.kind, &a.name).cmp(&(b.kind, &b.name)));
        Ok(out)
    }

    async fn outconn(&self, kind: OutconnType, name: &str) -> OdbResult<Option<OutconnInfo>> {
        if !findable(name) {
            return Ok(None);
        }
        let row = sqlx::query(self.sql(info_query!(" WHERE conn_type = ? AND name = ?")))
            .bind(kind.as_str())
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(info_row).transpose()
    }

    async fn outconn_definition(
        &self,
        kind: OutconnType,
        name: &str,
    ) -> OdbResult<Option<Outconn>> {
        if !findable(name) {
            return Ok(None);
        }
        let row = sqlx::query(self.sql(
            "SELECT conn_type, name, active, settings, secret FROM outconn \
             WHERE conn_type = ? AND name = ?",
        ))
        .bind(kind.as_str())
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(definition_row).transpose()
    }

    async fn create_outconn(&self, conn: &Outconn) -> OdbResult<OutconnInfo> {
        let settings = settings_of(conn)?;
        let secret = conn.secret.as_deref().filter(|s| !s.is_empty());
        let now = now_ms();
        let result = sqlx::query(self.sql(
            "INSERT INTO outconn (conn_type, name, active, settings, secret, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        ))
        .bind(conn.kind().as_str())
        .bind(&conn.name)
        .bind(i64::from(conn.active))
        .bind(&settings)
        .bind(secret)
        .bind(now)
        .bind(now)
        .execute(&self.pool)
        .await;
        match result {
            Ok(_) => Ok(OutconnInfo {
                name: conn.name.clone(),
                kind: conn.kind(),
                active: conn.active,
                settings: conn.settings.clone(),
                secret_set: secret.is_some(),
                created_at: now,
                updated_at: now,
            }),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                Err(OdbError::Conflict(format!(
                    "a connection of type {} named `{}` exists already",
                    conn.kind(),
                    conn.name
                )))
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn update_outconn(&self, name: &str, conn: &Outconn) -> OdbResult<Option<OutconnInfo>> {
        if !findable(name) {
            return Ok(None);
        }
        if conn.name != name {
            return Err(OdbError::Invalid(format!(
                "connection `{name}` cannot be renamed `{}`: a connection's name is its key",
                conn.name
            )));
        }
        let settings = settings_of(conn)?;
        let kind = conn.kind();
        let done = match conn.secret.as_deref() {
            None => {
                sqlx::query(self.sql(
                    "UPDATE outconn SET active = ?, settings = ?, updated_at = ? \
                     WHERE conn_type = ? AND name = ?",
                ))
                .bind(i64::from(conn.active))
                .bind(&settings)
                .bind(now_ms())
                .bind(kind.as_str())
                .bind(name)
                .execute(&self.pool)
                .await?
            }
            Some(secret) => {
                sqlx::query(self.sql(
                    "UPDATE outconn SET active = ?, settings = ?, secret = ?, updated_at = ? \
                     WHERE conn_type = ? AND name = ?",
                ))
                .bind(i64::from(conn.active))
                .bind(&settings)
                .bind(Some(secret).filter(|s| !s.is_empty()))
                .bind(now_ms())
                .bind(kind.as_str())
                .bind(name)
                .execute(&self.pool)
                .await?
            }
        };
        // MySQL counts rows found, not rows changed (sqlx asks for FOUND_ROWS).
        if done.rows_affected() == 0 {
            return Ok(None);
        }
        self.outconn(kind, name).await
    }

    async fn delete_outconn(&self, kind: OutconnType, name: &str) -> OdbResult<bool> {
        if !findable(name) {
            return Ok(false);
        }
        let done = sqlx::query(self.sql("DELETE FROM outconn WHERE conn_type = ? AND name = ?"))
            .bind(kind.as_str())
            .bind(name)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn outconn_definitions(&self) -> OdbResult<Vec<Outconn>> {
        let rows = sqlx::query(self.sql(
            "SELECT conn_type, name, active, settings, secret FROM outconn ORDER BY conn_type, name",
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(definition_row).collect()
    }
}
