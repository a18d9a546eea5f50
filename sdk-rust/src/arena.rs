//! The SDK's allocator: a bump arena in static memory, then Rust's allocator.
//!
//! A service runs in a fresh instance per request, so most of what it allocates lives
//! for one request and is thrown away with the instance. A general-purpose allocator
//! does work for nothing there:
//! - on `wasm32-wasip2`, wasi-libc's dlmalloc: every string and list the host passes in
//!   is a `cabi_realloc` call into it, and the service's own allocations are more. The
//!   SDK provides `cabi_realloc` on that target (at the end of this file), because
//!   wasi-libc frees with `free()` some of what the host writes through it.
//! - on `wasm32-unknown-unknown` (a lean build), Rust's allocator takes every byte from
//!   `memory.grow`, so the first allocation of every instance grows its linear memory,
//!   and wasmtime's pooling allocator pays two `mprotect` system calls per request for
//!   it (making the pages accessible, then inaccessible again when the slot is
//!   recycled).
//!
//! This allocator serves allocations from an arena in the module's static memory first
//! and from Rust's allocator once the arena is used up. It is a bump allocator that
//! frees the most recent allocation and grows or shrinks it in place (temporaries,
//! `Vec` and `String` growth). It also counts its live allocations and starts over from
//! its first byte whenever that count falls to zero; until then, other frees are
//! reclaimed only when the instance is dropped, which a fresh instance per request does
//! after every request.
//!
//! The count is what serves a warm instance (`zato.instance_reuse`): the request's
//! strings and lists, and the service's own temporaries, are all freed by the end of a
//! request (the last ones by the export's post-return function, once the host has read
//! the response), so every request bump-allocates from the start again.
//! - Without the count, what a request freed out of order would stay used, so the
//!   arena would fill up after a few hundred requests and a warm instance would carry
//!   on with wasi-libc's dlmalloc.
//! - Counting costs a fresh instance next to nothing (a few instructions per
//!   allocation); `bench/RESULTS.md` has the measurements.
//! - Anything kept on the heap between requests keeps the count above zero: a cache in
//!   a `static`, or std's lazily allocated buffers (stdout's, after a `println!`). Such
//!   an instance carries on in the arena until it is full, then with Rust's allocator,
//!   as before. The SDK itself keeps nothing on the heap (its panic hook is a
//!   zero-sized closure).
//!
//! On by default through the `arena` feature, on every wasm32 target without threads;
//! a service with its own `#[global_allocator]` turns it off with
//! `default-features = false`.

#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::UnsafeCell;

/// The arena's size: 256 KiB, four wasm pages added to the module's initial memory.
/// What a request of the examples allocates fits several times over.
pub const ARENA_BYTES: usize = 256 * 1024;

#[repr(C, align(16))]
struct Bytes([u8; ARENA_BYTES]);

struct Arena {
    bytes: UnsafeCell<Bytes>,
    /// Offset of the first free byte.
    next: UnsafeCell<usize>,
    /// Allocations in the arena not freed yet; at zero, `next` goes back to 0.
    live: UnsafeCell<usize>,
}

// SAFETY: the arena is compiled only for wasm32 without the `atomics` target feature
// (wasm32-wasip2, wasm32-unknown-unknown), where a module has exactly one thread.
unsafe impl Sync for Arena {}

static ARENA: Arena = Arena {
    bytes: UnsafeCell::new(Bytes([0; ARENA_BYTES])),
    next: UnsafeCell::new(0),
    live: UnsafeCell::new(0),
};

impl Arena {
    fn base(&self) -> *mut u8 {
        self.bytes.get().cast()
    }

    /// The offset of `ptr` in the arena, if it is one of the arena's.
    fn offset_of(&self, ptr: *mut u8) -> Option<usize> {
        (ptr as usize)
            .checked_sub(self.base() as usize)
            .filter(|offset| *offset < ARENA_BYTES)
    }

    /// # Safety
    /// Single-threaded use only (see the `Sync` impl), no reference to `next` alive.
    unsafe fn next(&self) -> &mut usize {
        unsafe { &mut *self.next.get() }
    }

    /// # Safety
    /// As for [`Arena::next`].
    unsafe fn live(&self) -> &mut usize {
        unsafe { &mut *self.live.get() }
    }
}

/// Arena first, then Rust's allocator: see the module's documentation.
pub struct ArenaThenSystem;

// SAFETY: every pointer handed out is either inside the arena, aligned as asked and not
// overlapping any live allocation (a bump pointer only moves back over the allocation
// being freed or resized, or to the start once no allocation in the arena is live), or
// comes from `System`, to which it is given back.
unsafe impl GlobalAlloc for ArenaThenSystem {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let next = unsafe { ARENA.next() };
        let base = ARENA.base() as usize;
        // Align the address, not the offset: the arena's own alignment is only 16.
        let start = (base + *next).next_multiple_of(layout.align()) - base;
        match start.checked_add(layout.size()) {
            Some(end) if end <= ARENA_BYTES => {
                *next = end;
                unsafe { *ARENA.live() += 1 };
                unsafe { ARENA.base().add(start) }
            }
            _ => unsafe { System.alloc(layout) },
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        match ARENA.offset_of(ptr) {
            Some(offset) => {
                let (next, live) = unsafe { (ARENA.next(), ARENA.live()) };
                debug_assert!(*live > 0, "an arena block freed twice");
                *live -= 1;
                if *live == 0 {
                    // Nothing in the arena is in use: all of it is free again.
                    *next = 0;
                } else if offset + layout.size() == *next {
                    *next = offset;
                }
            }
            None => unsafe { System.dealloc(ptr, layout) },
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let Some(offset) = ARENA.offset_of(ptr) else {
            return unsafe { System.realloc(ptr, layout, new_size) };
        };
        let next = unsafe { ARENA.next() };
        if offset + layout.size() == *next && offset + new_size <= ARENA_BYTES {
            *next = offset + new_size;
            return ptr;
        }
        // SAFETY: the caller guarantees that `new_size`, rounded up to the alignment,
        // does not overflow `isize`.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        let new = unsafe { self.alloc(new_layout) };
        if !new.is_null() {
            unsafe {
                std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
        }
        new
    }
}

#[global_allocator]
static ALLOCATOR: ArenaThenSystem = ArenaThenSystem;

/// Set while the `handle` export runs the service's code; see [`cabi_realloc`].
#[cfg(target_env = "p2")]
static IN_EXPORT: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Marks the service's code as running until dropped: see [`cabi_realloc`].
#[cfg(target_env = "p2")]
pub(crate) struct ExportScope(());

#[cfg(target_env = "p2")]
impl ExportScope {
    pub(crate) fn enter() -> Self {
        IN_EXPORT.store(true, std::sync::atomic::Ordering::Relaxed);
        Self(())
    }
}

#[cfg(target_env = "p2")]
impl Drop for ExportScope {
    fn drop(&mut self) {
        IN_EXPORT.store(false, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Runs `import`, a call of one of zato's own imports whose result only Rust code
/// frees, with [`cabi_realloc`] taking from the arena as it does for an export's
/// arguments. Without it, the first string an import returned in a fresh instance
/// would set up wasi-libc's allocator, work a fresh instance would do for nothing.
#[cfg(target_env = "p2")]
pub(crate) fn rust_owned<T>(import: impl FnOnce() -> T) -> T {
    use std::sync::atomic::Ordering;
    /// Puts the flag back however `import` ends.
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            IN_EXPORT.store(self.0, Ordering::Relaxed);
        }
    }
    let _restore = Restore(IN_EXPORT.swap(false, Ordering::Relaxed));
    import()
}

/// The canonical ABI's allocator on wasm32-wasip2, through which the host writes every
/// string and list it passes into the guest's memory. It replaces Rust std's (a weak
/// symbol), which would take everything from the arena.
///
/// Two kinds of code receive such memory, and they free it differently:
/// - the arguments of an export call (the request) are written before any guest code
///   runs, and Rust frees them, so they come from the arena; so do the results of the
///   SDK's own calls of zato's imports, made through [`rust_owned`];
/// - what an import returns while the service's code runs may go to wasi-libc's C
///   bindings (`getentropy`, `read`, the environment), which free it with `free()`, so
///   it comes from wasi-libc's allocator. Rust frees such memory through the arena's
///   `dealloc`, which hands it back to `System`.
///
/// # Safety
/// Called by the host per the canonical ABI: `old_ptr`/`old_len`/`align` describe an
/// allocation this function made (or `old_len` is 0), `align` is a power of two.
#[cfg(target_env = "p2")]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cabi_realloc(
    old_ptr: *mut u8,
    old_len: usize,
    align: usize,
    new_len: usize,
) -> *mut u8 {
    if new_len == 0 {
        return align as *mut u8;
    }
    let ptr = unsafe {
        if old_len == 0 {
            let layout = Layout::from_size_align_unchecked(new_len, align);
            if IN_EXPORT.load(std::sync::atomic::Ordering::Relaxed) {
                System.alloc(layout)
            } else {
                ArenaThenSystem.alloc(layout)
            }
        } else {
            // Wherever the old block came from, `ArenaThenSystem` gives it back there.
            let layout = Layout::from_size_align_unchecked(old_len, align);
            ArenaThenSystem.realloc(old_ptr, layout, new_len)
        }
    };
    if ptr.is_null() {
        std::process::abort();
    }
    ptr
}
