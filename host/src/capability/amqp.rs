//! `zato:service/amqp`: publishing to the AMQP brokers an administrator configured as
//! named outgoing connections (`crate::outconn::amqp`).
//!
//! This module checks every argument of the guest before anything is sent (sizes
//! first, property names from the WIT's list only, each once, with values of their
//! type) and maps [`PublishError`] to the guest's `amqp-error`; connecting, confirms
//! and time limits are `outconn::amqp`'s. A hostile argument is an error value for the
//! guest, never a trap or a panic.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use wasmtime::component::{HasData, Linker};

use crate::outconn::amqp::{AmqpConn, MAX_PAYLOAD_BYTES, Message, Properties, PublishError};
use crate::outconn::{OutconnError, Outconns};
use crate::wit::zato::service::amqp::{self, AmqpError, Host};

/// Longest connection name accepted: a longer one cannot be configured.
pub const MAX_NAME_BYTES: usize = crate::api::MAX_SERVICE_NAME;
/// Longest exchange, routing key, property value or header name: AMQP's short string.
pub const MAX_SHORT_BYTES: usize = 255;
/// Most headers a message may carry.
pub const MAX_HEADERS: usize = 100;
/// Most bytes of header names and values together: the properties travel in one
/// frame, which the broker caps (RabbitMQ's `frame_max` is 128 KiB by default).
pub const MAX_HEADER_BYTES: usize = 64 << 10;

/// The properties a message may set, as the WIT names them.
pub const PROPERTIES: [&str; 12] = [
    "content-type",
    "content-encoding",
    "correlation-id",
    "message-id",
    "reply-to",
    "type",
    "app-id",
    "user-id",
    "expiration",
    "priority",
    "timestamp",
    "delivery-mode",
];

/// What the `amqp` import reaches of a call: the server's connections and the deadline
/// of the request being handled.
pub struct AmqpView {
    /// `None` only while the server shuts down.
    pub outconns: Option<Arc<Outconns>>,
    pub deadline: Instant,
}

struct Amqp;

impl HasData for Amqp {
    type Data<'a> = AmqpView;
}

/// Links `amqp`, building each call's [`AmqpView`] with `get`.
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> AmqpView,
) -> wasmtime::Result<()> {
    amqp::add_to_linker::<T, Amqp>(linker, get)
}

impl From<PublishError> for AmqpError {
    fn from(err: PublishError) -> Self {
        let message = err.to_string();
        match err {
            PublishError::Unroutable(_) => Self::Unroutable(message),
            PublishError::Outconn(err) => match err {
                OutconnError::NotFound(..) => Self::NotFound(message),
                OutconnError::Inactive(..) => Self::Inactive(message),
                OutconnError::Misconfigured(..) => Self::Misconfigured(message),
                OutconnError::BadRequest(_) => Self::BadRequest(message),
                OutconnError::Timeout(_) => Self::Timeout(message),
                OutconnError::Remote(_) => Self::Remote(message),
            },
        }
    }
}

impl AmqpView {
    fn conn(&self, name: &str) -> Result<Arc<AmqpConn>, AmqpError> {
        if name.is_empty() || name.len() > MAX_NAME_BYTES {
            return Err(AmqpError::BadRequest(format!(
                "invalid connection name ({} bytes): must be 1 to {MAX_NAME_BYTES} bytes",
                name.len()
            )));
        }
        let outconns = self
            .outconns
            .as_ref()
            .ok_or_else(|| AmqpError::Remote("the server is shutting down".into()))?;
        outconns
            .amqp(name)
            .map_err(|e| AmqpError::from(PublishError::from(e)))
    }
}

/// The guest's message, checked, or why it is refused.
pub fn message(message: amqp::Message) -> Result<Message, String> {
    if message.payload.len() > MAX_PAYLOAD_BYTES {
        return Err(format!(
            "a payload of {} bytes refused: at most {MAX_PAYLOAD_BYTES}",
            message.payload.len()
        ));
    }
    for (what, value) in [
        ("the exchange", &message.exchange),
        ("the routing key", &message.routing_key),
    ] {
        if value.len() > MAX_SHORT_BYTES {
            return Err(format!(
                "{what} of {} bytes refused: at most {MAX_SHORT_BYTES}",
                value.len()
            ));
        }
    }
    let properties = properties(&message.properties, &message.headers)?;
    Ok(Message {
        exchange: message.exchange,
        routing_key: message.routing_key,
        payload: message.payload,
        properties,
        mandatory: message.mandatory,
    })
}

/// The AMQP properties of the guest's `properties` and `headers`; persistent unless
/// `delivery-mode` says `1`.
pub fn properties(
    properties: &[(String, String)],
    headers: &[(String, String)],
) -> Result<Properties, String> {
    if properties.len() > PROPERTIES.len() {
        return Err(format!(
            "{} properties refused: a message has at most one of each of {}",
            properties.len(),
            PROPERTIES.join(", ")
        ));
    }
    let mut out = Properties::default().with_delivery_mode(2);
    let mut seen = Vec::with_capacity(properties.len());
    for (name, value) in properties {
        let Some(&name) = PROPERTIES.iter().find(|known| **known == name) else {
            return Err(format!(
                "unknown property `{}`: one of {}",
                shown(name),
                PROPERTIES.join(", ")
            ));
        };
        if seen.contains(&name) {
            return Err(format!("the property `{name}` is given twice"));
        }
        seen.push(name);
        if value.len() > MAX_SHORT_BYTES {
            return Err(format!(
                "the property `{name}` of {} bytes refused: at most {MAX_SHORT_BYTES}",
                value.len()
            ));
        }
        let short = || ShortString::try_new(value.as_str()).map_err(|e| e.to_string());
        let number = |what: &str| {
            format!(
                "the property `{name}` is `{}`: it must be {what}",
                shown(value)
            )
        };
        out = match name {
            "content-type" => out.with_content_type(short()?),
            "content-encoding" => out.with_content_encoding(short()?),
            "correlation-id" => out.with_correlation_id(short()?),
            "message-id" => out.with_message_id(short()?),
            "reply-to" => out.with_reply_to(short()?),
            "type" => out.with_type(short()?),
            "app-id" => out.with_app_id(short()?),
            "user-id" => out.with_user_id(short()?),
            "expiration" => {
                // RabbitMQ takes a count of milliseconds written in decimal and closes
                // the channel on anything else.
                if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(number("a number of milliseconds (digits only)"));
                }
                out.with_expiration(short()?)
            }
            "priority" => out.with_priority(
                value
                    .parse::<u8>()
                    .map_err(|_| number("a number from 0 to 255"))?,
            ),
            "timestamp" => out.with_timestamp(
                value
                    .parse::<u64>()
                    .map_err(|_| number("seconds since the Unix epoch"))?,
            ),
            "delivery-mode" => match value.as_str() {
                "1" => out.with_delivery_mode(1),
                "2" => out.with_delivery_mode(2),
                _ => return Err(number("1 (transient) or 2 (persistent)")),
            },
            _ => unreachable!("every name of PROPERTIES is handled"),
        };
    }
    if !headers.is_empty() {
        out = out.with_headers(header_table(headers)?);
    }
    Ok(out)
}

fn header_table(headers: &[(String, String)]) -> Result<FieldTable, String> {
    if headers.len() > MAX_HEADERS {
        return Err(format!(
            "{} headers refused: at most {MAX_HEADERS}",
            headers.len()
        ));
    }
    let total: usize = headers.iter().map(|(n, v)| n.len() + v.len()).sum();
    if total > MAX_HEADER_BYTES {
        return Err(format!(
            "headers of {total} bytes refused: at most {MAX_HEADER_BYTES} together"
        ));
    }
    let mut table = BTreeMap::new();
    for (name, value) in headers {
        if name.is_empty() || name.len() > MAX_SHORT_BYTES {
            return Err(format!(
                "a header name of {} bytes refused: 1 to {MAX_SHORT_BYTES}",
                name.len()
            ));
        }
        let key = ShortString::try_new(name.as_str()).map_err(|e| e.to_string())?;
        let value = AMQPValue::LongString(LongString::from(value.as_bytes()));
        if table.insert(key, value).is_some() {
            return Err(format!("the header `{}` is given twice", shown(name)));
        }
    }
    Ok(FieldTable::from(table))
}

/// A guest's string in a message: escaped, and cut to a length a log can hold.
fn shown(value: &str) -> String {
    let escaped = value.escape_default().to_string();
    match escaped.char_indices().nth(64) {
        Some((at, _)) => format!("{}...", &escaped[..at]),
        None => escaped,
    }
}

impl Host for AmqpView {
    async fn publish(
        &mut self,
        connection: String,
        message: amqp::Message,
    ) -> wasmtime::Result<Result<(), AmqpError>> {
        let message = match self::message(message) {
            Ok(message) => message,
            Err(why) => return Ok(Err(AmqpError::BadRequest(why))),
        };
        let conn = match self.conn(&connection) {
            Ok(conn) => conn,
            Err(err) => return Ok(Err(err)),
        };
        Ok(conn
            .publish(message, self.deadline)
            .await
            .map_err(AmqpError::from))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn wit_message(properties: &[(&str, &str)]) -> amqp::Message {
        amqp::Message {
            exchange: "orders".into(),
            routing_key: "new".into(),
            payload: b"{}".to_vec(),
            properties: pairs(properties),
            headers: pairs(&[("x-source", "crm")]),
            mandatory: true,
        }
    }

    #[test]
    fn every_property_of_the_wit_is_set_and_messages_are_persistent_by_default() {
        let all = [
            ("content-type", "application/json"),
            ("content-encoding", "utf-8"),
            ("correlation-id", "c-1"),
            ("message-id", "m-1"),
            ("reply-to", "answers"),
            ("type", "order.created"),
            ("app-id", "crm"),
            ("user-id", "guest"),
            ("expiration", "60000"),
            ("priority", "255"),
            ("timestamp", "1700000000"),
            ("delivery-mode", "1"),
        ];
        let checked = message(wit_message(&all)).unwrap();
        let p = &checked.properties;
        assert_eq!(
            p.content_type().as_ref().unwrap().as_str(),
            "application/json"
        );
        assert_eq!(p.content_encoding().as_ref().unwrap().as_str(), "utf-8");
        assert_eq!(p.correlation_id().as_ref().unwrap().as_str(), "c-1");
        assert_eq!(p.message_id().as_ref().unwrap().as_str(), "m-1");
        assert_eq!(p.reply_to().as_ref().unwrap().as_str(), "answers");
        assert_eq!(p.kind().as_ref().unwrap().as_str(), "order.created");
        assert_eq!(p.app_id().as_ref().unwrap().as_str(), "crm");
        assert_eq!(p.user_id().as_ref().unwrap().as_str(), "guest");
        assert_eq!(p.expiration().as_ref().unwrap().as_str(), "60000");
        assert_eq!(*p.priority(), Some(255));
        assert_eq!(*p.timestamp(), Some(1_700_000_000));
        assert_eq!(*p.delivery_mode(), Some(1));
        let headers = p.headers().as_ref().unwrap();
        assert_eq!(
            headers.inner().get("x-source"),
            Some(&AMQPValue::LongString("crm".into()))
        );
        assert!(checked.mandatory);

        let plain = message(wit_message(&[])).unwrap();
        assert_eq!(*plain.properties.delivery_mode(), Some(2));
    }

    #[test]
    fn a_bad_argument_is_refused_naming_what_was_wrong() {
        for (properties, why) in [
            (vec![("colour", "red")], "unknown property `colour`"),
            (vec![("priority", "256")], "0 to 255"),
            (vec![("priority", "-1")], "0 to 255"),
            (vec![("delivery-mode", "3")], "1 (transient) or 2"),
            (vec![("timestamp", "yesterday")], "seconds since"),
            (vec![("expiration", "1.5")], "milliseconds"),
            (
                vec![("message-id", "a"), ("message-id", "b")],
                "given twice",
            ),
        ] {
            let err = message(wit_message(&properties)).unwrap_err();
            assert!(err.contains(why), "{properties:?}: {err}");
        }
        let long = "x".repeat(256);
        let err = message(wit_message(&[("correlation-id", &long)])).unwrap_err();
        assert!(err.contains("256 bytes"), "{err}");
        let err = message(amqp::Message {
            routing_key: long.clone(),
            ..wit_message(&[])
        })
        .unwrap_err();
        assert!(err.contains("routing key"), "{err}");
        let err = message(amqp::Message {
            payload: vec![0; MAX_PAYLOAD_BYTES + 1],
            ..wit_message(&[])
        })
        .unwrap_err();
        assert!(err.contains("payload"), "{err}");
        let many: Vec<(String, String)> = (0..=MAX_HEADERS)
            .map(|i| (format!("h{i}"), String::new()))
            .collect();
        let err = message(amqp::Message {
            headers: many,
            ..wit_message(&[])
        })
        .unwrap_err();
        assert!(err.contains("headers refused"), "{err}");
        let err = message(amqp::Message {
            headers: pairs(&[("a", "1"), ("a", "2")]),
            ..wit_message(&[])
        })
        .unwrap_err();
        assert!(err.contains("`a` is given twice"), "{err}");
        let err = message(amqp::Message {
            headers: vec![("big".into(), "v".repeat(MAX_HEADER_BYTES))],
            ..wit_message(&[])
        })
        .unwrap_err();
        assert!(err.contains("together"), "{err}");
    }

    #[tokio::test]
    async fn an_unknown_connection_or_name_is_a_clear_error() {
        let mut view = AmqpView {
            outconns: Some(Arc::default()),
            deadline: Instant::now() + std::time::Duration::from_secs(5),
        };
        let err = view
            .publish("nope".into(), wit_message(&[]))
            .await
            .unwrap()
            .unwrap_err();
        assert!(
            matches!(&err, AmqpError::NotFound(m) if m.contains("`nope`")),
            "{err:?}"
        );
        let err = view
            .publish(String::new(), wit_message(&[]))
            .await
            .unwrap()
            .unwrap_err();
        assert!(matches!(err, AmqpError::BadRequest(_)), "{err:?}");
        let err = view
            .publish("nope".into(), wit_message(&[("x", "1")]))
            .await
            .unwrap()
            .unwrap_err();
        assert!(
            matches!(&err, AmqpError::BadRequest(m) if m.contains("unknown property `x`")),
            "{err:?}"
        );
    }
}
