//! Security definitions' secrets: how a password or an API key is stored (a hash, never
//! the secret) and how a presented one is compared with it.
//!
//! A basic-auth password is stored as argon2id (a PHC string with its own salt), the
//! same as the admin API's; hashing and verifying are slow on purpose, so callers run
//! them off the async reactor. An API key is stored as `sha256:` and its hex digest:
//! keys are long random strings (16 bytes at least), for which a salted slow hash buys
//! nothing, and a valid caller must not pay for one on each request; it is compared in
//! constant time.
//!
//! [`Guards`] is each server's live table of definitions, rebuilt with the channels'
//! route table (`channel::http::Channels`) whenever either changes, so that a channel
//! and the definition it names are swapped in together. A [`Guard`] checks a request:
//! a basic-auth password is verified with argon2id once (off the reactor, a few at a
//! time), then remembered as a keyed digest, so that a valid caller pays a SHA-256,
//! not the hash, on each request; the Authorization header it came in is remembered
//! the same way, so that the same header again is admitted on one keyed digest of its
//! bytes, without decoding it. A channel naming a definition this server does not
//! hold refuses every caller (fail closed).

pub mod client_cert;
pub mod jwt;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, OnceLock};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use base64::Engine as _;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

use crate::api::{JwtLogIn, SecurityDefInfo, SecuritySettings, SecurityType};

/// The prefix of a stored API key digest.
const SHA256: &str = "sha256:";
/// The prefix of a stored JWT signing key (kept whole: signing needs it).
const KEY: &str = "key:";

/// The hash to store for `secret` as `settings`' password or key. A password's is slow
/// (argon2id): call it off the async reactor (`spawn_blocking`).
pub fn hash_secret(settings: &SecuritySettings, secret: &str) -> String {
    match settings {
        SecuritySettings::BasicAuth(_) => hash_password(secret),
        SecuritySettings::Apikey(_) => format!("{SHA256}{}", hex::encode(Sha256::digest(secret))),
        // Not a hash: a token cannot be signed with one. Never answered or logged.
        SecuritySettings::Jwt(_) => format!("{KEY}{secret}"),
        // No secret: the CA and the subject say who may call.
        SecuritySettings::Tls(_) => String::new(),
    }
}

/// A password's argon2id hash, with a random salt.
pub fn hash_password(password: &str) -> String {
    let salt = SaltString::generate(&mut rand_core::OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 hashing cannot fail with defaults")
        .to_string()
}

/// Whether `presented` is the API key whose SHA-256 is `digest`: the same time whatever
/// the two have in common (a digest of the whole key, compared in constant time).
fn key_matches(digest: &[u8], presented: &[u8]) -> bool {
    bool::from(Sha256::digest(presented).as_slice().ct_eq(digest))
}

/// Whether `presented` is the secret `stored` is the hash of. A password's check is
/// slow (argon2id); a key's takes the same time wherever the two differ.
pub fn matches(stored: &str, presented: &str) -> bool {
    match stored.strip_prefix(SHA256) {
        Some(digest) => {
            let Ok(digest) = hex::decode(digest) else {
                return false;
            };
            key_matches(&digest, presented.as_bytes())
        }
        None => PasswordHash::new(stored).is_ok_and(|hash| {
            Argon2::default()
                .verify_password(presented.as_bytes(), &hash)
                .is_ok()
        }),
    }
}

/// Who called, once a check passed: what a service reads through `request.caller`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The security definition that admitted the caller.
    pub definition: String,
    pub kind: SecurityType,
    /// The basic-auth username; for an API key, the definition's name (a key has no
    /// other); for a JWT, its subject; for a client certificate, its common name.
    pub principal: String,
}

/// Why a request was refused. `reason` is for the log (it never holds a secret);
/// `message` for the caller, who is not told which part of the credentials was wrong.
#[derive(Debug)]
pub struct Refusal {
    pub status: StatusCode,
    /// The `WWW-Authenticate` challenge of a 401.
    pub challenge: Option<HeaderValue>,
    pub message: String,
    pub reason: String,
}

/// The live check of one security definition, shared by the channels that name it.
pub struct Guard {
    name: String,
    check: Check,
}

enum Check {
    Basic {
        settings: SecuritySettings,
        username: String,
        hash: String,
        challenge: HeaderValue,
        /// The keyed digest of the credentials once argon2id verified them.
        verified: OnceLock<[u8; 32]>,
        /// The keyed digest of the first Authorization header admitted: the same bytes
        /// again are the same credentials, admitted without decoding them.
        verified_header: OnceLock<[u8; 32]>,
        /// How many argon2id checks this definition ran (unknown usernames included).
        slow_checks: AtomicU64,
    },
    Apikey {
        settings: SecuritySettings,
        header: HeaderName,
        hash: String,
        digest: Vec<u8>,
    },
    Jwt {
        settings: SecuritySettings,
        hash: String,
        keys: Box<jwt::Keys>,
        revoked: Arc<jwt::Revocations>,
    },
    ClientCert {
        settings: SecuritySettings,
        cert: Box<client_cert::ClientCert>,
    },
    /// Named by a channel but not held by this server: every caller is refused.
    Missing,
}

/// The key of the digests of verified credentials: random per process, so that a
/// digest in memory says nothing outside it.
static DIGEST_KEY: LazyLock<[u8; 32]> = LazyLock::new(rand::random);

/// How many argon2id checks run at once: the rest wait, so that a flood of wrong
/// passwords takes that many blocking threads, not every one.
static SLOW_CHECKS: LazyLock<tokio::sync::Semaphore> = LazyLock::new(|| {
    tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get()))
});

/// The keyed digest of an Authorization header's bytes.
fn header_digest(value: &HeaderValue) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(*DIGEST_KEY);
    hasher.update(value.as_bytes());
    hasher.finalize().into()
}

fn keyed_digest(username: &str, password: &[u8]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(*DIGEST_KEY);
    hasher.update(username.as_bytes());
    hasher.update([0]);
    hasher.update(password);
    hasher.finalize().into()
}

/// `password` checked against an argon2id hash, off the reactor, a few at a time.
async fn verify_slowly(hash: &str, password: Vec<u8>) -> bool {
    let Ok(_permit) = SLOW_CHECKS.acquire().await else {
        return false;
    };
    let hash = hash.to_owned();
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash)
            .is_ok_and(|hash| Argon2::default().verify_password(&password, &hash).is_ok())
    })
    .await
    .unwrap_or(false)
}

impl Guard {
    fn new(info: &SecurityDefInfo, hash: &str, revoked: &Arc<jwt::Revocations>) -> Self {
        let check = match &info.settings {
            SecuritySettings::BasicAuth(basic) => Check::Basic {
                settings: info.settings.clone(),
                username: basic.username.clone(),
                hash: hash.to_owned(),
                // The realm is printable ASCII without `"` or `\` (`SecuritySettings::check`).
                challenge: HeaderValue::from_str(&format!(
                    "Basic realm=\"{}\", charset=\"UTF-8\"",
                    basic.realm
                ))
                .unwrap_or_else(|_| HeaderValue::from_static("Basic")),
                verified: OnceLock::new(),
                verified_header: OnceLock::new(),
                slow_checks: AtomicU64::new(0),
            },
            SecuritySettings::Apikey(key) => match (
                HeaderName::from_bytes(key.header.as_bytes()),
                hash.strip_prefix(SHA256)
                    .and_then(|hex| hex::decode(hex).ok()),
            ) {
                (Ok(header), Some(digest)) => Check::Apikey {
                    settings: info.settings.clone(),
                    header,
                    hash: hash.to_owned(),
                    digest,
                },
                _ => {
                    tracing::error!(
                        security = %info.name,
                        "API key definition has an unusable header or stored digest: \
                         refusing every caller"
                    );
                    Check::Missing
                }
            },
            SecuritySettings::Jwt(settings) => {
                match jwt::Keys::new(settings, hash.strip_prefix(KEY).unwrap_or_default()) {
                    Ok(keys) => Check::Jwt {
                        settings: info.settings.clone(),
                        hash: hash.to_owned(),
                        keys: Box::new(keys),
                        revoked: Arc::clone(revoked),
                    },
                    Err(e) => {
                        tracing::error!(
                            security = %info.name,
                            "JWT definition has unusable keys ({e}): refusing every caller"
                        );
                        Check::Missing
                    }
                }
            }
            SecuritySettings::Tls(settings) => match client_cert::ClientCert::new(settings) {
                Ok(cert) => Check::ClientCert {
                    settings: info.settings.clone(),
                    cert: Box::new(cert),
                },
                Err(e) => {
                    tracing::error!(
                        security = %info.name,
                        "client-certificate definition is unusable ({e}): refusing every caller"
                    );
                    Check::Missing
                }
            },
        };
        Self {
            name: info.name.clone(),
            check,
        }
    }

    fn missing(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            check: Check::Missing,
        }
    }

    /// The definition's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether this guard checks what `info` and `hash` say (kept across reloads).
    fn same(&self, info: &SecurityDefInfo, stored: &str) -> bool {
        match &self.check {
            Check::Basic { settings, hash, .. }
            | Check::Apikey { settings, hash, .. }
            | Check::Jwt { settings, hash, .. } => *settings == info.settings && hash == stored,
            Check::ClientCert { settings, .. } => *settings == info.settings,
            Check::Missing => false,
        }
    }

    /// Checks the credentials of a request to `channel` (its headers, and the TLS
    /// connection it came over, if it did); when they pass, removes them from `headers`
    /// (the service, its samples and its logs never see them) and says who called.
    pub async fn admit(
        &self,
        headers: &mut HeaderMap,
        tls: Option<&zato_api::tls::TlsConnection>,
        channel: &str,
    ) -> Result<Caller, Refusal> {
        match &self.check {
            Check::Basic {
                username,
                hash,
                challenge,
                verified,
                verified_header,
                slow_checks,
                ..
            } => {
                let refuse = |reason: String| Refusal {
                    status: StatusCode::UNAUTHORIZED,
                    challenge: Some(challenge.clone()),
                    message: format!(
                        "channel `{channel}` needs a username and password (HTTP basic auth)"
                    ),
                    reason,
                };
                let Some(value) = headers.get(header::AUTHORIZATION) else {
                    return Err(refuse("no Authorization header".into()));
                };
                let seen = header_digest(value);
                if verified_header
                    .get()
                    .is_some_and(|known| bool::from(known.ct_eq(&seen)))
                {
                    headers.remove(header::AUTHORIZATION);
                    return Ok(Caller {
                        definition: self.name.clone(),
                        kind: SecurityType::BasicAuth,
                        principal: username.clone(),
                    });
                }
                let Some((user, password)) = basic_credentials(value) else {
                    return Err(refuse(
                        "an Authorization header that is not Basic credentials".into(),
                    ));
                };
                match verify_basic(username, hash, verified, slow_checks, &user, password).await {
                    Some(true) => {
                        let _ = verified_header.set(seen);
                        headers.remove(header::AUTHORIZATION);
                        Ok(Caller {
                            definition: self.name.clone(),
                            kind: SecurityType::BasicAuth,
                            principal: user,
                        })
                    }
                    Some(false) => Err(refuse(format!(
                        "a wrong password for `{}`",
                        printable(&user)
                    ))),
                    None => Err(refuse(format!(
                        "an unknown username `{}`",
                        printable(&user)
                    ))),
                }
            }
            Check::Apikey { header, digest, .. } => {
                let Some(value) = headers.get(header) else {
                    return Err(Refusal {
                        status: StatusCode::UNAUTHORIZED,
                        challenge: HeaderValue::from_str(&format!("ApiKey header=\"{header}\""))
                            .ok(),
                        message: format!(
                            "channel `{channel}` needs an API key in header `{header}`"
                        ),
                        reason: format!("no {header} header"),
                    });
                };
                if key_matches(digest, value.as_bytes()) {
                    headers.remove(header);
                    return Ok(Caller {
                        definition: self.name.clone(),
                        kind: SecurityType::Apikey,
                        principal: self.name.clone(),
                    });
                }
                Err(Refusal {
                    status: StatusCode::FORBIDDEN,
                    challenge: None,
                    message: format!("the API key is not accepted by channel `{channel}`"),
                    reason: format!("a wrong key in header {header}"),
                })
            }
            Check::Jwt { keys, revoked, .. } => {
                let refuse = |reason: String, invalid: bool| Refusal {
                    status: StatusCode::UNAUTHORIZED,
                    challenge: Some(HeaderValue::from_static(if invalid {
                        "Bearer realm=\"zato\", error=\"invalid_token\""
                    } else {
                        "Bearer realm=\"zato\""
                    })),
                    message: format!(
                        "channel `{channel}` needs a valid token (Authorization: Bearer, from \
                         /zato/jwt/log-in)"
                    ),
                    reason,
                };
                let Some(token) = bearer_token(headers) else {
                    return Err(refuse("no Bearer token".into(), false));
                };
                let claims = keys.verify(token).map_err(|reason| refuse(reason, true))?;
                if revoked.contains(&claims.jti) {
                    return Err(refuse(
                        format!("a revoked token of `{}`", printable(&claims.sub)),
                        true,
                    ));
                }
                headers.remove(header::AUTHORIZATION);
                Ok(Caller {
                    definition: self.name.clone(),
                    kind: SecurityType::Jwt,
                    principal: claims.sub,
                })
            }
            Check::ClientCert { cert, .. } => {
                // No challenge: a client certificate is asked for in the handshake, and
                // HTTP has no scheme to ask for one again.
                let refuse = |reason: String| Refusal {
                    status: StatusCode::FORBIDDEN,
                    challenge: None,
                    message: format!(
                        "channel `{channel}` needs a TLS client certificate it trusts"
                    ),
                    reason,
                };
                let Some(tls) = tls else {
                    return Err(refuse(
                        "a plain-HTTP connection (this listener does not speak TLS, so no \
                         client certificate can be offered)"
                            .into(),
                    ));
                };
                let Some(chain) = tls.peer_certificates.as_deref() else {
                    return Err(refuse("no client certificate".into()));
                };
                let principal = cert.check(chain).map_err(refuse)?;
                Ok(Caller {
                    definition: self.name.clone(),
                    kind: SecurityType::Tls,
                    principal,
                })
            }
            Check::Missing => Err(Refusal {
                status: StatusCode::FORBIDDEN,
                challenge: None,
                message: format!(
                    "channel `{channel}` is closed: its security definition `{}` is not usable \
                     on this server",
                    self.name
                ),
                reason: format!("security definition `{}` is not usable here", self.name),
            }),
        }
    }
}

/// Whether `password` is `user`'s, `user` being `username` (`None` when it is not): from
/// the remembered digest, else with argon2id (then remembered). An unknown username
/// costs the same argon2id check (its outcome unused), so that how long a refusal takes
/// does not tell which usernames exist.
async fn verify_basic(
    username: &str,
    hash: &str,
    verified: &OnceLock<[u8; 32]>,
    slow_checks: &AtomicU64,
    user: &str,
    password: Vec<u8>,
) -> Option<bool> {
    let known_user = bool::from(user.as_bytes().ct_eq(username.as_bytes()));
    let digest = keyed_digest(user, &password);
    if known_user
        && verified
            .get()
            .is_some_and(|known| bool::from(known.ct_eq(&digest)))
    {
        return Some(true);
    }
    slow_checks.fetch_add(1, Ordering::Relaxed);
    let ok = verify_slowly(hash, password).await;
    if !known_user {
        return None;
    }
    if ok {
        let _ = verified.set(digest);
    }
    Some(ok)
}

/// The token of a `Bearer` Authorization header.
fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// A username as a log line may hold it: control characters escaped, at most 64
/// characters.
fn printable(text: &str) -> String {
    text.chars().take(64).flat_map(char::escape_debug).collect()
}

/// The username and password of a `Basic` Authorization header.
fn basic_credentials(value: &HeaderValue) -> Option<(String, Vec<u8>)> {
    let text = value.to_str().ok()?;
    let (scheme, encoded) = text.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let colon = decoded.iter().position(|b| *b == b':')?;
    let user = String::from_utf8(decoded[..colon].to_vec()).ok()?;
    Some((user, decoded[colon + 1..].to_vec()))
}

/// Why a JWT log-in got no token.
#[derive(Debug)]
pub enum LogInError {
    /// The username or password is wrong (the reason is for the log).
    Refused(String),
    /// The right password, for a username several JWT definitions log in: the request
    /// must name one (these).
    Ambiguous(Vec<String>),
    /// The definition's key cannot sign (it could when it was saved).
    Signing(String),
}

/// This server's security definitions, by name, as channels use them.
#[derive(Default)]
pub struct Guards(HashMap<String, Arc<Guard>>);

impl Guards {
    /// The table of `defs` (each with its stored hash), keeping `previous`'s guard of a
    /// definition that did not change, and what it verified.
    pub fn build(
        defs: &[(SecurityDefInfo, String)],
        previous: &Guards,
        revoked: &Arc<jwt::Revocations>,
    ) -> Self {
        Self(
            defs.iter()
                .map(|(info, hash)| {
                    let guard = match previous.0.get(&info.name) {
                        Some(guard) if guard.same(info, hash) => Arc::clone(guard),
                        _ => Arc::new(Guard::new(info, hash, revoked)),
                    };
                    (info.name.clone(), guard)
                })
                .collect(),
        )
    }

    /// The guard of the definition `name`; one refusing everyone when there is none.
    pub fn get(&self, name: &str) -> Arc<Guard> {
        self.0
            .get(name)
            .cloned()
            .unwrap_or_else(|| Arc::new(Guard::missing(name)))
    }

    /// `/zato/jwt/log-in`: a token of the JWT definition that logs `login.username` in
    /// (the one named, when `login.definition` names one), if the password is right.
    pub async fn log_in(&self, login: &JwtLogIn) -> Result<(String, jwt::Claims), LogInError> {
        // The JWT definitions (by name) whose log-in definition has this username.
        let mut names: Vec<&String> = self.0.keys().collect();
        names.sort();
        let mut admitted = Vec::new();
        let mut wrong = false;
        // The first log-in definition seen: an unknown username is checked against it,
        // for the time it takes (see `verify_basic`).
        let mut any_basic = None;
        for name in names {
            let guard = &self.0[name];
            let Check::Jwt {
                settings: SecuritySettings::Jwt(settings),
                keys,
                ..
            } = &guard.check
            else {
                continue;
            };
            if login.definition.as_ref().is_some_and(|d| d != name) {
                continue;
            }
            let Some(basic) = self.0.get(&settings.login) else {
                continue;
            };
            let Check::Basic {
                username,
                hash,
                verified,
                slow_checks,
                ..
            } = &basic.check
            else {
                continue;
            };
            any_basic.get_or_insert((username, hash, verified, slow_checks));
            // Only definitions of this username cost a check.
            if !bool::from(login.username.as_bytes().ct_eq(username.as_bytes())) {
                continue;
            }
            let password = login.password.as_bytes().to_vec();
            let checked = verify_basic(
                username,
                hash,
                verified,
                slow_checks,
                &login.username,
                password,
            );
            match checked.await {
                Some(true) => admitted.push((name, keys)),
                Some(false) => wrong = true,
                None => {}
            }
        }
        if admitted.is_empty()
            && !wrong
            && let Some((username, hash, verified, slow_checks)) = any_basic
        {
            let password = login.password.as_bytes().to_vec();
            verify_basic(
                username,
                hash,
                verified,
                slow_checks,
                &login.username,
                password,
            )
            .await;
        }
        match admitted.as_slice() {
            [(name, keys)] => keys
                .issue(&login.username, name)
                .map_err(LogInError::Signing),
            [] if wrong => Err(LogInError::Refused(format!(
                "a wrong password for `{}`",
                printable(&login.username)
            ))),
            [] => Err(LogInError::Refused(format!(
                "no JWT definition logs `{}` in{}",
                printable(&login.username),
                login
                    .definition
                    .as_deref()
                    .map(|d| format!(" as `{}`", printable(d)))
                    .unwrap_or_default()
            ))),
            several => Err(LogInError::Ambiguous(
                several.iter().map(|(name, _)| (*name).clone()).collect(),
            )),
        }
    }

    /// The JWT definitions a log-in may go to (`only`, when it names one) and the
    /// basic-auth definitions they log in with: what its rate limits count it by.
    pub fn log_in_definitions(&self, only: Option<&str>) -> Vec<String> {
        let mut names = Vec::new();
        for (name, guard) in &self.0 {
            let Check::Jwt {
                settings: SecuritySettings::Jwt(settings),
                ..
            } = &guard.check
            else {
                continue;
            };
            if only.is_some_and(|only| only != name) {
                continue;
            }
            names.push(name.clone());
            names.push(settings.login.clone());
        }
        names.sort();
        names.dedup();
        names
    }

    /// `/zato/jwt/log-out`: the claims of `headers`' Bearer token if one of the JWT
    /// definitions issued it (whether or not it was revoked already).
    pub fn token_claims(&self, headers: &HeaderMap) -> Option<jwt::Claims> {
        let token = bearer_token(headers)?;
        self.0.values().find_map(|guard| match &guard.check {
            Check::Jwt { keys, .. } => keys.check(token).ok(),
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{ApikeySettings, BasicAuthSettings};

    #[test]
    fn a_stored_hash_matches_its_secret_only_and_never_holds_it() {
        let basic = SecuritySettings::BasicAuth(BasicAuthSettings {
            username: "u".into(),
            realm: "r".into(),
        });
        let key = SecuritySettings::Apikey(ApikeySettings {
            header: "X-API-Key".into(),
        });
        let password = hash_secret(&basic, "correct horse");
        assert!(password.starts_with("$argon2id$"));
        assert!(!password.contains("correct horse"));
        assert!(matches(&password, "correct horse"));
        assert!(!matches(&password, "correct horsE"));
        // Salted: the same password hashes differently twice.
        assert_ne!(password, hash_secret(&basic, "correct horse"));

        let stored = hash_secret(&key, "0123456789abcdef0123");
        assert!(stored.starts_with("sha256:"));
        assert!(matches(&stored, "0123456789abcdef0123"));
        assert!(!matches(&stored, "0123456789abcdef012"));
        assert!(!matches("sha256:not-hex", "x"));
        assert!(!matches("not a hash", "x"));
    }
}

#[cfg(test)]
mod guard_tests {
    use super::*;
    use crate::api::{ApikeySettings, BasicAuthSettings};

    fn def(name: &str, settings: SecuritySettings) -> SecurityDefInfo {
        SecurityDefInfo {
            name: name.into(),
            kind: settings.kind(),
            settings,
            created_at: 0,
            updated_at: 0,
        }
    }

    fn basic_header(user: &str, password: &str) -> HeaderMap {
        let encoded =
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Basic {encoded}")).unwrap(),
        );
        headers
    }

    #[tokio::test]
    async fn basic_auth_admits_its_user_once_verified_and_refuses_the_rest_with_a_challenge() {
        let settings = SecuritySettings::BasicAuth(BasicAuthSettings {
            username: "acme".into(),
            realm: "partners".into(),
        });
        let hash = hash_secret(&settings, "s3cret pass");
        let guards = Guards::build(
            &[(def("partner", settings), hash)],
            &Guards::default(),
            &Arc::default(),
        );
        let guard = guards.get("partner");

        // The second time from the remembered header's digest; the same credentials in
        // another spelling of the header from the credentials' digest. Argon2id ran once.
        let spelled = |scheme: &str| {
            let mut headers = basic_header("acme", "s3cret pass");
            let value = headers[header::AUTHORIZATION].to_str().unwrap().to_owned();
            let other = value.replacen("Basic ", scheme, 1);
            headers.insert(
                header::AUTHORIZATION,
                HeaderValue::from_str(&other).unwrap(),
            );
            headers
        };
        for mut headers in [
            basic_header("acme", "s3cret pass"),
            basic_header("acme", "s3cret pass"),
            spelled("basic  "),
        ] {
            headers.insert("x-other", HeaderValue::from_static("kept"));
            let caller = guard.admit(&mut headers, None, "orders").await.unwrap();
            assert_eq!(
                caller,
                Caller {
                    definition: "partner".into(),
                    kind: SecurityType::BasicAuth,
                    principal: "acme".into()
                }
            );
            assert!(
                headers.get(header::AUTHORIZATION).is_none(),
                "credentials removed"
            );
            assert_eq!(headers["x-other"], "kept");
        }
        let Check::Basic {
            slow_checks,
            verified_header,
            ..
        } = &guard.check
        else {
            unreachable!()
        };
        assert_eq!(slow_checks.load(Ordering::Relaxed), 1);
        let first = basic_header("acme", "s3cret pass");
        assert_eq!(
            verified_header.get(),
            Some(&header_digest(&first[header::AUTHORIZATION])),
            "the first header admitted is remembered"
        );
        let cases = [
            (basic_header("acme", "wrong"), "a wrong password for `acme`"),
            (
                basic_header("acme", "s3cret pass "),
                "a wrong password for `acme`",
            ),
            (
                basic_header("someone", "s3cret pass"),
                "an unknown username `someone`",
            ),
            (HeaderMap::new(), "no Authorization header"),
        ];
        for (mut headers, reason) in cases {
            let refusal = guard.admit(&mut headers, None, "orders").await.unwrap_err();
            assert_eq!(refusal.status, StatusCode::UNAUTHORIZED);
            assert_eq!(refusal.reason, reason);
            assert_eq!(
                refusal.challenge.unwrap(),
                "Basic realm=\"partners\", charset=\"UTF-8\""
            );
            assert!(!refusal.message.contains("s3cret"));
        }
        let mut bearer = HeaderMap::new();
        bearer.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer abc"),
        );
        let refusal = guard.admit(&mut bearer, None, "orders").await.unwrap_err();
        assert_eq!(
            refusal.reason,
            "an Authorization header that is not Basic credentials"
        );
    }

    #[tokio::test]
    async fn an_api_key_is_admitted_from_its_header_missing_is_401_and_wrong_is_403() {
        let settings = SecuritySettings::Apikey(ApikeySettings {
            header: "X-Partner-Key".into(),
        });
        let hash = hash_secret(&settings, "0123456789abcdef-key");
        let guards = Guards::build(
            &[(def("crm", settings), hash)],
            &Guards::default(),
            &Arc::default(),
        );
        let guard = guards.get("crm");
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-partner-key",
            HeaderValue::from_static("0123456789abcdef-key"),
        );
        let caller = guard.admit(&mut headers, None, "orders").await.unwrap();
        assert_eq!(caller.kind, SecurityType::Apikey);
        assert_eq!(caller.principal, "crm");
        assert!(headers.get("x-partner-key").is_none());

        let refusal = guard
            .admit(&mut HeaderMap::new(), None, "orders")
            .await
            .unwrap_err();
        assert_eq!(refusal.status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            refusal.challenge.unwrap(),
            "ApiKey header=\"x-partner-key\""
        );
        let mut wrong = HeaderMap::new();
        wrong.insert(
            "x-partner-key",
            HeaderValue::from_static("0123456789abcdef-kez"),
        );
        let refusal = guard.admit(&mut wrong, None, "orders").await.unwrap_err();
        assert_eq!(refusal.status, StatusCode::FORBIDDEN);
        assert_eq!(refusal.reason, "a wrong key in header x-partner-key");
    }

    #[tokio::test]
    async fn a_definition_the_server_does_not_hold_refuses_everyone_and_unchanged_guards_are_kept()
    {
        let guards = Guards::default();
        let refusal = guards
            .get("gone")
            .admit(&mut basic_header("a", "b"), None, "orders")
            .await
            .unwrap_err();
        assert_eq!(refusal.status, StatusCode::FORBIDDEN);

        let settings = SecuritySettings::Apikey(ApikeySettings {
            header: "X-API-Key".into(),
        });
        let first = vec![(
            def("crm", settings.clone()),
            hash_secret(&settings, "k".repeat(16).as_str()),
        )];
        let before = Guards::build(&first, &Guards::default(), &Arc::default());
        let same = Guards::build(&first, &before, &Arc::default());
        assert!(Arc::ptr_eq(&before.get("crm"), &same.get("crm")));
        let changed = vec![(
            def("crm", settings.clone()),
            hash_secret(&settings, "j".repeat(16).as_str()),
        )];
        let after = Guards::build(&changed, &same, &Arc::default());
        assert!(!Arc::ptr_eq(&same.get("crm"), &after.get("crm")));
    }
}

#[cfg(test)]
mod timing_tests {
    use std::time::Instant;

    use super::*;

    /// Welch's t statistic of two samples, their slowest tenth left out (dudect's
    /// cropping: the long tail is the machine's, not the comparison's).
    fn welch_t(a: &mut [f64], b: &mut [f64]) -> f64 {
        let crop = |v: &mut [f64]| -> Vec<f64> {
            v.sort_by(f64::total_cmp);
            v[..v.len() * 9 / 10].to_vec()
        };
        let (a, b) = (crop(a), crop(b));
        let stats = |v: &[f64]| {
            let n = v.len() as f64;
            let mean = v.iter().sum::<f64>() / n;
            let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
            (mean, var, n)
        };
        let ((ma, va, na), (mb, vb, nb)) = (stats(&a), stats(&b));
        (ma - mb) / (va / na + vb / nb).sqrt()
    }

    /// Times `compare` on two classes of input, interleaved at random, in batches:
    /// the t statistic of the two classes' times.
    fn leakage(compare: &dyn Fn(&[u8]) -> bool, class_a: &[u8], class_b: &[u8]) -> f64 {
        const BATCHES: usize = 4_000;
        const PER_BATCH: usize = 32;
        let (mut a, mut b) = (Vec::with_capacity(BATCHES), Vec::with_capacity(BATCHES));
        for _ in 0..2 * BATCHES {
            let first = rand::random::<bool>();
            let input = if first { class_a } else { class_b };
            let started = Instant::now();
            for _ in 0..PER_BATCH {
                std::hint::black_box(compare(std::hint::black_box(input)));
            }
            let took = started.elapsed().as_nanos() as f64;
            if first { &mut a } else { &mut b }.push(took);
        }
        welch_t(&mut a, &mut b).abs()
    }

    /// A statistical timing test (after dudect): a key that differs from the stored one
    /// in its first byte and one that differs only in its last are compared in times
    /// that the t-test cannot tell apart, while the same test does tell them apart for
    /// a naive comparison (so it can fail).
    #[test]
    fn an_api_key_is_compared_in_a_time_that_does_not_depend_on_the_bytes_it_shares() {
        let key = b"k3y-0123456789abcdef0123456789abcdef".to_vec();
        let digest = Sha256::digest(&key).to_vec();
        let mut first = key.clone();
        first[0] ^= 1;
        let mut last = key.clone();
        *last.last_mut().unwrap() ^= 1;
        let ours = |presented: &[u8]| key_matches(&digest, presented);
        let t = leakage(&ours, &first, &last);

        // The detector's power: a byte-by-byte comparison of a long key leaks how much
        // of it matched, and the same test sees it.
        let long: Vec<u8> = (0..16_384u32).map(|i| b'a' + (i % 26) as u8).collect();
        let mut long_first = long.clone();
        long_first[0] ^= 1;
        let mut long_last = long.clone();
        *long_last.last_mut().unwrap() ^= 1;
        let naive = |presented: &[u8]| {
            presented.len() == long.len() && presented.iter().zip(&long).all(|(x, y)| x == y)
        };
        let naive_t = leakage(&naive, &long_first, &long_last);
        assert!(
            naive_t > 20.0,
            "the test sees a naive comparison leak: t = {naive_t:.1}"
        );
        // dudect calls |t| > 4.5 a leak; the margin is for a machine busy with other tests.
        assert!(
            t < 10.0,
            "API key comparison leaks timing: t = {t:.1} (naive: {naive_t:.1})"
        );
    }
}
