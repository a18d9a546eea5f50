//! The operational database: durable configuration and the deployed services.
//!
//! [`Odb`] is what the rest of the server uses; [`SqlOdb`] implements it with sqlx for
//! every backend the ODB URL can name. Nothing but the admin API and the deploy
//! pipeline writes the ODB.

mod sql;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use thiserror::Error;

use crate::api::HttpChannel;
pub use sql::SqlOdb;

#[derive(Debug, Error)]
pub enum OdbError {
    #[error("{0}")]
    Conflict(String),
    /// An unusable ODB URL, or a value that some backend could not store as given
    /// (every backend refuses it alike).
    #[error("{0}")]
    Invalid(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

pub type OdbResult<T> = Result<T, OdbError>;

/// The latest version of a service (or its deletion).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionRef {
    pub name: String,
    pub version: i64,
    pub sha256: String,
    pub deleted: bool,
}

/// A version as listed by the admin API (without its bytes).
#[derive(Debug, Clone)]
pub struct VersionMeta {
    pub name: String,
    pub version: i64,
    pub sha256: String,
    pub size: i64,
    pub description: String,
    /// The service's `info()`, as JSON.
    pub info: String,
    pub source: String,
    pub deployed_at: i64,
}

/// A version to store: bytes and metadata (or a deletion when `bytes` is `None`).
#[derive(Debug, Clone)]
pub struct NewVersion {
    pub name: String,
    pub sha256: String,
    pub bytes: Option<Vec<u8>>,
    pub description: String,
    pub info: String,
    pub source: String,
    pub deployed_by: String,
}

/// A registered server.
#[derive(Debug, Clone)]
pub struct ServerRow {
    pub name: String,
    pub address: String,
    pub state: String,
    pub pid: i64,
    pub started_at: i64,
    pub last_seen: i64,
}

#[async_trait]
pub trait Odb: Send + Sync {
    /// The latest version of every service ever deployed, deleted ones included.
    async fn latest_versions(&self) -> OdbResult<Vec<VersionRef>>;
    /// The latest version of one service.
    async fn latest_version(&self, name: &str) -> OdbResult<Option<VersionRef>>;
    /// The newest live version with these bytes, if any.
    async fn find_by_sha256(&self, sha256: &str) -> OdbResult<Option<VersionRef>>;
    /// The bytes of one version.
    async fn version_bytes(&self, name: &str, version: i64) -> OdbResult<Option<Vec<u8>>>;
    /// Metadata of the latest live version of every service, sorted by name.
    async fn live_services(&self) -> OdbResult<Vec<VersionMeta>>;
    /// Stores `new` as the next version of its service and returns that version.
    /// Concurrent writers never get the same version: the (name, version) key decides.
    async fn insert_version(&self, new: NewVersion) -> OdbResult<i64>;

    async fn service_configs(&self) -> OdbResult<HashMap<String, BTreeMap<String, String>>>;
    /// Replaces one service's whole configuration.
    async fn set_service_config(
        &self,
        service: &str,
        config: &BTreeMap<String, String>,
    ) -> OdbResult<()>;

    async fn http_channels(&self) -> OdbResult<Vec<HttpChannel>>;
    /// Fails with [`OdbError::Conflict`] when the name or the path is taken.
    async fn create_http_channel(&self, channel: &HttpChannel) -> OdbResult<()>;
    /// Returns whether the channel existed.
    async fn delete_http_channel(&self, name: &str) -> OdbResult<bool>;

    /// Registers (or re-registers) a server as running.
    async fn register_server(&self, name: &str, address: &str, pid: i64) -> OdbResult<()>;
    /// Keeps a server's `last_seen` fresh.
    async fn touch_server(&self, name: &str) -> OdbResult<()>;
    /// Marks a server as stopped (a clean shutdown).
    async fn deregister_server(&self, name: &str) -> OdbResult<()>;
    async fn servers(&self) -> OdbResult<Vec<ServerRow>>;
    /// Records the version of `service` that `server` runs (None: not any more).
    async fn set_running_version(
        &self,
        server: &str,
        service: &str,
        version: Option<i64>,
    ) -> OdbResult<()>;
    /// (server, service) -> version for every server.
    async fn running_versions(&self) -> OdbResult<Vec<(String, String, i64)>>;
}

/// Milliseconds since the Unix epoch, the ODB's time unit.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
