//! HTTP basic auth for the admin API, against an argon2id hash.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use argon2::password_hash::{PasswordHasher, SaltString};
use argon2::{Argon2, PasswordHash, PasswordVerifier};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine as _;
use http::{HeaderValue, StatusCode, header};
use sha2::{Digest, Sha256};

use crate::http_response::error_response;

/// Verified credentials remembered, so argon2 (slow on purpose) runs once per client.
const REMEMBERED: usize = 64;

pub struct AdminAuth {
    username: String,
    hash: String,
    verified: Mutex<HashSet<[u8; 32]>>,
}

impl AdminAuth {
    pub fn new(username: String, hash: String) -> anyhow::Result<Self> {
        PasswordHash::new(&hash)
            .map_err(|e| anyhow::anyhow!("invalid admin password hash in config: {e}"))?;
        Ok(Self {
            username,
            hash,
            verified: Mutex::new(HashSet::new()),
        })
    }

    /// Whether an `Authorization` header value carries the admin's credentials.
    pub fn check(&self, authorization: Option<&HeaderValue>) -> bool {
        let Some(value) = authorization else {
            return false;
        };
        let digest: [u8; 32] = Sha256::digest(value.as_bytes()).into();
        if self
            .verified
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(&digest)
        {
            return true;
        }
        let Some((user, password)) = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Basic "))
            .and_then(|b64| {
                base64::engine::general_purpose::STANDARD
                    .decode(b64.trim())
                    .ok()
            })
            .and_then(|raw| String::from_utf8(raw).ok())
            .and_then(|text| {
                text.split_once(':')
                    .map(|(u, p)| (u.to_owned(), p.to_owned()))
            })
        else {
            return false;
        };
        let Ok(hash) = PasswordHash::new(&self.hash) else {
            return false;
        };
        // Both checks always run, so timing does not tell which one failed.
        let user_ok = constant_time_eq(user.as_bytes(), self.username.as_bytes());
        let password_ok = Argon2::default()
            .verify_password(password.as_bytes(), &hash)
            .is_ok();
        if user_ok && password_ok {
            let mut verified = self.verified.lock().unwrap_or_else(|e| e.into_inner());
            if verified.len() >= REMEMBERED {
                verified.clear();
            }
            verified.insert(digest);
        }
        user_ok && password_ok
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Hashes a password for the config file (argon2id, random salt).
pub fn hash_password(password: &str) -> String {
    let salt = SaltString::generate(&mut rand_core::OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 hashing cannot fail with defaults")
        .to_string()
}

/// Middleware: 401 with a `WWW-Authenticate` challenge unless the credentials match.
pub async fn require(State(auth): State<Arc<AdminAuth>>, request: Request, next: Next) -> Response {
    if auth.check(request.headers().get(header::AUTHORIZATION)) {
        return next.run(request).await;
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(user: &str, password: &str) -> HeaderValue {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        HeaderValue::from_str(&format!("Basic {token}")).unwrap()
    }

    #[test]
    fn only_the_right_credentials_pass() {
        let auth = AdminAuth::new("admin".into(), hash_password("s3cret")).unwrap();
        assert!(auth.check(Some(&basic("admin", "s3cret"))));
        assert!(auth.check(Some(&basic("admin", "s3cret"))), "remembered");
        assert!(!auth.check(Some(&basic("admin", "wrong"))));
        assert!(!auth.check(Some(&basic("root", "s3cret"))));
        assert!(!auth.check(Some(&HeaderValue::from_static("Bearer x"))));
        assert!(!auth.check(None));
    }

    #[test]
    fn an_invalid_hash_is_refused_at_start() {
        assert!(AdminAuth::new("admin".into(), "not-a-hash".into()).is_err());
    }
}
