//! JSON Web Tokens: a JWT definition's keys, the tokens it issues at
//! `/zato/jwt/log-in`, the check of a presented one, and the tokens revoked at
//! `/zato/jwt/log-out`.
//!
//! A token's claims: `sub` (the username that logged in), `iss` and `aud` (the
//! definition's), `iat`, `exp` (`iat` + the definition's `ttl_s`), `jti` (128 random
//! bits, hex) and `zato_def` (the definition that issued it). A check requires all of
//! them, the signature of the definition's algorithm (no other: a token cannot pick
//! its own), the issuer and audience, an `exp` in the future, and a `jti` not revoked.
//!
//! Revocation: a log-out ranks the token's `jti` in the KVDB's `jwt:revoked` by its
//! `exp` (the soonest-expiring fall off first past [`KEPT_REVOCATIONS`]) and tells every
//! server (`Kind::JwtRevocations`), each of which holds the set in memory
//! ([`Revocations`]), so that a check costs no round trip.

use std::collections::HashMap;
use std::sync::{LazyLock, RwLock};
use std::time::Duration;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::api::{JwtAlgorithm, JwtSettings, MAX_JWT_TTL_S};

/// The KVDB ranking of revoked tokens' ids, scored by their `exp`.
pub const REVOKED_KEY: &str = "jwt:revoked";
/// How many revoked tokens the KVDB keeps at most (the soonest-expiring go first).
pub const KEPT_REVOCATIONS: usize = 100_000;
/// How long the ranking is kept after its last change: no token outlives it.
pub const REVOKED_TTL: Duration = Duration::from_secs(MAX_JWT_TTL_S + 60);
/// How far servers' clocks may disagree on `exp`, in seconds.
const LEEWAY_S: u64 = 5;
/// How many verified tokens a definition remembers; past it, it starts afresh.
const KEPT_VERIFIED: usize = 10_000;

/// The key of the digests of verified tokens: random per process.
static DIGEST_KEY: LazyLock<[u8; 32]> = LazyLock::new(rand::random);

/// What a verified token said that a check needs again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub sub: String,
    pub jti: String,
    pub exp: u64,
}

/// A token's claims.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub iss: String,
    pub aud: String,
    pub iat: u64,
    pub exp: u64,
    pub jti: String,
    pub zato_def: String,
}

/// A definition's keys and what a token must say, and the tokens it verified: a
/// client sends the same token with every request, and the signature and claims of
/// the very same bytes need no second check (its expiry does, and its revocation).
pub struct Keys {
    settings: JwtSettings,
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    /// Keyed digest of a token -> what it said.
    verified: RwLock<HashMap<[u8; 32], Verified>>,
}

fn algorithm(a: JwtAlgorithm) -> Algorithm {
    match a {
        JwtAlgorithm::HS256 => Algorithm::HS256,
        JwtAlgorithm::RS256 => Algorithm::RS256,
        JwtAlgorithm::ES256 => Algorithm::ES256,
    }
}

/// Seconds since the Unix epoch.
pub fn now_s() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Keys {
    /// The keys of `settings` with `secret` (the HS256 key, or the private key's PEM);
    /// what is wrong with them, naming the field. A key pair must match: a token its
    /// private key signs must pass its public key's check.
    pub fn new(settings: &JwtSettings, secret: &str) -> Result<Self, String> {
        let (encoding, decoding) = match settings.algorithm {
            JwtAlgorithm::HS256 => (
                EncodingKey::from_secret(secret.as_bytes()),
                DecodingKey::from_secret(secret.as_bytes()),
            ),
            asymmetric => {
                let public = settings
                    .public_key
                    .as_deref()
                    .ok_or_else(|| format!("`public_key`: {asymmetric} needs one"))?;
                let (encoding, decoding) = if asymmetric == JwtAlgorithm::RS256 {
                    (
                        EncodingKey::from_rsa_pem(secret.as_bytes()),
                        DecodingKey::from_rsa_pem(public.as_bytes()),
                    )
                } else {
                    (
                        EncodingKey::from_ec_pem(secret.as_bytes()),
                        DecodingKey::from_ec_pem(public.as_bytes()),
                    )
                };
                (
                    encoding.map_err(|e| {
                        format!("`secret`: not a {asymmetric} private key in PEM: {e}")
                    })?,
                    decoding.map_err(|e| {
                        format!("`public_key`: not a {asymmetric} public key in PEM: {e}")
                    })?,
                )
            }
        };
        let mut validation = Validation::new(algorithm(settings.algorithm));
        validation.leeway = LEEWAY_S;
        validation.set_issuer(&[&settings.issuer]);
        validation.set_audience(&[&settings.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let keys = Self {
            settings: settings.clone(),
            encoding,
            decoding,
            validation,
            verified: RwLock::default(),
        };
        // The pair must match (and a key must sign at all).
        let (probe, _) = keys
            .issue("probe", "probe")
            .map_err(|e| format!("`secret`: cannot sign with it: {e}"))?;
        keys.check(&probe).map_err(|_| {
            "`public_key` does not check what the private key (`secret`) signs: they are not a pair"
                .to_owned()
        })?;
        Ok(keys)
    }

    /// A new token for `username`, issued by definition `definition`: the token and its
    /// claims.
    pub fn issue(&self, username: &str, definition: &str) -> Result<(String, Claims), String> {
        let iat = now_s();
        let claims = Claims {
            sub: username.to_owned(),
            iss: self.settings.issuer.clone(),
            aud: self.settings.audience.clone(),
            iat,
            exp: iat + self.settings.ttl_s,
            jti: format!("{:032x}", rand::random::<u128>()),
            zato_def: definition.to_owned(),
        };
        let token = jsonwebtoken::encode(
            &Header::new(algorithm(self.settings.algorithm)),
            &claims,
            &self.encoding,
        )
        .map_err(|e| e.to_string())?;
        Ok((token, claims))
    }

    /// What `token` says if its signature, issuer, audience and expiry pass: from the
    /// remembered tokens when it was verified before (its expiry checked again), else
    /// by [`Keys::check`] (then remembered). Why not, for the log.
    pub fn verify(&self, token: &str) -> Result<Verified, String> {
        let mut hasher = Sha256::new();
        hasher.update(*DIGEST_KEY);
        hasher.update(token.as_bytes());
        let digest: [u8; 32] = hasher.finalize().into();
        let known = self
            .verified
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&digest)
            .cloned();
        if let Some(known) = known {
            if known.exp + LEEWAY_S < now_s() {
                return Err("an expired token".into());
            }
            return Ok(known);
        }
        let claims = self.check(token)?;
        let verified = Verified {
            sub: claims.sub,
            jti: claims.jti,
            exp: claims.exp,
        };
        let mut all = self.verified.write().unwrap_or_else(|e| e.into_inner());
        if all.len() >= KEPT_VERIFIED {
            all.clear();
        }
        all.insert(digest, verified.clone());
        Ok(verified)
    }

    /// The claims of `token` if its signature, issuer, audience and expiry pass; why
    /// not, for the log (never the token).
    pub fn check(&self, token: &str) -> Result<Claims, String> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|e| {
                match e.kind() {
                    ErrorKind::ExpiredSignature => "an expired token",
                    ErrorKind::InvalidSignature => "a token whose signature does not match",
                    ErrorKind::InvalidIssuer => "a token of another issuer",
                    ErrorKind::InvalidAudience => "a token for another audience",
                    ErrorKind::InvalidAlgorithm => "a token signed with another algorithm",
                    ErrorKind::MissingRequiredClaim(_) => "a token missing a required claim",
                    _ => "a malformed token",
                }
                .to_owned()
            })
    }
}

/// The tokens revoked in the cluster that have not expired yet: `jti` -> `exp`.
#[derive(Default)]
pub struct Revocations(RwLock<HashMap<String, u64>>);

impl Revocations {
    pub fn contains(&self, jti: &str) -> bool {
        self.0
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(jti)
    }

    /// Adds one (this server's own log-out, before the KVDB's answer reaches it).
    pub fn add(&self, jti: &str, exp: u64) {
        self.0
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(jti.to_owned(), exp);
    }

    /// Replaces the set with `entries` (the KVDB's ranking), leaving the expired out.
    pub fn replace(&self, entries: impl IntoIterator<Item = (String, u64)>) {
        let now = now_s();
        let live: HashMap<String, u64> = entries
            .into_iter()
            .filter(|(_, exp)| *exp + LEEWAY_S >= now)
            .collect();
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = live;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hs256() -> JwtSettings {
        JwtSettings {
            algorithm: JwtAlgorithm::HS256,
            issuer: "zato".into(),
            audience: "partners".into(),
            ttl_s: 60,
            login: "partner".into(),
            public_key: None,
        }
    }

    #[test]
    fn a_token_passes_its_definitions_check_only() {
        let keys = Keys::new(&hs256(), &"k".repeat(32)).unwrap();
        let (token, claims) = keys.issue("acme", "partner-jwt").unwrap();
        let checked = keys.check(&token).unwrap();
        assert_eq!(checked.sub, "acme");
        assert_eq!(checked.jti, claims.jti);
        assert_eq!(checked.exp, claims.iat + 60);

        // Another key, issuer or audience: refused, saying why.
        let other = Keys::new(&hs256(), &"j".repeat(32)).unwrap();
        assert_eq!(
            other.check(&token).unwrap_err(),
            "a token whose signature does not match"
        );
        let mut elsewhere = hs256();
        elsewhere.audience = "others".into();
        let elsewhere = Keys::new(&elsewhere, &"k".repeat(32)).unwrap();
        assert_eq!(
            elsewhere.check(&token).unwrap_err(),
            "a token for another audience"
        );
        // Tampered: the payload changed, the signature kept.
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        use base64::Engine as _;
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let payload = String::from_utf8(engine.decode(&parts[1]).unwrap()).unwrap();
        parts[1] = engine.encode(payload.replace("acme", "root"));
        assert_eq!(
            keys.check(&parts.join(".")).unwrap_err(),
            "a token whose signature does not match"
        );
        assert_eq!(keys.check("not.a.token").unwrap_err(), "a malformed token");

        // Verified once, then remembered; a tampered copy is not the same bytes.
        assert_eq!(keys.verify(&token).unwrap().sub, "acme");
        assert_eq!(keys.verify(&token).unwrap().jti, claims.jti);
        assert!(keys.verify(&parts.join(".")).is_err());
    }

    #[test]
    fn a_remembered_token_still_expires() {
        let mut short = hs256();
        short.ttl_s = 1;
        let keys = Keys::new(&short, &"k".repeat(32)).unwrap();
        let (token, _) = keys.issue("acme", "d").unwrap();
        assert!(keys.verify(&token).is_ok());
        // As if time passed: the remembered expiry is what is checked.
        for known in keys.verified.write().unwrap().values_mut() {
            known.exp = now_s() - LEEWAY_S - 1;
        }
        assert_eq!(keys.verify(&token).unwrap_err(), "an expired token");
    }

    #[test]
    fn revocations_keep_only_the_unexpired() {
        let revoked = Revocations::default();
        let now = now_s();
        revoked.replace([
            ("old".to_owned(), now - 3600),
            ("live".to_owned(), now + 60),
        ]);
        assert!(!revoked.contains("old"));
        assert!(revoked.contains("live"));
        revoked.add("new", now + 10);
        assert!(revoked.contains("new"));
        revoked.replace([("new".to_owned(), now + 10)]);
        assert!(
            !revoked.contains("live"),
            "a replace drops what the KVDB no longer holds"
        );
    }
}
