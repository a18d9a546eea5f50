//! Channels: how requests reach services.

use serde::{Deserialize, Serialize};

use crate::services::DataFormat;

/// An HTTP channel: a URL path pattern routed to a service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct HttpChannel {
    /// Unique name of the channel.
    #[cfg_attr(feature = "openapi", schema(example = "hello"))]
    pub name: String,
    /// URL path with `{params}`, e.g. `/customers/{id}`.
    #[cfg_attr(feature = "openapi", schema(example = "/hello/{name}"))]
    pub path: String,
    /// Allowed methods, upper case; empty means any.
    #[serde(default)]
    pub methods: Vec<String>,
    /// The service the channel invokes.
    #[cfg_attr(feature = "openapi", schema(example = "demo.hello"))]
    pub service: String,
    /// The payload format of its requests and responses.
    #[serde(default)]
    pub data_format: DataFormat,
    /// Per-request timeout; 0 means the server default. At most
    /// [`MAX_TIMEOUT_MS`](crate::MAX_TIMEOUT_MS).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(maximum = 9_223_372_036_854_775_807_u64))]
    pub timeout_ms: u64,
    /// The security definition a caller must satisfy (its name); none: anyone who
    /// reaches the port may call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(example = "billing-key"))]
    pub security: Option<String>,
}

/// The answer to the delete of an HTTP channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeletedHttpChannel {
    /// The deleted channel's name.
    pub name: String,
}

/// The longest timeout a channel or an invoke may ask for, in milliseconds: what the
/// ODB's signed 64-bit integers hold (OpenAPI's `int64`).
pub const MAX_TIMEOUT_MS: u64 = i64::MAX as u64;
