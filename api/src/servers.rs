//! Servers: the one answering (`GET /zato/api/server`) and every server registered in
//! its cluster with the versions it runs (`GET /zato/api/servers`).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// The answer to `GET /zato/api/server`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ServerStatus {
    /// The server's name in its cluster.
    pub name: String,
    /// The address it listens on.
    pub address: String,
    /// The zato version it runs.
    pub version: String,
    /// The instance allocator wasmtime uses (pooling or on demand).
    pub allocator: String,
    /// Seconds since it started.
    pub uptime_s: u64,
    /// How many services it runs.
    pub services: usize,
    /// Components compiled by Cranelift since the server started.
    pub compilations: u64,
    /// Components loaded from the artifact cache since the server started.
    pub cache_hits: u64,
}

/// Whether a registered server runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum ServerState {
    /// Running and seen recently.
    Running,
    /// Stopped cleanly: it deregistered.
    Stopped,
    /// Said it runs, but has not been seen for too long: it died.
    Gone,
}

impl ServerState {
    /// The state's name on the wire: `running`, `stopped` or `gone`.
    pub fn as_str(self) -> &'static str {
        match self {
            ServerState::Running => "running",
            ServerState::Stopped => "stopped",
            ServerState::Gone => "gone",
        }
    }
}

impl fmt::Display for ServerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One registered server, as `GET /zato/api/servers` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ServerInfo {
    /// The server's name in its cluster.
    pub name: String,
    /// The address it listens on.
    pub address: String,
    /// Whether it runs.
    pub state: ServerState,
    /// Its process ID.
    pub pid: i64,
    /// When it started, in ms since the Unix epoch.
    pub started_at: i64,
    /// When it was last seen (its last heartbeat), in ms since the Unix epoch.
    pub last_seen: i64,
    /// Service name -> the version this server runs.
    pub services: BTreeMap<String, i64>,
    /// Whether it is the cluster's singleton now (it holds the lease: it runs the
    /// scheduler).
    #[serde(default)]
    pub singleton: bool,
    /// Since when it has been the singleton, in ms since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub singleton_since: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_reads_and_writes_as_the_admin_api_sends_it() {
        let text = r#"{"address":"127.0.0.1:17010","last_seen":5,"name":"server1","pid":42,"services":{"demo.hello":3},"singleton":false,"started_at":1,"state":"gone"}"#;
        let server: ServerInfo = serde_json::from_str(text).unwrap();
        assert_eq!(server.state, ServerState::Gone);
        assert_eq!(server.services["demo.hello"], 3);
        let value = serde_json::to_value(&server).unwrap();
        assert_eq!(value.to_string(), text);
        for state in [
            ServerState::Running,
            ServerState::Stopped,
            ServerState::Gone,
        ] {
            assert_eq!(
                serde_json::to_value(state).unwrap(),
                state.as_str(),
                "{state}"
            );
        }
    }
}
