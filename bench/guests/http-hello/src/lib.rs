//! `http-hello`: what `demo.hello` answers, as a `wasi:http/proxy` component.
//!
//! `GET /?name=NAME` answers `{"message": "Hello, NAME!"}` (`world` when no name is
//! given), so that `wasmtime serve` running it does the same work per request as zato
//! running `demo.hello` behind an HTTP channel: a fresh instance, a query string parsed,
//! a JSON body serialised.

use wasip2::exports::http::incoming_handler::Guest;
use wasip2::http::types::{
    Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam,
};

struct Hello;

wasip2::http::proxy::export!(Hello);

impl Guest for Hello {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let name = request
            .path_with_query()
            .and_then(|p| p.split_once('?').map(|(_, q)| q.to_owned()))
            .and_then(|q| {
                q.split('&')
                    .filter_map(|pair| pair.split_once('='))
                    .find(|(k, v)| *k == "name" && !v.trim().is_empty())
                    .map(|(_, v)| v.to_owned())
            })
            .unwrap_or_else(|| "world".to_owned());
        let body = serde_json::to_vec(&serde_json::json!({ "message": format!("Hello, {name}!") }))
            .expect("a JSON object serialises");
        let headers =
            Fields::from_list(&[("content-type".to_owned(), b"application/json".to_vec())])
                .expect("a valid header");
        let response = OutgoingResponse::new(headers);
        let outgoing = response.body().expect("the body is taken once");
        ResponseOutparam::set(out, Ok(response));
        let stream = outgoing.write().expect("the stream is taken once");
        stream
            .blocking_write_and_flush(&body)
            .expect("the client reads the body");
        drop(stream);
        OutgoingBody::finish(outgoing, None).expect("the body is complete");
    }
}
