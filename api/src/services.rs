//! Services: what a service says about itself, how the admin API lists and details
//! them, the answers to a deploy and a delete, and the payload formats.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The JSON type of a Simple IO field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum FieldType {
    /// Any JSON value.
    Any,
    /// A JSON string.
    String,
    /// A JSON number without a fractional part.
    Integer,
    /// Any JSON number.
    Number,
    /// `true` or `false`.
    Boolean,
    /// A JSON object.
    Object,
    /// A JSON array.
    Array,
}

/// One field of a service's JSON input or output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Field {
    /// The field's key in the JSON object.
    pub name: String,
    /// The JSON type its value must have.
    #[serde(rename = "type")]
    pub kind: FieldType,
    /// Whether the field must be present.
    pub required: bool,
}

/// What a service says about itself, as read from its `info()` at deploy time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ServiceInfo {
    /// The service's name, e.g. `demo.hello`.
    pub name: String,
    /// One line saying what the service does.
    pub description: String,
    /// The fields of its JSON input, checked before the service runs.
    pub input: Vec<Field>,
    /// The fields of its JSON output.
    pub output: Vec<Field>,
    /// Responses slower than this, the service declares, are slow.
    pub slow_threshold_ms: u32,
}

/// A deployed service as the admin API lists it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ServiceSummary {
    /// The service's name.
    pub name: String,
    /// The latest version in the ODB.
    pub version: i64,
    /// The version this server runs (equal to `version` once applied).
    pub running_version: Option<i64>,
    /// Hex SHA-256 of the deployed component.
    pub sha256: String,
    /// Size of the deployed component in bytes.
    pub size: i64,
    /// The service's description, from its `info()`.
    pub description: String,
    /// When this version was stored, in ms since the Unix epoch.
    pub deployed_at: i64,
    /// Where the bytes came from, e.g. `api:hello.wasm` or `pickup:hello.wasm`.
    pub source: String,
}

/// A service with its interface and configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ServiceDetails {
    /// What the list says of it.
    #[serde(flatten)]
    pub summary: ServiceSummary,
    /// Its interface, from its `info()`.
    pub info: ServiceInfo,
    /// Its configuration: key -> value.
    pub config: BTreeMap<String, String>,
}

/// The answer to a deploy.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeployOutcome {
    /// The deployed service's name.
    pub name: String,
    /// The version these bytes are stored as.
    pub version: i64,
    /// Hex SHA-256 of the deployed component.
    pub sha256: String,
    /// True when these exact bytes were already the latest version: nothing changed.
    pub unchanged: bool,
    /// Whether this server compiled the component or found it in its artifact cache.
    pub from_cache: bool,
    /// How long the deploy took on the server.
    pub elapsed_ms: u64,
}

/// The answer to a delete.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeleteOutcome {
    /// The deleted service's name.
    pub name: String,
    /// The version that records the deletion.
    pub version: i64,
}

/// The payload format of a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum DataFormat {
    /// JSON, checked against the service's input fields.
    #[default]
    Json,
    /// XML, passed through as text.
    Xml,
    /// Bytes, passed through untouched.
    Raw,
}

impl DataFormat {
    /// The format's name on the wire: `json`, `xml` or `raw`.
    pub fn as_str(self) -> &'static str {
        match self {
            DataFormat::Json => "json",
            DataFormat::Xml => "xml",
            DataFormat::Raw => "raw",
        }
    }
}

impl std::str::FromStr for DataFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "json" => Ok(DataFormat::Json),
            "xml" => Ok(DataFormat::Xml),
            "raw" => Ok(DataFormat::Raw),
            other => Err(format!(
                "unknown data format `{other}` (expected json, xml or raw)"
            )),
        }
    }
}

/// A kept version of a service, as `GET /zato/api/services/{name}/versions` lists it
/// (newest first).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ServiceVersion {
    /// The version number.
    pub version: i64,
    /// The component's sha256 (empty for a deletion).
    pub sha256: String,
    /// The component's size in bytes (0 for a deletion).
    pub size: i64,
    /// Whether this version is a deletion of the service.
    pub deleted: bool,
    /// Where the bytes came from (`pickup:FILE`, `api:FILE`, `rollback:NAME@V`).
    pub source: String,
    /// When it was deployed, in milliseconds since the Unix epoch.
    pub deployed_at: i64,
    /// The servers that run this version now.
    pub running_on: Vec<String>,
}

/// The body of `POST /zato/api/services/{name}/rollback`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Rollback {
    /// The kept version whose bytes become the service's next version.
    pub to_version: i64,
}
