//! HTTP channels: the paths the server answers and the service each one calls.

use async_trait::async_trait;
use sqlx::Row;

use super::security::{check_security, no_such_definition};
use super::sql::{LONGEST_KEY, check_key, check_text};
use super::{OdbError, OdbResult, SqlOdb, now_ms};
use crate::api::{DataFormat, HttpChannel};

/// The longest HTTP channel path: `VARCHAR(700)`, as long as MySQL can index whole.
const LONGEST_PATH: usize = 700;

/// HTTP channels, unique by name and by path.
#[async_trait]
pub trait HttpChannels: Send + Sync {
    /// Every HTTP channel, sorted by name.
    async fn http_channels(&self) -> OdbResult<Vec<HttpChannel>>;
    /// Fails with [`OdbError::Conflict`] when the name or the path is taken.
    async fn create_http_channel(&self, channel: &HttpChannel) -> OdbResult<()>;
    /// The channel named `name`, if there is one.
    async fn http_channel(&self, name: &str) -> OdbResult<Option<HttpChannel>>;
    /// Replaces the path, methods, service, data format, timeout and security of the channel
    /// named `name` with `channel`'s (its name stays); returns whether it existed.
    /// Fails with [`OdbError::Conflict`] when another channel has the path.
    async fn update_http_channel(&self, name: &str, channel: &HttpChannel) -> OdbResult<bool>;
    /// Returns whether the channel existed.
    async fn delete_http_channel(&self, name: &str) -> OdbResult<bool>;
}

#[async_trait]
impl HttpChannels for SqlOdb {
    async fn http_channels(&self) -> OdbResult<Vec<HttpChannel>> {
        let rows = sqlx::query(self.sql(
            "SELECT name, path, methods, service, data_format, timeout_ms, security FROM http_channel \
             ORDER BY name",
        ))
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let methods: String = row.try_get("methods")?;
            let format: String = row.try_get("data_format")?;
            out.push(HttpChannel {
                name: row.try_get("name")?,
                path: row.try_get("path")?,
                methods: methods
                    .split(',')
                    .filter(|m| !m.is_empty())
                    .map(str::to_owned)
                    .collect(),
                service: row.try_get("service")?,
                data_format: format.parse::<DataFormat>().map_err(OdbError::Invalid)?,
                timeout_ms: row.try_get::<i64, _>("timeout_ms")?.max(0) as u64,
                security: row.try_get("security")?,
            });
        }
        Ok(out)
    }

    async fn create_http_channel(&self, channel: &HttpChannel) -> OdbResult<()> {
        check_key("HTTP channel name", &channel.name, LONGEST_KEY)?;
        check_key("HTTP channel path", &channel.path, LONGEST_PATH)?;
        check_key("service name", &channel.service, LONGEST_KEY)?;
        check_security(channel.security.as_deref())?;
        let methods = channel.methods.join(",");
        check_text(
            &format!("the methods of HTTP channel `{}`", channel.name),
            &methods,
        )?;
        let result = sqlx::query(self.sql(
            "INSERT INTO http_channel (name, path, methods, service, data_format, timeout_ms, \
             security, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        ))
        .bind(&channel.name)
        .bind(&channel.path)
        .bind(methods)
        .bind(&channel.service)
        .bind(channel.data_format.as_str())
        .bind(channel.timeout_ms as i64)
        .bind(channel.security.as_deref())
        .bind(now_ms())
        .execute(&self.pool)
        .await;
        match result {
            Ok(_) => Ok(()),
            Err(sqlx::Error::Database(e)) if e.is_foreign_key_violation() => {
                Err(no_such_definition(channel.security.as_deref()))
            }
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                // Which key was taken, said as it is.
                let taken = self.http_channels().await?;
                Err(OdbError::Conflict(
                    if taken.iter().any(|c| c.name == channel.name) {
                        format!("an HTTP channel named `{}` exists already", channel.name)
                    } else {
                        format!(
                            "the path `{}` is taken by another HTTP channel",
                            channel.path
                        )
                    },
                ))
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn http_channel(&self, name: &str) -> OdbResult<Option<HttpChannel>> {
        if !findable(name) {
            return Ok(None);
        }
        // Through the list, which decodes rows in one place; names are compared here,
        // exactly (MySQL's `=` ignores trailing spaces).
        Ok(self
            .http_channels()
            .await?
            .into_iter()
            .find(|c| c.name == name))
    }

    async fn update_http_channel(&self, name: &str, channel: &HttpChannel) -> OdbResult<bool> {
        if !findable(name) {
            return Ok(false);
        }
        check_key("HTTP channel path", &channel.path, LONGEST_PATH)?;
        check_key("service name", &channel.service, LONGEST_KEY)?;
        check_security(channel.security.as_deref())?;
        let methods = channel.methods.join(",");
        check_text(&format!("the methods of HTTP channel `{name}`"), &methods)?;
        let result = sqlx::query(self.sql(
            "UPDATE http_channel SET path = ?, methods = ?, service = ?, data_format = ?, \
             timeout_ms = ?, security = ? WHERE name = ?",
        ))
        .bind(&channel.path)
        .bind(methods)
        .bind(&channel.service)
        .bind(channel.data_format.as_str())
        .bind(channel.timeout_ms as i64)
        .bind(channel.security.as_deref())
        .bind(name)
        .execute(&self.pool)
        .await;
        match result {
            // MySQL counts rows found, not rows changed (sqlx asks for FOUND_ROWS): an
            // update to the same values still finds its channel.
            Ok(done) => Ok(done.rows_affected() > 0),
            Err(sqlx::Error::Database(e)) if e.is_foreign_key_violation() => {
                Err(no_such_definition(channel.security.as_deref()))
            }
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                Err(OdbError::Conflict(format!(
                    "the path `{}` is taken by another HTTP channel",
                    channel.path
                )))
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn delete_http_channel(&self, name: &str) -> OdbResult<bool> {
        if !findable(name) {
            return Ok(false);
        }
        let done = sqlx::query(self.sql("DELETE FROM http_channel WHERE name = ?"))
            .bind(name)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }
}

/// Whether a channel could be named `name`: a name no channel can have (too long, with
/// a trailing space or a control character) is looked up nowhere, so that a NUL, which
/// PostgreSQL refuses in text, cannot fail a lookup.
fn findable(name: &str) -> bool {
    check_key("HTTP channel name", name, LONGEST_KEY).is_ok()
}
