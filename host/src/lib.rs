//! zato-host: the zato server.
//!
//! A server runs user services, which are WebAssembly components, in wasmtime
//! sandboxes and exposes them through channels. Services are hot-deployed: new bytes go
//! through one pipeline whatever door they came in by (pickup directory, admin API).
//!
//! Layout, from the bottom up (a module uses only those above it in this list, and
//! `server` wires them all; `layers.rs` checks it, so there is no cycle):
//! - [`api`]: the admin API's wire types (the `zato-api` crate), [`config`]: the typed
//!   configuration file, [`sio`]: Simple IO validation.
//! - [`odb`]: the operational database (sqlx), [`kvdb`]: key/values, locks and the
//!   broker; [`reload`]: notices and reloadable kinds of configuration.
//! - [`singleton`]: the lease that makes one server of a cluster the singleton.
//! - [`outconn`]: the live outgoing connections (HTTP, SOAP, SQL, FTP) services reach
//!   other systems through, by name. [`dictionary`]: the server's copy of the data
//!   dictionary, which `translate` reads. [`rate_limit`]: rate limits and allow lists,
//!   counted in memory or in the KVDB.
//! - [`runtime`]: the wasmtime engine, compiled services, one fresh instance per call;
//!   it knows nothing about HTTP or any other channel. [`capability`]: the host imports
//!   offered to services, one module per WIT interface, linked by the runtime.
//!   [`stats`]: usage statistics, samples and slow responses, recorded by the runtime's
//!   callers and kept in the KVDB.
//! - [`deploy`]: the deploy pipeline (validate, lock, compile, store, publish, apply,
//!   reconcile); the ODB's version number is the fencing token. [`pickup`] feeds it.
//! - [`http_response`]: the one place where errors become HTTP responses.
//! - [`channel`]: how requests reach services ([`channel::call_service`], shared by all).
//! - [`scheduler`]: jobs; the planner on the singleton, the worker on every server.
//!   [`invoke_async`]: the worker of asynchronous invokes, on every server.
//! - [`admin`]: the authenticated admin API under `/zato/api/`.
//! - [`server`]: wires it all together and runs the loops.
//!
//! Invariant: guest input never panics the host. A trap, a timeout or a memory bomb
//! fails the one request it belongs to, with a message naming the service and the cid.

pub mod admin;
pub mod api;
pub mod capability;
pub mod channel;
pub mod config;
pub mod deploy;
pub mod dictionary;
pub mod http_response;
pub mod invoke_async;
pub mod kvdb;
pub mod metrics;
pub mod odb;
pub mod outconn;
pub mod pickup;
pub mod rate_limit;
pub mod reload;
pub mod runtime;
pub mod scheduler;
pub mod security;
pub mod server;
pub mod singleton;
pub mod sio;
pub mod stats;
pub mod telemetry;
pub mod wit;

pub use server::Server;

#[cfg(test)]
mod layers;
