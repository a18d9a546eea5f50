//! Admin API users: list, create, change the password of, delete. The admin of
//! `server.toml` is listed, and can be changed there only.
//!
//! *Invariant*: no answer and no log line carries a password or its hash; a password is
//! hashed here (argon2id, off the async reactor) and only the hash goes to the ODB.

use axum::extract::State;
use axum::response::Response;
use http::StatusCode;

use super::extract::{Json, Path};
use super::{ApiError, Shared};
use crate::api::ErrorBody;
use crate::api::users::{
    AdminUserInfo, DeletedAdminUser, NewAdminUser, PasswordChange, UserSource, check_password,
    check_username,
};
use crate::http_response::json_response;
use crate::odb::UserRow;

fn info(row: UserRow) -> AdminUserInfo {
    AdminUserInfo {
        username: row.username,
        source: UserSource::Odb,
        created_at: Some(row.created_at),
        updated_at: Some(row.updated_at),
    }
}

/// The admin users: the configuration's admin first, then the ODB's, by username.
#[utoipa::path(
    get,
    path = "/zato/api/users",
    tag = "users",
    operation_id = "list_admin_users",
    responses(
        (status = 200, description = "the users, without passwords", body = Vec<AdminUserInfo>),
    ),
)]
pub async fn list(State(state): Shared) -> Result<Response, ApiError> {
    let mut users = vec![AdminUserInfo {
        username: state.auth.config_username().to_owned(),
        source: UserSource::Config,
        created_at: None,
        updated_at: None,
    }];
    users.extend(state.odb.admin_users().await?.into_iter().map(info));
    Ok(json_response(StatusCode::OK, &users))
}

/// Creates an admin user; only an argon2id hash of the password is kept.
#[utoipa::path(
    post,
    path = "/zato/api/users",
    tag = "users",
    operation_id = "create_admin_user",
    request_body = NewAdminUser,
    responses(
        (status = 201, description = "created; without its password", body = AdminUserInfo),
        (status = 400, description = "a username with `:`, a space or a control character, \
            or a password shorter than 12 characters", body = ErrorBody),
        (status = 409, description = "the username is taken (the configuration's admin's \
            too)", body = ErrorBody),
        (status = 413, description = "a body over the size limit", body = ErrorBody),
    ),
)]
pub async fn create(
    State(state): Shared,
    Json(body): Json<serde_json::Value>,
) -> Result<Response, ApiError> {
    let user: NewAdminUser =
        serde_json::from_value(body).map_err(|e| bad(format!("invalid JSON body: {e}")))?;
    check_username(&user.username).map_err(bad)?;
    check_password(&user.password).map_err(bad)?;
    if user.username == state.auth.config_username() {
        return Err(configured(&user.username));
    }
    let hash = hash(user.password).await?;
    let row = state.odb.create_admin_user(&user.username, &hash).await?;
    reload(&state).await?;
    tracing::info!(user = %user.username, "admin user created");
    Ok(json_response(StatusCode::CREATED, &info(row)))
}

/// Replaces an admin user's password; what was verified with the old one is forgotten
/// on every server.
#[utoipa::path(
    post,
    path = "/zato/api/users/{username}/password",
    tag = "users",
    operation_id = "change_admin_password",
    params(("username" = String, Path, description = "the user", example = "ops")),
    request_body = PasswordChange,
    responses(
        (status = 200, description = "changed", body = AdminUserInfo),
        (status = 400, description = "a password shorter than 12 characters", body = ErrorBody),
        (status = 404, description = "no such user", body = ErrorBody),
        (status = 409, description = "the configuration's admin: change `server.toml`", body = ErrorBody),
        (status = 413, description = "a body over the size limit", body = ErrorBody),
    ),
)]
pub async fn change_password(
    State(state): Shared,
    Path(username): Path<String>,
    Json(body): Json<serde_json::Value>,
) -> Result<Response, ApiError> {
    let change: PasswordChange =
        serde_json::from_value(body).map_err(|e| bad(format!("invalid JSON body: {e}")))?;
    if username == state.auth.config_username() {
        return Err(configured(&username));
    }
    check_password(&change.password).map_err(bad)?;
    let hash = hash(change.password).await?;
    if !state.odb.change_admin_password(&username, &hash).await? {
        return Err(not_found(&username));
    }
    reload(&state).await?;
    tracing::info!(user = %username, "admin user's password changed");
    let row = state
        .odb
        .admin_users()
        .await?
        .into_iter()
        .find(|u| u.username == username)
        .ok_or_else(|| not_found(&username))?;
    Ok(json_response(StatusCode::OK, &info(row)))
}

/// Deletes an admin user; its logins stop on every server.
#[utoipa::path(
    delete,
    path = "/zato/api/users/{username}",
    tag = "users",
    operation_id = "delete_admin_user",
    params(("username" = String, Path, description = "the user", example = "ops")),
    responses(
        (status = 200, description = "deleted", body = DeletedAdminUser),
        (status = 404, description = "no such user", body = ErrorBody),
        (status = 409, description = "the configuration's admin: change `server.toml`", body = ErrorBody),
    ),
)]
pub async fn remove(
    State(state): Shared,
    Path(username): Path<String>,
) -> Result<Response, ApiError> {
    if username == state.auth.config_username() {
        return Err(configured(&username));
    }
    if !state.odb.delete_admin_user(&username).await? {
        return Err(not_found(&username));
    }
    reload(&state).await?;
    tracing::info!(user = %username, "admin user deleted");
    Ok(json_response(
        StatusCode::OK,
        &DeletedAdminUser { username },
    ))
}

/// Puts the change in force here before answering, and tells the other servers.
async fn reload(state: &super::AdminState) -> Result<(), ApiError> {
    state
        .reloader
        .changed(crate::reload::Kind::AdminUsers)
        .await
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, format!("{e:#}")))
}

/// The password's argon2id hash, off the async reactor.
async fn hash(password: String) -> Result<String, ApiError> {
    tokio::task::spawn_blocking(move || crate::security::hash_password(&password))
        .await
        .map_err(|e| {
            ApiError(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("hashing failed: {e}"),
            )
        })
}

fn bad(message: String) -> ApiError {
    ApiError(StatusCode::BAD_REQUEST, message)
}

fn configured(username: &str) -> ApiError {
    ApiError(
        StatusCode::CONFLICT,
        format!(
            "`{username}` is the admin of the servers' server.toml (its [admin] section): \
             change it there, not through the admin API"
        ),
    )
}

fn not_found(username: &str) -> ApiError {
    ApiError(
        StatusCode::NOT_FOUND,
        format!("no admin user named `{}`", username.escape_debug()),
    )
}

/// Keeps each server's table of admin users in line with the ODB.
pub struct UsersReload {
    pub auth: std::sync::Arc<super::AdminAuth>,
    pub odb: std::sync::Arc<dyn crate::odb::Odb>,
}

#[async_trait::async_trait]
impl crate::reload::Reloadable for UsersReload {
    async fn reload(&self) -> anyhow::Result<()> {
        self.auth.set_users(self.odb.admin_user_hashes().await?);
        Ok(())
    }
}
