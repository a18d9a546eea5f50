//! `test.kv-lock`: the `kv` and `lock` imports, as its JSON payload says (`op`).
//!
//! - `set`, `get`, `delete`, `incr`: `key`, `value` (text), `ttl_ms`, `by` and `ns` (a
//!   shared namespace; the service's own without it). Answers `{"value"}`,
//!   `{"deleted"}` or `{}`.
//! - `locked-incr`: under the lock `lock`, reads the number at `key` in `ns`, sleeps
//!   `sleep_ms`, writes it plus one; answers `{"fence", "value"}`. `unlocked-incr` does
//!   the same without the lock (a lost update waiting to happen).
//! - `hold`: acquires `lock` (waiting `timeout_ms`), forgets its guard and answers
//!   `{"fence"}`; with `then: "trap"` it panics instead, with `then: "fail"` it answers
//!   an error: the host releases the lock at the end of the call in every case.
//! - `try`: acquires `lock` waiting `timeout_ms`; answers `{"fence"}` and releases it.
//!
//! Every failure answers `{"error": kind, "message"}` with status 200, so that the test
//! sees what the host said.

use std::time::Duration;

use zato_sdk::kv::{self, KvError, Namespace};
use zato_sdk::lock::{self, LockError};
use zato_sdk::prelude::*;
use zato_sdk::serde_json::{Value, json};

fn kv_error(err: KvError) -> Value {
    let kind = match &err {
        KvError::BadRequest(_) => "bad-request",
        KvError::NotANumber(_) => "not-a-number",
        KvError::Unavailable(_) => "unavailable",
    };
    json!({ "error": kind, "message": err.message() })
}

fn lock_error(err: LockError) -> Value {
    let kind = match &err {
        LockError::BadRequest(_) => "bad-request",
        LockError::Timeout(_) => "timeout",
        LockError::Unavailable(_) => "unavailable",
    };
    json!({ "error": kind, "message": err.message() })
}

fn answer(result: Result<Value, Value>) -> Result<Response, Error> {
    Response::json(&result.unwrap_or_else(|err| err))
}

/// Reads the number at `key` (0 when unset), sleeps, writes it plus one.
fn slow_incr(ns: Namespace<'_>, key: &str, sleep: Duration) -> Result<i64, KvError> {
    let current = ns
        .get_string(key)?
        .and_then(|v| v.parse::<i64>().ok())
        .unwrap_or(0);
    std::thread::sleep(sleep);
    ns.set(key, (current + 1).to_string())?;
    Ok(current + 1)
}

/// Reaches `kv` or `lock` as the payload says.
#[zato_sdk::service(name = "test.kv-lock")]
fn handle(req: Request) -> Result<Response, Error> {
    let input: Value = req.json()?;
    let ns = match input["ns"].as_str() {
        Some(name) => kv::shared(name),
        None => kv::own(),
    };
    let key = input["key"].as_str().unwrap_or_default();
    let name = input["lock"].as_str().unwrap_or_default();
    let ms =
        |field: &str, default: u64| Duration::from_millis(input[field].as_u64().unwrap_or(default));
    match input["op"].as_str().unwrap_or_default() {
        "set" => {
            let value = match &input["value"] {
                Value::String(text) => text.clone().into_bytes(),
                // A size, to try one over the limit without sending it.
                Value::Number(n) => vec![b'x'; n.as_u64().unwrap_or(0) as usize],
                _ => Vec::new(),
            };
            let result = match input["ttl_ms"].as_u64() {
                Some(ttl) => ns.set_with_ttl(key, value, Duration::from_millis(ttl)),
                None => ns.set(key, value),
            };
            answer(result.map(|()| json!({})).map_err(kv_error))
        }
        "get" => answer(
            ns.get_string(key)
                .map(|value| json!({ "value": value }))
                .map_err(kv_error),
        ),
        "delete" => answer(
            ns.delete(key)
                .map(|deleted| json!({ "deleted": deleted }))
                .map_err(kv_error),
        ),
        "incr" => answer(
            ns.increment(key, input["by"].as_i64().unwrap_or(1))
                .map(|value| json!({ "value": value }))
                .map_err(kv_error),
        ),
        "locked-incr" => {
            let guard = match lock::acquire(name, ms("timeout_ms", 20_000), ms("ttl_ms", 20_000)) {
                Ok(guard) => guard,
                Err(err) => return answer(Err(lock_error(err))),
            };
            let value = slow_incr(ns, key, ms("sleep_ms", 0)).map_err(kv_error);
            let fence = guard.fence();
            drop(guard);
            answer(value.map(|value| json!({ "fence": fence, "value": value })))
        }
        "unlocked-incr" => answer(
            slow_incr(ns, key, ms("sleep_ms", 0))
                .map(|value| json!({ "value": value }))
                .map_err(kv_error),
        ),
        "hold" => {
            let guard = match lock::acquire(name, ms("timeout_ms", 0), ms("ttl_ms", 60_000)) {
                Ok(guard) => guard,
                Err(err) => return answer(Err(lock_error(err))),
            };
            let fence = guard.fence();
            // Only the host releases it now.
            std::mem::forget(guard);
            match input["then"].as_str() {
                Some("trap") => panic!("trapping while holding lock {name}"),
                Some("fail") => Err(Error::Internal(format!(
                    "failing while holding lock {name}"
                ))),
                _ => Response::json(&json!({ "fence": fence })),
            }
        }
        "try" => answer(
            lock::with_lock(
                name,
                ms("timeout_ms", 0),
                ms("ttl_ms", 10_000),
                |fence| json!({ "fence": fence }),
            )
            .map_err(lock_error),
        ),
        other => Err(Error::BadRequest(format!("unknown op `{other}`"))),
    }
}
