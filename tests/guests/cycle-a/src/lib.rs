//! `test.cycle-a`: invokes `test.cycle-b`, which invokes this one back.
//!
//! The host's invoke depth limit must end the cycle with an internal error, which each
//! level passes up with `?` so that it reaches the original caller.

use zato_sdk::prelude::*;

/// Invokes `test.cycle-b` with the request's payload.
#[zato_sdk::service(name = "test.cycle-a", description = "Invokes test.cycle-b")]
fn cycle_a(req: Request) -> Result<Response, Error> {
    // `?` rather than returning the result as it is: this is the propagation the test
    // is about, written the way a real service would write it.
    let answer = invoke::invoke_with("test.cycle-b", req.payload(), req.data_format())?;
    Ok(answer)
}
