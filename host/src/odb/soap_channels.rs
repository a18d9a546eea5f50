//! SOAP channels: the paths where SOAP clients call services, and which services.

use async_trait::async_trait;
use sqlx::Row;

use super::security::{check_security, no_such_definition};
use super::sql::{LONGEST_KEY, check_key, check_text};
use super::{OdbError, OdbResult, SqlOdb, now_ms};
use crate::api::{SoapChannel, SoapVersion};

/// The longest channel path: `VARCHAR(700)`, as long as MySQL can index whole.
const LONGEST_PATH: usize = 700;

/// SOAP channels, unique by name and by path.
#[async_trait]
pub trait SoapChannels: Send + Sync {
    /// Every SOAP channel, sorted by name.
    async fn soap_channels(&self) -> OdbResult<Vec<SoapChannel>>;
    /// Fails with [`OdbError::Conflict`] when the name or the path is taken.
    async fn create_soap_channel(&self, channel: &SoapChannel) -> OdbResult<()>;
    /// The channel named `name`, if there is one.
    async fn soap_channel(&self, name: &str) -> OdbResult<Option<SoapChannel>>;
    /// Replaces everything but the name of the channel named `name` with `channel`'s;
    /// returns whether it existed. Fails with [`OdbError::Conflict`] when another SOAP
    /// channel has the path.
    async fn update_soap_channel(&self, name: &str, channel: &SoapChannel) -> OdbResult<bool>;
    /// Returns whether the channel existed.
    async fn delete_soap_channel(&self, name: &str) -> OdbResult<bool>;
}

/// A channel's columns as stored: every value checked for every backend.
struct Columns {
    services: String,
    versions: String,
}

fn columns(channel: &SoapChannel) -> OdbResult<Columns> {
    check_key("SOAP channel path", &channel.path, LONGEST_PATH)?;
    check_security(channel.security.as_deref())?;
    if channel.services.is_empty() {
        return Err(OdbError::Invalid(format!(
            "SOAP channel `{}` names no service",
            channel.name
        )));
    }
    for service in &channel.services {
        check_key("service name", service, LONGEST_KEY)?;
        if service.contains(',') {
            return Err(OdbError::Invalid(format!(
                "service name `{service}` contains a comma"
            )));
        }
    }
    check_text(
        &format!("the namespace of SOAP channel `{}`", channel.name),
        &channel.namespace,
    )?;
    let versions = channel
        .versions
        .iter()
        .map(|v| version_text(*v))
        .collect::<Vec<_>>()
        .join(",");
    Ok(Columns {
        services: channel.services.join(","),
        versions,
    })
}

fn version_text(version: SoapVersion) -> &'static str {
    match version {
        SoapVersion::V11 => "1.1",
        SoapVersion::V12 => "1.2",
    }
}

fn parse_version(text: &str) -> OdbResult<SoapVersion> {
    match text {
        "1.1" => Ok(SoapVersion::V11),
        "1.2" => Ok(SoapVersion::V12),
        other => Err(OdbError::Invalid(format!("unknown SOAP version `{other}`"))),
    }
}

#[async_trait]
impl SoapChannels for SqlOdb {
    async fn soap_channels(&self) -> OdbResult<Vec<SoapChannel>> {
        let rows = sqlx::query(self.sql(
            "SELECT name, path, services, versions, timeout_ms, namespace, security \
             FROM soap_channel ORDER BY name",
        ))
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let services: String = row.try_get("services")?;
            let versions: String = row.try_get("versions")?;
            out.push(SoapChannel {
                name: row.try_get("name")?,
                path: row.try_get("path")?,
                services: services
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect(),
                versions: versions
                    .split(',')
                    .filter(|v| !v.is_empty())
                    .map(parse_version)
                    .collect::<OdbResult<_>>()?,
                timeout_ms: row.try_get::<i64, _>("timeout_ms")?.max(0) as u64,
                namespace: row.try_get("namespace")?,
                security: row.try_get("security")?,
            });
        }
        Ok(out)
    }

    async fn create_soap_channel(&self, channel: &SoapChannel) -> OdbResult<()> {
        check_key("SOAP channel name", &channel.name, LONGEST_KEY)?;
        let columns = columns(channel)?;
        let result = sqlx::query(self.sql(
            "INSERT INTO soap_channel (name, path, services, versions, timeout_ms, namespace, \
             security, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        ))
        .bind(&channel.name)
        .bind(&channel.path)
        .bind(columns.services)
        .bind(columns.versions)
        .bind(channel.timeout_ms as i64)
        .bind(&channel.namespace)
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
                let taken = self.soap_channels().await?;
                Err(OdbError::Conflict(
                    if taken.iter().any(|c| c.name == channel.name) {
                        format!("a SOAP channel named `{}` exists already", channel.name)
                    } else {
                        format!(
                            "the path `{}` is taken by another SOAP channel",
                            channel.path
                        )
                    },
                ))
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn soap_channel(&self, name: &str) -> OdbResult<Option<SoapChannel>> {
        if !findable(name) {
            return Ok(None);
        }
        // Names are compared here, exactly (MySQL's `=` ignores trailing spaces).
        Ok(self
            .soap_channels()
            .await?
            .into_iter()
            .find(|c| c.name == name))
    }

    async fn update_soap_channel(&self, name: &str, channel: &SoapChannel) -> OdbResult<bool> {
        if !findable(name) {
            return Ok(false);
        }
        let columns = columns(channel)?;
        let result = sqlx::query(self.sql(
            "UPDATE soap_channel SET path = ?, services = ?, versions = ?, timeout_ms = ?, \
             namespace = ?, security = ? WHERE name = ?",
        ))
        .bind(&channel.path)
        .bind(columns.services)
        .bind(columns.versions)
        .bind(channel.timeout_ms as i64)
        .bind(&channel.namespace)
        .bind(channel.security.as_deref())
        .bind(name)
        .execute(&self.pool)
        .await;
        match result {
            // MySQL counts rows found, not rows changed.
            Ok(done) => Ok(done.rows_affected() > 0),
            Err(sqlx::Error::Database(e)) if e.is_foreign_key_violation() => {
                Err(no_such_definition(channel.security.as_deref()))
            }
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                Err(OdbError::Conflict(format!(
                    "the path `{}` is taken by another SOAP channel",
                    channel.path
                )))
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn delete_soap_channel(&self, name: &str) -> OdbResult<bool> {
        if !findable(name) {
            return Ok(false);
        }
        let done = sqlx::query(self.sql("DELETE FROM soap_channel WHERE name = ?"))
            .bind(name)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }
}

/// Whether a channel could be named `name` (see `channels::findable`).
fn findable(name: &str) -> bool {
    check_key("SOAP channel name", name, LONGEST_KEY).is_ok()
}
