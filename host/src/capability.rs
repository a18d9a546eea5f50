//! Host imports offered to services, one module per WIT interface, in the shape of
//! wasmtime's WASI crates: each has a view of what it reaches of a call (`LogView`,
//! `ConfigView`, ...) that implements the generated `Host` trait, and an
//! `add_to_linker` taking a function from the store's data to that view. The runtime
//! links them all (`Runtime::new`); a component's `InstancePre` resolves only the
//! imports it has, so a service pays for what it imports.
//!
//! Outer `Result` = trap (the host refuses to go on), inner `Result` = an error the
//! guest handles. Guest arguments are untrusted: sizes are checked before use.
//!
//! Adding a capability: a WIT interface in the contract's next patch version, a module
//! here with its view, its `Host` impl and its `add_to_linker`, and one line in
//! `Runtime::new` that links it with the view built from the call's state.

pub mod amqp;
pub mod config;
pub mod dictionary;
pub mod ftp;
pub mod invoke;
pub mod invoke_async;
pub mod kv;
pub mod lock;
pub mod log;
pub mod outgoing_http;
pub mod outgoing_soap;
pub mod request;
pub mod sql;
pub mod types;
pub mod zeromq;
