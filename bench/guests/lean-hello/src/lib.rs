//! `demo.lean`: answers `{"message":"Hello, NAME!"}` for `?name=NAME`, like `demo.hello`,
//! with nothing but `core` and `alloc`: no std, so no WASI import, and a bump allocator
//! over a 64 KiB arena (an instance serves one request, so nothing is ever freed).

#![no_std]

extern crate alloc;

use alloc::string::String;
use alloc::vec::Vec;
use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;

wit_bindgen::generate!({ path: "../../../wit", world: "zato-service" });

use exports::zato::service::service::{Error, Guest, Request, Response, ServiceInfo};

struct Lean;

impl Guest for Lean {
    fn handle(_: Request) -> Result<Response, Error> {
        // The record carries only the payload; the query is read from the host.
        let name = zato::service::request::query("name");
        let name = name.as_deref().unwrap_or("world");
        let mut payload = Vec::with_capacity(name.len() + 24);
        payload.extend_from_slice(b"{\"message\":\"Hello, ");
        // The benchmark's names need no JSON escaping; a real service would escape.
        payload.extend_from_slice(name.as_bytes());
        payload.extend_from_slice(b"!\"}");
        Ok(Response {
            status: 200,
            headers: Vec::new(),
            payload,
        })
    }

    fn info() -> ServiceInfo {
        ServiceInfo {
            name: String::from("demo.lean"),
            description: String::from("demo.hello without std, WASI or the SDK (benchmarks)"),
            input: Vec::new(),
            output: Vec::new(),
            slow_threshold_ms: 0,
        }
    }
}

export!(Lean);

const ARENA: usize = 64 * 1024;

/// A bump allocator over a static arena; allocation fails (the guest traps) past it.
struct Bump {
    next: UnsafeCell<usize>,
    arena: UnsafeCell<[u8; ARENA]>,
}

// One instance runs one request on one thread.
unsafe impl Sync for Bump {}

#[global_allocator]
static ALLOCATOR: Bump = Bump {
    next: UnsafeCell::new(0),
    arena: UnsafeCell::new([0; ARENA]),
};

unsafe impl GlobalAlloc for Bump {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: single-threaded (see `Sync` above); the pointer stays in the arena.
        unsafe {
            let base = self.arena.get() as usize;
            let next = &mut *self.next.get();
            let start = (base + *next).next_multiple_of(layout.align());
            let end = start + layout.size();
            if end > base + ARENA {
                return core::ptr::null_mut();
            }
            *next = end - base;
            start as *mut u8
        }
    }

    unsafe fn dealloc(&self, _: *mut u8, _: Layout) {}
}

/// The canonical ABI's allocator, which wit-bindgen leaves to std when there is none.
///
/// # Safety
///
/// Called by the host only, as the canonical ABI says: `old` is null or a block of
/// `old_len` bytes this function returned, and `align` is a power of two.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cabi_realloc(
    old: *mut u8,
    old_len: usize,
    align: usize,
    new_len: usize,
) -> *mut u8 {
    if new_len == 0 {
        return align as *mut u8;
    }
    // SAFETY: the canonical ABI passes a valid power-of-two alignment and an old block
    // of `old_len` bytes (or null).
    unsafe {
        let new = ALLOCATOR.alloc(Layout::from_size_align_unchecked(new_len, align));
        if new.is_null() {
            core::arch::wasm32::unreachable();
        }
        if !old.is_null() {
            core::ptr::copy_nonoverlapping(old, new, old_len.min(new_len));
        }
        new
    }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    core::arch::wasm32::unreachable()
}
