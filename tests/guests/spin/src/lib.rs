//! `test.loop`: never returns.
//!
//! The host must interrupt it (epoch or fuel limits) and answer an internal error
//! instead of losing a worker for good.

use std::hint::black_box;

use zato_sdk::prelude::*;

/// Counts forever.
#[zato_sdk::service(name = "test.loop", description = "Loops forever")]
fn spin(_req: Request) -> Result<Response, Error> {
    let mut counter: u64 = 0;
    loop {
        // `black_box` hides the counter from the optimiser, which could otherwise
        // prove the loop has no effect.
        counter = black_box(counter).wrapping_add(1);
    }
}
