//! The KVDB (key/values, locks, work queues) and the broker (pub/sub), as traits.
//!
//! [`memory::MemoryKvdb`] implements both for a single server; a cluster uses
//! [`redis::RedisKvdb`] behind the same traits. A cluster of several servers cannot use
//! the in-memory one: each server would have its own.
//!
//! Both implementations keep the same semantics; `suite` (tests only) holds the
//! behavioural tests that run against each of them.

pub mod memory;
pub mod redis;
#[cfg(test)]
mod suite;

use std::collections::HashMap;
use std::sync::Arc;
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
    #[error("unsupported KVDB URL `{0}`: expected `memory` or `redis://host:port[/db]`")]
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
    /// Adds one to the counter `key` and answers the new count; a counter this creates
    /// expires after `ttl` (a window's count: later additions keep that expiry), in one
    /// atomic step.
    async fn count_in_window(&self, key: &str, ttl: Duration) -> KvdbResult<i64>;

    /// Takes the lock `key` for `ttl` if nobody holds it (`SET NX PX`).
    async fn try_lock(&self, key: &str, token: &str, ttl: Duration) -> KvdbResult<bool>;
    /// Takes the lock `key` for `ttl` if nobody holds it and, in the same atomic step,
    /// adds one to the counter `fence`: answers the new count (the lock's fencing token)
    /// or `None` when someone holds the lock. A lock's tokens grow with each acquisition,
    /// so a system its holders write to can refuse a write bearing an older token than
    /// one it has seen (a holder that stalled past its TTL).
    async fn try_lock_fenced(
        &self,
        key: &str,
        fence: &str,
        token: &str,
        ttl: Duration,
    ) -> KvdbResult<Option<u64>>;
    /// Extends the lock only if `token` still holds it (compare-and-expire).
    async fn extend_lock(&self, key: &str, token: &str, ttl: Duration) -> KvdbResult<bool>;
    /// Releases the lock only if `token` still holds it (compare-and-delete).
    async fn unlock(&self, key: &str, token: &str) -> KvdbResult<bool>;

    /// Applies each change to its hash of integers, each in one atomic step, all in one
    /// round trip where the KVDB allows (statistics are written this way, in batches).
    async fn merge_hashes(&self, merges: &[HashMerge]) -> KvdbResult<()>;
    /// The fields of each hash in `keys`, in order; a missing hash is empty.
    async fn hashes(&self, keys: &[String]) -> KvdbResult<Vec<HashMap<String, i64>>>;
    /// Adds `member` with `score` to the ranking `key`, then keeps only the `keep`
    /// highest scores (ties: the greater member, bytewise, is kept); sets its TTL.
    async fn rank(
        &self,
        key: &str,
        member: &[u8],
        score: f64,
        keep: usize,
        ttl: Option<Duration>,
    ) -> KvdbResult<()>;
    /// The ranking `key`, highest score first.
    async fn ranked(&self, key: &str) -> KvdbResult<Vec<(Vec<u8>, f64)>>;

    /// Appends to a work queue; each item goes to exactly one consumer.
    async fn push(&self, queue: &str, item: &[u8]) -> KvdbResult<()>;
    /// Appends several items at once (in one round trip where the KVDB allows).
    async fn push_many(&self, queue: &str, items: &[Vec<u8>]) -> KvdbResult<()> {
        for item in items {
            self.push(queue, item).await?;
        }
        Ok(())
    }
    /// Takes the oldest item, waiting up to `wait` for one.
    async fn pop(&self, queue: &str, wait: Duration) -> KvdbResult<Option<Vec<u8>>>;

    /// Appends to a reliable work queue (at least once; see [`Kvdb::take`]).
    async fn enqueue(&self, queue: &str, item: &[u8]) -> KvdbResult<()> {
        let _ = (queue, item);
        Err(KvdbError::Unavailable(
            "reliable work queues are not implemented here".into(),
        ))
    }
    /// Takes an item of a reliable work queue for `consumer`, waiting up to `wait` for
    /// one: an item nobody took, or one whose taker neither acknowledged
    /// ([`Kvdb::ack`]) nor touched ([`Kvdb::touch`]) it within `visibility` (its taker
    /// died), oldest first. A waiting take wakes as soon as an item is enqueued; an item
    /// whose visibility ends while it waits may be found up to a second late (Redis
    /// looks for them in rounds).
    async fn take(
        &self,
        queue: &str,
        consumer: &str,
        visibility: Duration,
        wait: Duration,
    ) -> KvdbResult<Option<Taken>> {
        let _ = (queue, consumer, visibility, wait);
        Err(KvdbError::Unavailable(
            "reliable work queues are not implemented here".into(),
        ))
    }
    /// Keeps an item taken by `consumer` its own for another `visibility`; `false` when
    /// it is no longer its own (another consumer took it over, or it was acknowledged).
    async fn touch(&self, queue: &str, consumer: &str, id: &str) -> KvdbResult<bool> {
        let _ = (queue, consumer, id);
        Err(KvdbError::Unavailable(
            "reliable work queues are not implemented here".into(),
        ))
    }
    /// Removes a taken item for good: it was handled.
    async fn ack(&self, queue: &str, id: &str) -> KvdbResult<()> {
        let _ = (queue, id);
        Err(KvdbError::Unavailable(
            "reliable work queues are not implemented here".into(),
        ))
    }
}

/// A change to one hash of integers ([`Kvdb::merge_hashes`]), applied in this order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HashMerge {
    pub key: String,
    /// Drop every field first: the hash becomes what this change says.
    pub replace: bool,
    /// Fields to add to (a missing field counts as 0).
    pub add: Vec<(String, i64)>,
    /// Fields to lower to the value when it is less (or set when missing).
    pub min: Vec<(String, i64)>,
    /// Fields to raise to the value when it is greater (or set when missing).
    pub max: Vec<(String, i64)>,
    /// The hash's time to live from now; `None` leaves it as it was.
    pub ttl: Option<Duration>,
}

/// One item taken from a reliable work queue ([`Kvdb::take`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Taken {
    /// The item's id in its queue, for [`Kvdb::touch`] and [`Kvdb::ack`].
    pub id: String,
    pub item: Vec<u8>,
    /// How many times it was taken, this time included (1 the first time).
    pub deliveries: u32,
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

/// Both halves of the KVDB a server needs, from one URL: `memory`, or
/// `redis://[user:password@]host:port[/db]`.
///
/// `prefix` (the cluster's name) starts every Redis key and channel, as `{prefix}:`, so
/// that several clusters can share one Redis; the in-memory KVDB ignores it.
pub async fn open(url: &str, prefix: &str) -> KvdbResult<(Arc<dyn Kvdb>, Arc<dyn Broker>)> {
    match url {
        "memory" | "memory://" => {
            let kvdb = Arc::new(memory::MemoryKvdb::default());
            Ok((kvdb.clone(), kvdb))
        }
        url if url.starts_with("redis://") => {
            let kvdb = Arc::new(redis::RedisKvdb::connect(url, prefix).await?);
            Ok((kvdb.clone(), kvdb))
        }
        other => Err(KvdbError::UnsupportedUrl(redact(other))),
    }
}

/// `url` without its password, for messages and logs.
pub(crate) fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority = rest.split('/').next().unwrap_or(rest);
    match authority.rfind('@') {
        Some(at) => format!("{scheme}://***@{}", &rest[at + 1..]),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_hides_the_password_only() {
        assert_eq!(
            redact("redis://:secret@127.0.0.1:6379/2"),
            "redis://***@127.0.0.1:6379/2"
        );
        assert_eq!(redact("redis://user:p@ss@host:1/0"), "redis://***@host:1/0");
        assert_eq!(redact("redis://host:1/a@b"), "redis://host:1/a@b");
        assert_eq!(redact("memory"), "memory");
    }

    #[tokio::test]
    async fn open_rejects_an_unknown_url_naming_it() {
        let err = open("mongodb://h", "c").await.err().expect("an error");
        assert!(err.to_string().contains("`mongodb://h`"), "{err}");
    }
}
