//! Locks shared by every server of the cluster, by name, with fencing tokens.
//!
//! ```no_run
//! use std::time::Duration;
//! use zato_sdk::{Error, kv, lock};
//!
//! // Wait up to 2 s for the lock, hold it 10 s at most; released when `guard` drops.
//! let guard = lock::acquire("stock:sku-42", Duration::from_secs(2), Duration::from_secs(10))?;
//! let left: i64 = kv::get_json("sku-42")?.unwrap_or(0);
//! kv::set_json("sku-42", &(left - 1))?;
//! // A system that checks fencing tokens refuses writes older than this one.
//! let token = guard.fence();
//! drop(guard);
//!
//! // The same, as a closure.
//! let total = lock::with_lock("report", Duration::from_secs(1), Duration::from_secs(5), |_fence| {
//!     kv::increment("reports", 1)
//! })??;
//! # Ok::<(), Error>(())
//! ```
//!
//! A lock is held by the call that acquired it, for its TTL at most, and never beyond
//! that call: the host releases whatever a call still holds when it ends, also when it
//! fails or traps. Each acquisition answers a fencing token ([`Guard::fence`]) larger
//! than that of any earlier acquisition of the lock, for systems that can refuse a
//! write from a holder that stalled past its TTL. Names are 1 to 256 bytes without
//! control characters; a TTL is 1 ms to 10 minutes; a call holds at most 64 locks.
//!
//! A [`LockError`] converts into the service's [`Error`]: a lock another holder kept is
//! [`Error::Retry`] (503), as is a KVDB that cannot be reached; a refused call is
//! [`Error::BadRequest`].
//!
//! Outside a zato host (in a native unit test) locks are this thread's: always free,
//! with tokens counted per name.

use std::fmt;
use std::time::Duration;

use crate::Error;

/// Why a call failed; converts into the service's [`Error`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockError {
    /// A bad name, a bad TTL, more than 64 locks held.
    BadRequest(String),
    /// Another holder kept the lock for all of the timeout (or until the request's
    /// deadline).
    Timeout(String),
    /// The KVDB could not be reached or did not answer in time.
    Unavailable(String),
}

impl LockError {
    /// The message the error carries.
    pub fn message(&self) -> &str {
        match self {
            Self::BadRequest(m) | Self::Timeout(m) | Self::Unavailable(m) => m,
        }
    }
}

impl fmt::Display for LockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for LockError {}

impl From<LockError> for Error {
    fn from(err: LockError) -> Self {
        match err {
            LockError::BadRequest(m) => Error::BadRequest(m),
            LockError::Timeout(m) | LockError::Unavailable(m) => Error::Retry(m),
        }
    }
}

/// A lock this call holds; released when dropped (or by [`Guard::release`]).
#[derive(Debug)]
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct Guard {
    name: String,
    fence: u64,
    released: bool,
}

impl Guard {
    /// The lock's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The fencing token of this acquisition.
    pub fn fence(&self) -> u64 {
        self.fence
    }

    /// Releases the lock now; answers whether this call still held it (`false` when its
    /// TTL ran out first and another call may have taken it).
    ///
    /// # Errors
    ///
    /// See [`LockError`]; the host releases it at the end of the call anyway.
    pub fn release(mut self) -> Result<bool, LockError> {
        self.released = true;
        host::release(&self.name)
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if !self.released {
            // Should this fail, the host releases the lock when the call ends.
            let _ = host::release(&self.name);
        }
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Acquires the lock `name`, waiting up to `timeout` (zero: try once) for another
/// holder to release it, and holds it for `ttl` at most. Acquiring a lock this call
/// holds already answers a guard with the same token (dropping either releases it).
///
/// # Errors
///
/// See [`LockError`].
pub fn acquire(name: &str, timeout: Duration, ttl: Duration) -> Result<Guard, LockError> {
    let fence = host::acquire(name, millis(timeout), millis(ttl))?;
    Ok(Guard {
        name: name.to_owned(),
        fence,
        released: false,
    })
}

/// Runs `f` with the lock `name` held (see [`acquire`]), given the fencing token, and
/// releases it after.
///
/// # Errors
///
/// The [`LockError`] of the acquisition; `f`'s own result is inside the `Ok`.
pub fn with_lock<T>(
    name: &str,
    timeout: Duration,
    ttl: Duration,
    f: impl FnOnce(u64) -> T,
) -> Result<T, LockError> {
    let guard = acquire(name, timeout, ttl)?;
    let out = f(guard.fence());
    drop(guard);
    Ok(out)
}

#[cfg(target_arch = "wasm32")]
mod host {
    use super::*;
    use crate::bindings::zato::service::lock as wit;

    fn error(err: wit::LockError) -> LockError {
        match err {
            wit::LockError::BadRequest(m) => LockError::BadRequest(m),
            wit::LockError::Timeout(m) => LockError::Timeout(m),
            wit::LockError::Unavailable(m) => LockError::Unavailable(m),
        }
    }

    pub(super) fn acquire(name: &str, timeout_ms: u64, ttl_ms: u64) -> Result<u64, LockError> {
        crate::import(|| wit::acquire(name, timeout_ms, ttl_ms)).map_err(error)
    }

    pub(super) fn release(name: &str) -> Result<bool, LockError> {
        crate::import(|| wit::release(name)).map_err(error)
    }
}

/// The native stand-in: this thread's locks, always free.
#[cfg(not(target_arch = "wasm32"))]
mod host {
    use std::cell::RefCell;
    use std::collections::HashMap;

    use super::*;

    thread_local! {
        /// name -> (last token, whether it is held)
        static LOCKS: RefCell<HashMap<String, (u64, bool)>> = RefCell::default();
    }

    pub(super) fn acquire(name: &str, _timeout_ms: u64, ttl_ms: u64) -> Result<u64, LockError> {
        if name.is_empty() || name.len() > 256 || name.chars().any(char::is_control) {
            return Err(LockError::BadRequest(format!(
                "invalid lock name `{}`",
                name.escape_debug()
            )));
        }
        if ttl_ms == 0 || ttl_ms > 600_000 {
            return Err(LockError::BadRequest(format!(
                "invalid TTL of {ttl_ms} ms: must be 1 ms to 600 s"
            )));
        }
        Ok(LOCKS.with_borrow_mut(|locks| {
            let (fence, held) = locks.entry(name.to_owned()).or_default();
            if !*held {
                *fence += 1;
                *held = true;
            }
            *fence
        }))
    }

    pub(super) fn release(name: &str) -> Result<bool, LockError> {
        Ok(LOCKS.with_borrow_mut(|locks| {
            locks
                .get_mut(name)
                .is_some_and(|(_, held)| std::mem::replace(held, false))
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natively_locks_are_the_thread_s_with_growing_tokens() {
        let second = Duration::from_secs(1);
        let guard = acquire("a", second, second).unwrap();
        assert_eq!(guard.fence(), 1);
        assert_eq!(guard.name(), "a");
        assert!(guard.release().unwrap());
        let fence = with_lock("a", second, second, |fence| fence * 10).unwrap();
        assert_eq!(fence, 20, "a larger token each time");
        assert!(matches!(
            acquire("", second, second),
            Err(LockError::BadRequest(_))
        ));
        assert!(matches!(
            acquire("a", second, Duration::ZERO),
            Err(LockError::BadRequest(_))
        ));
        assert_eq!(Error::from(LockError::Timeout("held".into())).status(), 503);
    }
}
