//! Write zato services in Rust.
//!
//! A zato service is a WebAssembly component that implements the `zato:service` WIT
//! contract (`wit/service.wit`): it exports `handle` and `info`, and may call the host's
//! `request`, `log`, `config` and `invoke` capabilities. This crate hides the generated
//! bindings behind typed wrappers, so that a service is one annotated function:
//!
//! ```
//! use zato_sdk::prelude::*;
//!
//! /// Says hello.
//! #[zato_sdk::service(name = "demo.hello", description = "Says hello")]
//! fn hello(req: Request) -> Result<Response, Error> {
//!     let name = req.query("name").unwrap_or("world");
//!     Response::json(&serde_json::json!({ "message": format!("Hello, {name}!") }))
//! }
//! # let response = hello(Request::builder().query("name", "Ada").build())?;
//! # assert_eq!(response.payload(), br#"{"message":"Hello, Ada!"}"#);
//! # Ok::<(), Error>(())
//! ```
//!
//! Build it as a `cdylib` with `cargo build --release --target wasm32-wasip2`; the
//! `.wasm` file that comes out is the component to deploy. One crate holds one service.
//!
//! # Layout
//!
//! - [`service`]: the attribute that exports a function as the service and declares its
//!   name, description, Simple IO fields and slow-response threshold.
//! - [`Request`], [`Response`], [`Error`]: what `handle` receives and answers.
//! - [`config`], [`log`], [`invoke`], [`invoke_async`], [`kv`], [`lock`],
//!   [`dictionary`], [`outgoing`], [`sql`], [`ftp`], [`amqp`], [`zeromq`]: the host
//!   capabilities.
//! - [`metadata`]: the static description the attribute builds for the host.
//!
//! # Testing a service natively
//!
//! The annotated function stays an ordinary function, and the SDK compiles for the
//! native target too, so a service can be unit-tested with `cargo test`: build its
//! input with [`Request::builder`]. Outside a zato host, [`log`] writes to standard
//! error, [`config`] is empty, [`invoke`] finds no service, and [`kv`], [`lock`] and
//! [`dictionary`] work on the test thread's own map.

#![deny(missing_docs)]
// `forbid` would be stronger, but the generated bindings need `unsafe` for the canonical
// ABI: they are the one module allowed it.
#![deny(unsafe_code)]

#[doc(hidden)]
#[allow(missing_docs, unsafe_code)]
pub mod bindings;

pub mod amqp;
#[cfg(all(
    feature = "arena",
    target_arch = "wasm32",
    not(target_feature = "atomics")
))]
mod arena;
pub mod config;
mod convert;
pub mod dictionary;
mod error;
mod export;
pub mod ftp;
pub mod invoke;
pub mod invoke_async;
mod json;
pub mod kv;
pub mod lock;
pub mod log;
pub mod metadata;
pub mod outgoing;
mod request;
mod response;
pub mod sql;
#[cfg(not(target_arch = "wasm32"))]
pub mod testing;
pub mod xml;
pub mod zeromq;

pub use error::Error;
pub use request::{Caller, ChannelKind, DataFormat, Request, RequestBuilder};
pub use response::Response;

/// Calls one of zato's imports whose result only Rust code frees. Where the SDK's arena
/// serves wasm32-wasip2, the host then writes that result into the arena, as it does an
/// export's arguments, instead of into wasi-libc's allocator (see `arena::rust_owned`).
pub(crate) fn import<T>(call: impl FnOnce() -> T) -> T {
    #[cfg(all(
        feature = "arena",
        target_arch = "wasm32",
        target_env = "p2",
        not(target_feature = "atomics")
    ))]
    return arena::rust_owned(call);
    #[allow(unreachable_code)]
    call()
}

/// Exports a function as the crate's zato service.
///
/// The function takes a [`Request`] and returns `Result<Response, Error>`; it is kept
/// as it is (so tests can call it) and the attribute adds the component's exports. A
/// crate holds exactly one service.
///
/// # Arguments
///
/// - `name = "demo.hello"` (required): the unique service name. ASCII letters, digits,
///   `.`, `-` and `_`, with no empty segment between dots.
/// - `description = "..."`: defaults to the function's doc comment.
/// - `input = "..."`: the Simple IO fields the host validates in a JSON request before
///   calling the service.
/// - `output = "..."`: the fields the service promises in its JSON response
///   (documentation).
/// - `slow_threshold_ms = 500`: the service's threshold of a slow response (0, the
///   default, means the server's). It is stored with the service; nothing records
///   slow responses yet (the statistics will).
///
/// A field list is comma-separated `name: type` pairs, where `type` is one of `any`,
/// `string`, `integer`, `number`, `boolean`, `object` and `array`, and a trailing `?`
/// marks the field optional: `"first_name: string, email: string?, orders: array?"`.
/// Mistakes in the arguments are compile errors:
///
/// ```compile_fail
/// use zato_sdk::prelude::*;
///
/// // error: invalid `input`: field `age: int`: unknown type `int`, expected one of any,
/// // string, integer, number, boolean, object, array
/// #[zato_sdk::service(name = "crm.age", input = "age: int")]
/// fn age(req: Request) -> Result<Response, Error> {
///     Ok(Response::empty())
/// }
/// ```
///
/// # Example
///
/// ```
/// use zato_sdk::prelude::*;
///
/// /// Builds a customer's display name.
/// #[zato_sdk::service(
///     name = "crm.display-name",
///     input = "first_name: string, last_name: string, title: string?",
///     output = "display_name: string",
///     slow_threshold_ms = 200,
/// )]
/// fn display_name(req: Request) -> Result<Response, Error> {
///     let customer: serde_json::Value = req.json_value()?;
///     let part = |key: &str| customer.get(key).and_then(|value| value.as_str());
///     let (Some(first), Some(last)) = (part("first_name"), part("last_name")) else {
///         return Err(Error::bad_request("`first_name` and `last_name` are required"));
///     };
///     let display_name = match part("title") {
///         Some(title) => format!("{title} {first} {last}"),
///         None => format!("{first} {last}"),
///     };
///     Response::json(&serde_json::json!({ "display_name": display_name }))
/// }
/// # let req = Request::builder()
/// #     .json(&serde_json::json!({"first_name": "Ada", "last_name": "Lovelace"}))
/// #     .build();
/// # assert_eq!(display_name(req)?.payload(), br#"{"display_name":"Ada Lovelace"}"#);
/// # Ok::<(), Error>(())
/// ```
pub use zato_sdk_macro::service;

/// Re-exported so that a service can build JSON without depending on `serde_json` itself.
pub use serde_json;

/// What the `#[service]` expansion refers to. Not a public API: it may change in any
/// release.
#[doc(hidden)]
pub mod __private {
    pub use crate::export::*;
}

/// The names almost every service uses: `use zato_sdk::prelude::*;`.
pub mod prelude {
    pub use crate::{
        ChannelKind, DataFormat, Error, Request, Response, config, invoke, log, serde_json,
    };
}
