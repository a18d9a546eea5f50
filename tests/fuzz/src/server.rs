//! One in-process server for `http_request`, with the fuzz guest deployed behind a few
//! HTTP channels, and one fuzzed request's exchange with it over TCP.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::signal::unix::{SignalKind, signal};
use tokio::time::timeout;
use zato_host::Server;
use zato_host::api::{DataFormat, HttpChannel};
use zato_host::config::{HttpSettings, ServerConfig};
use zato_host::odb::{HttpChannels, SqlOdb};

use crate::guest;

/// How long a whole request may wait for its answer: the calls get 1 s
/// ([`crate::runtime_settings`]). Past it the exchange ends without one: the request
/// was not as whole as [`expected`] judged it.
const ANSWER: Duration = Duration::from_secs(2);
/// How long an HTTP/2 connection gets to answer before its client stops sending.
const HTTP2_QUIET: Duration = Duration::from_millis(50);
/// How long the server gets to close a connection whose client stopped sending.
const CLOSE: Duration = Duration::from_secs(5);

/// A running server and the tokio runtime it runs on.
pub struct FuzzServer {
    pub addr: SocketAddr,
    tokio: tokio::runtime::Runtime,
    _server: Server,
    _dir: tempfile::TempDir,
}

impl FuzzServer {
    /// Starts a server on 127.0.0.1, port 0, with [`channels`] and the fuzz guest.
    pub fn start() -> Self {
        let tokio = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let dir = crate::temp_dir();
        let server = tokio.block_on(async {
            // A Rust `main` ignores SIGPIPE (std does, before it runs), libFuzzer's does
            // not: the server's vectored writes to a connection this client has reset
            // would kill the process. A handler, once registered, stays for its life.
            let _ = signal(SignalKind::pipe()).expect("SIGPIPE can be handled");
            let odb = format!("sqlite://{}/odb.sqlite", dir.path().display());
            // Created before the server starts, which loads them.
            let channels = SqlOdb::connect(&odb).await.expect("the ODB opens");
            for channel in channels_to_create() {
                channels
                    .create_http_channel(&channel)
                    .await
                    .expect("a channel is created");
            }
            let server = Server::start(config(dir.path(), &odb))
                .await
                .expect("the server starts");
            server
                .deployer()
                .deploy(guest::component(), "fuzz-guest")
                .await
                .expect("the fuzz guest deploys");
            server
        });
        Self {
            addr: server.addr(),
            tokio,
            _server: server,
            _dir: dir,
        }
    }

    /// Sends `request` on a new connection, then waits for the answer, or for the
    /// server to close the connection once the client stopped sending.
    pub fn exchange(&self, request: &[u8]) {
        self.tokio.block_on(exchange(self.addr, request));
    }
}

/// A server for fuzzing: an ODB in `dir`, no pickup directory, an admin password
/// nobody knows (the admin API changes the server, which would make an input's
/// outcome depend on the ones before it), short HTTP timeouts, and no background
/// reconcile or heartbeat, whose work would count as coverage of whatever input ran.
fn config(dir: &Path, odb: &str) -> ServerConfig {
    let password = zato_host::channel::new_cid();
    let mut config: ServerConfig = toml::from_str(&format!(
        "name = \"fuzz\"\nbind = \"127.0.0.1:0\"\nodb = \"{odb}\"\n\
         [admin]\nusername = \"admin\"\npassword_hash = \"{}\"\n",
        zato_host::admin::hash_password(&password)
    ))
    .expect("the fuzz server's config parses");
    config.data_dir = dir.join("data");
    config.runtime = crate::runtime_settings();
    config.http = HttpSettings {
        max_body_bytes: 64 * 1024,
        header_read_timeout_ms: 2_000,
        idle_timeout_ms: 3_000,
        body_read_timeout_ms: 1_000,
        max_connections: 64,
        ..HttpSettings::default()
    };
    config.deploy.reconcile_interval_ms = 3_600_000;
    config.membership.heartbeat_ms = 3_600_000;
    config
}

/// Every kind of path pattern (fixed, `{param}`, a param after fixed text, `{*rest}`),
/// of method list and of data format, and a channel whose service is not deployed.
fn channels_to_create() -> Vec<HttpChannel> {
    let channel = |name: &str, path: &str, methods: &[&str], format, timeout_ms| HttpChannel {
        name: name.into(),
        path: path.into(),
        methods: methods.iter().map(|m| m.to_string()).collect(),
        service: guest::NAME.into(),
        data_format: format,
        timeout_ms,
        security: None,
    };
    vec![
        channel("script", "/fuzz/{id}", &[], DataFormat::Raw, 0),
        channel(
            "json",
            "/json/{a}/v{b}",
            &["GET", "POST"],
            DataFormat::Json,
            0,
        ),
        channel(
            "files",
            "/files/{*rest}",
            &["PUT", "DELETE"],
            DataFormat::Xml,
            200,
        ),
        channel("exact", "/exact", &["POST"], DataFormat::Raw, 0),
        HttpChannel {
            service: "no.such.service".into(),
            ..channel("missing", "/missing", &[], DataFormat::Json, 0)
        },
    ]
}

async fn exchange(addr: SocketAddr, request: &[u8]) {
    let mut stream = TcpStream::connect(addr)
        .await
        .expect("the server accepts connections");
    // Closed with a reset: at thousands of connections a second, ports in TIME_WAIT
    // would run out.
    let _ = stream.set_zero_linger();
    // The server may refuse the request and close before it has read all of it.
    let _ = stream.write_all(request).await;
    match expected(request) {
        Expect::Answer { head_only } => {
            let _ = timeout(ANSWER, read_answer(&mut stream, head_only)).await;
        }
        Expect::Http2 => {
            let _ = timeout(HTTP2_QUIET, drain(&mut stream)).await;
            let _ = stream.shutdown().await;
            let _ = timeout(CLOSE, drain(&mut stream)).await;
        }
        Expect::Nothing => {
            // Without more bytes the server cannot answer: tell it none will come.
            let _ = stream.shutdown().await;
            let _ = timeout(CLOSE, drain(&mut stream)).await;
        }
    }
}

/// What the server can do with a request's bytes.
#[derive(Debug, PartialEq, Eq)]
enum Expect {
    /// Answer: the request's head and body are whole (as far as `httparse` tells).
    Answer { head_only: bool },
    /// Speak HTTP/2 (prior knowledge): answers come in frames.
    Http2,
    /// Wait for more, or refuse it.
    Nothing,
}

fn expected(request: &[u8]) -> Expect {
    if request.starts_with(b"PRI * HTTP/2.0") {
        return Expect::Http2;
    }
    let mut headers = [httparse::EMPTY_HEADER; 128];
    let mut parsed = httparse::Request::new(&mut headers);
    let Ok(httparse::Status::Complete(head)) = parsed.parse(request) else {
        return Expect::Nothing;
    };
    let body = &request[head..];
    let whole = if header(parsed.headers, "transfer-encoding").is_some() {
        find(body, b"0\r\n\r\n")
    } else {
        match header(parsed.headers, "content-length").map(parse_length) {
            Some(Some(length)) => body.len() as u64 >= length,
            Some(None) => true,
            None => true,
        }
    };
    match whole {
        true => Expect::Answer {
            head_only: parsed.method == Some("HEAD"),
        },
        false => Expect::Nothing,
    }
}

/// Reads until the first final response is whole, or the connection ends.
async fn read_answer(stream: &mut TcpStream, head_only: bool) {
    let mut answer = Vec::new();
    let mut chunk = [0; 16 * 1024];
    loop {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => answer.extend_from_slice(&chunk[..n]),
        }
        if answered(&answer, head_only) {
            return;
        }
    }
}

/// Whether `answer` holds a whole final response. Panics if it is not HTTP/1: the
/// server must never send a malformed response, whatever the request or the service.
fn answered(mut answer: &[u8], head_only: bool) -> bool {
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut response = httparse::Response::new(&mut headers);
        let head = match response.parse(answer) {
            Ok(httparse::Status::Complete(head)) => head,
            Ok(httparse::Status::Partial) => return false,
            Err(e) => panic!(
                "the server's answer is not HTTP/1 ({e}): {:?}",
                String::from_utf8_lossy(answer)
            ),
        };
        let status = response.code.unwrap_or_default();
        if (100..200).contains(&status) && status != 101 {
            // An interim response (100 Continue): the final one follows.
            answer = &answer[head..];
            continue;
        }
        if head_only || matches!(status, 101 | 204 | 304) {
            return true;
        }
        let body = &answer[head..];
        return match header(response.headers, "content-length").and_then(parse_length) {
            Some(length) => body.len() as u64 >= length,
            None => body.ends_with(b"0\r\n\r\n"),
        };
    }
}

async fn drain(stream: &mut TcpStream) {
    let mut chunk = [0; 16 * 1024];
    while let Ok(1..) = stream.read(&mut chunk).await {}
}

fn header<'a>(headers: &[httparse::Header<'a>], name: &str) -> Option<&'a [u8]> {
    headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case(name))
        .map(|h| h.value)
}

fn parse_length(value: &[u8]) -> Option<u64> {
    std::str::from_utf8(value).ok()?.trim().parse().ok()
}

fn find(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_is_answered_once_its_head_and_body_are_whole() {
        let get = b"GET /fuzz/1 HTTP/1.1\r\nhost: x\r\n\r\n";
        assert_eq!(expected(get), Expect::Answer { head_only: false });
        assert_eq!(expected(b"GET /fuzz/1 HTTP/1.1\r\n"), Expect::Nothing);
        let short = b"POST /exact HTTP/1.1\r\ncontent-length: 5\r\n\r\nab";
        assert_eq!(expected(short), Expect::Nothing);
        let head = b"HEAD / HTTP/1.1\r\n\r\n";
        assert_eq!(expected(head), Expect::Answer { head_only: true });
    }

    #[test]
    fn an_answer_is_whole_with_its_body() {
        let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
        assert!(answered(ok, false));
        assert!(!answered(&ok[..ok.len() - 1], false));
        let interim = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n";
        assert!(answered(interim, false));
    }
}
