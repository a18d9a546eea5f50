//! Admin API users: table `admin_user` (`migrations/*/0011_admin_user.sql`), the
//! username (the key), an argon2id hash of the password, and the creation and change
//! times. *Invariant*: only [`AdminUsers::admin_user_hashes`] reads the hash; what the
//! admin API answers comes from [`AdminUsers::admin_users`].

use async_trait::async_trait;
use sqlx::Row;

use super::sql::{LONGEST_KEY, check_key, check_text};
use super::{OdbError, OdbResult, SqlOdb, now_ms};

/// A user as listed: username, creation and change times.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRow {
    pub username: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Admin API users, unique by username.
#[async_trait]
pub trait AdminUsers: Send + Sync {
    /// Every user, by username; no hashes.
    async fn admin_users(&self) -> OdbResult<Vec<UserRow>>;
    /// Every user with the hash of its password, for the servers' live table.
    async fn admin_user_hashes(&self) -> OdbResult<Vec<(String, String)>>;
    /// Fails with [`OdbError::Conflict`] when the username is taken.
    async fn create_admin_user(&self, username: &str, hash: &str) -> OdbResult<UserRow>;
    /// Replaces the hash; whether the user existed.
    async fn change_admin_password(&self, username: &str, hash: &str) -> OdbResult<bool>;
    /// Whether the user existed.
    async fn delete_admin_user(&self, username: &str) -> OdbResult<bool>;
}

fn findable(username: &str) -> bool {
    check_key("username", username, LONGEST_KEY).is_ok()
}

#[async_trait]
impl AdminUsers for SqlOdb {
    async fn admin_users(&self) -> OdbResult<Vec<UserRow>> {
        let rows = sqlx::query(
            self.sql("SELECT username, created_at, updated_at FROM admin_user ORDER BY username"),
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(UserRow {
                    username: row.try_get("username")?,
                    created_at: row.try_get("created_at")?,
                    updated_at: row.try_get("updated_at")?,
                })
            })
            .collect()
    }

    async fn admin_user_hashes(&self) -> OdbResult<Vec<(String, String)>> {
        let rows = sqlx::query(
            self.sql("SELECT username, password_hash FROM admin_user ORDER BY username"),
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| Ok((row.try_get("username")?, row.try_get("password_hash")?)))
            .collect()
    }

    async fn create_admin_user(&self, username: &str, hash: &str) -> OdbResult<UserRow> {
        check_key("username", username, LONGEST_KEY)?;
        check_text(&format!("the password hash of `{username}`"), hash)?;
        let now = now_ms();
        let done = sqlx::query(self.sql(
            "INSERT INTO admin_user (username, password_hash, created_at, updated_at) \
             VALUES (?, ?, ?, ?)",
        ))
        .bind(username)
        .bind(hash)
        .bind(now)
        .bind(now)
        .execute(&self.pool)
        .await;
        match done {
            Ok(_) => Ok(UserRow {
                username: username.to_owned(),
                created_at: now,
                updated_at: now,
            }),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(OdbError::Conflict(
                format!("an admin user named `{username}` exists already"),
            )),
            Err(e) => Err(e.into()),
        }
    }

    async fn change_admin_password(&self, username: &str, hash: &str) -> OdbResult<bool> {
        if !findable(username) {
            return Ok(false);
        }
        check_text(&format!("the password hash of `{username}`"), hash)?;
        let done = sqlx::query(
            self.sql("UPDATE admin_user SET password_hash = ?, updated_at = ? WHERE username = ?"),
        )
        .bind(hash)
        .bind(now_ms())
        .bind(username)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_admin_user(&self, username: &str) -> OdbResult<bool> {
        if !findable(username) {
            return Ok(false);
        }
        let done = sqlx::query(self.sql("DELETE FROM admin_user WHERE username = ?"))
            .bind(username)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }
}
