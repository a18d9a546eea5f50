//! AMQP channels and outgoing connections against this machine's RabbitMQ
//! (127.0.0.1:5672, guest/guest), each test in a vhost of its own made and deleted with
//! `rabbitmqctl`. The tests' own peer is lapin, used as an application would: a
//! publisher with confirms, a consumer with manual acks.
//!
//! The test that restarts the broker takes [`BROKER`] for writing and every other one
//! for reading, so it never runs beside them (a restart closes every connection).

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicGetOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions, ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{
    BasicProperties, Channel, Confirmation, Connection, ConnectionProperties, ExchangeKind,
};
use reqwest::StatusCode;
use serde_json::{Value, json};
use zato_api::{
    AmqpChannelSettings, AmqpSettings, DataFormat, MsgChannel, MsgChannelSettings, MsgChannelType,
    Outconn, OutconnSettings,
};
use zato_test_artifacts as wasm;

use crate::harness::{TestServer, eventually};

/// Held for writing by the test that restarts the broker, for reading by the others.
static BROKER: LazyLock<tokio::sync::RwLock<()>> = LazyLock::new(|| tokio::sync::RwLock::new(()));

const WAIT: Duration = Duration::from_secs(20);

fn rabbitmqctl(args: &[&str]) {
    let out = std::process::Command::new("rabbitmqctl")
        .args(args)
        .output()
        .expect("rabbitmqctl runs (is RabbitMQ installed? see tests/run.sh)");
    assert!(
        out.status.success(),
        "rabbitmqctl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A vhost of the test's own, deleted when dropped.
struct Vhost {
    name: String,
}

impl Vhost {
    /// Named from `test` and a uuid: letters, digits and `-`, so it needs no encoding in
    /// a URL.
    async fn new(test: &str) -> Self {
        let name = format!("zato-{test}-{}", uuid::Uuid::new_v4().simple());
        let vhost = name.clone();
        tokio::task::spawn_blocking(move || {
            rabbitmqctl(&["add_vhost", &vhost]);
            rabbitmqctl(&["set_permissions", "-p", &vhost, "guest", ".*", ".*", ".*"]);
        })
        .await
        .unwrap();
        Self { name }
    }

    /// The URL a definition gives: no password (it is the secret).
    fn url(&self) -> String {
        format!("amqp://guest@127.0.0.1:5672/{}", self.name)
    }

    /// An outgoing connection `name` to this vhost.
    fn outconn(&self, name: &str) -> Outconn {
        Outconn {
            name: name.into(),
            active: true,
            settings: OutconnSettings::Amqp(AmqpSettings {
                url: self.url(),
                heartbeat_s: 30,
                ca_pem: None,
                timeout_ms: 5_000,
            }),
            secret: Some("guest".into()),
        }
    }

    /// A channel `name` consuming `queue` of this vhost for `service`.
    fn channel(&self, name: &str, queue: &str, service: &str) -> MsgChannel {
        MsgChannel {
            name: name.into(),
            active: true,
            service: service.into(),
            data_format: DataFormat::Raw,
            settings: MsgChannelSettings::Amqp(AmqpChannelSettings {
                url: self.url(),
                queue: queue.into(),
                declare: false,
                dead_letter_exchange: None,
                prefetch: 10,
                consumers: 1,
                singleton: false,
                max_redeliveries: 0,
                heartbeat_s: 30,
                ca_pem: None,
                timeout_ms: 0,
            }),
            secret: Some("guest".into()),
        }
    }

    async fn peer(&self) -> Peer {
        Peer::connect(&self.name).await
    }
}

impl Drop for Vhost {
    fn drop(&mut self) {
        let _ = std::process::Command::new("rabbitmqctl")
            .args(["delete_vhost", &self.name])
            .output();
    }
}

fn settings(channel: &mut MsgChannel) -> &mut AmqpChannelSettings {
    match &mut channel.settings {
        MsgChannelSettings::Amqp(s) => s,
        _ => unreachable!(),
    }
}

/// The test's own application: lapin with publisher confirms.
struct Peer {
    _conn: Connection,
    channel: Channel,
}

impl Peer {
    async fn connect(vhost: &str) -> Self {
        let url = format!("amqp://guest:guest@127.0.0.1:5672/{}", vhost);
        let conn = Connection::connect(&url, ConnectionProperties::default())
            .await
            .expect("the test's peer connects to RabbitMQ");
        let channel = conn.create_channel().await.unwrap();
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .unwrap();
        Self {
            _conn: conn,
            channel,
        }
    }

    /// Declares the durable queue `name`, dead-lettering to `dlx` if given.
    async fn queue(&self, name: &str, dlx: Option<&str>) {
        let mut arguments = FieldTable::default();
        if let Some(dlx) = dlx {
            arguments.insert(
                "x-dead-letter-exchange".into(),
                AMQPValue::LongString(dlx.into()),
            );
        }
        self.channel
            .queue_declare(
                name.into(),
                QueueDeclareOptions {
                    durable: true,
                    ..Default::default()
                },
                arguments,
            )
            .await
            .unwrap();
    }

    /// A fanout exchange `name` whose messages go to the queue `queue`.
    async fn fanout_to(&self, name: &str, queue: &str) {
        self.channel
            .exchange_declare(
                name.into(),
                ExchangeKind::Fanout,
                ExchangeDeclareOptions {
                    durable: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .unwrap();
        self.queue(queue, None).await;
        self.channel
            .queue_bind(
                queue.into(),
                name.into(),
                "".into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .unwrap();
    }

    /// Publishes `body` to `queue` (persistent) and waits for the broker's confirm.
    async fn publish(&self, queue: &str, body: &[u8], properties: BasicProperties) {
        let confirm = self
            .channel
            .basic_publish(
                "".into(),
                queue.into(),
                BasicPublishOptions::default(),
                body,
                properties.with_delivery_mode(2),
            )
            .await
            .unwrap()
            .await
            .unwrap();
        assert!(matches!(confirm, Confirmation::Ack(None)), "{confirm:?}");
    }

    /// The next message of `queue` (taken and acknowledged), waiting for it.
    async fn next(&self, queue: &str) -> lapin::message::Delivery {
        eventually(WAIT, &format!("a message in `{queue}`"), || async {
            self.channel
                .basic_get(queue.into(), BasicGetOptions { no_ack: true })
                .await
                .unwrap()
                .map(|m| m.delivery)
        })
        .await
    }

    /// The next message of `queue` as JSON.
    async fn next_json(&self, queue: &str) -> Value {
        serde_json::from_slice(&self.next(queue).await.data).unwrap()
    }

    /// (messages ready, consumers) of `queue`.
    async fn count(&self, queue: &str) -> (u32, u32) {
        let q = self
            .channel
            .queue_declare(
                queue.into(),
                QueueDeclareOptions {
                    passive: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .unwrap();
        (q.message_count(), q.consumer_count())
    }
}

/// A server running the probe, which reports every call to the queue `probe`.
async fn probe_server(vhost: &Vhost, peer: &Peer) -> TestServer {
    peer.queue("probe", None).await;
    let server = TestServer::start().await;
    server.deploy(wasm::AMQP_PROBE).await;
    server
        .api
        .create_outconn(&vhost.outconn("probe"))
        .await
        .unwrap();
    server
}

#[tokio::test]
async fn a_message_flows_from_a_queue_through_a_service_to_another_exchange() {
    let _broker = BROKER.read().await;
    let vhost = Vhost::new("e2e").await;
    let peer = vhost.peer().await;
    peer.queue("orders", None).await;
    peer.fanout_to("orders.summaries", "summaries").await;
    let server = TestServer::start().await;
    server.deploy(wasm::AMQP_TRANSFORM).await;
    server
        .api
        .create_outconn(&vhost.outconn("amqp-out"))
        .await
        .unwrap();
    let mut channel = vhost.channel("orders-in", "orders", "demo.amqp-transform");
    channel.data_format = DataFormat::Json;
    let info = server.api.create_msg_channel(&channel).await.unwrap();
    assert!(info.secret_set);

    let mut headers = FieldTable::default();
    headers.insert("x-tenant".into(), AMQPValue::LongString("acme".into()));
    let order =
        json!({"id": "A-1", "customer": "ada", "lines": [{"sku": "x", "qty": 2, "price": 3.5}]});
    peer.publish(
        "orders",
        order.to_string().as_bytes(),
        BasicProperties::default()
            .with_correlation_id("corr-1".into())
            .with_message_id("msg-1".into())
            .with_content_type("application/json".into())
            .with_headers(headers),
    )
    .await;

    let out = peer.next("summaries").await;
    let summary: Value = serde_json::from_slice(&out.data).unwrap();
    assert_eq!(summary["order_id"], "A-1");
    assert_eq!(summary["total"], 7.0);
    let source = &summary["source"];
    assert_eq!(source["channel"], "orders-in");
    assert_eq!(source["queue"], "orders");
    assert_eq!(source["exchange"], "");
    assert_eq!(source["routing_key"], "orders");
    assert_eq!(source["correlation_id"], "corr-1");
    assert_eq!(source["message_id"], "msg-1");
    assert_eq!(source["redelivered"], false);
    assert_eq!(source["delivery_count"], 0);
    assert_eq!(source["tenant"], "acme");
    // What the service published: its properties and headers.
    assert_eq!(out.exchange.as_str(), "orders.summaries");
    assert_eq!(
        out.properties.correlation_id().as_ref().map(|s| s.as_str()),
        Some("corr-1")
    );
    assert_eq!(
        out.properties.content_type().as_ref().map(|s| s.as_str()),
        Some("application/json")
    );
    assert_eq!(*out.properties.delivery_mode(), Some(2));
    assert_eq!(
        out.properties
            .headers()
            .as_ref()
            .and_then(|h| h.inner().get("x-tenant").cloned()),
        Some(AMQPValue::LongString("acme".into()))
    );
    // The order was acknowledged: nothing is left in its queue, and the channel consumes.
    assert_eq!(peer.count("orders").await, (0, 1));
    server.stop().await;
}

#[tokio::test]
async fn a_service_that_traps_sends_the_message_to_the_dead_letter_queue_and_the_server_goes_on() {
    let _broker = BROKER.read().await;
    let vhost = Vhost::new("dlx").await;
    let peer = vhost.peer().await;
    peer.fanout_to("dead", "dead-letters").await;
    let server = probe_server(&vhost, &peer).await;
    let mut channel = vhost.channel("jobs-in", "jobs", "test.amqp-probe");
    settings(&mut channel).declare = true;
    settings(&mut channel).dead_letter_exchange = Some("dead".into());
    server.api.create_msg_channel(&channel).await.unwrap();
    // The channel declared the queue, with its dead-letter exchange.
    let (_, consumers) = eventually(WAIT, "the channel consuming `jobs`", || async {
        let peer = vhost.peer().await;
        let declared = peer
            .channel
            .queue_declare(
                "jobs".into(),
                QueueDeclareOptions {
                    passive: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await;
        declared
            .ok()
            .filter(|q| q.consumer_count() == 1)
            .map(|q| (q.message_count(), q.consumer_count()))
    })
    .await;
    assert_eq!(consumers, 1);

    peer.publish("jobs", b"trap: job 1", BasicProperties::default())
        .await;
    let dead = peer.next("dead-letters").await;
    assert_eq!(dead.data, b"trap: job 1");
    let report = peer.next_json("probe").await;
    assert_eq!(report["payload"], "trap: job 1");
    // The server keeps serving: the next message is handled.
    peer.publish("jobs", b"job 2", BasicProperties::default())
        .await;
    let report = peer.next_json("probe").await;
    assert_eq!(report["payload"], "job 2");
    assert_eq!(report["channel"], "jobs-in");
    eventually(WAIT, "job 2 acknowledged", || async {
        (peer.count("jobs").await == (0, 1)).then_some(())
    })
    .await;
    assert_eq!(
        peer.count("dead-letters").await.0,
        0,
        "only the trap was dead-lettered"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_retry_error_requeues_the_message_and_its_redelivery_succeeds() {
    let _broker = BROKER.read().await;
    let vhost = Vhost::new("retry").await;
    let peer = vhost.peer().await;
    peer.queue("work", None).await;
    let server = probe_server(&vhost, &peer).await;
    server
        .api
        .create_msg_channel(&vhost.channel("work-in", "work", "test.amqp-probe"))
        .await
        .unwrap();
    peer.publish("work", b"retry-once: w1", BasicProperties::default())
        .await;
    let first = peer.next_json("probe").await;
    assert_eq!(first["payload"], "retry-once: w1");
    assert_eq!(first["redelivered"], "false");
    assert_eq!(first["delivery-count"], 0);
    let second = peer.next_json("probe").await;
    assert_eq!(second["payload"], "retry-once: w1");
    assert_eq!(second["redelivered"], "true");
    assert_eq!(second["delivery-count"], 1);
    eventually(WAIT, "the redelivery acknowledged", || async {
        (peer.count("work").await == (0, 1)).then_some(())
    })
    .await;
    server.stop().await;
}

#[tokio::test]
async fn without_a_dead_letter_exchange_a_failing_message_is_redelivered_max_redeliveries_times_then_dropped()
 {
    redelivered_max_times_then_dropped(false).await;
}

/// The same on a quorum queue, where the broker counts the deliveries
/// (`x-delivery-count`) rather than the channel.
#[tokio::test]
async fn on_a_quorum_queue_the_brokers_delivery_count_bounds_the_redeliveries() {
    redelivered_max_times_then_dropped(true).await;
}

async fn redelivered_max_times_then_dropped(quorum: bool) {
    let _broker = BROKER.read().await;
    let vhost = Vhost::new("maxredeliv").await;
    let peer = vhost.peer().await;
    if quorum {
        let mut arguments = FieldTable::default();
        arguments.insert(
            "x-queue-type".into(),
            AMQPValue::LongString("quorum".into()),
        );
        peer.channel
            .queue_declare(
                "work".into(),
                QueueDeclareOptions {
                    durable: true,
                    ..Default::default()
                },
                arguments,
            )
            .await
            .unwrap();
    } else {
        peer.queue("work", None).await;
    }
    let server = probe_server(&vhost, &peer).await;
    let mut channel = vhost.channel("work-in", "work", "test.amqp-probe");
    settings(&mut channel).max_redeliveries = 2;
    server.api.create_msg_channel(&channel).await.unwrap();
    peer.publish("work", b"fail: f1", BasicProperties::default())
        .await;
    for count in 0..=2 {
        let report = peer.next_json("probe").await;
        assert_eq!(report["payload"], "fail: f1");
        assert_eq!(report["delivery-count"], count, "{report}");
        if quorum && count > 0 {
            assert_eq!(
                report["headers"]["x-delivery-count"],
                count.to_string(),
                "{report}"
            );
        }
    }
    // A message after it is the next the service sees: the failing one is gone.
    peer.publish("work", b"ok: after", BasicProperties::default())
        .await;
    let report = peer.next_json("probe").await;
    assert_eq!(report["payload"], "ok: after");
    eventually(WAIT, "the queue empty", || async {
        (peer.count("work").await == (0, 1)).then_some(())
    })
    .await;
    assert_eq!(peer.count("probe").await.0, 0, "no fourth delivery");
    server.stop().await;
}

/// Asks the probe to publish `spec`: what it answered.
async fn publish_through(server: &TestServer, spec: Value) -> Value {
    let (status, answer) = server
        .invoke("test.amqp-probe", &json!({ "publish": spec }).to_string())
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer
}

#[tokio::test]
async fn a_service_publishes_with_confirms_and_is_told_what_went_wrong() {
    let _broker = BROKER.read().await;
    let vhost = Vhost::new("out").await;
    let peer = vhost.peer().await;
    peer.queue("inbox", None).await;
    let server = probe_server(&vhost, &peer).await;

    let answer = publish_through(
        &server,
        json!({
            "connection": "probe", "exchange": "", "routing_key": "inbox", "payload": "hello",
            "properties": [["correlation-id", "c-9"], ["priority", "7"], ["delivery-mode", "1"]],
            "headers": [["x-a", "1"]], "mandatory": true,
        }),
    )
    .await;
    assert_eq!(answer, json!({"ok": true}));
    // The confirm came before the answer: the message is in the queue already.
    let (ready, _) = peer.count("inbox").await;
    assert_eq!(ready, 1);
    let got = peer.next("inbox").await;
    assert_eq!(got.data, b"hello");
    assert_eq!(
        got.properties.correlation_id().as_ref().map(|s| s.as_str()),
        Some("c-9")
    );
    assert_eq!(*got.properties.priority(), Some(7));
    assert_eq!(*got.properties.delivery_mode(), Some(1));

    let kind = |answer: &Value| answer["error"]["kind"].as_str().unwrap_or("ok").to_owned();
    let message = |answer: &Value| answer["error"]["message"].as_str().unwrap_or("").to_owned();
    let unroutable = publish_through(
        &server,
        json!({"connection": "probe", "exchange": "", "routing_key": "nowhere", "payload": "x", "mandatory": true}),
    )
    .await;
    assert_eq!(kind(&unroutable), "unroutable", "{unroutable}");
    assert!(message(&unroutable).contains("NO_ROUTE"), "{unroutable}");
    // The same message, not mandatory, is confirmed (and dropped by the broker).
    let dropped = publish_through(
        &server,
        json!({"connection": "probe", "exchange": "", "routing_key": "nowhere", "payload": "x"}),
    )
    .await;
    assert_eq!(dropped, json!({"ok": true}));
    // A mandatory message after an unroutable one is routed, and told so.
    let routed = publish_through(
        &server,
        json!({"connection": "probe", "exchange": "", "routing_key": "inbox", "payload": "y", "mandatory": true}),
    )
    .await;
    assert_eq!(routed, json!({"ok": true}));

    let unknown = publish_through(
        &server,
        json!({"connection": "nope", "exchange": "", "routing_key": "inbox", "payload": "x"}),
    )
    .await;
    assert_eq!(kind(&unknown), "not-found");
    assert!(message(&unknown).contains("`nope`"), "{unknown}");
    let bad = publish_through(
        &server,
        json!({"connection": "probe", "routing_key": "inbox", "payload": "x", "properties": [["colour", "red"]]}),
    )
    .await;
    assert_eq!(kind(&bad), "bad-request");
    assert!(message(&bad).contains("unknown property `colour`"), "{bad}");
    let bad = publish_through(
        &server,
        json!({"connection": "probe", "routing_key": "inbox", "payload": "x", "properties": [["priority", "300"]]}),
    )
    .await;
    assert_eq!(kind(&bad), "bad-request");
    // An exchange that does not exist: the broker closes the channel; the next publish
    // works on a new one.
    let missing = publish_through(
        &server,
        json!({"connection": "probe", "exchange": "no-such-exchange", "routing_key": "x", "payload": "x"}),
    )
    .await;
    assert_eq!(kind(&missing), "remote");
    assert!(message(&missing).contains("no-such-exchange"), "{missing}");
    let again = publish_through(
        &server,
        json!({"connection": "probe", "exchange": "", "routing_key": "inbox", "payload": "z"}),
    )
    .await;
    assert_eq!(again, json!({"ok": true}));
    // A wrong password: a clear error naming the broker, without the password.
    let mut wrong = vhost.outconn("wrong");
    wrong.secret = Some("not-the-password".into());
    server.api.create_outconn(&wrong).await.unwrap();
    let refused = publish_through(
        &server,
        json!({"connection": "wrong", "exchange": "", "routing_key": "inbox", "payload": "x"}),
    )
    .await;
    assert_eq!(kind(&refused), "remote", "{refused}");
    assert!(
        message(&refused).contains("cannot connect to amqp://guest@127.0.0.1:5672/"),
        "{refused}"
    );
    assert!(!refused.to_string().contains("not-the-password"));
    server.stop().await;
}

#[tokio::test]
async fn channels_are_edited_and_deleted_through_the_api_without_a_restart() {
    let _broker = BROKER.read().await;
    let vhost = Vhost::new("edit").await;
    let peer = vhost.peer().await;
    peer.queue("a", None).await;
    peer.queue("b", None).await;
    let server = probe_server(&vhost, &peer).await;
    let mut channel = vhost.channel("edited", "a", "test.amqp-probe");
    server.api.create_msg_channel(&channel).await.unwrap();
    peer.publish("a", b"to a", BasicProperties::default()).await;
    assert_eq!(peer.next_json("probe").await["payload"], "to a");
    assert_eq!(peer.count("a").await.1, 1);

    // Moved to queue b, with two consumers: when the API answers, a is let go.
    settings(&mut channel).queue = "b".into();
    settings(&mut channel).consumers = 2;
    channel.secret = None;
    server.api.update_msg_channel(&channel).await.unwrap();
    assert_eq!(
        peer.count("a").await.1,
        0,
        "the old queue is no longer consumed"
    );
    eventually(WAIT, "two consumers on b", || async {
        (peer.count("b").await.1 == 2).then_some(())
    })
    .await;
    peer.publish("b", b"to b", BasicProperties::default()).await;
    assert_eq!(peer.next_json("probe").await["payload"], "to b");

    // Inactive: nothing consumes; active again: it consumes.
    channel.active = false;
    server.api.update_msg_channel(&channel).await.unwrap();
    assert_eq!(peer.count("b").await.1, 0);
    channel.active = true;
    server.api.update_msg_channel(&channel).await.unwrap();
    eventually(WAIT, "b consumed again", || async {
        (peer.count("b").await.1 == 2).then_some(())
    })
    .await;

    // Deleted: when the API answers, nothing consumes; a message stays in its queue.
    server
        .api
        .delete_msg_channel(MsgChannelType::Amqp, "edited")
        .await
        .unwrap();
    assert_eq!(peer.count("b").await.1, 0);
    peer.publish("b", b"after delete", BasicProperties::default())
        .await;
    assert_eq!(peer.count("b").await, (1, 0));
    server.stop().await;
}

#[tokio::test]
async fn a_singleton_channel_consumes_on_the_singleton_only() {
    let _broker = BROKER.read().await;
    let vhost = Vhost::new("singleton").await;
    let peer = vhost.peer().await;
    peer.queue("single", None).await;
    let server = probe_server(&vhost, &peer).await;
    let mut channel = vhost.channel("single-in", "single", "test.amqp-probe");
    settings(&mut channel).singleton = true;
    server.api.create_msg_channel(&channel).await.unwrap();
    // This one server becomes the singleton, and then consumes.
    eventually(WAIT, "the singleton consuming", || async {
        (peer.count("single").await.1 == 1).then_some(())
    })
    .await;
    peer.publish("single", b"once", BasicProperties::default())
        .await;
    assert_eq!(peer.next_json("probe").await["payload"], "once");
    server.stop().await;
    // A stopped server ends its term: it consumes no more.
    eventually(WAIT, "no consumer after the stop", || async {
        (peer.count("single").await.1 == 0).then_some(())
    })
    .await;
}

/// What the consumer of the restart test saw: how many times each order id.
type Seen = Arc<Mutex<HashMap<u64, u32>>>;

/// Publishes `{"id": n}` persistent to `queue` every `every` until `stop`, through
/// broker restarts (reconnecting), and records which ids were confirmed.
async fn steady_publisher(
    vhost: String,
    queue: &'static str,
    every: Duration,
    stop: tokio_util::sync::CancellationToken,
) -> (Vec<u64>, u64) {
    let mut confirmed = Vec::new();
    let mut attempted = 0u64;
    let mut next_id = 0u64;
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    'connect: while !stop.is_cancelled() {
        let peer = match tokio::time::timeout(Duration::from_secs(2), async {
            let url = format!("amqp://guest:guest@127.0.0.1:5672/{}", &vhost);
            let conn = Connection::connect(&url, ConnectionProperties::default()).await?;
            let channel = conn.create_channel().await?;
            channel
                .confirm_select(ConfirmSelectOptions::default())
                .await?;
            Ok::<_, lapin::Error>((conn, channel))
        })
        .await
        {
            Ok(Ok(peer)) => peer,
            _ => {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let (_conn, channel) = peer;
        let mut pending = tokio::task::JoinSet::new();
        while !stop.is_cancelled() {
            ticker.tick().await;
            let id = next_id;
            next_id += 1;
            attempted += 1;
            let body = json!({ "id": id }).to_string();
            let published = channel
                .basic_publish(
                    "".into(),
                    queue.into(),
                    BasicPublishOptions::default(),
                    body.as_bytes(),
                    BasicProperties::default().with_delivery_mode(2),
                )
                .await;
            match published {
                Ok(confirm) => {
                    pending.spawn(async move {
                        matches!(confirm.await, Ok(Confirmation::Ack(None))).then_some(id)
                    });
                }
                Err(_) => {
                    while let Some(done) = pending.join_next().await {
                        confirmed.extend(done.ok().flatten());
                    }
                    continue 'connect;
                }
            }
            while let Some(done) = pending.try_join_next() {
                confirmed.extend(done.ok().flatten());
            }
        }
        while let Some(done) = pending.join_next().await {
            confirmed.extend(done.ok().flatten());
        }
    }
    (confirmed, attempted)
}

/// Consumes `queue` with manual acks until `stop`, through broker restarts, counting
/// each order id seen (acknowledged after it is counted).
async fn steady_consumer(
    vhost: String,
    queue: &'static str,
    seen: Seen,
    stop: tokio_util::sync::CancellationToken,
) {
    while !stop.is_cancelled() {
        let url = format!("amqp://guest:guest@127.0.0.1:5672/{}", &vhost);
        let opened = tokio::time::timeout(Duration::from_secs(2), async {
            let conn = Connection::connect(&url, ConnectionProperties::default()).await?;
            let channel = conn.create_channel().await?;
            channel.basic_qos(100, BasicQosOptions::default()).await?;
            let consumer = channel
                .basic_consume(
                    queue.into(),
                    "test".into(),
                    BasicConsumeOptions::default(),
                    FieldTable::default(),
                )
                .await?;
            Ok::<_, lapin::Error>((conn, channel, consumer))
        })
        .await;
        let Ok(Ok((_conn, _channel, mut consumer))) = opened else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        loop {
            let next = tokio::select! {
                _ = stop.cancelled() => return,
                next = consumer.next() => next,
            };
            let Some(Ok(delivery)) = next else { break };
            let summary: Value = serde_json::from_slice(&delivery.data).unwrap();
            let id = summary["order_id"].as_u64().unwrap();
            *seen.lock().unwrap().entry(id).or_default() += 1;
            let _ = delivery.ack(BasicAckOptions::default()).await;
        }
    }
}

#[tokio::test]
async fn no_confirmed_message_is_lost_when_rabbitmq_restarts_mid_stream() {
    let _broker = BROKER.write().await;
    let vhost = Vhost::new("restart").await;
    let peer = vhost.peer().await;
    peer.queue("orders", None).await;
    peer.queue("summaries", None).await;
    drop(peer);
    let server = TestServer::start().await;
    server.deploy(wasm::AMQP_TRANSFORM).await;
    server
        .api
        .create_outconn(&vhost.outconn("amqp-out"))
        .await
        .unwrap();
    server
        .set_config(
            "demo.amqp-transform",
            &json!({"exchange": "", "routing_key": "summaries"}),
        )
        .await;
    let mut channel = vhost.channel("orders-in", "orders", "demo.amqp-transform");
    channel.data_format = DataFormat::Json;
    settings(&mut channel).prefetch = 20;
    settings(&mut channel).consumers = 2;
    settings(&mut channel).max_redeliveries = 1_000;
    settings(&mut channel).heartbeat_s = 5;
    server.api.create_msg_channel(&channel).await.unwrap();

    let stop_publishing = tokio_util::sync::CancellationToken::new();
    let stop_consuming = tokio_util::sync::CancellationToken::new();
    let seen: Seen = Arc::default();
    let publisher = tokio::spawn(steady_publisher(
        vhost.name.clone(),
        "orders",
        Duration::from_millis(5),
        stop_publishing.clone(),
    ));
    let consumer = tokio::spawn(steady_consumer(
        vhost.name.clone(),
        "summaries",
        seen.clone(),
        stop_consuming.clone(),
    ));
    // Messages flow before the restart.
    eventually(WAIT, "summaries before the restart", || async {
        (seen.lock().unwrap().len() > 100).then_some(())
    })
    .await;
    let published_before = Instant::now();
    tokio::task::spawn_blocking(|| {
        rabbitmqctl(&["stop_app"]);
        std::thread::sleep(Duration::from_secs(2));
        rabbitmqctl(&["start_app"]);
        rabbitmqctl(&["await_startup"]);
    })
    .await
    .unwrap();
    let restarted = Instant::now();
    let down_for = restarted - published_before;
    // Messages flow after it, through the channel and the connection that reconnected:
    // more than were consumed by the time the broker was back, and some of them
    // published after that.
    let at_restart = seen.lock().unwrap().len();
    eventually(
        Duration::from_secs(60),
        "summaries after the restart",
        || async { (seen.lock().unwrap().len() > at_restart + 200).then_some(()) },
    )
    .await;
    let recovered_in = restarted.elapsed();
    stop_publishing.cancel();
    let (confirmed, attempted) = publisher.await.unwrap();
    let all_seen = || {
        let seen = seen.lock().unwrap();
        confirmed.iter().all(|id| seen.contains_key(id))
    };
    let limit = Instant::now() + Duration::from_secs(60);
    while !all_seen() && Instant::now() < limit {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop_consuming.cancel();
    consumer.await.unwrap();
    let seen = seen.lock().unwrap().clone();
    let lost: Vec<_> = confirmed
        .iter()
        .filter(|id| !seen.contains_key(id))
        .collect();
    let duplicated: u32 = seen.values().map(|n| n - 1).sum();
    eprintln!(
        "AMQP restart: {attempted} published, {} confirmed, {} consumed (distinct), {} lost, \
         {duplicated} duplicated; the broker was away for {} ms, 200 more consumed {} ms after it was back",
        confirmed.len(),
        seen.len(),
        lost.len(),
        down_for.as_millis(),
        recovered_in.as_millis()
    );
    assert!(
        lost.is_empty(),
        "{} confirmed messages lost, e.g. {:?}",
        lost.len(),
        &lost[..lost.len().min(10)]
    );
    assert!(
        confirmed.len() > 300,
        "the stream was steady: {}",
        confirmed.len()
    );
    server.stop().await;
}

/// The consuming server's `kill -9` and the singleton's takeover: a singleton channel
/// of two server processes consumes a steady stream; its server is killed with SIGKILL
/// mid-stream, the other becomes the singleton and consumes what the dead one had not
/// acknowledged. Defined with the CLI, as a user would.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_confirmed_message_is_lost_when_the_consuming_singleton_is_killed() {
    use crate::cli::{Running, quickstart_cluster_of, signal, start, text, wait_for_ping, zato};
    use crate::zeromq::{LEASE_MS, short_lease, singleton};

    let _broker = BROKER.read().await;
    let vhost = Vhost::new("takeover").await;
    let peer = vhost.peer().await;
    peer.queue("orders", None).await;
    // demo.amqp-transform's default exchange, fanning out to the test's queue.
    peer.fanout_to("orders.summaries", "summaries").await;
    drop(peer);

    let dir = tempfile::tempdir().unwrap();
    let db = crate::harness::TestDb::new(crate::harness::Backend::Postgres, dir.path()).await;
    let env = dir.path().join("env");
    let env_arg = env.to_str().unwrap();
    quickstart_cluster_of("2", env_arg, &["--odb", &db.url]).await;
    let mut servers: std::collections::BTreeMap<String, Running> = Default::default();
    for i in 1..=2 {
        let name = format!("server{i}");
        short_lease(&env.join(&name).join("server.toml"));
        let log = dir.path().join(format!("{name}.log"));
        servers.insert(name.clone(), start(&env.join(&name), &log).await);
    }
    for name in servers.keys() {
        wait_for_ping(&env.join(name)).await;
    }
    let ok = |out: std::process::Output| assert!(out.status.success(), "{}", text(&out.stderr));
    ok(zato(&["deploy", wasm::AMQP_TRANSFORM, "--env", env_arg]).await);
    let url = format!("amqp://guest:guest@127.0.0.1:5672/{}", vhost.name);
    ok(zato(&[
        "outconn",
        "create",
        "amqp",
        "--env",
        env_arg,
        "--name",
        "amqp-out",
        "--amqp-url",
        &url,
    ])
    .await);
    ok(zato(&[
        "channel",
        "create",
        "amqp",
        "--env",
        env_arg,
        "--name",
        "orders-in",
        "--url",
        &url,
        "--queue",
        "orders",
        "--service",
        "demo.amqp-transform",
        "--singleton",
        "--consumers",
        "2",
        "--prefetch",
        "20",
        "--max-redeliveries",
        "1000",
    ])
    .await);
    let (first, pid) = eventually(WAIT, "a singleton", || singleton(env_arg)).await;

    let stop_publishing = tokio_util::sync::CancellationToken::new();
    let stop_consuming = tokio_util::sync::CancellationToken::new();
    let seen: Seen = Arc::default();
    let publisher = tokio::spawn(steady_publisher(
        vhost.name.clone(),
        "orders",
        Duration::from_millis(5),
        stop_publishing.clone(),
    ));
    let consumer = tokio::spawn(steady_consumer(
        vhost.name.clone(),
        "summaries",
        seen.clone(),
        stop_consuming.clone(),
    ));
    eventually(WAIT, "summaries before the kill", || async {
        (seen.lock().unwrap().len() > 100).then_some(())
    })
    .await;

    signal(&pid, "KILL").await;
    let killed = Instant::now();
    let mut victim = servers.remove(&first).unwrap();
    let _ = victim.0.wait().await;
    let (second, _) = eventually(Duration::from_secs(30), "another singleton", || async {
        singleton(env_arg).await.filter(|(name, _)| *name != first)
    })
    .await;
    let took_over = killed.elapsed();
    let at_takeover = seen.lock().unwrap().len();
    eventually(
        Duration::from_secs(60),
        "summaries after the takeover",
        || async { (seen.lock().unwrap().len() > at_takeover + 200).then_some(()) },
    )
    .await;
    stop_publishing.cancel();
    let (confirmed, attempted) = publisher.await.unwrap();
    let all_seen = || {
        let seen = seen.lock().unwrap();
        confirmed.iter().all(|id| seen.contains_key(id))
    };
    let limit = Instant::now() + Duration::from_secs(60);
    while !all_seen() && Instant::now() < limit {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop_consuming.cancel();
    consumer.await.unwrap();
    let seen = seen.lock().unwrap().clone();
    let lost: Vec<_> = confirmed
        .iter()
        .filter(|id| !seen.contains_key(id))
        .collect();
    let duplicated: u32 = seen.values().map(|n| n - 1).sum();
    eprintln!(
        "AMQP kill -9: {attempted} published, {} confirmed, {} consumed (distinct), {} lost, \
         {duplicated} duplicated; {first} killed, {second} the singleton {} ms later (lease {LEASE_MS} ms)",
        confirmed.len(),
        seen.len(),
        lost.len(),
        took_over.as_millis(),
    );
    assert!(
        lost.is_empty(),
        "{} confirmed messages lost, e.g. {:?}",
        lost.len(),
        &lost[..lost.len().min(10)]
    );
    assert!(
        confirmed.len() > 300,
        "the stream was steady: {}",
        confirmed.len()
    );
    for server in servers.values() {
        if let Some(pid) = server.0.id() {
            signal(&pid.to_string(), "TERM").await;
        }
    }
    for (_, mut server) in servers {
        let _ = tokio::time::timeout(Duration::from_secs(20), server.0.wait()).await;
    }
    db.drop_database().await;
}
