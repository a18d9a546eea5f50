//! The security definitions' routes: list, create, read, replace, change the secret
//! of, and delete.

use super::{AdminClient, Body, ClientError, Method, segment};
use crate::security::{DeletedSecurityDef, SecretChange, SecurityDef, SecurityDefInfo};

const SECURITY: &str = "/zato/api/security";

fn path(name: &str) -> String {
    format!("{SECURITY}/{}", segment(name))
}

impl AdminClient {
    /// `GET /zato/api/security`: the definitions, by name, without their secrets.
    pub async fn security_defs(&self) -> Result<Vec<SecurityDefInfo>, ClientError> {
        self.get(SECURITY).await
    }

    /// `GET /zato/api/security/{name}`: one definition, without its secret.
    pub async fn security_def(&self, name: &str) -> Result<SecurityDefInfo, ClientError> {
        self.get(&path(name)).await
    }

    /// `POST /zato/api/security`: creates a definition (its `secret` required).
    pub async fn create_security_def(
        &self,
        def: &SecurityDef,
    ) -> Result<SecurityDefInfo, ClientError> {
        let body = serde_json::to_value(def).expect("a definition serialises");
        self.send(Method::POST, SECURITY, Body::Json(body))
            .await?
            .json()
    }

    /// `PUT /zato/api/security/{name}`: replaces definition `name` (`def.name` must be
    /// `name`); a `secret` of `None` keeps the stored one.
    pub async fn update_security_def(
        &self,
        name: &str,
        def: &SecurityDef,
    ) -> Result<SecurityDefInfo, ClientError> {
        let body = serde_json::to_value(def).expect("a definition serialises");
        self.send(Method::PUT, &path(name), Body::Json(body))
            .await?
            .json()
    }

    /// `POST /zato/api/security/{name}/secret`: a new password or key.
    pub async fn change_security_secret(
        &self,
        name: &str,
        secret: &str,
    ) -> Result<SecurityDefInfo, ClientError> {
        let body = serde_json::to_value(SecretChange {
            secret: secret.to_owned(),
        })
        .expect("a secret serialises");
        self.send(
            Method::POST,
            &format!("{}/secret", path(name)),
            Body::Json(body),
        )
        .await?
        .json()
    }

    /// `DELETE /zato/api/security/{name}`: deletes a definition.
    pub async fn delete_security_def(&self, name: &str) -> Result<DeletedSecurityDef, ClientError> {
        self.send(Method::DELETE, &path(name), Body::Empty)
            .await?
            .json()
    }
}
