//! `demo.amqp-transform`: fed by an AMQP channel, it summarises each order it receives
//! and publishes the summary to another exchange through an outgoing AMQP connection.
//!
//! A message
//!
//! ```json
//! {"id": "A-1", "customer": "ada", "lines": [{"sku": "x", "qty": 2, "price": 3.5}]}
//! ```
//!
//! published with the correlation id `c-1` and the header `x-tenant: acme` to the
//! channel's queue becomes
//!
//! ```json
//! {"order_id": "A-1", "customer": "ada", "line_count": 1, "total": 7.0,
//!  "source": {"channel": "orders-in", "queue": "orders", "exchange": "",
//!             "routing_key": "orders", "correlation_id": "c-1", "message_id": null,
//!             "redelivered": false, "delivery_count": 0, "tenant": "acme"}}
//! ```
//!
//! published (persistent, mandatory, `content-type: application/json`, the same
//! correlation id, the header `x-tenant` carried over) to the exchange `exchange` with
//! the routing key `routing_key` through the connection `connection` (its configuration
//! keys, editable at run time; by default `orders.summaries`, the incoming routing key
//! and `amqp-out`). The service answers once the broker confirmed the summary, so the
//! channel acknowledges the order only then: an order is never lost between the two
//! queues. A broker out of reach is a `retry` error (the channel requeues the order);
//! an order that is not valid JSON is a bad request (the channel rejects it, to the
//! queue's dead-letter exchange if it has one).
//!
//! Invoked through another channel (HTTP, say), it publishes the same way, with what
//! that channel has of the `source` fields.

use serde::{Deserialize, Serialize};
use zato_sdk::amqp;
use zato_sdk::prelude::*;

/// The connection used when the `connection` key is not set.
const DEFAULT_CONNECTION: &str = "amqp-out";
/// The exchange used when the `exchange` key is not set.
const DEFAULT_EXCHANGE: &str = "orders.summaries";

/// An order as it comes in; unknown fields are ignored.
#[derive(Debug, Deserialize)]
struct Order {
    id: serde_json::Value,
    #[serde(default)]
    customer: Option<String>,
    #[serde(default)]
    lines: Vec<Line>,
}

/// One line of an order.
#[derive(Debug, Deserialize)]
struct Line {
    #[serde(default)]
    qty: f64,
    #[serde(default)]
    price: f64,
}

/// Where the order came from, as the channel told the service.
#[derive(Debug, Serialize)]
struct Source {
    channel: String,
    queue: Option<String>,
    exchange: Option<String>,
    routing_key: Option<String>,
    correlation_id: Option<String>,
    message_id: Option<String>,
    redelivered: bool,
    delivery_count: u64,
    tenant: Option<String>,
}

/// The summary published.
#[derive(Debug, Serialize)]
struct Summary {
    order_id: serde_json::Value,
    customer: Option<String>,
    line_count: usize,
    /// The sum of quantity times price, rounded to cents.
    total: f64,
    source: Source,
}

fn summarise(order: Order, req: &Request) -> Summary {
    let detail = |key: &str| req.detail(key).map(str::to_owned);
    let total: f64 = order.lines.iter().map(|l| l.qty * l.price).sum();
    Summary {
        order_id: order.id,
        customer: order.customer,
        line_count: order.lines.len(),
        total: (total * 100.0).round() / 100.0,
        source: Source {
            channel: req.channel_name().to_owned(),
            queue: detail("queue"),
            exchange: detail("exchange"),
            routing_key: detail("routing-key"),
            correlation_id: detail("correlation-id"),
            message_id: detail("message-id"),
            redelivered: req.detail("redelivered") == Some("true"),
            delivery_count: req
                .detail("delivery-count")
                .and_then(|n| n.parse().ok())
                .unwrap_or(0),
            tenant: req.header("x-tenant").map(str::to_owned),
        },
    }
}

/// Summarises an order and publishes the summary to another exchange.
#[zato_sdk::service(
    name = "demo.amqp-transform",
    description = "Summarises an order from an AMQP queue and publishes the summary to another exchange"
)]
fn transform(req: Request) -> Result<Response, Error> {
    let order: Order = req.json()?;
    let summary = summarise(order, &req);
    let body = serde_json::to_vec(&summary)
        .map_err(|e| Error::internal(format!("cannot encode the summary: {e}")))?;
    let routing_key = config::get("routing_key")
        .or_else(|| summary.source.routing_key.clone())
        .unwrap_or_default();
    let mut message = amqp::Message::new(
        &config::get_or("exchange", DEFAULT_EXCHANGE),
        &routing_key,
        body.clone(),
    )
    .property("content-type", "application/json")
    .mandatory();
    if let Some(id) = &summary.source.correlation_id {
        message = message.property("correlation-id", id.as_str());
    }
    if let Some(tenant) = &summary.source.tenant {
        message = message.header("x-tenant", tenant.as_str());
    }
    amqp::publish(&config::get_or("connection", DEFAULT_CONNECTION), &message)?;
    log::info!(
        "order {} summarised and published to {}",
        summary.order_id,
        message.exchange()
    );
    Ok(Response::bytes(body).with_header("content-type", "application/json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_order_is_summarised_with_where_it_came_from() {
        let req = Request::builder()
            .channel(ChannelKind::Amqp, "orders-in")
            .detail("queue", "orders")
            .detail("routing-key", "orders")
            .detail("correlation-id", "c-1")
            .detail("redelivered", "true")
            .detail("delivery-count", "2")
            .header("x-tenant", "acme")
            .json(&serde_json::json!({
                "id": "A-1", "customer": "ada",
                "lines": [{"sku": "x", "qty": 2, "price": 3.5}, {"qty": 1, "price": 0.105}]
            }))
            .build();
        let order: Order = req.json().unwrap();
        let summary = serde_json::to_value(summarise(order, &req)).unwrap();
        assert_eq!(summary["order_id"], "A-1");
        assert_eq!(summary["line_count"], 2);
        assert_eq!(summary["total"], 7.11);
        assert_eq!(summary["source"]["channel"], "orders-in");
        assert_eq!(summary["source"]["correlation_id"], "c-1");
        assert_eq!(summary["source"]["redelivered"], true);
        assert_eq!(summary["source"]["delivery_count"], 2);
        assert_eq!(summary["source"]["tenant"], "acme");
    }

    #[test]
    fn natively_the_publish_fails_and_a_bad_order_is_a_bad_request() {
        let req = Request::builder()
            .json(&serde_json::json!({"id": 1}))
            .build();
        assert_eq!(transform(req).unwrap_err().status(), 404);
        let req = Request::builder().payload("not json").build();
        assert_eq!(transform(req).unwrap_err().status(), 400);
    }
}
