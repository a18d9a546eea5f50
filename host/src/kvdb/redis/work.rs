//! Reliable work queues on Redis: one stream per queue (`{prefix}:wq:{queue}`), one
//! consumer group ([`GROUP`]) that every server's consumers join.
//!
//! The stream's pending entries list (PEL) is what makes the queue survive a consumer's
//! `kill -9`: an entry read by a consumer stays pending, with its owner, its idle time and
//! its delivery count, until it is acknowledged. `take` first claims an entry idle for at
//! least the visibility timeout (its owner stopped touching it), then reads a new one;
//! `touch` resets an entry's idle time only for its owner; `ack` removes it from the PEL
//! and from the stream. Each of these is one Lua script, so that no two consumers ever
//! take the same entry at once and a touch never steals another consumer's entry.
//!
//! A `take` that finds nothing waits with XREADGROUP BLOCK on a connection of its own,
//! in rounds of at most [`CLAIM_POLL`]: BLOCK wakes on new entries only, so an entry
//! whose taker died is found at the next round.

use std::time::Duration;

use ::redis::{RedisError, Script, Value, cmd};

use super::{BLOCKING_GRACE, RedisKvdb, millis};
use crate::kvdb::{KvdbError, KvdbResult, Taken};

/// The one consumer group of every work queue.
const GROUP: &str = "zato";
/// The field of a stream entry that holds the item.
const FIELD: &str = "d";
/// Longest wait between two looks for entries whose taker went silent.
const CLAIM_POLL: Duration = Duration::from_secs(1);
/// Shortest such wait, so that a tiny visibility does not make a waiting take spin.
const CLAIM_POLL_MIN: Duration = Duration::from_millis(20);
/// How many deleted-but-pending entries one take clears before it gives up the claim
/// pass (only something outside zato deletes entries without acknowledging them).
const CLAIM_TRIES: usize = 16;

/// KEYS[1]: the stream; ARGV: group, consumer, visibility (ms), field, tries.
/// Answers `{id, item, deliveries}` or nil.
const TAKE: &str = r"
local key, group, consumer, idle, field = KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local made = redis.pcall('XGROUP', 'CREATECONSUMER', key, group, consumer)
if type(made) == 'table' and made.err then
    redis.call('XGROUP', 'CREATE', key, group, '0', 'MKSTREAM')
end
for _ = 1, tonumber(ARGV[5]) do
    local pending = redis.call('XPENDING', key, group, 'IDLE', idle, '-', '+', 1)
    if #pending == 0 then
        break
    end
    local id, deliveries = pending[1][1], pending[1][4]
    local claimed = redis.call('XCLAIM', key, group, consumer, idle, id)
    if claimed[1] then
        local fields = claimed[1][2]
        for i = 1, #fields, 2 do
            if fields[i] == field then
                return {id, fields[i + 1], deliveries + 1}
            end
        end
    end
    -- Deleted (or foreign) entry: nothing to hand out, drop it from the pending list.
    redis.call('XACK', key, group, id)
end
local read = redis.call('XREADGROUP', 'GROUP', group, consumer, 'COUNT', 1, 'STREAMS', key, '>')
if read then
    local entry = read[1][2][1]
    local fields = entry[2]
    for i = 1, #fields, 2 do
        if fields[i] == field then
            return {entry[1], fields[i + 1], 1}
        end
    end
    redis.call('XACK', key, group, entry[1])
end
return false
";

/// KEYS[1]: the stream; ARGV: group, consumer, id. Answers 1 when the entry was the
/// consumer's and its idle time is reset, else 0.
const TOUCH: &str = r"
local pending = redis.pcall('XPENDING', KEYS[1], ARGV[1], ARGV[3], ARGV[3], 1)
if pending.err or #pending == 0 or pending[1][2] ~= ARGV[2] then
    return 0
end
redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[3], 'JUSTID')
return 1
";

/// KEYS[1]: the stream; ARGV: group, id. An unknown or malformed id is no error: the
/// item is gone either way, as with the in-memory KVDB.
const ACK: &str = r"
local acked = redis.pcall('XACK', KEYS[1], ARGV[1], ARGV[2])
if type(acked) == 'table' and acked.err then
    return 0
end
redis.call('XDEL', KEYS[1], ARGV[2])
return acked
";

/// The work-queue scripts, loaded once per `RedisKvdb` (EVALSHA, EVAL on a miss).
pub(super) struct Scripts {
    take: Script,
    touch: Script,
    ack: Script,
}

impl Default for Scripts {
    fn default() -> Self {
        Self {
            take: Script::new(TAKE),
            touch: Script::new(TOUCH),
            ack: Script::new(ACK),
        }
    }
}

impl RedisKvdb {
    pub(super) async fn work_enqueue(&self, queue: &str, item: &[u8]) -> KvdbResult<()> {
        let key = self.work_key(queue);
        let _id: String = self
            .query(cmd("XADD").arg(&key).arg("*").arg(FIELD).arg(item), &key)
            .await?;
        Ok(())
    }

    pub(super) async fn work_take(
        &self,
        queue: &str,
        consumer: &str,
        visibility: Duration,
        wait: Duration,
    ) -> KvdbResult<Option<Taken>> {
        let key = self.work_key(queue);
        let deadline = tokio::time::Instant::now() + wait;
        let poll = (visibility / 2).clamp(CLAIM_POLL_MIN, CLAIM_POLL);
        loop {
            if let Some(taken) = self.take_now(&key, consumer, visibility).await? {
                return Ok(Some(taken));
            }
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            if let Some(taken) = self.take_new(&key, consumer, left.min(poll)).await? {
                return Ok(Some(taken));
            }
        }
    }

    /// One pass of the take script: a silent taker's entry, else a new one.
    async fn take_now(
        &self,
        key: &str,
        consumer: &str,
        visibility: Duration,
    ) -> KvdbResult<Option<Taken>> {
        let mut conn = self.commands.clone();
        let answer: Option<(String, Vec<u8>, u32)> = self
            .work
            .take
            .key(key)
            .arg(GROUP)
            .arg(consumer)
            .arg(millis(visibility))
            .arg(FIELD)
            .arg(CLAIM_TRIES)
            .invoke_async(&mut conn)
            .await
            .map_err(|e| self.unavailable(key, &e))?;
        Ok(answer.map(|(id, item, deliveries)| Taken {
            id,
            item,
            deliveries,
        }))
    }

    /// Waits up to `block` for a new entry (never delivered before) with XREADGROUP
    /// BLOCK, on a connection of its own.
    async fn take_new(
        &self,
        key: &str,
        consumer: &str,
        block: Duration,
    ) -> KvdbResult<Option<Taken>> {
        let mut conn = self
            .blocking
            .take()
            .await
            .map_err(|e| self.unavailable(key, &e))?;
        // BLOCK 0 would wait forever: `millis` is at least 1.
        let read = cmd("XREADGROUP")
            .arg("GROUP")
            .arg(GROUP)
            .arg(consumer)
            .arg("COUNT")
            .arg(1)
            .arg("BLOCK")
            .arg(millis(block))
            .arg("STREAMS")
            .arg(key)
            .arg(">")
            .clone();
        let patience = block.saturating_add(BLOCKING_GRACE);
        let answer = tokio::time::timeout(patience, read.query_async::<Value>(&mut conn)).await;
        match answer {
            Ok(Ok(value)) => {
                self.blocking.give_back(conn);
                Ok(first_entry(value).map(|(id, item)| Taken {
                    id,
                    item,
                    deliveries: 1,
                }))
            }
            // The stream (and its group) was deleted since the script made it: the next
            // pass makes it again.
            Ok(Err(e)) if is_nogroup(&e) => {
                self.blocking.give_back(conn);
                Ok(None)
            }
            // A failed or abandoned connection is dropped, never reused. An entry it may
            // have read meanwhile stays pending and is claimed after its visibility.
            Ok(Err(e)) => Err(self.unavailable(key, &e)),
            Err(_) => Err(KvdbError::Unavailable(format!(
                "Redis at `{}` did not answer XREADGROUP on `{key}` within {patience:?}",
                self.url
            ))),
        }
    }

    pub(super) async fn work_touch(
        &self,
        queue: &str,
        consumer: &str,
        id: &str,
    ) -> KvdbResult<bool> {
        let key = self.work_key(queue);
        let mut conn = self.commands.clone();
        self.work
            .touch
            .key(&key)
            .arg(GROUP)
            .arg(consumer)
            .arg(id)
            .invoke_async(&mut conn)
            .await
            .map_err(|e| self.unavailable(&key, &e))
    }

    pub(super) async fn work_ack(&self, queue: &str, id: &str) -> KvdbResult<()> {
        let key = self.work_key(queue);
        let mut conn = self.commands.clone();
        let _acked: u64 = self
            .work
            .ack
            .key(&key)
            .arg(GROUP)
            .arg(id)
            .invoke_async(&mut conn)
            .await
            .map_err(|e| self.unavailable(&key, &e))?;
        Ok(())
    }
}

fn is_nogroup(e: &RedisError) -> bool {
    e.code() == Some("NOGROUP")
}

/// The first entry of an XREADGROUP answer (RESP2 arrays or RESP3 maps), with the
/// item's field; `None` for nil (nothing arrived in time).
fn first_entry(value: Value) -> Option<(String, Vec<u8>)> {
    let stream = match value {
        Value::Array(streams) => streams.into_iter().next()?,
        Value::Map(streams) => {
            let (name, entries) = streams.into_iter().next()?;
            Value::Array(vec![name, entries])
        }
        _ => return None,
    };
    let Value::Array(stream) = stream else {
        return None;
    };
    let Value::Array(entries) = stream.into_iter().nth(1)? else {
        return None;
    };
    let Value::Array(entry) = entries.into_iter().next()? else {
        return None;
    };
    let mut entry = entry.into_iter();
    let id = text(entry.next()?)?;
    let fields: Vec<Value> = match entry.next()? {
        Value::Array(fields) => fields,
        Value::Map(pairs) => pairs.into_iter().flat_map(|(k, v)| [k, v]).collect(),
        _ => return None,
    };
    let mut fields = fields.into_iter();
    while let (Some(name), Some(item)) = (fields.next(), fields.next()) {
        if text(name).as_deref() == Some(FIELD) {
            return match item {
                Value::BulkString(bytes) => Some((id, bytes)),
                _ => None,
            };
        }
    }
    None
}

fn text(value: Value) -> Option<String> {
    match value {
        Value::BulkString(bytes) => String::from_utf8(bytes).ok(),
        Value::SimpleString(s) => Some(s),
        _ => None,
    }
}
