//! `test.cycle-b`: invokes `test.cycle-a`, which invokes this one back.
//!
//! The host's invoke depth limit must end the cycle with an internal error, which each
//! level passes up with `?` so that it reaches the original caller.

use zato_sdk::prelude::*;

/// Invokes `test.cycle-a` with the request's payload.
#[zato_sdk::service(name = "test.cycle-b", description = "Invokes test.cycle-a")]
fn cycle_b(req: Request) -> Result<Response, Error> {
    // `?` rather than returning the result as it is: this is the propagation the test
    // is about, written the way a real service would write it.
    let answer = invoke::invoke_with("test.cycle-a", req.payload(), req.data_format())?;
    Ok(answer)
}
