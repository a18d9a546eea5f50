//! Messaging channels (AMQP queues, ZeroMQ sockets): list, create, read, replace and
//! delete, one set of routes per type (`/zato/api/channels/amqp`, `.../zmq`) over one
//! implementation. Every change reloads [`Kind::MsgChannels`] here before it answers
//! and tells the other servers, which start, replace or stop their consumers.
//!
//! *Invariant*: no answer and no log line carries a secret: a password given in an AMQP
//! URL is moved to the secret before anything is stored, and answers are
//! [`MsgChannelInfo`]s (`secret_set` only).

use axum::response::Response;
use http::StatusCode;

use super::outconn::check::{check_amqp_url, check_ca, check_zmq_address, take_url_password};
use super::{AdminState, ApiError};
use crate::api::{
    AmqpChannelSettings, DeletedMsgChannel, MAX_TIMEOUT_MS, MsgChannel, MsgChannelSettings,
    MsgChannelType, ZmqChannelSettings, ZmqChannelSocket, check_service_name,
};
use crate::http_response::json_response;
use crate::reload::Kind;

/// The most consumers of one AMQP channel on one server.
pub const MAX_CONSUMERS: u16 = 64;
/// The most times a failed delivery is requeued before it is rejected.
pub const MAX_REDELIVERIES: u32 = 1_000;
/// The most subscriptions of a ZeroMQ SUB channel.
pub const MAX_SUBSCRIPTIONS: usize = 256;

/// Generates the five routes of one channel type: the `utoipa::path` of each needs its
/// path and operation id as literals.
macro_rules! routes_of {
    ($module:ident, $kind:expr, $label:literal, $base:literal, $one:literal,
     $list:literal, $create:literal, $get:literal, $update:literal, $delete:literal) => {
        pub mod $module {
            use axum::extract::State;
            use axum::response::Response;

            use super::super::extract::{Json, Path};
            use super::super::{ApiError, Shared};
            use crate::api::{DeletedMsgChannel, ErrorBody, MsgChannel, MsgChannelInfo};

            #[doc = concat!("The ", $label, " channels, by name, without their secrets.")]
            #[utoipa::path(
                get,
                path = $base,
                tag = "channels",
                operation_id = $list,
                responses((status = 200, description = "the channels, by name", body = Vec<MsgChannelInfo>)),
            )]
            pub async fn list(State(state): Shared) -> Result<Response, ApiError> {
                super::list(&state, $kind).await
            }

            #[doc = concat!("Creates a ", $label, " channel: every server starts it (or the singleton, as its settings say) before long.")]
            #[utoipa::path(
                post,
                path = $base,
                tag = "channels",
                operation_id = $create,
                request_body = MsgChannel,
                responses(
                    (status = 201, description = "created", body = MsgChannelInfo),
                    (status = 400, description = "a bad name, a service that is not deployed, \
                        settings of another type or that do not hold (the message names the \
                        field), or a body that is not a channel", body = ErrorBody),
                    (status = 409, description = "a channel of this type has the name", body = ErrorBody),
                    (status = 413, description = "a body over the size limit", body = ErrorBody),
                ),
            )]
            pub async fn create(
                State(state): Shared,
                Json(channel): Json<MsgChannel>,
            ) -> Result<Response, ApiError> {
                super::create(&state, $kind, channel).await
            }

            #[doc = concat!("One ", $label, " channel, without its secret.")]
            #[utoipa::path(
                get,
                path = $one,
                tag = "channels",
                operation_id = $get,
                params(("name" = String, Path, description = "the channel's name", example = "orders")),
                responses(
                    (status = 200, description = "the channel", body = MsgChannelInfo),
                    (status = 400, description = "a name that does not decode", body = ErrorBody),
                    (status = 404, description = "no channel of this type has this name", body = ErrorBody),
                ),
            )]
            pub async fn get(
                State(state): Shared,
                Path(name): Path<String>,
            ) -> Result<Response, ApiError> {
                super::get(&state, $kind, &name).await
            }

            #[doc = concat!("Replaces a ", $label, " channel, with the checks of a create; every server applies it.")]
            #[utoipa::path(
                put,
                path = $one,
                tag = "channels",
                operation_id = $update,
                params(("name" = String, Path, description = "the channel's name", example = "orders")),
                request_body(content = MsgChannel, description = "the whole channel as it is to \
                    be; its `name` must be the one in the URL; no `secret` keeps the stored one, \
                    an empty one removes it"),
                responses(
                    (status = 200, description = "updated", body = MsgChannelInfo),
                    (status = 400, description = "a name other than the URL's, or what a create \
                        refuses", body = ErrorBody),
                    (status = 404, description = "no channel of this type has this name", body = ErrorBody),
                    (status = 413, description = "a body over the size limit", body = ErrorBody),
                ),
            )]
            pub async fn update(
                State(state): Shared,
                Path(name): Path<String>,
                Json(channel): Json<MsgChannel>,
            ) -> Result<Response, ApiError> {
                super::update(&state, $kind, &name, channel).await
            }

            #[doc = concat!("Deletes a ", $label, " channel: every server stops it.")]
            #[utoipa::path(
                delete,
                path = $one,
                tag = "channels",
                operation_id = $delete,
                params(("name" = String, Path, description = "the channel's name", example = "orders")),
                responses(
                    (status = 200, description = "deleted", body = DeletedMsgChannel),
                    (status = 400, description = "a name that does not decode", body = ErrorBody),
                    (status = 404, description = "no channel of this type has this name", body = ErrorBody),
                ),
            )]
            pub async fn remove(
                State(state): Shared,
                Path(name): Path<String>,
            ) -> Result<Response, ApiError> {
                super::remove(&state, $kind, name).await
            }
        }
    };
}

routes_of!(
    amqp,
    crate::api::MsgChannelType::Amqp,
    "AMQP",
    "/zato/api/channels/amqp",
    "/zato/api/channels/amqp/{name}",
    "list_amqp_channels",
    "create_amqp_channel",
    "get_amqp_channel",
    "update_amqp_channel",
    "delete_amqp_channel"
);
routes_of!(
    zmq,
    crate::api::MsgChannelType::Zmq,
    "ZeroMQ",
    "/zato/api/channels/zmq",
    "/zato/api/channels/zmq/{name}",
    "list_zmq_channels",
    "create_zmq_channel",
    "get_zmq_channel",
    "update_zmq_channel",
    "delete_zmq_channel"
);

async fn list(state: &AdminState, kind: MsgChannelType) -> Result<Response, ApiError> {
    Ok(json_response(
        StatusCode::OK,
        &state.odb.msg_channels(Some(kind)).await?,
    ))
}

async fn create(
    state: &AdminState,
    kind: MsgChannelType,
    mut channel: MsgChannel,
) -> Result<Response, ApiError> {
    check(state, kind, &mut channel).await?;
    if state.odb.msg_channel(kind, &channel.name).await?.is_some() {
        return Err(ApiError(
            StatusCode::CONFLICT,
            format!("a {kind} channel named `{}` exists already", channel.name),
        ));
    }
    let info = state.odb.create_msg_channel(&channel).await?;
    reload(state).await?;
    tracing::info!(channel = %channel.name, kind = %kind, service = %channel.service, "messaging channel created");
    Ok(json_response(StatusCode::CREATED, &info))
}

async fn get(state: &AdminState, kind: MsgChannelType, name: &str) -> Result<Response, ApiError> {
    let info = state
        .odb
        .msg_channel(kind, name)
        .await?
        .ok_or_else(|| not_found(kind, name))?;
    Ok(json_response(StatusCode::OK, &info))
}

async fn update(
    state: &AdminState,
    kind: MsgChannelType,
    name: &str,
    mut channel: MsgChannel,
) -> Result<Response, ApiError> {
    if state.odb.msg_channel(kind, name).await?.is_none() {
        return Err(not_found(kind, name));
    }
    if channel.name != name {
        return Err(bad(format!(
            "the body names channel `{}` but the URL names `{name}`: a channel cannot be \
             renamed (create one and delete this one)",
            channel.name
        )));
    }
    check(state, kind, &mut channel).await?;
    let info = state
        .odb
        .update_msg_channel(name, &channel)
        .await?
        .ok_or_else(|| not_found(kind, name))?;
    reload(state).await?;
    tracing::info!(channel = %name, kind = %kind, service = %channel.service, "messaging channel updated");
    Ok(json_response(StatusCode::OK, &info))
}

async fn remove(
    state: &AdminState,
    kind: MsgChannelType,
    name: String,
) -> Result<Response, ApiError> {
    if !state.odb.delete_msg_channel(kind, &name).await? {
        return Err(not_found(kind, &name));
    }
    reload(state).await?;
    tracing::info!(channel = %name, kind = %kind, "messaging channel deleted");
    Ok(json_response(
        StatusCode::OK,
        &DeletedMsgChannel { name, kind },
    ))
}

/// What a create and an update check alike; the message names the field. The service
/// must be deployed (in the ODB: in a cluster it may not be applied here yet).
async fn check(
    state: &AdminState,
    kind: MsgChannelType,
    channel: &mut MsgChannel,
) -> Result<(), ApiError> {
    if channel.kind() != kind {
        return Err(bad(format!(
            "settings.type is `{}` but the URL names type `{kind}`",
            channel.kind()
        )));
    }
    if let Err(e) = check_service_name(&channel.name) {
        return Err(bad(format!(
            "invalid name `{}`: {e}",
            channel.name.escape_debug()
        )));
    }
    if channel.secret.as_deref().is_some_and(|s| s.contains('\0')) {
        return Err(bad("secret contains a NUL character".into()));
    }
    if let Err(e) = check_service_name(&channel.service) {
        return Err(bad(format!(
            "invalid service `{}`: {e}",
            channel.service.escape_debug()
        )));
    }
    match &mut channel.settings {
        MsgChannelSettings::Amqp(s) => {
            take_url_password(&mut s.url, &mut channel.secret).map_err(bad)?;
            check_amqp(s).map_err(bad)?;
        }
        MsgChannelSettings::Zmq(s) => check_zmq(s).map_err(bad)?,
    }
    let deployed = state.odb.latest_version(&channel.service).await?;
    if deployed.is_none_or(|v| v.deleted) {
        return Err(bad(format!(
            "service `{}` is not deployed",
            channel.service
        )));
    }
    Ok(())
}

fn check_timeout(ms: u64) -> Result<(), String> {
    if ms > MAX_TIMEOUT_MS {
        return Err(format!(
            "settings.timeout_ms {ms} is over the largest, {MAX_TIMEOUT_MS}"
        ));
    }
    Ok(())
}

/// A name the broker takes: at most 255 bytes, no control characters.
fn check_amqp_name(field: &str, name: &str, may_be_empty: bool) -> Result<(), String> {
    if (name.is_empty() && !may_be_empty) || name.len() > 255 || name.chars().any(char::is_control)
    {
        return Err(format!(
            "invalid {field} `{}`: 1 to 255 bytes, no control characters",
            name.escape_debug()
        ));
    }
    Ok(())
}

fn check_amqp(s: &AmqpChannelSettings) -> Result<(), String> {
    check_amqp_url("settings.url", &s.url)?;
    check_amqp_name("settings.queue", &s.queue, false)?;
    if let Some(dlx) = &s.dead_letter_exchange {
        if !s.declare {
            return Err(
                "settings.dead_letter_exchange is set on the queue when the channel declares \
                 it: it needs settings.declare (or set the queue's x-dead-letter-exchange \
                 where it is declared)"
                    .into(),
            );
        }
        check_amqp_name("settings.dead_letter_exchange", dlx, false)?;
    }
    if s.prefetch == 0 {
        return Err("settings.prefetch must be at least 1".into());
    }
    if s.consumers == 0 || s.consumers > MAX_CONSUMERS {
        return Err(format!(
            "settings.consumers {} is not within 1 to {MAX_CONSUMERS}",
            s.consumers
        ));
    }
    if s.max_redeliveries > MAX_REDELIVERIES {
        return Err(format!(
            "settings.max_redeliveries {} is over the largest, {MAX_REDELIVERIES}",
            s.max_redeliveries
        ));
    }
    check_timeout(s.timeout_ms)?;
    check_ca("settings", s.ca_pem.as_deref())
}

fn check_zmq(s: &ZmqChannelSettings) -> Result<(), String> {
    check_zmq_address("settings.address", &s.address, s.bind)?;
    if s.socket != ZmqChannelSocket::Sub && !s.subscriptions.is_empty() {
        return Err("settings.subscriptions are for a sub socket only".into());
    }
    if s.subscriptions.len() > MAX_SUBSCRIPTIONS {
        return Err(format!(
            "{} subscriptions are over the most, {MAX_SUBSCRIPTIONS}",
            s.subscriptions.len()
        ));
    }
    if let Some(long) = s.subscriptions.iter().find(|t| t.len() > 255) {
        return Err(format!(
            "subscription `{}...` is over 255 bytes",
            long.chars().take(16).collect::<String>().escape_debug()
        ));
    }
    check_timeout(s.timeout_ms)
}

fn bad(message: String) -> ApiError {
    ApiError(StatusCode::BAD_REQUEST, message)
}

fn not_found(kind: MsgChannelType, name: &str) -> ApiError {
    ApiError(
        StatusCode::NOT_FOUND,
        format!("no {kind} channel named `{}`", name.escape_debug()),
    )
}

/// Puts the change in force here before answering, and tells the other servers.
async fn reload(state: &AdminState) -> Result<(), ApiError> {
    state
        .reloader
        .changed(Kind::MsgChannels)
        .await
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, format!("{e:#}")))
}
