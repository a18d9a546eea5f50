//! The outgoing connections' routes: list, create, read, replace, delete and ping.

use super::{AdminClient, Body, ClientError, Method, segment};
use crate::outconn::{DeletedOutconn, Outconn, OutconnInfo, OutconnPing, OutconnType};

const OUTCONNS: &str = "/zato/api/outconns";

fn path(kind: OutconnType, name: &str) -> String {
    format!("{OUTCONNS}/{kind}/{}", segment(name))
}

impl AdminClient {
    /// `GET /zato/api/outconns[?type=]`: the connections (of one type when given), by
    /// type then name, without their secrets.
    pub async fn outconns(
        &self,
        kind: Option<OutconnType>,
    ) -> Result<Vec<OutconnInfo>, ClientError> {
        match kind {
            Some(kind) => self.get(&format!("{OUTCONNS}?type={kind}")).await,
            None => self.get(OUTCONNS).await,
        }
    }

    /// `GET /zato/api/outconns/{type}/{name}`: one connection, without its secret.
    pub async fn outconn(&self, kind: OutconnType, name: &str) -> Result<OutconnInfo, ClientError> {
        self.get(&path(kind, name)).await
    }

    /// `POST /zato/api/outconns/{type}`: creates a connection on every server.
    pub async fn create_outconn(&self, conn: &Outconn) -> Result<OutconnInfo, ClientError> {
        let body = serde_json::to_value(conn).expect("a connection serialises");
        self.send(
            Method::POST,
            &format!("{OUTCONNS}/{}", conn.kind()),
            Body::Json(body),
        )
        .await?
        .json()
    }

    /// `PUT /zato/api/outconns/{type}/{name}`: replaces connection `name` (`conn.name`
    /// must be `name`); a `secret` of `None` keeps the stored one, `Some("")` removes it.
    pub async fn update_outconn(
        &self,
        name: &str,
        conn: &Outconn,
    ) -> Result<OutconnInfo, ClientError> {
        let body = serde_json::to_value(conn).expect("a connection serialises");
        self.send(Method::PUT, &path(conn.kind(), name), Body::Json(body))
            .await?
            .json()
    }

    /// `DELETE /zato/api/outconns/{type}/{name}`: deletes a connection on every server.
    pub async fn delete_outconn(
        &self,
        kind: OutconnType,
        name: &str,
    ) -> Result<DeletedOutconn, ClientError> {
        self.send(Method::DELETE, &path(kind, name), Body::Empty)
            .await?
            .json()
    }

    /// `POST /zato/api/outconns/{type}/{name}/ping`: whether the other side of a stored
    /// connection answers (`ok`), and what it said.
    pub async fn ping_outconn(
        &self,
        kind: OutconnType,
        name: &str,
    ) -> Result<OutconnPing, ClientError> {
        let path = format!("{}/ping", path(kind, name));
        self.send(Method::POST, &path, Body::Empty).await?.json()
    }
}
