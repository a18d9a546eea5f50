//! `zato channel create|update|list|delete amqp|zmq`: the messaging channels.
//!
//! `--url` of an AMQP channel is the broker's, as the interface has it, so these
//! subcommands name the admin API with `--admin-url` (or `ZATO_URL`, or `--env`).

use std::path::PathBuf;

use clap::Args;
use zato_api::messaging::DEFAULT_AMQP_HEARTBEAT_S;
use zato_api::{
    AmqpChannelSettings, DataFormat, MsgChannel, MsgChannelInfo, MsgChannelSettings,
    MsgChannelType, ZmqChannelSettings, ZmqChannelSocket,
};

use crate::client::Target;
use crate::exit::{CliError, CliResult, ExitCode};
use crate::output::{Output, table};

/// Which server to talk to, with the admin API's URL as `--admin-url`.
#[derive(Debug, Args, Clone)]
pub struct MsgTarget {
    /// Environment directory (made by `zato quickstart create`); defaults to `./.zato`
    /// when it exists.
    #[arg(long, env = "ZATO_ENV", value_name = "DIR")]
    env: Option<PathBuf>,
    /// Admin API base URL, e.g. http://127.0.0.1:17010 (instead of --env).
    #[arg(long, env = "ZATO_URL", value_name = "URL")]
    admin_url: Option<String>,
    /// Admin user name: needed with --admin-url.
    #[arg(long, env = "ZATO_USER")]
    user: Option<String>,
    /// Admin password: needed with --admin-url.
    #[arg(long, env = "ZATO_PASSWORD", hide_env_values = true)]
    password: Option<String>,
    /// PEM file of the CA to trust alone for an https:// --admin-url.
    #[arg(long, env = "ZATO_CA", value_name = "FILE")]
    admin_ca: Option<PathBuf>,
}

impl MsgTarget {
    pub fn target(self) -> Target {
        Target {
            env: self.env,
            url: self.admin_url,
            user: self.user,
            password: self.password,
            ca: self.admin_ca,
        }
    }
}

/// The options of `zato channel create amqp` and `update amqp`.
#[derive(Debug, Args)]
pub struct AmqpArgs {
    /// The broker and vhost: amqp://USER:PASS@HOST:PORT/VHOST (`%2f` is the vhost `/`).
    /// The password is stored as the channel's secret, never shown again.
    #[arg(long, value_name = "URL")]
    url: Option<String>,
    /// The queue to consume.
    #[arg(long)]
    queue: Option<String>,
    /// The service each message invokes.
    #[arg(long)]
    service: Option<String>,
    /// Declare the queue (durable) when consuming starts, rather than expect it.
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    declare: Option<bool>,
    /// With --declare: the queue's dead-letter exchange.
    #[arg(long, value_name = "EXCHANGE")]
    dead_letter_exchange: Option<String>,
    /// Unacknowledged messages each consumer may hold (10 when creating without it).
    #[arg(long, value_name = "N")]
    prefetch: Option<u16>,
    /// Consumers per server (1 when creating without it).
    #[arg(long, value_name = "N")]
    consumers: Option<u16>,
    /// Consume on the singleton server only (`--singleton false`: on every server).
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    singleton: Option<bool>,
    /// How many times a message the service failed is requeued before it is rejected
    /// (to the queue's dead-letter exchange, if it has one); 0 when creating without it.
    #[arg(long, value_name = "N")]
    max_redeliveries: Option<u32>,
    /// The AMQP heartbeat in seconds (0: none; 30 when creating without it).
    #[arg(long, value_name = "SECONDS")]
    heartbeat: Option<u16>,
    /// amqps: a PEM file of the CA certificates that signed the broker's.
    #[arg(long, value_name = "PATH")]
    ca_file: Option<PathBuf>,
    /// Payload format: json, xml or raw (json when creating without it).
    #[arg(long, value_name = "FORMAT")]
    data_format: Option<String>,
    /// Each call's timeout in ms (0: the server's default).
    #[arg(long, value_name = "MS")]
    timeout_ms: Option<u64>,
}

/// The options of `zato channel create zmq` and `update zmq`.
#[derive(Debug, Args)]
pub struct ZmqArgs {
    /// The socket: pull (from PUSH peers) or sub (from PUB peers).
    #[arg(long, value_name = "SOCKET", value_parser = parse_socket)]
    socket: Option<ZmqChannelSocket>,
    /// Bind this address, tcp://HOST:PORT: the peers connect to it.
    #[arg(long, value_name = "ADDRESS", conflicts_with = "connect")]
    bind: Option<String>,
    /// Connect to this address, tcp://HOST:PORT, where a peer binds.
    #[arg(long, value_name = "ADDRESS")]
    connect: Option<String>,
    /// sub: a topic prefix to subscribe to (repeatable; none: every message). Replaces
    /// the subscriptions on update.
    #[arg(long = "subscribe", value_name = "TOPIC")]
    subscriptions: Vec<String>,
    /// The service each message invokes.
    #[arg(long)]
    service: Option<String>,
    /// Payload format: json, xml or raw (json when creating without it).
    #[arg(long, value_name = "FORMAT")]
    data_format: Option<String>,
    /// Each call's timeout in ms (0: the server's default).
    #[arg(long, value_name = "MS")]
    timeout_ms: Option<u64>,
}

fn parse_socket(s: &str) -> Result<ZmqChannelSocket, String> {
    match s {
        "pull" => Ok(ZmqChannelSocket::Pull),
        "sub" => Ok(ZmqChannelSocket::Sub),
        other => Err(format!("unknown socket `{other}`: pull or sub")),
    }
}

fn usage(message: impl Into<String>) -> CliError {
    CliError::new(ExitCode::Usage, message)
}

fn format_of(text: Option<&str>) -> CliResult<Option<DataFormat>> {
    text.map(|t| t.parse().map_err(|e: String| usage(e)))
        .transpose()
}

fn set<T>(field: &mut T, value: Option<T>) {
    if let Some(value) = value {
        *field = value;
    }
}

impl AmqpArgs {
    /// A new channel from the options: --url, --queue and --service are needed.
    pub fn create(self, name: String, inactive: bool) -> CliResult<MsgChannel> {
        let (Some(url), Some(queue), Some(service)) =
            (self.url.clone(), self.queue.clone(), self.service.clone())
        else {
            return Err(usage(
                "an AMQP channel needs --url, --queue and --service, e.g. --url \
                 amqp://guest:guest@127.0.0.1:5672/%2f --queue orders --service demo.hello",
            ));
        };
        let mut channel = MsgChannel {
            name,
            active: !inactive,
            service,
            data_format: DataFormat::Json,
            settings: MsgChannelSettings::Amqp(AmqpChannelSettings {
                url,
                queue,
                declare: false,
                dead_letter_exchange: None,
                prefetch: 10,
                consumers: 1,
                singleton: false,
                max_redeliveries: 0,
                heartbeat_s: DEFAULT_AMQP_HEARTBEAT_S,
                ca_pem: None,
                timeout_ms: 0,
            }),
            secret: None,
        };
        self.apply(&mut channel)?;
        Ok(channel)
    }

    /// `channel` changed by the options given.
    pub fn apply(self, channel: &mut MsgChannel) -> CliResult {
        let MsgChannelSettings::Amqp(s) = &mut channel.settings else {
            return Err(usage(format!("`{}` is not an AMQP channel", channel.name)));
        };
        set(&mut s.url, self.url);
        set(&mut s.queue, self.queue);
        set(&mut s.declare, self.declare);
        if let Some(dlx) = self.dead_letter_exchange {
            s.dead_letter_exchange = Some(dlx).filter(|d| !d.is_empty());
        }
        set(&mut s.prefetch, self.prefetch);
        set(&mut s.consumers, self.consumers);
        set(&mut s.singleton, self.singleton);
        set(&mut s.max_redeliveries, self.max_redeliveries);
        set(&mut s.heartbeat_s, self.heartbeat);
        set(&mut s.timeout_ms, self.timeout_ms);
        if let Some(path) = &self.ca_file {
            s.ca_pem = Some(std::fs::read_to_string(path).map_err(|e| {
                CliError::new(
                    ExitCode::Failed,
                    format!("cannot read --ca-file `{}`: {e}", path.display()),
                )
            })?);
        }
        set(&mut channel.service, self.service);
        set(
            &mut channel.data_format,
            format_of(self.data_format.as_deref())?,
        );
        Ok(())
    }
}

impl ZmqArgs {
    /// A new channel from the options: --socket, --bind or --connect, and --service are
    /// needed.
    pub fn create(self, name: String, inactive: bool) -> CliResult<MsgChannel> {
        let (Some(socket), Some(service)) = (self.socket, self.service.clone()) else {
            return Err(usage(
                "a ZeroMQ channel needs --socket (pull or sub), --bind or --connect, and \
                 --service, e.g. --socket pull --bind tcp://127.0.0.1:5555 --service demo.hello",
            ));
        };
        if self.bind.is_none() && self.connect.is_none() {
            return Err(usage(
                "a ZeroMQ channel needs an address: --bind tcp://HOST:PORT (the peers \
                 connect) or --connect tcp://HOST:PORT (a peer binds)",
            ));
        }
        let mut channel = MsgChannel {
            name,
            active: !inactive,
            service,
            data_format: DataFormat::Json,
            settings: MsgChannelSettings::Zmq(ZmqChannelSettings {
                socket,
                address: String::new(),
                bind: false,
                subscriptions: Vec::new(),
                timeout_ms: 0,
            }),
            secret: None,
        };
        self.apply(&mut channel)?;
        Ok(channel)
    }

    /// `channel` changed by the options given.
    pub fn apply(self, channel: &mut MsgChannel) -> CliResult {
        let MsgChannelSettings::Zmq(s) = &mut channel.settings else {
            return Err(usage(format!("`{}` is not a ZeroMQ channel", channel.name)));
        };
        set(&mut s.socket, self.socket);
        if let Some(address) = self.bind {
            s.address = address;
            s.bind = true;
        }
        if let Some(address) = self.connect {
            s.address = address;
            s.bind = false;
        }
        if !self.subscriptions.is_empty() {
            s.subscriptions = self.subscriptions;
        }
        set(&mut s.timeout_ms, self.timeout_ms);
        set(&mut channel.service, self.service);
        set(
            &mut channel.data_format,
            format_of(self.data_format.as_deref())?,
        );
        Ok(())
    }
}

/// Where a channel takes its messages from, for people.
pub fn source_of(settings: &MsgChannelSettings) -> String {
    match settings {
        MsgChannelSettings::Amqp(a) => format!("queue `{}` at {}", a.queue, a.url),
        MsgChannelSettings::Zmq(z) => format!(
            "{} {} {}",
            z.socket.as_str(),
            if z.bind { "bound to" } else { "connected to" },
            z.address
        ),
    }
}

/// Creates `channel` and says so.
pub async fn create(out: &Output, target: Target, channel: MsgChannel) -> CliResult {
    let created = target.connect()?.create_msg_channel(&channel).await?;
    out.print(&created, || {
        format!(
            "created {} channel `{}`: {} -> `{}`{}",
            label(created.kind),
            created.name,
            source_of(&created.settings),
            created.service,
            if created.active { "" } else { " (inactive)" }
        )
    });
    Ok(())
}

/// Changes channel `name` of `kind` with `change` and says so.
pub async fn update(
    out: &Output,
    target: Target,
    kind: MsgChannelType,
    name: &str,
    active: Option<bool>,
    change: impl FnOnce(&mut MsgChannel) -> CliResult,
) -> CliResult {
    let client = target.connect()?;
    let info = client.msg_channel(kind, name).await?;
    let mut channel = MsgChannel {
        name: info.name,
        active: active.unwrap_or(info.active),
        service: info.service,
        data_format: info.data_format,
        settings: info.settings,
        secret: None,
    };
    change(&mut channel)?;
    let updated = client.update_msg_channel(&channel).await?;
    out.print(&updated, || {
        format!(
            "updated {} channel `{}`: {} -> `{}`{}",
            label(updated.kind),
            updated.name,
            source_of(&updated.settings),
            updated.service,
            if updated.active { "" } else { " (inactive)" }
        )
    });
    Ok(())
}

/// Lists the channels of `kind`.
pub async fn list(out: &Output, target: Target, kind: MsgChannelType) -> CliResult {
    let channels: Vec<MsgChannelInfo> = target.connect()?.msg_channels(kind).await?;
    out.print(&channels, || {
        if channels.is_empty() {
            return format!("no {} channels", label(kind));
        }
        let rows: Vec<Vec<String>> = channels
            .iter()
            .map(|c| {
                vec![
                    c.name.clone(),
                    if c.active { "yes" } else { "no" }.into(),
                    source_of(&c.settings),
                    c.service.clone(),
                    c.data_format.as_str().into(),
                ]
            })
            .collect();
        table(&["NAME", "ACTIVE", "SOURCE", "SERVICE", "FORMAT"], &rows)
    });
    Ok(())
}

/// Deletes channel `name` of `kind`.
pub async fn delete(out: &Output, target: Target, kind: MsgChannelType, name: &str) -> CliResult {
    let deleted = target.connect()?.delete_msg_channel(kind, name).await?;
    out.print(&deleted, || {
        format!("deleted {} channel `{}`", label(kind), deleted.name)
    });
    Ok(())
}

/// How people call a type.
pub fn label(kind: MsgChannelType) -> &'static str {
    match kind {
        MsgChannelType::Amqp => "AMQP",
        MsgChannelType::Zmq => "ZeroMQ",
    }
}
