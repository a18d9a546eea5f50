//! The admin API under `/zato/api/`: JSON over HTTP, behind HTTP basic auth.
//!
//! The CLI and (later) the web admin use only this API; nothing else writes the ODB.

mod auth;
mod channels;
mod services;

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use http::StatusCode;

pub use auth::{AdminAuth, hash_password};

use crate::api::ServerStatus;
use crate::channel::http::Channels;
use crate::deploy::Deployer;
use crate::http_response::{error_response, json_response};
use crate::odb::Odb;
use crate::reload::Reloader;

/// What the admin API's handlers share.
pub struct AdminState {
    pub deployer: Arc<Deployer>,
    pub odb: Arc<dyn Odb>,
    pub channels: Arc<Channels>,
    /// Reloads what the admin API changed here, and tells the other servers.
    pub reloader: Arc<Reloader>,
    pub server_name: String,
    pub address: String,
    pub started: Instant,
    /// A running server not seen for this long is reported as `gone`.
    pub dead_after_ms: i64,
}

type Shared = State<Arc<AdminState>>;

/// The admin API's routes, all behind `auth`.
pub fn router(state: Arc<AdminState>, auth: Arc<AdminAuth>, max_upload: usize) -> Router {
    Router::new()
        .route("/zato/api/server", get(server_status))
        .route("/zato/api/servers", get(services::servers))
        .route(
            "/zato/api/services",
            get(services::list).post(services::upload),
        )
        .route(
            "/zato/api/services/{name}",
            get(services::details).delete(services::remove),
        )
        .route("/zato/api/services/{name}/invoke", post(services::invoke))
        .route(
            "/zato/api/services/{name}/versions",
            get(services::versions),
        )
        .route(
            "/zato/api/services/{name}/rollback",
            post(services::rollback),
        )
        .route(
            "/zato/api/services/{name}/config",
            get(services::get_config).put(services::put_config),
        )
        .route(
            "/zato/api/channels/http",
            get(channels::list).post(channels::create),
        )
        .route("/zato/api/channels/http/{name}", delete(channels::remove))
        .fallback(|| async { ApiError(StatusCode::NOT_FOUND, "no such admin API endpoint".into()) })
        .layer(DefaultBodyLimit::max(max_upload))
        .layer(axum::middleware::from_fn_with_state(auth, auth::require))
        .with_state(state)
}

async fn server_status(State(state): Shared) -> Response {
    let runtime = state.deployer.runtime();
    let (compilations, cache_hits) = runtime.compile_counts();
    json_response(
        StatusCode::OK,
        &ServerStatus {
            name: state.server_name.clone(),
            address: state.address.clone(),
            version: env!("CARGO_PKG_VERSION").into(),
            allocator: format!("{:?}", runtime.allocator()),
            uptime_s: state.started.elapsed().as_secs(),
            services: runtime.registry().list().len(),
            compilations,
            cache_hits,
        },
    )
}

/// An admin API error: a status and a message, sent as the usual JSON error body.
pub struct ApiError(pub StatusCode, pub String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        error_response(self.0, self.1, None)
    }
}

impl From<crate::odb::OdbError> for ApiError {
    fn from(e: crate::odb::OdbError) -> Self {
        match e {
            crate::odb::OdbError::Conflict(m) => ApiError(StatusCode::CONFLICT, m),
            crate::odb::OdbError::Invalid(m) => ApiError(StatusCode::BAD_REQUEST, m),
            other => ApiError(StatusCode::INTERNAL_SERVER_ERROR, other.to_string()),
        }
    }
}

impl From<crate::deploy::DeployError> for ApiError {
    fn from(e: crate::deploy::DeployError) -> Self {
        use crate::deploy::DeployError;
        let status = match &e {
            _ if e.is_bad_input() => StatusCode::BAD_REQUEST,
            DeployError::NotDeployed(_) | DeployError::NotKept { .. } => StatusCode::NOT_FOUND,
            DeployError::LockTimeout(_) => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError(status, e.to_string())
    }
}
