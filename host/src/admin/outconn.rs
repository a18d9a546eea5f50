//! Outgoing connections: list, create, read, replace, delete and ping, by type and
//! name. Every change reloads [`Kind::Outconns`] here before it answers and tells the
//! other servers, so the next call of a service on any server uses it.
//!
//! *Invariant*: no answer and no log line carries a secret. Answers are
//! [`OutconnInfo`]s (`secret_set` only), read by queries that do not read the secret;
//! only a ping reads the stored definition with its secret, and answers what the other
//! side said.

pub(super) mod check;

use std::time::{Duration, Instant};

use axum::extract::State;
use axum::response::Response;
use http::StatusCode;
use serde::Deserialize;
use utoipa::IntoParams;

use super::extract::{Json, Path, Query};
use super::{AdminState, ApiError, Shared};
use crate::api::{DeletedOutconn, ErrorBody, Outconn, OutconnInfo, OutconnPing, OutconnType};
use crate::http_response::json_response;
use crate::reload::Kind;

pub use check::check;

/// How long a ping waits when the connection names no timeout.
const PING_DEFAULT: Duration = Duration::from_secs(10);
/// The longest a ping waits, whatever the connection's timeout.
const PING_LIMIT: Duration = Duration::from_secs(10);

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only the connections of this type.
    #[serde(default, rename = "type")]
    #[param(rename = "type", inline)]
    kind: Option<OutconnType>,
}

/// The outgoing connections, by type then name, without their secrets.
#[utoipa::path(
    get,
    path = "/zato/api/outconns",
    tag = "outconns",
    operation_id = "list_outconns",
    params(ListQuery),
    responses(
        (status = 200, description = "the connections, by type then name", body = Vec<OutconnInfo>),
        (status = 400, description = "an unknown type, or a query parameter other than \
            `type`", body = ErrorBody),
    ),
)]
pub async fn list(
    State(state): Shared,
    Query(query): Query<ListQuery>,
) -> Result<Response, ApiError> {
    Ok(json_response(
        StatusCode::OK,
        &state.odb.outconns(query.kind).await?,
    ))
}

/// Creates an outgoing connection on every server: services can use it when this
/// returns.
#[utoipa::path(
    post,
    path = "/zato/api/outconns/{type}",
    tag = "outconns",
    operation_id = "create_outconn",
    params(("type" = OutconnType, Path, description = "the connection's type (also its settings' `type`)")),
    request_body = Outconn,
    responses(
        (status = 201, description = "created; without its secret", body = OutconnInfo),
        (status = 400, description = "a body that is not a connection, a type other than \
            the URL's, or a setting that is wrong (the message names the field): a name \
            that breaks the service-name rule, an address that is not an http(s) URL with \
            a host, a timeout or retries over their largest, an unknown ping method, an \
            invalid header, a CA that is not PEM certificates, an SQL URL of another \
            scheme or with a password in it (the password is the secret), an FTP host \
            that is empty or a base directory that is not absolute", body = ErrorBody),
        (status = 409, description = "a connection of this type has this name", body = ErrorBody),
        (status = 413, description = "a body over the size limit", body = ErrorBody),
    ),
)]
pub async fn create(
    State(state): Shared,
    Path(kind): Path<OutconnType>,
    Json(body): Json<serde_json::Value>,
) -> Result<Response, ApiError> {
    let conn = read_outconn(body)?;
    check_kind(kind, &conn)?;
    check(&conn).map_err(bad)?;
    if state.odb.outconn(kind, &conn.name).await?.is_some() {
        return Err(taken(kind, &conn.name));
    }
    let info = state.odb.create_outconn(&conn).await?;
    reload(&state).await?;
    tracing::info!(outconn = %conn.name, kind = %kind, "outgoing connection created");
    Ok(json_response(StatusCode::CREATED, &info))
}

/// One outgoing connection, without its secret.
#[utoipa::path(
    get,
    path = "/zato/api/outconns/{type}/{name}",
    tag = "outconns",
    operation_id = "get_outconn",
    params(
        ("type" = OutconnType, Path, description = "the connection's type"),
        ("name" = String, Path, description = "the connection's name", example = "crm"),
    ),
    responses(
        (status = 200, description = "the connection", body = OutconnInfo),
        (status = 400, description = "an unknown type, or a name that does not decode", body = ErrorBody),
        (status = 404, description = "no connection of this type has this name", body = ErrorBody),
    ),
)]
pub async fn get(
    State(state): Shared,
    Path((kind, name)): Path<(OutconnType, String)>,
) -> Result<Response, ApiError> {
    let info = state
        .odb
        .outconn(kind, &name)
        .await?
        .ok_or_else(|| not_found(kind, &name))?;
    Ok(json_response(StatusCode::OK, &info))
}

/// Replaces an outgoing connection's settings on every server, with the checks of a
/// create: the next call of a service uses them, calls in flight finish on the old
/// connection. The secret: absent keeps the stored one, `""` removes it.
#[utoipa::path(
    put,
    path = "/zato/api/outconns/{type}/{name}",
    tag = "outconns",
    operation_id = "update_outconn",
    params(
        ("type" = OutconnType, Path, description = "the connection's type"),
        ("name" = String, Path, description = "the connection's name", example = "crm"),
    ),
    request_body(content = Outconn, description = "the whole connection as it is to be; \
        its `name` must be the one in the URL (a connection is not renamed) and its \
        settings' `type` the URL's"),
    responses(
        (status = 200, description = "replaced; without its secret", body = OutconnInfo),
        (status = 400, description = "a name or type other than the URL's, a body that \
            is not a connection, or a setting that is wrong (the message names the \
            field, as for a create)", body = ErrorBody),
        (status = 404, description = "no connection of this type has this name", body = ErrorBody),
        (status = 413, description = "a body over the size limit", body = ErrorBody),
    ),
)]
pub async fn update(
    State(state): Shared,
    Path((kind, name)): Path<(OutconnType, String)>,
    Json(body): Json<serde_json::Value>,
) -> Result<Response, ApiError> {
    let conn = read_outconn(body)?;
    if state.odb.outconn(kind, &name).await?.is_none() {
        return Err(not_found(kind, &name));
    }
    if conn.name != name {
        return Err(bad(format!(
            "the body names connection `{}` but the URL names `{name}`: a connection \
             cannot be renamed (create one and delete this one)",
            conn.name.escape_debug()
        )));
    }
    check_kind(kind, &conn)?;
    check(&conn).map_err(bad)?;
    let info = state
        .odb
        .update_outconn(&name, &conn)
        .await?
        // Deleted meanwhile.
        .ok_or_else(|| not_found(kind, &name))?;
    reload(&state).await?;
    tracing::info!(outconn = %name, kind = %kind, "outgoing connection updated");
    Ok(json_response(StatusCode::OK, &info))
}

/// Deletes an outgoing connection on every server; calls in flight finish on it.
#[utoipa::path(
    delete,
    path = "/zato/api/outconns/{type}/{name}",
    tag = "outconns",
    operation_id = "delete_outconn",
    params(
        ("type" = OutconnType, Path, description = "the connection's type"),
        ("name" = String, Path, description = "the connection's name", example = "crm"),
    ),
    responses(
        (status = 200, description = "deleted", body = DeletedOutconn),
        (status = 400, description = "an unknown type, or a name that does not decode", body = ErrorBody),
        (status = 404, description = "no connection of this type has this name", body = ErrorBody),
    ),
)]
pub async fn remove(
    State(state): Shared,
    Path((kind, name)): Path<(OutconnType, String)>,
) -> Result<Response, ApiError> {
    if !state.odb.delete_outconn(kind, &name).await? {
        return Err(not_found(kind, &name));
    }
    reload(&state).await?;
    tracing::info!(outconn = %name, kind = %kind, "outgoing connection deleted");
    Ok(json_response(
        StatusCode::OK,
        &DeletedOutconn { name, kind },
    ))
}

/// Checks that the other side of a stored connection answers, with its stored secret:
/// an HTTP request with the ping method (any status counts) for HTTP and SOAP,
/// `SELECT 1` for SQL, a login for FTP. Answers 200 whether it did or not (`ok`),
/// within the connection's timeout and at most 10 s; an inactive connection is pinged
/// too.
#[utoipa::path(
    post,
    path = "/zato/api/outconns/{type}/{name}/ping",
    tag = "outconns",
    operation_id = "ping_outconn",
    params(
        ("type" = OutconnType, Path, description = "the connection's type"),
        ("name" = String, Path, description = "the connection's name", example = "crm"),
    ),
    responses(
        (status = 200, description = "what the ping found: `ok` says whether the other \
            side answered, `detail` what it said or why not", body = OutconnPing),
        (status = 400, description = "an unknown type, or a name that does not decode", body = ErrorBody),
        (status = 404, description = "no connection of this type has this name", body = ErrorBody),
    ),
)]
pub async fn ping(
    State(state): Shared,
    Path((kind, name)): Path<(OutconnType, String)>,
) -> Result<Response, ApiError> {
    let def = state
        .odb
        .outconn_definition(kind, &name)
        .await?
        .ok_or_else(|| not_found(kind, &name))?;
    let deadline = Instant::now() + ping_wait(&def);
    let outcome = crate::outconn::ping(&def, deadline).await;
    tracing::info!(
        outconn = %name, kind = %kind, ok = outcome.ok, ms = outcome.ms,
        "outgoing connection pinged"
    );
    Ok(json_response(StatusCode::OK, &outcome))
}

/// How long a ping of `def` may take: its timeout, 10 s when it has none, at most 10 s.
fn ping_wait(def: &Outconn) -> Duration {
    use crate::api::OutconnSettings as S;
    let ms = match &def.settings {
        S::Http(s) => s.timeout_ms,
        S::Soap(s) => s.http.timeout_ms,
        S::Sql(s) => s.timeout_ms,
        S::Ftp(s) => s.timeout_ms,
        S::Amqp(s) => s.timeout_ms,
        S::Zmq(s) => s.timeout_ms,
    };
    match ms {
        0 => PING_DEFAULT,
        ms => Duration::from_millis(ms).min(PING_LIMIT),
    }
}

/// The body as a connection. serde also reads an internally tagged enum's tag given as
/// a number, as the variant of that index (`"type": 0` would be `http`): the tags are
/// checked to be strings first, so that only what the description allows is read.
fn read_outconn(body: serde_json::Value) -> Result<Outconn, ApiError> {
    let settings = &body["settings"];
    let tags = [
        ("settings.type", &settings["type"]),
        ("settings.auth.kind", &settings["auth"]["kind"]),
        ("settings.http.auth.kind", &settings["http"]["auth"]["kind"]),
    ];
    for (field, tag) in tags {
        if !tag.is_null() && !tag.is_string() {
            return Err(bad(format!("invalid JSON body: {field} must be a string")));
        }
    }
    let mut conn: Outconn =
        serde_json::from_value(body).map_err(|e| bad(format!("invalid JSON body: {e}")))?;
    if let crate::api::OutconnSettings::Amqp(s) = &mut conn.settings {
        check::take_url_password(&mut s.url, &mut conn.secret).map_err(bad)?;
    }
    Ok(conn)
}

fn check_kind(kind: OutconnType, conn: &Outconn) -> Result<(), ApiError> {
    if conn.kind() != kind {
        return Err(bad(format!(
            "settings.type is `{}` but the URL names type `{kind}`",
            conn.kind()
        )));
    }
    Ok(())
}

fn bad(message: String) -> ApiError {
    ApiError(StatusCode::BAD_REQUEST, message)
}

fn taken(kind: OutconnType, name: &str) -> ApiError {
    ApiError(
        StatusCode::CONFLICT,
        format!("a connection of type {kind} named `{name}` exists already"),
    )
}

fn not_found(kind: OutconnType, name: &str) -> ApiError {
    ApiError(
        StatusCode::NOT_FOUND,
        format!(
            "no outgoing connection of type {kind} named `{}`",
            name.escape_debug()
        ),
    )
}

/// Puts the change in force here before answering, and tells the other servers.
async fn reload(state: &AdminState) -> Result<(), ApiError> {
    state
        .reloader
        .changed(Kind::Outconns)
        .await
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, format!("{e:#}")))
}
