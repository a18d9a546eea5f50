//! The KVDB (key/values, locks, work queues) and the broker (pub/sub), as traits.
//!
//! [`memory::MemoryKvdb`] implements both for a single server; a cluster uses Redis
//! behind the same traits. A cluster of several servers cannot use the in-memory one:
//! each server would have its own.

pub mod memory;

use std::time::Duration;

use async_trait::async_trait;
use thiserror::Error;
use tokio::sync::mpsc;

#[derive(Debug, Error)]
pub enum KvdbError {
    #[error("KVDB unavailable: {0}")]
    Unavailable(String),
    #[error("value of `{0}` is not an integer")]
    NotAnInteger(String),
    #[error("unsupported KVDB URL `{0}`: expected `memory`")]
    UnsupportedUrl(String),
}

pub type KvdbResult<T> = Result<T, KvdbError>;

/// Key/values with TTLs, locks and queues.
#[async_trait]
pub trait Kvdb: Send + Sync {
    async fn get(&self, key: &str) -> KvdbResult<Option<Vec<u8>>>;
    async fn set(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> KvdbResult<()>;
    /// Returns whether the key existed.
    async fn delete(&self, key: &str) -> KvdbResult<bool>;
    /// Adds `by` to an integer value (missing keys count as 0) and returns the result.
    async fn incr(&self, key: &str, by: i64) -> KvdbResult<i64>;

    /// Takes the lock `key` for `ttl` if nobody holds it (`SET NX PX`).
    async fn try_lock(&self, key: &str, token: &str, ttl: Duration) -> KvdbResult<bool>;
    /// Extends the lock only if `token` still holds it (compare-and-expire).
    async fn extend_lock(&self, key: &str, token: &str, ttl: Duration) -> KvdbResult<bool>;
    /// Releases the lock only if `token` still holds it (compare-and-delete).
    async fn unlock(&self, key: &str, token: &str) -> KvdbResult<bool>;

    /// Appends to a work queue; each item goes to exactly one consumer.
    async fn push(&self, queue: &str, item: &[u8]) -> KvdbResult<()>;
    /// Takes the oldest item, waiting up to `wait` for one.
    async fn pop(&self, queue: &str, wait: Duration) -> KvdbResult<Option<Vec<u8>>>;
}

/// What a subscription delivers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BrokerEvent {
    Message(Vec<u8>),
    /// The connection to the broker came back: messages may have been lost, so the
    /// subscriber should reconcile with the ODB.
    Reconnected,
}

/// Pub/sub, at-most-once: a subscriber that is away misses messages.
#[async_trait]
pub trait Broker: Send + Sync {
    async fn publish(&self, channel: &str, payload: &[u8]) -> KvdbResult<()>;
    async fn subscribe(&self, channel: &str) -> KvdbResult<mpsc::Receiver<BrokerEvent>>;
}

/// Both halves of the KVDB a server needs, from one URL.
pub fn open(url: &str) -> KvdbResult<(std::sync::Arc<dyn Kvdb>, std::sync::Arc<dyn Broker>)> {
    match url {
        "memory" | "memory://" => {
            let kvdb = std::sync::Arc::new(memory::MemoryKvdb::default());
            Ok((kvdb.clone(), kvdb))
        }
        other => Err(KvdbError::UnsupportedUrl(other.to_owned())),
    }
}
