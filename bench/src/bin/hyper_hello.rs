//! `zato-bench-hyper`: the baseline of the HTTP scenario.
//!
//! A plain hyper "hello" server built with the same HTTP stack and settings as zato's
//! listener (`hyper-util`'s auto builder, a header-read timeout, `TCP_NODELAY`, one task
//! per connection) and answering what `demo.hello` answers, without any WebAssembly. The
//! difference between it and zato is what channels and sandboxes cost.
//!
//! Usage: `zato-bench-hyper [ADDR]` (default `127.0.0.1:0`); prints the address it
//! listens on as its first line of output, then serves until killed.

#![forbid(unsafe_code)]

use std::convert::Infallible;
use std::io::Write as _;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Request, Response, header};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".into());
    let listener = TcpListener::bind(&addr).await?;
    let mut stdout = std::io::stdout();
    writeln!(stdout, "{}", listener.local_addr()?)?;
    stdout.flush()?;

    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(10));
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        let conn = builder
            .serve_connection(TokioIo::new(stream), hyper::service::service_fn(hello))
            .into_owned();
        tokio::spawn(async move {
            let _ = conn.await;
        });
    }
}

/// `{"message": "Hello, NAME!"}` for `?name=NAME`, as `demo.hello` answers.
async fn hello(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let name = req
        .uri()
        .query()
        .and_then(|q| {
            form_urlencoded::parse(q.as_bytes())
                .find(|(k, v)| k == "name" && !v.trim().is_empty())
                .map(|(_, v)| v.into_owned())
        })
        .unwrap_or_else(|| "world".into());
    let body = serde_json::to_vec(&serde_json::json!({ "message": format!("Hello, {name}!") }))
        .expect("a JSON object serialises");
    let mut response = Response::new(Full::new(Bytes::from(body)));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(response)
}
