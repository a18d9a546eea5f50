//! HTTP channels: the paths the server answers and the service each one calls.

use async_trait::async_trait;
use sqlx::Row;

use super::sql::{LONGEST_KEY, check_key, check_text, storable};
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
    /// Returns whether the channel existed.
    async fn delete_http_channel(&self, name: &str) -> OdbResult<bool>;
}

#[async_trait]
impl HttpChannels for SqlOdb {
    async fn http_channels(&self) -> OdbResult<Vec<HttpChannel>> {
        let rows = sqlx::query(self.sql(
            "SELECT name, path, methods, service, data_format, timeout_ms FROM http_channel ORDER BY name",
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
            });
        }
        Ok(out)
    }

    async fn create_http_channel(&self, channel: &HttpChannel) -> OdbResult<()> {
        check_key("HTTP channel name", &channel.name, LONGEST_KEY)?;
        check_key("HTTP channel path", &channel.path, LONGEST_PATH)?;
        check_key("service name", &channel.service, LONGEST_KEY)?;
        let methods = channel.methods.join(",");
        check_text(
            &format!("the methods of HTTP channel `{}`", channel.name),
            &methods,
        )?;
        let result = sqlx::query(self.sql(
            "INSERT INTO http_channel (name, path, methods, service, data_format, timeout_ms, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        ))
        .bind(&channel.name)
        .bind(&channel.path)
        .bind(methods)
        .bind(&channel.service)
        .bind(channel.data_format.as_str())
        .bind(channel.timeout_ms as i64)
        .bind(now_ms())
        .execute(&self.pool)
        .await;
        match result {
            Ok(_) => Ok(()),
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

    async fn delete_http_channel(&self, name: &str) -> OdbResult<bool> {
        if !storable(name) {
            return Ok(false);
        }
        let done = sqlx::query(self.sql("DELETE FROM http_channel WHERE name = ?"))
            .bind(name)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }
}
