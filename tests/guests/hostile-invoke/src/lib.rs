//! `test.hostile`: calls `invoke` with arguments a careless or malicious service might
//! pass, and answers the errors it got back.
//!
//! The host must answer each with a guest-visible error rather than trapping the
//! caller or failing itself:
//!
//! ```json
//! {
//!   "empty_name": {"error": "not-found", "message": "..."},
//!   "huge_name": {"error": "not-found", "message": "..."},
//!   "missing_service": {"error": "not-found", "message": "..."}
//! }
//! ```
//!
//! The case names and error codes are what the host's tests assert on. An invoke that
//! unexpectedly succeeds is reported as `{"status": N}`. Messages are cut to
//! [`MAX_MESSAGE`] characters, since a host may quote the 1 MiB name back.

use zato_sdk::prelude::*;
use zato_sdk::serde_json::{Map, Value, json};

/// How much of each error message the answer keeps.
const MAX_MESSAGE: usize = 256;

/// Invokes with hostile arguments and reports what came back.
#[zato_sdk::service(
    name = "test.hostile",
    description = "Invokes with an empty, a 1 MiB and an unknown service name; answers the errors",
    output = "empty_name: object, huge_name: object, missing_service: object"
)]
fn hostile(_req: Request) -> Result<Response, Error> {
    let huge_name = "x".repeat(1 << 20);
    let cases = [
        ("empty_name", ""),
        ("huge_name", huge_name.as_str()),
        ("missing_service", "test.no-such-service"),
    ];
    let mut answer = Map::new();
    for (case, service) in cases {
        answer.insert(case.to_owned(), outcome(invoke::invoke(service, b"{}")));
    }
    Response::json(&answer)
}

/// What one invoke came back with.
fn outcome(result: Result<Response, Error>) -> Value {
    match result {
        Ok(response) => json!({ "status": response.status() }),
        Err(err) => {
            let message: String = err.message().chars().take(MAX_MESSAGE).collect();
            json!({ "error": err.code(), "message": message })
        }
    }
}
