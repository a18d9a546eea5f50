//! The HTTP request path: hyper's parsing, the server's own routes, the channel router
//! (path patterns, `{param}` decoding, methods), reading the body, the query string and
//! headers as the guest reads them, Simple IO on a JSON channel, and the guest's answer
//! turned into a response. A panic on any of the server's threads is a finding, and so
//! is an answer that is not HTTP/1.
//!
//! Input: the bytes a client sends on one connection. One server runs per process
//! (`zato_fuzz::server`), with the fuzz guest behind these channels: `/fuzz/{id}` (any
//! method, raw: the body is the guest's script), `/json/{a}/v{b}` (GET and POST,
//! JSON), `/files/{*rest}` (PUT and DELETE, XML, 200 ms), `/exact` (POST, raw) and
//! `/missing` (a service that is not deployed).

#![no_main]

use std::sync::LazyLock;

use zato_fuzz::server::FuzzServer;

static SERVER: LazyLock<FuzzServer> = LazyLock::new(|| {
    zato_fuzz::abort_on_panic();
    FuzzServer::start()
});

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    SERVER.exchange(data);
});
