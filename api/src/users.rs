//! Admin API users: who may use the admin API (the CLI, scripts, the web admin's calls)
//! besides the admin of each server's `server.toml`. Passwords are write-only: the
//! servers keep an argon2id hash of each, never the password.

use serde::{Deserialize, Serialize};

/// The shortest admin password accepted, in characters.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// The longest username, in bytes.
pub const MAX_USERNAME_BYTES: usize = 255;

/// What is wrong with `username`, naming it.
pub fn check_username(username: &str) -> Result<(), String> {
    if username.is_empty() || username.len() > MAX_USERNAME_BYTES {
        return Err(format!(
            "`username` must be 1 to {MAX_USERNAME_BYTES} bytes long"
        ));
    }
    if username.contains(':')
        || username
            .chars()
            .any(|c| c.is_control() || c.is_whitespace())
    {
        return Err(format!(
            "`username` `{}` has `:`, a space or a control character, which basic auth \
             cannot carry",
            username.escape_debug()
        ));
    }
    Ok(())
}

/// What is wrong with `password` as an admin password.
pub fn check_password(password: &str) -> Result<(), String> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(format!(
            "`password` has {chars} characters: an admin password needs at least \
             {MIN_PASSWORD_CHARS}"
        ));
    }
    if password.chars().any(char::is_control) {
        return Err("`password` has a control character".into());
    }
    Ok(())
}

/// A user as it is created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewAdminUser {
    /// Unique; what the user logs in as.
    pub username: String,
    /// Never answered; kept as an argon2id hash.
    pub password: String,
}

/// Where a user is defined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum UserSource {
    /// `server.toml`'s `[admin]`: changed there, not through the API.
    Config,
    /// The ODB: created, changed and deleted through the API, on every server at once.
    Odb,
}

/// A user as the admin API answers it: no password, no hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AdminUserInfo {
    /// What the user logs in as.
    pub username: String,
    /// Where the user is defined.
    pub source: UserSource,
    /// Creation, ms since the Unix epoch (none for the configuration's admin).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<i64>,
    /// Last password change, ms since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<i64>,
}

/// A new password.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    /// Never answered; kept as an argon2id hash.
    pub password: String,
}

/// What a delete answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeletedAdminUser {
    /// The user deleted.
    pub username: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_and_passwords_are_checked_naming_the_field() {
        assert!(check_username("ops.alice").is_ok());
        assert!(check_username("").unwrap_err().contains("`username`"));
        assert!(check_username("a:b").unwrap_err().contains("`:`"));
        assert!(check_username("a b").is_err());
        assert!(check_password("correct horse battery").is_ok());
        assert!(check_password("short").unwrap_err().contains("at least 12"));
        assert!(check_password("twelve chars\n!").is_err());
    }
}
