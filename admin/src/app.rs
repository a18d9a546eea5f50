//! The web admin's shared state, its routes, the guard every request passes (session,
//! CSRF) and *the one place where errors become pages* ([`PageError`]).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use askama::Template;
use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};

use crate::auth::{LoginLimiter, Session, Sessions, Signer};
use crate::clusters::{ClusterError, Clusters, Resolver};
use crate::config::{ClusterConfig, WebAdminConfig, secret_key_bytes};
use crate::pages;

/// The session cookie: a session ID, signed.
pub const SESSION_COOKIE: &str = "zato_admin_session";
/// The login form's pre-session CSRF token, signed.
pub const LOGIN_COOKIE: &str = "zato_admin_login";
/// The largest form (other than an upload's) the guard reads to find its token.
const MAX_FORM_BYTES: usize = 4 << 20;

/// What every handler shares.
pub struct App {
    /// The configuration in force; the settings pages change it and save it.
    pub config: RwLock<WebAdminConfig>,
    /// Where the settings are saved.
    pub config_path: PathBuf,
    /// Signs the cookies.
    pub signer: Signer,
    /// The live sessions.
    pub sessions: Sessions,
    /// Failed logins per address.
    pub limiter: LoginLimiter,
    /// The clusters' ways in.
    pub clusters: Clusters,
    /// Bounds the argon2 verifications running at once (each takes a blocking thread).
    pub argon2: tokio::sync::Semaphore,
    /// The largest upload, in bytes.
    pub max_upload_bytes: usize,
}

/// The state handlers extract.
pub type Shared = State<Arc<App>>;

impl App {
    /// The state for `config`, saved to `config_path`.
    pub fn new(
        config: WebAdminConfig,
        config_path: PathBuf,
        resolver: Resolver,
    ) -> anyhow::Result<Self> {
        config.check()?;
        let base_dir = config_path.parent().map(PathBuf::from).unwrap_or_default();
        Ok(Self {
            signer: Signer::new(secret_key_bytes(&config.secret_key)?),
            sessions: Sessions::new(Duration::from_secs(config.session_ttl_s)),
            limiter: LoginLimiter::new(config.login),
            clusters: Clusters::new(resolver, base_dir),
            argon2: tokio::sync::Semaphore::new(2),
            max_upload_bytes: usize::try_from(config.max_upload_bytes).unwrap_or(usize::MAX),
            config: RwLock::new(config),
            config_path,
        })
    }

    /// Whether `session` may change the web admin's settings: a web-admin user's may, a
    /// cluster admin's only while that cluster is the only one configured.
    pub fn may_manage(&self, session: &Session) -> bool {
        session.bound_to.is_none() || self.config.read().unwrap().clusters.len() <= 1
    }

    /// The cluster `session` looks at: its choice if still configured, else the first;
    /// a session opened with a cluster's admin credentials sees that cluster only.
    pub fn cluster(&self, session: &Session) -> Result<ClusterConfig, PageError> {
        let config = self.config.read().unwrap();
        if let Some(bound) = &session.bound_to {
            return config.cluster(bound).cloned().ok_or(PageError::NoCluster);
        }
        session
            .cluster
            .as_deref()
            .and_then(|name| config.cluster(name))
            .or(config.clusters.first())
            .cloned()
            .ok_or(PageError::NoCluster)
    }

    /// The header's data for a page of `section`.
    pub fn chrome(&self, session: &Session, section: &'static str) -> Chrome {
        let config = self.config.read().unwrap();
        let clusters: Vec<String> = config
            .clusters
            .iter()
            .filter(|c| session.bound_to.as_ref().is_none_or(|b| *b == c.name))
            .map(|c| c.name.clone())
            .collect();
        let cluster = session
            .cluster
            .clone()
            .filter(|c| clusters.contains(c))
            .or_else(|| clusters.first().cloned())
            .unwrap_or_default();
        Chrome {
            user: session.user.clone(),
            csrf: session.csrf.clone(),
            clusters,
            cluster,
            section,
        }
    }
}

/// What the layout shows around every page: who is logged in, the cluster picker, the
/// session's CSRF token for the header's forms.
#[derive(Debug, Clone, Default)]
pub struct Chrome {
    /// The user logged in; empty on the login page and on pages without a session.
    pub user: String,
    /// The session's CSRF token.
    pub csrf: String,
    /// Every configured cluster's name.
    pub clusters: Vec<String>,
    /// The cluster the pages show.
    pub cluster: String,
    /// The section of the navigation to highlight.
    pub section: &'static str,
}

/// The routes, behind the guard.
pub fn router(app: Arc<App>) -> Router {
    let upload_limit = app.max_upload_bytes.saturating_add(64 << 10);
    Router::new()
        .route("/", get(pages::dashboard::show))
        .route("/login", get(pages::login::form).post(pages::login::submit))
        .route("/logout", post(pages::login::logout))
        .route("/cluster", post(pages::login::pick_cluster))
        .route("/services", get(pages::services::list))
        .route(
            "/services/upload",
            get(pages::upload::form)
                .post(pages::upload::submit)
                .layer(DefaultBodyLimit::max(upload_limit)),
        )
        .route("/services/{name}", get(pages::services::detail))
        .route("/services/{name}/progress", get(pages::upload::progress))
        .route("/services/{name}/config", post(pages::services::set_config))
        .route("/services/{name}/rollback", post(pages::services::rollback))
        .route(
            "/services/{name}/invoke",
            get(pages::invoke::form).post(pages::invoke::submit),
        )
        .route(
            "/services/{name}/delete",
            get(pages::services::confirm_delete).post(pages::services::delete),
        )
        .route("/channels/http", get(pages::channels::list))
        .route(
            "/channels/http/new",
            get(pages::channels::new_form).post(pages::channels::create),
        )
        .route(
            "/channels/http/{name}",
            get(pages::channels::edit_form).post(pages::channels::update),
        )
        .route(
            "/channels/http/{name}/delete",
            get(pages::channels::confirm_delete).post(pages::channels::delete),
        )
        .route("/channels/soap", get(pages::soap_channels::list))
        .route(
            "/channels/soap/new",
            get(pages::soap_channels::new_form).post(pages::soap_channels::create),
        )
        .route(
            "/channels/soap/{name}",
            get(pages::soap_channels::edit_form).post(pages::soap_channels::update),
        )
        .route(
            "/channels/soap/{name}/delete",
            get(pages::soap_channels::confirm_delete).post(pages::soap_channels::delete),
        )
        .route("/channels/messaging", get(pages::msg_channels::list))
        .route(
            "/channels/messaging/new/{type}",
            get(pages::msg_channels::new_form).post(pages::msg_channels::create),
        )
        .route(
            "/channels/messaging/{type}/{name}",
            get(pages::msg_channels::edit_form).post(pages::msg_channels::update),
        )
        .route(
            "/channels/messaging/{type}/{name}/delete",
            get(pages::msg_channels::confirm_delete).post(pages::msg_channels::delete),
        )
        .route("/scheduler", get(pages::scheduler::list))
        .route(
            "/scheduler/new-job",
            get(pages::scheduler::form::new_form).post(pages::scheduler::form::create),
        )
        .route("/scheduler/jobs/{name}", get(pages::scheduler::detail))
        .route(
            "/scheduler/jobs/{name}/edit",
            get(pages::scheduler::form::edit_form).post(pages::scheduler::form::update),
        )
        .route(
            "/scheduler/jobs/{name}/pause",
            post(pages::scheduler::pause),
        )
        .route(
            "/scheduler/jobs/{name}/resume",
            post(pages::scheduler::resume),
        )
        .route(
            "/scheduler/jobs/{name}/run",
            post(pages::scheduler::run_now),
        )
        .route(
            "/scheduler/jobs/{name}/delete",
            get(pages::scheduler::confirm_delete).post(pages::scheduler::delete),
        )
        .route(
            "/scheduler/calendars",
            get(pages::scheduler::calendars::list),
        )
        .route(
            "/scheduler/new-calendar",
            get(pages::scheduler::calendars::new_form).post(pages::scheduler::calendars::create),
        )
        .route(
            "/scheduler/calendars/{name}",
            get(pages::scheduler::calendars::edit_form).post(pages::scheduler::calendars::update),
        )
        .route(
            "/scheduler/calendars/{name}/delete",
            get(pages::scheduler::calendars::confirm_delete)
                .post(pages::scheduler::calendars::delete),
        )
        .route("/stats", get(pages::stats::top))
        .route("/stats/services/{name}", get(pages::stats::service))
        .route("/outconns", get(pages::outconn::list))
        .route(
            "/outconns/new/{type}",
            get(pages::outconn::new_form).post(pages::outconn::create),
        )
        .route(
            "/outconns/{type}/{name}",
            get(pages::outconn::edit_form).post(pages::outconn::update),
        )
        .route("/outconns/{type}/{name}/ping", post(pages::outconn::ping))
        .route(
            "/outconns/{type}/{name}/delete",
            get(pages::outconn::confirm_delete).post(pages::outconn::delete),
        )
        .route("/users", get(pages::users::list).post(pages::users::create))
        .route(
            "/users/{username}/password",
            post(pages::users::change_password),
        )
        .route(
            "/users/{username}/delete",
            get(pages::users::confirm_delete).post(pages::users::delete),
        )
        .route("/rate-limits", get(pages::rate_limits::list))
        .route(
            "/rate-limits/new",
            get(pages::rate_limits::new_form).post(pages::rate_limits::create),
        )
        .route("/rate-limits/attach", post(pages::rate_limits::attach))
        .route(
            "/rate-limits/{name}",
            get(pages::rate_limits::edit_form).post(pages::rate_limits::update),
        )
        .route(
            "/rate-limits/{name}/delete",
            get(pages::rate_limits::confirm_delete).post(pages::rate_limits::delete),
        )
        .route("/security", get(pages::security::list))
        .route(
            "/security/new/{type}",
            get(pages::security::new_form).post(pages::security::create),
        )
        .route(
            "/security/{name}",
            get(pages::security::edit_form).post(pages::security::update),
        )
        .route(
            "/security/{name}/delete",
            get(pages::security::confirm_delete).post(pages::security::delete),
        )
        .route("/dictionaries", get(pages::dictionaries::show))
        .route("/dictionaries/export", get(pages::dictionaries::export))
        .route("/enmasse", get(pages::enmasse::page))
        .route("/enmasse/export", get(pages::enmasse::export))
        .route("/enmasse/import", post(pages::enmasse::import))
        .route("/dictionaries/import", post(pages::dictionaries::import))
        .route("/dictionaries/translations", post(pages::dictionaries::set))
        .route(
            "/dictionaries/translations/delete",
            post(pages::dictionaries::unset),
        )
        .route("/settings", get(pages::settings::show))
        .route("/settings/clusters", post(pages::settings::add_cluster))
        .route(
            "/settings/clusters/{name}",
            get(pages::settings::cluster_form).post(pages::settings::update_cluster),
        )
        .route(
            "/settings/clusters/{name}/delete",
            post(pages::settings::remove_cluster),
        )
        .route("/settings/users", post(pages::settings::add_user))
        .route(
            "/settings/users/{name}/delete",
            post(pages::settings::remove_user),
        )
        .route("/assets/{file}", get(crate::assets::serve))
        .fallback(|| async { PageError::NotFound("no such page".into()) })
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&app),
            guard,
        ))
        .with_state(app)
}

/// A cookie's value from a request's headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Strict, for the whole site; `max_age` 0
/// deletes it.
pub fn set_cookie(name: &str, value: &str, max_age: Duration) -> HeaderValue {
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}",
        max_age.as_secs()
    ))
    .expect("cookie values are hex")
}

/// The client's address, as the guard found it (for the login rate limit and logs).
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub IpAddr);

/// The client's address, as the listener saw it.
pub fn client_ip(request: &Request) -> IpAddr {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(a)| a.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
}

/// Every request but an asset's passes here. Pages need a live session (else the login
/// page); every POST needs its form's CSRF token: the session's, or on the login form
/// the pre-session cookie's. A multipart form (the upload) is read by its handler,
/// which checks the token itself before acting ([`check_csrf`]).
async fn guard(State(app): Shared, mut request: Request, next: Next) -> Response {
    let ip = client_ip(&request);
    request.extensions_mut().insert(ClientIp(ip));
    let path = request.uri().path().to_owned();
    // A browser asks for /favicon.ico by itself: a 404, not a login page.
    if path.starts_with("/assets/") || path == "/favicon.ico" {
        return next.run(request).await;
    }
    let session = cookie(request.headers(), SESSION_COOKIE)
        .and_then(|signed| app.signer.verify(signed))
        .and_then(|id| app.sessions.get(id));
    let is_post = request.method() == Method::POST;
    if path == "/login" {
        if !is_post {
            return next.run(request).await;
        }
        let expected = cookie(request.headers(), LOGIN_COOKIE)
            .and_then(|signed| app.signer.verify(signed))
            .map(str::to_owned);
        return match with_form_token(request, expected.as_deref()).await {
            Ok(request) => next.run(request).await,
            Err(refusal) => refusal.into_response(),
        };
    }
    let Some(session) = session else {
        if is_post {
            return PageError::Forbidden(
                "your session has ended (or this form did not come from this web admin): \
                 log in again"
                    .into(),
            )
            .into_response();
        }
        return Redirect::to("/login").into_response();
    };
    request.extensions_mut().insert(session.clone());
    if path.starts_with("/settings") && !app.may_manage(&session) {
        return PageError::Forbidden(
            "the settings are for the web admin's own users (or the admin of its only \
             cluster): a cluster's admin credentials manage that cluster only"
                .into(),
        )
        .into_response();
    }
    // The upload reads its multipart form itself and checks the token before acting;
    // any other route takes no multipart body, so one posted there is refused here
    // rather than run without a token.
    let multipart = is_multipart(request.headers());
    if is_post && multipart && path != "/services/upload" {
        return PageError::Forbidden(
            "this form's security token (CSRF) is missing: reload the page and send it again"
                .into(),
        )
        .into_response();
    }
    let response = if !is_post || multipart {
        next.run(request).await
    } else {
        match with_form_token(request, Some(&session.csrf)).await {
            Ok(request) => next.run(request).await,
            Err(refusal) => refusal.into_response(),
        }
    };
    let mut response = with_chrome(&app, &session, response);
    // Pages carry the session's token: never cached, never framed by another page.
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("frame-ancestors 'none'"),
    );
    response
}

/// A failure page rendered by [`PageError`], carried in its response so that the guard
/// can render it again inside the session's header.
#[derive(Clone)]
struct Failure(Arc<MessagePage>);

/// `response` again with the session's header, if it is a failure page.
fn with_chrome(app: &App, session: &Session, response: Response) -> Response {
    let Some(Failure(page)) = response.extensions().get::<Failure>().cloned() else {
        return response;
    };
    let page = MessagePage {
        chrome: app.chrome(session, ""),
        title: page.title.clone(),
        message: page.message.clone(),
        details: page.details.clone(),
    };
    let (mut parts, _) = response.into_parts();
    let Ok(html) = page.render() else {
        return Response::from_parts(parts, Body::from("template error"));
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(html))
}

fn is_multipart(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"))
}

/// Reads a URL-encoded form, checks its `csrf` field against `expected`, and gives the
/// request back whole for its handler.
async fn with_form_token(request: Request, expected: Option<&str>) -> Result<Request, PageError> {
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_FORM_BYTES)
        .await
        .map_err(|_| PageError::BadRequest("the form is too large".into()))?;
    let token = form_urlencoded::parse(&bytes)
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v.into_owned());
    check_csrf(expected, token.as_deref())?;
    Ok(Request::from_parts(parts, Body::from(bytes)))
}

/// `Ok` when a form's token (`given`) is the one expected, in constant time.
pub fn check_csrf(expected: Option<&str>, given: Option<&str>) -> Result<(), PageError> {
    match (expected, given) {
        (Some(expected), Some(given)) if crate::auth::secrets_equal(expected, given) => Ok(()),
        (_, None) => Err(PageError::Forbidden(
            "this form came without its security token (CSRF): reload the page and send it again"
                .into(),
        )),
        _ => Err(PageError::Forbidden(
            "this form's security token (CSRF) is not this session's: reload the page and send \
             it again"
                .into(),
        )),
    }
}

/// Why a page could not be shown: the one place where failures become pages.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    /// A cluster could not be reached or refused a request.
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    /// No cluster is configured.
    #[error("no cluster is configured")]
    NoCluster,
    /// Nothing here.
    #[error("{0}")]
    NotFound(String),
    /// A form without its CSRF token, or a POST without a session.
    #[error("{0}")]
    Forbidden(String),
    /// Too many failed logins from this address.
    #[error("too many failed logins")]
    TooManyLogins(Duration),
    /// A request this web admin does not accept.
    #[error("{0}")]
    BadRequest(String),
    /// A failure of the web admin itself.
    #[error("{0:#}")]
    Internal(#[from] anyhow::Error),
}

/// A page with a title and a message, for failures and notices.
#[derive(Template)]
#[template(path = "message.html")]
pub struct MessagePage {
    /// The layout's data.
    pub chrome: Chrome,
    /// The page's title.
    pub title: String,
    /// What happened.
    pub message: String,
    /// Lines of detail (what was tried).
    pub details: Vec<String>,
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let (status, title, mut details) = match &self {
            PageError::Cluster(ClusterError::Down { tried, .. }) => (
                StatusCode::BAD_GATEWAY,
                "Cluster down",
                tried
                    .iter()
                    .map(|(url, error)| format!("{url}: {error}"))
                    .collect(),
            ),
            PageError::Cluster(e) if e.refusal().is_some_and(|(s, _)| s == 404) => {
                (StatusCode::NOT_FOUND, "Not found", Vec::new())
            }
            PageError::Cluster(_) => (StatusCode::BAD_GATEWAY, "Cluster error", Vec::new()),
            PageError::NoCluster => (StatusCode::OK, "No cluster", Vec::new()),
            PageError::NotFound(_) => (StatusCode::NOT_FOUND, "Not found", Vec::new()),
            PageError::Forbidden(_) => (StatusCode::FORBIDDEN, "Forbidden", Vec::new()),
            PageError::TooManyLogins(_) => (
                StatusCode::TOO_MANY_REQUESTS,
                "Too many failed logins",
                Vec::new(),
            ),
            PageError::BadRequest(_) => (StatusCode::BAD_REQUEST, "Bad request", Vec::new()),
            PageError::Internal(e) => {
                tracing::error!("web admin failure: {e:#}");
                (StatusCode::INTERNAL_SERVER_ERROR, "Error", Vec::new())
            }
        };
        let message = match &self {
            PageError::NoCluster => {
                details.push("Add one in Settings.".into());
                "No cluster is configured yet.".to_owned()
            }
            PageError::TooManyLogins(retry) => format!(
                "Too many failed logins from your address: try again in {} s.",
                retry.as_secs()
            ),
            other => other.to_string(),
        };
        let page = MessagePage {
            chrome: Chrome::default(),
            title: title.into(),
            message,
            details,
        };
        let mut response = (status, render(&page)).into_response();
        // The guard renders it again with the session's header (its cluster picker
        // above all: a user looking at a cluster that is down must be able to leave it).
        response.extensions_mut().insert(Failure(Arc::new(page)));
        if let PageError::TooManyLogins(retry) = self {
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from(retry.as_secs().max(1)),
            );
        }
        response
    }
}

/// A template's HTML, or a plain 500 if it does not render.
pub fn render(template: &impl Template) -> Response {
    match template.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!("a web admin template failed: {e}");
            (StatusCode::INTERNAL_SERVER_ERROR, "template error").into_response()
        }
    }
}

/// `body` as a file the browser downloads as `filename`.
pub fn download(content_type: &str, filename: &str, body: String) -> Response {
    let disposition = format!("attachment; filename=\"{filename}\"");
    (
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response()
}

/// A 303 to `to`: where a form's POST goes next.
pub fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

/// A path segment, percent-encoded, for links to names (services, channels, clusters).
pub fn seg(s: &str) -> String {
    zato_api::segment(s)
}
