//! Security definitions' secrets: how a password or an API key is stored (a hash, never
//! the secret) and how a presented one is compared with it.
//!
//! A basic-auth password is stored as argon2id (a PHC string with its own salt), the
//! same as the admin API's; hashing and verifying are slow on purpose, so callers run
//! them off the async reactor. An API key is stored as `sha256:` and its hex digest:
//! keys are long random strings (16 bytes at least), for which a salted slow hash buys
//! nothing, and a valid caller must not pay for one on each request; it is compared in
//! constant time.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

use crate::api::SecuritySettings;

/// The prefix of a stored API key digest.
const SHA256: &str = "sha256:";

/// The hash to store for `secret` as `settings`' password or key. A password's is slow
/// (argon2id): call it off the async reactor (`spawn_blocking`).
pub fn hash_secret(settings: &SecuritySettings, secret: &str) -> String {
    match settings {
        SecuritySettings::BasicAuth(_) => hash_password(secret),
        SecuritySettings::Apikey(_) => format!("{SHA256}{}", hex::encode(Sha256::digest(secret))),
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

/// Whether `presented` is the secret `stored` is the hash of. A password's check is
/// slow (argon2id); a key's takes the same time wherever the two differ.
pub fn matches(stored: &str, presented: &str) -> bool {
    match stored.strip_prefix(SHA256) {
        Some(digest) => {
            let Ok(digest) = hex::decode(digest) else {
                return false;
            };
            let presented = Sha256::digest(presented);
            bool::from(presented.as_slice().ct_eq(&digest))
        }
        None => PasswordHash::new(stored).is_ok_and(|hash| {
            Argon2::default()
                .verify_password(presented.as_bytes(), &hash)
                .is_ok()
        }),
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
