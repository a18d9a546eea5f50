//! HTTP channels: list, create, delete. Changes reach every server through the broker.

use axum::Json;
use axum::extract::{Path, State};
use axum::response::Response;
use http::StatusCode;

use super::{ApiError, Shared};
use crate::api::HttpChannel;
use crate::channel::http::valid_method;
use crate::http_response::json_response;
use crate::reload::Kind;

pub async fn list(State(state): Shared) -> Result<Response, ApiError> {
    Ok(json_response(
        StatusCode::OK,
        &state.odb.http_channels().await?,
    ))
}

pub async fn create(
    State(state): Shared,
    Json(mut channel): Json<HttpChannel>,
) -> Result<Response, ApiError> {
    let bad = |m: String| ApiError(StatusCode::BAD_REQUEST, m);
    if channel.name.trim().is_empty() {
        return Err(bad("channel name must not be empty".into()));
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
    if state
        .odb
        .http_channels()
        .await?
        .iter()
        .any(|c| c.name == channel.name)
    {
        return Err(ApiError(
            StatusCode::CONFLICT,
            format!("an HTTP channel named `{}` exists already", channel.name),
        ));
    }
    state
        .channels
        .check_new(&channel)
        .await
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        .map_err(|e| ApiError(StatusCode::CONFLICT, e.to_string()))?;
    state.odb.create_http_channel(&channel).await?;
    reload(&state).await?;
    tracing::info!(channel = %channel.name, path = %channel.path, service = %channel.service, "HTTP channel created");
    Ok(json_response(StatusCode::CREATED, &channel))
}

pub async fn remove(State(state): Shared, Path(name): Path<String>) -> Result<Response, ApiError> {
    if !state.odb.delete_http_channel(&name).await? {
        return Err(ApiError(
            StatusCode::NOT_FOUND,
            format!("no HTTP channel named `{name}`"),
        ));
    }
    reload(&state).await?;
    tracing::info!(channel = %name, "HTTP channel deleted");
    Ok(json_response(
        StatusCode::OK,
        &serde_json::json!({ "name": name }),
    ))
}

/// Puts the change in force here before answering, and tells the other servers.
async fn reload(state: &super::AdminState) -> Result<(), ApiError> {
    state
        .reloader
        .changed(Kind::HttpChannels)
        .await
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, format!("{e:#}")))
}
