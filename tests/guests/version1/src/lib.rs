//! `test.version`, version 1: answers `{"version": 1}`.
//!
//! Deployed in place of the other version while requests are in flight, it lets the
//! host's tests check that a redeploy switches atomically: every answer comes from one
//! version or the other, and none fails.

use zato_sdk::prelude::*;

/// Answers with its version.
#[zato_sdk::service(
    name = "test.version",
    description = "Answers {\"version\": 1}",
    output = "version: integer"
)]
fn version(_req: Request) -> Result<Response, Error> {
    Response::json(&serde_json::json!({ "version": 1 }))
}
