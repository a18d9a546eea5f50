//! `POST /zato/jwt/log-in` and `POST /zato/jwt/log-out`: tokens of the JWT security
//! definitions (`security/jwt.rs`), on every server's HTTP listener.
//!
//! Log-in takes `{"username", "password"[, "definition"]}`, checks them against the
//! basic-auth definition a JWT definition names, and answers the token. Log-out takes
//! the token (`Authorization: Bearer`) and revokes it on every server: in this server's
//! set at once, in the KVDB, and through the broker (`Kind::JwtRevocations`), each
//! server then reading the KVDB's set. A refusal says no more than that the credentials
//! or the token were not accepted; the log says why, never with the secret.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use axum::body::Body;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use serde_json::json;

use super::HttpState;
use crate::api::{JwtLogIn, JwtToken};
use crate::channel::new_cid;
use crate::http_response::{error_response, json_response, read_body};
use crate::kvdb::Kvdb;
use crate::reload::{Kind, Reloadable};
use crate::security::LogInError;
use crate::security::jwt::{KEPT_REVOCATIONS, REVOKED_KEY, REVOKED_TTL, Revocations};

pub const LOG_IN: &str = "/zato/jwt/log-in";
pub const LOG_OUT: &str = "/zato/jwt/log-out";
/// The largest log-in body read: a username and a password.
const MAX_LOG_IN_BYTES: usize = 16 * 1024;

/// Whether `path` is one of the two.
pub fn is_jwt_path(path: &str) -> bool {
    path == LOG_IN || path == LOG_OUT
}

pub(super) async fn serve(
    state: &HttpState,
    req: Request<Incoming>,
    peer: std::net::SocketAddr,
) -> Response<Body> {
    let cid = new_cid();
    if req.method() != Method::POST {
        let mut response = error_response(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("`{}` answers POST, not {}", req.uri().path(), req.method()),
            Some(&cid),
        );
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return response;
    }
    if req.uri().path() == LOG_IN {
        log_in(state, req, peer, &cid).await
    } else {
        log_out(state, req, &cid).await
    }
}

async fn log_in(
    state: &HttpState,
    req: Request<Incoming>,
    peer: std::net::SocketAddr,
    cid: &str,
) -> Response<Body> {
    let ip =
        crate::rate_limit::client_ip(peer.ip(), req.headers(), &state.settings.trusted_proxies);
    let stall = Duration::from_millis(state.settings.body_read_timeout_ms);
    let body = match read_body(req.into_body(), MAX_LOG_IN_BYTES, stall, cid).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    let login: JwtLogIn = match serde_json::from_slice(&body) {
        Ok(login) => login,
        Err(e) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                format!(
                    "a log-in is a JSON object with `username` and `password` (and \
                     `definition` when several JWT definitions take the username): {e}"
                ),
                Some(cid),
            );
        }
    };
    // Counted like a request to a channel they guard: by the rate limits of the JWT
    // definitions it may log in to (the one it names, else every one) and of their
    // log-in definitions, before the password is checked.
    let guards = state.channels.guards();
    let limit = crate::rate_limit::LimitCheck {
        limits: state.channels.limits(),
        kvdb: &state.kvdb,
        ip,
    };
    let names = guards.log_in_definitions(login.definition.as_deref());
    // Collected: a closure in the future would not be `Send` for every lifetime.
    let objects: Vec<(crate::api::rate_limit::LimitedKind, &str)> = names
        .iter()
        .map(|name| (crate::api::rate_limit::LimitedKind::Security, name.as_str()))
        .collect();
    if let Err(limited) = limit.check(objects).await {
        return super::limited_response(cid, LOG_IN, limited);
    }
    match guards.log_in(&login).await {
        Ok((token, claims)) => {
            tracing::info!(
                cid,
                security = %claims.zato_def,
                username = %claims.sub,
                "JWT issued"
            );
            json_response(
                StatusCode::OK,
                &JwtToken {
                    token,
                    token_type: "Bearer".into(),
                    expires_at: claims.exp,
                    definition: claims.zato_def,
                },
            )
        }
        Err(LogInError::Refused(reason)) => {
            tracing::info!(cid, "JWT log-in refused: {reason}");
            error_response(
                StatusCode::UNAUTHORIZED,
                "the username and password are not accepted".into(),
                Some(cid),
            )
        }
        Err(LogInError::Ambiguous(names)) => error_response(
            StatusCode::BAD_REQUEST,
            format!(
                "several JWT definitions log `{}` in ({}): name one with `definition`",
                login.username,
                names.join(", ")
            ),
            Some(cid),
        ),
        Err(LogInError::Signing(e)) => {
            tracing::error!(cid, "JWT log-in: the definition's key cannot sign: {e}");
            error_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("the token cannot be signed: {e}"),
                Some(cid),
            )
        }
    }
}

async fn log_out(state: &HttpState, req: Request<Incoming>, cid: &str) -> Response<Body> {
    let Some(claims) = state.channels.guards().token_claims(req.headers()) else {
        tracing::info!(cid, "JWT log-out refused: no token a JWT definition issued");
        let mut response = error_response(
            StatusCode::UNAUTHORIZED,
            "a log-out needs the token to revoke (Authorization: Bearer)".into(),
            Some(cid),
        );
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"zato\""),
        );
        return response;
    };
    // Here at once; then on every server, through the KVDB.
    state.channels.revocations().add(&claims.jti, claims.exp);
    if let Err(e) = state
        .kvdb
        .rank(
            REVOKED_KEY,
            claims.jti.as_bytes(),
            claims.exp as f64,
            KEPT_REVOCATIONS,
            Some(REVOKED_TTL),
        )
        .await
    {
        tracing::error!(
            cid,
            "JWT revoked on this server only: the KVDB refused it: {e}"
        );
        return error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the token is revoked on this server only: the KVDB refused it: {e}"),
            Some(cid),
        );
    }
    if let Err(e) = state.reloader.changed(Kind::JwtRevocations).await {
        tracing::warn!(cid, "revoked JWTs not reloaded here: {e:#}");
    }
    tracing::info!(
        cid,
        security = %claims.zato_def,
        username = %claims.sub,
        "JWT revoked"
    );
    json_response(
        StatusCode::OK,
        &json!({"revoked": true, "expires_at": claims.exp, "definition": claims.zato_def}),
    )
}

/// Reads the KVDB's revoked tokens into a server's set (`Kind::JwtRevocations`).
pub struct RevocationsReload {
    kvdb: Arc<dyn Kvdb>,
    revoked: Arc<Revocations>,
}

impl RevocationsReload {
    pub fn new(kvdb: Arc<dyn Kvdb>, revoked: Arc<Revocations>) -> Self {
        Self { kvdb, revoked }
    }
}

#[async_trait]
impl Reloadable for RevocationsReload {
    async fn reload(&self) -> anyhow::Result<()> {
        let ranked = self.kvdb.ranked(REVOKED_KEY).await?;
        self.revoked.replace(
            ranked
                .into_iter()
                .filter_map(|(jti, exp)| Some((String::from_utf8(jti).ok()?, exp as u64))),
        );
        Ok(())
    }
}
