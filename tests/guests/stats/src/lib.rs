//! `test.stats`: a call of known duration and outcome, for the usage statistics' tests.
//!
//! The JSON payload `{"ms": N, "fail": KIND}` sleeps `N` ms, then fails with the error
//! `KIND` (`internal` or `bad-request`) when given, or answers `{"slept": N}`. Its
//! threshold of a slow response is 50 ms.

use std::time::Duration;

use zato_sdk::prelude::*;
use zato_sdk::serde_json::{Value, json};

/// Sleeps, then answers or fails, as the payload says.
#[zato_sdk::service(name = "test.stats", slow_threshold_ms = 50)]
fn handle(req: Request) -> Result<Response, Error> {
    let input: Value = req.json()?;
    let ms = input["ms"].as_u64().unwrap_or(0);
    std::thread::sleep(Duration::from_millis(ms));
    match input["fail"].as_str() {
        Some("internal") => Err(Error::Internal(format!("failed after {ms} ms"))),
        Some("bad-request") => Err(Error::BadRequest("told to refuse".into())),
        _ => Response::json(&json!({ "slept": ms })),
    }
}
