//! The admin users' routes: list, create, change the password of, delete.

use super::{AdminClient, Body, ClientError, Method, segment};
use crate::users::{AdminUserInfo, DeletedAdminUser, NewAdminUser, PasswordChange};

const USERS: &str = "/zato/api/users";

impl AdminClient {
    /// `GET /zato/api/users`: the configuration's admin, then the ODB's users.
    pub async fn admin_users(&self) -> Result<Vec<AdminUserInfo>, ClientError> {
        self.get(USERS).await
    }

    /// `POST /zato/api/users`: creates a user.
    pub async fn create_admin_user(
        &self,
        user: &NewAdminUser,
    ) -> Result<AdminUserInfo, ClientError> {
        let body = serde_json::to_value(user).expect("a user serialises");
        self.send(Method::POST, USERS, Body::Json(body))
            .await?
            .json()
    }

    /// `POST /zato/api/users/{username}/password`: a new password.
    pub async fn change_admin_password(
        &self,
        username: &str,
        password: &str,
    ) -> Result<AdminUserInfo, ClientError> {
        let body = serde_json::to_value(PasswordChange {
            password: password.to_owned(),
        })
        .expect("a password serialises");
        self.send(
            Method::POST,
            &format!("{USERS}/{}/password", segment(username)),
            Body::Json(body),
        )
        .await?
        .json()
    }

    /// `DELETE /zato/api/users/{username}`: deletes a user.
    pub async fn delete_admin_user(&self, username: &str) -> Result<DeletedAdminUser, ClientError> {
        self.send(
            Method::DELETE,
            &format!("{USERS}/{}", segment(username)),
            Body::Empty,
        )
        .await?
        .json()
    }
}
