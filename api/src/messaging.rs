//! Messaging: AMQP and ZeroMQ channels (external applications reaching services through
//! a queue or a socket) and the settings of the AMQP and ZeroMQ outgoing connections
//! (services sending to exchanges and sockets), and asynchronous invokes.
//!
//! A messaging channel's name is unique within its type and follows the service-name
//! rule. Its secret (the broker's password) is written with [`MsgChannel::secret`] and
//! never read back; a password given in an AMQP URL is moved to the secret when the
//! channel or connection is saved, so that no answer carries it.

use serde::{Deserialize, Serialize};

use crate::DataFormat;

/// The two types of messaging channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum MsgChannelType {
    /// An AMQP 0-9-1 queue (RabbitMQ).
    Amqp,
    /// A ZeroMQ PULL or SUB socket.
    Zmq,
}

impl MsgChannelType {
    /// Every type, in the order above.
    pub const ALL: [MsgChannelType; 2] = [Self::Amqp, Self::Zmq];

    /// The type as it is written in URLs, the CLI and JSON (`amqp`, `zmq`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Amqp => "amqp",
            Self::Zmq => "zmq",
        }
    }
}

impl std::fmt::Display for MsgChannelType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for MsgChannelType {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| format!("unknown messaging channel type `{s}`: one of amqp, zmq"))
    }
}

/// A messaging channel as it is created and edited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct MsgChannel {
    /// Unique name of the channel within its type; a service reads it as its channel
    /// name.
    #[cfg_attr(feature = "openapi", schema(example = "orders"))]
    pub name: String,
    /// An inactive channel keeps its definition and consumes nothing.
    #[serde(default = "yes")]
    pub active: bool,
    /// The service each message invokes.
    #[cfg_attr(feature = "openapi", schema(example = "demo.hello"))]
    pub service: String,
    /// The payload format of its messages.
    #[serde(default)]
    pub data_format: DataFormat,
    /// The type and its settings, told apart by `type`.
    pub settings: MsgChannelSettings,
    /// The broker's password (write-only, never read back). On an edit, absent keeps
    /// the one stored and an empty string removes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

fn yes() -> bool {
    true
}

impl MsgChannel {
    /// The channel's type, from its settings.
    pub fn kind(&self) -> MsgChannelType {
        self.settings.kind()
    }
}

/// A messaging channel's settings, one kind per type, told apart by `type`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum MsgChannelSettings {
    /// AMQP.
    Amqp(AmqpChannelSettings),
    /// ZeroMQ.
    Zmq(ZmqChannelSettings),
}

impl MsgChannelSettings {
    /// The type these settings are of.
    pub fn kind(&self) -> MsgChannelType {
        match self {
            Self::Amqp(_) => MsgChannelType::Amqp,
            Self::Zmq(_) => MsgChannelType::Zmq,
        }
    }
}

/// What a messaging channel is, as the admin API answers it (no secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MsgChannelInfo {
    /// Unique name of the channel within its type.
    pub name: String,
    /// Its type (the same as `settings.type`).
    #[serde(rename = "type")]
    pub kind: MsgChannelType,
    /// Whether it consumes.
    pub active: bool,
    /// The service each message invokes.
    pub service: String,
    /// The payload format of its messages.
    pub data_format: DataFormat,
    /// Its settings.
    pub settings: MsgChannelSettings,
    /// Whether a secret is stored.
    pub secret_set: bool,
    /// When it was created, ms since the Unix epoch.
    pub created_at: i64,
    /// When it was last changed, ms since the Unix epoch.
    pub updated_at: i64,
}

/// The answer to the delete of a messaging channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeletedMsgChannel {
    /// The deleted channel's name.
    pub name: String,
    /// Its type.
    #[serde(rename = "type")]
    pub kind: MsgChannelType,
}

/// The default AMQP heartbeat, in seconds.
pub const DEFAULT_AMQP_HEARTBEAT_S: u16 = 30;

fn amqp_heartbeat() -> u16 {
    DEFAULT_AMQP_HEARTBEAT_S
}

fn prefetch() -> u16 {
    10
}

fn one() -> u16 {
    1
}

/// An AMQP channel: consumers of one queue, each delivery invoking the service (channel
/// kind `amqp`). A delivery is acknowledged after the service succeeds; the `retry`
/// error requeues it; any other error or a trap rejects it (to the queue's dead-letter
/// exchange when it has one) once it has been redelivered `max_redeliveries` times,
/// and requeues it before that.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AmqpChannelSettings {
    /// `amqp://user@host:port/vhost` or `amqps://...` (the vhost URL-encoded: `%2f` is
    /// `/`). A password given here is moved to the channel's secret when it is saved.
    #[cfg_attr(
        feature = "openapi",
        schema(example = "amqp://guest@127.0.0.1:5672/%2f")
    )]
    pub url: String,
    /// The queue consumed.
    #[cfg_attr(feature = "openapi", schema(example = "orders"))]
    pub queue: String,
    /// Declare the queue (durable) when consuming starts, rather than expect it to
    /// exist.
    #[serde(default)]
    pub declare: bool,
    /// With `declare`: the queue's dead-letter exchange (`x-dead-letter-exchange`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_letter_exchange: Option<String>,
    /// How many unacknowledged deliveries each consumer may hold (basic.qos).
    #[serde(default = "prefetch")]
    #[cfg_attr(feature = "openapi", schema(maximum = 65535))]
    pub prefetch: u16,
    /// How many consumers each server runs (or the singleton runs, with
    /// `singleton`).
    #[serde(default = "one")]
    #[cfg_attr(feature = "openapi", schema(maximum = 65535))]
    pub consumers: u16,
    /// Consume on the singleton server only, rather than on every server (competing
    /// consumers).
    #[serde(default)]
    pub singleton: bool,
    /// How many times a delivery the service failed is requeued before it is rejected.
    #[serde(default)]
    pub max_redeliveries: u32,
    /// The AMQP heartbeat, in seconds (0: none).
    #[serde(default = "amqp_heartbeat")]
    #[cfg_attr(feature = "openapi", schema(maximum = 65535))]
    pub heartbeat_s: u16,
    /// PEM certificates of the CA that signed the broker's certificate (amqps), when
    /// it is not a public one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_pem: Option<String>,
    /// The timeout of each call of the service, ms; 0: the server's default.
    #[serde(default)]
    pub timeout_ms: u64,
}

/// The socket types of a ZeroMQ channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ZmqChannelSocket {
    /// PULL: each message from the PUSH peers, once.
    Pull,
    /// SUB: the messages of the PUB peers whose topic starts with a subscription.
    Sub,
}

impl ZmqChannelSocket {
    /// As written in the CLI and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pull => "pull",
            Self::Sub => "sub",
        }
    }
}

/// A ZeroMQ channel: a PULL or SUB socket, bound or connected, each message invoking
/// the service (channel kind `zeromq`). Its socket runs on the singleton server only
/// and moves with it; the messages it receives are handed, through the KVDB's work
/// queue, to one server each.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ZmqChannelSettings {
    /// `pull` or `sub`.
    pub socket: ZmqChannelSocket,
    /// `tcp://host:port` (`tcp://127.0.0.1:0` is refused: a bound channel needs a
    /// known port).
    #[cfg_attr(feature = "openapi", schema(example = "tcp://127.0.0.1:5555"))]
    pub address: String,
    /// Bind the address (the peers connect) rather than connect to it.
    #[serde(default)]
    pub bind: bool,
    /// SUB: the topic prefixes subscribed to; none subscribes to everything.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subscriptions: Vec<String>,
    /// The timeout of each call of the service, ms; 0: the server's default.
    #[serde(default)]
    pub timeout_ms: u64,
}

fn amqp_timeout() -> u64 {
    10_000
}

/// An AMQP outgoing connection: where a service publishes, each message answered only
/// once the broker confirmed it (publisher confirms).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AmqpSettings {
    /// `amqp://user@host:port/vhost` or `amqps://...`. A password given here is moved
    /// to the connection's secret when it is saved.
    #[cfg_attr(
        feature = "openapi",
        schema(example = "amqp://guest@127.0.0.1:5672/%2f")
    )]
    pub url: String,
    /// The AMQP heartbeat, in seconds (0: none).
    #[serde(default = "amqp_heartbeat")]
    #[cfg_attr(feature = "openapi", schema(maximum = 65535))]
    pub heartbeat_s: u16,
    /// PEM certificates of the CA that signed the broker's certificate (amqps).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_pem: Option<String>,
    /// How long a publish may take, connecting and the broker's confirm included, ms.
    #[serde(default = "amqp_timeout")]
    pub timeout_ms: u64,
}

/// The socket types of a ZeroMQ outgoing connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ZmqOutSocket {
    /// PUSH: each message to one PULL peer.
    Push,
    /// PUB: each message to every SUB peer subscribed to its topic.
    Pub,
}

impl ZmqOutSocket {
    /// As written in the CLI and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Push => "push",
            Self::Pub => "pub",
        }
    }
}

fn zmq_timeout() -> u64 {
    5_000
}

/// A ZeroMQ outgoing connection: a PUSH or PUB socket a service sends through.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ZmqSettings {
    /// `push` or `pub`.
    pub socket: ZmqOutSocket,
    /// `tcp://host:port`.
    #[cfg_attr(feature = "openapi", schema(example = "tcp://127.0.0.1:5556"))]
    pub address: String,
    /// Bind the address (the peers connect) rather than connect to it. Every server
    /// binds its own socket, so in a cluster on one host only one of them can.
    #[serde(default)]
    pub bind: bool,
    /// How long a send may wait (for a peer, or a full queue), ms.
    #[serde(default = "zmq_timeout")]
    pub timeout_ms: u64,
}
