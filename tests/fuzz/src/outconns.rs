//! The outgoing connections the `fuzz.imports` guest calls by name, so that its
//! `outgoing-http`, `outgoing-soap`, `sql` and `ftp` calls get past the lookup to the
//! host's checks of paths, headers, bodies and parameters, and to what comes back:
//!
//! - `http` and `soap`: an HTTP server on 127.0.0.1 ([`echo`]) that answers every
//!   request with its own body, so a SOAP call's envelope comes back to be unwrapped;
//! - `sql`: an in-memory SQLite database, new for each input ([`Outconns::renew`]);
//! - `ftp`: a port on 127.0.0.1 that nothing listens on, refused at once.
//!
//! Nothing leaves the machine.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use zato_host::api::Outconn;

/// The connections' definitions, and which of two SQL definitions is in use.
pub struct Outconns {
    echo: SocketAddr,
    closed_port: u16,
    odd: AtomicBool,
}

impl Outconns {
    /// Starts the echo server and finds a closed port.
    pub fn start() -> Self {
        // Bound and let go: nothing listens there afterwards.
        let closed_port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a port on 127.0.0.1")
            .port();
        Self {
            echo: echo(),
            closed_port,
            odd: AtomicBool::new(false),
        }
    }

    /// The definitions to apply for the next input. The SQL one alternates between two
    /// row caps: a changed definition gets a new pool, and with it a new in-memory
    /// database, so what one input stores never reaches (nor piles up for) the next.
    pub fn renew(&self) -> Vec<Outconn> {
        let odd = !self.odd.fetch_xor(true, Ordering::Relaxed);
        let http = serde_json::json!({
            "address": format!("http://{}/api", self.echo),
            "timeout_ms": 500,
        });
        let mut http_settings = http.clone();
        http_settings["type"] = "http".into();
        let defs = serde_json::json!([
            {"name": "http", "settings": http_settings},
            {"name": "soap", "settings": {"type": "soap", "http": http, "soap_action": "urn:fuzz"}},
            {"name": "sql", "settings": {
                "type": "sql",
                "url": "sqlite::memory:",
                "timeout_ms": 500,
                "max_rows": if odd { 101 } else { 100 },
            }},
            {"name": "ftp", "settings": {
                "type": "ftp",
                "host": "127.0.0.1",
                "port": self.closed_port,
                "base_dir": "/fuzz",
                "timeout_ms": 500,
            }},
        ]);
        serde_json::from_value(defs).expect("the outgoing connections' definitions")
    }
}

/// Starts an HTTP/1.1 server on 127.0.0.1, port 0, that answers each request with 200,
/// a `text/xml` content type and the request's own body, then closes the connection.
fn echo() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a port for the echo server");
    let addr = listener.local_addr().expect("the echo server's address");
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                // A client that went away or sent something else gets no answer.
                let _ = answer(stream);
            });
        }
    });
    addr
}

fn answer(mut stream: TcpStream) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    let mut request = Vec::new();
    let mut chunk = vec![0; 64 * 1024];
    let (head, length) = loop {
        let read = stream.read(&mut chunk)?;
        if read == 0 {
            return Ok(());
        }
        request.extend_from_slice(&chunk[..read]);
        let mut headers = [httparse::EMPTY_HEADER; 256];
        let mut parsed = httparse::Request::new(&mut headers);
        match parsed.parse(&request) {
            Ok(httparse::Status::Complete(head)) => {
                let length = parsed
                    .headers
                    .iter()
                    .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                    .and_then(|h| std::str::from_utf8(h.value).ok()?.trim().parse().ok())
                    .unwrap_or(0usize);
                break (head, length);
            }
            Ok(httparse::Status::Partial) => {}
            Err(_) => return Ok(()),
        }
    };
    while request.len() < head + length {
        let read = stream.read(&mut chunk)?;
        if read == 0 {
            return Ok(());
        }
        request.extend_from_slice(&chunk[..read]);
    }
    let body = &request[head..head + length];
    write!(
        stream,
        "HTTP/1.1 200 OK\r\ncontent-type: text/xml; charset=utf-8\r\ncontent-length: {}\r\n\
         connection: close\r\n\r\n",
        body.len()
    )?;
    stream.write_all(body)
}
