//! The messaging channels' routes (`/zato/api/channels/{amqp,zmq}`): list, create,
//! read, replace and delete.

use super::{AdminClient, Body, ClientError, Method, segment};
use crate::messaging::{DeletedMsgChannel, MsgChannel, MsgChannelInfo, MsgChannelType};

fn base(kind: MsgChannelType) -> String {
    format!("/zato/api/channels/{kind}")
}

fn path(kind: MsgChannelType, name: &str) -> String {
    format!("{}/{}", base(kind), segment(name))
}

impl AdminClient {
    /// `GET /zato/api/channels/{type}`: the channels of one type, by name, without
    /// their secrets.
    pub async fn msg_channels(
        &self,
        kind: MsgChannelType,
    ) -> Result<Vec<MsgChannelInfo>, ClientError> {
        self.get(&base(kind)).await
    }

    /// `GET /zato/api/channels/{type}/{name}`: one channel, without its secret.
    pub async fn msg_channel(
        &self,
        kind: MsgChannelType,
        name: &str,
    ) -> Result<MsgChannelInfo, ClientError> {
        self.get(&path(kind, name)).await
    }

    /// `POST /zato/api/channels/{type}`: creates a channel; every server starts it.
    pub async fn create_msg_channel(
        &self,
        channel: &MsgChannel,
    ) -> Result<MsgChannelInfo, ClientError> {
        let body = serde_json::to_value(channel).expect("a channel serialises");
        self.send(Method::POST, &base(channel.kind()), Body::Json(body))
            .await?
            .json()
    }

    /// `PUT /zato/api/channels/{type}/{name}`: replaces channel `channel.name`; a
    /// `secret` of `None` keeps the stored one, `Some("")` removes it.
    pub async fn update_msg_channel(
        &self,
        channel: &MsgChannel,
    ) -> Result<MsgChannelInfo, ClientError> {
        let body = serde_json::to_value(channel).expect("a channel serialises");
        self.send(
            Method::PUT,
            &path(channel.kind(), &channel.name),
            Body::Json(body),
        )
        .await?
        .json()
    }

    /// `DELETE /zato/api/channels/{type}/{name}`: deletes a channel; every server
    /// stops it.
    pub async fn delete_msg_channel(
        &self,
        kind: MsgChannelType,
        name: &str,
    ) -> Result<DeletedMsgChannel, ClientError> {
        self.send(Method::DELETE, &path(kind, name), Body::Empty)
            .await?
            .json()
    }
}
