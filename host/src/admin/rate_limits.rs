//! Rate-limit definitions (list, create, read, replace, delete, by name) and what they
//! are attached to (security definitions, HTTP and SOAP channels, services).

use axum::extract::State;
use axum::response::Response;
use http::StatusCode;

use super::extract::{Json, Path};
use super::{ApiError, Shared};
use crate::api::ErrorBody;
use crate::api::rate_limit::{
    DeletedRateLimit, LimitedKind, RateLimit, RateLimitAttach, RateLimitInfo, RateLimitUse,
};
use crate::http_response::json_response;

/// The rate-limit definitions, by name.
#[utoipa::path(
    get,
    path = "/zato/api/rate-limits",
    tag = "rate-limits",
    operation_id = "list_rate_limits",
    responses(
        (status = 200, description = "the definitions, by name", body = Vec<RateLimitInfo>),
    ),
)]
pub async fn list(State(state): Shared) -> Result<Response, ApiError> {
    Ok(json_response(
        StatusCode::OK,
        &state.odb.rate_limits().await?,
    ))
}

/// Creates a rate-limit definition.
#[utoipa::path(
    post,
    path = "/zato/api/rate-limits",
    tag = "rate-limits",
    operation_id = "create_rate_limit",
    request_body = RateLimit,
    responses(
        (status = 201, description = "created", body = RateLimitInfo),
        (status = 400, description = "a body that is not a definition, a name that breaks \
            the service-name rule, or a line that is not `source = limit` (the message \
            names the line)", body = ErrorBody),
        (status = 409, description = "a definition has this name", body = ErrorBody),
        (status = 413, description = "a body over the size limit", body = ErrorBody),
    ),
)]
pub async fn create(
    State(state): Shared,
    Json(body): Json<serde_json::Value>,
) -> Result<Response, ApiError> {
    let def = read(body)?;
    let info = state
        .odb
        .create_rate_limit(&def.name, &def.rules, def.exact)
        .await?;
    reload(&state).await?;
    tracing::info!(rate_limit = %def.name, "rate-limit definition created");
    Ok(json_response(StatusCode::CREATED, &info))
}

/// One rate-limit definition.
#[utoipa::path(
    get,
    path = "/zato/api/rate-limits/{name}",
    tag = "rate-limits",
    operation_id = "get_rate_limit",
    params(("name" = String, Path, description = "the definition's name", example = "partners")),
    responses(
        (status = 200, description = "the definition", body = RateLimitInfo),
        (status = 400, description = "a name that does not decode", body = ErrorBody),
        (status = 404, description = "no definition has this name", body = ErrorBody),
    ),
)]
pub async fn get(State(state): Shared, Path(name): Path<String>) -> Result<Response, ApiError> {
    let info = state
        .odb
        .rate_limit(&name)
        .await?
        .ok_or_else(|| not_found(&name))?;
    Ok(json_response(StatusCode::OK, &info))
}

/// Replaces a rate-limit definition's lines and mode; every server counts by them at
/// once (the counts of the current windows are kept).
#[utoipa::path(
    put,
    path = "/zato/api/rate-limits/{name}",
    tag = "rate-limits",
    operation_id = "update_rate_limit",
    params(("name" = String, Path, description = "the definition's name", example = "partners")),
    request_body(content = RateLimit, description = "the whole definition as it is to be; \
        its `name` must be the one in the URL"),
    responses(
        (status = 200, description = "replaced", body = RateLimitInfo),
        (status = 400, description = "a name other than the URL's, or a field that is \
            wrong (as for a create)", body = ErrorBody),
        (status = 404, description = "no definition has this name", body = ErrorBody),
        (status = 413, description = "a body over the size limit", body = ErrorBody),
    ),
)]
pub async fn update(
    State(state): Shared,
    Path(name): Path<String>,
    Json(body): Json<serde_json::Value>,
) -> Result<Response, ApiError> {
    let def = read(body)?;
    if def.name != name {
        return Err(bad(format!(
            "the body names rate-limit definition `{}` but the URL names `{name}`: a \
             definition cannot be renamed",
            def.name.escape_debug()
        )));
    }
    let info = state
        .odb
        .update_rate_limit(&name, &def.rules, def.exact)
        .await?
        .ok_or_else(|| not_found(&name))?;
    reload(&state).await?;
    tracing::info!(rate_limit = %name, "rate-limit definition updated");
    Ok(json_response(StatusCode::OK, &info))
}

/// Deletes a rate-limit definition that nothing is attached to.
#[utoipa::path(
    delete,
    path = "/zato/api/rate-limits/{name}",
    tag = "rate-limits",
    operation_id = "delete_rate_limit",
    params(("name" = String, Path, description = "the definition's name", example = "partners")),
    responses(
        (status = 200, description = "deleted", body = DeletedRateLimit),
        (status = 400, description = "a name that does not decode", body = ErrorBody),
        (status = 404, description = "no definition has this name", body = ErrorBody),
        (status = 409, description = "something is attached to it (the message says \
            what): detach it first", body = ErrorBody),
    ),
)]
pub async fn remove(State(state): Shared, Path(name): Path<String>) -> Result<Response, ApiError> {
    if !state.odb.delete_rate_limit(&name).await? {
        return Err(not_found(&name));
    }
    reload(&state).await?;
    tracing::info!(rate_limit = %name, "rate-limit definition deleted");
    Ok(json_response(StatusCode::OK, &DeletedRateLimit { name }))
}

/// What each rate-limit definition is attached to.
#[utoipa::path(
    get,
    path = "/zato/api/rate-limit-uses",
    tag = "rate-limits",
    operation_id = "list_rate_limit_uses",
    responses(
        (status = 200, description = "every attachment, by type and object", body = Vec<RateLimitUse>),
    ),
)]
pub async fn uses(State(state): Shared) -> Result<Response, ApiError> {
    Ok(json_response(
        StatusCode::OK,
        &state.odb.rate_limit_uses().await?,
    ))
}

/// Attaches a rate-limit definition to a security definition, an HTTP or SOAP channel
/// or a service (replacing the one it had), or detaches its definition.
#[utoipa::path(
    put,
    path = "/zato/api/rate-limit-uses/{type}/{object}",
    tag = "rate-limits",
    operation_id = "attach_rate_limit",
    params(
        ("type" = LimitedKind, Path, description = "what the object is"),
        ("object" = String, Path, description = "its name", example = "orders"),
    ),
    request_body = RateLimitAttach,
    responses(
        (status = 200, description = "attached: the attachment; detached: `null`", body = Option<RateLimitUse>),
        (status = 400, description = "a type that is none of the four, no definition of \
            that name, or a body that is not an attachment", body = ErrorBody),
        (status = 404, description = "no security definition or channel of that name (a \
            service need not be deployed yet)", body = ErrorBody),
        (status = 413, description = "a body over the size limit", body = ErrorBody),
    ),
)]
pub async fn attach(
    State(state): Shared,
    Path((kind, object)): Path<(String, String)>,
    Json(body): Json<serde_json::Value>,
) -> Result<Response, ApiError> {
    let kind: LimitedKind = kind.parse().map_err(bad)?;
    let attach: RateLimitAttach =
        serde_json::from_value(body).map_err(|e| bad(format!("invalid JSON body: {e}")))?;
    let exists = match kind {
        LimitedKind::Security => state.odb.security_def(&object).await?.is_some(),
        LimitedKind::HttpChannel => state.odb.http_channel(&object).await?.is_some(),
        LimitedKind::SoapChannel => state.odb.soap_channel(&object).await?.is_some(),
        LimitedKind::Service => crate::api::check_service_name(&object)
            .map(|()| true)
            .map_err(|e| bad(format!("`{}`: {e}", object.escape_debug())))?,
    };
    if !exists {
        return Err(ApiError(
            StatusCode::NOT_FOUND,
            format!("no {} named `{}`", kind.describe(), object.escape_debug()),
        ));
    }
    state
        .odb
        .attach_rate_limit(kind, &object, attach.rate_limit.as_deref())
        .await?;
    reload(&state).await?;
    let answer = attach.rate_limit.map(|rate_limit| RateLimitUse {
        kind,
        object: object.clone(),
        rate_limit,
    });
    match &answer {
        Some(used) => tracing::info!(
            rate_limit = %used.rate_limit,
            "rate limit attached to {} `{object}`",
            kind.describe()
        ),
        None => tracing::info!("rate limit detached from {} `{object}`", kind.describe()),
    }
    Ok(json_response(StatusCode::OK, &answer))
}

/// Drops what is attached to an object that is gone (called by its delete).
pub async fn forget(state: &super::AdminState, kind: LimitedKind, object: &str) {
    if let Err(e) = state.odb.attach_rate_limit(kind, object, None).await {
        tracing::warn!(
            "the rate limit of deleted {} `{object}` stays attached: {e}",
            kind.describe()
        );
    }
}

/// Puts a change in force here before answering, and tells the other servers: the
/// limits are rebuilt with the channels' route table (`Kind::HttpChannels`).
async fn reload(state: &super::AdminState) -> Result<(), ApiError> {
    state
        .reloader
        .changed(crate::reload::Kind::HttpChannels)
        .await
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, format!("{e:#}")))
}

/// The body as a definition, its name and lines checked.
fn read(body: serde_json::Value) -> Result<RateLimit, ApiError> {
    let def: RateLimit =
        serde_json::from_value(body).map_err(|e| bad(format!("invalid JSON body: {e}")))?;
    def.check().map_err(bad)?;
    Ok(def)
}

fn bad(message: String) -> ApiError {
    ApiError(StatusCode::BAD_REQUEST, message)
}

fn not_found(name: &str) -> ApiError {
    ApiError(
        StatusCode::NOT_FOUND,
        format!("no rate-limit definition named `{}`", name.escape_debug()),
    )
}
