//! The login rate limit: an address with `max_failures` failed logins in a window of
//! `window_s` seconds is refused until the oldest of them leaves the window.

use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::config::LoginLimits;

/// Failed logins by client address, the oldest first.
type Failures = std::collections::HashMap<IpAddr, Vec<Instant>>;

/// Failed logins per client address.
pub struct LoginLimiter {
    max_failures: usize,
    window: Duration,
    failures: Mutex<Failures>,
}

impl LoginLimiter {
    /// A limiter with `limits`.
    pub fn new(limits: LoginLimits) -> Self {
        Self {
            max_failures: limits.max_failures.max(1) as usize,
            window: Duration::from_secs(limits.window_s),
            failures: Mutex::new(Failures::new()),
        }
    }

    /// `Err(retry_after)` when `client` has used up its failures in the window; else
    /// the attempt is counted as a failure at once (until [`LoginLimiter::succeeded`]
    /// forgets it), so that guesses sent in parallel, all checked before any is
    /// verified, still get only `max_failures` tries.
    pub fn check(&self, client: IpAddr) -> Result<(), Duration> {
        self.check_at(client, Instant::now())
    }

    fn check_at(&self, client: IpAddr, now: Instant) -> Result<(), Duration> {
        let mut failures = self.failures.lock().unwrap();
        let Some(times) = failures.get_mut(&client) else {
            drop(failures);
            self.failed_at(client, now);
            return Ok(());
        };
        times.retain(|t| now.duration_since(*t) < self.window);
        if times.len() < self.max_failures {
            drop(failures);
            self.failed_at(client, now);
            return Ok(());
        }
        let oldest = times[times.len() - self.max_failures];
        Err((oldest + self.window)
            .saturating_duration_since(now)
            .max(Duration::from_secs(1)))
    }

    fn failed_at(&self, client: IpAddr, now: Instant) {
        let mut failures = self.failures.lock().unwrap();
        // Keep the map small under a spray of addresses: drop the stale ones now and then.
        if failures.len() > 10_000 {
            let window = self.window;
            failures.retain(|_, times| times.iter().any(|t| now.duration_since(*t) < window));
        }
        let times = failures.entry(client).or_default();
        times.push(now);
        if times.len() > self.max_failures {
            times.remove(0);
        }
    }

    /// Forgets `client`'s failures after a successful login.
    pub fn succeeded(&self, client: IpAddr) {
        self.failures.lock().unwrap().remove(&client);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_refused_after_its_failures_until_the_window_ends() {
        let limiter = LoginLimiter::new(LoginLimits {
            max_failures: 3,
            window_s: 60,
        });
        let guesser: IpAddr = "10.0.0.1".parse().unwrap();
        let other: IpAddr = "10.0.0.2".parse().unwrap();
        let start = Instant::now();
        // Three attempts checked before any was verified (sent in parallel): each
        // counts at once.
        for i in 0..3 {
            assert!(
                limiter
                    .check_at(guesser, start + Duration::from_secs(i))
                    .is_ok(),
                "attempt {i}"
            );
        }
        let retry = limiter
            .check_at(guesser, start + Duration::from_secs(10))
            .unwrap_err();
        assert_eq!(retry, Duration::from_secs(50));
        // Another address is not affected.
        assert!(limiter.check_at(other, start).is_ok());
        // Once the first failure leaves the window, one more try is allowed.
        assert!(
            limiter
                .check_at(guesser, start + Duration::from_secs(61))
                .is_ok()
        );
    }

    #[test]
    fn a_success_forgets_the_failures() {
        let limiter = LoginLimiter::new(LoginLimits {
            max_failures: 1,
            window_s: 60,
        });
        let client: IpAddr = "::1".parse().unwrap();
        assert!(limiter.check(client).is_ok());
        assert!(limiter.check(client).is_err());
        limiter.succeeded(client);
        assert!(limiter.check(client).is_ok());
    }
}
