//! The subscriber side of the Redis broker: one pub/sub connection shared by every
//! subscriber of a `RedisKvdb`, kept up by a background task.
//!
//! The task reads messages and hands each to the subscribers of its channel. When the
//! connection is lost (Redis restarted, the client was killed, a health-check PING got no
//! answer), it reconnects with a backoff of 100 ms doubling to 2 s, subscribes every
//! channel again, and only then sends [`BrokerEvent::Reconnected`] to every subscriber:
//! messages published in between are lost, and that event is what makes a server
//! reconcile with its ODB.
//!
//! *Invariant*: the channels in `State::channels` are exactly those the current
//! connection is subscribed to (give or take a channel whose last subscriber just left),
//! so a reconnect knows what to subscribe again.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use ::redis::aio::{PubSubSink, PubSubStream};
use ::redis::{Client, Msg, RedisError, Value};
use futures::StreamExt as _;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::CONNECT_TIMEOUT;
use crate::kvdb::{BrokerEvent, KvdbError, KvdbResult};

/// Capacity of a subscriber's queue; a subscriber that falls this far behind loses
/// messages (pub/sub is at-most-once anyway), as with the in-memory broker.
const SUBSCRIBER_CAPACITY: usize = 1024;
/// How long SUBSCRIBE, UNSUBSCRIBE or PING may wait for their confirmation.
const CONFIRM_TIMEOUT: Duration = Duration::from_secs(2);
/// How often the connection is checked with a PING and departed subscribers are
/// unsubscribed. A connection that died without a FIN (a network partition) is only
/// noticed by the PING. Shorter in tests, so that they see a few checks go by.
pub(super) const HEALTH_CHECK: Duration = if cfg!(test) {
    Duration::from_millis(300)
} else {
    Duration::from_secs(5)
};
const RECONNECT_MIN: Duration = Duration::from_millis(100);
const RECONNECT_MAX: Duration = Duration::from_secs(2);

pub(super) struct Subscriptions {
    client: Client,
    /// The URL without its password, for messages.
    url: String,
    // A tokio mutex: SUBSCRIBE is awaited under it, so that a subscription and the
    // connection it is made on cannot be swapped by a reconnect in between.
    state: tokio::sync::Mutex<State>,
}

#[derive(Default)]
struct State {
    /// The current connection's command half; `None` while reconnecting.
    sink: Option<PubSubSink>,
    /// Full channel name (with the prefix) -> its subscribers.
    channels: HashMap<String, Vec<mpsc::Sender<BrokerEvent>>>,
}

impl State {
    /// Forgets departed subscribers and returns the channels nobody listens to anymore.
    fn prune(&mut self) -> Vec<String> {
        let mut unused = Vec::new();
        self.channels.retain(|channel, senders| {
            senders.retain(|tx| !tx.is_closed());
            if senders.is_empty() {
                unused.push(channel.clone());
            }
            !senders.is_empty()
        });
        unused
    }

    /// Forgets departed subscribers and unsubscribes the channels nobody listens to.
    async fn unsubscribe_unused(&mut self) {
        let unused = self.prune();
        if let (false, Some(sink)) = (unused.is_empty(), self.sink.as_mut()) {
            // A failure here means the connection is going; the health check will notice,
            // and the next connection subscribes only the channels still in use.
            let _ = tokio::time::timeout(CONFIRM_TIMEOUT, sink.unsubscribe(&unused)).await;
        }
    }
}

impl Subscriptions {
    /// Opens the first pub/sub connection.
    pub(super) async fn connect(
        client: Client,
        url: &str,
    ) -> Result<(Arc<Self>, PubSubStream), RedisError> {
        let subscriptions = Arc::new(Self {
            client,
            url: url.to_owned(),
            state: tokio::sync::Mutex::default(),
        });
        let stream = subscriptions.reconnect().await?;
        Ok((subscriptions, stream))
    }

    pub(super) async fn subscribe(
        &self,
        channel: String,
    ) -> KvdbResult<mpsc::Receiver<BrokerEvent>> {
        let (tx, rx) = mpsc::channel(SUBSCRIBER_CAPACITY);
        let mut state = self.state.lock().await;
        if !state.channels.contains_key(&channel) {
            let Some(sink) = state.sink.as_mut() else {
                return Err(KvdbError::Unavailable(format!(
                    "cannot subscribe to `{channel}`: the pub/sub connection to Redis at `{}` \
                     is down, reconnecting",
                    self.url
                )));
            };
            // Only once Redis confirmed is a message published after this call returns
            // sure to arrive.
            confirm(sink.subscribe(&channel))
                .await
                .map_err(|e| self.unavailable("subscribe to", &channel, &e))?;
        }
        state.channels.entry(channel).or_default().push(tx);
        Ok(rx)
    }

    fn unavailable(&self, what: &str, channel: &str, e: &RedisError) -> KvdbError {
        KvdbError::Unavailable(format!(
            "cannot {what} `{channel}` on Redis at `{}`: {e}",
            self.url
        ))
    }

    /// Opens a new connection, subscribes every channel in use on it, then tells their
    /// subscribers that they may have missed messages.
    async fn reconnect(&self) -> Result<PubSubStream, RedisError> {
        let pubsub = tokio::time::timeout(CONNECT_TIMEOUT, self.client.get_async_pubsub())
            .await
            .map_err(|_| timed_out("connecting"))??;
        let (mut sink, stream) = pubsub.split();
        let mut state = self.state.lock().await;
        state.prune();
        let channels: Vec<String> = state.channels.keys().cloned().collect();
        if !channels.is_empty() {
            confirm(sink.subscribe(&channels)).await?;
        }
        state.sink = Some(sink);
        for tx in state.channels.values().flatten() {
            if let Err(mpsc::error::TrySendError::Full(event)) =
                tx.try_send(BrokerEvent::Reconnected)
            {
                // Unlike a message, this event must not be lost: the subscriber relies on it
                // to catch up. Wait for room without holding up everybody else.
                let tx = tx.clone();
                tokio::spawn(async move {
                    let _ = tx.send(event).await;
                });
            }
        }
        Ok(stream)
    }

    /// Hands a message to the subscribers of its channel.
    async fn deliver(&self, msg: &Msg) {
        let mut state = self.state.lock().await;
        let Some(senders) = state.channels.get_mut(msg.get_channel_name()) else {
            return;
        };
        let mut departed = false;
        senders.retain(|tx| {
            match tx.try_send(BrokerEvent::Message(msg.get_payload_bytes().to_vec())) {
                Ok(()) | Err(mpsc::error::TrySendError::Full(_)) => true,
                Err(mpsc::error::TrySendError::Closed(_)) => {
                    departed = true;
                    false
                }
            }
        });
        if departed {
            state.unsubscribe_unused().await;
        }
    }

    /// Unsubscribes departed subscribers, then checks that the connection still answers.
    async fn check(&self) -> Result<(), RedisError> {
        let sink = {
            let mut state = self.state.lock().await;
            state.unsubscribe_unused().await;
            state.sink.clone()
        };
        match sink {
            Some(mut sink) => confirm(sink.ping::<Value>()).await.map(|_| ()),
            None => Err(io_error(std::io::ErrorKind::NotConnected, "no connection")),
        }
    }
}

/// Keeps the pub/sub connection up until `stop` is cancelled.
pub(super) async fn run(
    subscriptions: Arc<Subscriptions>,
    mut stream: PubSubStream,
    stop: CancellationToken,
) {
    loop {
        let lost = tokio::select! {
            () = stop.cancelled() => return,
            lost = serve(&subscriptions, &mut stream) => lost,
        };
        subscriptions.state.lock().await.sink = None;
        tracing::warn!(
            url = %subscriptions.url,
            "lost the pub/sub connection to Redis ({lost}); reconnecting"
        );
        let mut delay = RECONNECT_MIN;
        stream = loop {
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(delay) => {}
            }
            match subscriptions.reconnect().await {
                Ok(stream) => break stream,
                Err(e) => {
                    tracing::debug!(url = %subscriptions.url, "pub/sub reconnect failed: {e}");
                    delay = (delay * 2).min(RECONNECT_MAX);
                }
            }
        };
        tracing::info!(url = %subscriptions.url, "pub/sub connection to Redis is back");
    }
}

/// Delivers messages until the connection is lost, and says why.
async fn serve(subscriptions: &Subscriptions, stream: &mut PubSubStream) -> String {
    let mut health = tokio::time::interval(HEALTH_CHECK);
    // The first tick of an interval is immediate; the connection was just checked.
    health.tick().await;
    loop {
        tokio::select! {
            msg = stream.next() => match msg {
                Some(msg) => subscriptions.deliver(&msg).await,
                None => return "connection closed".to_owned(),
            },
            _ = health.tick() => {
                if let Err(e) = subscriptions.check().await {
                    return format!("health check failed: {e}");
                }
            }
        }
    }
}

/// Waits for a pub/sub confirmation, which the crate itself never times out.
async fn confirm<T>(request: impl Future<Output = Result<T, RedisError>>) -> Result<T, RedisError> {
    tokio::time::timeout(CONFIRM_TIMEOUT, request)
        .await
        .map_err(|_| timed_out("waiting for a confirmation"))?
}

fn timed_out(what: &str) -> RedisError {
    io_error(std::io::ErrorKind::TimedOut, &format!("timed out {what}"))
}

fn io_error(kind: std::io::ErrorKind, message: &str) -> RedisError {
    RedisError::from(std::io::Error::new(kind, message.to_owned()))
}
