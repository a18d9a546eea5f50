//! HTTP channels: list, create, read, update, delete. Changes reach every server through
//! the broker.

use axum::extract::State;
use axum::response::Response;
use http::StatusCode;

use super::extract::{Json, Path};
use super::{AdminState, ApiError, Shared};
use crate::api::{DeletedHttpChannel, ErrorBody, HttpChannel, MAX_TIMEOUT_MS};
use crate::channel::http::{ChannelRouter, valid_method};
use crate::http_response::json_response;
use crate::reload::Kind;

/// The HTTP channels, sorted by name.
#[utoipa::path(
    get,
    path = "/zato/api/channels/http",
    tag = "channels",
    operation_id = "list_http_channels",
    responses((status = 200, description = "the HTTP channels, by name", body = Vec<HttpChannel>)),
)]
pub async fn list(State(state): Shared) -> Result<Response, ApiError> {
    Ok(json_response(
        StatusCode::OK,
        &state.odb.http_channels().await?,
    ))
}

/// Creates an HTTP channel on every server: it answers here when this returns.
#[utoipa::path(
    post,
    path = "/zato/api/channels/http",
    tag = "channels",
    operation_id = "create_http_channel",
    request_body = HttpChannel,
    responses(
        (status = 201, description = "created; as stored (methods upper case)", body = HttpChannel),
        (status = 400, description = "an empty name, an invalid method or path, a service \
            that is not deployed, a security definition that does not exist, or a body \
            that is not a channel", body = ErrorBody),
        (status = 409, description = "the name is taken, or the path overlaps another \
            channel's (the message names it)", body = ErrorBody),
        (status = 413, description = "a body over the size limit", body = ErrorBody),
    ),
)]
pub async fn create(
    State(state): Shared,
    Json(mut channel): Json<HttpChannel>,
) -> Result<Response, ApiError> {
    if channel.name.trim().is_empty() {
        return Err(bad("channel name must not be empty".into()));
    }
    check(&state, &mut channel).await?;
    if state.odb.http_channel(&channel.name).await?.is_some() {
        return Err(ApiError(
            StatusCode::CONFLICT,
            format!("an HTTP channel named `{}` exists already", channel.name),
        ));
    }
    check_route(&state, None, &channel).await?;
    state.odb.create_http_channel(&channel).await?;
    reload(&state).await?;
    tracing::info!(channel = %channel.name, path = %channel.path, service = %channel.service, "HTTP channel created");
    Ok(json_response(StatusCode::CREATED, &channel))
}

/// One HTTP channel.
#[utoipa::path(
    get,
    path = "/zato/api/channels/http/{name}",
    tag = "channels",
    operation_id = "get_http_channel",
    params(("name" = String, Path, description = "the channel's name", example = "hello")),
    responses(
        (status = 200, description = "the channel", body = HttpChannel),
        (status = 400, description = "a name that does not decode", body = ErrorBody),
        (status = 404, description = "no channel has this name", body = ErrorBody),
    ),
)]
pub async fn get(State(state): Shared, Path(name): Path<String>) -> Result<Response, ApiError> {
    let channel = state
        .odb
        .http_channel(&name)
        .await?
        .ok_or_else(|| not_found(&name))?;
    Ok(json_response(StatusCode::OK, &channel))
}

/// Changes an HTTP channel's path, methods, service, data format and timeout on every
/// server, with the checks of a create: the new path answers and the old one stops
/// when this returns.
#[utoipa::path(
    put,
    path = "/zato/api/channels/http/{name}",
    tag = "channels",
    operation_id = "update_http_channel",
    params(("name" = String, Path, description = "the channel's name", example = "hello")),
    request_body(content = HttpChannel, description = "the whole channel as it is to be; \
        its `name` must be the one in the URL (a channel is not renamed)"),
    responses(
        (status = 200, description = "updated; as stored (methods upper case)", body = HttpChannel),
        (status = 400, description = "a name other than the URL's, an invalid method or \
            path, a service that is not deployed, a security definition that does not \
            exist, or a body that is not a channel",
            body = ErrorBody),
        (status = 404, description = "no channel has this name", body = ErrorBody),
        (status = 409, description = "the path overlaps another channel's (the message \
            names it)", body = ErrorBody),
        (status = 413, description = "a body over the size limit", body = ErrorBody),
    ),
)]
pub async fn update(
    State(state): Shared,
    Path(name): Path<String>,
    Json(mut channel): Json<HttpChannel>,
) -> Result<Response, ApiError> {
    if state.odb.http_channel(&name).await?.is_none() {
        return Err(not_found(&name));
    }
    if channel.name != name {
        return Err(bad(format!(
            "the body names channel `{}` but the URL names `{name}`: a channel cannot be \
             renamed (create one and delete this one)",
            channel.name
        )));
    }
    check(&state, &mut channel).await?;
    check_route(&state, Some(&name), &channel).await?;
    if !state.odb.update_http_channel(&name, &channel).await? {
        // Deleted meanwhile.
        return Err(not_found(&name));
    }
    reload(&state).await?;
    tracing::info!(channel = %channel.name, path = %channel.path, service = %channel.service, "HTTP channel updated");
    Ok(json_response(StatusCode::OK, &channel))
}

/// Deletes an HTTP channel on every server.
#[utoipa::path(
    delete,
    path = "/zato/api/channels/http/{name}",
    tag = "channels",
    operation_id = "delete_http_channel",
    params(("name" = String, Path, description = "the channel's name", example = "hello")),
    responses(
        (status = 200, description = "deleted", body = DeletedHttpChannel),
        (status = 400, description = "a name that does not decode", body = ErrorBody),
        (status = 404, description = "no channel has this name", body = ErrorBody),
    ),
)]
pub async fn remove(State(state): Shared, Path(name): Path<String>) -> Result<Response, ApiError> {
    if !state.odb.delete_http_channel(&name).await? {
        return Err(not_found(&name));
    }
    super::rate_limits::forget(
        &state,
        crate::api::rate_limit::LimitedKind::HttpChannel,
        &name,
    )
    .await;
    reload(&state).await?;
    tracing::info!(channel = %name, "HTTP channel deleted");
    Ok(json_response(StatusCode::OK, &DeletedHttpChannel { name }))
}

fn bad(message: String) -> ApiError {
    ApiError(StatusCode::BAD_REQUEST, message)
}

fn not_found(name: &str) -> ApiError {
    ApiError(
        StatusCode::NOT_FOUND,
        format!("no HTTP channel named `{name}`"),
    )
}

/// What a create and an update check alike: the methods (made upper case) and that the
/// service is deployed.
async fn check(state: &AdminState, channel: &mut HttpChannel) -> Result<(), ApiError> {
    if channel.timeout_ms > MAX_TIMEOUT_MS {
        return Err(bad(format!(
            "timeout_ms {} is over the largest, {MAX_TIMEOUT_MS}",
            channel.timeout_ms
        )));
    }
    for method in &mut channel.methods {
        *method = method.to_ascii_uppercase();
        if !valid_method(method) {
            return Err(bad(format!("invalid HTTP method `{method}`")));
        }
    }
    // The ODB, not this server's registry: in a cluster, the service may be deployed
    // and not yet applied here.
    let deployed = state.odb.latest_version(&channel.service).await?;
    if deployed.is_none_or(|v| v.deleted) {
        return Err(bad(format!(
            "service `{}` is not deployed",
            channel.service
        )));
    }
    Ok(())
}

/// The one route-conflict check, with the channel named `replacing` out of the table:
/// a path that is wrong on its own is a 400, one that clashes with another channel's
/// a 409.
async fn check_route(
    state: &AdminState,
    replacing: Option<&str>,
    channel: &HttpChannel,
) -> Result<(), ApiError> {
    if let Err(e) = ChannelRouter::build(std::slice::from_ref(channel)) {
        return Err(bad(e.to_string()));
    }
    state
        .channels
        .check_replacing(replacing, channel)
        .await
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        .map_err(|e| ApiError(StatusCode::CONFLICT, e.to_string()))
}

/// Puts the change in force here before answering, and tells the other servers.
async fn reload(state: &AdminState) -> Result<(), ApiError> {
    state
        .reloader
        .changed(Kind::HttpChannels)
        .await
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, format!("{e:#}")))
}
