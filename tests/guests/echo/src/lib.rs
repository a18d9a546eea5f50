//! `test.echo`: answers with what it was given.
//!
//! The host's tests read the answer to check that every part of a request reaches the
//! service intact, and that configuration is per service:
//!
//! ```json
//! {
//!   "cid": "...",
//!   "channel": {"kind": "http", "name": "api"},
//!   "method": "POST",
//!   "path": "/echo/7",
//!   "query": [["a", "1"], ["a", "2"]],
//!   "path_params": {"id": "7"},
//!   "details": [["method", "POST"], ["path", "/echo/7"], ["query-string", "a=1&a=2"]],
//!   "params": {"id": "7"},
//!   "headers": {"content-type": "application/json"},
//!   "payload": "{\"x\":1}",
//!   "data_format": "json",
//!   "config": {"key": "value"},
//!   "caller": {"definition": "partner", "kind": "basic-auth", "principal": "acme"},
//!   "looked_up": {"header": "yes", "query": "1", "path_param": "7", "authorization": null,
//!                 "detail": "a=1&a=2", "param": "7"},
//!   "looked_up_again": {"header": "yes", "query": "1", "path_param": "7", "authorization": null,
//!                       "detail": "a=1&a=2", "param": "7"}
//! }
//! ```
//!
//! `looked_up` holds lookups by name, made before any list is read so that each asks
//! the host for one value: the header named by the query parameter `header`, the query
//! parameter named by the header `x-query`, the path parameter `id`, the header
//! `authorization`, the detail named by the header `x-detail` (`query-string` here)
//! and the parameter `id`. `looked_up_again` makes the same lookups once every list was read,
//! which the SDK answers from the lists.
//!
//! `details` stays a list so that its order shows. `method` and `path` are `null`
//! outside HTTP channels. Query pairs stay a list so that
//! order and repeated names show; for a repeated header or path parameter the first
//! value is kept. The payload is decoded as UTF-8, invalid bytes replaced with U+FFFD.
//! `caller` is who the channel's security definition admitted, `null` when it has none.

use zato_sdk::prelude::*;
use zato_sdk::serde_json::{Map, Value, json};

/// Describes the request.
#[zato_sdk::service(
    name = "test.echo",
    description = "Answers with a JSON description of the request and the service's configuration",
    output = "cid: string, channel: object, method: string?, path: string?, query: array, \
              path_params: object, details: array, params: object, headers: object, payload: string, data_format: string, \
              config: object, caller: object?, looked_up: object, looked_up_again: object"
)]
fn echo(req: Request) -> Result<Response, Error> {
    let looked_up = lookups(&req);
    let query: Vec<Value> = req
        .query_pairs()
        .map(|(name, value)| json!([name, value]))
        .collect();
    let headers = object(req.headers());
    let path_params = object(req.path_params());
    let details: Vec<Value> = req
        .details()
        .map(|(key, value)| json!([key, value]))
        .collect();
    let params = object(req.params());
    Response::json(&json!({
        "cid": req.cid(),
        "channel": { "kind": req.channel_kind().as_str(), "name": req.channel_name() },
        "method": req.method(),
        "path": req.path(),
        "query": query,
        "path_params": path_params,
        "details": details,
        "params": params,
        "headers": headers,
        "payload": String::from_utf8_lossy(req.payload()),
        "data_format": req.data_format().as_str(),
        "config": object(config::get_all().iter().map(|(k, v)| (k.as_str(), v.as_str()))),
        "caller": req.caller().map(|caller| json!({
            "definition": caller.definition,
            "kind": caller.kind,
            "principal": caller.principal,
        })),
        "looked_up": looked_up,
        "looked_up_again": lookups(&req),
    }))
}

/// The lookups by name of `looked_up` (see the module docs).
fn lookups(req: &Request) -> Value {
    json!({
        "header": req.query("header").and_then(|name| req.header(name)),
        "query": req.header("x-query").and_then(|name| req.query(name)),
        "path_param": req.path_param("id"),
        "authorization": req.header("authorization"),
        "detail": req.header("x-detail").and_then(|key| req.detail(key)),
        "param": req.param("id"),
    })
}

/// A JSON object of string pairs, keeping the first value of a repeated name.
fn object<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> Value {
    let mut object = Map::new();
    for (name, value) in pairs {
        object.entry(name).or_insert_with(|| Value::from(value));
    }
    Value::Object(object)
}
