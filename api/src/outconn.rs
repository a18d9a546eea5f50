//! Outgoing connections: the named, administrator-configured ways a service reaches
//! other systems (HTTP/REST, SOAP, SQL, FTP, AMQP, ZeroMQ). A service names a connection; it never
//! gives an address of its own.
//!
//! A connection's name is unique within its type and follows the service-name rule
//! ([`check_service_name`](crate::check_service_name)). Its secret (a password, a
//! bearer token, an API key) is written with [`Outconn::secret`] and never read back:
//! [`OutconnInfo`] says only whether one is set.

use serde::{Deserialize, Serialize};

pub use crate::messaging::{AmqpSettings, ZmqOutSocket, ZmqSettings};

/// The four types of outgoing connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum OutconnType {
    /// HTTP/REST.
    Http,
    /// SOAP over HTTP.
    Soap,
    /// An SQL database: PostgreSQL, MySQL/MariaDB or SQLite.
    Sql,
    /// FTP or FTPS.
    Ftp,
    /// AMQP (publishing, with publisher confirms).
    Amqp,
    /// ZeroMQ (a PUSH or PUB socket).
    Zmq,
}

impl OutconnType {
    /// Every type, in the order above.
    pub const ALL: [OutconnType; 6] = [
        Self::Http,
        Self::Soap,
        Self::Sql,
        Self::Ftp,
        Self::Amqp,
        Self::Zmq,
    ];

    /// The type as it is written in URLs, the CLI and JSON (`http`, `soap`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Soap => "soap",
            Self::Sql => "sql",
            Self::Ftp => "ftp",
            Self::Amqp => "amqp",
            Self::Zmq => "zmq",
        }
    }
}

impl std::fmt::Display for OutconnType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for OutconnType {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| {
                format!("unknown connection type `{s}`: one of http, soap, sql, ftp, amqp, zmq")
            })
    }
}

/// An outgoing connection as it is created and edited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Outconn {
    /// Unique name of the connection within its type; services use it.
    #[cfg_attr(feature = "openapi", schema(example = "crm"))]
    pub name: String,
    /// An inactive connection keeps its definition; services calling it get an error.
    #[serde(default = "yes")]
    pub active: bool,
    /// The type and its settings, told apart by `type`.
    pub settings: OutconnSettings,
    /// The password, token or key (write-only, never read back). On an edit, absent
    /// keeps the one stored and an empty string removes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

fn yes() -> bool {
    true
}

impl Outconn {
    /// The connection's type, from its settings.
    pub fn kind(&self) -> OutconnType {
        self.settings.kind()
    }
}

/// A connection's settings, one kind per type, told apart by `type`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OutconnSettings {
    /// HTTP/REST.
    Http(HttpSettings),
    /// SOAP over HTTP.
    Soap(SoapSettings),
    /// SQL.
    Sql(SqlSettings),
    /// FTP or FTPS.
    Ftp(FtpSettings),
    /// AMQP.
    Amqp(AmqpSettings),
    /// ZeroMQ.
    Zmq(ZmqSettings),
}

impl OutconnSettings {
    /// The type these settings are of.
    pub fn kind(&self) -> OutconnType {
        match self {
            Self::Http(_) => OutconnType::Http,
            Self::Soap(_) => OutconnType::Soap,
            Self::Sql(_) => OutconnType::Sql,
            Self::Ftp(_) => OutconnType::Ftp,
            Self::Amqp(_) => OutconnType::Amqp,
            Self::Zmq(_) => OutconnType::Zmq,
        }
    }
}

/// An HTTP/REST connection: a base URL a service's paths are joined to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct HttpSettings {
    /// Base URL (`http` or `https`), e.g. `https://crm.example.com/api`. A service's
    /// path is joined under it and can never leave its host, port and path prefix.
    #[cfg_attr(feature = "openapi", schema(example = "http://127.0.0.1:8080/api"))]
    pub address: String,
    /// Each call's timeout, in ms (also bounded by the calling request's deadline);
    /// 0 means 10 s.
    #[serde(default)]
    pub timeout_ms: u64,
    /// Idle connections kept per host; 0 means 20.
    #[serde(default)]
    pub pool_size: u32,
    /// Whether a TLS server's certificate is verified (true unless turned off).
    #[serde(default = "yes")]
    pub tls_verify: bool,
    /// Extra trusted CA certificates, PEM, for a server with a private CA.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_pem: Option<String>,
    /// How calls authenticate; the secret holds the password, token or key.
    #[serde(default)]
    pub auth: HttpAuth,
    /// Headers sent with every call (a service's own headers of the same name win).
    #[serde(default)]
    pub headers: Vec<Header>,
    /// How many times an idempotent call (GET, HEAD, OPTIONS, PUT, DELETE) that got no
    /// answer is retried; at most 5.
    #[serde(default)]
    pub retries: u32,
    /// The method `ping` sends to the base URL; `HEAD` by default.
    #[serde(default = "head")]
    pub ping_method: String,
}

fn head() -> String {
    "HEAD".to_owned()
}

/// One header: a name and a value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Header {
    /// The header's name, e.g. `X-Client`.
    pub name: String,
    /// Its value.
    pub value: String,
}

/// How an HTTP or SOAP connection authenticates, told apart by `kind`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum HttpAuth {
    /// No credentials.
    #[default]
    None,
    /// HTTP basic: this user name, the secret as the password.
    Basic {
        /// The user name.
        username: String,
    },
    /// `Authorization: Bearer` with the secret as the token.
    Bearer,
    /// The secret as the value of a header, e.g. `X-API-Key`.
    ApiKey {
        /// The header's name.
        header: String,
    },
}

/// A SOAP connection: an HTTP one plus the SOAP version and a default SOAPAction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SoapSettings {
    /// The endpoint's HTTP settings (`address` is the endpoint's URL).
    pub http: HttpSettings,
    /// SOAP 1.1 or 1.2.
    #[serde(default)]
    pub version: SoapVersion,
    /// The SOAPAction sent when a call names none.
    #[serde(default)]
    pub soap_action: String,
}

/// A SOAP version.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum SoapVersion {
    /// SOAP 1.1 (`text/xml`, a `SOAPAction` header).
    #[default]
    #[serde(rename = "1.1")]
    V11,
    /// SOAP 1.2 (`application/soap+xml` with an `action` parameter).
    #[serde(rename = "1.2")]
    V12,
}

/// An SQL connection: a pool to one database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SqlSettings {
    /// The database's URL without its password (the secret), which also says the
    /// engine: `postgres://billing@127.0.0.1:5432/billing`,
    /// `mysql://root@127.0.0.1:3306/test`, `sqlite:///var/lib/zato/app.db`.
    #[cfg_attr(
        feature = "openapi",
        schema(example = "postgres://billing@127.0.0.1:5432/billing")
    )]
    pub url: String,
    /// The pool's most connections; 0 means 5.
    #[serde(default)]
    pub pool_size: u32,
    /// Each call's timeout, in ms (also bounded by the request's deadline); 0 means 10 s.
    #[serde(default)]
    pub timeout_ms: u64,
    /// The most rows a query returns; 0 means 1,000.
    #[serde(default)]
    pub max_rows: u32,
}

/// An FTP or FTPS connection; each call opens its own session, as Zato does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct FtpSettings {
    /// The server's host name or address.
    #[cfg_attr(feature = "openapi", schema(example = "127.0.0.1"))]
    pub host: String,
    /// Its port; 0 means 21.
    #[serde(default)]
    pub port: u16,
    /// The user name; the secret is the password. `anonymous` by default.
    #[serde(default = "anonymous")]
    pub username: String,
    /// Explicit FTPS (AUTH TLS) when true.
    #[serde(default)]
    pub tls: bool,
    /// FTPS: extra trusted CA certificates, PEM, for a server with a private CA (the
    /// system's roots are trusted too).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_pem: Option<String>,
    /// The directory every path of a call is under; a path cannot leave it.
    #[serde(default = "root")]
    pub base_dir: String,
    /// Each call's timeout, in ms (also bounded by the request's deadline); 0 means 10 s.
    #[serde(default)]
    pub timeout_ms: u64,
}

fn anonymous() -> String {
    "anonymous".to_owned()
}

fn root() -> String {
    "/".to_owned()
}

/// A stored connection as it is read back: its settings, never its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OutconnInfo {
    /// The connection's name.
    pub name: String,
    /// Its type (also in `settings`).
    #[serde(rename = "type")]
    pub kind: OutconnType,
    /// Whether services may use it.
    pub active: bool,
    /// Its settings.
    pub settings: OutconnSettings,
    /// Whether a secret is stored.
    pub secret_set: bool,
    /// When it was created, ms since the Unix epoch.
    pub created_at: i64,
    /// When it was last changed, ms since the Unix epoch.
    pub updated_at: i64,
}

/// What a ping of a connection found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OutconnPing {
    /// The connection's name.
    pub name: String,
    /// Its type.
    #[serde(rename = "type")]
    pub kind: OutconnType,
    /// Whether the other side answered (any HTTP status counts for HTTP and SOAP).
    pub ok: bool,
    /// How long it took, in ms.
    pub ms: u64,
    /// What answered (`HTTP 200`, `PostgreSQL 17.2`, `220 FTP ready`), or why not.
    pub detail: String,
}

/// The answer to the delete of a connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeletedOutconn {
    /// The deleted connection's name.
    pub name: String,
    /// Its type.
    #[serde(rename = "type")]
    pub kind: OutconnType,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minimal_http_connection_takes_the_defaults() {
        let c: Outconn = serde_json::from_str(
            r#"{"name":"crm","settings":{"type":"http","address":"http://127.0.0.1:1/api"}}"#,
        )
        .unwrap();
        assert!(c.active);
        assert_eq!(c.kind(), OutconnType::Http);
        let OutconnSettings::Http(h) = &c.settings else {
            panic!("{c:?}")
        };
        assert!(h.tls_verify);
        assert_eq!(h.auth, HttpAuth::None);
        assert_eq!(h.ping_method, "HEAD");
        assert_eq!(c.secret, None);
    }

    #[test]
    fn an_unknown_field_or_type_is_refused() {
        let typo = r#"{"name":"crm","settings":{"type":"http","adress":"http://x"}}"#;
        assert!(serde_json::from_str::<Outconn>(typo).is_err());
        let kind = r#"{"name":"crm","settings":{"type":"gopher","address":"x"}}"#;
        assert!(serde_json::from_str::<Outconn>(kind).is_err());
        assert!("gopher".parse::<OutconnType>().is_err());
        assert_eq!("sql".parse::<OutconnType>(), Ok(OutconnType::Sql));
    }

    #[test]
    fn the_info_carries_no_secret() {
        let info = OutconnInfo {
            name: "crm".into(),
            kind: OutconnType::Sql,
            active: true,
            settings: OutconnSettings::Sql(SqlSettings {
                url: "postgres://u@h/db".into(),
                pool_size: 0,
                timeout_ms: 0,
                max_rows: 0,
            }),
            secret_set: true,
            created_at: 1,
            updated_at: 2,
        };
        let json = serde_json::to_value(&info).unwrap();
        assert_eq!(json["type"], "sql");
        assert_eq!(json["settings"]["type"], "sql");
        assert!(json.get("secret").is_none());
    }
}
