//! Publishing to AMQP brokers (RabbitMQ) through the outgoing connections an
//! administrator configured, by name.
//!
//! ```no_run
//! use zato_sdk::{Error, amqp};
//!
//! let message = amqp::Message::new("orders", "order.created", br#"{"id": 42}"#)
//!     .property("content-type", "application/json")
//!     .property("correlation-id", "c-42")
//!     .header("x-source", "crm")
//!     .mandatory();
//! amqp::publish("broker", &message)?;
//! # Ok::<(), Error>(())
//! ```
//!
//! [`publish`] answers once the broker confirmed the message (a publisher confirm): an
//! `Ok` means the broker has it. A [`Message::mandatory`] message that no queue takes
//! comes back as [`AmqpError::Unroutable`]. Messages are persistent unless the property
//! `delivery-mode` says `1`.
//!
//! The properties a message may set are `content-type`, `content-encoding`,
//! `correlation-id`, `message-id`, `reply-to`, `type`, `app-id`, `user-id`,
//! `expiration` (milliseconds, digits only), `priority` (0 to 255), `timestamp`
//! (seconds since the Unix epoch) and `delivery-mode` (`1` transient, `2` persistent);
//! any other name, a property given twice, a bad value, an exchange or a routing key
//! over 255 bytes, more than 100 headers or a payload over 16 MiB is refused before
//! anything is sent ([`AmqpError::BadRequest`]). Every call is bounded by the
//! connection's timeout and the request's deadline.
//!
//! An [`AmqpError`] converts into the service's [`Error`], so `?` works in a service: a
//! missing connection is [`Error::NotFound`], a refused message [`Error::BadRequest`],
//! a timeout, an inactive connection or a broker out of reach [`Error::Retry`] (a
//! service fed by an AMQP channel then gets its message again), anything else
//! [`Error::Internal`].
//!
//! Outside a zato host (in a native unit test) no connection is configured: every call
//! fails with [`AmqpError::NotFound`].

use std::fmt;

use crate::Error;

/// One message to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    exchange: String,
    routing_key: String,
    payload: Vec<u8>,
    properties: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    mandatory: bool,
}

impl Message {
    /// A message for `exchange` (empty for the default exchange, which routes by queue
    /// name) with `routing_key`: persistent, not mandatory, no headers.
    pub fn new(exchange: &str, routing_key: &str, payload: impl Into<Vec<u8>>) -> Self {
        Self {
            exchange: exchange.to_owned(),
            routing_key: routing_key.to_owned(),
            payload: payload.into(),
            properties: Vec::new(),
            headers: Vec::new(),
            mandatory: false,
        }
    }

    /// Sets the property `name` (see the module's documentation for the names).
    pub fn property(mut self, name: &str, value: impl Into<String>) -> Self {
        self.properties.push((name.to_owned(), value.into()));
        self
    }

    /// Adds the header `name`, a string.
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_owned(), value.into()));
        self
    }

    /// The broker must route it to a queue: if none takes it, [`publish`] fails with
    /// [`AmqpError::Unroutable`].
    pub fn mandatory(mut self) -> Self {
        self.mandatory = true;
        self
    }

    /// The exchange.
    pub fn exchange(&self) -> &str {
        &self.exchange
    }

    /// The routing key.
    pub fn routing_key(&self) -> &str {
        &self.routing_key
    }

    /// The payload.
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// The properties set, in order.
    pub fn properties(&self) -> &[(String, String)] {
        &self.properties
    }

    /// The headers, in order.
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// Whether it is mandatory.
    pub fn is_mandatory(&self) -> bool {
        self.mandatory
    }
}

/// Why a publish failed; converts into the service's [`Error`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AmqpError {
    /// No AMQP connection of that name is configured.
    NotFound(String),
    /// The connection is configured but inactive.
    Inactive(String),
    /// The connection's definition cannot be used: an administrator must fix it.
    Misconfigured(String),
    /// The message was refused before anything was sent.
    BadRequest(String),
    /// No confirm came in time: the broker may or may not have the message.
    Timeout(String),
    /// The broker could not be reached, or refused the message (a nack, an exchange
    /// that does not exist).
    Remote(String),
    /// A mandatory message no queue took: the broker returned it.
    Unroutable(String),
}

impl AmqpError {
    /// The message the error carries.
    pub fn message(&self) -> &str {
        match self {
            Self::NotFound(m)
            | Self::Inactive(m)
            | Self::Misconfigured(m)
            | Self::BadRequest(m)
            | Self::Timeout(m)
            | Self::Remote(m)
            | Self::Unroutable(m) => m,
        }
    }
}

impl fmt::Display for AmqpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for AmqpError {}

impl From<AmqpError> for Error {
    fn from(err: AmqpError) -> Self {
        match err {
            AmqpError::NotFound(m) => Error::NotFound(m),
            AmqpError::BadRequest(m) => Error::BadRequest(m),
            AmqpError::Inactive(m) | AmqpError::Timeout(m) | AmqpError::Remote(m) => {
                Error::Retry(m)
            }
            AmqpError::Misconfigured(m) | AmqpError::Unroutable(m) => Error::Internal(m),
        }
    }
}

/// Publishes `message` through the connection `connection` and waits for the broker's
/// confirm.
///
/// # Errors
///
/// See [`AmqpError`].
pub fn publish(connection: &str, message: &Message) -> Result<(), AmqpError> {
    host::publish(connection, message)
}

#[cfg(target_arch = "wasm32")]
mod host {
    use super::*;
    use crate::bindings::zato::service::amqp as wit;

    fn error(err: wit::AmqpError) -> AmqpError {
        match err {
            wit::AmqpError::NotFound(m) => AmqpError::NotFound(m),
            wit::AmqpError::Inactive(m) => AmqpError::Inactive(m),
            wit::AmqpError::Misconfigured(m) => AmqpError::Misconfigured(m),
            wit::AmqpError::BadRequest(m) => AmqpError::BadRequest(m),
            wit::AmqpError::Timeout(m) => AmqpError::Timeout(m),
            wit::AmqpError::Remote(m) => AmqpError::Remote(m),
            wit::AmqpError::Unroutable(m) => AmqpError::Unroutable(m),
        }
    }

    pub(super) fn publish(connection: &str, message: &Message) -> Result<(), AmqpError> {
        let message = wit::Message {
            exchange: message.exchange.clone(),
            routing_key: message.routing_key.clone(),
            payload: message.payload.clone(),
            properties: message.properties.clone(),
            headers: message.headers.clone(),
            mandatory: message.mandatory,
        };
        crate::import(|| wit::publish(connection, &message)).map_err(error)
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod host {
    use super::*;

    pub(super) fn publish(connection: &str, _: &Message) -> Result<(), AmqpError> {
        Err(AmqpError::NotFound(format!(
            "no amqp connection named `{connection}` is configured: amqp needs a zato host"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_keeps_what_it_was_given_and_natively_no_connection_is_configured() {
        let message = Message::new("orders", "new", "{}")
            .property("content-type", "application/json")
            .header("x-source", "crm")
            .mandatory();
        assert_eq!(message.exchange(), "orders");
        assert_eq!(message.routing_key(), "new");
        assert_eq!(message.payload(), b"{}");
        assert_eq!(
            message.properties(),
            [("content-type".to_owned(), "application/json".to_owned())]
        );
        assert_eq!(
            message.headers(),
            [("x-source".to_owned(), "crm".to_owned())]
        );
        assert!(message.is_mandatory());
        let err = publish("broker", &message).unwrap_err();
        assert!(matches!(&err, AmqpError::NotFound(m) if m.contains("`broker`")));
        assert_eq!(Error::from(err).status(), 404);
        assert_eq!(
            Error::from(AmqpError::Unroutable("returned".into())).status(),
            500
        );
        assert_eq!(Error::from(AmqpError::Remote("down".into())).status(), 503);
    }
}
