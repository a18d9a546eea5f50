//! Services: list, details, upload (deploy), delete, invoke, configuration; servers.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::response::{IntoResponse as _, Response};
use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::extract::{Json, Path, Query};
use super::{ApiError, Shared};
use crate::api::{
    AsyncQueued, DataFormat, DeleteOutcome, DeployOutcome, ErrorBody, MAX_TIMEOUT_MS, Rollback,
    ServerInfo, ServerState, ServiceDetails, ServiceInfo, ServiceSummary, ServiceVersion,
};
use crate::capability::invoke_async::AsyncHost as _;
use crate::channel::{Inbound, call_service, new_cid};
use crate::http_response::{header_pairs, header_value, json_response, service_response};
use crate::invoke_async::{self, SubmitError};
use crate::reload::Kind;
use crate::runtime::{self, ChannelKind};

/// The deployed services.
#[utoipa::path(
    get,
    path = "/zato/api/services",
    tag = "services",
    operation_id = "list_services",
    responses((status = 200, description = "the deployed services", body = Vec<ServiceSummary>)),
)]
pub async fn list(State(state): Shared) -> Result<Response, ApiError> {
    let registry = state.deployer.runtime().registry();
    let services: Vec<ServiceSummary> = state
        .odb
        .live_services()
        .await?
        .into_iter()
        .map(|m| ServiceSummary {
            running_version: registry.get(&m.name).map(|s| s.version),
            name: m.name,
            version: m.version,
            sha256: m.sha256,
            size: m.size,
            description: m.description,
            deployed_at: m.deployed_at,
            source: m.source,
        })
        .collect();
    Ok(json_response(StatusCode::OK, &services))
}

/// One service: what the list says of it, its interface and its configuration.
#[utoipa::path(
    get,
    path = "/zato/api/services/{name}",
    tag = "services",
    operation_id = "get_service",
    params(("name" = String, Path, description = "the service's name")),
    responses(
        (status = 200, description = "the service", body = ServiceDetails),
        (status = 400, description = "a name that does not decode", body = ErrorBody),
        (status = 404, description = "the service is not deployed", body = ErrorBody),
    ),
)]
pub async fn details(State(state): Shared, Path(name): Path<String>) -> Result<Response, ApiError> {
    let meta = state
        .odb
        .live_services()
        .await?
        .into_iter()
        .find(|m| m.name == name)
        .ok_or_else(|| {
            ApiError(
                StatusCode::NOT_FOUND,
                format!("service `{name}` is not deployed"),
            )
        })?;
    let registry = state.deployer.runtime().registry();
    let info: ServiceInfo = serde_json::from_str(&meta.info).map_err(|e| {
        ApiError(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("stored info of `{name}` is invalid: {e}"),
        )
    })?;
    let config = registry
        .config(&name)
        .map(|c| (*c).clone())
        .unwrap_or_default();
    let details = ServiceDetails {
        summary: ServiceSummary {
            running_version: registry.get(&name).map(|s| s.version),
            name: meta.name,
            version: meta.version,
            sha256: meta.sha256,
            size: meta.size,
            description: meta.description,
            deployed_at: meta.deployed_at,
            source: meta.source,
        },
        info,
        config,
    };
    Ok(json_response(StatusCode::OK, &details))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UploadQuery {
    /// The uploaded file's name, for messages and the ODB (`api:NAME`).
    #[serde(default)]
    source: Option<String>,
}

/// The body of an upload: a WebAssembly component's bytes, as they are.
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct Component(#[allow(dead_code)] Vec<u8>);

/// Deploys a component on every server: its `info()` names the service.
#[utoipa::path(
    post,
    path = "/zato/api/services",
    tag = "services",
    operation_id = "deploy",
    params(UploadQuery),
    request_body(
        description = "the component's bytes as the whole body (not multipart, not \
            base64), whatever the content type says; at most the server's \
            `runtime.max_component_bytes`",
        content(
            (Component = "application/wasm"),
            (Component = "application/octet-stream"),
        ),
    ),
    responses(
        (status = 201, description = "deployed as a new version", body = DeployOutcome),
        (status = 200, description = "these exact bytes were the latest version already: \
            nothing changed", body = DeployOutcome),
        (status = 400, description = "an empty body, not a component, a component that \
            does not fit zato's contract, an invalid service name, or a failed `info()`",
            body = ErrorBody),
        (status = 413, description = "over the component size limit", body = ErrorBody),
        (status = 503, description = "another deploy of the same bytes did not finish in \
            time; try again", body = ErrorBody),
    ),
)]
pub async fn upload(
    State(state): Shared,
    Query(query): Query<UploadQuery>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body.map_err(|rejection| body_refusal(&state, &rejection))?;
    if body.is_empty() {
        return Err(ApiError(
            StatusCode::BAD_REQUEST,
            "empty upload: send the .wasm bytes as the body".into(),
        ));
    }
    let source = format!("api:{}", query.source.as_deref().unwrap_or("upload"));
    let outcome = state.deployer.deploy(body.to_vec(), &source).await?;
    let status = if outcome.unchanged {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok(json_response(status, &outcome))
}

/// The body limit stops an oversized body before it is read whole; say which limit.
fn body_refusal(state: &super::AdminState, rejection: &BytesRejection) -> ApiError {
    let limit = state.deployer.runtime().settings().max_component_bytes;
    match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body is over the component size limit of {limit} bytes"),
        ),
        _ => ApiError(
            StatusCode::BAD_REQUEST,
            format!("cannot read the body: {}", rejection.body_text()),
        ),
    }
}

/// The component's bytes of a service's latest version, as they were deployed (their
/// sha256 is the service's): what `zato enmasse export` writes next to its file.
#[utoipa::path(
    get,
    path = "/zato/api/services/{name}/component",
    tag = "services",
    operation_id = "get_service_component",
    params(("name" = String, Path, description = "the service's name")),
    responses(
        (status = 200, description = "the component's bytes, `x-zato-sha256` their hex \
            SHA-256", content_type = "application/wasm", body = Component),
        (status = 400, description = "a name that does not decode", body = ErrorBody),
        (status = 404, description = "the service is not deployed", body = ErrorBody),
    ),
)]
pub async fn component(
    State(state): Shared,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let not_deployed = || {
        ApiError(
            StatusCode::NOT_FOUND,
            format!("service `{name}` is not deployed"),
        )
    };
    let meta = state
        .odb
        .live_services()
        .await?
        .into_iter()
        .find(|m| m.name == name)
        .ok_or_else(not_deployed)?;
    let bytes = state
        .odb
        .version_bytes(&name, meta.version)
        .await?
        // Deleted or pruned since the list was read.
        .ok_or_else(not_deployed)?;
    Ok((
        StatusCode::OK,
        [
            (http::header::CONTENT_TYPE, "application/wasm".to_owned()),
            (http::HeaderName::from_static("x-zato-sha256"), meta.sha256),
        ],
        bytes,
    )
        .into_response())
}

/// Deletes a service from every server (the deletion is a version of its own).
#[utoipa::path(
    delete,
    path = "/zato/api/services/{name}",
    tag = "services",
    operation_id = "delete_service",
    params(("name" = String, Path, description = "the service's name")),
    responses(
        (status = 200, description = "deleted", body = DeleteOutcome),
        (status = 400, description = "a name that does not decode", body = ErrorBody),
        (status = 404, description = "the service is not deployed", body = ErrorBody),
        (status = 503, description = "a deploy of the service did not finish in time; \
            try again", body = ErrorBody),
    ),
)]
pub async fn remove(State(state): Shared, Path(name): Path<String>) -> Result<Response, ApiError> {
    let outcome = state.deployer.delete(&name).await?;
    Ok(json_response(StatusCode::OK, &outcome))
}

/// The kept versions of a service, newest first, with the servers running each.
#[utoipa::path(
    get,
    path = "/zato/api/services/{name}/versions",
    tag = "services",
    operation_id = "service_versions",
    params(("name" = String, Path, description = "the service's name")),
    responses(
        (status = 200, description = "the kept versions, newest first", body = Vec<ServiceVersion>),
        (status = 400, description = "a name that does not decode", body = ErrorBody),
        (status = 404, description = "the service was never deployed", body = ErrorBody),
    ),
)]
pub async fn versions(
    State(state): Shared,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let kept = state.odb.versions(&name).await?;
    if kept.is_empty() {
        return Err(ApiError(
            StatusCode::NOT_FOUND,
            format!("service `{name}` was never deployed"),
        ));
    }
    let running = state.odb.running_versions().await?;
    let versions: Vec<ServiceVersion> = kept
        .into_iter()
        .map(|v| ServiceVersion {
            running_on: running
                .iter()
                .filter(|(_, service, version)| *service == name && *version == v.version)
                .map(|(server, _, _)| server.clone())
                .collect(),
            version: v.version,
            sha256: v.sha256,
            size: v.size,
            deleted: v.deleted,
            source: v.source,
            deployed_at: v.deployed_at,
        })
        .collect();
    Ok(json_response(StatusCode::OK, &versions))
}

/// Deploys a kept version's bytes again, as the next version, through the pipeline.
#[utoipa::path(
    post,
    path = "/zato/api/services/{name}/rollback",
    tag = "services",
    operation_id = "rollback",
    params(("name" = String, Path, description = "the service's name")),
    request_body = Rollback,
    responses(
        (status = 201, description = "deployed as a new version", body = DeployOutcome),
        (status = 200, description = "that version's bytes were the latest version \
            already: nothing changed", body = DeployOutcome),
        (status = 400, description = "a body that is not a rollback", body = ErrorBody),
        (status = 404, description = "the service was never deployed, or that version \
            is not kept (the message names the kept ones)", body = ErrorBody),
        (status = 413, description = "a body over the size limit", body = ErrorBody),
        (status = 503, description = "another deploy of the same bytes did not finish \
            in time; try again", body = ErrorBody),
    ),
)]
pub async fn rollback(
    State(state): Shared,
    Path(name): Path<String>,
    Json(to): Json<Rollback>,
) -> Result<Response, ApiError> {
    let outcome = state.deployer.rollback(&name, to.to_version).await?;
    let status = if outcome.unchanged {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok(json_response(status, &outcome))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InvokeQuery {
    /// The payload's format (json when absent).
    #[serde(default)]
    #[param(inline)]
    data_format: DataFormat,
    /// Timeout in ms; the server default when absent or 0 (as a channel's).
    #[serde(default)]
    #[param(maximum = 9_223_372_036_854_775_807_u64)]
    timeout_ms: Option<u64>,
    /// Queue the call instead of waiting for its answer: 202 with its cid at once; it
    /// runs on any server of the cluster, at least once (`GET /zato/api/async/{cid}`
    /// says where it stands). `timeout_ms` does not apply to it.
    #[serde(default, rename = "async")]
    run_async: bool,
    /// With `async`: the service invoked with the call's outcome once it ended (JSON:
    /// `cid`, `service`, `ok`, `status`, `payload` or `payload-base64`, `error`).
    #[serde(default)]
    callback: Option<String>,
}

/// Invokes a service with the request body as payload; the answer is the service's own.
#[utoipa::path(
    post,
    path = "/zato/api/services/{name}/invoke",
    tag = "services",
    operation_id = "invoke",
    params(("name" = String, Path, description = "the service's name"), InvokeQuery),
    request_body(
        description = "the payload, as the body: JSON (checked against the service's \
            input fields), XML or bytes, as `data_format` says; none is an empty payload",
        content(
            (serde_json::Value = "application/json"),
            (String = "application/xml"),
            (Component = "application/octet-stream"),
        ),
    ),
    responses(
        (status = 200, description = "the service's answer: its payload, and the \
            headers it set; `x-zato-cid` names the call", content_type = "*/*"),
        (status = 202, description = "with `async=true`: the call is queued",
            body = AsyncQueued),
        (status = 413, description = "a payload over the size limit (16 MiB for an \
            asynchronous call)", body = ErrorBody),
        (status = "default", description = "the service's answer with the status it \
            chose, or a failed call as an error body with its `cid`: 400 a payload the \
            service's input refuses, 404 an unknown service, 503 a server still loading \
            it (with `Retry-After`), 504 a timeout, 508 a loop of invokes, 500 a trap",
            content_type = "*/*"),
    ),
)]
pub async fn invoke(
    State(state): Shared,
    Path(name): Path<String>,
    Query(query): Query<InvokeQuery>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(rejection) => return body_refusal(&state, &rejection).into_response(),
    };
    if query.run_async {
        return queue(&state, name, query, body)
            .await
            .unwrap_or_else(|e| e.into_response());
    }
    if query.callback.is_some() {
        return ApiError(
            StatusCode::BAD_REQUEST,
            "a callback applies to an asynchronous invoke only (async=true)".into(),
        )
        .into_response();
    }
    if let Some(ms) = query.timeout_ms.filter(|ms| *ms > MAX_TIMEOUT_MS) {
        return ApiError(
            StatusCode::BAD_REQUEST,
            format!("timeout_ms {ms} is over the largest, {MAX_TIMEOUT_MS}"),
        )
        .into_response();
    }
    let cid = new_cid();
    let inbound = Inbound {
        cid: &cid,
        service: &name,
        channel: ChannelKind::Admin,
        payload: &body,
        data_format: query.data_format,
        details: Box::new(AdminDetails::new(headers)),
        timeout: query
            .timeout_ms
            .filter(|ms| *ms > 0)
            .map(std::time::Duration::from_millis),
    };
    let result = call_service(state.deployer.runtime(), inbound).await;
    service_response(result, query.data_format, &cid)
}

/// Queues an asynchronous call (`?async=true`) and answers its cid.
async fn queue(
    state: &super::AdminState,
    name: String,
    query: InvokeQuery,
    body: Bytes,
) -> Result<Response, ApiError> {
    if query.timeout_ms.is_some() {
        return Err(ApiError(
            StatusCode::BAD_REQUEST,
            "timeout_ms applies to a synchronous invoke only: an asynchronous call has the \
             server's default timeout"
                .into(),
        ));
    }
    if body.len() > invoke_async::MAX_PAYLOAD_BYTES {
        return Err(ApiError(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "a payload of {} bytes is over the limit of an asynchronous call, {} bytes",
                body.len(),
                invoke_async::MAX_PAYLOAD_BYTES
            ),
        ));
    }
    let runtime = state.deployer.runtime();
    let submit_error = |e: SubmitError| match e {
        SubmitError::NotFound(m) => ApiError(StatusCode::NOT_FOUND, m),
        SubmitError::BadRequest(m) => ApiError(StatusCode::BAD_REQUEST, m),
        SubmitError::Unavailable(m) => ApiError(StatusCode::SERVICE_UNAVAILABLE, m),
    };
    invoke_async::check(&name, &body, query.callback.as_deref()).map_err(submit_error)?;
    for service in std::iter::once(&name).chain(&query.callback) {
        if !runtime.knows(service) {
            return Err(ApiError(
                StatusCode::NOT_FOUND,
                format!("service `{service}` is not deployed"),
            ));
        }
    }
    let queue = runtime.async_queue().ok_or_else(|| {
        ApiError(
            StatusCode::SERVICE_UNAVAILABLE,
            "this server has no work queue for asynchronous invokes".into(),
        )
    })?;
    let mut call =
        invoke_async::AsyncCall::new(name, body.to_vec(), query.data_format, query.callback, None);
    call.submit_traced(queue).await.map_err(submit_error)?;
    Ok(json_response(
        StatusCode::ACCEPTED,
        &AsyncQueued { cid: call.cid },
    ))
}

/// What a service invoked through the admin API reads of the request: its headers,
/// except the admin's own credentials, which are never passed on.
struct AdminDetails {
    headers: HeaderMap,
}

impl AdminDetails {
    fn new(mut headers: HeaderMap) -> Self {
        headers.remove(http::header::AUTHORIZATION);
        Self { headers }
    }
}

impl runtime::RequestDetails for AdminDetails {
    fn channel_name(&self) -> &str {
        "admin"
    }

    fn headers(&self) -> Vec<(&str, &str)> {
        header_pairs(&self.headers)
    }

    fn header(&self, name: &str) -> Option<&str> {
        header_value(&self.headers, name)
    }
}

/// Whether `name` is deployed (its latest version is not a deletion).
async fn deployed(state: &super::AdminState, name: &str) -> Result<bool, ApiError> {
    Ok(state
        .odb
        .latest_version(name)
        .await?
        .is_some_and(|v| !v.deleted))
}

/// A service's configuration: 404 for a service that is not deployed and has none
/// (one configured ahead of its first deploy has one).
#[utoipa::path(
    get,
    path = "/zato/api/services/{name}/config",
    tag = "services",
    operation_id = "get_service_config",
    params(("name" = String, Path, description = "the service's name")),
    responses(
        (status = 200, description = "the configuration: key -> value",
            body = BTreeMap<String, String>),
        (status = 400, description = "a name that does not decode", body = ErrorBody),
        (status = 404, description = "the service is not deployed and has no \
            configuration", body = ErrorBody),
    ),
)]
pub async fn get_config(
    State(state): Shared,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let config = state.odb.service_configs().await?.remove(&name);
    let config = match config {
        Some(config) => config,
        None if deployed(&state, &name).await? => BTreeMap::new(),
        None => {
            return Err(ApiError(
                StatusCode::NOT_FOUND,
                format!("service `{name}` is not deployed and has no configuration"),
            ));
        }
    };
    Ok(json_response(StatusCode::OK, &config))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConfigQuery {
    /// Configure a service that is not deployed yet (ahead of its first deploy).
    #[serde(default)]
    ahead: bool,
}

/// Replaces a service's whole configuration; running servers see it at once. A
/// service that is not deployed is refused (404), unless `?ahead=true`.
#[utoipa::path(
    put,
    path = "/zato/api/services/{name}/config",
    tag = "services",
    operation_id = "set_service_config",
    params(("name" = String, Path, description = "the service's name"), ConfigQuery),
    request_body(content = BTreeMap<String, String>,
        description = "the whole configuration: key -> value"),
    responses(
        (status = 200, description = "the configuration stored", body = BTreeMap<String, String>),
        (status = 400, description = "a body that is not an object of strings, or a key \
            or value the ODB cannot store", body = ErrorBody),
        (status = 404, description = "the service is not deployed (and `ahead` is not \
            set)", body = ErrorBody),
        (status = 413, description = "a body over the size limit", body = ErrorBody),
    ),
)]
pub async fn put_config(
    State(state): Shared,
    Path(name): Path<String>,
    Query(query): Query<ConfigQuery>,
    Json(config): Json<BTreeMap<String, String>>,
) -> Result<Response, ApiError> {
    if !query.ahead && !deployed(&state, &name).await? {
        return Err(ApiError(
            StatusCode::NOT_FOUND,
            format!(
                "service `{name}` is not deployed; to configure it ahead of its first \
                 deploy, say so (`zato service config --ahead`, or `?ahead=true`)"
            ),
        ));
    }
    state.odb.set_service_config(&name, &config).await?;
    state
        .reloader
        .changed(Kind::ServiceConfigs)
        .await
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, format!("{e:#}")))?;
    Ok(json_response(StatusCode::OK, &config))
}

/// Registered servers with the versions they run.
#[utoipa::path(
    get,
    path = "/zato/api/servers",
    tag = "servers",
    operation_id = "list_servers",
    responses((status = 200, description = "the servers of the cluster", body = Vec<ServerInfo>)),
)]
pub async fn servers(State(state): Shared) -> Result<Response, ApiError> {
    let running = state.odb.running_versions().await?;
    let singleton = state.scheduler.singleton().await?;
    let now = crate::odb::now_ms();
    let servers: Vec<ServerInfo> = state
        .odb
        .servers()
        .await?
        .into_iter()
        .map(|s| {
            let holds = singleton.holder.as_deref() == Some(s.name.as_str());
            ServerInfo {
                services: running
                    .iter()
                    .filter(|(server, _, _)| *server == s.name)
                    .map(|(_, svc, v)| (svc.clone(), *v))
                    .collect(),
                state: liveness(&s.state, now - s.last_seen, state.dead_after_ms),
                name: s.name,
                address: s.address,
                pid: s.pid,
                started_at: s.started_at,
                last_seen: s.last_seen,
                singleton: holds,
                singleton_since: singleton.since.filter(|_| holds),
            }
        })
        .collect();
    // Through a `Value`, whose keys come out sorted: the order clients of this route see.
    let servers = serde_json::to_value(servers).expect("server entries serialise");
    Ok(json_response(StatusCode::OK, &servers))
}

/// A server that says it runs but has not been seen for too long died: it is `gone`.
/// The ODB records only `running` and `stopped`.
fn liveness(state: &str, unseen_ms: i64, dead_after_ms: i64) -> ServerState {
    match state {
        "running" if unseen_ms > dead_after_ms => ServerState::Gone,
        "running" => ServerState::Running,
        _ => ServerState::Stopped,
    }
}
