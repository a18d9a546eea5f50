//! `test.amqp-probe`: for the AMQP channel's tests. Each call first publishes a report
//! of what it was given (`{"payload", "cid", "channel", "redelivered",
//! "delivery-count", "correlation-id", "headers"}`) to the queue named by its config key
//! `probe_queue` (default `probe`) through the outgoing AMQP connection `probe` (an
//! error there is ignored, so it also runs without one), then acts as its payload, a
//! text, says:
//!
//! - `trap...`: panics (a trap);
//! - `fail...`: answers an internal error;
//! - `retry-once...`: answers `retry` on the first delivery (delivery count 0), then
//!   succeeds;
//! - anything else: succeeds, answering the report.
//!
//! Called with a JSON payload `{"publish": {"connection", "exchange", "routing_key",
//! "payload", "properties": [[name, value]], "headers": [[name, value]], "mandatory"}}`
//! instead, it publishes that message (and reports nothing) and answers `{"ok": true}`
//! or `{"error": {"kind": "unroutable", "message": "..."}}`.

use zato_sdk::amqp;
use zato_sdk::prelude::*;
use zato_sdk::serde_json::json;

/// Publishes the message `spec` describes; answers what came of it.
fn publish(spec: &serde_json::Value) -> Result<Response, Error> {
    let text = |key: &str| spec[key].as_str().unwrap_or_default();
    let pairs = |key: &str| -> Vec<(String, String)> {
        spec[key]
            .as_array()
            .map(|list| {
                list.iter()
                    .map(|p| {
                        (
                            p[0].as_str().unwrap_or_default().to_owned(),
                            p[1].as_str().unwrap_or_default().to_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut message = amqp::Message::new(text("exchange"), text("routing_key"), text("payload"));
    for (name, value) in pairs("properties") {
        message = message.property(&name, value);
    }
    for (name, value) in pairs("headers") {
        message = message.header(&name, value);
    }
    if spec["mandatory"].as_bool() == Some(true) {
        message = message.mandatory();
    }
    let answer = match amqp::publish(text("connection"), &message) {
        Ok(()) => json!({"ok": true}),
        Err(err) => {
            let kind = match &err {
                amqp::AmqpError::NotFound(_) => "not-found",
                amqp::AmqpError::Inactive(_) => "inactive",
                amqp::AmqpError::Misconfigured(_) => "misconfigured",
                amqp::AmqpError::BadRequest(_) => "bad-request",
                amqp::AmqpError::Timeout(_) => "timeout",
                amqp::AmqpError::Remote(_) => "remote",
                amqp::AmqpError::Unroutable(_) => "unroutable",
            };
            json!({"error": {"kind": kind, "message": err.message()}})
        }
    };
    Response::json(&answer)
}

/// Reports the delivery, then succeeds, traps, fails or asks to retry.
#[zato_sdk::service(name = "test.amqp-probe")]
fn probe(req: Request) -> Result<Response, Error> {
    if req.payload().starts_with(b"{\"publish\"") {
        let spec: serde_json::Value = req.json_value()?;
        return publish(&spec["publish"]);
    }
    let payload = String::from_utf8_lossy(req.payload()).into_owned();
    let count: u64 = req
        .detail("delivery-count")
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let headers: serde_json::Map<String, serde_json::Value> = req
        .headers()
        .map(|(k, v)| (k.to_owned(), json!(v)))
        .collect();
    let report = json!({
        "payload": payload,
        "cid": req.cid(),
        "channel": req.channel_name(),
        "redelivered": req.detail("redelivered"),
        "delivery-count": count,
        "correlation-id": req.detail("correlation-id"),
        "details": req.details().map(|(k, v)| json!([k, v])).collect::<Vec<_>>(),
        "headers": headers,
    });
    let message = amqp::Message::new(
        "",
        &config::get_or("probe_queue", "probe"),
        report.to_string(),
    );
    if let Err(err) = amqp::publish("probe", &message) {
        log::warn!("probe not reported: {err}");
    }
    if payload.starts_with("trap") {
        panic!("test.amqp-probe traps on purpose");
    }
    if payload.starts_with("fail") {
        return Err(Error::internal("test.amqp-probe fails on purpose"));
    }
    if payload.starts_with("retry-once") && count == 0 {
        return Err(Error::retry("test.amqp-probe asks for a retry"));
    }
    Response::json(&report)
}
