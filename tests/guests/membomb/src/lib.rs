//! `test.memory`: allocates and touches memory until something stops it.
//!
//! The host's memory limit must make the allocation fail (and the instance trap) long
//! before the server itself runs out of memory.

use std::hint::black_box;

use zato_sdk::prelude::*;

/// How much each step allocates: large, so the limit is reached quickly.
const BLOCK: usize = 4 << 20;

/// Allocates without bound.
#[zato_sdk::service(name = "test.memory", description = "Allocates memory without bound")]
fn membomb(_req: Request) -> Result<Response, Error> {
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    loop {
        let mut block = vec![0_u8; BLOCK];
        // Write every byte so the pages are really used, and let the optimiser see
        // neither the writes nor the hoard as dead.
        block.fill(0xa5);
        hoard.push(black_box(block));
        black_box(&hoard);
    }
}
