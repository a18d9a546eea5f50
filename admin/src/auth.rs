//! Who may use the web admin: signed cookies, sessions held in memory, CSRF tokens,
//! the login rate limit and the check of a login's credentials.
//!
//! A session cookie carries a random session ID and its HMAC-SHA256 under the
//! configuration's secret key; the session itself (user, CSRF token, chosen cluster,
//! expiry) lives in memory, so a logout (or a restart) ends it for good. A login form
//! carries a pre-session token, double-submitted: once in a signed cookie, once in the
//! form.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hmac::{Hmac, KeyInit as _, Mac as _};
use rand_core::RngCore as _;
use sha2_next::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

mod limit;

pub use limit::LoginLimiter;

/// `N` bytes from the operating system's generator.
pub(crate) fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    rand_core::OsRng.fill_bytes(&mut bytes);
    bytes
}

/// A fresh random token: 64 hex characters.
pub(crate) fn new_token() -> String {
    hex::encode(random_bytes::<32>())
}

/// Whether two secrets are equal, in time that depends on neither (both are hashed to
/// one length first, so not even their lengths leak).
pub fn secrets_equal(a: &str, b: &str) -> bool {
    let a = Sha256::digest(a.as_bytes());
    let b = Sha256::digest(b.as_bytes());
    a.as_slice().ct_eq(b.as_slice()).into()
}

/// Signs and checks cookie values with HMAC-SHA256.
#[derive(Clone)]
pub struct Signer {
    key: [u8; 32],
}

impl Signer {
    /// A signer with the 32-byte secret key.
    pub fn new(key: [u8; 32]) -> Self {
        Self { key }
    }

    fn mac(&self, value: &str) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256>>::new_from_slice(&self.key).expect("HMAC takes any key");
        mac.update(value.as_bytes());
        mac
    }

    /// `value.signature`, for a cookie.
    pub fn sign(&self, value: &str) -> String {
        let tag = self.mac(value).finalize().into_bytes();
        format!("{value}.{}", hex::encode(tag))
    }

    /// The value of a signed cookie whose signature holds (checked in constant time).
    pub fn verify<'a>(&self, signed: &'a str) -> Option<&'a str> {
        let (value, tag) = signed.rsplit_once('.')?;
        let tag = hex::decode(tag).ok()?;
        self.mac(value).verify_slice(&tag).ok()?;
        Some(value)
    }
}

/// One logged-in user's session.
#[derive(Debug, Clone)]
pub struct Session {
    /// The session's ID (what its cookie carries, signed).
    pub id: String,
    /// Who logged in.
    pub user: String,
    /// The token every POST form of this session must carry.
    pub csrf: String,
    /// The cluster the user's pages show.
    pub cluster: Option<String>,
    /// The one cluster this session may use, when it was opened with that cluster's
    /// admin credentials (a web-admin user's session may use every cluster).
    pub bound_to: Option<String>,
    expires: Instant,
}

/// The live sessions, in memory.
pub struct Sessions {
    ttl: Duration,
    live: Mutex<HashMap<String, Session>>,
}

impl Sessions {
    /// An empty store whose sessions last `ttl` after their login.
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            live: Mutex::new(HashMap::new()),
        }
    }

    /// Starts a session for `user`, looking at `cluster` first.
    pub fn start(&self, user: &str, cluster: Option<String>, bound: bool) -> Session {
        let now = Instant::now();
        let session = Session {
            id: new_token(),
            user: user.to_owned(),
            csrf: new_token(),
            bound_to: if bound { cluster.clone() } else { None },
            cluster,
            expires: now + self.ttl,
        };
        let mut live = self.live.lock().unwrap();
        live.retain(|_, s| s.expires > now);
        live.insert(session.id.clone(), session.clone());
        session
    }

    /// The live session `id`, if it has not expired.
    pub fn get(&self, id: &str) -> Option<Session> {
        let mut live = self.live.lock().unwrap();
        match live.get(id) {
            Some(s) if s.expires > Instant::now() => Some(s.clone()),
            Some(_) => {
                live.remove(id);
                None
            }
            None => None,
        }
    }

    /// Points session `id` at another cluster.
    pub fn set_cluster(&self, id: &str, cluster: &str) {
        if let Some(s) = self.live.lock().unwrap().get_mut(id) {
            s.cluster = Some(cluster.to_owned());
        }
    }

    /// Ends session `id`: its cookie is worth nothing from now on.
    pub fn end(&self, id: &str) {
        self.live.lock().unwrap().remove(id);
    }

    /// How long a session lasts.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_value_verifies_and_a_tampered_one_does_not() {
        let signer = Signer::new([7; 32]);
        let signed = signer.sign("session-id");
        assert_eq!(signer.verify(&signed), Some("session-id"));
        // Another value under the same signature, another signature, another key.
        let (_, tag) = signed.rsplit_once('.').unwrap();
        assert_eq!(signer.verify(&format!("session-ie.{tag}")), None);
        let mut flipped = signed.clone().into_bytes();
        let last = flipped.len() - 1;
        flipped[last] = if flipped[last] == b'0' { b'1' } else { b'0' };
        assert_eq!(signer.verify(&String::from_utf8(flipped).unwrap()), None);
        assert_eq!(Signer::new([8; 32]).verify(&signed), None);
        assert_eq!(signer.verify("session-id"), None);
        assert_eq!(signer.verify("session-id."), None);
        assert_eq!(signer.verify(""), None);
    }

    #[test]
    fn a_session_checks_its_own_csrf_token_only() {
        use crate::app::check_csrf;
        let sessions = Sessions::new(Duration::from_secs(60));
        let a = sessions.start("ada", None, false);
        let b = sessions.start("bob", None, false);
        assert!(check_csrf(Some(&a.csrf), Some(&a.csrf)).is_ok());
        assert!(check_csrf(Some(&a.csrf), Some(&b.csrf)).is_err());
        assert!(check_csrf(Some(&a.csrf), Some("")).is_err());
        assert!(check_csrf(Some(&a.csrf), Some(&a.csrf[..10])).is_err());
        assert!(check_csrf(Some(&a.csrf), None).is_err());
        // No expected token (no login cookie): nothing passes.
        assert!(check_csrf(None, Some(&a.csrf)).is_err());
    }

    #[test]
    fn a_session_ends_at_logout_and_at_expiry() {
        let sessions = Sessions::new(Duration::from_secs(60));
        let session = sessions.start("ada", Some("prod".into()), false);
        assert_eq!(sessions.get(&session.id).unwrap().user, "ada");
        sessions.set_cluster(&session.id, "test");
        assert_eq!(
            sessions.get(&session.id).unwrap().cluster.as_deref(),
            Some("test")
        );
        sessions.end(&session.id);
        assert!(sessions.get(&session.id).is_none());
        let brief = Sessions::new(Duration::ZERO);
        let session = brief.start("ada", None, false);
        assert!(brief.get(&session.id).is_none());
    }

    #[test]
    fn secrets_compare_by_content() {
        assert!(secrets_equal("pw", "pw"));
        assert!(!secrets_equal("pw", "pw "));
        assert!(!secrets_equal("", "x"));
    }
}
