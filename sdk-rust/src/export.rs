//! What the [`#[service]`](crate::service) attribute's expansion calls: the glue between
//! the generated `Guest` trait and the user's function. Not a public API.

use std::sync::OnceLock;

use crate::bindings::zato::service::types as wit;
use crate::metadata::ServiceInfo;
use crate::{Error, Request, Response};

pub use crate::bindings::exports::zato::service::service::Guest;

/// The generated request type, as the expansion's `Guest` impl receives it.
pub type RawRequest = wit::Request;
/// The generated response type, as the expansion's `Guest` impl returns it.
pub type RawResponse = wit::Response;
/// The generated error type, as the expansion's `Guest` impl returns it.
pub type RawError = wit::Error;
/// The generated service-info type, as the expansion's `Guest` impl returns it.
pub type RawServiceInfo = wit::ServiceInfo;

/// Runs `service` on `request`, converting on the way in and out.
pub fn handle<F>(request: RawRequest, service: F) -> Result<RawResponse, RawError>
where
    F: FnOnce(Request) -> Result<Response, Error>,
{
    install_panic_hook();
    // Where the SDK provides `cabi_realloc` (see `arena.rs`), it must know that the
    // service's code runs.
    #[cfg(all(
        feature = "arena",
        target_arch = "wasm32",
        target_env = "p2",
        not(target_feature = "atomics")
    ))]
    let _running = crate::arena::ExportScope::enter();
    service(request.into()).map(Into::into).map_err(Into::into)
}

/// Converts the attribute's static description for the host.
pub fn info(info: &ServiceInfo) -> RawServiceInfo {
    info.into()
}

/// Sends panic messages to the server's log as well as to standard error.
///
/// A panic traps the instance (guests are built with `panic=abort`); without this hook
/// its message would only reach the guest's stderr, which the host may not keep, and
/// the log line carries the service's name and the cid.
fn install_panic_hook() {
    // The hooks live in the instance as long as it does. Neither allocates: std's default
    // hook and this closure are zero-sized, so the SDK's arena, which starts over once
    // none of its allocations is live, can do so between a warm instance's requests.
    type Hook = Box<dyn Fn(&std::panic::PanicHookInfo<'_>) + Sync + Send + 'static>;
    static DEFAULT: OnceLock<Hook> = OnceLock::new();
    DEFAULT.get_or_init(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(|panic| {
            crate::log::error(&format!("service panicked: {panic}"));
            if let Some(default) = DEFAULT.get() {
                default(panic);
            }
        }));
        default
    });
}
