//! `test.entropy`: reads random bytes through wasi-libc's `getentropy`, as C code linked
//! into a service (a crypto library, say) does.
//!
//! wasi-libc gets the bytes from `wasi:random` as a list that the host writes into the
//! guest's memory through the guest's `cabi_realloc`, and gives it back with `free()`.
//! So `cabi_realloc` must hand out memory that wasi-libc's allocator owns while the
//! service's code runs, whatever allocator the SDK puts in front of Rust's. Answers
//! `{"distinct": N}`: how many of its 8 reads of 32 bytes differed from each other.

#![allow(unsafe_code)]

use std::collections::BTreeSet;

use zato_sdk::prelude::*;
use zato_sdk::serde_json::json;

unsafe extern "C" {
    /// wasi-libc's `getentropy(3)`: at most 256 bytes; 0 on success.
    fn getentropy(buffer: *mut u8, length: usize) -> i32;
}

/// Reads random bytes eight times through wasi-libc.
#[zato_sdk::service(name = "test.entropy", output = "distinct: integer")]
fn entropy(_req: Request) -> Result<Response, Error> {
    let mut reads = BTreeSet::new();
    for _ in 0..8 {
        let mut bytes = [0u8; 32];
        // SAFETY: `bytes` is a writable buffer of the length passed.
        if unsafe { getentropy(bytes.as_mut_ptr(), bytes.len()) } != 0 {
            return Err(Error::internal("getentropy failed"));
        }
        reads.insert(bytes);
    }
    Response::json(&json!({ "distinct": reads.len() }))
}
