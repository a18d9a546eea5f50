//! `test.async`: the three roles of an asynchronous invoke, chosen by its JSON payload.
//!
//! - `{"op": "queue", "service": S, "payload": P, "callback": C}` queues a call of `S`
//!   with the JSON `P` through `invoke-async` (callback `C`, optional) and answers
//!   `{"cid": ...}`, or the error's kind and message (`{"error": "not-found", ...}`).
//! - `{"op": "sleep", "ms": N}` sleeps `N` ms (a call that takes a while, for a server
//!   to be killed during) and answers what it read of its request: `cid`, `channel`,
//!   `async` and `delivery`.
//! - anything else is an outcome it is told of as a callback: it is posted, as it is,
//!   through the outgoing HTTP connection `async-sink`, with the `delivery` and the
//!   channel's name as query parameters.

use std::time::Duration;

use zato_sdk::invoke_async::{self, AsyncError};
use zato_sdk::prelude::*;
use zato_sdk::serde_json::{Value, json};
use zato_sdk::{DataFormat, outgoing};

/// Queues, sleeps or forwards, as the payload says.
#[zato_sdk::service(name = "test.async")]
fn handle(req: Request) -> Result<Response, Error> {
    let input: Value = req.json()?;
    match input["op"].as_str() {
        Some("queue") => {
            let service = input["service"].as_str().unwrap_or_default();
            let payload = input["payload"].to_string();
            let callback = input["callback"].as_str();
            match invoke_async::invoke_async(
                service,
                payload.as_bytes(),
                DataFormat::Json,
                callback,
            ) {
                Ok(cid) => Response::json(&json!({ "cid": cid })),
                Err(err) => {
                    let kind = match &err {
                        AsyncError::NotFound(_) => "not-found",
                        AsyncError::BadRequest(_) => "bad-request",
                        AsyncError::Unavailable(_) => "unavailable",
                    };
                    Response::json(&json!({ "error": kind, "message": err.message() }))
                }
            }
        }
        Some("sleep") => {
            let ms = input["ms"].as_u64().unwrap_or(0);
            std::thread::sleep(Duration::from_millis(ms));
            Response::json(&json!({
                "cid": req.cid(),
                "channel": req.channel_name(),
                "async": req.detail("async"),
                "delivery": req.detail("delivery"),
            }))
        }
        _ => {
            outgoing::http("async-sink")
                .post("/outcome")
                .query("delivery", req.detail("delivery").unwrap_or(""))
                .query("channel", req.channel_name())
                .header("content-type", "application/json")
                .body(req.payload().to_vec())
                .send()?
                .error_for_status()?;
            Ok(Response::empty())
        }
    }
}
