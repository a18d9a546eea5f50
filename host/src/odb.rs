//! The operational database: durable configuration and the deployed services.
//!
//! [`Odb`] is what the rest of the server uses: every per-kind trait at once, so one
//! `Arc<dyn Odb>` reaches every query (methods of a supertrait are callable on
//! `dyn Odb` without importing that trait; on a concrete [`SqlOdb`] the per-kind trait
//! must be in scope). [`SqlOdb`] implements them all with sqlx for every backend the
//! ODB URL can name. Nothing but the admin API and the deploy pipeline writes the ODB.
//!
//! One module per object kind, over the shared code in `sql` (the connection, the
//! migrations, `?` placeholders, the checks that make every backend accept and refuse
//! the same values, the retries of contended writes):
//!
//! - `services`: [`ServiceVersions`], every version of every service;
//! - `configs`: [`ServiceConfigs`], each service's configuration;
//! - `channels`: [`HttpChannels`];
//! - `servers`: [`Membership`], the servers and the versions they run;
//! - `scheduler`: [`Scheduling`], jobs, calendars, runs and the singleton's lease;
//! - `outconn`: [`OutgoingConnections`], the outgoing connections and their secrets;
//! - `soap_channels`: [`SoapChannels`];
//! - `msg_channels`: [`MessagingChannels`], AMQP and ZeroMQ channels and their secrets;
//! - `dictionaries`: [`Dictionaries`], data dictionaries' entries and translations.
//!
//! To add an object kind (jobs, say):
//!
//! 1. `odb/jobs.rs`: its row types, a `#[async_trait] pub trait Jobs: Send + Sync`
//!    with its queries, and `impl Jobs for SqlOdb`. Write SQL with `?` placeholders
//!    through `self.sql(..)`, use only integers, text and blobs, check every key with
//!    `check_key` and every text with `check_text` before any SQL runs, answer a
//!    lookup by a key that is not `storable` with "not found", and run a write of
//!    several statements as `self.retry(what, || async { let mut tx = self.begin()... })`.
//! 2. A migration `NNNN_jobs.sql` in each of `host/migrations/{sqlite,postgres,mysql}`
//!    with equivalent schemas (keys `VARCHAR(255)`, `COLLATE "C"` on PostgreSQL; see
//!    the header of each backend's first migration). A migration that shipped is never
//!    edited: deployed databases have run it.
//! 3. Here: `mod jobs;`, `pub use jobs::{Jobs, ...};`, and `Jobs` added to the
//!    supertraits of [`Odb`] and to its blanket impl.
//! 4. `odb/tests/jobs.rs`, declared in `odb/tests.rs`: its cases, instantiated on
//!    every backend by `backends!`, including the refused keys and the exact lookups.

mod channels;
mod configs;
mod dictionaries;
mod msg_channels;
mod outconn;
mod rate_limits;
mod scheduler;
mod security;
mod servers;
mod services;
mod soap_channels;
mod sql;
#[cfg(test)]
mod tests;
mod users;

use thiserror::Error;

pub use channels::HttpChannels;
pub use configs::ServiceConfigs;
pub use dictionaries::{Dictionaries, entry_id};
pub use msg_channels::MessagingChannels;
pub use outconn::OutgoingConnections;
pub use rate_limits::RateLimits;
pub use scheduler::{JobRow, LeaseRow, NewRun, RunResult, RunRow, Scheduling};
pub use security::SecurityDefinitions;
pub use servers::{Membership, ServerRow};
pub use services::{KeptVersion, NewVersion, ServiceVersions, VersionMeta, VersionRef};
pub use soap_channels::SoapChannels;
pub use sql::SqlOdb;
pub use users::{AdminUsers, UserRow};

#[derive(Debug, Error)]
pub enum OdbError {
    #[error("{0}")]
    Conflict(String),
    /// An unusable ODB URL, or a value that some backend could not store as given
    /// (every backend refuses it alike).
    #[error("{0}")]
    Invalid(String),
    #[error("database error: {0}")]
    Database(sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl From<sqlx::Error> for OdbError {
    fn from(e: sqlx::Error) -> Self {
        crate::metrics::ODB_ERRORS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Self::Database(e)
    }
}

pub type OdbResult<T> = Result<T, OdbError>;

/// Every object kind of the ODB, the one name the rest of the server holds.
pub trait Odb:
    ServiceVersions
    + ServiceConfigs
    + HttpChannels
    + Membership
    + Scheduling
    + OutgoingConnections
    + SoapChannels
    + MessagingChannels
    + Dictionaries
    + SecurityDefinitions
    + RateLimits
    + AdminUsers
{
}

impl<
    T: ServiceVersions
        + ServiceConfigs
        + HttpChannels
        + Membership
        + Scheduling
        + OutgoingConnections
        + SoapChannels
        + MessagingChannels
        + Dictionaries
        + SecurityDefinitions
        + RateLimits
        + AdminUsers,
> Odb for T
{
}

/// Milliseconds since the Unix epoch, the ODB's time unit.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
