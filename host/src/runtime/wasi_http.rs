//! Standard `wasi:http/proxy` components, run unchanged.
//!
//! A component that exports `wasi:http/incoming-handler@0.2.x` rather than
//! `zato:service/service` (one built by `cargo component`, Spin's SDK, componentize-py's
//! HTTP template, jco, or the `wasip2` crate, for `wasmtime serve` or Spin) deploys
//! through the same pipeline as a zato service and is called the same way:
//!
//! - it has no `info()`: its name is that of the file it came in (`hello.wasm` ->
//!   `hello`, see [`name_from_source`]), it declares no fields and no threshold;
//! - a call makes an `incoming-request` of the channel-neutral request (its HTTP
//!   `method`, `path` and `query-string` details when a channel has them, `POST /`
//!   otherwise, its headers, the payload as the body) and takes the `response-outparam`
//!   back as a zato `response` (status, headers, body): every channel, `invoke`, the
//!   scheduler, statistics, security definitions and rate limits treat it as a zato
//!   service, with the same fresh instance, deadline and memory limit per call;
//! - outgoing HTTP (`wasi:http/outgoing-handler`) is denied (`HTTP request denied`):
//!   services reach other systems through named outgoing connections, which such a
//!   component cannot name.

use std::future::Future;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use wasmtime::Store;
use wasmtime::component::Component;
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::bindings::http::types::{ErrorCode, Scheme};
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::{RequestOptions, WasiBody, WasiHttpHooks};

use super::bindings::Response;
use super::{Ctx, RequestDetails};

/// The export that makes a component a `wasi:http` handler, without its patch.
const INCOMING_HANDLER: &str = "wasi:http/incoming-handler@0.2.";

/// Whether `component` is a `wasi:http/proxy` handler.
pub(crate) fn is_wasi_http(component: &Component) -> bool {
    component
        .component_type()
        .exports(component.engine())
        .any(|(name, _)| name.starts_with(INCOMING_HANDLER))
}

/// The service name of a `wasi:http` component from where it came: the file name
/// without its directory and `.wasm` (`pickup:hello.wasm`, `api:dir/hello.wasm` ->
/// `hello`). The deploy checks it against the service-name rule.
pub fn name_from_source(source: &str) -> &str {
    let file = source.rsplit(['/', '\\', ':']).next().unwrap_or(source);
    file.strip_suffix(".wasm").unwrap_or(file)
}

/// What a call of a `wasi:http` component may do beyond answering: nothing.
#[derive(Default)]
pub(crate) struct Hooks;

impl WasiHttpHooks for Hooks {
    fn send_request(
        &mut self,
        _request: http::Request<WasiBody>,
        _options: Option<RequestOptions>,
        _fut: Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
    ) -> Box<
        dyn Future<
                Output = wasmtime_wasi_http::Result<(
                    http::Response<WasiBody>,
                    Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
                )>,
            > + Send,
    > {
        Box::new(async { Err(wasmtime_wasi_http::Error::HttpRequestDenied) })
    }
}

/// The `incoming-request` a call makes of a channel's request.
fn incoming_request(
    details: &dyn RequestDetails,
    payload: &[u8],
) -> Result<http::Request<Full<Bytes>>, String> {
    let method = details.detail("method");
    let path = details.detail("path");
    let query = details.detail("query-string");
    let uri = match (path.as_deref(), query.as_deref()) {
        (Some(path), Some(query)) if !query.is_empty() => format!("{path}?{query}"),
        (Some(path), _) => path.to_owned(),
        (None, _) => "/".to_owned(),
    };
    let mut request = http::Request::builder()
        .method(method.as_deref().unwrap_or("POST"))
        .uri(uri);
    let mut host = false;
    for (name, value) in details.headers() {
        host |= name.eq_ignore_ascii_case("host");
        request = request.header(name, value);
    }
    if !host {
        // wasi:http asks every request for an authority.
        request = request.header(http::header::HOST, "localhost");
    }
    request
        .body(Full::new(Bytes::copy_from_slice(payload)))
        .map_err(|e| format!("the request cannot be given to a wasi:http component: {e}"))
}

/// What a `wasi:http` handler's call ends with: its response, or why it has none (the
/// component's own error code, or a body over the limit).
pub(crate) enum Answer {
    Response(Response),
    Failed(String),
}

/// Calls the handler of a fresh instance of `pre` in `store` with the request of the
/// store's details and `payload`, reading at most `max_body` bytes of the response body.
pub(crate) async fn call(
    pre: &ProxyPre<Ctx>,
    store: &mut Store<Ctx>,
    payload: &[u8],
    max_body: usize,
) -> wasmtime::Result<Answer> {
    let request = match incoming_request(&*store.data().details, payload) {
        Ok(request) => request,
        Err(reason) => return Ok(Answer::Failed(reason)),
    };
    let (sender, receiver) = tokio::sync::oneshot::channel();
    let (request, outparam) = {
        let mut http = wasmtime_wasi_http::WasiHttpView::http(store.data_mut());
        (
            http.new_incoming_request(Scheme::Http, request)?,
            http.new_response_outparam(sender)?,
        )
    };
    let proxy = pre.instantiate_async(&mut *store).await?;
    // The body is read while the handler writes it (a handler writing more than the
    // stream buffers waits for its reader), in a task of its own.
    let reader = tokio::spawn(read_response(receiver, max_body));
    let handled = proxy
        .wasi_http_incoming_handler()
        .call_handle(&mut *store, request, outparam)
        .await;
    if let Err(trap) = handled {
        reader.abort();
        return Err(trap);
    }
    // The handler returned: what it left open (a body it never finished) ends now, so
    // that the reader sees the end rather than waiting for the call's deadline.
    drop(std::mem::replace(
        &mut store.data_mut().table,
        wasmtime::component::ResourceTable::new(),
    ));
    Ok(reader
        .await
        .unwrap_or_else(|e| Answer::Failed(format!("its response could not be read: {e}"))))
}

async fn read_response(
    receiver: tokio::sync::oneshot::Receiver<Result<http::Response<HyperOutgoingBody>, ErrorCode>>,
    max_body: usize,
) -> Answer {
    let response = match receiver.await {
        Ok(Ok(response)) => response,
        Ok(Err(code)) => {
            return Answer::Failed(format!("the component answered with an error: {code:?}"));
        }
        Err(_) => return Answer::Failed("the component set no response".into()),
    };
    let (parts, body) = response.into_parts();
    let body = match http_body_util::Limited::new(body, max_body).collect().await {
        Ok(body) => body.to_bytes(),
        Err(e) => {
            return Answer::Failed(if e.is::<http_body_util::LengthLimitError>() {
                format!("its response body is over {max_body} bytes")
            } else {
                format!("its response body failed: {e}")
            });
        }
    };
    let headers = parts
        .headers
        .iter()
        .filter_map(|(name, value)| {
            Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned()))
        })
        .collect();
    Answer::Response(Response {
        status: parts.status.as_u16(),
        headers,
        payload: body.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_the_file_name_without_wasm() {
        for (source, name) in [
            ("pickup:hello.wasm", "hello"),
            ("api:dir/sub/http-hello.wasm", "http-hello"),
            ("api:C:\\x\\acme.api.wasm", "acme.api"),
            ("hello", "hello"),
            ("api:upload", "upload"),
        ] {
            assert_eq!(name_from_source(source), name, "{source}");
        }
    }
}
