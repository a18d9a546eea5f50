//! The in-memory KVDB and broker: the embedded default of a single server.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokio::sync::{Notify, mpsc};

use super::{Broker, BrokerEvent, HashMerge, Kvdb, KvdbError, KvdbResult, Taken};

/// Capacity of a subscriber's queue; a subscriber that falls this far behind loses
/// messages (pub/sub is at-most-once anyway).
const SUBSCRIBER_CAPACITY: usize = 1024;

#[derive(Default)]
pub struct MemoryKvdb {
    state: Mutex<State>,
    queue_ready: Notify,
}

#[derive(Default)]
struct State {
    values: HashMap<String, (Vec<u8>, Option<Instant>)>,
    queues: HashMap<String, VecDeque<Vec<u8>>>,
    work: HashMap<String, WorkQueue>,
    hashes: HashMap<String, Expiring<HashMap<String, i64>>>,
    rankings: HashMap<String, Expiring<Ranking>>,
    subscribers: HashMap<String, Vec<mpsc::Sender<BrokerEvent>>>,
}

/// A ranking's members by (score, member), lowest first.
type Ranking = Vec<(f64, Vec<u8>)>;

/// A hash or ranking, and when it expires.
type Expiring<T> = (T, Option<Instant>);

/// The live entry of `key` in `map`, dropping it first if it expired.
fn live_entry<'m, T>(map: &'m mut HashMap<String, Expiring<T>>, key: &str) -> Option<&'m mut T> {
    if map
        .get(key)
        .is_some_and(|(_, exp)| exp.is_some_and(|e| e <= Instant::now()))
    {
        map.remove(key);
    }
    map.get_mut(key).map(|(value, _)| value)
}

impl State {
    /// The live value of `key`, dropping it first if it expired.
    fn live(&mut self, key: &str) -> Option<&mut (Vec<u8>, Option<Instant>)> {
        if self
            .values
            .get(key)
            .is_some_and(|(_, exp)| exp.is_some_and(|e| e <= Instant::now()))
        {
            self.values.remove(key);
        }
        self.values.get_mut(key)
    }
}

/// A reliable work queue: items wait in `fresh` until taken, then stay in `taken` until
/// acknowledged, so that an item whose taker went silent can be taken again.
#[derive(Default)]
struct WorkQueue {
    next_id: u64,
    /// Items nobody took yet, oldest first.
    fresh: VecDeque<(u64, Vec<u8>)>,
    /// Items taken and not acknowledged; ids grow, so the map is oldest first.
    taken: BTreeMap<u64, TakenItem>,
}

struct TakenItem {
    item: Vec<u8>,
    consumer: String,
    /// When its consumer took or touched it last.
    touched: Instant,
    deliveries: u32,
}

impl WorkQueue {
    /// What [`Kvdb::take`] answers now, like the Redis script: a silent taker's item
    /// first (it has waited longest), else the oldest fresh one.
    fn take(&mut self, consumer: &str, visibility: Duration) -> Option<Taken> {
        let now = Instant::now();
        let expired = self
            .taken
            .iter_mut()
            .find(|(_, t)| t.touched + visibility <= now);
        if let Some((id, taken)) = expired {
            taken.consumer = consumer.to_owned();
            taken.touched = now;
            taken.deliveries = taken.deliveries.saturating_add(1);
            return Some(Taken {
                id: id.to_string(),
                item: taken.item.clone(),
                deliveries: taken.deliveries,
            });
        }
        let (id, item) = self.fresh.pop_front()?;
        self.taken.insert(
            id,
            TakenItem {
                item: item.clone(),
                consumer: consumer.to_owned(),
                touched: now,
                deliveries: 1,
            },
        );
        Some(Taken {
            id: id.to_string(),
            item,
            deliveries: 1,
        })
    }

    /// When the first taken item becomes takeable again for a taker with `visibility`.
    fn next_expiry(&self, visibility: Duration) -> Option<Instant> {
        self.taken.values().map(|t| t.touched + visibility).min()
    }
}

impl MemoryKvdb {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the maps half-updated in a way
        // that matters more than losing the whole KVDB would.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl Kvdb for MemoryKvdb {
    async fn get(&self, key: &str) -> KvdbResult<Option<Vec<u8>>> {
        Ok(self.state().live(key).map(|(v, _)| v.clone()))
    }

    async fn set(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> KvdbResult<()> {
        let expires = ttl.map(|t| Instant::now() + t);
        self.state()
            .values
            .insert(key.to_owned(), (value.to_vec(), expires));
        Ok(())
    }

    async fn delete(&self, key: &str) -> KvdbResult<bool> {
        let mut state = self.state();
        let existed = state.live(key).is_some();
        state.values.remove(key);
        Ok(existed)
    }

    async fn incr(&self, key: &str, by: i64) -> KvdbResult<i64> {
        let mut state = self.state();
        let current = match state.live(key) {
            Some((v, _)) => std::str::from_utf8(v)
                .ok()
                .and_then(|s| s.parse::<i64>().ok())
                .ok_or_else(|| KvdbError::NotAnInteger(key.to_owned()))?,
            None => 0,
        };
        let next = current.wrapping_add(by);
        let expires = state.live(key).and_then(|(_, e)| *e);
        state
            .values
            .insert(key.to_owned(), (next.to_string().into_bytes(), expires));
        Ok(next)
    }

    async fn count_in_window(&self, key: &str, ttl: Duration) -> KvdbResult<i64> {
        let mut state = self.state();
        let (count, expires) = match state.live(key) {
            Some((v, expires)) => (
                std::str::from_utf8(v)
                    .ok()
                    .and_then(|s| s.parse::<i64>().ok())
                    .ok_or_else(|| KvdbError::NotAnInteger(key.to_owned()))?,
                expires.unwrap_or_else(|| Instant::now() + ttl),
            ),
            None => (0, Instant::now() + ttl),
        };
        let next = count.wrapping_add(1);
        state.values.insert(
            key.to_owned(),
            (next.to_string().into_bytes(), Some(expires)),
        );
        Ok(next)
    }

    async fn try_lock(&self, key: &str, token: &str, ttl: Duration) -> KvdbResult<bool> {
        let mut state = self.state();
        if state.live(key).is_some() {
            return Ok(false);
        }
        state.values.insert(
            key.to_owned(),
            (token.as_bytes().to_vec(), Some(Instant::now() + ttl)),
        );
        Ok(true)
    }

    async fn try_lock_fenced(
        &self,
        key: &str,
        fence: &str,
        token: &str,
        ttl: Duration,
    ) -> KvdbResult<Option<u64>> {
        let mut state = self.state();
        if state.live(key).is_some() {
            return Ok(None);
        }
        let count = match state.live(fence) {
            Some((v, _)) => std::str::from_utf8(v)
                .ok()
                .and_then(|s| s.parse::<u64>().ok())
                .ok_or_else(|| KvdbError::NotAnInteger(fence.to_owned()))?,
            None => 0,
        } + 1;
        state
            .values
            .insert(fence.to_owned(), (count.to_string().into_bytes(), None));
        state.values.insert(
            key.to_owned(),
            (token.as_bytes().to_vec(), Some(Instant::now() + ttl)),
        );
        Ok(Some(count))
    }

    async fn extend_lock(&self, key: &str, token: &str, ttl: Duration) -> KvdbResult<bool> {
        let mut state = self.state();
        match state.live(key) {
            Some((holder, expires)) if holder == token.as_bytes() => {
                *expires = Some(Instant::now() + ttl);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn unlock(&self, key: &str, token: &str) -> KvdbResult<bool> {
        let mut state = self.state();
        match state.live(key) {
            Some((holder, _)) if holder == token.as_bytes() => {
                state.values.remove(key);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn merge_hashes(&self, merges: &[HashMerge]) -> KvdbResult<()> {
        let mut state = self.state();
        for merge in merges {
            if merge.replace {
                state.hashes.remove(&merge.key);
            }
            live_entry(&mut state.hashes, &merge.key);
            let (hash, expires) = state.hashes.entry(merge.key.clone()).or_default();
            for (field, by) in &merge.add {
                let value = hash.entry(field.clone()).or_insert(0);
                *value = value.saturating_add(*by);
            }
            for (field, v) in &merge.min {
                let value = hash.entry(field.clone()).or_insert(*v);
                *value = (*value).min(*v);
            }
            for (field, v) in &merge.max {
                let value = hash.entry(field.clone()).or_insert(*v);
                *value = (*value).max(*v);
            }
            if let Some(ttl) = merge.ttl {
                *expires = Some(Instant::now() + ttl);
            }
        }
        Ok(())
    }

    async fn hashes(&self, keys: &[String]) -> KvdbResult<Vec<HashMap<String, i64>>> {
        let mut state = self.state();
        Ok(keys
            .iter()
            .map(|key| {
                live_entry(&mut state.hashes, key)
                    .cloned()
                    .unwrap_or_default()
            })
            .collect())
    }

    async fn rank(
        &self,
        key: &str,
        member: &[u8],
        score: f64,
        keep: usize,
        ttl: Option<Duration>,
    ) -> KvdbResult<()> {
        let mut state = self.state();
        live_entry(&mut state.rankings, key);
        let (members, expires) = state.rankings.entry(key.to_owned()).or_default();
        // A member is there once, with its latest score, as in a Redis sorted set.
        members.retain(|(_, m)| m != member);
        members.push((score, member.to_vec()));
        members.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
        let excess = members.len().saturating_sub(keep);
        members.drain(..excess);
        if let Some(ttl) = ttl {
            *expires = Some(Instant::now() + ttl);
        }
        Ok(())
    }

    async fn ranked(&self, key: &str) -> KvdbResult<Vec<(Vec<u8>, f64)>> {
        let mut state = self.state();
        Ok(live_entry(&mut state.rankings, key)
            .map(|members| {
                members
                    .iter()
                    .rev()
                    .map(|(score, member)| (member.clone(), *score))
                    .collect()
            })
            .unwrap_or_default())
    }

    async fn push(&self, queue: &str, item: &[u8]) -> KvdbResult<()> {
        self.state()
            .queues
            .entry(queue.to_owned())
            .or_default()
            .push_back(item.to_vec());
        self.queue_ready.notify_waiters();
        Ok(())
    }

    async fn pop(&self, queue: &str, wait: Duration) -> KvdbResult<Option<Vec<u8>>> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            // Register interest before looking, so a push in between is not missed.
            let notified = self.queue_ready.notified();
            if let Some(item) = self
                .state()
                .queues
                .get_mut(queue)
                .and_then(VecDeque::pop_front)
            {
                return Ok(Some(item));
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return Ok(None);
            }
        }
    }

    async fn enqueue(&self, queue: &str, item: &[u8]) -> KvdbResult<()> {
        {
            let mut state = self.state();
            let work = state.work.entry(queue.to_owned()).or_default();
            work.next_id += 1;
            let id = work.next_id;
            work.fresh.push_back((id, item.to_vec()));
        }
        self.queue_ready.notify_waiters();
        Ok(())
    }

    async fn take(
        &self,
        queue: &str,
        consumer: &str,
        visibility: Duration,
        wait: Duration,
    ) -> KvdbResult<Option<Taken>> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            // Register interest before looking, so an enqueue in between is not missed.
            let notified = self.queue_ready.notified();
            let expiry = {
                let mut state = self.state();
                let work = state.work.entry(queue.to_owned()).or_default();
                if let Some(taken) = work.take(consumer, visibility) {
                    return Ok(Some(taken));
                }
                work.next_expiry(visibility)
            };
            // Nothing is enqueued meanwhile, but a taken item may become takeable.
            let wake = expiry.map_or(deadline, |at| deadline.min(at.into()));
            if tokio::time::timeout_at(wake, notified).await.is_err()
                && tokio::time::Instant::now() >= deadline
            {
                return Ok(None);
            }
        }
    }

    async fn touch(&self, queue: &str, consumer: &str, id: &str) -> KvdbResult<bool> {
        let mut state = self.state();
        let taken = id
            .parse::<u64>()
            .ok()
            .and_then(|id| state.work.get_mut(queue)?.taken.get_mut(&id));
        match taken {
            Some(taken) if taken.consumer == consumer => {
                taken.touched = Instant::now();
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn ack(&self, queue: &str, id: &str) -> KvdbResult<()> {
        let mut state = self.state();
        if let (Ok(id), Some(work)) = (id.parse::<u64>(), state.work.get_mut(queue)) {
            work.taken.remove(&id);
            work.fresh.retain(|(fresh, _)| *fresh != id);
        }
        Ok(())
    }
}

#[async_trait]
impl Broker for MemoryKvdb {
    async fn publish(&self, channel: &str, payload: &[u8]) -> KvdbResult<()> {
        let mut state = self.state();
        if let Some(subscribers) = state.subscribers.get_mut(channel) {
            subscribers.retain(
                |tx| match tx.try_send(BrokerEvent::Message(payload.to_vec())) {
                    Ok(()) | Err(mpsc::error::TrySendError::Full(_)) => true,
                    Err(mpsc::error::TrySendError::Closed(_)) => false,
                },
            );
        }
        Ok(())
    }

    async fn subscribe(&self, channel: &str) -> KvdbResult<mpsc::Receiver<BrokerEvent>> {
        let (tx, rx) = mpsc::channel(SUBSCRIBER_CAPACITY);
        self.state()
            .subscribers
            .entry(channel.to_owned())
            .or_default()
            .push(tx);
        Ok(rx)
    }
}

// Behaviour is tested by the suite shared with the Redis implementation (`kvdb::suite`).
