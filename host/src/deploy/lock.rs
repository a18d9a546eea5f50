//! The deploy lock: one server at a time deploys the same bytes.
//!
//! It only saves duplicate work (several servers watching one pickup directory see the
//! same file); correctness rests on the ODB's version numbers. Its holder extends it
//! while it works, so a compilation longer than the lock's life does not let a second
//! server start the same one; a holder that dies stops extending and the lock expires.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;

use super::DeployError;
use crate::kvdb::Kvdb;

/// How long the lock lives after its holder last extended it.
pub(super) const TTL: Duration = Duration::from_secs(30);

/// A held deploy lock, extended in the background until released.
pub(super) struct DeployLock {
    kvdb: Arc<dyn Kvdb>,
    key: String,
    token: String,
    keeper: JoinHandle<()>,
}

impl DeployLock {
    /// Takes the lock `key`, waiting up to `longest` for another holder to finish.
    pub(super) async fn acquire(
        kvdb: &Arc<dyn Kvdb>,
        key: String,
        ttl: Duration,
        longest: Duration,
    ) -> Result<Self, DeployError> {
        let token = uuid::Uuid::new_v4().to_string();
        let deadline = Instant::now() + longest;
        while !kvdb.try_lock(&key, &token, ttl).await? {
            if Instant::now() > deadline {
                return Err(DeployError::LockTimeout(longest));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let keeper = tokio::spawn({
            let (kvdb, key, token) = (Arc::clone(kvdb), key.clone(), token.clone());
            async move {
                let mut ticker = tokio::time::interval(ttl / 3);
                ticker.tick().await;
                loop {
                    ticker.tick().await;
                    match kvdb.extend_lock(&key, &token, ttl).await {
                        Ok(true) => {}
                        Ok(false) => {
                            tracing::warn!("deploy lock `{key}` was lost; the deploy goes on");
                            return;
                        }
                        Err(e) => tracing::warn!("cannot extend deploy lock `{key}`: {e}"),
                    }
                }
            }
        });
        Ok(Self {
            kvdb: Arc::clone(kvdb),
            key,
            token,
            keeper,
        })
    }

    pub(super) async fn release(self) {
        self.keeper.abort();
        if let Err(e) = self.kvdb.unlock(&self.key, &self.token).await {
            tracing::warn!(
                "could not release deploy lock `{}` (it expires by itself): {e}",
                self.key
            );
        }
    }
}

impl Drop for DeployLock {
    fn drop(&mut self) {
        // A deploy dropped mid-way (its request went away) stops extending the lock.
        self.keeper.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kvdb::memory::MemoryKvdb;

    #[tokio::test]
    async fn a_deploy_longer_than_the_locks_life_keeps_the_lock() {
        let kvdb: Arc<dyn Kvdb> = Arc::new(MemoryKvdb::default());
        let ttl = Duration::from_millis(150);
        let lock = DeployLock::acquire(&kvdb, "k".into(), ttl, ttl)
            .await
            .unwrap();
        // Three lifetimes later, the holder still holds it: nobody else can take it.
        tokio::time::sleep(ttl * 3).await;
        assert!(!kvdb.try_lock("k", "other", ttl).await.unwrap());
        let waiting = DeployLock::acquire(&kvdb, "k".into(), ttl, ttl).await;
        assert!(matches!(waiting, Err(DeployError::LockTimeout(_))));
        lock.release().await;
        assert!(kvdb.try_lock("k", "other", ttl).await.unwrap());
    }

    #[tokio::test]
    async fn a_dropped_holder_stops_extending_and_the_lock_expires() {
        let kvdb: Arc<dyn Kvdb> = Arc::new(MemoryKvdb::default());
        let ttl = Duration::from_millis(100);
        drop(
            DeployLock::acquire(&kvdb, "k".into(), ttl, ttl)
                .await
                .unwrap(),
        );
        let next = DeployLock::acquire(&kvdb, "k".into(), ttl, ttl * 5).await;
        assert!(next.is_ok(), "the lock expired after its holder went away");
    }
}
