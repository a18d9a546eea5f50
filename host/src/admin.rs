//! The admin API under `/zato/api/`: JSON over HTTP, behind HTTP basic auth.
//!
//! The CLI and (later) the web admin use only this API; nothing else writes the ODB.

mod async_invoke;
mod auth;
mod channels;
mod dictionaries;
mod extract;
mod msg_channels;
mod openapi;
mod outconn;
mod rate_limits;
mod scheduler;
mod security;
mod services;
mod soap_channels;
mod stats;
mod users;

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use utoipa::OpenApi as _;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use auth::{AdminAuth, hash_password};
pub use openapi::SPEC_PATH;
pub use users::UsersReload;

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
    /// Runs a job now, says who the singleton is.
    pub scheduler: Arc<crate::scheduler::Scheduler>,
    /// Where the usage statistics, samples and slow responses are read from.
    pub kvdb: Arc<dyn crate::kvdb::Kvdb>,
    pub stats: crate::config::StatsSettings,
    pub server_name: String,
    pub address: String,
    pub started: Instant,
    /// A running server not seen for this long is reported as `gone`.
    pub dead_after_ms: i64,
    /// Who may use the admin API: `/zato/api/users` names the configuration's admin.
    pub auth: Arc<AdminAuth>,
}

type Shared = State<Arc<AdminState>>;

/// The authenticated routes with their description. *Invariant*: a route is added only
/// through `routes!`, which takes its path and methods from the handler's
/// `#[utoipa::path]`, so every route the server answers is in the OpenAPI description
/// (`openapi::every_route_is_described_and_answers_only_its_methods` probes it).
fn api() -> OpenApiRouter<Arc<AdminState>> {
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .routes(routes!(server_status))
        .routes(routes!(services::servers))
        .routes(routes!(services::list, services::upload))
        .routes(routes!(services::details, services::remove))
        .routes(routes!(services::invoke))
        .routes(routes!(async_invoke::outcome))
        .routes(routes!(services::versions))
        .routes(routes!(services::component))
        .routes(routes!(services::rollback))
        .routes(routes!(services::get_config, services::put_config))
        .routes(routes!(channels::list, channels::create))
        .routes(routes!(channels::get, channels::update, channels::remove))
        .routes(routes!(soap_channels::list, soap_channels::create))
        .routes(routes!(
            soap_channels::get,
            soap_channels::update,
            soap_channels::remove
        ))
        .routes(routes!(
            msg_channels::amqp::list,
            msg_channels::amqp::create
        ))
        .routes(routes!(
            msg_channels::amqp::get,
            msg_channels::amqp::update,
            msg_channels::amqp::remove
        ))
        .routes(routes!(msg_channels::zmq::list, msg_channels::zmq::create))
        .routes(routes!(
            msg_channels::zmq::get,
            msg_channels::zmq::update,
            msg_channels::zmq::remove
        ))
        .routes(routes!(scheduler::list_jobs, scheduler::create_job))
        .routes(routes!(
            scheduler::get_job,
            scheduler::update_job,
            scheduler::delete_job
        ))
        .routes(routes!(scheduler::pause_job))
        .routes(routes!(scheduler::resume_job))
        .routes(routes!(scheduler::run_job))
        .routes(routes!(scheduler::job_runs))
        .routes(routes!(scheduler::job_next))
        .routes(routes!(scheduler::preview))
        .routes(routes!(
            scheduler::list_calendars,
            scheduler::create_calendar
        ))
        .routes(routes!(
            scheduler::get_calendar,
            scheduler::update_calendar,
            scheduler::delete_calendar
        ))
        .routes(routes!(scheduler::singleton))
        .routes(routes!(outconn::list))
        .routes(routes!(outconn::create))
        .routes(routes!(outconn::get, outconn::update, outconn::remove))
        .routes(routes!(outconn::ping))
        .routes(routes!(security::list, security::create))
        .routes(routes!(security::get, security::update, security::remove))
        .routes(routes!(security::change_secret))
        .routes(routes!(rate_limits::list, rate_limits::create))
        .routes(routes!(
            rate_limits::get,
            rate_limits::update,
            rate_limits::remove
        ))
        .routes(routes!(rate_limits::uses))
        .routes(routes!(rate_limits::attach))
        .routes(routes!(users::list, users::create))
        .routes(routes!(users::change_password))
        .routes(routes!(users::remove))
        .routes(routes!(stats::service))
        .routes(routes!(stats::series))
        .routes(routes!(stats::top))
        .routes(routes!(stats::sample))
        .routes(routes!(stats::slow))
        .routes(routes!(dictionaries::list))
        .routes(routes!(dictionaries::import))
        .routes(routes!(dictionaries::export))
        .routes(routes!(
            dictionaries::set_translation,
            dictionaries::delete_translation
        ))
        .routes(routes!(dictionaries::delete_entries))
        .routes(routes!(dictionaries::translate))
}

/// The routes served without credentials: the description itself.
fn public() -> OpenApiRouter<Arc<AdminState>> {
    OpenApiRouter::new().routes(routes!(openapi::spec))
}

/// The admin API's OpenAPI 3.1 description, as `GET /zato/api/openapi.json` serves it
/// and `zato apispec` prints it.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut spec = api().merge(public()).into_openapi();
    openapi::finish(&mut spec);
    spec
}

/// [`openapi`] as pretty JSON.
pub fn openapi_json() -> &'static str {
    openapi::json()
}

/// The admin API's routes, all behind `auth` but the description.
pub fn router(state: Arc<AdminState>, auth: Arc<AdminAuth>, max_upload: usize) -> Router {
    let (authenticated, _) = api().split_for_parts();
    let (public, _) = public().split_for_parts();
    authenticated
        .fallback(|| async { ApiError(StatusCode::NOT_FOUND, "no such admin API endpoint".into()) })
        .layer(DefaultBodyLimit::max(max_upload))
        .layer(axum::middleware::from_fn_with_state(auth, auth::require))
        .merge(public)
        .with_state(state)
}

/// The status of the server answering.
#[utoipa::path(
    get,
    path = "/zato/api/server",
    tag = "servers",
    operation_id = "server_status",
    responses((status = 200, description = "the server answering", body = ServerStatus)),
)]
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
