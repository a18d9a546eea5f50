//! One AMQP delivery: what its service reads of it ([`AmqpDetails`]), how many times it
//! was delivered before ([`Redeliveries`]), and what becomes of it once the service
//! answered ([`verdict`]).

use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use lapin::BasicProperties;
use lapin::message::Delivery;
use lapin::types::AMQPValue;
use sha2::{Digest as _, Sha256};

use crate::runtime::{CallError, ErrorKind, RequestDetails};

/// How long a delivery whose service is not loaded (the server is starting), not
/// deployed, or busy waits before it is requeued: it is not the message's fault, and
/// requeuing at once would spin.
pub const NOT_READY_PAUSE: Duration = Duration::from_secs(1);
/// How long a delivery whose service answered `retry` waits before it is requeued.
pub const RETRY_PAUSE: Duration = Duration::from_millis(100);
/// How many deliveries the channel's own count remembers (per channel and server).
pub const MAX_TRACKED: usize = 10_000;

/// What the service reads of a delivery: the `amqp` detail keys of the WIT, in its
/// order, and the message's headers.
pub struct AmqpDetails {
    pub channel: std::sync::Arc<str>,
    pub details: Vec<(&'static str, String)>,
    pub headers: Vec<(String, String)>,
}

impl AmqpDetails {
    /// The details of `delivery`, consumed from `queue`, delivered `count` times before.
    pub fn new(channel: std::sync::Arc<str>, queue: &str, delivery: &Delivery, count: u64) -> Self {
        let mut details = vec![
            ("queue", queue.to_owned()),
            ("exchange", delivery.exchange.as_str().to_owned()),
            ("routing-key", delivery.routing_key.as_str().to_owned()),
            ("redelivered", delivery.redelivered.to_string()),
            ("delivery-count", count.to_string()),
        ];
        let p = &delivery.properties;
        let short = |value: &Option<lapin::types::ShortString>| {
            value.as_ref().map(|s| s.as_str().to_owned())
        };
        for (key, value) in [
            ("content-type", short(p.content_type())),
            ("content-encoding", short(p.content_encoding())),
            ("correlation-id", short(p.correlation_id())),
            ("message-id", short(p.message_id())),
            ("reply-to", short(p.reply_to())),
            ("type", short(p.kind())),
            ("app-id", short(p.app_id())),
            ("user-id", short(p.user_id())),
            ("timestamp", p.timestamp().map(|t| t.to_string())),
            ("expiration", short(p.expiration())),
            ("priority", p.priority().map(|v| v.to_string())),
            ("delivery-mode", p.delivery_mode().map(|v| v.to_string())),
        ] {
            if let Some(value) = value {
                details.push((key, value));
            }
        }
        let headers = p
            .headers()
            .as_ref()
            .map(|table| {
                table
                    .into_iter()
                    .map(|(name, value)| (name.as_str().to_ascii_lowercase(), text(value)))
                    .collect()
            })
            .unwrap_or_default();
        Self {
            channel,
            details,
            headers,
        }
    }
}

impl RequestDetails for AmqpDetails {
    fn channel_name(&self) -> &str {
        &self.channel
    }

    fn details(&self) -> Vec<(&str, Cow<'_, str>)> {
        self.details
            .iter()
            .map(|(key, value)| (*key, Cow::Borrowed(value.as_str())))
            .collect()
    }

    fn headers(&self) -> Vec<(&str, &str)> {
        self.headers
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()))
            .collect()
    }
}

/// A header's value as the service reads it: a string as it is (invalid UTF-8
/// replaced), anything else as its JSON text.
fn text(value: &AMQPValue) -> String {
    match value {
        AMQPValue::LongString(s) => String::from_utf8_lossy(s.as_bytes()).into_owned(),
        AMQPValue::ShortString(s) => s.as_str().to_owned(),
        other => json(other).to_string(),
    }
}

fn json(value: &AMQPValue) -> serde_json::Value {
    use serde_json::Value;
    match value {
        AMQPValue::Boolean(b) => Value::Bool(*b),
        AMQPValue::ShortShortInt(n) => (*n).into(),
        AMQPValue::ShortShortUInt(n) => (*n).into(),
        AMQPValue::ShortInt(n) => (*n).into(),
        AMQPValue::ShortUInt(n) => (*n).into(),
        AMQPValue::LongInt(n) => (*n).into(),
        AMQPValue::LongUInt(n) => (*n).into(),
        AMQPValue::LongLongInt(n) => (*n).into(),
        AMQPValue::Timestamp(n) => (*n).into(),
        AMQPValue::Float(f) => {
            serde_json::Number::from_f64(f64::from(*f)).map_or(Value::Null, Value::Number)
        }
        AMQPValue::Double(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
        AMQPValue::DecimalValue(d) => {
            let value = f64::from(d.value) / 10f64.powi(i32::from(d.scale));
            serde_json::Number::from_f64(value).map_or(Value::Null, Value::Number)
        }
        AMQPValue::ShortString(s) => Value::String(s.as_str().to_owned()),
        AMQPValue::LongString(s) => {
            Value::String(String::from_utf8_lossy(s.as_bytes()).into_owned())
        }
        AMQPValue::FieldArray(items) => Value::Array(items.as_slice().iter().map(json).collect()),
        AMQPValue::FieldTable(table) => Value::Object(
            table
                .into_iter()
                .map(|(k, v)| (k.as_str().to_owned(), json(v)))
                .collect(),
        ),
        AMQPValue::ByteArray(bytes) => {
            Value::Array(bytes.as_slice().iter().map(|b| (*b).into()).collect())
        }
        AMQPValue::Void => Value::Null,
    }
}

/// The broker's count of earlier deliveries (`x-delivery-count`, set by quorum
/// queues), if the message carries it.
pub fn broker_count(properties: &BasicProperties) -> Option<u64> {
    let value = properties
        .headers()
        .as_ref()?
        .inner()
        .get("x-delivery-count")?;
    match value {
        AMQPValue::ShortShortUInt(n) => Some(u64::from(*n)),
        AMQPValue::ShortUInt(n) => Some(u64::from(*n)),
        AMQPValue::LongUInt(n) => Some(u64::from(*n)),
        AMQPValue::Timestamp(n) => Some(*n),
        AMQPValue::ShortShortInt(n) => u64::try_from(*n).ok(),
        AMQPValue::ShortInt(n) => u64::try_from(*n).ok(),
        AMQPValue::LongInt(n) => u64::try_from(*n).ok(),
        AMQPValue::LongLongInt(n) => u64::try_from(*n).ok(),
        _ => None,
    }
}

/// The channel's own count of how many times each message it requeued was delivered,
/// for queues whose broker does not count (classic queues give only a `redelivered`
/// flag).
///
/// How precise it is: a message is known by its `message-id` property, or else by a
/// hash of its exchange, routing key and body, so two messages with the same id (or the
/// same body and no id) share a count; the count is this server's and this channel's
/// only (with competing consumers on several servers, a message may be requeued up to
/// `max_redeliveries` times by each), it is lost on a restart, and it remembers the
/// last [`MAX_TRACKED`] messages requeued (an older one starts again from 1). A first
/// delivery (the broker's `redelivered` is false) always counts 0, and a redelivery the
/// channel does not remember counts at least 1.
#[derive(Default)]
pub struct Redeliveries {
    inner: Mutex<Tracked>,
}

#[derive(Default)]
struct Tracked {
    counts: HashMap<[u8; 32], u64>,
    /// Keys in the order they were first counted, to forget the oldest.
    order: VecDeque<[u8; 32]>,
}

/// What identifies a message for [`Redeliveries`].
pub fn key(delivery: &Delivery) -> [u8; 32] {
    let mut hash = Sha256::new();
    match delivery.properties.message_id() {
        Some(id) => {
            hash.update(b"id\0");
            hash.update(id.as_str().as_bytes());
        }
        None => {
            hash.update(b"body\0");
            hash.update(delivery.exchange.as_str().as_bytes());
            hash.update(b"\0");
            hash.update(delivery.routing_key.as_str().as_bytes());
            hash.update(b"\0");
            hash.update(&delivery.data);
        }
    }
    hash.finalize().into()
}

impl Redeliveries {
    /// How many times the message was delivered before this delivery.
    pub fn count(&self, key: &[u8; 32], redelivered: bool) -> u64 {
        let mut tracked = self.inner.lock().expect("not poisoned");
        if !redelivered {
            tracked.counts.remove(key);
            return 0;
        }
        tracked.counts.get(key).copied().unwrap_or(0).max(1)
    }

    /// Records that the message is requeued after a delivery that was its `count + 1`th.
    pub fn requeued(&self, key: [u8; 32], count: u64) {
        let mut tracked = self.inner.lock().expect("not poisoned");
        if tracked.counts.insert(key, count + 1).is_none() {
            tracked.order.push_back(key);
        }
        while tracked.counts.len() > MAX_TRACKED || tracked.order.len() > 2 * MAX_TRACKED {
            let Some(oldest) = tracked.order.pop_front() else {
                break;
            };
            tracked.counts.remove(&oldest);
        }
    }

    /// Forgets the message: it was acknowledged or rejected.
    pub fn done(&self, key: &[u8; 32]) {
        self.inner.lock().expect("not poisoned").counts.remove(key);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.inner.lock().unwrap().counts.len()
    }
}

/// What becomes of a delivery once its service answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The service succeeded.
    Ack,
    /// Back to the queue, after `pause`; `counted` says whether it counts as a failed
    /// delivery of the message.
    Requeue { pause: Duration, counted: bool },
    /// Rejected without requeue: the broker dead-letters it when the queue has a
    /// dead-letter exchange, and drops it otherwise.
    Reject,
}

/// What becomes of a delivery delivered `count` times before, given the outcome of its
/// call: acknowledged after a success; requeued when the service is not there yet (not
/// loaded, not deployed, busy: not the message's fault, and a message is never lost to
/// a configuration that is about to be fixed) or asked to `retry`; on any other error,
/// a trap or a timeout, requeued while it was redelivered fewer than `max` times and
/// rejected after that.
pub fn verdict<T>(outcome: &Result<T, CallError>, count: u64, max: u32) -> Verdict {
    let Err(error) = outcome else {
        return Verdict::Ack;
    };
    match error {
        CallError::NotLoaded(_) | CallError::NotDeployed(_) | CallError::Busy { .. } => {
            Verdict::Requeue {
                pause: NOT_READY_PAUSE,
                counted: false,
            }
        }
        _ if error.kind() == ErrorKind::Retry => Verdict::Requeue {
            pause: RETRY_PAUSE,
            counted: true,
        },
        _ if count < u64::from(max) => Verdict::Requeue {
            pause: Duration::ZERO,
            counted: true,
        },
        _ => Verdict::Reject,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::ServiceError;
    use lapin::types::{FieldArray, FieldTable, LongString, ShortString};

    fn delivery(body: &[u8], redelivered: bool, properties: BasicProperties) -> Delivery {
        let mut d = Delivery::mock(7, "orders".into(), "new".into(), redelivered, body.to_vec());
        d.properties = properties;
        d
    }

    #[test]
    fn the_service_reads_the_detail_keys_of_the_wit_and_the_headers() {
        let mut headers = std::collections::BTreeMap::new();
        headers.insert(
            ShortString::from("X-Source"),
            AMQPValue::LongString(LongString::from("crm")),
        );
        headers.insert(ShortString::from("attempt"), AMQPValue::LongInt(3));
        headers.insert(
            ShortString::from("tags"),
            AMQPValue::FieldArray(FieldArray::from(vec![AMQPValue::Boolean(true)])),
        );
        let properties = BasicProperties::default()
            .with_content_type("application/json".into())
            .with_correlation_id("c-1".into())
            .with_message_id("m-1".into())
            .with_timestamp(1_700_000_000)
            .with_priority(5)
            .with_delivery_mode(2)
            .with_headers(FieldTable::from(headers));
        let d = delivery(b"{}", true, properties);
        let details = AmqpDetails::new("orders-in".into(), "orders.q", &d, 2);
        assert_eq!(details.channel_name(), "orders-in");
        let keys: Vec<_> = details
            .details()
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        assert_eq!(
            keys,
            [
                "queue=orders.q",
                "exchange=orders",
                "routing-key=new",
                "redelivered=true",
                "delivery-count=2",
                "content-type=application/json",
                "correlation-id=c-1",
                "message-id=m-1",
                "timestamp=1700000000",
                "priority=5",
                "delivery-mode=2",
            ]
        );
        assert_eq!(details.detail("correlation-id").as_deref(), Some("c-1"));
        assert_eq!(details.detail("reply-to"), None);
        assert_eq!(details.header("x-source"), Some("crm"));
        assert_eq!(details.header("attempt"), Some("3"));
        assert_eq!(details.header("tags"), Some("[true]"));
    }

    #[test]
    fn the_broker_count_is_read_from_x_delivery_count() {
        let mut headers = std::collections::BTreeMap::new();
        headers.insert(
            ShortString::from("x-delivery-count"),
            AMQPValue::LongLongInt(4),
        );
        let p = BasicProperties::default().with_headers(FieldTable::from(headers));
        assert_eq!(broker_count(&p), Some(4));
        assert_eq!(broker_count(&BasicProperties::default()), None);
    }

    #[test]
    fn the_own_count_follows_a_message_through_its_redeliveries_and_stays_bounded() {
        let counts = Redeliveries::default();
        let first = delivery(b"order 1", false, BasicProperties::default());
        let k = key(&first);
        assert_eq!(counts.count(&k, false), 0);
        counts.requeued(k, 0);
        assert_eq!(counts.count(&k, true), 1);
        counts.requeued(k, 1);
        assert_eq!(counts.count(&k, true), 2);
        // Another body is another message; a message id wins over the body.
        let other = delivery(b"order 2", true, BasicProperties::default());
        assert_ne!(key(&other), k);
        assert_eq!(
            counts.count(&key(&other), true),
            1,
            "a redelivery counts at least 1"
        );
        let a = delivery(
            b"x",
            false,
            BasicProperties::default().with_message_id("m".into()),
        );
        let b = delivery(
            b"y",
            false,
            BasicProperties::default().with_message_id("m".into()),
        );
        assert_eq!(key(&a), key(&b));
        // A first delivery starts again from 0; done forgets.
        assert_eq!(counts.count(&k, false), 0);
        counts.requeued(k, 0);
        counts.done(&k);
        assert_eq!(counts.count(&k, true), 1);
        for i in 0..(MAX_TRACKED as u64 + 50) {
            counts.requeued(
                key(&delivery(
                    &i.to_be_bytes(),
                    false,
                    BasicProperties::default(),
                )),
                0,
            );
        }
        assert!(counts.len() <= MAX_TRACKED, "{}", counts.len());
    }

    #[test]
    fn failures_requeue_until_max_redeliveries_then_reject() {
        let ok: Result<(), CallError> = Ok(());
        assert_eq!(verdict(&ok, 9, 0), Verdict::Ack);
        let trap: Result<(), CallError> = Err(CallError::Trap {
            service: "s".into(),
            message: "boom".into(),
        });
        assert_eq!(verdict(&trap, 0, 0), Verdict::Reject);
        assert_eq!(
            verdict(&trap, 0, 2),
            Verdict::Requeue {
                pause: Duration::ZERO,
                counted: true
            }
        );
        assert_eq!(
            verdict(&trap, 1, 2),
            Verdict::Requeue {
                pause: Duration::ZERO,
                counted: true
            }
        );
        assert_eq!(verdict(&trap, 2, 2), Verdict::Reject);
        let retry: Result<(), CallError> = Err(CallError::Service {
            service: "s".into(),
            error: ServiceError::Retry("later".into()),
        });
        assert_eq!(
            verdict(&retry, 100, 0),
            Verdict::Requeue {
                pause: RETRY_PAUSE,
                counted: true
            }
        );
        let loading: Result<(), CallError> = Err(CallError::NotLoaded("s".into()));
        assert_eq!(
            verdict(&loading, 100, 0),
            Verdict::Requeue {
                pause: NOT_READY_PAUSE,
                counted: false
            }
        );
        let timeout: Result<(), CallError> = Err(CallError::Timeout {
            service: "s".into(),
            after: Duration::from_secs(1),
        });
        assert_eq!(verdict(&timeout, 0, 0), Verdict::Reject);
    }
}
