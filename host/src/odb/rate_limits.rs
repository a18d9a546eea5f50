//! Rate-limit definitions and what they are attached to.
//!
//! Table `rate_limit_def` (`migrations/*/0010_rate_limit.sql`): the name (the key), the
//! lines as a JSON array of strings, whether counting is exact (cluster-wide), and the
//! creation and change times. Table `rate_limit_use`: one definition per object (a
//! security definition, an HTTP or SOAP channel, a service), its foreign key keeping a
//! definition that is attached from deletion and an attachment from naming one that
//! does not exist.

use async_trait::async_trait;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::sql::{LONGEST_KEY, check_key, check_text};
use super::{OdbError, OdbResult, SqlOdb, now_ms};
use crate::api::rate_limit::{LimitedKind, RateLimitInfo, RateLimitUse};

/// Rate-limit definitions, unique by name, and their attachments.
#[async_trait]
pub trait RateLimits: Send + Sync {
    /// Every definition, by name.
    async fn rate_limits(&self) -> OdbResult<Vec<RateLimitInfo>>;
    /// One definition.
    async fn rate_limit(&self, name: &str) -> OdbResult<Option<RateLimitInfo>>;
    /// Fails with [`OdbError::Conflict`] when a definition has the name.
    async fn create_rate_limit(
        &self,
        name: &str,
        rules: &[String],
        exact: bool,
    ) -> OdbResult<RateLimitInfo>;
    /// Replaces the lines and the mode of `name`; `None` when there is none.
    async fn update_rate_limit(
        &self,
        name: &str,
        rules: &[String],
        exact: bool,
    ) -> OdbResult<Option<RateLimitInfo>>;
    /// Whether it existed; [`OdbError::Conflict`] naming what it is attached to.
    async fn delete_rate_limit(&self, name: &str) -> OdbResult<bool>;
    /// Every attachment, by object type and name.
    async fn rate_limit_uses(&self) -> OdbResult<Vec<RateLimitUse>>;
    /// Attaches `rate_limit` to the object (replacing its definition), or detaches its
    /// definition (`None`); [`OdbError::Invalid`] when no definition has the name.
    /// Whether the object had one before.
    async fn attach_rate_limit(
        &self,
        kind: LimitedKind,
        object: &str,
        rate_limit: Option<&str>,
    ) -> OdbResult<bool>;
}

fn info_row(row: &AnyRow) -> OdbResult<RateLimitInfo> {
    let name: String = row.try_get("name")?;
    let rules: Vec<String> =
        serde_json::from_str(&row.try_get::<String, _>("rules")?).map_err(|e| {
            OdbError::Invalid(format!(
                "the stored lines of rate-limit definition `{name}` do not read: {e}"
            ))
        })?;
    Ok(RateLimitInfo {
        rules,
        exact: row.try_get::<i64, _>("exact")? != 0,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        name,
    })
}

fn rules_of(name: &str, rules: &[String]) -> OdbResult<String> {
    check_key("rate-limit definition name", name, LONGEST_KEY)?;
    let json = serde_json::to_string(rules)
        .map_err(|e| OdbError::Invalid(format!("rate-limit definition `{name}`: {e}")))?;
    check_text(
        &format!("the lines of rate-limit definition `{name}`"),
        &json,
    )?;
    Ok(json)
}

/// What the admin API answers, `$tail` after the table.
macro_rules! info_query {
    ($tail:literal) => {
        concat!(
            "SELECT name, rules, exact, created_at, updated_at FROM rate_limit_def",
            $tail
        )
    };
}

#[async_trait]
impl RateLimits for SqlOdb {
    async fn rate_limits(&self) -> OdbResult<Vec<RateLimitInfo>> {
        let rows = sqlx::query(self.sql(info_query!(" ORDER BY name")))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(info_row).collect()
    }

    async fn rate_limit(&self, name: &str) -> OdbResult<Option<RateLimitInfo>> {
        if check_key("name", name, LONGEST_KEY).is_err() {
            return Ok(None);
        }
        // Compared here, exactly (MySQL's `=` ignores trailing spaces).
        Ok(self
            .rate_limits()
            .await?
            .into_iter()
            .find(|r| r.name == name))
    }

    async fn create_rate_limit(
        &self,
        name: &str,
        rules: &[String],
        exact: bool,
    ) -> OdbResult<RateLimitInfo> {
        let json = rules_of(name, rules)?;
        let now = now_ms();
        let done = sqlx::query(self.sql(
            "INSERT INTO rate_limit_def (name, rules, exact, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?)",
        ))
        .bind(name)
        .bind(json)
        .bind(i64::from(exact))
        .bind(now)
        .bind(now)
        .execute(&self.pool)
        .await;
        match done {
            Ok(_) => self.rate_limit(name).await?.ok_or_else(|| {
                OdbError::Invalid(format!("rate-limit definition `{name}` vanished"))
            }),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(OdbError::Conflict(
                format!("a rate-limit definition named `{name}` exists already"),
            )),
            Err(e) => Err(e.into()),
        }
    }

    async fn update_rate_limit(
        &self,
        name: &str,
        rules: &[String],
        exact: bool,
    ) -> OdbResult<Option<RateLimitInfo>> {
        if check_key("name", name, LONGEST_KEY).is_err() {
            return Ok(None);
        }
        let json = rules_of(name, rules)?;
        let done =
            sqlx::query(self.sql(
                "UPDATE rate_limit_def SET rules = ?, exact = ?, updated_at = ? WHERE name = ?",
            ))
            .bind(json)
            .bind(i64::from(exact))
            .bind(now_ms())
            .bind(name)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Ok(None);
        }
        self.rate_limit(name).await
    }

    async fn delete_rate_limit(&self, name: &str) -> OdbResult<bool> {
        if check_key("name", name, LONGEST_KEY).is_err() {
            return Ok(false);
        }
        let done = sqlx::query(self.sql("DELETE FROM rate_limit_def WHERE name = ?"))
            .bind(name)
            .execute(&self.pool)
            .await;
        match done {
            Ok(done) => Ok(done.rows_affected() > 0),
            Err(sqlx::Error::Database(e)) if e.is_foreign_key_violation() => {
                let users: Vec<String> = self
                    .rate_limit_uses()
                    .await?
                    .into_iter()
                    .filter(|u| u.rate_limit == name)
                    .map(|u| format!("{} `{}`", u.kind.describe(), u.object))
                    .collect();
                Err(OdbError::Conflict(format!(
                    "rate-limit definition `{name}` is attached to {}: detach it first",
                    users.join(", ")
                )))
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn rate_limit_uses(&self) -> OdbResult<Vec<RateLimitUse>> {
        let rows = sqlx::query(self.sql(
            "SELECT object_type, object_name, rate_limit FROM rate_limit_use \
             ORDER BY object_type, object_name",
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let kind: String = row.try_get("object_type")?;
                Ok(RateLimitUse {
                    kind: kind.parse().map_err(OdbError::Invalid)?,
                    object: row.try_get("object_name")?,
                    rate_limit: row.try_get("rate_limit")?,
                })
            })
            .collect()
    }

    async fn attach_rate_limit(
        &self,
        kind: LimitedKind,
        object: &str,
        rate_limit: Option<&str>,
    ) -> OdbResult<bool> {
        check_key(&format!("{} name", kind.describe()), object, LONGEST_KEY)?;
        if let Some(rate_limit) = rate_limit {
            check_key("rate-limit definition name", rate_limit, LONGEST_KEY)?;
        }
        let replace = || async move {
            let mut tx = self.begin().await?;
            let removed = sqlx::query(
                self.sql("DELETE FROM rate_limit_use WHERE object_type = ? AND object_name = ?"),
            )
            .bind(kind.as_str())
            .bind(object)
            .execute(&mut *tx)
            .await?
            .rows_affected()
                > 0;
            if let Some(rate_limit) = rate_limit {
                sqlx::query(self.sql(
                    "INSERT INTO rate_limit_use (object_type, object_name, rate_limit) \
                     VALUES (?, ?, ?)",
                ))
                .bind(kind.as_str())
                .bind(object)
                .bind(rate_limit)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok(removed)
        };
        let what = format!("attach a rate limit to {} `{object}`", kind.describe());
        match self.retry(what, replace).await {
            Err(OdbError::Database(sqlx::Error::Database(e))) if e.is_foreign_key_violation() => {
                Err(OdbError::Invalid(format!(
                    "there is no rate-limit definition named `{}`",
                    rate_limit.unwrap_or_default()
                )))
            }
            other => other,
        }
    }
}
