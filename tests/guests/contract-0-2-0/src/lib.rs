//! `test.contract020`: a service built against zato:service@0.2.0, as one deployed
//! before the contract grew was.
//!
//! `wit/service.wit` here is a frozen copy of the contract at 0.2.0: never update it.
//! The host's tests deploy this guest on the current server and call it through an
//! HTTP channel, to check that the contract grows without breaking a deployed service
//! (`tests/all/contract.rs`). It reads what a 0.2.0 service could read and answers:
//!
//! ```json
//! {
//!   "cid": "...",
//!   "channel": "http",
//!   "channel_name": "c",
//!   "method": "GET",
//!   "path": "/contract/7",
//!   "header": "yes",
//!   "path_param": "7",
//!   "greeting": "hello",
//!   "payload": "..."
//! }
//! ```
//!
//! `header` is the request's `x-custom` header, `path_param` the path parameter `id`,
//! and `greeting` its configuration key `greeting`; it logs one line per request.

/// The bindings of the frozen 0.2.0 contract.
#[allow(unsafe_code, missing_docs)]
mod bindings {
    wit_bindgen::generate!({ path: "wit", world: "zato-service" });

    use super::Contract020;
    export!(Contract020);
}

use bindings::exports::zato::service::service::Guest;
use bindings::zato::service::types::{ChannelKind, Error, Request, Response, ServiceInfo};
use bindings::zato::service::{config, log, request};

/// The service.
struct Contract020;

impl Guest for Contract020 {
    fn handle(req: Request) -> Result<Response, Error> {
        log::log(log::Level::Info, "test.contract020 handles a request");
        let channel = match req.channel {
            ChannelKind::Http => "http",
            ChannelKind::Invoke => "invoke",
            ChannelKind::Admin => "admin",
            ChannelKind::Scheduler => "scheduler",
            ChannelKind::Amqp => "amqp",
            ChannelKind::Zeromq => "zeromq",
            ChannelKind::Soap => "soap",
        };
        let answer = serde_json::json!({
            "cid": request::cid(),
            "channel": channel,
            "channel_name": request::channel_name(),
            "method": request::method(),
            "path": request::path(),
            "header": request::header("x-custom"),
            "path_param": request::path_param("id"),
            "greeting": config::get("greeting"),
            "payload": String::from_utf8_lossy(&req.payload),
        });
        Ok(Response {
            status: 200,
            headers: vec![("content-type".into(), "application/json".into())],
            payload: answer.to_string().into_bytes(),
        })
    }

    fn info() -> ServiceInfo {
        ServiceInfo {
            name: "test.contract020".into(),
            description: "Built against zato:service@0.2.0: answers what it read of its request"
                .into(),
            input: Vec::new(),
            output: Vec::new(),
            slow_threshold_ms: 0,
        }
    }
}
