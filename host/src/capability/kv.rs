//! `zato:service/kv`: a key-value store for services in the cluster's KVDB.
//!
//! Keys live in a namespace: the calling service's own unless the guest names a shared
//! one. The KVDB key is `svc.kv.s:{service}:{key}` or `svc.kv.n:{namespace}:{key}`;
//! neither a service name nor a namespace may hold a `:`, so two namespaces never share
//! a key. This module checks the guest's arguments before anything reaches the KVDB
//! and bounds each call by the request's deadline. A hostile argument is an error value
//! for the guest, never a trap or a panic.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::component::{HasData, Linker};

use crate::kvdb::{Kvdb, KvdbError};
use crate::wit::zato::service::kv::{self, Host, KvError};

/// Longest namespace name.
pub const MAX_NAMESPACE_BYTES: usize = 128;
/// Longest key.
pub const MAX_KEY_BYTES: usize = 1024;
/// Largest value.
pub const MAX_VALUE_BYTES: usize = 1024 * 1024;
/// Longest TTL: a value meant to stay longer is set without one.
pub const MAX_TTL: Duration = Duration::from_secs(30 * 24 * 3600);

/// What the `kv` import reaches of a call: the KVDB, the calling service (its own
/// namespace) and the request's deadline.
pub struct KvView {
    /// `None` only before the server gave the runtime its KVDB, or while it shuts down.
    pub kvdb: Option<Arc<dyn Kvdb>>,
    pub service: Arc<str>,
    pub deadline: Instant,
}

struct Kv;

impl HasData for Kv {
    type Data<'a> = KvView;
}

/// Links `kv`, building each call's [`KvView`] with `get`.
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> KvView,
) -> wasmtime::Result<()> {
    kv::add_to_linker::<T, Kv>(linker, get)
}

/// The KVDB key of `key` in `namespace`, or in `service`'s own namespace.
pub fn kvdb_key(service: &str, namespace: Option<&str>, key: &str) -> Result<String, String> {
    if let Some(namespace) = namespace {
        check_namespace(namespace)?;
    }
    check_key(key)?;
    Ok(match namespace {
        Some(namespace) => format!("svc.kv.n:{namespace}:{key}"),
        None => format!("svc.kv.s:{service}:{key}"),
    })
}

fn check_namespace(namespace: &str) -> Result<(), String> {
    if namespace.is_empty() || namespace.len() > MAX_NAMESPACE_BYTES {
        return Err(format!(
            "invalid namespace ({} bytes): must be 1 to {MAX_NAMESPACE_BYTES} bytes",
            namespace.len()
        ));
    }
    if !namespace
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    {
        return Err(format!(
            "invalid namespace `{namespace}`: only letters, digits, `.`, `_` and `-`"
        ));
    }
    Ok(())
}

/// Also used by `lock` for lock names, with its own limit.
pub(crate) fn check_name(what: &str, name: &str, max: usize) -> Result<(), String> {
    if name.is_empty() || name.len() > max {
        return Err(format!(
            "invalid {what} ({} bytes): must be 1 to {max} bytes",
            name.len()
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(format!(
            "invalid {what} `{}`: control characters are not allowed",
            name.escape_debug()
        ));
    }
    Ok(())
}

fn check_key(key: &str) -> Result<(), String> {
    check_name("key", key, MAX_KEY_BYTES)
}

/// A TTL in milliseconds as a duration, if it is 1 ms to [`MAX_TTL`].
fn ttl(ms: u64) -> Result<Duration, String> {
    let ttl = Duration::from_millis(ms);
    if ms == 0 || ttl > MAX_TTL {
        return Err(format!(
            "invalid TTL of {ms} ms: must be 1 ms to {} days",
            MAX_TTL.as_secs() / 86_400
        ));
    }
    Ok(ttl)
}

impl From<KvdbError> for KvError {
    fn from(err: KvdbError) -> Self {
        match err {
            KvdbError::NotAnInteger(_) => Self::NotANumber(err.to_string()),
            _ => Self::Unavailable(err.to_string()),
        }
    }
}

impl KvView {
    /// Runs `op` on the KVDB within the request's deadline.
    async fn run<T, F>(&self, key: &str, op: impl FnOnce(Arc<dyn Kvdb>) -> F) -> Result<T, KvError>
    where
        F: Future<Output = Result<T, KvdbError>>,
    {
        let Some(kvdb) = self.kvdb.clone() else {
            return Err(KvError::Unavailable(
                "the server has no KVDB (it is starting or shutting down)".into(),
            ));
        };
        let remaining = self.deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(remaining, op(kvdb)).await {
            Ok(result) => result.map_err(KvError::from),
            Err(_) => Err(KvError::Unavailable(format!(
                "the KVDB did not answer for key `{}` before the request's deadline",
                key.escape_debug()
            ))),
        }
    }

    fn key(&self, namespace: Option<&str>, key: &str) -> Result<String, KvError> {
        kvdb_key(&self.service, namespace, key).map_err(KvError::BadRequest)
    }
}

impl Host for KvView {
    async fn get(
        &mut self,
        namespace: Option<String>,
        key: String,
    ) -> wasmtime::Result<Result<Option<Vec<u8>>, KvError>> {
        let full = match self.key(namespace.as_deref(), &key) {
            Ok(full) => full,
            Err(err) => return Ok(Err(err)),
        };
        Ok(self
            .run(&key, |kvdb| async move { kvdb.get(&full).await })
            .await)
    }

    async fn set(
        &mut self,
        namespace: Option<String>,
        key: String,
        value: Vec<u8>,
        ttl_ms: Option<u64>,
    ) -> wasmtime::Result<Result<(), KvError>> {
        let full = match self.key(namespace.as_deref(), &key) {
            Ok(full) => full,
            Err(err) => return Ok(Err(err)),
        };
        if value.len() > MAX_VALUE_BYTES {
            return Ok(Err(KvError::BadRequest(format!(
                "the value of key `{}` is {} bytes, over the limit of {MAX_VALUE_BYTES}",
                key.escape_debug(),
                value.len()
            ))));
        }
        let ttl = match ttl_ms.map(ttl).transpose() {
            Ok(ttl) => ttl,
            Err(err) => {
                return Ok(Err(KvError::BadRequest(format!(
                    "key `{}`: {err}",
                    key.escape_debug()
                ))));
            }
        };
        Ok(self
            .run(
                &key,
                |kvdb| async move { kvdb.set(&full, &value, ttl).await },
            )
            .await)
    }

    async fn delete(
        &mut self,
        namespace: Option<String>,
        key: String,
    ) -> wasmtime::Result<Result<bool, KvError>> {
        let full = match self.key(namespace.as_deref(), &key) {
            Ok(full) => full,
            Err(err) => return Ok(Err(err)),
        };
        Ok(self
            .run(&key, |kvdb| async move { kvdb.delete(&full).await })
            .await)
    }

    async fn increment(
        &mut self,
        namespace: Option<String>,
        key: String,
        by: i64,
    ) -> wasmtime::Result<Result<i64, KvError>> {
        let full = match self.key(namespace.as_deref(), &key) {
            Ok(full) => full,
            Err(err) => return Ok(Err(err)),
        };
        Ok(self
            .run(&key, |kvdb| async move { kvdb.incr(&full, by).await })
            .await
            .map_err(|err| match err {
                KvError::NotANumber(_) => KvError::NotANumber(format!(
                    "the value of key `{}` is not an integer (or would overflow)",
                    key.escape_debug()
                )),
                other => other,
            }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kvdb::memory::MemoryKvdb;

    fn view(service: &str) -> KvView {
        KvView {
            kvdb: Some(Arc::new(MemoryKvdb::default())),
            service: Arc::from(service),
            deadline: Instant::now() + Duration::from_secs(5),
        }
    }

    fn bad(result: wasmtime::Result<Result<impl std::fmt::Debug, KvError>>) -> String {
        match result.expect("no trap") {
            Err(KvError::BadRequest(message)) => message,
            other => panic!("expected bad-request, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn hostile_arguments_are_errors_for_the_guest() {
        let mut view = view("svc");
        let long_key = "k".repeat(MAX_KEY_BYTES + 1);
        assert!(bad(view.get(None, String::new()).await).contains("invalid key (0 bytes)"));
        assert!(bad(view.get(None, long_key.clone()).await).contains("1 to 1024 bytes"));
        assert!(bad(view.get(None, "a\nb".into()).await).contains("control characters"));
        assert!(bad(view.get(Some("a:b".into()), "k".into()).await).contains("invalid namespace"));
        assert!(bad(view.get(Some(String::new()), "k".into()).await).contains("invalid namespace"));
        let huge = vec![0; MAX_VALUE_BYTES + 1];
        assert!(bad(view.set(None, "k".into(), huge, None).await).contains("over the limit"));
        assert!(bad(view.set(None, "k".into(), vec![1], Some(0)).await).contains("TTL of 0 ms"));
        assert!(
            bad(view.set(None, "k".into(), vec![1], Some(u64::MAX)).await)
                .contains("must be 1 ms to 30 days")
        );
        // Nothing of that reached the store.
        assert_eq!(view.get(None, "k".into()).await.unwrap().unwrap(), None);
    }

    #[tokio::test]
    async fn each_service_has_its_namespace_and_shared_ones_are_shared() {
        let kvdb: Arc<dyn Kvdb> = Arc::new(MemoryKvdb::default());
        let mut a = view("a");
        a.kvdb = Some(kvdb.clone());
        let mut b = view("b");
        b.kvdb = Some(kvdb);
        a.set(None, "k".into(), b"of a".to_vec(), None)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(b.get(None, "k".into()).await.unwrap().unwrap(), None);
        a.set(Some("shared".into()), "k".into(), b"both".to_vec(), None)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            b.get(Some("shared".into()), "k".into())
                .await
                .unwrap()
                .unwrap()
                .as_deref(),
            Some(&b"both"[..])
        );
        assert_eq!(
            a.get(None, "k".into()).await.unwrap().unwrap().as_deref(),
            Some(&b"of a"[..])
        );
        assert_eq!(b.increment(None, "n".into(), 5).await.unwrap().unwrap(), 5);
        assert_eq!(
            b.increment(None, "n".into(), -7).await.unwrap().unwrap(),
            -2
        );
        match a.increment(None, "k".into(), 1).await.unwrap() {
            Err(KvError::NotANumber(m)) => assert!(m.contains("key `k`"), "{m}"),
            other => panic!("expected not-a-number, got {other:?}"),
        }
        assert!(a.delete(None, "k".into()).await.unwrap().unwrap());
        assert!(!a.delete(None, "k".into()).await.unwrap().unwrap());
    }

    #[tokio::test]
    async fn without_a_kvdb_calls_are_unavailable() {
        let mut view = view("svc");
        view.kvdb = None;
        assert!(matches!(
            view.get(None, "k".into()).await.unwrap(),
            Err(KvError::Unavailable(_))
        ));
    }
}
