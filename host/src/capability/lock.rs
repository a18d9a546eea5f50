//! `zato:service/lock`: cluster-wide locks for services, in the KVDB, with fencing
//! tokens.
//!
//! A lock is the KVDB key `svc.lock:{name}` holding a token unique to the acquisition;
//! its fencing counter is `svc.lock.fence:{name}`, counted up in the same atomic step
//! that takes the lock (`Kvdb::try_lock_fenced`). What a call holds is in its
//! [`HeldLocks`], which the runtime releases when the call ends, whatever the outcome;
//! should a call's store be dropped with locks still in it (the caller gave up on the
//! call), its `Drop` releases them in the background.
//!
//! *Invariant*: a lock is never held beyond the call that acquired it, nor beyond its
//! TTL: another server's call can take it then. A hostile argument is an error value
//! for the guest, never a trap or a panic.

use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::component::{HasData, Linker};

use super::kv::check_name;
use crate::kvdb::{Kvdb, KvdbError};
use crate::wit::zato::service::lock::{self, Host, LockError};

/// Longest lock name.
pub const MAX_NAME_BYTES: usize = 256;
/// Longest TTL a lock is held for.
pub const MAX_TTL: Duration = Duration::from_secs(600);
/// Most locks one call holds at once.
pub const MAX_HELD: usize = 64;
/// How long a waiting acquisition pauses between tries at first, and at most.
const FIRST_PAUSE: Duration = Duration::from_millis(2);
const LONGEST_PAUSE: Duration = Duration::from_millis(50);

/// One lock a call holds.
struct Held {
    name: String,
    /// The KVDB key and the token the call holds it with.
    key: String,
    token: String,
    /// `None` when the KVDB did not say whether it took the lock (its answer timed out):
    /// the call does not count it as held, but releases it at the end in case it is.
    fence: Option<u64>,
}

/// The locks a call holds; released when the call ends.
#[derive(Default)]
pub struct HeldLocks {
    held: Vec<Held>,
    /// Where they are held: set by the first acquisition.
    kvdb: Option<Arc<dyn Kvdb>>,
}

impl HeldLocks {
    pub fn is_empty(&self) -> bool {
        self.held.is_empty()
    }

    /// Releases every lock still held, at once; a lock the KVDB cannot release now
    /// expires with its TTL. `service` and `cid` name the call in the log.
    pub async fn release_all(&mut self, service: &str, cid: &str) {
        let held = std::mem::take(&mut self.held);
        let Some(kvdb) = self.kvdb.clone() else {
            return;
        };
        release(kvdb, held, service, cid).await;
    }
}

async fn release(kvdb: Arc<dyn Kvdb>, held: Vec<Held>, service: &str, cid: &str) {
    let unlocks = held.iter().map(|lock| kvdb.unlock(&lock.key, &lock.token));
    for (lock, result) in held.iter().zip(futures::future::join_all(unlocks).await) {
        match result {
            Ok(_) => {
                tracing::debug!(service, cid, lock = %lock.name, "lock released at the end of the call")
            }
            Err(e) => tracing::warn!(
                service, cid, lock = %lock.name,
                "cannot release the lock at the end of the call (it expires with its TTL): {e}"
            ),
        }
    }
}

impl Drop for HeldLocks {
    fn drop(&mut self) {
        if self.held.is_empty() {
            return;
        }
        let (Some(kvdb), Ok(runtime)) = (self.kvdb.clone(), tokio::runtime::Handle::try_current())
        else {
            return;
        };
        let held = std::mem::take(&mut self.held);
        runtime.spawn(async move { release(kvdb, held, "(dropped call)", "-").await });
    }
}

/// What the `lock` import reaches of a call: the KVDB, the locks the call holds and
/// the request's deadline.
pub struct LockView<'a> {
    /// `None` only before the server gave the runtime its KVDB, or while it shuts down.
    pub kvdb: Option<Arc<dyn Kvdb>>,
    pub held: &'a mut HeldLocks,
    pub deadline: Instant,
}

struct Lock;

impl HasData for Lock {
    type Data<'a> = LockView<'a>;
}

/// Links `lock`, building each call's [`LockView`] with `get`.
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> LockView<'_>,
) -> wasmtime::Result<()> {
    lock::add_to_linker::<T, Lock>(linker, get)
}

fn unavailable(name: &str, err: &KvdbError) -> LockError {
    LockError::Unavailable(format!("lock `{}`: {err}", name.escape_debug()))
}

impl Host for LockView<'_> {
    async fn acquire(
        &mut self,
        name: String,
        timeout_ms: u64,
        ttl_ms: u64,
    ) -> wasmtime::Result<Result<u64, LockError>> {
        if let Err(message) = check_name("lock name", &name, MAX_NAME_BYTES) {
            return Ok(Err(LockError::BadRequest(message)));
        }
        let ttl = Duration::from_millis(ttl_ms);
        if ttl_ms == 0 || ttl > MAX_TTL {
            return Ok(Err(LockError::BadRequest(format!(
                "lock `{}`: invalid TTL of {ttl_ms} ms: must be 1 ms to {} s",
                name.escape_debug(),
                MAX_TTL.as_secs()
            ))));
        }
        if let Some(fence) = self
            .held
            .held
            .iter()
            .find(|h| h.name == name)
            .and_then(|h| h.fence)
        {
            return Ok(Ok(fence));
        }
        if self.held.held.len() >= MAX_HELD {
            return Ok(Err(LockError::BadRequest(format!(
                "lock `{}`: this call holds {MAX_HELD} locks already, the most it may",
                name.escape_debug()
            ))));
        }
        let Some(kvdb) = self.kvdb.clone() else {
            return Ok(Err(LockError::Unavailable(
                "the server has no KVDB (it is starting or shutting down)".into(),
            )));
        };
        self.held.kvdb.get_or_insert_with(|| kvdb.clone());
        let key = format!("svc.lock:{name}");
        let fence_key = format!("svc.lock.fence:{name}");
        let token = format!("{:032x}", rand::random::<u128>());
        let started = Instant::now();
        let wait_until = (started + Duration::from_millis(timeout_ms)).min(self.deadline);
        let mut pause = FIRST_PAUSE;
        loop {
            let remaining = self.deadline.saturating_duration_since(Instant::now());
            let attempt = kvdb.try_lock_fenced(&key, &fence_key, &token, ttl);
            let outcome = tokio::time::timeout(remaining, attempt).await;
            let doubtful = match outcome {
                Ok(Ok(Some(fence))) => {
                    self.held.held.push(Held {
                        name,
                        key,
                        token,
                        fence: Some(fence),
                    });
                    return Ok(Ok(fence));
                }
                Ok(Ok(None)) => None,
                Ok(Err(err)) => Some(unavailable(&name, &err)),
                Err(_) => Some(LockError::Unavailable(format!(
                    "lock `{}`: the KVDB did not answer before the request's deadline",
                    name.escape_debug()
                ))),
            };
            if let Some(err) = doubtful {
                // The KVDB may have taken the lock before its answer was lost.
                self.held.held.push(Held {
                    name,
                    key,
                    token,
                    fence: None,
                });
                return Ok(Err(err));
            }
            let now = Instant::now();
            if now >= wait_until {
                return Ok(Err(LockError::Timeout(format!(
                    "lock `{}` is held by another call: waited {} ms",
                    name.escape_debug(),
                    now.duration_since(started).as_millis()
                ))));
            }
            tokio::time::sleep(pause.min(wait_until - now)).await;
            pause = (pause * 2).min(LONGEST_PAUSE);
        }
    }

    async fn release(&mut self, name: String) -> wasmtime::Result<Result<bool, LockError>> {
        if let Err(message) = check_name("lock name", &name, MAX_NAME_BYTES) {
            return Ok(Err(LockError::BadRequest(message)));
        }
        let Some(at) = self.held.held.iter().position(|h| h.name == name) else {
            return Ok(Ok(false));
        };
        let Some(kvdb) = self.held.kvdb.clone() else {
            return Ok(Ok(false));
        };
        let held = self.held.held.remove(at);
        let remaining = self.deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(remaining, kvdb.unlock(&held.key, &held.token)).await {
            Ok(Ok(released)) => Ok(Ok(released && held.fence.is_some())),
            Ok(Err(err)) => {
                // Keep it, so that the end of the call tries again.
                self.held.held.push(held);
                Ok(Err(unavailable(&name, &err)))
            }
            Err(_) => {
                self.held.held.push(held);
                Ok(Err(LockError::Unavailable(format!(
                    "lock `{}`: the KVDB did not answer before the request's deadline",
                    name.escape_debug()
                ))))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kvdb::memory::MemoryKvdb;

    fn view<'a>(kvdb: &Arc<dyn Kvdb>, held: &'a mut HeldLocks) -> LockView<'a> {
        LockView {
            kvdb: Some(kvdb.clone()),
            held,
            deadline: Instant::now() + Duration::from_secs(5),
        }
    }

    #[tokio::test]
    async fn hostile_arguments_are_errors_for_the_guest() {
        let kvdb: Arc<dyn Kvdb> = Arc::new(MemoryKvdb::default());
        let mut held = HeldLocks::default();
        let mut view = view(&kvdb, &mut held);
        for (name, ttl, expected) in [
            (String::new(), 1000, "invalid lock name (0 bytes)"),
            ("x".repeat(MAX_NAME_BYTES + 1), 1000, "1 to 256 bytes"),
            ("a\u{7}".into(), 1000, "control characters"),
            ("ok".into(), 0, "invalid TTL of 0 ms"),
            ("ok".into(), u64::MAX, "must be 1 ms to 600 s"),
        ] {
            match view.acquire(name, 0, ttl).await.expect("no trap") {
                Err(LockError::BadRequest(m)) => assert!(m.contains(expected), "{m}"),
                other => panic!("expected bad-request, got {other:?}"),
            }
        }
        for n in 0..MAX_HELD {
            view.acquire(format!("l{n}"), 0, 1000)
                .await
                .unwrap()
                .unwrap();
        }
        match view.acquire("one more".into(), 0, 1000).await.unwrap() {
            Err(LockError::BadRequest(m)) => assert!(m.contains("holds 64 locks"), "{m}"),
            other => panic!("expected bad-request, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_held_lock_waits_others_and_is_released_at_the_end_of_the_call() {
        let kvdb: Arc<dyn Kvdb> = Arc::new(MemoryKvdb::default());
        let mut first = HeldLocks::default();
        let mut second = HeldLocks::default();
        let fence = view(&kvdb, &mut first)
            .acquire("stock".into(), 0, 60_000)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(fence, 1);
        assert_eq!(
            view(&kvdb, &mut first)
                .acquire("stock".into(), 0, 60_000)
                .await
                .unwrap()
                .unwrap(),
            1,
            "acquiring again answers the same token"
        );
        match view(&kvdb, &mut second)
            .acquire("stock".into(), 30, 60_000)
            .await
            .unwrap()
        {
            Err(LockError::Timeout(m)) => assert!(m.contains("held by another call"), "{m}"),
            other => panic!("expected timeout, got {other:?}"),
        }
        assert!(
            !view(&kvdb, &mut second)
                .release("stock".into())
                .await
                .unwrap()
                .unwrap(),
            "a call releases only what it holds"
        );
        first.release_all("svc", "cid").await;
        assert!(first.is_empty());
        assert_eq!(
            view(&kvdb, &mut second)
                .acquire("stock".into(), 0, 60_000)
                .await
                .unwrap()
                .unwrap(),
            2,
            "free once the first call ended, with a larger token"
        );
        assert!(
            view(&kvdb, &mut second)
                .release("stock".into())
                .await
                .unwrap()
                .unwrap()
        );
    }

    #[tokio::test]
    async fn a_dropped_call_s_locks_are_released() {
        let kvdb: Arc<dyn Kvdb> = Arc::new(MemoryKvdb::default());
        let mut held = HeldLocks::default();
        view(&kvdb, &mut held)
            .acquire("l".into(), 0, 60_000)
            .await
            .unwrap()
            .unwrap();
        drop(held);
        let mut other = HeldLocks::default();
        // Released by a task the drop spawned: wait for it, as a second caller would.
        let fence = view(&kvdb, &mut other)
            .acquire("l".into(), 5_000, 60_000)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(fence, 2);
    }
}
