//! `zato:service/invoke`: calling another deployed service in-process.
//!
//! This module checks the guest's arguments; how the call is made (a fresh instance,
//! the caller's cid and what is left of its deadline, the depth limit that stops a
//! cycle) is the runtime's, behind [`Invoker`].

use std::future::Future;
use std::pin::Pin;

use wasmtime::component::{HasData, Linker};

use crate::wit::zato::service::invoke::{self, Host};
use crate::wit::zato::service::types::DataFormat;
use crate::wit::{Error as ServiceError, Response};

/// Longest service name accepted: anything longer cannot be a deployed service.
const MAX_NAME_BYTES: usize = crate::api::MAX_SERVICE_NAME;

/// An invoke in progress, owning what it needs.
pub type InvokeFuture = Pin<Box<dyn Future<Output = Result<Response, ServiceError>> + Send>>;

/// What `invoke` needs of the call that makes it: a way to call another service as
/// part of the same chain.
pub trait Invoker: Send {
    /// Calls `service`; the error is the one the calling guest gets.
    fn invoke(
        &mut self,
        service: String,
        payload: Vec<u8>,
        data_format: DataFormat,
    ) -> InvokeFuture;
}

/// What the `invoke` import reaches of a call.
pub struct InvokeView<'a>(pub &'a mut dyn Invoker);

struct Invoke;

impl HasData for Invoke {
    type Data<'a> = InvokeView<'a>;
}

/// Links `invoke`, reading each call's [`InvokeView`] from the store's data with `get`.
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> InvokeView<'_>,
) -> wasmtime::Result<()> {
    invoke::add_to_linker::<T, Invoke>(linker, get)
}

impl Host for InvokeView<'_> {
    async fn invoke(
        &mut self,
        service: String,
        payload: Vec<u8>,
        data_format: DataFormat,
    ) -> wasmtime::Result<Result<Response, ServiceError>> {
        if service.is_empty() || service.len() > MAX_NAME_BYTES {
            return Ok(Err(ServiceError::BadRequest(format!(
                "invalid service name ({} bytes): must be 1 to {MAX_NAME_BYTES} bytes",
                service.len()
            ))));
        }
        Ok(self.0.invoke(service, payload, data_format).await)
    }
}
