//! The request a call passes to a service: the record lowered into the guest, and the
//! details the guest reads through the `request` import when it asks.
//!
//! The canonical ABI copies every string and list of an export's arguments into the
//! guest with a call of the guest's `cabi_realloc`, a full entry into wasm of about 450
//! instructions. With cid, channel name, method, path, headers, query and path
//! parameters in the record, a request to `demo.hello` from wrk made 13 such calls;
//! a browser's ten headers or so add two each. Now the record holds only the channel
//! kind, the payload and its format, and a service pays for the rest when it reads it.
//!
//! [`Lowered`] is checked against the component's `handle` export (field names, order
//! and types) by `get_typed_func` on the first instance of each component
//! (`export.rs`): a mismatch with `wit/service.wit` fails that call with wasmtime's
//! type error, and the end-to-end tests read every field.

use std::borrow::Cow;

use wasmtime::component::{ComponentType, Lower};

use super::bindings::{ChannelKind, DataFormat};

/// One request to a service, as a channel hands it to [`Runtime::call`].
///
/// [`Runtime::call`]: super::Runtime::call
pub struct Request<'a> {
    /// Correlation id: unique per incoming request, shared by nested invokes.
    pub cid: &'a str,
    pub channel: ChannelKind,
    pub payload: &'a [u8],
    pub data_format: DataFormat,
    /// The rest, kept by the call's store while the service runs.
    pub details: Box<dyn RequestDetails>,
}

/// The parts of a request a service reads only when it asks (`interface request` in
/// `wit/service.wit`). Each channel implements it over the data it already owns (an
/// HTTP channel over hyper's request head), so handing it over copies nothing.
///
/// What a kind of channel adds to a request is a detail (by key) or a parameter (by
/// name), and the keys of each kind are defined in the WIT: the runtime passes them
/// through without knowing any channel's.
pub trait RequestDetails: Send + 'static {
    /// The channel's configured name (for `invoke`, the calling service).
    fn channel_name(&self) -> &str;

    /// Every detail the channel kind defines for the request, in the order the WIT
    /// lists its keys (an HTTP request's `method`, `path` and `query-string`).
    fn details(&self) -> Vec<(&str, Cow<'_, str>)> {
        Vec::new()
    }

    /// The detail `key`.
    fn detail(&self, key: &str) -> Option<Cow<'_, str>> {
        self.details()
            .into_iter()
            .find(|(name, _)| *name == key)
            .map(|(_, value)| value)
    }

    /// Every header, in order; names are lowercase.
    fn headers(&self) -> Vec<(&str, &str)> {
        Vec::new()
    }

    /// The value of the first header called `name`, compared case-insensitively.
    fn header(&self, name: &str) -> Option<&str> {
        self.headers()
            .into_iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value)
    }

    /// Every decoded query string pair, in order.
    fn query_pairs(&self) -> Vec<(Cow<'_, str>, Cow<'_, str>)> {
        Vec::new()
    }

    /// The first decoded value of the query string parameter `name`.
    fn query(&self, name: &str) -> Option<Cow<'_, str>> {
        self.query_pairs()
            .into_iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value)
    }

    /// Every named value the channel extracted from the request, in the channel's order
    /// (an HTTP channel's `{name}` path segments).
    fn params(&self) -> Vec<(&str, &str)> {
        Vec::new()
    }

    /// The parameter `name`.
    fn param(&self, name: &str) -> Option<&str> {
        self.params()
            .into_iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value)
    }
}

/// What a store holds outside a call to `handle`: no name, headers or details.
pub(crate) struct NoDetails;

impl RequestDetails for NoDetails {
    fn channel_name(&self) -> &str {
        ""
    }
}

/// Details that are fixed at build time, for benchmarks and tests that send the same
/// request again and again (handing them over allocates only the box).
#[derive(Debug, Clone, Copy, Default)]
pub struct StaticDetails {
    pub channel_name: &'static str,
    pub headers: &'static [(&'static str, &'static str)],
    /// Details by key, e.g. an HTTP request's `method` and `path`.
    pub details: &'static [(&'static str, &'static str)],
    /// Decoded query string pairs.
    pub query: &'static [(&'static str, &'static str)],
    pub params: &'static [(&'static str, &'static str)],
}

impl RequestDetails for StaticDetails {
    fn channel_name(&self) -> &str {
        self.channel_name
    }

    fn details(&self) -> Vec<(&str, Cow<'_, str>)> {
        self.details
            .iter()
            .map(|&(key, value)| (key, Cow::Borrowed(value)))
            .collect()
    }

    fn detail(&self, key: &str) -> Option<Cow<'_, str>> {
        let (_, value) = self.details.iter().find(|(name, _)| *name == key)?;
        Some(Cow::Borrowed(value))
    }

    fn headers(&self) -> Vec<(&str, &str)> {
        self.headers.to_vec()
    }

    fn query_pairs(&self) -> Vec<(Cow<'_, str>, Cow<'_, str>)> {
        self.query
            .iter()
            .map(|&(key, value)| (Cow::Borrowed(key), Cow::Borrowed(value)))
            .collect()
    }

    fn params(&self) -> Vec<(&str, &str)> {
        self.params.to_vec()
    }
}

/// `request` in `wit/service.wit`, borrowed from the channel's [`Request`].
#[derive(ComponentType, Lower, Clone, Copy, Debug)]
#[component(record)]
pub(crate) struct Lowered<'a> {
    pub channel: ChannelKind,
    pub payload: &'a [u8],
    #[component(name = "data-format")]
    pub data_format: DataFormat,
}

impl<'a> Request<'a> {
    pub(crate) fn lowered(&self) -> Lowered<'a> {
        Lowered {
            channel: self.channel,
            payload: self.payload,
            data_format: self.data_format,
        }
    }
}
