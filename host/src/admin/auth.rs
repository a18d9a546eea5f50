//! HTTP basic auth for the admin API: the admin of `server.toml`, and the users of the
//! ODB (`zato user ...`, [`AdminAuth::set_users`] on every server), each with an argon2id
//! hash, built so that a password guesser cannot slow the channels down nor guess for
//! long:
//!
//! - argon2 (about 20 ms of CPU, on purpose) runs on one dedicated thread fed by a
//!   short queue, never on a tokio worker; a full queue is a 429, not a wait;
//! - credentials verified once are remembered (by a keyed digest of the header, the
//!   key random per process), so a client that logged in costs a hash, not argon2;
//! - an address with `admin.login.max_failures` failed logins in `window_s` seconds is
//!   answered 429 with `Retry-After`, without argon2, until its window ends;
//! - so is a user whose password was wrong `max_user_failures` times in a window, from
//!   any address (it is locked out, and told so), but for credentials verified before;
//! - an unknown user name costs the same argon2 check as a known one;
//! - every refusal is logged with the user name and the address, never the password
//!   (a locked-out address once per lockout, not once per attempt).

use std::collections::{HashMap, HashSet};
use std::hash::Hash;
use std::net::{IpAddr, SocketAddr};
use std::sync::mpsc::{SyncSender, TrySendError};
use std::sync::{Arc, Mutex, RwLock};
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
    /// This user's password was wrong too often: locked out for this long.
    Locked {
        user: String,
        wait: Duration,
    },
}

pub struct AdminAuth {
    /// The admin of `server.toml`, and the hash of its password.
    admin: (String, Arc<str>),
    /// The ODB's users and their hashes.
    users: RwLock<HashMap<String, Arc<str>>>,
    /// Keys the digests in `verified`, so a memory dump does not hold plain hashes
    /// of the credentials.
    key: [u8; 32],
    /// The digests of verified credentials, and the generation of the users they were
    /// verified against: a change of the users starts a new one.
    verified: Mutex<(HashSet<[u8; 32]>, u64)>,
    failures: Mutex<Failures<IpAddr>>,
    user_failures: Mutex<Failures<String>>,
    hasher: SyncSender<Job>,
}

struct Job {
    password: String,
    hash: Arc<str>,
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
                for job in jobs {
                    let ok = PasswordHash::new(&job.hash).is_ok_and(|hash| {
                        Argon2::default()
                            .verify_password(job.password.as_bytes(), &hash)
                            .is_ok()
                    });
                    let _ = job.reply.send(ok);
                }
            })?;
        let mut key = [0u8; 32];
        rand_core::OsRng.fill_bytes(&mut key);
        Ok(Self {
            admin: (username, Arc::from(hash)),
            users: RwLock::new(HashMap::new()),
            key,
            verified: Mutex::new((HashSet::new(), 0)),
            user_failures: Mutex::new(Failures::new(LoginSettings {
                max_failures: login.max_user_failures,
                ..login.clone()
            })),
            failures: Mutex::new(Failures::new(login)),
            hasher,
        })
    }

    /// The admin of `server.toml`, whom the API can neither change nor delete.
    pub fn config_username(&self) -> &str {
        &self.admin.0
    }

    /// Replaces the ODB's users (username, hash). When they changed, credentials
    /// verified before are checked again: a deleted user or an old password must not
    /// pass on what was remembered.
    pub fn set_users(&self, users: Vec<(String, String)>) {
        let users: HashMap<String, Arc<str>> = users
            .into_iter()
            .filter(|(name, _)| *name != self.admin.0)
            .map(|(name, hash)| (name, Arc::from(hash)))
            .collect();
        let mut current = self.users.write().unwrap_or_else(|e| e.into_inner());
        if *current != users {
            *current = users;
            // Under the users' lock: a check that read a hash before this cannot
            // remember its outcome after it (`authorize` compares generations).
            let mut verified = lock(&self.verified);
            verified.0.clear();
            verified.1 += 1;
        }
    }

    /// The generation of the users (see `verified`).
    fn generation(&self) -> u64 {
        lock(&self.verified).1
    }

    /// The hash to check `user`'s password against, and whether the user exists (an
    /// unknown one is checked against the admin's, for the time it takes).
    fn hash_of(&self, user: &str) -> (Arc<str>, bool) {
        if constant_time_eq(user.as_bytes(), self.admin.0.as_bytes()) {
            return (Arc::clone(&self.admin.1), true);
        }
        match self
            .users
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(user)
        {
            Some(hash) => (Arc::clone(hash), true),
            None => (Arc::clone(&self.admin.1), false),
        }
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
        if lock(&self.verified).0.contains(&digest) {
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
        if let Some((wait, first)) = lock(&self.user_failures).locked(user.clone(), Instant::now())
        {
            if first {
                tracing::warn!(
                    "admin user `{}` is locked out for {} s after too many failed logins \
                     (the last from {address})",
                    user.escape_debug(),
                    wait.as_secs()
                );
            }
            return Verdict::Locked { user, wait };
        }
        let generation = self.generation();
        let (hash, known) = self.hash_of(&user);
        let (reply, verified) = oneshot::channel();
        match self.hasher.try_send(Job {
            password,
            hash,
            reply,
        }) {
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
        // The check always runs, so timing does not tell which one failed.
        let password_ok = verified.await.unwrap_or(false);
        if known && password_ok {
            let mut verified = lock(&self.verified);
            // Remembered only if the users did not change meanwhile: a password
            // changed or a user deleted during the check must not pass later.
            if verified.1 == generation {
                if verified.0.len() >= REMEMBERED {
                    verified.0.clear();
                }
                verified.0.insert(digest);
            }
            drop(verified);
            if let Some(client) = client {
                lock(&self.failures).forget(client);
            }
            lock(&self.user_failures).forget(user);
            return Verdict::Allowed;
        }
        tracing::warn!(
            "admin login of `{}` from {address} refused: wrong user name or password",
            user.escape_debug()
        );
        self.failed(client);
        // Unknown names too: a lockout must not tell which names exist.
        lock(&self.user_failures).failed(user, Instant::now());
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

/// Failed logins per client address (or per user), in fixed windows.
struct Failures<K> {
    settings: LoginSettings,
    by_address: HashMap<K, Window>,
}

struct Window {
    started: Instant,
    failures: u32,
    /// Whether the lockout of this window was logged.
    logged: bool,
}

impl<K: Hash + Eq + Clone> Failures<K> {
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
    fn locked(&mut self, client: K, now: Instant) -> Option<(Duration, bool)> {
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

    fn failed(&mut self, client: K, now: Instant) {
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

    fn forget(&mut self, client: K) {
        self.by_address.remove(&client);
    }
}

/// Hashes a password for the config file (argon2id, random salt).
pub use crate::security::hash_password;

/// Middleware: 401 with a `WWW-Authenticate` challenge unless the credentials match,
/// 429 with `Retry-After` for an address that failed too often, or a user locked out.
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
        Verdict::Locked { user, wait } => {
            let mut response = error_response(
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "admin user `{}` is locked out after too many failed logins; try again \
                     in {} s",
                    user.escape_debug(),
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
        auth_with(max_failures, 0)
    }

    fn auth_with(max_failures: u32, max_user_failures: u32) -> AdminAuth {
        let login = LoginSettings {
            max_failures,
            window_s: 60,
            max_user_failures,
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
            max_user_failures: 2,
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

    #[tokio::test]
    async fn odb_users_log_in_a_user_failing_too_often_is_locked_out_and_a_change_forgets() {
        let auth = auth_with(3, 3);
        auth.set_users(vec![("ops".into(), hash_password("ops password 1"))]);
        let ops = basic("ops", "ops password 1");
        assert_eq!(auth.authorize(Some(&ops), A).await, Verdict::Allowed);
        // From three addresses, one wrong password each: the user is locked, every
        // address is not.
        let (c, d) = (
            Some(IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 3))),
            Some(IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 4))),
        );
        for client in [B, c, d] {
            assert_eq!(
                auth.authorize(Some(&basic("ops", "guess")), client).await,
                Verdict::Refused
            );
        }
        let e = Some(IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 5)));
        match auth
            .authorize(Some(&basic("ops", "another guess")), e)
            .await
        {
            Verdict::Locked { user, wait } => {
                assert_eq!(user, "ops");
                assert!(wait > Duration::from_secs(50), "{wait:?}");
            }
            other => panic!("expected ops locked out, got {other:?}"),
        }
        // Credentials verified before still pass; the admin is not locked.
        assert_eq!(auth.authorize(Some(&ops), A).await, Verdict::Allowed);
        assert_eq!(
            auth.authorize(Some(&basic("admin", "s3cret")), e).await,
            Verdict::Allowed
        );
        // A changed password forgets what was verified: the old one no longer passes.
        auth.set_users(vec![("ops".into(), hash_password("ops password 2"))]);
        assert!(matches!(
            auth.authorize(Some(&ops), A).await,
            Verdict::Locked { .. }
        ));
        // An unknown user is locked out like a known one: a lockout does not tell
        // which names exist.
        for client in [B, c, d] {
            assert_eq!(
                auth.authorize(Some(&basic("nobody", "x")), client).await,
                Verdict::Refused
            );
        }
        assert!(matches!(
            auth.authorize(Some(&basic("nobody", "x")), e).await,
            Verdict::Locked { .. }
        ));
    }

    #[test]
    fn an_invalid_hash_is_refused_at_start() {
        let login = LoginSettings::default();
        assert!(AdminAuth::new("admin".into(), "not-a-hash".into(), login).is_err());
    }
}
