//! AMQP channels (lapin, RabbitMQ): consumers of a queue, each delivery invoking a
//! service (channel kind `amqp`).
//!
//! [`AmqpChannels::apply`] is handed every AMQP channel of the ODB (on start, on every
//! change and at every reconcile) and starts, stops or replaces what runs: a channel
//! whose definition did not change keeps its consumers; a changed one is stopped and
//! started again; a deleted or inactive one is stopped, and `apply` returns only once
//! it no longer consumes. A channel with `singleton` consumes only on the server that
//! holds the singleton's lease (a [`SingletonTask`] started at each term, stopped when
//! the term ends); the others consume on every server, competing for the queue's
//! messages.
//!
//! Each running channel has one supervisor task that holds one AMQP connection with
//! `consumers` channels on it, each with `basic.qos(prefetch)` and its own consumer,
//! handling up to `prefetch` deliveries at a time. When the connection or one of its
//! channels breaks (a broker restart, a lost network, a queue deleted), the supervisor
//! closes what is left and connects again, with a back-off from 100 ms to 5 s, until
//! it is stopped. It does not use lapin's automatic recovery: starting over from a new
//! connection is simpler to reason about, and loses nothing (below).
//!
//! Nothing is lost: a delivery is acknowledged only after its service succeeded, so a
//! delivery whose connection broke before (or while) it was handled is still unacked,
//! and the broker puts it back in the queue (a duplicate if the service had succeeded
//! but the ack did not reach the broker: delivery is at least once). What becomes of a
//! delivery is [`delivery::verdict`]'s: acknowledged after a success; requeued after a
//! pause when the service is not loaded yet, not deployed or busy, or answered
//! `retry`; on any other error, a trap or a timeout, requeued while the message was
//! redelivered fewer than `max_redeliveries` times, and rejected without requeue after
//! that (the broker dead-letters it when the queue has a dead-letter exchange, and
//! drops it otherwise). How many times a message was delivered before is the broker's
//! `x-delivery-count` header where it gives one (quorum queues), and the channel's own
//! count otherwise ([`delivery::Redeliveries`] says how precise that is).
//!
//! On stop (the channel changed or deleted, the lease lost, the server stopping) each
//! consumer is cancelled first, so the broker sends it nothing more, the deliveries in
//! flight are given [`STOP_GRACE`] to finish and be acknowledged, and the channels and
//! the connection are closed: what was delivered but not handled goes back to the
//! queue.

mod delivery;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt as _;
use lapin::message::Delivery;
use lapin::options::{
    BasicCancelOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions, BasicRejectOptions,
    QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{Channel, Connection, Consumer};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;

use self::delivery::{AmqpDetails, Redeliveries, Verdict};
use super::{Inbound, call_service, new_cid};
use crate::api::{AmqpChannelSettings, DataFormat, MsgChannel, MsgChannelSettings};
use crate::outconn::amqp::Target;
use crate::runtime::{ChannelKind, Runtime};
use crate::singleton::{Lease, Singleton, SingletonTask};

/// How long connecting (and opening the consumers) may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The first wait before connecting again after a failure; it doubles up to
/// [`MAX_BACKOFF`], and starts again from here once a connection consumed.
pub const MIN_BACKOFF: Duration = Duration::from_millis(100);
/// The longest wait before connecting again.
pub const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// How long the deliveries in flight of a stopping channel may take to finish.
pub const STOP_GRACE: Duration = Duration::from_secs(10);
/// How many deliveries one consumer handles at a time when its prefetch is 0
/// (unlimited).
const MAX_IN_FLIGHT: usize = 256;

/// What every channel of this server shares.
struct Shared {
    runtime: Arc<Runtime>,
    server: String,
    shutdown: CancellationToken,
}

/// The AMQP channels of this server.
pub struct AmqpChannels {
    shared: Arc<Shared>,
    /// The channels that consume on every server.
    everywhere: tokio::sync::Mutex<Group>,
    /// The definitions of the channels that consume on the singleton only, followed by
    /// the singleton task while this server holds the lease.
    on_singleton: Arc<watch::Sender<Vec<MsgChannel>>>,
}

impl AmqpChannels {
    /// Registers its singleton task (for the channels that consume on the singleton
    /// only) with `singleton`, before the singleton's loop is spawned.
    pub fn new(
        runtime: Arc<Runtime>,
        singleton: &Arc<Singleton>,
        server: String,
        shutdown: CancellationToken,
    ) -> Arc<Self> {
        let shared = Arc::new(Shared {
            runtime,
            server,
            shutdown,
        });
        let on_singleton = Arc::new(watch::Sender::new(Vec::new()));
        singleton.register(Arc::new(SingletonConsumers {
            shared: shared.clone(),
            defs: on_singleton.clone(),
        }));
        Arc::new(Self {
            shared,
            everywhere: tokio::sync::Mutex::new(Group::default()),
            on_singleton,
        })
    }

    /// Replaces the set of channels with `defs` (every AMQP channel of the ODB, secrets
    /// included): a channel that did not change keeps its consumers. Returns once the
    /// channels stopped no longer consume (the singleton's follow at once, on the
    /// singleton).
    pub async fn apply(&self, defs: Vec<MsgChannel>) {
        let (on_singleton, everywhere): (Vec<_>, Vec<_>) = defs
            .into_iter()
            .filter(|def| matches!(def.settings, MsgChannelSettings::Amqp(_)))
            .partition(|def| matches!(&def.settings, MsgChannelSettings::Amqp(s) if s.singleton));
        let parent = self.shared.shutdown.clone();
        self.everywhere
            .lock()
            .await
            .apply(everywhere, &self.shared, &parent)
            .await;
        self.on_singleton.send_if_modified(|current| {
            let changed = *current != on_singleton;
            *current = on_singleton;
            changed
        });
    }

    /// Waits until the server is stopping, then until every channel consuming on every
    /// server has stopped (those on the singleton stop with its term).
    pub async fn stopped(&self) {
        self.shared.shutdown.cancelled().await;
        self.everywhere.lock().await.stop_all().await;
    }
}

/// The channels on the singleton: consumed while this server holds the lease.
struct SingletonConsumers {
    shared: Arc<Shared>,
    defs: Arc<watch::Sender<Vec<MsgChannel>>>,
}

#[async_trait]
impl SingletonTask for SingletonConsumers {
    fn name(&self) -> &'static str {
        "amqp-channels"
    }

    async fn run(self: Arc<Self>, lease: Lease) {
        let mut defs = self.defs.subscribe();
        let mut group = Group::default();
        let parent = self.shared.shutdown.child_token();
        loop {
            let current = defs.borrow_and_update().clone();
            group.apply(current, &self.shared, &parent).await;
            tokio::select! {
                _ = lease.lost() => break,
                changed = defs.changed() => if changed.is_err() { break },
            }
        }
        group.stop_all().await;
    }
}

/// A set of running channels, by name.
#[derive(Default)]
struct Group {
    running: HashMap<String, Running>,
}

struct Running {
    def: MsgChannel,
    stop: CancellationToken,
    /// `None` for a channel that is inactive or cannot run (its reason logged once).
    task: Option<JoinHandle<()>>,
}

impl Running {
    async fn stop(self) {
        self.stop.cancel();
        if let Some(task) = self.task {
            let _ = task.await;
        }
    }
}

impl Group {
    async fn apply(
        &mut self,
        defs: Vec<MsgChannel>,
        shared: &Arc<Shared>,
        parent: &CancellationToken,
    ) {
        let mut wanted: HashMap<String, MsgChannel> = defs
            .into_iter()
            .map(|def| (def.name.clone(), def))
            .collect();
        let mut stopping = Vec::new();
        for (name, running) in std::mem::take(&mut self.running) {
            match wanted.remove(&name) {
                Some(def) if def == running.def => {
                    self.running.insert(name, running);
                }
                Some(def) => {
                    stopping.push(running);
                    wanted.insert(name, def);
                }
                None => stopping.push(running),
            }
        }
        // Stopped before their replacements start: a channel never consumes twice.
        futures::future::join_all(stopping.into_iter().map(Running::stop)).await;
        for (name, def) in wanted {
            let running = start(def, shared, parent);
            self.running.insert(name, running);
        }
    }

    async fn stop_all(&mut self) {
        let all = std::mem::take(&mut self.running);
        futures::future::join_all(all.into_values().map(Running::stop)).await;
    }
}

/// What a channel's tasks share.
struct Ctx {
    shared: Arc<Shared>,
    name: Arc<str>,
    service: String,
    data_format: DataFormat,
    settings: AmqpChannelSettings,
    target: Target,
    timeout: Option<Duration>,
    counts: Redeliveries,
}

fn start(def: MsgChannel, shared: &Arc<Shared>, parent: &CancellationToken) -> Running {
    let stop = parent.child_token();
    let idle = |def| Running {
        def,
        stop: stop.clone(),
        task: None,
    };
    let MsgChannelSettings::Amqp(settings) = &def.settings else {
        return idle(def);
    };
    if !def.active {
        return idle(def);
    }
    let secret = def.secret.as_deref().filter(|s| !s.is_empty());
    let target = match Target::new(
        &settings.url,
        secret,
        settings.heartbeat_s,
        settings.ca_pem.as_deref(),
    ) {
        Ok(target) => target,
        Err(why) => {
            tracing::warn!(channel = %def.name, "AMQP channel not started: {why}");
            return idle(def);
        }
    };
    let ctx = Arc::new(Ctx {
        shared: shared.clone(),
        name: def.name.as_str().into(),
        service: def.service.clone(),
        data_format: def.data_format,
        settings: settings.clone(),
        target,
        timeout: (settings.timeout_ms > 0).then(|| Duration::from_millis(settings.timeout_ms)),
        counts: Redeliveries::default(),
    });
    let task = tokio::spawn(supervise(ctx, stop.clone()));
    Running {
        def,
        stop,
        task: Some(task),
    }
}

/// Keeps the channel consuming until `stop`: connects, consumes, and connects again
/// with a back-off whenever that ends.
async fn supervise(ctx: Arc<Ctx>, stop: CancellationToken) {
    let mut backoff = MIN_BACKOFF;
    let mut failures = 0u32;
    while !stop.is_cancelled() {
        let mut consumed = false;
        let ended = session(&ctx, &stop, &mut consumed).await;
        if stop.is_cancelled() {
            break;
        }
        if consumed {
            backoff = MIN_BACKOFF;
            failures = 0;
        }
        failures += 1;
        let why = ended.err().unwrap_or_else(|| "the consumers ended".into());
        // Every failure while the broker stays away would flood the log: the first
        // ones, then one in twenty.
        if failures <= 3 || failures.is_multiple_of(20) {
            tracing::warn!(
                channel = %ctx.name,
                "AMQP channel: {why}; connecting again in {} ms",
                backoff.as_millis()
            );
        }
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
    tracing::debug!(channel = %ctx.name, "AMQP channel stopped");
}

/// One connection's life: connects, opens the consumers, and returns when they end
/// (`Ok` once stopped, `Err` saying why otherwise). `consumed` tells whether the
/// consumers got started.
async fn session(
    ctx: &Arc<Ctx>,
    stop: &CancellationToken,
    consumed: &mut bool,
) -> Result<(), String> {
    let opened = tokio::select! {
        _ = stop.cancelled() => return Ok(()),
        opened = tokio::time::timeout(CONNECT_TIMEOUT, open(ctx)) => opened,
    };
    let (conn, consumers) = opened.map_err(|_| {
        format!(
            "{} did not answer within {} s",
            ctx.target.shown(),
            CONNECT_TIMEOUT.as_secs()
        )
    })??;
    *consumed = true;
    tracing::info!(
        channel = %ctx.name,
        "AMQP channel consuming `{}` at {} ({} consumer(s), prefetch {})",
        ctx.settings.queue,
        ctx.target.shown(),
        consumers.len(),
        ctx.settings.prefetch
    );
    let consumers_stop = stop.child_token();
    let mut running = JoinSet::new();
    for (channel, consumer) in consumers {
        running.spawn(consume(
            ctx.clone(),
            channel,
            consumer,
            consumers_stop.clone(),
        ));
    }
    // The first consumer that ends (its channel or the connection broke) ends them all.
    let first = tokio::select! {
        _ = stop.cancelled() => None,
        ended = running.join_next() => ended,
    };
    consumers_stop.cancel();
    while running.join_next().await.is_some() {}
    let _ = tokio::time::timeout(Duration::from_secs(2), conn.close(200, "bye".into())).await;
    match first {
        None => Ok(()),
        Some(Ok(None)) => Ok(()),
        Some(Ok(Some(why))) => Err(why),
        Some(Err(e)) => Err(format!("a consumer failed: {e}")),
    }
}

/// Connects and opens the consumers, each on its own channel; declares the queue
/// first when the channel says so.
async fn open(ctx: &Ctx) -> Result<(Connection, Vec<(Channel, Consumer)>), String> {
    let conn = ctx.target.connect(&format!("channel {}", ctx.name)).await?;
    let queue = ShortString::try_new(ctx.settings.queue.as_str())
        .map_err(|e| format!("the queue name: {e}"))?;
    let failed = |what: &str, e: lapin::Error| {
        format!(
            "cannot {what} `{}` at {}: {e}",
            ctx.settings.queue,
            ctx.target.shown()
        )
    };
    let mut consumers = Vec::new();
    for i in 0..ctx.settings.consumers.max(1) {
        let channel = conn
            .create_channel()
            .await
            .map_err(|e| failed("open a channel to consume", e))?;
        channel
            .basic_qos(ctx.settings.prefetch, BasicQosOptions::default())
            .await
            .map_err(|e| failed("set the prefetch to consume", e))?;
        if i == 0 && ctx.settings.declare {
            let mut arguments = FieldTable::default();
            if let Some(dlx) = &ctx.settings.dead_letter_exchange {
                arguments.insert(
                    "x-dead-letter-exchange".into(),
                    AMQPValue::LongString(LongString::from(dlx.as_bytes())),
                );
            }
            let options = QueueDeclareOptions {
                durable: true,
                ..QueueDeclareOptions::default()
            };
            channel
                .queue_declare(queue.clone(), options, arguments)
                .await
                .map_err(|e| failed("declare the queue", e))?;
        }
        let tag = ShortString::try_new(format!("zato.{}.{}.{i}", ctx.shared.server, ctx.name))
            .unwrap_or_default();
        let consumer = channel
            .basic_consume(
                queue.clone(),
                tag,
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await
            .map_err(|e| failed("consume", e))?;
        consumers.push((channel, consumer));
    }
    Ok((conn, consumers))
}

/// Handles the deliveries of one consumer, up to its prefetch at a time, until
/// `stop` (`None`) or until the consumer ends (`Some`, saying why).
async fn consume(
    ctx: Arc<Ctx>,
    channel: Channel,
    mut consumer: Consumer,
    stop: CancellationToken,
) -> Option<String> {
    let limit = match ctx.settings.prefetch {
        0 => MAX_IN_FLIGHT,
        n => usize::from(n),
    };
    let mut in_flight = JoinSet::new();
    let ended = loop {
        tokio::select! {
            biased;
            _ = stop.cancelled() => break None,
            Some(_) = in_flight.join_next(), if !in_flight.is_empty() => {}
            next = consumer.next(), if in_flight.len() < limit => match next {
                Some(Ok(delivery)) => {
                    in_flight.spawn(handle(ctx.clone(), delivery, stop.clone()));
                }
                Some(Err(e)) => break Some(format!("the connection to {} broke: {e}", ctx.target.shown())),
                None => break Some(format!(
                    "the broker cancelled the consumer of `{}` (was the queue deleted?)",
                    ctx.settings.queue
                )),
            },
        }
    };
    if ended.is_none() && channel.status().connected() {
        // Nothing more comes; what the broker already sent and is not handled goes
        // back to the queue when the channel closes.
        let _ = tokio::time::timeout(
            Duration::from_secs(2),
            channel.basic_cancel(consumer.tag(), BasicCancelOptions::default()),
        )
        .await;
    }
    let drained = tokio::time::timeout(STOP_GRACE, async {
        while in_flight.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            channel = %ctx.name,
            "{} deliveries still running after {} s: abandoned (the broker redelivers them)",
            in_flight.len(),
            STOP_GRACE.as_secs()
        );
        in_flight.abort_all();
    }
    if channel.status().connected() {
        let _ =
            tokio::time::timeout(Duration::from_secs(2), channel.close(200, "bye".into())).await;
    }
    ended
}

/// One delivery: calls the service and acknowledges, requeues or rejects it.
async fn handle(ctx: Arc<Ctx>, delivery: Delivery, stop: CancellationToken) {
    let key = delivery::key(&delivery);
    let count = delivery::broker_count(&delivery.properties)
        .unwrap_or_else(|| ctx.counts.count(&key, delivery.redelivered));
    let details = AmqpDetails::new(ctx.name.clone(), &ctx.settings.queue, &delivery, count);
    let cid = new_cid();
    let outcome = call_service(
        &ctx.shared.runtime,
        Inbound {
            cid: &cid,
            service: &ctx.service,
            channel: ChannelKind::Amqp,
            payload: &delivery.data,
            data_format: ctx.data_format,
            details: Box::new(details),
            timeout: ctx.timeout,
        },
    )
    .await;
    let verdict = delivery::verdict(&outcome, count, ctx.settings.max_redeliveries);
    let sent = match verdict {
        Verdict::Ack => {
            ctx.counts.done(&key);
            delivery.ack(Default::default()).await
        }
        Verdict::Requeue { pause, counted } => {
            if !pause.is_zero() {
                tokio::select! {
                    _ = stop.cancelled() => {}
                    _ = tokio::time::sleep(pause) => {}
                }
            }
            if counted {
                ctx.counts.requeued(key, count);
            }
            delivery
                .nack(BasicNackOptions {
                    multiple: false,
                    requeue: true,
                })
                .await
        }
        Verdict::Reject => {
            ctx.counts.done(&key);
            if let Err(error) = &outcome {
                tracing::warn!(
                    channel = %ctx.name,
                    cid,
                    "message rejected after {} deliveries (dead-lettered if the queue has a dead-letter exchange): {error}",
                    count + 1
                );
            }
            delivery.reject(BasicRejectOptions { requeue: false }).await
        }
    };
    match sent {
        Ok(true) => {}
        Ok(false) | Err(_) => tracing::debug!(
            channel = %ctx.name,
            cid,
            "the {verdict:?} of a delivery did not reach the broker (its channel closed): the broker redelivers it"
        ),
    }
}
