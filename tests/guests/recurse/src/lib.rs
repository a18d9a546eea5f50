//! `test.recurse`: recurses until the stack runs out.
//!
//! The host must turn the stack overflow into a trap and an internal error.

use std::hint::black_box;

use zato_sdk::prelude::*;

/// Recurses without bound.
#[zato_sdk::service(name = "test.recurse", description = "Recurses without bound")]
fn recurse(_req: Request) -> Result<Response, Error> {
    let depth = descend(0);
    Response::json(&serde_json::json!({ "depth": depth }))
}

/// Recurses with a stack frame of its own at every level.
///
/// The base case hides behind `black_box`, so it is never taken but the compiler cannot
/// know that; the addition after the call keeps it from being a tail call, and the
/// array keeps every frame from being optimised away.
#[inline(never)]
fn descend(depth: u64) -> u64 {
    if black_box(depth) == u64::MAX {
        return depth;
    }
    let frame = black_box([depth; 16]);
    let below = descend(black_box(depth + 1));
    black_box(below.wrapping_add(frame[(depth % 16) as usize]))
}
