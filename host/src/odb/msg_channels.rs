//! Messaging channels (AMQP, ZeroMQ): named, per type, with the secret stored apart.
//!
//! Table `msg_channel` (`migrations/*/0006_msg_channel.sql`): the type and the name (the
//! key), `active` (1 or 0), the service, the data format, the settings (the admin
//! API's [`MsgChannelSettings`] as JSON, whose `type` every write keeps equal to the
//! row's), the secret (NULL when none is set) and the creation and change times. An
//! update keeps `created_at`.
//!
//! *Invariant*: only [`MessagingChannels::msg_channel_definitions`] reads the secret
//! column; everything the admin API answers comes from the other queries.

use async_trait::async_trait;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::sql::{LONGEST_KEY, check_key, check_text};
use super::{OdbError, OdbResult, SqlOdb, now_ms};
use crate::api::{DataFormat, MsgChannel, MsgChannelInfo, MsgChannelSettings, MsgChannelType};

/// Messaging channels, unique by (type, name).
#[async_trait]
pub trait MessagingChannels: Send + Sync {
    /// Every channel (of one type when `kind` is given), by type then name; no secrets.
    async fn msg_channels(&self, kind: Option<MsgChannelType>) -> OdbResult<Vec<MsgChannelInfo>>;
    /// One channel, without its secret.
    async fn msg_channel(
        &self,
        kind: MsgChannelType,
        name: &str,
    ) -> OdbResult<Option<MsgChannelInfo>>;
    /// Fails with [`OdbError::Conflict`] when a channel of that type has the name.
    async fn create_msg_channel(&self, channel: &MsgChannel) -> OdbResult<MsgChannelInfo>;
    /// Replaces everything but the name and the creation time of the channel `name` of
    /// `channel`'s type. The secret: `None` keeps the stored one, `Some("")` removes
    /// it, `Some(s)` replaces it. `None` when there is no such channel.
    async fn update_msg_channel(
        &self,
        name: &str,
        channel: &MsgChannel,
    ) -> OdbResult<Option<MsgChannelInfo>>;
    /// Returns whether it existed.
    async fn delete_msg_channel(&self, kind: MsgChannelType, name: &str) -> OdbResult<bool>;
    /// Every channel with its secret, for the live consumers.
    async fn msg_channel_definitions(&self) -> OdbResult<Vec<MsgChannel>>;
}

/// A query of what the admin API answers, `$tail` after the table: no secret, only
/// whether one is set.
macro_rules! info_query {
    ($tail:literal) => {
        concat!(
            "SELECT chan_type, name, active, service, data_format, settings, \
             CASE WHEN secret IS NULL THEN 0 ELSE 1 END AS secret_set, created_at, updated_at \
             FROM msg_channel",
            $tail
        )
    };
}

fn findable(name: &str) -> bool {
    check_key("name", name, LONGEST_KEY).is_ok()
}

/// The settings of `channel` as stored, checked to be storable on every backend.
fn settings_of(channel: &MsgChannel) -> OdbResult<String> {
    check_key("channel name", &channel.name, LONGEST_KEY)?;
    check_key("service name", &channel.service, LONGEST_KEY)?;
    let settings = serde_json::to_string(&channel.settings).map_err(|e| {
        OdbError::Invalid(format!("channel `{}` cannot be stored: {e}", channel.name))
    })?;
    check_text(
        &format!("the settings of channel `{}`", channel.name),
        &settings,
    )?;
    if let Some(secret) = &channel.secret {
        check_text(&format!("the secret of channel `{}`", channel.name), secret)?;
    }
    Ok(settings)
}

struct Common {
    kind: MsgChannelType,
    name: String,
    active: bool,
    service: String,
    data_format: DataFormat,
    settings: MsgChannelSettings,
}

fn common(row: &AnyRow) -> OdbResult<Common> {
    let kind: String = row.try_get("chan_type")?;
    let name: String = row.try_get("name")?;
    let settings: MsgChannelSettings = serde_json::from_str(&row.try_get::<String, _>("settings")?)
        .map_err(|e| {
            OdbError::Invalid(format!(
                "the stored settings of {kind} channel `{name}` do not read: {e}"
            ))
        })?;
    if settings.kind().as_str() != kind {
        return Err(OdbError::Invalid(format!(
            "the stored settings of {kind} channel `{name}` are of type {}",
            settings.kind()
        )));
    }
    let format: String = row.try_get("data_format")?;
    let data_format = format.parse().map_err(|e| {
        OdbError::Invalid(format!("the stored data format of channel `{name}`: {e}"))
    })?;
    Ok(Common {
        kind: settings.kind(),
        active: row.try_get::<i64, _>("active")? != 0,
        service: row.try_get("service")?,
        data_format,
        settings,
        name,
    })
}

fn info_row(row: &AnyRow) -> OdbResult<MsgChannelInfo> {
    let c = common(row)?;
    Ok(MsgChannelInfo {
        name: c.name,
        kind: c.kind,
        active: c.active,
        service: c.service,
        data_format: c.data_format,
        settings: c.settings,
        secret_set: row.try_get::<i64, _>("secret_set")? != 0,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn definition_row(row: &AnyRow) -> OdbResult<MsgChannel> {
    let c = common(row)?;
    Ok(MsgChannel {
        name: c.name,
        active: c.active,
        service: c.service,
        data_format: c.data_format,
        settings: c.settings,
        secret: row.try_get("secret")?,
    })
}

#[async_trait]
impl MessagingChannels for SqlOdb {
    async fn msg_channels(&self, kind: Option<MsgChannelType>) -> OdbResult<Vec<MsgChannelInfo>> {
        let rows = match kind {
            None => {
                sqlx::query(self.sql(info_query!(" ORDER BY chan_type, name")))
                    .fetch_all(&self.pool)
                    .await?
            }
            Some(kind) => {
                sqlx::query(self.sql(info_query!(" WHERE chan_type = ? ORDER BY name")))
                    .bind(kind.as_str())
                    .fetch_all(&self.pool)
                    .await?
            }
        };
        let mut out: Vec<MsgChannelInfo> = rows.iter().map(info_row).collect::<OdbResult<_>>()?;
        out.sort_by(|a, b| (a.kind, &a.name).cmp(&(b.kind, &b.name)));
        Ok(out)
    }

    async fn msg_channel(
        &self,
        kind: MsgChannelType,
        name: &str,
    ) -> OdbResult<Option<MsgChannelInfo>> {
        if !findable(name) {
            return Ok(None);
        }
        let row = sqlx::query(self.sql(info_query!(" WHERE chan_type = ? AND name = ?")))
            .bind(kind.as_str())
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(info_row).transpose()
    }

    async fn create_msg_channel(&self, channel: &MsgChannel) -> OdbResult<MsgChannelInfo> {
        let settings = settings_of(channel)?;
        let secret = channel.secret.as_deref().filter(|s| !s.is_empty());
        let now = now_ms();
        let result = sqlx::query(self.sql(
            "INSERT INTO msg_channel (chan_type, name, active, service, data_format, settings, \
             secret, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        ))
        .bind(channel.kind().as_str())
        .bind(&channel.name)
        .bind(i64::from(channel.active))
        .bind(&channel.service)
        .bind(channel.data_format.as_str())
        .bind(&settings)
        .bind(secret)
        .bind(now)
        .bind(now)
        .execute(&self.pool)
        .await;
        match result {
            Ok(_) => Ok(MsgChannelInfo {
                name: channel.name.clone(),
                kind: channel.kind(),
                active: channel.active,
                service: channel.service.clone(),
                data_format: channel.data_format,
                settings: channel.settings.clone(),
                secret_set: secret.is_some(),
                created_at: now,
                updated_at: now,
            }),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                Err(OdbError::Conflict(format!(
                    "a {} channel named `{}` exists already",
                    channel.kind(),
                    channel.name
                )))
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn update_msg_channel(
        &self,
        name: &str,
        channel: &MsgChannel,
    ) -> OdbResult<Option<MsgChannelInfo>> {
        if !findable(name) {
            return Ok(None);
        }
        if channel.name != name {
            return Err(OdbError::Invalid(format!(
                "channel `{name}` cannot be renamed `{}`: a channel's name is its key",
                channel.name
            )));
        }
        let settings = settings_of(channel)?;
        let kind = channel.kind();
        let query = match &channel.secret {
            None => sqlx::query(self.sql(
                "UPDATE msg_channel SET active = ?, service = ?, data_format = ?, settings = ?, \
                 updated_at = ? WHERE chan_type = ? AND name = ?",
            )),
            Some(_) => sqlx::query(self.sql(
                "UPDATE msg_channel SET active = ?, service = ?, data_format = ?, settings = ?, \
                 updated_at = ?, secret = ? WHERE chan_type = ? AND name = ?",
            )),
        };
        let mut query = query
            .bind(i64::from(channel.active))
            .bind(&channel.service)
            .bind(channel.data_format.as_str())
            .bind(&settings)
            .bind(now_ms());
        if let Some(secret) = &channel.secret {
            query = query.bind(Some(secret.as_str()).filter(|s| !s.is_empty()));
        }
        let done = query
            .bind(kind.as_str())
            .bind(name)
            .execute(&self.pool)
            .await?;
        // MySQL counts rows found, not rows changed (sqlx asks for FOUND_ROWS).
        if done.rows_affected() == 0 {
            return Ok(None);
        }
        self.msg_channel(kind, name).await
    }

    async fn delete_msg_channel(&self, kind: MsgChannelType, name: &str) -> OdbResult<bool> {
        if !findable(name) {
            return Ok(false);
        }
        let done =
            sqlx::query(self.sql("DELETE FROM msg_channel WHERE chan_type = ? AND name = ?"))
                .bind(kind.as_str())
                .bind(name)
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn msg_channel_definitions(&self) -> OdbResult<Vec<MsgChannel>> {
        let rows = sqlx::query(self.sql(
            "SELECT chan_type, name, active, service, data_format, settings, secret \
             FROM msg_channel ORDER BY chan_type, name",
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(definition_row).collect()
    }
}
