//! The messaging channels as a reloadable kind: the ODB's definitions, secrets
//! included, handed to the AMQP and the ZeroMQ channels once the server has loaded its
//! services, and on every `msg-channels` notice and reconcile after that.

use std::sync::Arc;

use async_trait::async_trait;

use crate::api::MsgChannelType;
use crate::channel::amqp::AmqpChannels;
use crate::channel::zmq::ZmqChannels;
use crate::odb::Odb;
use crate::reload::Reloadable;

pub(super) struct MsgChannelsReload {
    odb: Arc<dyn Odb>,
    amqp: Arc<AmqpChannels>,
    zmq: Arc<ZmqChannels>,
    /// One reload at a time, so that an older read is never applied over a newer one.
    turn: tokio::sync::Mutex<()>,
}

impl MsgChannelsReload {
    pub(super) fn new(odb: Arc<dyn Odb>, amqp: Arc<AmqpChannels>, zmq: Arc<ZmqChannels>) -> Self {
        Self {
            odb,
            amqp,
            zmq,
            turn: tokio::sync::Mutex::new(()),
        }
    }
}

#[async_trait]
impl Reloadable for MsgChannelsReload {
    async fn reload(&self) -> anyhow::Result<()> {
        let _turn = self.turn.lock().await;
        let (amqp, zmq) = self
            .odb
            .msg_channel_definitions()
            .await?
            .into_iter()
            .partition(|def| def.kind() == MsgChannelType::Amqp);
        self.amqp.apply(amqp).await;
        self.zmq.apply(zmq).await;
        Ok(())
    }
}
