//! The Redis KVDB and broker: what a cluster of servers shares.
//!
//! Every key and channel starts with `{prefix}:` (the cluster's name) so several clusters,
//! and parallel tests, can share one Redis. Below the prefix, values and locks live under
//! `kv:`, queues under `q:` and reliable work queues under `wq:`, because the in-memory
//! KVDB keeps them in separate maps and a value must never collide with a queue of the
//! same name.
//!
//! Three kinds of connections, because Redis serves one connection's commands in order:
//! - a `ConnectionManager` (multiplexed, reconnects by itself) for every short command;
//! - for `pop` and `take`, a connection of their own per waiting call, without a
//!   response timeout, since BLPOP and XREADGROUP BLOCK hold their connection for as
//!   long as they wait ([`BlockingPool`]);
//! - one pub/sub connection per `RedisKvdb`, kept up by the task in [`pubsub`].
//!
//! A reliable work queue is a stream with one consumer group ([`work`]).
//!
//! Needs Redis 6.0 or later (BLPOP with a fractional timeout), 6.2 for work queues
//! (XPENDING IDLE).

mod pubsub;
mod work;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig, MultiplexedConnection};
use ::redis::{AsyncConnectionConfig, Client, Cmd, FromRedisValue, RedisError, Script, cmd};
use async_trait::async_trait;
use tokio::sync::mpsc;
use tokio_util::sync::{CancellationToken, DropGuard};

use super::{Broker, BrokerEvent, HashMerge, Kvdb, KvdbError, KvdbResult, Taken, redact};

/// How long a connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a short command may wait for its answer. The crate's default (500 ms) fails
/// commands spuriously on a loaded machine; a Redis that takes longer is as good as down.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(2);
/// How many times the `ConnectionManager` retries a lost connection before it fails the
/// command that waits for it (the next command starts a new round). Few, so that callers
/// learn quickly that Redis is down.
const RECONNECT_RETRIES: usize = 2;
/// How long `pop` waits past its own BLPOP timeout before it gives up on the connection.
const BLOCKING_GRACE: Duration = Duration::from_secs(2);
/// How many idle BLPOP connections are kept for reuse.
const BLOCKING_IDLE_MAX: usize = 8;

/// Compare-and-expire: extends the lock only for the token that holds it.
const EXTEND_LOCK: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
";
/// Set-if-absent, then count the acquisition: KEYS[1] the lock, KEYS[2] its fencing
/// counter. Answers the new count, or 0 when the lock is held.
const LOCK_FENCED: &str = r"
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
    return redis.call('INCR', KEYS[2])
end
return 0
";
/// Adds one to the counter KEYS[1] and, for a counter this made (or one without a
/// TTL), sets its TTL to ARGV[1] ms, in one atomic step (Redis 6 has no PEXPIRE NX).
const COUNT_IN_WINDOW: &str = r"
local count = redis.call('INCR', KEYS[1])
if count == 1 or redis.call('PTTL', KEYS[1]) == -1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return count
";
/// Applies [`HashMerge`]s: KEYS the hashes; for each, ARGV holds `replace` (0 or 1),
/// the TTL in ms (0: unchanged), then the fields to add, to lower and to raise, each
/// list as its length and (field, value) pairs.
const MERGE_HASHES: &str = r"
local a = 1
for k = 1, #KEYS do
    local key = KEYS[k]
    if ARGV[a] == '1' then redis.call('DEL', key) end
    local ttl = tonumber(ARGV[a + 1])
    a = a + 2
    local n = tonumber(ARGV[a])
    a = a + 1
    for _ = 1, n do
        redis.call('HINCRBY', key, ARGV[a], ARGV[a + 1])
        a = a + 2
    end
    for _, lower in ipairs({true, false}) do
        n = tonumber(ARGV[a])
        a = a + 1
        for _ = 1, n do
            local current = tonumber(redis.call('HGET', key, ARGV[a]))
            local value = tonumber(ARGV[a + 1])
            if current == nil or (lower and value < current) or (not lower and value > current) then
                redis.call('HSET', key, ARGV[a], ARGV[a + 1])
            end
            a = a + 2
        end
    end
    if ttl > 0 then redis.call('PEXPIRE', key, ttl) end
end
return 1
";
/// How many hashes one run of [`MERGE_HASHES`] changes at most: Redis runs a script
/// alone, so a large batch is cut into several.
const MERGE_CHUNK: usize = 64;
/// Compare-and-delete: releases the lock only for the token that holds it.
const UNLOCK: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
";

/// The KVDB and the broker over one Redis.
pub struct RedisKvdb {
    /// The URL without its password, for messages.
    url: String,
    /// `{prefix}:`, the start of every key and channel.
    prefix: String,
    commands: ConnectionManager,
    blocking: BlockingPool,
    subscriptions: Arc<pubsub::Subscriptions>,
    lock_fenced: Script,
    extend_lock: Script,
    unlock: Script,
    merge_hashes: Script,
    count_in_window: Script,
    work: work::Scripts,
    /// Stops the pub/sub task when the last handle goes.
    _stop: DropGuard,
}

impl RedisKvdb {
    /// Connects to the Redis at `url`; fails when it cannot be reached now, rather than
    /// letting a server start that cannot deploy anything.
    pub async fn connect(url: &str, prefix: &str) -> KvdbResult<Self> {
        let shown = redact(url);
        let cannot = |e: &dyn std::fmt::Display| {
            KvdbError::Unavailable(format!("cannot connect to Redis at `{shown}`: {e}"))
        };
        let client = Client::open(url).map_err(|e| cannot(&e))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(COMMAND_TIMEOUT))
            .set_number_of_retries(RECONNECT_RETRIES)
            .set_max_delay(Duration::from_secs(1));
        let commands = client
            .get_connection_manager_with_config(config)
            .await
            .map_err(|e| cannot(&e))?;
        let (subscriptions, stream) = pubsub::Subscriptions::connect(client.clone(), &shown)
            .await
            .map_err(|e| cannot(&e))?;
        let stop = CancellationToken::new();
        tokio::spawn(pubsub::run(subscriptions.clone(), stream, stop.clone()));
        Ok(Self {
            prefix: format!("{prefix}:"),
            commands,
            blocking: BlockingPool {
                client,
                idle: Mutex::default(),
            },
            subscriptions,
            lock_fenced: Script::new(LOCK_FENCED),
            extend_lock: Script::new(EXTEND_LOCK),
            unlock: Script::new(UNLOCK),
            merge_hashes: Script::new(MERGE_HASHES),
            count_in_window: Script::new(COUNT_IN_WINDOW),
            work: work::Scripts::default(),
            _stop: stop.drop_guard(),
            url: shown,
        })
    }

    fn value_key(&self, key: &str) -> String {
        format!("{}kv:{key}", self.prefix)
    }

    fn hash_key(&self, key: &str) -> String {
        format!("{}h:{key}", self.prefix)
    }

    fn ranking_key(&self, key: &str) -> String {
        format!("{}z:{key}", self.prefix)
    }

    fn queue_key(&self, queue: &str) -> String {
        format!("{}q:{queue}", self.prefix)
    }

    fn work_key(&self, queue: &str) -> String {
        format!("{}wq:{queue}", self.prefix)
    }

    fn channel(&self, channel: &str) -> String {
        format!("{}{channel}", self.prefix)
    }

    fn unavailable(&self, key: &str, e: &RedisError) -> KvdbError {
        crate::metrics::KVDB_ERRORS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        KvdbError::Unavailable(format!("Redis at `{}` failed on `{key}`: {e}", self.url))
    }

    /// Runs a short command on the shared connection.
    async fn query<T: FromRedisValue>(&self, command: &Cmd, key: &str) -> KvdbResult<T> {
        // A clone is a handle to the same multiplexed connection, not a new one.
        let mut conn = self.commands.clone();
        command
            .query_async(&mut conn)
            .await
            .map_err(|e| self.unavailable(key, &e))
    }

    async fn run_script(&self, script: &Script, key: &str, args: &[&[u8]]) -> KvdbResult<bool> {
        let mut conn = self.commands.clone();
        let mut invocation = script.key(key);
        for arg in args {
            invocation.arg(*arg);
        }
        invocation
            .invoke_async(&mut conn)
            .await
            .map_err(|e| self.unavailable(key, &e))
    }
}

/// Redis counts TTLs in whole milliseconds and rejects 0, where the in-memory KVDB would
/// store a value that is already expired: round up to at least 1 ms.
fn millis(ttl: Duration) -> u64 {
    let ms = ttl.as_nanos().div_ceil(1_000_000).max(1);
    u64::try_from(ms).unwrap_or(u64::MAX)
}

/// BLPOP's timeout in seconds with millisecond precision, rounded up: a timeout that
/// Redis would round down to 0 would mean "wait forever".
fn blpop_timeout(wait: Duration) -> String {
    let ms = millis(wait);
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

#[async_trait]
impl Kvdb for RedisKvdb {
    async fn get(&self, key: &str) -> KvdbResult<Option<Vec<u8>>> {
        let key = self.value_key(key);
        self.query(cmd("GET").arg(&key), &key).await
    }

    async fn set(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> KvdbResult<()> {
        let key = self.value_key(key);
        let mut command = cmd("SET");
        command.arg(&key).arg(value);
        if let Some(ttl) = ttl {
            command.arg("PX").arg(millis(ttl));
        }
        self.query(&command, &key).await
    }

    async fn delete(&self, key: &str) -> KvdbResult<bool> {
        let key = self.value_key(key);
        let deleted: u64 = self.query(cmd("DEL").arg(&key), &key).await?;
        Ok(deleted > 0)
    }

    async fn incr(&self, key: &str, by: i64) -> KvdbResult<i64> {
        let full = self.value_key(key);
        let mut conn = self.commands.clone();
        // INCRBY keeps the TTL and counts a missing key as 0, like the in-memory KVDB.
        match cmd("INCRBY")
            .arg(&full)
            .arg(by)
            .query_async(&mut conn)
            .await
        {
            Ok(next) => Ok(next),
            // "value is not an integer or out of range", or "would overflow" where the
            // in-memory KVDB wraps: both are the value's fault, not Redis being down.
            Err(e) if e.code() == Some("ERR") => Err(KvdbError::NotAnInteger(key.to_owned())),
            Err(e) => Err(self.unavailable(&full, &e)),
        }
    }

    async fn count_in_window(&self, key: &str, ttl: Duration) -> KvdbResult<i64> {
        let full = self.value_key(key);
        let mut conn = self.commands.clone();
        let mut invocation = self.count_in_window.key(&full);
        invocation.arg(ttl.as_millis().max(1) as u64);
        match invocation.invoke_async::<i64>(&mut conn).await {
            Ok(count) => Ok(count),
            // INCR of a value that is not an integer fails the script.
            Err(e) if e.to_string().contains("not an integer") => {
                Err(KvdbError::NotAnInteger(key.to_owned()))
            }
            Err(e) => Err(self.unavailable(&full, &e)),
        }
    }

    async fn try_lock(&self, key: &str, token: &str, ttl: Duration) -> KvdbResult<bool> {
        let key = self.value_key(key);
        // SET answers OK when it took the lock and nil when someone holds it.
        self.query(
            cmd("SET")
                .arg(&key)
                .arg(token)
                .arg("NX")
                .arg("PX")
                .arg(millis(ttl)),
            &key,
        )
        .await
    }

    async fn try_lock_fenced(
        &self,
        key: &str,
        fence: &str,
        token: &str,
        ttl: Duration,
    ) -> KvdbResult<Option<u64>> {
        let key = self.value_key(key);
        let fence = self.value_key(fence);
        let mut conn = self.commands.clone();
        let count: u64 = self
            .lock_fenced
            .key(&key)
            .key(&fence)
            .arg(token)
            .arg(millis(ttl))
            .invoke_async(&mut conn)
            .await
            .map_err(|e| self.unavailable(&key, &e))?;
        Ok((count > 0).then_some(count))
    }

    async fn extend_lock(&self, key: &str, token: &str, ttl: Duration) -> KvdbResult<bool> {
        let key = self.value_key(key);
        let ttl = millis(ttl).to_string();
        self.run_script(&self.extend_lock, &key, &[token.as_bytes(), ttl.as_bytes()])
            .await
    }

    async fn unlock(&self, key: &str, token: &str) -> KvdbResult<bool> {
        let key = self.value_key(key);
        self.run_script(&self.unlock, &key, &[token.as_bytes()])
            .await
    }

    async fn merge_hashes(&self, merges: &[HashMerge]) -> KvdbResult<()> {
        for chunk in merges.chunks(MERGE_CHUNK) {
            let mut invocation = self.merge_hashes.prepare_invoke();
            for merge in chunk {
                invocation.key(self.hash_key(&merge.key));
                invocation
                    .arg(if merge.replace { "1" } else { "0" })
                    .arg(merge.ttl.map_or(0, millis));
                for fields in [&merge.add, &merge.min, &merge.max] {
                    invocation.arg(fields.len());
                    for (field, value) in fields {
                        invocation.arg(field).arg(*value);
                    }
                }
            }
            let mut conn = self.commands.clone();
            let _: i64 = invocation
                .invoke_async(&mut conn)
                .await
                .map_err(|e| self.unavailable(&chunk[0].key, &e))?;
        }
        Ok(())
    }

    async fn hashes(&self, keys: &[String]) -> KvdbResult<Vec<HashMap<String, i64>>> {
        let Some(first) = keys.first() else {
            return Ok(Vec::new());
        };
        let mut pipe = ::redis::pipe();
        for key in keys {
            pipe.cmd("HGETALL").arg(self.hash_key(key));
        }
        let mut conn = self.commands.clone();
        pipe.query_async(&mut conn)
            .await
            .map_err(|e| self.unavailable(first, &e))
    }

    async fn rank(
        &self,
        key: &str,
        member: &[u8],
        score: f64,
        keep: usize,
        ttl: Option<Duration>,
    ) -> KvdbResult<()> {
        let key = self.ranking_key(key);
        let mut pipe = ::redis::pipe();
        pipe.atomic()
            .cmd("ZADD")
            .arg(&key)
            .arg(score)
            .arg(member)
            .ignore()
            .cmd("ZREMRANGEBYRANK")
            .arg(&key)
            .arg(0)
            .arg(-1 - i64::try_from(keep).unwrap_or(i64::MAX - 1))
            .ignore();
        if let Some(ttl) = ttl {
            pipe.cmd("PEXPIRE").arg(&key).arg(millis(ttl)).ignore();
        }
        let mut conn = self.commands.clone();
        pipe.query_async::<()>(&mut conn)
            .await
            .map_err(|e| self.unavailable(&key, &e))
    }

    async fn ranked(&self, key: &str) -> KvdbResult<Vec<(Vec<u8>, f64)>> {
        let key = self.ranking_key(key);
        self.query(
            cmd("ZREVRANGE").arg(&key).arg(0).arg(-1).arg("WITHSCORES"),
            &key,
        )
        .await
    }

    async fn push(&self, queue: &str, item: &[u8]) -> KvdbResult<()> {
        let key = self.queue_key(queue);
        let _length: u64 = self.query(cmd("RPUSH").arg(&key).arg(item), &key).await?;
        Ok(())
    }

    async fn push_many(&self, queue: &str, items: &[Vec<u8>]) -> KvdbResult<()> {
        if items.is_empty() {
            return Ok(());
        }
        let key = self.queue_key(queue);
        let mut rpush = cmd("RPUSH");
        rpush.arg(&key);
        for item in items {
            rpush.arg(item.as_slice());
        }
        let _length: u64 = self.query(&rpush, &key).await?;
        Ok(())
    }

    async fn pop(&self, queue: &str, wait: Duration) -> KvdbResult<Option<Vec<u8>>> {
        let key = self.queue_key(queue);
        if wait.is_zero() {
            // BLPOP 0 would wait forever.
            return self.query(cmd("LPOP").arg(&key), &key).await;
        }
        let mut conn = self
            .blocking
            .take()
            .await
            .map_err(|e| self.unavailable(&key, &e))?;
        let blpop = cmd("BLPOP").arg(&key).arg(blpop_timeout(wait)).clone();
        // The connection has no response timeout (BLPOP answers only after up to `wait`),
        // so this one guards against a Redis that never answers.
        let patience = wait.saturating_add(BLOCKING_GRACE);
        let answer = tokio::time::timeout(
            patience,
            blpop.query_async::<Option<(Vec<u8>, Vec<u8>)>>(&mut conn),
        )
        .await;
        match answer {
            Ok(Ok(popped)) => {
                self.blocking.give_back(conn);
                Ok(popped.map(|(_, item)| item))
            }
            // A failed or abandoned connection is dropped, never reused: it might still
            // deliver an answer meant for this call to the next one.
            Ok(Err(e)) => Err(self.unavailable(&key, &e)),
            Err(_) => Err(KvdbError::Unavailable(format!(
                "Redis at `{}` did not answer BLPOP on `{key}` within {:?}",
                self.url, patience
            ))),
        }
    }

    async fn enqueue(&self, queue: &str, item: &[u8]) -> KvdbResult<()> {
        self.work_enqueue(queue, item).await
    }

    async fn take(
        &self,
        queue: &str,
        consumer: &str,
        visibility: Duration,
        wait: Duration,
    ) -> KvdbResult<Option<Taken>> {
        self.work_take(queue, consumer, visibility, wait).await
    }

    async fn touch(&self, queue: &str, consumer: &str, id: &str) -> KvdbResult<bool> {
        self.work_touch(queue, consumer, id).await
    }

    async fn ack(&self, queue: &str, id: &str) -> KvdbResult<()> {
        self.work_ack(queue, id).await
    }
}

#[async_trait]
impl Broker for RedisKvdb {
    async fn publish(&self, channel: &str, payload: &[u8]) -> KvdbResult<()> {
        let channel = self.channel(channel);
        let _receivers: u64 = self
            .query(cmd("PUBLISH").arg(&channel).arg(payload), &channel)
            .await?;
        Ok(())
    }

    async fn subscribe(&self, channel: &str) -> KvdbResult<mpsc::Receiver<BrokerEvent>> {
        self.subscriptions.subscribe(self.channel(channel)).await
    }
}

/// Connections for BLPOP, one per waiting `pop`: a blocked connection serves nobody else,
/// so sharing one would make every `pop` wait for the one before it.
struct BlockingPool {
    client: Client,
    idle: Mutex<Vec<MultiplexedConnection>>,
}

impl BlockingPool {
    async fn take(&self) -> Result<MultiplexedConnection, RedisError> {
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        match idle {
            Some(conn) => Ok(conn),
            None => {
                let config = AsyncConnectionConfig::new()
                    .set_connection_timeout(Some(CONNECT_TIMEOUT))
                    .set_response_timeout(None);
                self.client
                    .get_multiplexed_async_connection_with_config(&config)
                    .await
            }
        }
    }

    /// Keeps a connection that answered in full, up to a few.
    fn give_back(&self, conn: MultiplexedConnection) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < BLOCKING_IDLE_MAX {
            idle.push(conn);
        }
    }
}

#[cfg(test)]
pub(crate) mod tests;
