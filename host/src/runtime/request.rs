//! The request a call lowers into the guest, borrowed from wherever its channel keeps
//! the data.
//!
//! It is `zato:service/types.request` with every string and list borrowed. The owned
//! record that bindgen generates would have each channel copy every header, query pair,
//! path and the payload into host `String`s and `Vec`s, only for wasmtime to copy them
//! again into the guest's memory and then free them. Lowering reads these fields
//! directly. In callgrind on the server under wrk (together with the cid written into
//! a byte array), a request to `demo.hello` went from 93.6k to 90.7k instructions with
//! a fresh instance and from 43.5k to 41.1k with a warm one.
//!
//! The types are checked against the component's `handle` export (field names, order
//! and types) by `get_typed_func` on the first instance of each component
//! (`export.rs`): a mismatch with `wit/service.wit` fails that call with wasmtime's
//! type error, and the end-to-end tests call every field.

use wasmtime::component::{ComponentType, Lower};

use super::bindings::{ChannelKind, DataFormat};

/// One request to a service (`request` in `wit/service.wit`).
#[derive(ComponentType, Lower, Clone, Copy, Debug)]
#[component(record)]
pub struct Request<'a> {
    /// Correlation id: unique per incoming request, shared by nested invokes.
    pub cid: &'a str,
    pub channel: Channel<'a>,
    /// Header names are lowercase.
    pub headers: &'a [(&'a str, &'a str)],
    pub http: Option<HttpRequest<'a>>,
    pub payload: &'a [u8],
    #[component(name = "data-format")]
    pub data_format: DataFormat,
}

/// The channel a request came in through (`channel`).
#[derive(ComponentType, Lower, Clone, Copy, Debug)]
#[component(record)]
pub struct Channel<'a> {
    pub kind: ChannelKind,
    /// The channel's configured name (for `invoke`, the calling service).
    pub name: &'a str,
}

/// HTTP details of a request that came through an HTTP channel (`http-request`).
#[derive(ComponentType, Lower, Clone, Copy, Debug)]
#[component(record)]
pub struct HttpRequest<'a> {
    pub method: &'a str,
    pub path: &'a str,
    /// Decoded query string pairs, in order.
    pub query: &'a [(&'a str, &'a str)],
    /// Values of the `{params}` of the channel's path pattern.
    #[component(name = "path-params")]
    pub path_params: &'a [(&'a str, &'a str)],
}
