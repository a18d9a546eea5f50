//! Security definitions: list, create, read, replace, change the secret of, and delete,
//! by name.
//!
//! *Invariant*: no answer and no log line carries a secret or its hash. Answers are
//! [`SecurityDefInfo`]s, read by queries that do not read the hash; a secret is hashed
//! here (argon2id off the async reactor) and only the hash goes to the ODB.

use axum::extract::State;
use axum::response::Response;
use http::StatusCode;

use super::extract::{Json, Path};
use super::{ApiError, Shared};
use crate::api::{
    DeletedSecurityDef, ErrorBody, SecretChange, SecurityDef, SecurityDefInfo, SecuritySettings,
};
use crate::http_response::json_response;

/// The security definitions, by name, without their secrets.
#[utoipa::path(
    get,
    path = "/zato/api/security",
    tag = "security",
    operation_id = "list_security_defs",
    responses(
        (status = 200, description = "the definitions, by name", body = Vec<SecurityDefInfo>),
    ),
)]
pub async fn list(State(state): Shared) -> Result<Response, ApiError> {
    Ok(json_response(
        StatusCode::OK,
        &state.odb.security_defs().await?,
    ))
}

/// Creates a security definition; only a hash of its secret is kept.
#[utoipa::path(
    post,
    path = "/zato/api/security",
    tag = "security",
    operation_id = "create_security_def",
    request_body = SecurityDef,
    responses(
        (status = 201, description = "created; without its secret", body = SecurityDefInfo),
        (status = 400, description = "a body that is not a definition, or a field that is \
            wrong (the message names it): a name that breaks the service-name rule, no \
            secret, an empty username or one with `:`, a realm that is not printable \
            ASCII or has `\"` or `\\`, a header that is not a header name or is one HTTP \
            uses itself, a key shorter than 16 bytes or not printable ASCII", body = ErrorBody),
        (status = 409, description = "a definition has this name", body = ErrorBody),
        (status = 413, description = "a body over the size limit", body = ErrorBody),
    ),
)]
pub async fn create(
    State(state): Shared,
    Json(body): Json<serde_json::Value>,
) -> Result<Response, ApiError> {
    let def = read_def(body)?;
    check(&def)?;
    let secret = match def.secret.as_deref() {
        Some(secret) => {
            def.settings.check_secret(secret).map_err(secret_error)?;
            Some(secret)
        }
        None if def.kind().has_secret() => {
            return Err(bad(format!(
                "`secret`: security definition `{}` needs a password or key",
                def.name
            )));
        }
        None => None,
    };
    if state.odb.security_def(&def.name).await?.is_some() {
        return Err(taken(&def.name));
    }
    check_jwt(&state, &def.name, &def.settings, secret).await?;
    check_client_cert(&def.settings)?;
    let hash = hash(&def.settings, secret.unwrap_or_default()).await?;
    let info = state
        .odb
        .create_security_def(&def.name, &def.settings, &hash)
        .await?;
    reload(&state).await?;
    tracing::info!(security = %def.name, kind = %def.kind(), "security definition created");
    Ok(json_response(StatusCode::CREATED, &info))
}

/// One security definition, without its secret.
#[utoipa::path(
    get,
    path = "/zato/api/security/{name}",
    tag = "security",
    operation_id = "get_security_def",
    params(("name" = String, Path, description = "the definition's name", example = "partner")),
    responses(
        (status = 200, description = "the definition", body = SecurityDefInfo),
        (status = 400, description = "a name that does not decode", body = ErrorBody),
        (status = 404, description = "no definition has this name", body = ErrorBody),
    ),
)]
pub async fn get(State(state): Shared, Path(name): Path<String>) -> Result<Response, ApiError> {
    let info = state
        .odb
        .security_def(&name)
        .await?
        .ok_or_else(|| not_found(&name))?;
    Ok(json_response(StatusCode::OK, &info))
}

/// Replaces a security definition's settings; its secret too when the body has one
/// (a change of type needs one).
#[utoipa::path(
    put,
    path = "/zato/api/security/{name}",
    tag = "security",
    operation_id = "update_security_def",
    params(("name" = String, Path, description = "the definition's name", example = "partner")),
    request_body(content = SecurityDef, description = "the whole definition as it is to \
        be; its `name` must be the one in the URL; `secret` absent keeps the stored one"),
    responses(
        (status = 200, description = "replaced; without its secret", body = SecurityDefInfo),
        (status = 400, description = "a name other than the URL's, a body that is not a \
            definition, a field that is wrong (as for a create), or a new type without a \
            new secret", body = ErrorBody),
        (status = 404, description = "no definition has this name", body = ErrorBody),
        (status = 413, description = "a body over the size limit", body = ErrorBody),
    ),
)]
pub async fn update(
    State(state): Shared,
    Path(name): Path<String>,
    Json(body): Json<serde_json::Value>,
) -> Result<Response, ApiError> {
    let def = read_def(body)?;
    let existing = state
        .odb
        .security_def(&name)
        .await?
        .ok_or_else(|| not_found(&name))?;
    if def.name != name {
        return Err(bad(format!(
            "the body names security definition `{}` but the URL names `{name}`: a \
             definition cannot be renamed (create one and delete this one)",
            def.name.escape_debug()
        )));
    }
    check(&def)?;
    let hash = match def.secret.as_deref() {
        Some(secret) => {
            def.settings.check_secret(secret).map_err(secret_error)?;
            Some(hash(&def.settings, secret).await?)
        }
        // No secret to keep: none is stored.
        None if !def.kind().has_secret() => Some(String::new()),
        None if existing.kind != def.kind() => {
            return Err(bad(format!(
                "`secret`: security definition `{name}` is of type {}: a change to {} \
                 needs a new password or key",
                existing.kind,
                def.kind()
            )));
        }
        None => None,
    };
    check_jwt(&state, &name, &def.settings, def.secret.as_deref()).await?;
    check_client_cert(&def.settings)?;
    let info = state
        .odb
        .update_security_def(&name, &def.settings, hash.as_deref())
        .await?
        // Deleted meanwhile.
        .ok_or_else(|| not_found(&name))?;
    reload(&state).await?;
    tracing::info!(security = %name, kind = %def.kind(), "security definition updated");
    Ok(json_response(StatusCode::OK, &info))
}

/// Replaces a security definition's password or key.
#[utoipa::path(
    post,
    path = "/zato/api/security/{name}/secret",
    tag = "security",
    operation_id = "change_security_secret",
    params(("name" = String, Path, description = "the definition's name", example = "partner")),
    request_body = SecretChange,
    responses(
        (status = 200, description = "changed; the definition, without its secret", body = SecurityDefInfo),
        (status = 400, description = "a body that is not a secret, or a secret its type \
            refuses (an empty password, a key shorter than 16 bytes)", body = ErrorBody),
        (status = 404, description = "no definition has this name", body = ErrorBody),
        (status = 413, description = "a body over the size limit", body = ErrorBody),
    ),
)]
pub async fn change_secret(
    State(state): Shared,
    Path(name): Path<String>,
    Json(body): Json<serde_json::Value>,
) -> Result<Response, ApiError> {
    let change: SecretChange =
        serde_json::from_value(body).map_err(|e| bad(format!("invalid JSON body: {e}")))?;
    let existing = state
        .odb
        .security_def(&name)
        .await?
        .ok_or_else(|| not_found(&name))?;
    existing
        .settings
        .check_secret(&change.secret)
        .map_err(secret_error)?;
    check_jwt(&state, &name, &existing.settings, Some(&change.secret)).await?;
    let hash = hash(&existing.settings, &change.secret).await?;
    if !state.odb.change_security_secret(&name, &hash).await? {
        return Err(not_found(&name));
    }
    let info = state
        .odb
        .security_def(&name)
        .await?
        .ok_or_else(|| not_found(&name))?;
    reload(&state).await?;
    tracing::info!(security = %name, kind = %info.kind, "security definition's secret changed");
    Ok(json_response(StatusCode::OK, &info))
}

/// Deletes a security definition.
#[utoipa::path(
    delete,
    path = "/zato/api/security/{name}",
    tag = "security",
    operation_id = "delete_security_def",
    params(("name" = String, Path, description = "the definition's name", example = "partner")),
    responses(
        (status = 200, description = "deleted", body = DeletedSecurityDef),
        (status = 400, description = "a name that does not decode", body = ErrorBody),
        (status = 404, description = "no definition has this name", body = ErrorBody),
        (status = 409, description = "a channel names the definition, or a JWT definition \
            logs in with it (the message says which): change them first", body = ErrorBody),
    ),
)]
pub async fn remove(State(state): Shared, Path(name): Path<String>) -> Result<Response, ApiError> {
    let existing = state
        .odb
        .security_def(&name)
        .await?
        .ok_or_else(|| not_found(&name))?;
    // A JWT definition logs in with it (a name in its settings: no foreign key).
    let jwts: Vec<String> = state
        .odb
        .security_defs()
        .await?
        .into_iter()
        .filter(|d| matches!(&d.settings, SecuritySettings::Jwt(jwt) if jwt.login == name))
        .map(|d| format!("JWT definition `{}`", d.name))
        .collect();
    if !jwts.is_empty() {
        return Err(ApiError(
            StatusCode::CONFLICT,
            format!(
                "security definition `{name}` is used by {}: it logs in with it; change or \
                 delete that first",
                jwts.join(", ")
            ),
        ));
    }
    if !state.odb.delete_security_def(&name).await? {
        return Err(not_found(&name));
    }
    super::rate_limits::forget(&state, crate::api::rate_limit::LimitedKind::Security, &name).await;
    reload(&state).await?;
    tracing::info!(security = %name, kind = %existing.kind, "security definition deleted");
    Ok(json_response(
        StatusCode::OK,
        &DeletedSecurityDef {
            name,
            kind: existing.kind,
        },
    ))
}

/// Puts the change in force here before answering, and tells the other servers: the
/// guards are rebuilt with the channels' route table, so a definition's change is one of
/// the HTTP channels' (`Kind::HttpChannels`).
async fn reload(state: &super::AdminState) -> Result<(), ApiError> {
    state
        .reloader
        .changed(crate::reload::Kind::HttpChannels)
        .await
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, format!("{e:#}")))
}

/// The body as a definition; the settings' tag must be a string (serde would read a
/// number as a variant's index).
fn read_def(body: serde_json::Value) -> Result<SecurityDef, ApiError> {
    let tag = &body["settings"]["type"];
    if !tag.is_null() && !tag.is_string() {
        return Err(bad(
            "invalid JSON body: settings.type must be a string".into()
        ));
    }
    serde_json::from_value(body).map_err(|e| bad(format!("invalid JSON body: {e}")))
}

/// The name and settings, checked.
fn check(def: &SecurityDef) -> Result<(), ApiError> {
    crate::api::check_service_name(&def.name).map_err(|e| bad(format!("`name`: {e}")))?;
    def.settings
        .check()
        .map_err(|e| bad(format!("`settings`: {e}")))
}

/// A JWT definition's `login` names a basic-auth definition, and its keys (the `secret`
/// given, else the stored one) sign and check: what is wrong, naming the field.
async fn check_jwt(
    state: &super::AdminState,
    name: &str,
    settings: &SecuritySettings,
    secret: Option<&str>,
) -> Result<(), ApiError> {
    let SecuritySettings::Jwt(jwt) = settings else {
        return Ok(());
    };
    match state.odb.security_def(&jwt.login).await? {
        Some(login) if login.kind == crate::api::SecurityType::BasicAuth => {}
        _ => {
            return Err(bad(format!(
                "`settings`: `login`: there is no basic-auth definition named `{}`",
                jwt.login.escape_debug()
            )));
        }
    }
    let stored;
    let key = match secret {
        Some(secret) => secret,
        None => {
            stored = state
                .odb
                .security_hashes()
                .await?
                .into_iter()
                .find(|(info, _)| info.name == name)
                .map(|(_, hash)| hash)
                .unwrap_or_default();
            stored.strip_prefix("key:").unwrap_or_default()
        }
    };
    let (jwt, key) = (jwt.clone(), key.to_owned());
    // RSA and EC key parsing and a probe signature: off the reactor too.
    tokio::task::spawn_blocking(move || crate::security::jwt::Keys::new(&jwt, &key).map(|_| ()))
        .await
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, format!("{e}")))?
        .map_err(|e| {
            if e.starts_with("`secret`") {
                bad(e)
            } else {
                bad(format!("`settings`: {e}"))
            }
        })
}

/// A client-certificate definition's CA makes a verifier: what is wrong, naming the
/// field.
fn check_client_cert(settings: &SecuritySettings) -> Result<(), ApiError> {
    match settings {
        SecuritySettings::Tls(cert) => crate::security::client_cert::ClientCert::new(cert)
            .map(|_| ())
            .map_err(|e| bad(format!("`settings`: {e}"))),
        _ => Ok(()),
    }
}

/// The hash of `secret`, off the async reactor (argon2id is slow on purpose).
async fn hash(settings: &SecuritySettings, secret: &str) -> Result<String, ApiError> {
    let (settings, secret) = (settings.clone(), secret.to_owned());
    tokio::task::spawn_blocking(move || crate::security::hash_secret(&settings, &secret))
        .await
        .map_err(|e| {
            ApiError(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("hashing failed: {e}"),
            )
        })
}

fn secret_error(message: String) -> ApiError {
    bad(format!("`secret`: {message}"))
}

fn bad(message: String) -> ApiError {
    ApiError(StatusCode::BAD_REQUEST, message)
}

fn taken(name: &str) -> ApiError {
    ApiError(
        StatusCode::CONFLICT,
        format!("a security definition named `{name}` exists already"),
    )
}

fn not_found(name: &str) -> ApiError {
    ApiError(
        StatusCode::NOT_FOUND,
        format!("no security definition named `{}`", name.escape_debug()),
    )
}
