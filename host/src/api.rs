//! Types of the admin API, shared by the server and the CLI.
//!
//! Kept free of wasmtime types so that clients can depend on them alone later.

use serde::{Deserialize, Serialize};

/// The JSON type of a Simple IO field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldType {
    Any,
    String,
    Integer,
    Number,
    Boolean,
    Object,
    Array,
}

/// One field of a service's JSON input or output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Field {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: FieldType,
    pub required: bool,
}

/// What a service says about itself, as read from its `info()` at deploy time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceInfo {
    pub name: String,
    pub description: String,
    pub input: Vec<Field>,
    pub output: Vec<Field>,
    pub slow_threshold_ms: u32,
}

/// A deployed service as the admin API lists it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServiceSummary {
    pub name: String,
    /// The latest version in the ODB.
    pub version: i64,
    /// The version this server runs (equal to `version` once applied).
    pub running_version: Option<i64>,
    pub sha256: String,
    pub size: i64,
    pub description: String,
    pub deployed_at: i64,
    pub source: String,
}

/// A service with its interface and configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServiceDetails {
    #[serde(flatten)]
    pub summary: ServiceSummary,
    pub info: ServiceInfo,
    pub config: std::collections::BTreeMap<String, String>,
}

/// The answer to a deploy.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeployOutcome {
    pub name: String,
    pub version: i64,
    pub sha256: String,
    /// True when these exact bytes were already the latest version: nothing changed.
    pub unchanged: bool,
    /// Whether this server compiled the component or found it in its artifact cache.
    pub from_cache: bool,
    pub elapsed_ms: u64,
}

/// The answer to a delete.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeleteOutcome {
    pub name: String,
    pub version: i64,
}

/// The payload format of a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum DataFormat {
    #[default]
    Json,
    Xml,
    Raw,
}

impl DataFormat {
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

/// An HTTP channel: a URL path pattern routed to a service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpChannel {
    /// Unique name of the channel.
    pub name: String,
    /// URL path with `{params}`, e.g. `/customers/{id}`.
    pub path: String,
    /// Allowed methods, upper case; empty means any.
    #[serde(default)]
    pub methods: Vec<String>,
    /// The service the channel invokes.
    pub service: String,
    #[serde(default)]
    pub data_format: DataFormat,
    /// Per-request timeout; 0 means the server default.
    #[serde(default)]
    pub timeout_ms: u64,
}

/// The answer to `GET /zato/api/server`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServerStatus {
    pub name: String,
    pub address: String,
    pub version: String,
    pub allocator: String,
    pub uptime_s: u64,
    pub services: usize,
    /// Components compiled by Cranelift since the server started.
    pub compilations: u64,
    /// Components loaded from the artifact cache since the server started.
    pub cache_hits: u64,
}

/// The JSON body of every error response.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cid: Option<String>,
}
