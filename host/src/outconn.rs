//! Outgoing connections: the live side of the named connections an administrator
//! configures (HTTP/REST, SOAP, SQL, FTP, AMQP, ZeroMQ), through which services reach other systems.
//!
//! [`Outconns`] holds one live connection per (type, name), built from the ODB's
//! definitions by [`Outconns::apply`] (at start and on every `outconns` notice). A call
//! takes an `Arc` of the connection it names and keeps it to its end, so a changed or
//! deleted connection is replaced for the next call while the calls in flight finish on
//! the old one (its pool closes when the last of them drops it).
//!
//! Invariants:
//! - a service reaches only what a connection's definition allows: an HTTP path is
//!   joined under the base URL and cannot leave it, an FTP path stays under the base
//!   directory, SQL parameters are always bound;
//! - every call is bounded by the calling request's deadline as well as the
//!   connection's own timeout;
//! - this module knows nothing of wasm: the capability modules translate.

pub mod amqp;
pub mod ftp;
pub mod http;
pub mod soap;
pub mod sql;
pub mod zmq;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use arc_swap::ArcSwap;
use thiserror::Error;

use crate::api::{Outconn, OutconnPing, OutconnSettings, OutconnType};

/// Why a call through an outgoing connection failed. The capability modules map each
/// case to what the guest sees.
#[derive(Debug, Clone, Error)]
pub enum OutconnError {
    /// No connection of that type and name is configured.
    #[error("no {0} connection named `{1}` is configured")]
    NotFound(OutconnType, String),
    /// The connection exists but is inactive.
    #[error("the {0} connection `{1}` is inactive")]
    Inactive(OutconnType, String),
    /// The connection's definition could not be turned into a live connection (a bad
    /// URL, an unreadable CA...): calls fail with this until it is fixed.
    #[error("the {0} connection `{1}` is misconfigured: {2}")]
    Misconfigured(OutconnType, String, String),
    /// What the service asked for is refused (a path leaving the base, a bad header...).
    #[error("{0}")]
    BadRequest(String),
    /// The call did not finish within the connection's timeout or the request's
    /// deadline.
    #[error("{0}")]
    Timeout(String),
    /// The other side could not be reached, or failed (refused, reset, a database
    /// error, an FTP error reply).
    #[error("{0}")]
    Remote(String),
}

/// One live connection of any type.
#[derive(Clone)]
enum Live {
    Http(Arc<http::HttpConn>),
    Soap(Arc<soap::SoapConn>),
    Sql(Arc<sql::SqlConn>),
    Ftp(Arc<ftp::FtpConn>),
    Amqp(Arc<amqp::AmqpConn>),
    Zmq(Arc<zmq::ZmqConn>),
    /// Inactive, or its definition could not be built: the reason calls get.
    Unusable(OutconnError),
}

struct Entry {
    /// The definition it was built from: an unchanged one keeps its live connection.
    def: Outconn,
    live: Live,
}

/// Every outgoing connection of this server, by type and name.
#[derive(Default)]
pub struct Outconns {
    map: ArcSwap<HashMap<(OutconnType, String), Arc<Entry>>>,
}

impl Outconns {
    /// Replaces the set of connections with `defs` (every definition, secrets
    /// included). A definition that did not change keeps its live connection and pool;
    /// a changed one gets a new one, the old one living on in the calls that hold it.
    pub fn apply(&self, defs: Vec<Outconn>) {
        let old = self.map.load_full();
        let mut map = HashMap::with_capacity(defs.len());
        for def in defs {
            let key = (def.kind(), def.name.clone());
            let entry = match old.get(&key) {
                Some(entry) if entry.def == def => entry.clone(),
                _ => {
                    let live = build(&def);
                    if let Live::Unusable(error) = &live {
                        tracing::warn!(%error, "outgoing connection not usable");
                    }
                    Arc::new(Entry { def, live })
                }
            };
            map.insert(key, entry);
        }
        self.map.store(Arc::new(map));
    }

    /// The names of the connections of each type, for logs and tests.
    pub fn names(&self) -> Vec<(OutconnType, String)> {
        let mut names: Vec<_> = self.map.load().keys().cloned().collect();
        names.sort();
        names
    }

    fn get(&self, kind: OutconnType, name: &str) -> Result<Live, OutconnError> {
        let map = self.map.load();
        match map.get(&(kind, name.to_owned())) {
            None => Err(OutconnError::NotFound(kind, name.to_owned())),
            Some(entry) => match &entry.live {
                Live::Unusable(error) => Err(error.clone()),
                live => Ok(live.clone()),
            },
        }
    }

    /// The HTTP connection `name`.
    pub fn http(&self, name: &str) -> Result<Arc<http::HttpConn>, OutconnError> {
        match self.get(OutconnType::Http, name)? {
            Live::Http(conn) => Ok(conn),
            _ => unreachable!("keyed by type"),
        }
    }

    /// The SOAP connection `name`.
    pub fn soap(&self, name: &str) -> Result<Arc<soap::SoapConn>, OutconnError> {
        match self.get(OutconnType::Soap, name)? {
            Live::Soap(conn) => Ok(conn),
            _ => unreachable!("keyed by type"),
        }
    }

    /// The SQL connection `name`.
    pub fn sql(&self, name: &str) -> Result<Arc<sql::SqlConn>, OutconnError> {
        match self.get(OutconnType::Sql, name)? {
            Live::Sql(conn) => Ok(conn),
            _ => unreachable!("keyed by type"),
        }
    }

    /// The AMQP connection `name`.
    pub fn amqp(&self, name: &str) -> Result<Arc<amqp::AmqpConn>, OutconnError> {
        match self.get(OutconnType::Amqp, name)? {
            Live::Amqp(conn) => Ok(conn),
            _ => unreachable!("keyed by type"),
        }
    }

    /// The ZeroMQ connection `name`.
    pub fn zmq(&self, name: &str) -> Result<Arc<zmq::ZmqConn>, OutconnError> {
        match self.get(OutconnType::Zmq, name)? {
            Live::Zmq(conn) => Ok(conn),
            _ => unreachable!("keyed by type"),
        }
    }

    /// The FTP connection `name`.
    pub fn ftp(&self, name: &str) -> Result<Arc<ftp::FtpConn>, OutconnError> {
        match self.get(OutconnType::Ftp, name)? {
            Live::Ftp(conn) => Ok(conn),
            _ => unreachable!("keyed by type"),
        }
    }
}

/// Builds the live connection of a definition; never fails: an unusable one says why.
fn build(def: &Outconn) -> Live {
    let kind = def.kind();
    if !def.active {
        return Live::Unusable(OutconnError::Inactive(kind, def.name.clone()));
    }
    let secret = def.secret.as_deref().filter(|s| !s.is_empty());
    let built = match &def.settings {
        OutconnSettings::Http(s) => http::HttpConn::new(s, secret).map(|c| Live::Http(c.into())),
        OutconnSettings::Soap(s) => soap::SoapConn::new(s, secret).map(|c| Live::Soap(c.into())),
        OutconnSettings::Sql(s) => sql::SqlConn::new(s, secret).map(|c| Live::Sql(c.into())),
        OutconnSettings::Ftp(s) => ftp::FtpConn::new(s, secret).map(|c| Live::Ftp(c.into())),
        OutconnSettings::Amqp(s) => amqp::AmqpConn::new(s, secret).map(|c| Live::Amqp(c.into())),
        OutconnSettings::Zmq(s) => zmq::ZmqConn::new(s).map(|c| Live::Zmq(c.into())),
    };
    built.unwrap_or_else(|why| {
        Live::Unusable(OutconnError::Misconfigured(kind, def.name.clone(), why))
    })
}

/// Checks that the other side of a definition answers (the admin API's ping): an HTTP
/// request with the ping method for HTTP and SOAP, `SELECT 1` for SQL, a login and
/// `PWD` for FTP, a connection and a channel for AMQP, the socket set up for ZeroMQ. Builds its own short-lived connection, so a definition can be
/// pinged before or after it is saved.
pub async fn ping(def: &Outconn, deadline: Instant) -> OutconnPing {
    let started = Instant::now();
    let secret = def.secret.as_deref().filter(|s| !s.is_empty());
    let result = match &def.settings {
        OutconnSettings::Http(s) => http::ping(s, secret, deadline).await,
        OutconnSettings::Soap(s) => http::ping(&s.http, secret, deadline).await,
        OutconnSettings::Sql(s) => sql::ping(s, secret, deadline).await,
        OutconnSettings::Ftp(s) => ftp::ping(s, secret, deadline).await,
        OutconnSettings::Amqp(s) => amqp::ping(s, secret, deadline).await,
        OutconnSettings::Zmq(s) => zmq::ping(s, deadline).await,
    };
    let (ok, detail) = match result {
        Ok(detail) => (true, detail),
        Err(error) => (false, error.to_string()),
    };
    OutconnPing {
        name: def.name.clone(),
        kind: def.kind(),
        ok,
        ms: started.elapsed().as_millis() as u64,
        detail,
    }
}
