//! How a service's `invoke` is made: the callee gets a fresh instance (or a warm one),
//! the caller's cid and what is left of the caller's deadline. A chain deeper than the
//! configured limit (a cycle, most often) fails with a guest-visible error, and the
//! chain is remembered so that the top-level caller reports it.

use std::sync::Arc;

use super::{CallContext, Ctx, Request, RequestDetails};
use crate::capability::invoke::{InvokeFuture, Invoker};
use crate::runtime::DataFormat;
use crate::runtime::ServiceError;
use crate::wit::zato::service::types::ChannelKind;

impl Invoker for Ctx {
    fn invoke(
        &mut self,
        service: String,
        payload: Vec<u8>,
        data_format: DataFormat,
    ) -> InvokeFuture {
        let Some(runtime) = self.runtime.upgrade() else {
            return Box::pin(async { Err(ServiceError::Retry("the server is stopping".into())) });
        };
        let limit = runtime.settings().invoke_depth_limit;
        if self.call.depth + 1 > limit {
            let chain = format!(
                "`{}` invoking `{service}` at depth {}, over the limit of {limit}",
                self.service,
                self.call.depth + 1
            );
            let _ = self.call.depth_exceeded.set(chain.clone());
            return Box::pin(async move {
                Err(ServiceError::Internal(format!(
                    "invoke depth limit exceeded: {chain}"
                )))
            });
        }
        let (cid, caller) = (self.cid.clone(), self.service.clone());
        let call = CallContext {
            depth: self.call.depth + 1,
            ..self.call.clone()
        };
        // Boxed: the callee may invoke again, and a recursive async fn needs indirection.
        Box::pin(async move {
            let request = Request {
                cid: &cid,
                channel: ChannelKind::Invoke,
                payload: &payload,
                data_format,
                details: Box::new(Invoked { caller }),
            };
            runtime
                .call(&service, request, call)
                .await
                .map_err(|e| e.to_service_error())
        })
    }
}

/// What an invoked service reads of its request: the calling service, as the channel's
/// name. An invoke has no headers and no HTTP part.
struct Invoked {
    caller: Arc<str>,
}

impl RequestDetails for Invoked {
    fn channel_name(&self) -> &str {
        &self.caller
    }
}
