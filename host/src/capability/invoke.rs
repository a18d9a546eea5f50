//! `zato:service/invoke`: calling another deployed service in-process.
//!
//! The callee gets a fresh instance, the caller's cid and what is left of the caller's
//! deadline. A chain deeper than the configured limit (a cycle, most often) fails with
//! a guest-visible error, and the chain is remembered so the top-level caller reports it.

use crate::runtime::bindings::zato::service::invoke::Host;
use crate::runtime::bindings::zato::service::types::{ChannelKind, DataFormat};
use crate::runtime::{CallContext, Ctx, Request, RequestDetails, Response, ServiceError};

/// Longest service name accepted; anything longer cannot be a deployed service.
const MAX_NAME_BYTES: usize = 256;

impl Host for Ctx {
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
        let Some(runtime) = self.runtime.upgrade() else {
            return Ok(Err(ServiceError::Retry("the server is stopping".into())));
        };
        let limit = runtime.settings().invoke_depth_limit;
        if self.call.depth + 1 > limit {
            let chain = format!(
                "`{}` invoking `{service}` at depth {}, over the limit of {limit}",
                self.service,
                self.call.depth + 1
            );
            let _ = self.call.depth_exceeded.set(chain.clone());
            return Ok(Err(ServiceError::Internal(format!(
                "invoke depth limit exceeded: {chain}"
            ))));
        }
        let (cid, caller) = (self.cid.clone(), self.service.clone());
        let call = CallContext {
            depth: self.call.depth + 1,
            ..self.call.clone()
        };
        // Boxed: the callee may invoke again, and a recursive async fn needs indirection.
        let result = Box::pin(async move {
            let request = Request {
                cid: &cid,
                channel: ChannelKind::Invoke,
                payload: &payload,
                data_format,
                details: Box::new(Invoked { caller }),
            };
            runtime.call(&service, request, call).await
        })
        .await;
        Ok(result.map_err(|e| e.to_service_error()))
    }
}

/// What an invoked service reads of its request: the calling service, as the channel's
/// name. An invoke has no headers and no HTTP part.
struct Invoked {
    caller: std::sync::Arc<str>,
}

impl RequestDetails for Invoked {
    fn channel_name(&self) -> &str {
        &self.caller
    }
}
