//! The SOAP channels' routes.

use super::{AdminClient, Body, ClientError, Method, segment};
use crate::soap::{DeletedSoapChannel, SoapChannel};

const SOAP: &str = "/zato/api/channels/soap";

impl AdminClient {
    /// `GET /zato/api/channels/soap`: the SOAP channels, by name.
    pub async fn soap_channels(&self) -> Result<Vec<SoapChannel>, ClientError> {
        self.get(SOAP).await
    }

    /// `GET /zato/api/channels/soap/{name}`: one SOAP channel.
    pub async fn soap_channel(&self, name: &str) -> Result<SoapChannel, ClientError> {
        self.get(&format!("{SOAP}/{}", segment(name))).await
    }

    /// `POST /zato/api/channels/soap`: creates a SOAP channel on every server; returns
    /// it as stored.
    pub async fn create_soap_channel(
        &self,
        channel: &SoapChannel,
    ) -> Result<SoapChannel, ClientError> {
        let body = serde_json::to_value(channel).expect("a channel serialises");
        self.send(Method::POST, SOAP, Body::Json(body))
            .await?
            .json()
    }

    /// `PUT /zato/api/channels/soap/{name}`: replaces SOAP channel `name` on every
    /// server (`channel.name` must be `name`: a channel is not renamed).
    pub async fn update_soap_channel(
        &self,
        name: &str,
        channel: &SoapChannel,
    ) -> Result<SoapChannel, ClientError> {
        let body = serde_json::to_value(channel).expect("a channel serialises");
        let path = format!("{SOAP}/{}", segment(name));
        self.send(Method::PUT, &path, Body::Json(body))
            .await?
            .json()
    }

    /// `DELETE /zato/api/channels/soap/{name}`: deletes a SOAP channel.
    pub async fn delete_soap_channel(&self, name: &str) -> Result<DeletedSoapChannel, ClientError> {
        let path = format!("{SOAP}/{}", segment(name));
        self.send(Method::DELETE, &path, Body::Empty).await?.json()
    }
}
