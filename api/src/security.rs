//! Security definitions: named ways a channel checks who calls it (HTTP basic auth, API
//! keys, JWT, TLS client certificates), attached to channels by name.
//!
//! A definition's name is unique across its types and follows the service-name rule
//! ([`check_service_name`](crate::check_service_name)). Its secret (a basic-auth
//! password, an API key, a JWT signing key) is written with [`SecurityDef::secret`] and
//! never read back: servers keep only a hash of a password or an API key (argon2id,
//! SHA-256); a JWT signing key, which signing needs whole, is kept as it is and never
//! answered, like an outgoing connection's password. A client-certificate definition has
//! no secret: its CA certificate and the subject it requires are public.

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
    /// A JSON Web Token (`Authorization: Bearer`), issued by `/zato/jwt/log-in` for a
    /// basic-auth definition's username and password.
    Jwt,
    /// A TLS client certificate signed by a given CA, with given subject fields.
    Tls,
}

impl SecurityType {
    /// Every type, in the order above.
    pub const ALL: [SecurityType; 4] = [Self::BasicAuth, Self::Apikey, Self::Jwt, Self::Tls];

    /// The type as it is written in URLs, the CLI and JSON (`basic-auth`, `apikey`,
    /// `jwt`, `tls`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BasicAuth => "basic-auth",
            Self::Apikey => "apikey",
            Self::Jwt => "jwt",
            Self::Tls => "tls",
        }
    }

    /// Whether definitions of this type have a secret (a password or a key).
    pub fn has_secret(self) -> bool {
        self != Self::Tls
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
            .ok_or_else(|| {
                format!("unknown security type `{s}`: expected basic-auth, apikey, jwt or tls")
            })
    }
}

/// The realm of a basic-auth definition that names none.
pub const DEFAULT_REALM: &str = "zato";
/// The header of an API key definition that names none.
pub const DEFAULT_APIKEY_HEADER: &str = "X-API-Key";
/// The shortest API key accepted, in bytes: keys are stored as unsalted hashes.
pub const MIN_APIKEY_LEN: usize = 16;
/// The shortest HS256 key accepted, in bytes (the hash's output size, RFC 7518 3.2).
pub const MIN_HS256_KEY_LEN: usize = 32;
/// How long a token lives when a JWT definition says nothing, in seconds.
pub const DEFAULT_JWT_TTL_S: u64 = 3600;
/// The longest life of a token, in seconds (30 days).
pub const MAX_JWT_TTL_S: u64 = 30 * 86_400;

fn default_ttl() -> u64 {
    DEFAULT_JWT_TTL_S
}

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

/// How a JWT definition signs and checks its tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum JwtAlgorithm {
    /// HMAC with SHA-256: one shared key signs and checks.
    HS256,
    /// RSA PKCS#1 v1.5 with SHA-256: a private key signs, its public key checks.
    RS256,
    /// ECDSA on P-256 with SHA-256: a private key signs, its public key checks.
    ES256,
}

impl JwtAlgorithm {
    /// Every algorithm, in the order above.
    pub const ALL: [JwtAlgorithm; 3] = [Self::HS256, Self::RS256, Self::ES256];

    /// Its name in a token's header and here: `HS256`, `RS256`, `ES256`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::HS256 => "HS256",
            Self::RS256 => "RS256",
            Self::ES256 => "ES256",
        }
    }

    /// Whether it signs with a private key and checks with a public one.
    pub fn asymmetric(self) -> bool {
        self != Self::HS256
    }
}

impl std::fmt::Display for JwtAlgorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for JwtAlgorithm {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|a| a.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| format!("unknown JWT algorithm `{s}`: expected HS256, RS256 or ES256"))
    }
}

/// JSON Web Tokens: who may log in for one, and what a token must say.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct JwtSettings {
    /// How tokens are signed: HS256 with the definition's secret as the shared key,
    /// RS256 or ES256 with the secret as the private key (PEM) and `public_key` to check.
    pub algorithm: JwtAlgorithm,
    /// The `iss` of the tokens issued, required of every token checked.
    pub issuer: String,
    /// The `aud` of the tokens issued, required of every token checked.
    pub audience: String,
    /// How long an issued token is valid, in seconds (1 to 30 days' worth).
    #[serde(default = "default_ttl")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 2_592_000))]
    pub ttl_s: u64,
    /// The basic-auth definition whose username and password log in for a token.
    pub login: String,
    /// RS256 and ES256: the public key (PEM) that checks tokens; none for HS256.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<String>,
}

/// The subject fields a client certificate may be required to have, as written in
/// `subject` (`CN=partner`, `O=ACME`): common name, organization, organizational unit,
/// country, state or province, locality.
pub const SUBJECT_FIELDS: [&str; 6] = ["CN", "O", "OU", "C", "ST", "L"];

/// TLS client certificates: which CA must have signed the caller's, and what its subject
/// must say.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ClientCertSettings {
    /// The CA certificate(s), PEM, one of which must have signed the client's
    /// certificate (directly or through the intermediates the client sends).
    pub ca_pem: String,
    /// Subject fields the certificate must have, each with this exact value (one of its
    /// values, when it has several): at least one, of CN, O, OU, C, ST and L.
    #[cfg_attr(feature = "openapi", schema(example = json!({"CN": "partner", "O": "ACME"})))]
    pub subject: std::collections::BTreeMap<String, String>,
}

/// One `FIELD=value` of a required subject (`CN=partner`), the field upper-cased; what
/// is wrong with it, naming it.
pub fn parse_subject_field(text: &str) -> Result<(String, String), String> {
    let Some((field, value)) = text.split_once('=') else {
        return Err(format!(
            "`{}` is not FIELD=value (CN=partner, say)",
            text.escape_debug()
        ));
    };
    let field = field.trim().to_ascii_uppercase();
    if !SUBJECT_FIELDS.contains(&field.as_str()) {
        return Err(format!(
            "unknown subject field `{}`: expected one of {}",
            field.escape_debug(),
            SUBJECT_FIELDS.join(", ")
        ));
    }
    Ok((field, value.trim().to_owned()))
}

/// A required subject as a person reads and writes it: `CN=partner, O=ACME`.
pub fn subject_text(subject: &std::collections::BTreeMap<String, String>) -> String {
    subject
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What `POST /zato/jwt/log-in` takes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwtLogIn {
    /// A username of the basic-auth definition a JWT definition logs in with.
    pub username: String,
    /// Its password.
    pub password: String,
    /// The JWT definition to log in to, when more than one takes this username.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub definition: Option<String>,
}

/// What `POST /zato/jwt/log-in` answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JwtToken {
    /// The token, for `Authorization: Bearer ...`.
    pub token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// When it expires, seconds since the Unix epoch.
    pub expires_at: u64,
    /// The JWT definition that issued it.
    pub definition: String,
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
    /// JSON Web Tokens.
    Jwt(JwtSettings),
    /// TLS client certificates.
    Tls(ClientCertSettings),
}

impl SecuritySettings {
    /// The type these settings are of.
    pub fn kind(&self) -> SecurityType {
        match self {
            Self::BasicAuth(_) => SecurityType::BasicAuth,
            Self::Apikey(_) => SecurityType::Apikey,
            Self::Jwt(_) => SecurityType::Jwt,
            Self::Tls(_) => SecurityType::Tls,
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
            Self::Jwt(jwt) => {
                for (field, value) in [("issuer", &jwt.issuer), ("audience", &jwt.audience)] {
                    if value.is_empty() || value.len() > 255 || value.chars().any(char::is_control)
                    {
                        return Err(format!(
                            "`{field}` must be 1 to 255 characters without control characters"
                        ));
                    }
                }
                if !(1..=MAX_JWT_TTL_S).contains(&jwt.ttl_s) {
                    return Err(format!(
                        "`ttl_s` {} must be from 1 to {MAX_JWT_TTL_S} (30 days)",
                        jwt.ttl_s
                    ));
                }
                if jwt.login.is_empty() {
                    return Err("`login` must name the basic-auth definition that logs in".into());
                }
                match (&jwt.public_key, jwt.algorithm.asymmetric()) {
                    (None, true) => {
                        return Err(format!(
                            "`public_key`: {} checks tokens with a public key (PEM)",
                            jwt.algorithm
                        ));
                    }
                    (Some(_), false) => {
                        return Err(
                            "`public_key`: HS256 signs and checks with the secret alone".into()
                        );
                    }
                    (Some(key), true) if !key.contains("-----BEGIN") => {
                        return Err("`public_key` is not a PEM document".into());
                    }
                    _ => {}
                }
            }
            Self::Tls(cert) => {
                if !cert.ca_pem.contains("-----BEGIN CERTIFICATE-----") {
                    return Err("`ca_pem` holds no PEM certificate".into());
                }
                if cert.subject.is_empty() {
                    return Err(format!(
                        "`subject` is empty: a CA signs many certificates, name at least one \
                         field the caller's must have ({})",
                        SUBJECT_FIELDS.join(", ")
                    ));
                }
                for (field, value) in &cert.subject {
                    if !SUBJECT_FIELDS.contains(&field.as_str()) {
                        return Err(format!(
                            "`subject`: unknown field `{}`: expected one of {}",
                            field.escape_debug(),
                            SUBJECT_FIELDS.join(", ")
                        ));
                    }
                    if value.is_empty() || value.chars().any(char::is_control) {
                        return Err(format!(
                            "`subject`: the value of {field} must be non-empty without \
                             control characters"
                        ));
                    }
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
            Self::Jwt(jwt) if !jwt.algorithm.asymmetric() && secret.len() < MIN_HS256_KEY_LEN => {
                Err(format!(
                    "the HS256 key is {} bytes long: it needs at least {MIN_HS256_KEY_LEN}",
                    secret.len()
                ))
            }
            Self::Jwt(jwt) if jwt.algorithm.asymmetric() && !secret.contains("-----BEGIN") => Err(
                format!("the {} private key is not a PEM document", jwt.algorithm),
            ),
            Self::Tls(_) => Err(
                "a tls definition has no secret: its CA certificate and subject say who may call"
                    .into(),
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
    /// The password or key: required to create (but for a `tls` definition, which has
    /// none), kept when absent on an edit. Never answered.
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
        assert_eq!("jwt".parse::<SecurityType>(), Ok(SecurityType::Jwt));
        assert!(
            "oauth"
                .parse::<SecurityType>()
                .unwrap_err()
                .contains("basic-auth, apikey, jwt or tls")
        );

        // JWT: a public key for RS256 and ES256 only, a long enough HS256 key.
        let jwt = |json: &str| serde_json::from_str::<SecuritySettings>(json).unwrap();
        let hs = jwt(
            r#"{"type": "jwt", "algorithm": "HS256", "issuer": "i", "audience": "a", "login": "p"}"#,
        );
        assert!(hs.check().is_ok());
        assert!(hs.check_secret(&"k".repeat(31)).unwrap_err().contains("32"));
        assert!(hs.check_secret(&"k".repeat(32)).is_ok());
        let rs = jwt(
            r#"{"type": "jwt", "algorithm": "RS256", "issuer": "i", "audience": "a", "login": "p"}"#,
        );
        assert!(rs.check().unwrap_err().contains("public_key"));
        assert!(rs.check_secret("not pem").unwrap_err().contains("PEM"));
        assert!(bad(r#"{"type": "jwt", "algorithm": "HS256", "issuer": "i", "audience": "a", "login": "p", "ttl_s": 0}"#).contains("ttl_s"));
        assert!(bad(r#"{"type": "jwt", "algorithm": "HS256", "issuer": "", "audience": "a", "login": "p"}"#).contains("issuer"));

        // A client certificate: a PEM CA, known subject fields, no secret.
        let pem = "-----BEGIN CERTIFICATE-----\\nMII\\n-----END CERTIFICATE-----";
        let tls = jwt(&format!(
            r#"{{"type": "tls", "ca_pem": "{pem}", "subject": {{"CN": "partner"}}}}"#
        ));
        assert_eq!(tls.kind(), SecurityType::Tls);
        assert!(tls.check().is_ok());
        assert!(tls.check_secret("x").unwrap_err().contains("no secret"));
        assert!(!SecurityType::Tls.has_secret());
        assert!(
            bad(r#"{"type": "tls", "ca_pem": "x", "subject": {"CN": "p"}}"#).contains("ca_pem")
        );
        let no_subject = format!(r#"{{"type": "tls", "ca_pem": "{pem}", "subject": {{}}}}"#);
        assert!(bad(&no_subject).contains("at least one"));
        assert_eq!(
            parse_subject_field(" cn = partner "),
            Ok(("CN".into(), "partner".into()))
        );
        assert!(
            parse_subject_field("partner")
                .unwrap_err()
                .contains("FIELD=value")
        );
        assert!(parse_subject_field("E=x").unwrap_err().contains("`E`"));
        let unknown = format!(r#"{{"type": "tls", "ca_pem": "{pem}", "subject": {{"XX": "p"}}}}"#);
        assert!(bad(&unknown).contains("`XX`"));
    }
}
