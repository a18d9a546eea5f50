//! Fakes for a service's native unit tests (`cargo test`): what [`config`](crate::config)
//! reads and what [`invoke`](crate::invoke) answers, per test thread, so that a service
//! runs in-process with no server. Data dictionary entries are faked with
//! [`dictionary::set_native`](crate::dictionary::set_native).
//!
//! ```
//! use serde_json::json;
//! use zato_sdk::{Response, testing};
//!
//! testing::set_config("greeting", "Hi");
//! testing::answer_invoke("crm.customer", Ok(Response::json(&json!({"name": "Ada"})).unwrap()));
//!
//! assert_eq!(zato_sdk::config::get_or("greeting", "Hello"), "Hi");
//! let customer: serde_json::Value = zato_sdk::invoke::invoke_json("crm.customer", &json!({"id": 1})).unwrap();
//! assert_eq!(customer["name"], "Ada");
//! assert_eq!(testing::invoked(), [("crm.customer".to_owned(), br#"{"id":1}"#.to_vec())]);
//! testing::reset();
//! ```
//!
//! On wasm32 (in a component) this module does not exist: the host answers.

use std::cell::RefCell;
use std::collections::BTreeMap;

use crate::outgoing::{HttpResponse, OutgoingError, SoapError};
use crate::{Error, Response};

#[derive(Default)]
struct Fakes {
    config: BTreeMap<String, String>,
    answers: BTreeMap<String, Result<Response, Error>>,
    invoked: Vec<(String, Vec<u8>)>,
    http: BTreeMap<String, Result<HttpResponse, OutgoingError>>,
    sent_http: Vec<SentHttp>,
    soap: BTreeMap<(String, String), Result<String, SoapError>>,
    sent_soap: Vec<(String, String, String)>,
}

/// A request a service sent through an outgoing HTTP connection, as
/// [`sent_http`] lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentHttp {
    /// The connection's name.
    pub connection: String,
    /// The method, upper case.
    pub method: String,
    /// The path (and query), relative to the connection's base URL.
    pub path: String,
    /// The headers the service set.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

thread_local! {
    static FAKES: RefCell<Fakes> = RefCell::default();
}

/// Sets a configuration value of the service under test.
pub fn set_config(key: &str, value: &str) {
    FAKES.with(|f| {
        f.borrow_mut()
            .config
            .insert(key.to_owned(), value.to_owned())
    });
}

/// What invoking `service` answers, every time, until [`reset`].
pub fn answer_invoke(service: &str, answer: Result<Response, Error>) {
    FAKES.with(|f| f.borrow_mut().answers.insert(service.to_owned(), answer));
}

/// The services invoked so far, with their payloads, in order.
pub fn invoked() -> Vec<(String, Vec<u8>)> {
    FAKES.with(|f| f.borrow().invoked.clone())
}

/// What every request through the outgoing HTTP connection `connection` answers, until
/// [`reset`]: an [`HttpResponse`] (made with [`HttpResponse::new`]) or an
/// [`OutgoingError`] (a timeout, say).
pub fn answer_http(connection: &str, answer: Result<HttpResponse, OutgoingError>) {
    FAKES.with(|f| f.borrow_mut().http.insert(connection.to_owned(), answer));
}

/// The requests sent through outgoing HTTP connections so far, in order.
pub fn sent_http() -> Vec<SentHttp> {
    FAKES.with(|f| f.borrow().sent_http.clone())
}

/// What the outgoing SOAP connection `connection` answers for `action`, until
/// [`reset`]: the body element of the answer, or a [`SoapError`] (a Fault, say).
pub fn answer_soap(connection: &str, action: &str, answer: Result<String, SoapError>) {
    FAKES.with(|f| {
        f.borrow_mut()
            .soap
            .insert((connection.to_owned(), action.to_owned()), answer)
    });
}

/// The SOAP calls made through outgoing connections so far, in order: (connection,
/// action, body).
pub fn sent_soap() -> Vec<(String, String, String)> {
    FAKES.with(|f| f.borrow().sent_soap.clone())
}

/// Forgets every fake and every recorded invoke of this thread.
pub fn reset() {
    FAKES.with(|f| *f.borrow_mut() = Fakes::default());
}

pub(crate) fn config(key: &str) -> Option<String> {
    FAKES.with(|f| f.borrow().config.get(key).cloned())
}

pub(crate) fn config_all() -> Vec<(String, String)> {
    FAKES.with(|f| {
        f.borrow()
            .config
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    })
}

pub(crate) fn invoke(service: &str, payload: &[u8]) -> Result<Response, Error> {
    FAKES.with(|f| {
        let mut fakes = f.borrow_mut();
        fakes.invoked.push((service.to_owned(), payload.to_vec()));
        fakes.answers.get(service).cloned().unwrap_or_else(|| {
            Err(Error::not_found(format!(
                "service `{service}` is not deployed: fake its answer with \
                 zato_sdk::testing::answer_invoke"
            )))
        })
    })
}

pub(crate) fn send_http(sent: SentHttp) -> Result<HttpResponse, OutgoingError> {
    FAKES.with(|f| {
        let mut fakes = f.borrow_mut();
        let answer = fakes.http.get(&sent.connection).cloned();
        let message = format!(
            "no http connection named `{}` is configured: outgoing calls need a zato host, \
             or zato_sdk::testing::answer_http in a test ({} {})",
            sent.connection, sent.method, sent.path
        );
        fakes.sent_http.push(sent);
        answer.unwrap_or(Err(OutgoingError::NotFound(message)))
    })
}

pub(crate) fn call_soap(connection: &str, action: &str, body: &str) -> Result<String, SoapError> {
    FAKES.with(|f| {
        let mut fakes = f.borrow_mut();
        fakes
            .sent_soap
            .push((connection.to_owned(), action.to_owned(), body.to_owned()));
        let key = (connection.to_owned(), action.to_owned());
        fakes.soap.get(&key).cloned().unwrap_or_else(|| {
            Err(SoapError::Call(OutgoingError::NotFound(format!(
                "no soap connection named `{connection}` is configured: outgoing calls need a \
                 zato host, or zato_sdk::testing::answer_soap in a test ({action})"
            ))))
        })
    })
}
