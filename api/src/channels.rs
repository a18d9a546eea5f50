//! Channels: how requests reach services.

use serde::{Deserialize, Serialize};

use crate::services::DataFormat;

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
    /// The payload format of its requests and responses.
    #[serde(default)]
    pub data_format: DataFormat,
    /// Per-request timeout; 0 means the server default.
    #[serde(default)]
    pub timeout_ms: u64,
}

/// The answer to the delete of an HTTP channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeletedHttpChannel {
    /// The deleted channel's name.
    pub name: String,
}
