//! `test.trap`: panics in `handle`.
//!
//! Guests are built with `panic=abort`, so the panic becomes a wasm trap: the host must
//! answer an internal error, keep serving other requests and not reuse the instance.

use zato_sdk::prelude::*;

/// Panics on every request.
#[zato_sdk::service(name = "test.trap", description = "Panics, so the instance traps")]
fn trap(_req: Request) -> Result<Response, Error> {
    panic!("test.trap panics on purpose")
}
