//! SOAP channels: list, create, read, update, delete. They share the HTTP listener's
//! route table with HTTP channels (a path is one or the other: a clash is a 409), and
//! changes reach every server through the broker as the HTTP channels' do.

use axum::extract::State;
use axum::response::Response;
use http::StatusCode;

use super::extract::{Json, Path};
use super::{AdminState, ApiError, Shared};
use crate::api::{DeletedSoapChannel, ErrorBody, MAX_TIMEOUT_MS, SoapChannel};
use crate::channel::http::ChannelRouter;
use crate::http_response::json_response;
use crate::reload::Kind;

/// The SOAP channels, sorted by name.
#[utoipa::path(
    get,
    path = "/zato/api/channels/soap",
    tag = "channels",
    operation_id = "list_soap_channels",
    responses((status = 200, description = "the SOAP channels, by name", body = Vec<SoapChannel>)),
)]
pub async fn list(State(state): Shared) -> Result<Response, ApiError> {
    Ok(json_response(
        StatusCode::OK,
        &state.odb.soap_channels().await?,
    ))
}

/// Creates a SOAP channel on every server: it answers here when this returns.
#[utoipa::path(
    post,
    path = "/zato/api/channels/soap",
    tag = "channels",
    operation_id = "create_soap_channel",
    request_body = SoapChannel,
    responses(
        (status = 201, description = "created", body = SoapChannel),
        (status = 400, description = "an empty name, no service, a service that is not \
            deployed, an invalid path, a security definition that does not exist, or a body \
            that is not a channel", body = ErrorBody),
        (status = 409, description = "the name is taken, or the path is another channel's, \
            HTTP or SOAP (the message names it)", body = ErrorBody),
        (status = 413, description = "a body over the size limit", body = ErrorBody),
    ),
)]
pub async fn create(
    State(state): Shared,
    Json(mut channel): Json<SoapChannel>,
) -> Result<Response, ApiError> {
    if channel.name.trim().is_empty() {
        return Err(bad("channel name must not be empty".into()));
    }
    check(&state, &mut channel).await?;
    if state.odb.soap_channel(&channel.name).await?.is_some() {
        return Err(ApiError(
            StatusCode::CONFLICT,
            format!("a SOAP channel named `{}` exists already", channel.name),
        ));
    }
    check_route(&state, None, &channel).await?;
    state.odb.create_soap_channel(&channel).await?;
    reload(&state).await?;
    tracing::info!(channel = %channel.name, path = %channel.path, services = ?channel.services, "SOAP channel created");
    Ok(json_response(StatusCode::CREATED, &channel))
}

/// One SOAP channel.
#[utoipa::path(
    get,
    path = "/zato/api/channels/soap/{name}",
    tag = "channels",
    operation_id = "get_soap_channel",
    params(("name" = String, Path, description = "the channel's name", example = "billing")),
    responses(
        (status = 200, description = "the channel", body = SoapChannel),
        (status = 400, description = "a name that does not decode", body = ErrorBody),
        (status = 404, description = "no SOAP channel has this name", body = ErrorBody),
    ),
)]
pub async fn get(State(state): Shared, Path(name): Path<String>) -> Result<Response, ApiError> {
    let channel = state
        .odb
        .soap_channel(&name)
        .await?
        .ok_or_else(|| not_found(&name))?;
    Ok(json_response(StatusCode::OK, &channel))
}

/// Changes a SOAP channel on every server, with the checks of a create: the new path
/// answers and the old one stops when this returns.
#[utoipa::path(
    put,
    path = "/zato/api/channels/soap/{name}",
    tag = "channels",
    operation_id = "update_soap_channel",
    params(("name" = String, Path, description = "the channel's name", example = "billing")),
    request_body(content = SoapChannel, description = "the whole channel as it is to be; \
        its `name` must be the one in the URL (a channel is not renamed)"),
    responses(
        (status = 200, description = "updated", body = SoapChannel),
        (status = 400, description = "a name other than the URL's, no service, a service \
            that is not deployed, an invalid path, a security definition that does not \
            exist, or a body that is not a channel",
            body = ErrorBody),
        (status = 404, description = "no SOAP channel has this name", body = ErrorBody),
        (status = 409, description = "the path is another channel's, HTTP or SOAP (the \
            message names it)", body = ErrorBody),
        (status = 413, description = "a body over the size limit", body = ErrorBody),
    ),
)]
pub async fn update(
    State(state): Shared,
    Path(name): Path<String>,
    Json(mut channel): Json<SoapChannel>,
) -> Result<Response, ApiError> {
    if state.odb.soap_channel(&name).await?.is_none() {
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
    if !state.odb.update_soap_channel(&name, &channel).await? {
        return Err(not_found(&name));
    }
    reload(&state).await?;
    tracing::info!(channel = %channel.name, path = %channel.path, services = ?channel.services, "SOAP channel updated");
    Ok(json_response(StatusCode::OK, &channel))
}

/// Deletes a SOAP channel on every server.
#[utoipa::path(
    delete,
    path = "/zato/api/channels/soap/{name}",
    tag = "channels",
    operation_id = "delete_soap_channel",
    params(("name" = String, Path, description = "the channel's name", example = "billing")),
    responses(
        (status = 200, description = "deleted", body = DeletedSoapChannel),
        (status = 400, description = "a name that does not decode", body = ErrorBody),
        (status = 404, description = "no SOAP channel has this name", body = ErrorBody),
    ),
)]
pub async fn remove(State(state): Shared, Path(name): Path<String>) -> Result<Response, ApiError> {
    if !state.odb.delete_soap_channel(&name).await? {
        return Err(not_found(&name));
    }
    super::rate_limits::forget(
        &state,
        crate::api::rate_limit::LimitedKind::SoapChannel,
        &name,
    )
    .await;
    reload(&state).await?;
    tracing::info!(channel = %name, "SOAP channel deleted");
    Ok(json_response(StatusCode::OK, &DeletedSoapChannel { name }))
}

fn bad(message: String) -> ApiError {
    ApiError(StatusCode::BAD_REQUEST, message)
}

fn not_found(name: &str) -> ApiError {
    ApiError(
        StatusCode::NOT_FOUND,
        format!("no SOAP channel named `{name}`"),
    )
}

/// What a create and an update check alike: the timeout, the services (at least one,
/// each deployed, none twice; in the ODB, not this server's registry: in a cluster a
/// service may be deployed and not yet applied here).
async fn check(state: &AdminState, channel: &mut SoapChannel) -> Result<(), ApiError> {
    if channel.timeout_ms > MAX_TIMEOUT_MS {
        return Err(bad(format!(
            "timeout_ms {} is over the largest, {MAX_TIMEOUT_MS}",
            channel.timeout_ms
        )));
    }
    if channel.services.is_empty() {
        return Err(bad(format!(
            "SOAP channel `{}` needs at least one service",
            channel.name
        )));
    }
    for (i, service) in channel.services.iter().enumerate() {
        if channel.services[..i].contains(service) {
            return Err(bad(format!("service `{service}` is named twice")));
        }
        let deployed = state.odb.latest_version(service).await?;
        if deployed.is_none_or(|v| v.deleted) {
            return Err(bad(format!("service `{service}` is not deployed")));
        }
    }
    channel.versions.sort_by_key(|v| *v as u8);
    channel.versions.dedup();
    Ok(())
}

/// The one route-conflict check, over both kinds of channel: a path that is wrong on
/// its own is a 400, one that clashes with another channel's a 409.
async fn check_route(
    state: &AdminState,
    replacing: Option<&str>,
    channel: &SoapChannel,
) -> Result<(), ApiError> {
    if let Err(e) = ChannelRouter::build_all(&[], std::slice::from_ref(channel)) {
        return Err(bad(e.to_string()));
    }
    state
        .channels
        .check_soap_replacing(replacing, channel)
        .await
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        .map_err(|e| ApiError(StatusCode::CONFLICT, e.to_string()))
}

/// Puts the change in force here before answering, and tells the other servers: the
/// listener's one table holds both kinds of channel, reloaded as one kind.
async fn reload(state: &AdminState) -> Result<(), ApiError> {
    state
        .reloader
        .changed(Kind::HttpChannels)
        .await
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, format!("{e:#}")))
}
