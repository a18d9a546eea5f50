//! A key-value store shared by every server of the cluster (the KVDB: Redis in a
//! cluster, in memory on a single server).
//!
//! ```no_run
//! use std::time::Duration;
//! use zato_sdk::{Error, kv};
//!
//! // The service's own namespace.
//! kv::set("last-order", "A-1042")?;
//! let last: Option<String> = kv::get_string("last-order")?;
//! let visits = kv::increment("visits", 1)?;
//! kv::set_with_ttl("session:42", r#"{"user": "jane"}"#, Duration::from_secs(900))?;
//!
//! // A namespace other services read too.
//! let prices = kv::shared("prices");
//! prices.set_json("EUR", &serde_json::json!({"rate": 1.08}))?;
//! let eur: Option<serde_json::Value> = prices.get_json("EUR")?;
//! # Ok::<(), Error>(())
//! ```
//!
//! Each service has a namespace of its own, which the functions of this module use;
//! [`shared`] names a namespace several services use. Namespaces are 1 to 128 bytes of
//! letters, digits, `.`, `_` and `-`; keys are 1 to 1,024 bytes without control
//! characters; values are at most 1 MiB; a TTL is 1 ms to 30 days. Anything else is
//! refused before it reaches the KVDB ([`KvError::BadRequest`]).
//!
//! A [`KvError`] converts into the service's [`Error`], so `?` works in a service: a
//! refused call is [`Error::BadRequest`], a value that is not a number
//! [`Error::Internal`], a KVDB that cannot be reached [`Error::Retry`].
//!
//! Outside a zato host (in a native unit test) the store is an in-process map of the
//! test's thread, TTLs included, so that a service's logic can be tested natively.

use std::fmt;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::Error;

/// Why a call failed; converts into the service's [`Error`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KvError {
    /// The call was refused before it reached the KVDB: a bad namespace or key, a
    /// value over 1 MiB, a bad TTL, a value that does not (de)serialise as JSON.
    BadRequest(String),
    /// [`increment`] found a value that is not an integer, or would overflow.
    NotANumber(String),
    /// The KVDB could not be reached or did not answer in time.
    Unavailable(String),
}

impl KvError {
    /// The message the error carries.
    pub fn message(&self) -> &str {
        match self {
            Self::BadRequest(m) | Self::NotANumber(m) | Self::Unavailable(m) => m,
        }
    }
}

impl fmt::Display for KvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for KvError {}

impl From<KvError> for Error {
    fn from(err: KvError) -> Self {
        match err {
            KvError::BadRequest(m) => Error::BadRequest(m),
            KvError::NotANumber(m) => Error::Internal(m),
            KvError::Unavailable(m) => Error::Retry(m),
        }
    }
}

/// A namespace of the store: the service's own ([`own`]) or a shared one ([`shared`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Namespace<'a>(Option<&'a str>);

/// The calling service's own namespace, which the module's functions use.
pub fn own() -> Namespace<'static> {
    Namespace(None)
}

/// The namespace `name`, shared by every service that names it.
pub fn shared(name: &str) -> Namespace<'_> {
    Namespace(Some(name))
}

impl Namespace<'_> {
    /// The value of `key`, or `None` when it is not set (or expired).
    ///
    /// # Errors
    ///
    /// See [`KvError`].
    pub fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        host::get(self.0, key)
    }

    /// The value of `key` as text (lossily, should it not be UTF-8).
    ///
    /// # Errors
    ///
    /// See [`KvError`].
    pub fn get_string(&self, key: &str) -> Result<Option<String>, KvError> {
        Ok(self
            .get(key)?
            .map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    /// The value of `key` read as JSON into `T`.
    ///
    /// # Errors
    ///
    /// See [`KvError`]; [`KvError::BadRequest`] when the value is not such JSON.
    pub fn get_json<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, KvError> {
        self.get(key)?
            .map(|v| {
                serde_json::from_slice(&v).map_err(|err| {
                    KvError::BadRequest(format!("the value of key `{key}` is not such JSON: {err}"))
                })
            })
            .transpose()
    }

    /// Sets `key` to `value`, kept until deleted.
    ///
    /// # Errors
    ///
    /// See [`KvError`].
    pub fn set(&self, key: &str, value: impl AsRef<[u8]>) -> Result<(), KvError> {
        host::set(self.0, key, value.as_ref(), None)
    }

    /// Sets `key` to `value`, expiring after `ttl`.
    ///
    /// # Errors
    ///
    /// See [`KvError`].
    pub fn set_with_ttl(
        &self,
        key: &str,
        value: impl AsRef<[u8]>,
        ttl: Duration,
    ) -> Result<(), KvError> {
        let ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
        host::set(self.0, key, value.as_ref(), Some(ms))
    }

    /// Sets `key` to `value` as JSON, kept until deleted.
    ///
    /// # Errors
    ///
    /// See [`KvError`].
    pub fn set_json<T: Serialize + ?Sized>(&self, key: &str, value: &T) -> Result<(), KvError> {
        let bytes = serde_json::to_vec(value).map_err(|err| {
            KvError::BadRequest(format!(
                "the value of key `{key}` does not serialise: {err}"
            ))
        })?;
        self.set(key, bytes)
    }

    /// Deletes `key`; answers whether it was set.
    ///
    /// # Errors
    ///
    /// See [`KvError`].
    pub fn delete(&self, key: &str) -> Result<bool, KvError> {
        host::delete(self.0, key)
    }

    /// Adds `by` to the integer value of `key` (a missing key counts as 0) atomically
    /// across the cluster, and answers the result.
    ///
    /// # Errors
    ///
    /// See [`KvError`].
    pub fn increment(&self, key: &str, by: i64) -> Result<i64, KvError> {
        host::increment(self.0, key, by)
    }
}

/// [`Namespace::get`] in the service's own namespace.
///
/// # Errors
///
/// See [`KvError`].
pub fn get(key: &str) -> Result<Option<Vec<u8>>, KvError> {
    own().get(key)
}

/// [`Namespace::get_string`] in the service's own namespace.
///
/// # Errors
///
/// See [`KvError`].
pub fn get_string(key: &str) -> Result<Option<String>, KvError> {
    own().get_string(key)
}

/// [`Namespace::get_json`] in the service's own namespace.
///
/// # Errors
///
/// See [`KvError`].
pub fn get_json<T: DeserializeOwned>(key: &str) -> Result<Option<T>, KvError> {
    own().get_json(key)
}

/// [`Namespace::set`] in the service's own namespace.
///
/// # Errors
///
/// See [`KvError`].
pub fn set(key: &str, value: impl AsRef<[u8]>) -> Result<(), KvError> {
    own().set(key, value)
}

/// [`Namespace::set_with_ttl`] in the service's own namespace.
///
/// # Errors
///
/// See [`KvError`].
pub fn set_with_ttl(key: &str, value: impl AsRef<[u8]>, ttl: Duration) -> Result<(), KvError> {
    own().set_with_ttl(key, value, ttl)
}

/// [`Namespace::set_json`] in the service's own namespace.
///
/// # Errors
///
/// See [`KvError`].
pub fn set_json<T: Serialize + ?Sized>(key: &str, value: &T) -> Result<(), KvError> {
    own().set_json(key, value)
}

/// [`Namespace::delete`] in the service's own namespace.
///
/// # Errors
///
/// See [`KvError`].
pub fn delete(key: &str) -> Result<bool, KvError> {
    own().delete(key)
}

/// [`Namespace::increment`] in the service's own namespace.
///
/// # Errors
///
/// See [`KvError`].
pub fn increment(key: &str, by: i64) -> Result<i64, KvError> {
    own().increment(key, by)
}

#[cfg(target_arch = "wasm32")]
mod host {
    use super::*;
    use crate::bindings::zato::service::kv as wit;

    fn error(err: wit::KvError) -> KvError {
        match err {
            wit::KvError::BadRequest(m) => KvError::BadRequest(m),
            wit::KvError::NotANumber(m) => KvError::NotANumber(m),
            wit::KvError::Unavailable(m) => KvError::Unavailable(m),
        }
    }

    pub(super) fn get(namespace: Option<&str>, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        crate::import(|| wit::get(namespace, key)).map_err(error)
    }

    pub(super) fn set(
        namespace: Option<&str>,
        key: &str,
        value: &[u8],
        ttl_ms: Option<u64>,
    ) -> Result<(), KvError> {
        crate::import(|| wit::set(namespace, key, value, ttl_ms)).map_err(error)
    }

    pub(super) fn delete(namespace: Option<&str>, key: &str) -> Result<bool, KvError> {
        crate::import(|| wit::delete(namespace, key)).map_err(error)
    }

    pub(super) fn increment(namespace: Option<&str>, key: &str, by: i64) -> Result<i64, KvError> {
        crate::import(|| wit::increment(namespace, key, by)).map_err(error)
    }
}

/// The native stand-in: this thread's map, TTLs included, with the host's limits.
#[cfg(not(target_arch = "wasm32"))]
mod host {
    use std::cell::RefCell;
    use std::collections::HashMap;
    use std::time::Instant;

    use super::*;

    type Map = HashMap<(Option<String>, String), (Vec<u8>, Option<Instant>)>;

    thread_local! {
        static STORE: RefCell<Map> = RefCell::default();
    }

    fn check(namespace: Option<&str>, key: &str) -> Result<(Option<String>, String), KvError> {
        if let Some(ns) = namespace
            && (ns.is_empty()
                || ns.len() > 128
                || !ns
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)))
        {
            return Err(KvError::BadRequest(format!("invalid namespace `{ns}`")));
        }
        if key.is_empty() || key.len() > 1024 || key.chars().any(char::is_control) {
            return Err(KvError::BadRequest(format!(
                "invalid key `{}`",
                key.escape_debug()
            )));
        }
        Ok((namespace.map(str::to_owned), key.to_owned()))
    }

    fn live(map: &mut Map, at: &(Option<String>, String)) -> Option<Vec<u8>> {
        match map.get(at) {
            Some((_, Some(expires))) if *expires <= Instant::now() => {
                map.remove(at);
                None
            }
            Some((value, _)) => Some(value.clone()),
            None => None,
        }
    }

    pub(super) fn get(namespace: Option<&str>, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        let at = check(namespace, key)?;
        Ok(STORE.with_borrow_mut(|map| live(map, &at)))
    }

    pub(super) fn set(
        namespace: Option<&str>,
        key: &str,
        value: &[u8],
        ttl_ms: Option<u64>,
    ) -> Result<(), KvError> {
        let at = check(namespace, key)?;
        if value.len() > 1024 * 1024 {
            return Err(KvError::BadRequest(format!(
                "the value of key `{key}` is over 1 MiB"
            )));
        }
        let expires = match ttl_ms {
            Some(0) => return Err(KvError::BadRequest("invalid TTL of 0 ms".into())),
            Some(ms) => Some(Instant::now() + Duration::from_millis(ms)),
            None => None,
        };
        STORE.with_borrow_mut(|map| map.insert(at, (value.to_vec(), expires)));
        Ok(())
    }

    pub(super) fn delete(namespace: Option<&str>, key: &str) -> Result<bool, KvError> {
        let at = check(namespace, key)?;
        Ok(STORE.with_borrow_mut(|map| live(map, &at).is_some() && map.remove(&at).is_some()))
    }

    pub(super) fn increment(namespace: Option<&str>, key: &str, by: i64) -> Result<i64, KvError> {
        let at = check(namespace, key)?;
        STORE.with_borrow_mut(|map| {
            let current = match live(map, &at) {
                Some(v) => std::str::from_utf8(&v)
                    .ok()
                    .and_then(|s| s.parse::<i64>().ok())
                    .ok_or_else(|| {
                        KvError::NotANumber(format!("the value of key `{key}` is not an integer"))
                    })?,
                None => 0,
            };
            let next = current.checked_add(by).ok_or_else(|| {
                KvError::NotANumber(format!("the value of key `{key}` would overflow"))
            })?;
            let expires = map.get(&at).and_then(|(_, e)| *e);
            map.insert(at, (next.to_string().into_bytes(), expires));
            Ok(next)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natively_the_store_is_the_thread_s_map() {
        assert_eq!(get("k").unwrap(), None);
        set("k", "v").unwrap();
        assert_eq!(get_string("k").unwrap().as_deref(), Some("v"));
        assert_eq!(shared("other").get("k").unwrap(), None, "namespaces apart");
        assert_eq!(increment("n", 2).unwrap(), 2);
        assert_eq!(increment("n", -5).unwrap(), -3);
        assert!(matches!(increment("k", 1), Err(KvError::NotANumber(_))));
        shared("p").set_json("eur", &[1, 2]).unwrap();
        assert_eq!(
            shared("p").get_json::<Vec<i32>>("eur").unwrap(),
            Some(vec![1, 2])
        );
        assert!(delete("k").unwrap());
        assert!(!delete("k").unwrap());
        set_with_ttl("t", "x", Duration::from_millis(1)).unwrap();
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(get("t").unwrap(), None, "expired");
        assert!(matches!(get(""), Err(KvError::BadRequest(_))));
        assert!(matches!(
            shared("a:b").get("k"),
            Err(KvError::BadRequest(_))
        ));
        assert_eq!(
            Error::from(KvError::Unavailable("down".into())).status(),
            503
        );
        assert_eq!(Error::from(KvError::BadRequest("bad".into())).status(), 400);
    }
}
