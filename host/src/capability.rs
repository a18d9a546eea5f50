//! Host imports offered to services, one module per WIT interface (the wasmtime-wasi
//! shape): each implements the generated `Host` trait for the per-call [`Ctx`].
//!
//! Outer `Result` = trap (the host refuses to go on), inner `Result` = an error the
//! guest handles. Guest arguments are untrusted: sizes are checked before use.
//!
//! [`Ctx`]: crate::runtime::Ctx

mod config;
mod invoke;
mod log;
mod request;
mod types;
