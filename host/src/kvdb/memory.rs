//! The in-memory KVDB and broker: the embedded default of a single server.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokio::sync::{Notify, mpsc};

use super::{Broker, BrokerEvent, Kvdb, KvdbError, KvdbResult};

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
    subscribers: HashMap<String, Vec<mpsc::Sender<BrokerEvent>>>,
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
