//! zato-host: the zato server.
//!
//! A server runs user services, which are WebAssembly components, in wasmtime
//! sandboxes and exposes them through channels. Services are hot-deployed: new bytes go
//! through one pipeline whatever door they came in by (pickup directory, admin API).
//!
//! Layout:
//! - [`runtime`]: the wasmtime engine, compiled services, one fresh instance per call.
//!   It knows nothing about HTTP.
//! - [`capability`]: host imports offered to services (`log`, `config`, `invoke`), one
//!   file per WIT interface.
//! - [`deploy`]: the deploy pipeline (validate, lock, compile, store, publish, apply,
//!   reconcile). The ODB's version number is the fencing token.
//! - [`pickup`]: the watched hot-deploy directory, feeding [`deploy`].
//! - [`channel`]: how requests reach services; only `channel::http` builds HTTP responses.
//! - [`admin`]: the authenticated admin API under `/zato/api/`.
//! - [`odb`]: the operational database (sqlx), [`kvdb`]: key/values, locks and the broker.
//! - [`server`]: wires it all together; [`config`]: the typed configuration file.
//!
//! Invariant: guest input never panics the host. A trap, a timeout or a memory bomb
//! fails the one request it belongs to, with a message naming the service and the cid.

pub mod admin;
pub mod api;
pub mod capability;
pub mod channel;
pub mod config;
pub mod deploy;
pub mod kvdb;
pub mod odb;
pub mod pickup;
pub mod runtime;
pub mod server;
pub mod sio;

pub use server::Server;
