//! AMQP outgoing connections (lapin, RabbitMQ): publishing with publisher confirms.
//!
//! A connection connects lazily, at its first publish, and keeps one AMQP connection
//! with a confirm-mode channel shared by the publishes in flight; whatever broke (the
//! broker restarted, a channel closed by an error such as an exchange that does not
//! exist) is opened again by the next publish. A publish answers only once the broker
//! confirmed the message (`basic.ack`): a `basic.nack` is [`OutconnError::Remote`], no
//! confirm within the earlier of the connection's timeout and the request's deadline
//! [`OutconnError::Timeout`] (the broker may have the message or not).
//!
//! Mandatory messages go through a channel of their own, one at a time: the broker
//! sends a `basic.return` before the confirm of an unroutable message, and lapin hands
//! a return to whichever confirm completes next on the channel, so only a channel with
//! one publish in flight tells for sure which message came back
//! ([`PublishError::Unroutable`]).
//!
//! [`Target`] (where and how to connect) is shared with the AMQP channels
//! (`channel::amqp`): the URL's password is kept out of the definition (in its secret)
//! and put back here; the vhost is the URL's path (`%2f` is `/`, as in RabbitMQ's URI
//! spec; no path or an empty one is `/`); the heartbeat is the definition's; `amqps`
//! trusts the system's root certificates and the definition's CA.

use std::time::{Duration, Instant};

use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::tcp::OwnedTLSConfig;
use lapin::types::ShortString;
use lapin::uri::{AMQPScheme, AMQPUri};
use lapin::{Channel, Confirmation, Connection, ConnectionProperties, DefaultConnectionBuilder};
use thiserror::Error;

use super::OutconnError;
use crate::api::AmqpSettings;

pub use lapin::BasicProperties as Properties;

/// A publish's timeout when the definition says 0.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest payload published.
pub const MAX_PAYLOAD_BYTES: usize = 16 << 20;

/// One message to publish, its arguments checked (`capability::amqp`).
#[derive(Debug, Clone)]
pub struct Message {
    /// Empty for the default exchange.
    pub exchange: String,
    pub routing_key: String,
    pub payload: Vec<u8>,
    pub properties: Properties,
    /// Must be routed to a queue, or comes back as [`PublishError::Unroutable`].
    pub mandatory: bool,
}

/// Why a publish failed.
#[derive(Debug, Clone, Error)]
pub enum PublishError {
    /// Not found, inactive, refused, timed out, nacked, unreachable.
    #[error(transparent)]
    Outconn(#[from] OutconnError),
    /// A mandatory message no queue took: the broker returned it.
    #[error("{0}")]
    Unroutable(String),
}

/// Where and how to connect to a broker: the URI with its password, the TLS settings,
/// and the URL as it may be shown (without the password).
#[derive(Debug, Clone)]
pub struct Target {
    uri: AMQPUri,
    tls: OwnedTLSConfig,
    shown: String,
}

impl Target {
    /// Reads `url` (`amqp[s]://user@host:port/vhost`), puts `secret` back as its
    /// password (a password left in the URL is used only when there is no secret), and
    /// sets the heartbeat and the CA. No I/O.
    pub fn new(
        url: &str,
        secret: Option<&str>,
        heartbeat_s: u16,
        ca_pem: Option<&str>,
    ) -> Result<Self, String> {
        let parsed = reqwest::Url::parse(url).map_err(|e| format!("`url` is not a URL: {e}"))?;
        let scheme = match parsed.scheme() {
            "amqp" => AMQPScheme::AMQP,
            "amqps" => AMQPScheme::AMQPS,
            other => {
                return Err(format!(
                    "`url` has the scheme `{other}`: it must be amqp or amqps"
                ));
            }
        };
        let host = match parsed.host_str() {
            Some(host) if !host.is_empty() => host.trim_matches(['[', ']']).to_owned(),
            _ => return Err("`url` has no host".into()),
        };
        let port = parsed.port().unwrap_or_else(|| scheme.default_port());
        let decode = |part: &str, what: &str| {
            percent_encoding::percent_decode_str(part)
                .decode_utf8()
                .map(|s| s.into_owned())
                .map_err(|_| format!("`url`'s {what} is not UTF-8 once decoded"))
        };
        let (username, url_password) = match parsed.username() {
            // RabbitMQ's default user, as in its URI spec.
            "" => ("guest".to_owned(), Some("guest".to_owned())),
            user => (
                decode(user, "user")?,
                parsed
                    .password()
                    .map(|p| decode(p, "password"))
                    .transpose()?,
            ),
        };
        let password = match secret.filter(|s| !s.is_empty()) {
            Some(secret) => secret.to_owned(),
            None => url_password.unwrap_or_default(),
        };
        let path = parsed.path();
        let vhost = match path.strip_prefix('/').unwrap_or(path) {
            "" => "/".to_owned(),
            segment if segment.contains('/') => {
                return Err(format!(
                    "`url`'s vhost `{segment}` has a `/`: write it as %2f (`/` is `%2f`)"
                ));
            }
            segment => decode(segment, "vhost")?,
        };
        if parsed.query().is_some() || parsed.fragment().is_some() {
            return Err(
                "`url` has a query or a fragment: the heartbeat and TLS are settings of their own"
                    .into(),
            );
        }
        for (what, value) in [("user", &username), ("vhost", &vhost)] {
            if value.len() > 255 {
                return Err(format!("`url`'s {what} is over 255 bytes"));
            }
        }
        let tls = OwnedTLSConfig {
            identity: None,
            cert_chain: match ca_pem.filter(|pem| !pem.trim().is_empty()) {
                Some(pem) => Some(check_pem(pem)?),
                None => None,
            },
        };
        let shown = format!(
            "{}://{}@{}:{port}/{}",
            parsed.scheme(),
            percent_encoding::utf8_percent_encode(&username, percent_encoding::NON_ALPHANUMERIC),
            parsed.host_str().unwrap_or_default(),
            percent_encoding::utf8_percent_encode(&vhost, percent_encoding::NON_ALPHANUMERIC),
        );
        let mut uri = AMQPUri {
            scheme,
            vhost,
            ..AMQPUri::default()
        };
        uri.authority.host = host;
        uri.authority.port = port;
        uri.authority.userinfo.username = username;
        uri.authority.userinfo.password = password;
        uri.query.heartbeat = Some(heartbeat_s);
        Ok(Self { uri, tls, shown })
    }

    /// The URL without its password, for messages and logs.
    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// The vhost connected to.
    pub fn vhost(&self) -> &str {
        &self.uri.vhost
    }

    /// Opens an AMQP connection, named `name` in the broker's management UI.
    pub async fn connect(&self, name: &str) -> Result<Connection, String> {
        super::http::install_crypto_provider();
        let properties = ConnectionProperties::default()
            .with_connection_name(format!("zato {name}").into_bytes().into());
        let connect = async {
            DefaultConnectionBuilder::new()?
                .with_uri(self.uri.clone())
                .with_properties(properties)
                .with_tls_config(self.tls.clone())
                .connect()
                .await
        };
        connect
            .await
            .map_err(|e| format!("cannot connect to {}: {e}", self.shown))
    }
}

/// Checks that `pem` holds certificates rustls reads.
fn check_pem(pem: &str) -> Result<String, String> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("`ca_pem` is not a PEM certificate bundle: {e}"))?;
    if certs.is_empty() {
        return Err("`ca_pem` holds no certificate".into());
    }
    Ok(pem.to_owned())
}

/// The connection and its shared confirm-mode channel, once connected.
struct Link {
    conn: Connection,
    /// The channel of publishes that are not mandatory (opened on first use).
    shared: Option<Channel>,
}

/// One AMQP outgoing connection.
pub struct AmqpConn {
    target: Target,
    timeout: Duration,
    /// Connected lazily; replaced when it broke.
    link: tokio::sync::Mutex<Option<Link>>,
    /// The channel of mandatory publishes, held for the whole of each (see the module's
    /// doc); taken out while in use, so one a timeout cut short is never reused.
    mandatory: tokio::sync::Mutex<Option<Channel>>,
}

impl AmqpConn {
    /// Checks the settings; connects lazily, on the first publish.
    pub fn new(settings: &AmqpSettings, secret: Option<&str>) -> Result<Self, String> {
        let target = Target::new(
            &settings.url,
            secret,
            settings.heartbeat_s,
            settings.ca_pem.as_deref(),
        )?;
        Ok(Self {
            target,
            timeout: timeout_of(settings),
            link: tokio::sync::Mutex::new(None),
            mandatory: tokio::sync::Mutex::new(None),
        })
    }

    /// The URL without its password.
    pub fn shown(&self) -> &str {
        self.target.shown()
    }

    /// Publishes `message` and waits for the broker's confirm, within the earlier of
    /// the connection's timeout and `deadline`.
    pub async fn publish(&self, message: Message, deadline: Instant) -> Result<(), PublishError> {
        if message.payload.len() > MAX_PAYLOAD_BYTES {
            return Err(OutconnError::BadRequest(format!(
                "a payload of {} bytes refused: at most {MAX_PAYLOAD_BYTES}",
                message.payload.len()
            ))
            .into());
        }
        let limit = Instant::now() + self.timeout;
        let (deadline, whose) = if deadline < limit {
            (deadline, "the request's deadline")
        } else {
            (limit, "the connection's timeout")
        };
        let run = async {
            if message.mandatory {
                self.publish_mandatory(message).await
            } else {
                let channel = self.channel(true).await?;
                match send(&channel, &message).await? {
                    // A message that is not mandatory is never returned.
                    Confirmation::Ack(_) => Ok(()),
                    other => Err(refused(other).into()),
                }
            }
        };
        tokio::time::timeout_at(deadline.into(), run)
            .await
            .unwrap_or_else(|_| {
                Err(OutconnError::Timeout(format!(
                    "no confirm from the broker at {} within {whose}: it may or may not have the message",
                    self.target.shown()
                ))
                .into())
            })
    }

    async fn publish_mandatory(&self, message: Message) -> Result<(), PublishError> {
        let mut slot = self.mandatory.lock().await;
        let channel = match slot.take() {
            Some(channel) if channel.status().connected() => channel,
            _ => self.channel(false).await?,
        };
        let confirmation = send(&channel, &message).await?;
        // Only now, with nothing of this publish left in flight, can the channel serve
        // the next one.
        *slot = Some(channel);
        match confirmation {
            Confirmation::Ack(None) => Ok(()),
            Confirmation::Ack(Some(returned)) | Confirmation::Nack(Some(returned)) => {
                Err(PublishError::Unroutable(format!(
                    "no queue took the mandatory message published to {} with routing key `{}`: the broker returned it ({} {})",
                    exchange_shown(&message.exchange),
                    message.routing_key,
                    returned.reply_code,
                    returned.reply_text
                )))
            }
            other => Err(refused(other).into()),
        }
    }

    /// The shared confirm-mode channel (`shared`), or a new one; connects first if the
    /// connection is not up.
    async fn channel(&self, shared: bool) -> Result<Channel, OutconnError> {
        let mut link = self.link.lock().await;
        let link = match &mut *link {
            Some(up) if up.conn.status().connected() => up,
            slot => {
                let conn = self
                    .target
                    .connect("outgoing connection")
                    .await
                    .map_err(OutconnError::Remote)?;
                slot.insert(Link { conn, shared: None })
            }
        };
        if shared
            && let Some(channel) = &link.shared
            && channel.status().connected()
        {
            return Ok(channel.clone());
        }
        let channel = link
            .conn
            .create_channel()
            .await
            .map_err(|e| self.broke(e))?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .map_err(|e| self.broke(e))?;
        if shared {
            link.shared = Some(channel.clone());
        }
        Ok(channel)
    }

    fn broke(&self, error: lapin::Error) -> OutconnError {
        OutconnError::Remote(format!(
            "the connection to {} failed: {error}",
            self.target.shown()
        ))
    }
}

/// Publishes on `channel` and waits for the confirm.
async fn send(channel: &Channel, message: &Message) -> Result<Confirmation, OutconnError> {
    let exchange = ShortString::try_new(message.exchange.as_str())
        .map_err(|e| OutconnError::BadRequest(format!("the exchange: {e}")))?;
    let routing_key = ShortString::try_new(message.routing_key.as_str())
        .map_err(|e| OutconnError::BadRequest(format!("the routing key: {e}")))?;
    let refused = |e: lapin::Error| {
        OutconnError::Remote(format!(
            "the broker did not take the message published to {}: {e}",
            exchange_shown(&message.exchange)
        ))
    };
    let confirm = channel
        .basic_publish(
            exchange,
            routing_key,
            BasicPublishOptions {
                mandatory: message.mandatory,
                immediate: false,
            },
            &message.payload,
            message.properties.clone(),
        )
        .await
        .map_err(refused)?;
    confirm.await.map_err(refused)
}

fn refused(confirmation: Confirmation) -> OutconnError {
    match confirmation {
        Confirmation::Nack(_) => {
            OutconnError::Remote("the broker refused the message (basic.nack)".into())
        }
        _ => OutconnError::Remote("the broker did not confirm the message".into()),
    }
}

fn exchange_shown(exchange: &str) -> String {
    if exchange.is_empty() {
        "the default exchange".into()
    } else {
        format!("exchange `{exchange}`")
    }
}

fn timeout_of(settings: &AmqpSettings) -> Duration {
    match settings.timeout_ms {
        0 => DEFAULT_TIMEOUT,
        ms => Duration::from_millis(ms),
    }
}

/// Connects, opens a channel and closes both.
pub async fn ping(
    settings: &AmqpSettings,
    secret: Option<&str>,
    deadline: Instant,
) -> Result<String, OutconnError> {
    let target = Target::new(
        &settings.url,
        secret,
        settings.heartbeat_s,
        settings.ca_pem.as_deref(),
    )
    .map_err(OutconnError::BadRequest)?;
    let deadline = deadline.min(Instant::now() + timeout_of(settings));
    let run = async {
        let conn = target.connect("ping").await.map_err(OutconnError::Remote)?;
        let channel = conn.create_channel().await.map_err(|e| {
            OutconnError::Remote(format!("{} opened no channel: {e}", target.shown()))
        })?;
        let _ = channel.close(200, "ping".into()).await;
        let _ = conn.close(200, "ping".into()).await;
        Ok(format!(
            "connected to {} and opened a channel",
            target.shown()
        ))
    };
    tokio::time::timeout_at(deadline.into(), run)
        .await
        .unwrap_or_else(|_| {
            Err(OutconnError::Timeout(format!(
                "{} did not answer in time",
                target.shown()
            )))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_secret_is_the_password_and_the_path_the_vhost() {
        let t = Target::new("amqp://zato@rabbit:5673/%2f", Some("s3cret"), 30, None).unwrap();
        assert_eq!(t.uri.authority.userinfo.username, "zato");
        assert_eq!(t.uri.authority.userinfo.password, "s3cret");
        assert_eq!(t.uri.authority.host, "rabbit");
        assert_eq!(t.uri.authority.port, 5673);
        assert_eq!(t.uri.vhost, "/");
        assert_eq!(t.uri.query.heartbeat, Some(30));
        assert!(!t.shown().contains("s3cret"), "{}", t.shown());
        assert_eq!(t.shown(), "amqp://zato@rabbit:5673/%2F");

        let t = Target::new("amqps://127.0.0.1/orders", None, 0, None).unwrap();
        assert_eq!(t.uri.authority.host, "127.0.0.1");
        assert_eq!(t.uri.authority.port, 5671);
        assert_eq!(t.uri.vhost, "orders");
        assert_eq!(t.uri.authority.userinfo.username, "guest");
        assert_eq!(t.uri.authority.userinfo.password, "guest");
        assert_eq!(t.uri.query.heartbeat, Some(0));

        // A password still in the URL serves when there is no secret; the secret wins.
        let t = Target::new("amqp://u:p%40ss@h", None, 30, None).unwrap();
        assert_eq!(t.uri.authority.userinfo.password, "p@ss");
        assert_eq!(t.uri.vhost, "/");
        let t = Target::new("amqp://u:old@h/", Some("new"), 30, None).unwrap();
        assert_eq!(t.uri.authority.userinfo.password, "new");
        assert!(!t.shown().contains("old"));
    }

    #[test]
    fn a_url_that_cannot_be_used_says_why() {
        for (url, why) in [
            ("http://h/", "scheme `http`"),
            ("amqp:///vh", "no host"),
            ("amqp://h/a/b", "%2f"),
            ("amqp://h/v?heartbeat=5", "query"),
            ("not a url", "not a URL"),
        ] {
            let err = Target::new(url, None, 30, None).unwrap_err();
            assert!(err.contains(why), "{url}: {err}");
        }
        let err = Target::new("amqps://h/", None, 30, Some("not pem")).unwrap_err();
        assert!(err.contains("ca_pem"), "{err}");
    }

    #[tokio::test]
    async fn a_broker_that_is_not_there_is_a_remote_error_and_a_payload_too_large_is_refused() {
        let settings = AmqpSettings {
            url: "amqp://guest@127.0.0.1:1/%2f".into(),
            heartbeat_s: 30,
            ca_pem: None,
            timeout_ms: 2_000,
        };
        let conn = AmqpConn::new(&settings, Some("guest")).unwrap();
        let message = Message {
            exchange: String::new(),
            routing_key: "q".into(),
            payload: b"x".to_vec(),
            properties: Properties::default(),
            mandatory: false,
        };
        let deadline = Instant::now() + Duration::from_secs(5);
        let err = conn.publish(message.clone(), deadline).await.unwrap_err();
        assert!(
            matches!(&err, PublishError::Outconn(OutconnError::Remote(m)) if m.contains("cannot connect to amqp://guest@127.0.0.1:1/")),
            "{err:?}"
        );
        let big = Message {
            payload: vec![0; MAX_PAYLOAD_BYTES + 1],
            ..message
        };
        let err = conn.publish(big, deadline).await.unwrap_err();
        assert!(
            matches!(&err, PublishError::Outconn(OutconnError::BadRequest(_))),
            "{err:?}"
        );
    }
}
