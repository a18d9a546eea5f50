//! Asynchronous invokes: the answer to `POST /zato/api/services/{name}/invoke?async=true`
//! and where a call stands (`GET /zato/api/async/{cid}`).
//!
//! A call queued asynchronously (by the admin API, the CLI's `zato service invoke NAME
//! --async` or a service's `invoke-async`) runs on any server of the cluster, at least
//! once; its outcome is kept in the cluster's KVDB for a while (`[async_invoke]`
//! `keep_outcomes_s`), under its cid.

use serde::{Deserialize, Serialize};

/// The answer to an asynchronous invoke (202): the call is queued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AsyncQueued {
    /// The call's correlation id: the invoked service sees it as its request's cid, and
    /// [`AsyncOutcome`] is looked up by it.
    pub cid: String,
}

/// Where an asynchronous call stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum AsyncState {
    /// Queued; no server has taken it yet.
    Pending,
    /// A server is running it (again, when `deliveries` is over 1: the server that ran
    /// it before died or stopped answering).
    Running,
    /// The service answered.
    Done,
    /// The service failed, or the call was given up (see `error`).
    Failed,
}

impl AsyncState {
    /// Whether the call ended, one way or the other.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Done | Self::Failed)
    }
}

/// An asynchronous call's state (`GET /zato/api/async/{cid}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AsyncOutcome {
    /// The call's correlation id.
    pub cid: String,
    /// The service invoked.
    pub service: String,
    /// Where it stands.
    pub state: AsyncState,
    /// The service that queued the call; none when it came from the admin API.
    #[serde(default)]
    pub caller: Option<String>,
    /// The service told of the outcome, if any.
    #[serde(default)]
    pub callback: Option<String>,
    /// The server that took the call last.
    #[serde(default)]
    pub server: Option<String>,
    /// How many times a server took the call (0 while pending; over 1 when a server
    /// died while running it and another took it over).
    pub deliveries: u32,
    /// When it ended: the response's status, or that of the error's kind.
    #[serde(default)]
    pub status: Option<u16>,
    /// When it failed: why.
    #[serde(default)]
    pub error: Option<String>,
    /// When it was queued, in ms since the Unix epoch.
    pub queued_at: i64,
    /// When it last changed state, in ms since the Unix epoch.
    pub updated_at: i64,
}
