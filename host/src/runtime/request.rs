//! The request a call passes to a service: the record lowered into the guest. The
//! rest of the request (its `RequestDetails`) goes into the call's store for the
//! `request` import.
//!
//! The canonical ABI copies every string and list of an export's arguments into the
//! guest, each with a call of the guest's `cabi_realloc` (a full entry into wasm), so
//! the record holds only the channel kind, the payload and its format, and a service
//! pays for the rest of its request when it reads it.
//!
//! [`Lowered`] is checked against the component's `handle` export (field names, order
//! and types) by `get_typed_func` on the first instance of each component
//! (`export.rs`): a mismatch with `wit/service.wit` fails that call with wasmtime's
//! type error, and the end-to-end tests read every field.

use wasmtime::component::{ComponentType, Lower};

use super::bindings::{ChannelKind, DataFormat};
use crate::capability::request::RequestDetails;

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
