//! ZeroMQ channels (the `zeromq` crate): PULL and SUB sockets, bound or connected, each
//! message invoking the channel's service (channel kind `zeromq`).
//!
//! A channel's socket runs on the singleton server only (`Sockets`, a
//! [`SingletonTask`]): at the start of each term it opens the sockets of the active
//! channels, on each change it opens, closes and reopens what changed, and when the
//! term ends it closes them all, so the socket moves with the singleton (a bound
//! address is free on the others). A socket hands every message it receives to the
//! KVDB's reliable work queue [`QUEUE`], with what a server needs to run it (the
//! channel, its service, the frames); every server takes messages off that queue
//! ([`ZmqChannels::apply`] starts its worker once a ZeroMQ channel exists), calls the
//! service, and acknowledges the message whatever came of the call: a failed call is
//! logged with its cid, not retried. A server that dies while a call runs leaves its
//! message unacknowledged, and another server takes it again once its visibility
//! timeout has passed (at least once).
//!
//! What ZeroMQ itself may lose, and nothing here can recover: messages on their way to
//! a singleton that dies (in its socket's buffers, or received and not queued yet), and
//! those a PUB peer sends while no SUB socket is connected. A PUSH peer that connects
//! keeps its messages queued while no socket is bound at the address, and sends them
//! once the new singleton binds it.
//!
//! What the service reads: the payload is the message's last frame; the channel name
//! is the channel's; details `socket` (`pull` or `sub`), `address`, `frames` (how many)
//! and, for a message of more than one frame, `topic` (its first frame as UTF-8).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt as _;
use serde::{Deserialize, Serialize};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use zeromq::{PullSocket, Socket, SocketEvent, SocketRecv, SubSocket, ZmqMessage};

use crate::api::{
    DataFormat, MsgChannel, MsgChannelSettings, ZmqChannelSettings, ZmqChannelSocket,
};
use crate::channel::{self, Inbound};
use crate::kvdb::{Kvdb, Taken};
use crate::outconn::zmq::{CONNECT_ATTEMPT, MAX_MESSAGE_BYTES, bind_listener, endpoint, options};
use crate::runtime::{ChannelKind, RequestDetails, Runtime};
use crate::singleton::{Lease, Singleton, SingletonTask};

/// The KVDB work queue of the messages the channels' sockets received.
pub const QUEUE: &str = "zmq.messages";
/// How long a message taken off the queue stays its taker's without a touch: a taker
/// that died gives it up after this.
pub const VISIBILITY: Duration = Duration::from_secs(10);
/// How long one take waits for a message.
const TAKE_WAIT: Duration = Duration::from_secs(1);
/// The most calls a server runs at once for the ZeroMQ channels.
const MAX_IN_FLIGHT: usize = 64;
/// A message taken this many times is given up (logged and acknowledged): its handling
/// killed every server that took it.
const MAX_DELIVERIES: u32 = 5;
/// How long a socket that could not bind or connect waits before trying again.
const REOPEN_AFTER: Duration = Duration::from_secs(1);
/// The first and the longest pause between attempts to queue a received message.
const QUEUE_RETRY_MIN: Duration = Duration::from_millis(50);
const QUEUE_RETRY_MAX: Duration = Duration::from_secs(2);

/// The ZeroMQ channels of this server: the worker that runs their messages, and the
/// sockets while this server is the singleton.
pub struct ZmqChannels {
    runtime: Arc<Runtime>,
    kvdb: Arc<dyn Kvdb>,
    server: String,
    shutdown: CancellationToken,
    /// The active channels, by name: what the sockets follow.
    defs: watch::Sender<Arc<BTreeMap<String, Def>>>,
    worker_started: AtomicBool,
}

/// An active channel as its socket needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Def {
    name: String,
    service: String,
    data_format: DataFormat,
    settings: ZmqChannelSettings,
}

impl ZmqChannels {
    /// Registers its singleton task (the sockets) with `singleton`, before the
    /// singleton's loop is spawned.
    pub fn new(
        runtime: Arc<Runtime>,
        kvdb: Arc<dyn Kvdb>,
        singleton: &Arc<Singleton>,
        server: String,
        shutdown: CancellationToken,
    ) -> Arc<Self> {
        let channels = Arc::new(Self {
            runtime,
            kvdb,
            server,
            shutdown,
            defs: watch::Sender::new(Arc::default()),
            worker_started: AtomicBool::new(false),
        });
        singleton.register(Arc::new(Sockets(channels.clone())));
        channels
    }

    /// Replaces the set of channels with `defs` (every ZeroMQ channel of the ODB): the
    /// singleton's sockets follow (unchanged channels keep theirs), and this server's
    /// worker starts with the first channel.
    pub async fn apply(&self, defs: Vec<MsgChannel>) {
        let any = !defs.is_empty();
        let active: BTreeMap<String, Def> = defs
            .into_iter()
            .filter(|def| def.active)
            .filter_map(|def| match def.settings {
                MsgChannelSettings::Zmq(settings) => Some((
                    def.name.clone(),
                    Def {
                        name: def.name,
                        service: def.service,
                        data_format: def.data_format,
                        settings,
                    },
                )),
                MsgChannelSettings::Amqp(_) => None,
            })
            .collect();
        self.defs.send_if_modified(|current| {
            let changed = **current != active;
            if changed {
                *current = Arc::new(active);
            }
            changed
        });
        if any && !self.worker_started.swap(true, Ordering::SeqCst) {
            let worker = Worker {
                runtime: self.runtime.clone(),
                kvdb: self.kvdb.clone(),
                server: self.server.clone(),
            };
            tokio::spawn(worker.run(self.shutdown.clone()));
        }
    }
}

/// One received message on the work queue: all a server needs to run it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Header {
    channel: String,
    service: String,
    data_format: DataFormat,
    timeout_ms: u64,
    socket: ZmqChannelSocket,
    address: String,
}

/// The first byte of an item: how the rest is laid out.
const ITEM_VERSION: u8 = 1;

/// An item of the queue: the version, the header's JSON and the frames, each
/// preceded by its length (u32, little-endian), the frames by their count.
fn encode(header: &Header, frames: &[Bytes]) -> Vec<u8> {
    let json = serde_json::to_vec(header).expect("a header serialises");
    let size = 1 + 4 + json.len() + 4 + frames.iter().map(|f| 4 + f.len()).sum::<usize>();
    let mut item = Vec::with_capacity(size);
    item.push(ITEM_VERSION);
    item.extend_from_slice(&(json.len() as u32).to_le_bytes());
    item.extend_from_slice(&json);
    item.extend_from_slice(&(frames.len() as u32).to_le_bytes());
    for frame in frames {
        item.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        item.extend_from_slice(frame);
    }
    item
}

/// The header and frames of an item, or why it cannot be read.
fn decode(item: &[u8]) -> Result<(Header, Vec<&[u8]>), String> {
    fn take<'a>(rest: &mut &'a [u8], n: usize) -> Result<&'a [u8], String> {
        if rest.len() < n {
            return Err("truncated".into());
        }
        let (head, tail) = rest.split_at(n);
        *rest = tail;
        Ok(head)
    }
    fn length(rest: &mut &[u8]) -> Result<usize, String> {
        let bytes = take(rest, 4)?;
        Ok(u32::from_le_bytes(bytes.try_into().expect("4 bytes")) as usize)
    }
    let mut rest = item;
    match take(&mut rest, 1)? {
        [ITEM_VERSION] => {}
        [other] => return Err(format!("unknown layout {other}")),
        _ => unreachable!("one byte"),
    }
    let n = length(&mut rest)?;
    let header: Header =
        serde_json::from_slice(take(&mut rest, n)?).map_err(|e| format!("header: {e}"))?;
    let count = length(&mut rest)?;
    if count == 0 || count > rest.len() / 4 {
        return Err(format!("{count} frames in {} bytes", rest.len()));
    }
    let mut frames = Vec::with_capacity(count);
    for _ in 0..count {
        let n = length(&mut rest)?;
        frames.push(take(&mut rest, n)?);
    }
    if !rest.is_empty() {
        return Err(format!("{} bytes after the last frame", rest.len()));
    }
    Ok((header, frames))
}

/// What a service called by a ZeroMQ channel reads of its request.
struct ZmqDetails {
    channel: String,
    socket: &'static str,
    address: String,
    frames: String,
    topic: Option<String>,
}

impl RequestDetails for ZmqDetails {
    fn channel_name(&self) -> &str {
        &self.channel
    }

    fn details(&self) -> Vec<(&str, Cow<'_, str>)> {
        let mut details = vec![
            ("socket", Cow::Borrowed(self.socket)),
            ("address", Cow::Borrowed(self.address.as_str())),
            ("frames", Cow::Borrowed(self.frames.as_str())),
        ];
        if let Some(topic) = &self.topic {
            details.push(("topic", Cow::Borrowed(topic.as_str())));
        }
        details
    }
}

/// Every server's worker: takes messages off the queue and runs them.
struct Worker {
    runtime: Arc<Runtime>,
    kvdb: Arc<dyn Kvdb>,
    server: String,
}

impl Worker {
    async fn run(self, shutdown: CancellationToken) {
        let this = Arc::new(self);
        let slots = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
        let mut running = JoinSet::new();
        let mut failing = false;
        loop {
            let permit = tokio::select! {
                _ = shutdown.cancelled() => break,
                permit = slots.clone().acquire_owned() => permit.expect("never closed"),
            };
            let taken = tokio::select! {
                _ = shutdown.cancelled() => break,
                taken = this.kvdb.take(QUEUE, &this.server, VISIBILITY, TAKE_WAIT) => taken,
            };
            match taken {
                Ok(Some(taken)) => {
                    failing = false;
                    let this = this.clone();
                    running.spawn(async move {
                        this.handle(taken).await;
                        drop(permit);
                    });
                }
                Ok(None) => failing = false,
                Err(e) => {
                    // Said once per outage, not once a second.
                    if !failing {
                        tracing::warn!(
                            "cannot take ZeroMQ messages off the queue (trying again): {e}"
                        );
                    }
                    failing = true;
                    tokio::select! {
                        _ = shutdown.cancelled() => break,
                        _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                    }
                }
            }
            while running.try_join_next().is_some() {}
        }
        // The calls in progress finish and are acknowledged; the rest stays queued.
        while running.join_next().await.is_some() {}
    }

    /// Runs one message, touching it while the call lasts, and acknowledges it.
    async fn handle(&self, taken: Taken) {
        let Taken {
            id,
            item,
            deliveries,
        } = taken;
        match decode(&item) {
            Err(e) => tracing::warn!("dropping an unreadable message of the ZeroMQ queue: {e}"),
            Ok((header, _)) if deliveries > MAX_DELIVERIES => tracing::error!(
                channel = %header.channel,
                "a message of ZeroMQ channel `{}` was given up after {deliveries} deliveries (each server that took it died)",
                header.channel
            ),
            Ok((header, frames)) => {
                let call = self.call(&header, &frames);
                tokio::pin!(call);
                let mut touch = tokio::time::interval(VISIBILITY / 3);
                touch.tick().await;
                loop {
                    tokio::select! {
                        _ = &mut call => break,
                        _ = touch.tick() => match self.kvdb.touch(QUEUE, &self.server, &id).await {
                            Ok(true) => {}
                            Ok(false) => tracing::warn!(
                                channel = %header.channel,
                                "a message of ZeroMQ channel `{}` was taken over by another server while its call ran",
                                header.channel
                            ),
                            Err(e) => tracing::warn!("cannot keep a ZeroMQ message taken: {e}"),
                        },
                    }
                }
            }
        }
        if let Err(e) = self.kvdb.ack(QUEUE, &id).await {
            tracing::warn!("cannot acknowledge a ZeroMQ message (it may run again): {e}");
        }
    }

    async fn call(&self, header: &Header, frames: &[&[u8]]) {
        let cid = channel::new_cid();
        let details = ZmqDetails {
            channel: header.channel.clone(),
            socket: header.socket.as_str(),
            address: header.address.clone(),
            frames: frames.len().to_string(),
            topic: (frames.len() > 1).then(|| String::from_utf8_lossy(frames[0]).into_owned()),
        };
        let inbound = Inbound {
            cid: &cid,
            service: &header.service,
            channel: ChannelKind::Zeromq,
            payload: frames.last().expect("at least one frame"),
            data_format: header.data_format,
            details: Box::new(details),
            timeout: (header.timeout_ms > 0).then(|| Duration::from_millis(header.timeout_ms)),
        };
        if let Err(e) = channel::call_service(&self.runtime, inbound).await {
            tracing::warn!(
                cid,
                channel = %header.channel,
                "ZeroMQ channel `{}`: service `{}` failed (the message is not retried): {e}",
                header.channel,
                header.service
            );
        }
    }
}

/// The sockets of the active channels, on the singleton.
struct Sockets(Arc<ZmqChannels>);

/// A channel's socket task.
struct Open {
    def: Def,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

#[async_trait]
impl SingletonTask for Sockets {
    fn name(&self) -> &'static str {
        "zeromq channels"
    }

    async fn run(self: Arc<Self>, lease: Lease) {
        let channels = &self.0;
        let mut defs = channels.defs.subscribe();
        let mut open: BTreeMap<String, Open> = BTreeMap::new();
        loop {
            let wanted = defs.borrow_and_update().clone();
            // Closed first (and waited for), so that a changed channel's new socket
            // finds its address free.
            let stale: Vec<String> = open
                .iter()
                .filter(|(name, o)| wanted.get(*name) != Some(&o.def))
                .map(|(name, _)| name.clone())
                .collect();
            for name in stale {
                let o = open.remove(&name).expect("listed");
                o.stop.cancel();
                let _ = o.task.await;
            }
            for (name, def) in wanted.iter() {
                if !open.contains_key(name) {
                    let stop = lease.token.child_token();
                    let socket = ChannelSocket {
                        def: def.clone(),
                        kvdb: channels.kvdb.clone(),
                        stop: stop.clone(),
                    };
                    let task = tokio::spawn(socket.run());
                    open.insert(
                        name.clone(),
                        Open {
                            def: def.clone(),
                            stop,
                            task,
                        },
                    );
                }
            }
            tokio::select! {
                _ = lease.lost() => break,
                changed = defs.changed() => if changed.is_err() { break },
            }
        }
        for o in open.values() {
            o.stop.cancel();
        }
        for (_, o) in open {
            let _ = o.task.await;
        }
    }
}

/// A PULL or SUB socket.
enum Receiver {
    Pull(PullSocket),
    Sub(SubSocket),
}

impl Receiver {
    fn new(kind: ZmqChannelSocket) -> Self {
        match kind {
            ZmqChannelSocket::Pull => Self::Pull(PullSocket::with_options(options())),
            ZmqChannelSocket::Sub => Self::Sub(SubSocket::with_options(options())),
        }
    }

    fn monitor(&mut self) -> futures::channel::mpsc::Receiver<SocketEvent> {
        match self {
            Self::Pull(s) => s.monitor(),
            Self::Sub(s) => s.monitor(),
        }
    }

    async fn bind(&mut self, listener: zeromq::Listener) -> zeromq::ZmqResult<()> {
        match self {
            Self::Pull(s) => s.bind_listener(listener).await.map(|_| ()),
            Self::Sub(s) => s.bind_listener(listener).await.map(|_| ()),
        }
    }

    async fn connect(&mut self, endpoint: &str) -> zeromq::ZmqResult<()> {
        match self {
            Self::Pull(s) => s.connect(endpoint).await,
            Self::Sub(s) => s.connect(endpoint).await,
        }
    }

    async fn recv(&mut self) -> zeromq::ZmqResult<ZmqMessage> {
        match self {
            Self::Pull(s) => s.recv().await,
            Self::Sub(s) => s.recv().await,
        }
    }

    /// Closes the socket and its peers' connections: a PULL socket of the crate
    /// leaves them open when dropped (their writers hold its backend), so a peer
    /// would go on sending into a connection nobody reads.
    async fn close(self) -> Vec<zeromq::ZmqError> {
        match self {
            Self::Pull(s) => {
                s.backend().shutdown();
                s.close().await
            }
            Self::Sub(s) => s.close().await,
        }
    }
}

/// One channel's socket for one term: opened (bound or connected; again after a
/// failure), each message it receives queued, closed when `stop` is cancelled.
struct ChannelSocket {
    def: Def,
    kvdb: Arc<dyn Kvdb>,
    stop: CancellationToken,
}

impl ChannelSocket {
    async fn run(self) {
        let name = &self.def.name;
        let address = &self.def.settings.address;
        let header = Header {
            channel: name.clone(),
            service: self.def.service.clone(),
            data_format: self.def.data_format,
            timeout_ms: self.def.settings.timeout_ms,
            socket: self.def.settings.socket,
            address: address.clone(),
        };
        let endpoint = match endpoint(address) {
            Ok(endpoint) => endpoint,
            Err(e) => {
                tracing::error!(channel = %name, "ZeroMQ channel `{name}` cannot open its socket: {e}");
                return;
            }
        };
        let mut complained = false;
        while !self.stop.is_cancelled() {
            let mut socket = Receiver::new(self.def.settings.socket);
            let mut monitor = socket.monitor();
            match self.open(&mut socket, &endpoint).await {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => {
                    // Another server may still hold the address (a singleton paused
                    // past its lease): said once, tried again until it is free.
                    if !complained {
                        tracing::error!(channel = %name, "ZeroMQ channel `{name}` cannot open its socket (trying again): {e}");
                    }
                    complained = true;
                    socket.close().await;
                    if !pause(&self.stop, REOPEN_AFTER).await {
                        break;
                    }
                    continue;
                }
            }
            complained = false;
            tracing::info!(
                channel = %name,
                "ZeroMQ channel `{name}`: {} socket {} {address}",
                self.def.settings.socket.as_str(),
                if self.def.settings.bind { "bound to" } else { "connected to" },
            );
            self.receive(&mut socket, &mut monitor, &endpoint, &header)
                .await;
            for error in socket.close().await {
                tracing::debug!(channel = %name, "closing a ZeroMQ socket: {error}");
            }
        }
        tracing::info!(channel = %name, "ZeroMQ channel `{name}`: socket closed ({address})");
    }

    /// Binds or connects the socket, and subscribes a SUB socket; `false` when
    /// stopped before it was done.
    async fn open(&self, socket: &mut Receiver, endpoint: &str) -> Result<bool, String> {
        let settings = &self.def.settings;
        if settings.bind {
            let listener = bind_listener(&settings.address)?;
            socket
                .bind(listener)
                .await
                .map_err(|e| format!("cannot accept on {}: {e}", settings.address))?;
        } else if !self.connect(socket, endpoint).await {
            return Ok(false);
        }
        if let Receiver::Sub(sub) = socket {
            // No subscription: everything.
            let topics: Vec<&str> = if settings.subscriptions.is_empty() {
                vec![""]
            } else {
                settings.subscriptions.iter().map(String::as_str).collect()
            };
            for topic in topics {
                sub.subscribe(topic)
                    .await
                    .map_err(|e| format!("cannot subscribe to `{topic}`: {e}"))?;
            }
        }
        Ok(true)
    }

    /// Connects, trying again until it is done; `false` when stopped first.
    async fn connect(&self, socket: &mut Receiver, endpoint: &str) -> bool {
        loop {
            tokio::select! {
                _ = self.stop.cancelled() => return false,
                attempt = tokio::time::timeout(CONNECT_ATTEMPT, socket.connect(endpoint)) => match attempt {
                    Ok(Ok(())) => return true,
                    Ok(Err(e)) => {
                        tracing::debug!(channel = %self.def.name, "cannot connect a ZeroMQ socket (trying again): {e}");
                        if !pause(&self.stop, REOPEN_AFTER / 4).await {
                            return false;
                        }
                    }
                    Err(_) => {}
                },
            }
        }
    }

    /// Queues every message the socket receives until `stop`; a PULL socket that
    /// connects connects again when its peer goes away (a SUB socket does so itself).
    async fn receive(
        &self,
        socket: &mut Receiver,
        monitor: &mut futures::channel::mpsc::Receiver<SocketEvent>,
        endpoint: &str,
        header: &Header,
    ) {
        let name = &self.def.name;
        let reconnects = !self.def.settings.bind && matches!(socket, Receiver::Pull(_));
        loop {
            tokio::select! {
                _ = self.stop.cancelled() => return,
                event = monitor.next() => {
                    if reconnects && matches!(event, Some(SocketEvent::Disconnected(_))) {
                        tracing::debug!(channel = %name, "the peer of ZeroMQ channel `{name}` went away: connecting again");
                        if !self.connect(socket, endpoint).await {
                            return;
                        }
                    }
                }
                received = socket.recv() => match received {
                    Ok(message) => self.queue(header, message).await,
                    Err(e) => tracing::debug!(channel = %name, "ZeroMQ channel `{name}`: {e}"),
                },
            }
        }
    }

    /// Puts a received message on the work queue, trying again while the KVDB does
    /// not take it; a message still not queued when the term ends is lost, and said.
    async fn queue(&self, header: &Header, message: ZmqMessage) {
        let name = &self.def.name;
        let frames = message.into_vec();
        let bytes: usize = frames.iter().map(Bytes::len).sum();
        if bytes > MAX_MESSAGE_BYTES {
            tracing::warn!(channel = %name, "ZeroMQ channel `{name}` dropped a message of {bytes} bytes: at most {MAX_MESSAGE_BYTES}");
            return;
        }
        let item = encode(header, &frames);
        let mut retry = QUEUE_RETRY_MIN;
        loop {
            match self.kvdb.enqueue(QUEUE, &item).await {
                Ok(()) => return,
                Err(e) => {
                    if retry == QUEUE_RETRY_MIN {
                        tracing::warn!(channel = %name, "ZeroMQ channel `{name}` cannot queue a message (trying again): {e}");
                    }
                    if !pause(&self.stop, retry).await {
                        tracing::error!(channel = %name, "ZeroMQ channel `{name}` lost a message it received: the KVDB did not take it before the socket closed");
                        return;
                    }
                    retry = (retry * 2).min(QUEUE_RETRY_MAX);
                }
            }
        }
    }
}

/// Sleeps `time` unless `stop` comes first; whether it slept.
async fn pause(stop: &CancellationToken, time: Duration) -> bool {
    tokio::select! {
        _ = stop.cancelled() => false,
        _ = tokio::time::sleep(time) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> Header {
        Header {
            channel: "orders".into(),
            service: "demo.zmq-relay".into(),
            data_format: DataFormat::Json,
            timeout_ms: 250,
            socket: ZmqChannelSocket::Sub,
            address: "tcp://127.0.0.1:5555".into(),
        }
    }

    #[test]
    fn an_item_carries_its_header_and_frames_exactly() {
        let frames = vec![
            Bytes::from("weather"),
            Bytes::new(),
            Bytes::from(vec![0u8, 255, 1]),
        ];
        let item = encode(&header(), &frames);
        let (read, got) = decode(&item).unwrap();
        assert_eq!(read, header());
        assert_eq!(got, vec![&b"weather"[..], &b""[..], &[0u8, 255, 1][..]]);
    }

    #[test]
    fn a_damaged_item_is_refused_not_misread() {
        let item = encode(&header(), &[Bytes::from("x")]);
        for cut in 0..item.len() {
            assert!(decode(&item[..cut]).is_err(), "cut at {cut}");
        }
        let mut longer = item.clone();
        longer.push(0);
        assert!(
            decode(&longer)
                .unwrap_err()
                .contains("after the last frame")
        );
        let mut other = item;
        other[0] = 9;
        assert!(decode(&other).unwrap_err().contains("unknown layout 9"));
        // A frame count no item of this size can hold.
        let mut hostile = vec![ITEM_VERSION, 2, 0, 0, 0, b'{', b'}'];
        hostile.extend_from_slice(&u32::MAX.to_le_bytes());
        assert!(decode(&hostile).is_err());
    }

    #[test]
    fn the_details_are_the_wit_keys_with_a_topic_only_for_several_frames() {
        let details = ZmqDetails {
            channel: "orders".into(),
            socket: "sub",
            address: "tcp://127.0.0.1:5555".into(),
            frames: "2".into(),
            topic: Some("weather".into()),
        };
        let keys: Vec<_> = details
            .details()
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        assert_eq!(
            keys,
            [
                "socket=sub",
                "address=tcp://127.0.0.1:5555",
                "frames=2",
                "topic=weather"
            ]
        );
        assert_eq!(details.channel_name(), "orders");
        let one = ZmqDetails {
            topic: None,
            frames: "1".into(),
            ..details
        };
        assert_eq!(one.detail("topic"), None);
    }
}
