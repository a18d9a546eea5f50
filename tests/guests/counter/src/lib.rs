//! `test.counter`: answers `{"count": N, "scratch": A}`, N being how many requests this
//! instance has served, kept in a global. With a fresh instance per request N is always
//! 1; with instance reuse it climbs. A payload of `trap` makes it trap (after counting),
//! so tests can check that a trapped instance is not reused.
//!
//! A is the address, in the guest's memory, of a 16 KiB buffer the request allocates
//! and frees: it shows whether a warm instance's allocations start over where the
//! previous request's did (the SDK's arena) or keep moving on.
//!
//! With `?keep=1`, the request also adds a line to a list kept on the heap between
//! requests, then checks every line kept so far; the answer says whether all were
//! intact (`"kept_intact"`), which they would not be if the allocator handed their
//! memory out again.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

use zato_sdk::prelude::*;

/// Requests this instance has served.
static SERVED: AtomicU32 = AtomicU32::new(0);

/// One line per `?keep=1` request this instance has served.
static KEPT: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// The line kept for the `n`th request.
fn line(n: u32) -> String {
    format!("request {n} was here {}", "-".repeat(n as usize % 97))
}

/// Counts the requests its instance served.
#[zato_sdk::service(name = "test.counter")]
fn counter(req: Request) -> Result<Response, Error> {
    let count = SERVED.fetch_add(1, Ordering::Relaxed) + 1;
    if req.payload() == b"trap" {
        panic!("asked to trap after {count} requests");
    }
    let kept_intact = (req.query("keep") == Some("1")).then(|| {
        let mut kept = KEPT.lock().unwrap_or_else(|e| e.into_inner());
        kept.push(line(count));
        kept.iter().zip(1..).all(|(kept, n)| *kept == line(n))
    });
    let scratch = vec![count as u8; 16 * 1024];
    let address = std::hint::black_box(scratch.as_ptr()) as usize;
    drop(scratch);
    Response::json(&serde_json::json!({
        "count": count,
        "scratch": address,
        "kept_intact": kept_intact,
    }))
}
