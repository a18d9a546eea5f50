//! Security definitions: named ways a channel checks who calls it (HTTP basic auth, API
//! keys), attached to channels by name.
//!
//! A definition's name is unique across its types and follows the service-name rule
//! ([`check_service_name`](crate::check_service_name)). Its secret (a basic-auth
//! password, an API key) is written with [`SecurityDef::secret`] and never read back:
//! servers keep only a hash of it (argon2id for a password, SHA-256 for a key).

use serde::{Deserialize, Serialize};

/// The types of security definition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum SecurityType {
    /// HTTP basic auth: a username and a password, with a realm.
    BasicAuth,
    /// An API key sent in a header.
    Apikey,
}

impl SecurityType {
    /// Every type, in the order above.
    pub const ALL: [SecurityType; 2] = [Self::BasicAuth, Self::Apikey];

    /// The type as it is written in URLs, the CLI and JSON (`basic-auth`, `apikey`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BasicAuth => "basic-auth",
            Self::Apikey => "apikey",
        }
    }
}

impl std::fmt::Display for SecurityType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for SecurityType {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| format!("unknown security type `{s}`: expected basic-auth or apikey"))
    }
}

/// The realm of a basic-auth definition that names none.
pub const DEFAULT_REALM: &str = "zato";
/// The header of an API key definition that names none.
pub const DEFAULT_APIKEY_HEADER: &str = "X-API-Key";
/// The shortest API key accepted, in bytes: keys are stored as unsalted hashes.
pub const MIN_APIKEY_LEN: usize = 16;

fn default_realm() -> String {
    DEFAULT_REALM.into()
}

fn default_header() -> String {
    DEFAULT_APIKEY_HEADER.into()
}

/// HTTP basic auth: who may call, in which realm.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct BasicAuthSettings {
    /// The username callers give.
    pub username: String,
    /// The realm of the `WWW-Authenticate` challenge (default `zato`).
    #[serde(default = "default_realm")]
    pub realm: String,
}

/// An API key: which header carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ApikeySettings {
    /// The request header the key is sent in (default `X-API-Key`).
    #[serde(default = "default_header")]
    pub header: String,
}

/// A definition's settings, by type (`type` names it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum SecuritySettings {
    /// HTTP basic auth.
    BasicAuth(BasicAuthSettings),
    /// An API key.
    Apikey(ApikeySettings),
}

impl SecuritySettings {
    /// The type these settings are of.
    pub fn kind(&self) -> SecurityType {
        match self {
            Self::BasicAuth(_) => SecurityType::BasicAuth,
            Self::Apikey(_) => SecurityType::Apikey,
        }
    }

    /// What is wrong with these settings, naming the field.
    pub fn check(&self) -> Result<(), String> {
        match self {
            Self::BasicAuth(basic) => {
                if basic.username.is_empty() {
                    return Err("`username` is empty".into());
                }
                if basic.username.contains(':') {
                    return Err("`username` contains `:`, which basic auth cannot carry".into());
                }
                if basic.username.chars().any(char::is_control) {
                    return Err("`username` contains a control character".into());
                }
                let printable = |c: char| c.is_ascii_graphic() || c == ' ';
                if basic.realm.is_empty()
                    || !basic.realm.chars().all(printable)
                    || basic.realm.contains(['"', '\\'])
                {
                    return Err(format!(
                        "`realm` `{}` must be printable ASCII without `\"` or `\\`",
                        basic.realm.escape_debug()
                    ));
                }
            }
            Self::Apikey(key) => {
                let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
                if key.header.is_empty() || !key.header.chars().all(token) {
                    return Err(format!(
                        "`header` `{}` is not an HTTP header name",
                        key.header.escape_debug()
                    ));
                }
                if ["authorization", "cookie", "host", "content-length"]
                    .contains(&key.header.to_ascii_lowercase().as_str())
                {
                    return Err(format!(
                        "`header` `{}` is one HTTP itself uses: name another (X-API-Key, say)",
                        key.header
                    ));
                }
            }
        }
        Ok(())
    }

    /// What is wrong with `secret` as these settings' password or key.
    pub fn check_secret(&self, secret: &str) -> Result<(), String> {
        match self {
            Self::BasicAuth(_) if secret.is_empty() => Err("the password is empty".into()),
            Self::Apikey(_) if secret.len() < MIN_APIKEY_LEN => Err(format!(
                "the key is {} bytes long: an API key needs at least {MIN_APIKEY_LEN}",
                secret.len()
            )),
            Self::Apikey(_) if secret.chars().any(|c| !c.is_ascii_graphic()) => Err(
                "the key must be printable ASCII without spaces (it travels in a header)".into(),
            ),
            _ => Ok(()),
        }
    }
}

/// A definition as it is created or edited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SecurityDef {
    /// Unique across types; channels name it.
    pub name: String,
    /// The type and its settings.
    pub settings: SecuritySettings,
    /// The password or key: required to create, kept when absent on an edit. Never
    /// answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

impl SecurityDef {
    /// The type of this definition.
    pub fn kind(&self) -> SecurityType {
        self.settings.kind()
    }
}

/// A definition as the admin API answers it: no secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SecurityDefInfo {
    /// Unique across types; channels name it.
    pub name: String,
    /// The type (also in `settings`).
    #[serde(rename = "type")]
    pub kind: SecurityType,
    /// The type and its settings.
    pub settings: SecuritySettings,
    /// Creation, ms since the Unix epoch.
    pub created_at: i64,
    /// Last change, ms since the Unix epoch.
    pub updated_at: i64,
}

/// A new password or key for a definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SecretChange {
    /// The new password or key.
    pub secret: String,
}

/// What a delete answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeletedSecurityDef {
    /// The definition deleted.
    pub name: String,
    /// Its type.
    #[serde(rename = "type")]
    pub kind: SecurityType,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_read_with_their_defaults_and_are_checked() {
        let basic: SecuritySettings =
            serde_json::from_str(r#"{"type": "basic-auth", "username": "partner"}"#).unwrap();
        assert_eq!(
            basic,
            SecuritySettings::BasicAuth(BasicAuthSettings {
                username: "partner".into(),
                realm: "zato".into()
            })
        );
        assert!(basic.check().is_ok());
        let key: SecuritySettings = serde_json::from_str(r#"{"type": "apikey"}"#).unwrap();
        assert_eq!(key.kind(), SecurityType::Apikey);
        assert!(key.check().is_ok());
        assert!(key.check_secret("short").unwrap_err().contains("16"));
        assert!(key.check_secret("0123456789abcdef").is_ok());

        let bad = |json: &str| {
            serde_json::from_str::<SecuritySettings>(json)
                .unwrap()
                .check()
                .unwrap_err()
        };
        assert!(bad(r#"{"type": "basic-auth", "username": "a:b"}"#).contains("username"));
        assert!(
            bad(r#"{"type": "basic-auth", "username": "a", "realm": "x\"y"}"#).contains("realm")
        );
        assert!(bad(r#"{"type": "apikey", "header": "X Key"}"#).contains("header"));
        assert!(bad(r#"{"type": "apikey", "header": "Authorization"}"#).contains("Authorization"));
        assert_eq!("apikey".parse::<SecurityType>(), Ok(SecurityType::Apikey));
        assert!(
            "jwt"
                .parse::<SecurityType>()
                .unwrap_err()
                .contains("basic-auth")
        );
    }
}
