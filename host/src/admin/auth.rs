//! HTTP basic auth for the admin API, against an argon2id hash, built so that a
//! password guesser cannot slow the channels down nor guess for long:
//!
//! - argon2 (about 20 ms of CPU, on purpose) runs on one dedicated thread fed by a
//!   short queue, never on a tokio worker; a full queue is a 429, not a wait;
//! - credentials verified once are remembered (by a keyed digest of the header, the
//!   key random per process), so a client that logged in costs a hash, not argon2;
//! - an address with `admin.login.max_failures` failed logins in `window_s` seconds is
//!   answered 429 with `Retry-After`, without argon2, until its window ends;
//! - every refusal is logged with the user name and the address, never the password
//!   (a locked-out address once per lockout, not once per attempt).

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::mpsc::{SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use argon2::{Argon2, PasswordHash, PasswordVerifier};
use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine as _;
use http::{HeaderValue, StatusCode, header};
use rand_core::RngCore;
use sha2::{Digest, Sha256};
use tokio::sync::oneshot;

use crate::config::LoginSettings;
use crate::http_response::error_response;

/// Verified credentials remembered, so argon2 runs once per client.
const REMEMBERED: usize = 64;

/// Checks waiting for the argon2 thread; past this, a login is refused with 429.
const QUEUE: usize = 16;

/// Addresses with failures remembered; past this, the oldest windows are forgotten.
const TRACKED: usize = 10_000;

/// What a check of an `Authorization` header found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    /// No credentials, or wrong ones: 401 with a challenge.
    Refused,
    /// Too many failures from this address, or too many logins being checked: 429,
    /// to be tried again after this long.
    TooMany(Duration),
}

pub struct AdminAuth {
    username: String,
    /// Keys the digests in `verified`, so a memory dump does not hold plain hashes
    /// of the credentials.
    key: [u8; 32],
    verified: Mutex<HashSet<[u8; 32]>>,
    failures: Mutex<Failures>,
    hasher: SyncSender<Job>,
}

struct Job {
    password: String,
    reply: oneshot::Sender<bool>,
}

impl AdminAuth {
    pub fn new(username: String, hash: String, login: LoginSettings) -> anyhow::Result<Self> {
        PasswordHash::new(&hash)
            .map_err(|e| anyhow::anyhow!("invalid admin password hash in config: {e}"))?;
        let (hasher, jobs) = std::sync::mpsc::sync_channel::<Job>(QUEUE);
        std::thread::Builder::new()
            .name("zato-admin-auth".into())
            .spawn(move || {
                let hash = PasswordHash::new(&hash).expect("checked above");
                for job in jobs {
                    let ok = Argon2::default()
                        .verify_password(job.password.as_bytes(), &hash)
                        .is_ok();
                    let _ = job.reply.send(ok);
                }
            })?;
        let mut key = [0u8; 32];
        rand_core::OsRng.fill_bytes(&mut key);
        Ok(Self {
            username,
            key,
            verified: Mutex::new(HashSet::new()),
            failures: Mutex::new(Failures::new(login)),
            hasher,
        })
    }

    /// Whether `authorization`, sent from `client`, carries the admin's credentials.
    /// Credentials verified before pass at once, even from an address locked out for
    /// failed logins (a guesser behind the admin's NAT cannot lock the admin out);
    /// any other login from a locked-out address is refused without running argon2.
    pub async fn authorize(
        &self,
        authorization: Option<&HeaderValue>,
        client: Option<IpAddr>,
    ) -> Verdict {
        let Some(value) = authorization else {
            return Verdict::Refused;
        };
        let digest = self.digest(value.as_bytes());
        if lock(&self.verified).contains(&digest) {
            return Verdict::Allowed;
        }
        let address = client.map_or_else(|| "an unknown address".to_owned(), |a| a.to_string());
        if let Some(client) = client
            && let Some((wait, first)) = lock(&self.failures).locked(client, Instant::now())
        {
            if first {
                tracing::warn!(
                    "admin login refused: too many failed logins from {address}; \
                     its logins are refused for {} s",
                    wait.as_secs()
                );
            }
            return Verdict::TooMany(wait);
        }
        let Some((user, password)) = credentials(value) else {
            tracing::warn!("admin login refused from {address}: not HTTP basic credentials");
            self.failed(client);
            return Verdict::Refused;
        };
        let (reply, verified) = oneshot::channel();
        match self.hasher.try_send(Job { password, reply }) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                tracing::warn!(
                    "admin login of `{}` from {address} refused: {QUEUE} logins are \
                     being checked already",
                    user.escape_debug()
                );
                return Verdict::TooMany(Duration::from_secs(1));
            }
            Err(TrySendError::Disconnected(_)) => {
                tracing::error!("the admin password checker is gone; refusing every login");
                return Verdict::Refused;
            }
        }
        // Both checks always run, so timing does not tell which one failed.
        let user_ok = constant_time_eq(user.as_bytes(), self.username.as_bytes());
        let password_ok = verified.await.unwrap_or(false);
        if user_ok && password_ok {
            let mut verified = lock(&self.verified);
            if verified.len() >= REMEMBERED {
                verified.clear();
            }
            verified.insert(digest);
            drop(verified);
            if let Some(client) = client {
                lock(&self.failures).forget(client);
            }
            return Verdict::Allowed;
        }
        tracing::warn!(
            "admin login of `{}` from {address} refused: wrong user name or password",
            user.escape_debug()
        );
        self.failed(client);
        Verdict::Refused
    }

    fn failed(&self, client: Option<IpAddr>) {
        if let Some(client) = client {
            lock(&self.failures).failed(client, Instant::now());
        }
    }

    fn digest(&self, value: &[u8]) -> [u8; 32] {
        let mut hasher = Sha256::new();
        hasher.update(self.key);
        hasher.update(value);
        hasher.finalize().into()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// The user name and password of a `Basic` header value.
fn credentials(value: &HeaderValue) -> Option<(String, String)> {
    let b64 = value.to_str().ok()?.strip_prefix("Basic ")?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Failed logins per client address, in fixed windows.
struct Failures {
    settings: LoginSettings,
    by_address: HashMap<IpAddr, Window>,
}

struct Window {
    started: Instant,
    failures: u32,
    /// Whether the lockout of this window was logged.
    logged: bool,
}

impl Failures {
    fn new(settings: LoginSettings) -> Self {
        Self {
            settings,
            by_address: HashMap::new(),
        }
    }

    fn window(&self) -> Duration {
        Duration::from_secs(self.settings.window_s.max(1))
    }

    /// How long `client` must wait, if it is locked out, and whether this is the
    /// first refusal of its lockout.
    fn locked(&mut self, client: IpAddr, now: Instant) -> Option<(Duration, bool)> {
        let window = self.window();
        let max = self.settings.max_failures;
        let entry = self.by_address.get_mut(&client)?;
        let ends = entry.started + window;
        if now >= ends {
            self.by_address.remove(&client);
            return None;
        }
        if max == 0 || entry.failures < max {
            return None;
        }
        let first = !entry.logged;
        entry.logged = true;
        // Whole seconds, rounded up: Retry-After 0 would invite a retry at once.
        let wait = Duration::from_secs((ends - now).as_secs_f64().ceil() as u64);
        Some((wait, first))
    }

    fn failed(&mut self, client: IpAddr, now: Instant) {
        let window = self.window();
        if self.by_address.len() >= TRACKED && !self.by_address.contains_key(&client) {
            self.by_address.retain(|_, w| now < w.started + window);
            if self.by_address.len() >= TRACKED {
                return;
            }
        }
        let entry = self.by_address.entry(client).or_insert(Window {
            started: now,
            failures: 0,
            logged: false,
        });
        if now >= entry.started + window {
            *entry = Window {
                started: now,
                failures: 0,
                logged: false,
            };
        }
        entry.failures = entry.failures.saturating_add(1);
    }

    fn forget(&mut self, client: IpAddr) {
        self.by_address.remove(&client);
    }
}

/// Hashes a password for the config file (argon2id, random salt).
pub use crate::security::hash_password;

/// Middleware: 401 with a `WWW-Authenticate` challenge unless the credentials match,
/// 429 with `Retry-After` for an address that failed too often.
pub async fn require(State(auth): State<Arc<AdminAuth>>, request: Request, next: Next) -> Response {
    let client = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip());
    let verdict = auth
        .authorize(request.headers().get(header::AUTHORIZATION), client)
        .await;
    match verdict {
        Verdict::Allowed => next.run(request).await,
        Verdict::Refused => {
            let mut response = error_response(
                StatusCode::UNAUTHORIZED,
                "admin credentials required".into(),
                None,
            );
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"zato admin\""),
            );
            response
        }
        Verdict::TooMany(wait) => {
            let mut response = error_response(
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "too many failed admin logins from this address; try again in {} s",
                    wait.as_secs()
                ),
                None,
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(wait.as_secs()));
            response
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(user: &str, password: &str) -> HeaderValue {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        HeaderValue::from_str(&format!("Basic {token}")).unwrap()
    }

    fn auth(max_failures: u32) -> AdminAuth {
        let login = LoginSettings {
            max_failures,
            window_s: 60,
        };
        AdminAuth::new("admin".into(), hash_password("s3cret"), login).unwrap()
    }

    const A: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1)));
    const B: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2)));

    #[tokio::test]
    async fn only_the_right_credentials_pass() {
        let auth = auth(100);
        let ok = basic("admin", "s3cret");
        assert_eq!(auth.authorize(Some(&ok), A).await, Verdict::Allowed);
        assert_eq!(
            auth.authorize(Some(&ok), A).await,
            Verdict::Allowed,
            "remembered"
        );
        for wrong in [
            basic("admin", "wrong"),
            basic("root", "s3cret"),
            HeaderValue::from_static("Bearer x"),
        ] {
            assert_eq!(auth.authorize(Some(&wrong), A).await, Verdict::Refused);
        }
        assert_eq!(auth.authorize(None, A).await, Verdict::Refused);
        assert_eq!(auth.authorize(Some(&ok), None).await, Verdict::Allowed);
    }

    #[tokio::test]
    async fn an_address_that_fails_too_often_is_locked_out_alone() {
        let auth = auth(3);
        for _ in 0..3 {
            assert_eq!(
                auth.authorize(Some(&basic("admin", "guess")), A).await,
                Verdict::Refused
            );
        }
        // Even the right password waits now, so guessing cannot go on.
        match auth.authorize(Some(&basic("admin", "s3cret")), A).await {
            Verdict::TooMany(wait) => assert!(wait > Duration::from_secs(50), "{wait:?}"),
            other => panic!("expected a lockout, got {other:?}"),
        }
        assert_eq!(
            auth.authorize(Some(&basic("admin", "s3cret")), B).await,
            Verdict::Allowed,
            "another address is not locked out"
        );
        assert_eq!(
            auth.authorize(Some(&basic("admin", "s3cret")), A).await,
            Verdict::Allowed,
            "credentials verified once pass from a locked-out address too: a guesser \
             behind the admin's NAT does not lock the admin out"
        );
        assert!(matches!(
            auth.authorize(Some(&basic("admin", "guess")), A).await,
            Verdict::TooMany(_)
        ));
    }

    #[test]
    fn a_lockout_ends_with_its_window_and_a_login_forgets_the_failures() {
        let mut failures = Failures::new(LoginSettings {
            max_failures: 2,
            window_s: 10,
        });
        let a = A.unwrap();
        let t0 = Instant::now();
        failures.failed(a, t0);
        assert_eq!(failures.locked(a, t0), None);
        failures.failed(a, t0 + Duration::from_secs(1));
        assert_eq!(
            failures.locked(a, t0 + Duration::from_millis(1500)),
            Some((Duration::from_secs(9), true))
        );
        assert_eq!(
            failures.locked(a, t0 + Duration::from_secs(2)),
            Some((Duration::from_secs(8), false)),
            "logged once per lockout"
        );
        assert_eq!(failures.locked(a, t0 + Duration::from_secs(10)), None);
        failures.failed(a, t0 + Duration::from_secs(11));
        failures.forget(a);
        failures.failed(a, t0 + Duration::from_secs(12));
        assert_eq!(failures.locked(a, t0 + Duration::from_secs(12)), None);
    }

    #[test]
    fn an_invalid_hash_is_refused_at_start() {
        let login = LoginSettings::default();
        assert!(AdminAuth::new("admin".into(), "not-a-hash".into(), login).is_err());
    }
}
