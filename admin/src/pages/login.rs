//! Logging in and out, and picking the cluster the pages show.
//!
//! A login is accepted with the admin credentials of any configured cluster (compared in
//! constant time; an environment's read through the resolver) or with a web-admin user's
//! password (argon2id, verified on a blocking thread, at most two at once).

use std::sync::Arc;
use std::time::Duration;

use askama::Template;
use axum::extract::{Extension, Form, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::app::{
    App, Chrome, ClientIp, LOGIN_COOKIE, PageError, SESSION_COOKIE, Shared, cookie, render,
    see_other, set_cookie,
};
use crate::auth::{Session, new_token, secrets_equal};
use crate::config::ClusterSource;

/// How long a login form's token lasts.
const LOGIN_TOKEN_TTL: Duration = Duration::from_secs(3600);

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    chrome: Chrome,
    csrf: String,
    username: String,
    error: String,
}

/// `GET /login`: the form, with a pre-session token in a signed cookie: the one the
/// browser holds while it is valid (a second load of the page, e.g. a favicon request
/// redirected here, must not replace the token of the form already shown), else a new
/// one.
pub async fn form(State(app): Shared, headers: axum::http::HeaderMap) -> Response {
    let logged_in = cookie(&headers, SESSION_COOKIE)
        .and_then(|s| app.signer.verify(s))
        .and_then(|id| app.sessions.get(id))
        .is_some();
    if logged_in {
        return see_other("/");
    }
    login_page(&app, &headers, String::new(), String::new())
}

/// The pre-session token of the browser's login cookie, when its signature holds.
fn held_token(app: &App, headers: &axum::http::HeaderMap) -> Option<String> {
    cookie(headers, LOGIN_COOKIE)
        .and_then(|signed| app.signer.verify(signed))
        .map(str::to_owned)
}

fn login_page(
    app: &App,
    headers: &axum::http::HeaderMap,
    username: String,
    error: String,
) -> Response {
    let token = held_token(app, headers).unwrap_or_else(new_token);
    let page = LoginPage {
        chrome: Chrome::default(),
        csrf: token.clone(),
        username,
        error,
    };
    let mut response = render(&page);
    response.headers_mut().insert(
        header::SET_COOKIE,
        set_cookie(LOGIN_COOKIE, &app.signer.sign(&token), LOGIN_TOKEN_TTL),
    );
    response
}

/// The login form's fields (its token was checked by the guard).
#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
}

/// `POST /login`.
pub async fn submit(
    State(app): Shared,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    headers: axum::http::HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    if let Err(retry) = app.limiter.check(ip) {
        tracing::warn!(user = %form.username, address = %ip, "web admin login refused: too many failures");
        return PageError::TooManyLogins(retry).into_response();
    }
    match verify(&app, &form.username, &form.password).await {
        Some(cluster) => {
            app.limiter.succeeded(ip);
            tracing::info!(user = %form.username, address = %ip, "web admin login");
            // A cluster's admin credentials open that cluster only.
            let bound = cluster.is_some();
            let session = app.sessions.start(&form.username, cluster, bound);
            let mut response = see_other("/");
            let headers = response.headers_mut();
            headers.append(
                header::SET_COOKIE,
                set_cookie(
                    SESSION_COOKIE,
                    &app.signer.sign(&session.id),
                    app.sessions.ttl(),
                ),
            );
            headers.append(
                header::SET_COOKIE,
                set_cookie(LOGIN_COOKIE, "", Duration::ZERO),
            );
            response
        }
        None => {
            tracing::warn!(user = %form.username, address = %ip, "web admin login refused: wrong user or password");
            let mut response = login_page(
                &app,
                &headers,
                form.username,
                "Wrong user name or password.".into(),
            );
            *response.status_mut() = axum::http::StatusCode::UNAUTHORIZED;
            response
        }
    }
}

/// `Some(cluster to show first)` when the credentials are a cluster's admin ones or a
/// web-admin user's.
async fn verify(app: &Arc<App>, username: &str, password: &str) -> Option<Option<String>> {
    if username.is_empty() || password.is_empty() {
        return None;
    }
    let (clusters, hash) = {
        let config = app.config.read().unwrap();
        let hash = config
            .users
            .iter()
            .find(|u| u.name == username)
            .map(|u| u.password_hash.clone());
        (config.clusters.clone(), hash)
    };
    for cluster in &clusters {
        let matches = match cluster.source() {
            Ok(ClusterSource::Remote {
                username: u,
                password: p,
                ..
            }) => secrets_equal(u, username) & secrets_equal(p, password),
            Ok(ClusterSource::Environment(_)) => match app.clusters.access(cluster).await {
                Ok(access) => {
                    secrets_equal(&access.username, username)
                        & secrets_equal(&access.password, password)
                }
                Err(e) => {
                    tracing::debug!("login: {e}");
                    false
                }
            },
            Err(_) => false,
        };
        if matches {
            return Some(Some(cluster.name.clone()));
        }
    }
    let hash = hash?;
    let _permit = app.argon2.acquire().await.ok()?;
    let password = password.to_owned();
    let verified = tokio::task::spawn_blocking(move || {
        use argon2::PasswordVerifier as _;
        argon2::PasswordHash::new(&hash).is_ok_and(|parsed| {
            argon2::Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
    })
    .await
    .unwrap_or(false);
    verified.then_some(None)
}

/// `POST /logout`: the session ends; its cookie is worth nothing from now on.
pub async fn logout(State(app): Shared, Extension(session): Extension<Session>) -> Response {
    app.sessions.end(&session.id);
    let mut response = see_other("/login");
    response.headers_mut().insert(
        header::SET_COOKIE,
        set_cookie(SESSION_COOKIE, "", Duration::ZERO),
    );
    response
}

/// The cluster picker's form.
#[derive(Deserialize)]
pub struct PickCluster {
    cluster: String,
}

/// `POST /cluster`: the session's pages show another cluster.
pub async fn pick_cluster(
    State(app): Shared,
    Extension(session): Extension<Session>,
    Form(form): Form<PickCluster>,
) -> Result<Response, PageError> {
    if session
        .bound_to
        .as_ref()
        .is_some_and(|bound| *bound != form.cluster)
    {
        return Err(PageError::Forbidden(format!(
            "this session was opened with the admin credentials of cluster `{}`, which \
             manage that cluster only",
            session.bound_to.as_deref().unwrap_or_default()
        )));
    }
    if app.config.read().unwrap().cluster(&form.cluster).is_none() {
        return Err(PageError::NotFound(format!(
            "no cluster named `{}`",
            form.cluster
        )));
    }
    app.sessions.set_cluster(&session.id, &form.cluster);
    Ok(see_other("/"))
}
