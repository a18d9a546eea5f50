//! Services calling FTP servers through outgoing connections, against pyftpdlib (from
//! PyPI, installed by tests/run.sh) started by each test on 127.0.0.1 with a port it
//! picks itself, a temporary root, a user and a password: the `demo.ftp-fetch` example
//! fetches, stores, lists, renames and deletes files under the connection's base
//! directory; a path leaving it is refused and nothing outside it is touched; a wrong
//! password is a clear error.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, Command};
use zato_api::{FtpSettings, Outconn, OutconnSettings, OutconnType};
use zato_test_artifacts as wasm;

use crate::harness::TestServer;

const USER: &str = "zato";
const PASSWORD: &str = "ftp-secret";
const BANNER: &str = "zato test ftp ready";

/// pyftpdlib on 127.0.0.1, serving `root` to [`USER`] (over FTPS only when given a
/// certificate and its key); it binds port 0 and prints the port it got.
const FTP_SERVER: &str = r#"
import sys
from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler
from pyftpdlib.servers import FTPServer

root, user, password, banner = sys.argv[1:5]
authorizer = DummyAuthorizer()
authorizer.add_user(user, password, root, perm="elradfmwMT")
handler = FTPHandler
if len(sys.argv) > 5:
    # FTPS: TLS required on the control and the data connections.
    from pyftpdlib.handlers import TLS_FTPHandler
    handler = TLS_FTPHandler
    handler.certfile, handler.keyfile = sys.argv[5:7]
    handler.tls_control_required = True
    handler.tls_data_required = True
handler.authorizer = authorizer
handler.banner = banner
server = FTPServer(("127.0.0.1", 0), handler)
print("listening on", server.address[1], flush=True)
server.serve_forever()
"#;

struct Ftp {
    _child: Child,
    port: u16,
}

impl Ftp {
    async fn start(root: &Path) -> Self {
        Self::start_with(root, &[]).await
    }

    /// FTPS with the certificate and key in these files (pyOpenSSL, from tests/run.sh).
    async fn start_tls(root: &Path, cert: &Path, key: &Path) -> Self {
        Self::start_with(root, &[cert, key]).await
    }

    async fn start_with(root: &Path, tls: &[&Path]) -> Self {
        let mut child = Command::new("python3")
            .args(["-c", FTP_SERVER])
            .arg(root)
            .args([USER, PASSWORD, BANNER])
            .args(tls)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("python3 runs");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
            .await
            .expect("pyftpdlib starts within 20 s (is it installed? see tests/run.sh)")
            .unwrap()
            .expect("pyftpdlib says where it listens");
        let port = line
            .strip_prefix("listening on ")
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line from pyftpdlib: {line}"));
        Self {
            _child: child,
            port,
        }
    }
}

fn connection(name: &str, port: u16, base_dir: &str, password: &str) -> Outconn {
    Outconn {
        name: name.into(),
        active: true,
        settings: OutconnSettings::Ftp(FtpSettings {
            host: "127.0.0.1".into(),
            port,
            username: USER.into(),
            tls: false,
            ca_pem: None,
            base_dir: base_dir.into(),
            timeout_ms: 10_000,
        }),
        secret: Some(password.into()),
    }
}

/// A server running `demo.ftp-fetch` at `/demo/ftp`, its connection `files` to an FTP
/// server whose root holds `data/` (the base directory) and `secret.txt` beside it.
struct Setup {
    server: TestServer,
    root: tempfile::TempDir,
    ftp: Ftp,
}

impl Setup {
    async fn start() -> Self {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("data/in")).unwrap();
        std::fs::create_dir_all(root.path().join("data/out")).unwrap();
        std::fs::write(
            root.path().join("data/in/orders.csv"),
            "id,total\n1,10\n2,20\n",
        )
        .unwrap();
        std::fs::write(root.path().join("secret.txt"), "do not touch").unwrap();
        let ftp = Ftp::start(root.path()).await;
        let server = TestServer::start().await;
        server
            .api
            .create_outconn(&connection("files", ftp.port, "/data", PASSWORD))
            .await
            .unwrap();
        server.deploy(wasm::FTP_FETCH).await;
        server
            .channel("ftp", "/demo/ftp", "demo.ftp-fetch", 0)
            .await;
        Self { server, root, ftp }
    }

    async fn send(&self, method: Method, query: &str, body: Vec<u8>) -> (StatusCode, Vec<u8>) {
        let response = self
            .server
            .http
            .request(method, format!("{}/demo/ftp?{query}", self.server.base))
            .body(body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        (status, response.bytes().await.unwrap().to_vec())
    }

    async fn json(&self, method: Method, query: &str, body: Vec<u8>) -> (StatusCode, Value) {
        let (status, body) = self.send(method, query, body).await;
        let text = String::from_utf8_lossy(&body).into_owned();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_example_fetches_a_file() {
    let setup = Setup::start().await;
    let (status, body) = setup.send(Method::GET, "path=in/orders.csv", vec![]).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    assert_eq!(body, b"id,total\n1,10\n2,20\n");
    // An absolute path under the base is the same file.
    let (status, summary) = setup
        .json(Method::GET, "path=/data/in/orders.csv&summary=1", vec![])
        .await;
    assert_eq!(status, StatusCode::OK, "{summary}");
    assert_eq!(
        summary,
        json!({"path": "/data/in/orders.csv", "bytes": 19, "lines": 3, "first_line": "id,total"})
    );
    // A file that is not there is the server's 550, named.
    let (status, missing) = setup.json(Method::GET, "path=in/nothing.csv", vec![]).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{missing}");
    assert!(missing.to_string().contains("550"), "{missing}");
    // The ping logs in and asks the working directory.
    let ping = setup
        .server
        .api
        .ping_outconn(OutconnType::Ftp, "files")
        .await
        .unwrap();
    assert!(ping.ok && ping.detail.contains(BANNER), "{ping:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn put_list_rename_and_delete_work() {
    let setup = Setup::start().await;
    let data = setup.root.path().join("data");
    let (status, put) = setup
        .json(Method::PUT, "path=out/report.txt", b"hello\x00ftp".to_vec())
        .await;
    assert_eq!(status, StatusCode::OK, "{put}");
    assert_eq!(
        std::fs::read(data.join("out/report.txt")).unwrap(),
        b"hello\x00ftp"
    );

    let (status, listed) = setup.json(Method::GET, "dir=out", vec![]).await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    let entries = listed["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{listed}");
    assert_eq!(entries[0]["name"], "report.txt");
    assert_eq!(entries[0]["size"], 9);
    assert_eq!(entries[0]["is_dir"], false);
    assert!(entries[0]["modified"].is_string(), "{listed}");
    let (_, root) = setup.json(Method::GET, "dir=/data", vec![]).await;
    let mut names: Vec<_> = root["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["name"].as_str().unwrap().to_owned(), e["is_dir"] == true))
        .collect();
    names.sort();
    assert_eq!(names, [("in".to_owned(), true), ("out".to_owned(), true)]);

    let rename = json!({"from": "out/report.txt", "to": "/data/in/report.txt"});
    let (status, renamed) = setup
        .json(Method::POST, "", rename.to_string().into_bytes())
        .await;
    assert_eq!(status, StatusCode::OK, "{renamed}");
    assert!(!data.join("out/report.txt").exists());
    assert_eq!(
        std::fs::read(data.join("in/report.txt")).unwrap(),
        b"hello\x00ftp"
    );

    let (status, deleted) = setup
        .json(Method::DELETE, "path=in/report.txt", vec![])
        .await;
    assert_eq!(status, StatusCode::OK, "{deleted}");
    assert!(!data.join("in/report.txt").exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_path_leaving_the_base_is_refused_and_nothing_outside_is_touched() {
    let setup = Setup::start().await;
    for (method, query) in [
        (Method::GET, "path=../etc/passwd"),
        (Method::GET, "path=../secret.txt"),
        (Method::GET, "path=in/../../secret.txt"),
        (Method::GET, "path=/secret.txt"),
        (Method::GET, "dir=/"),
        (Method::DELETE, "path=../secret.txt"),
        (Method::PUT, "path=/secret.txt"),
        (
            Method::GET,
            "path=in/orders.csv%0D%0ADELE%20..%2Fsecret.txt",
        ),
    ] {
        let (status, answer) = setup
            .json(method.clone(), query, b"overwritten".to_vec())
            .await;
        assert_eq!(
            status,
            StatusCode::BAD_REQUEST,
            "{method} {query}: {answer}"
        );
        let text = answer.to_string();
        assert!(text.contains("refused"), "{method} {query}: {text}");
    }
    let (status, answer) = setup
        .json(
            Method::POST,
            "",
            json!({"from": "in/orders.csv", "to": "../stolen.csv"})
                .to_string()
                .into_bytes(),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert!(answer.to_string().contains("../stolen.csv"), "{answer}");
    let (_, answer) = setup.json(Method::GET, "path=../etc/passwd", vec![]).await;
    assert!(answer.to_string().contains("`../etc/passwd`"), "{answer}");

    // Nothing outside the base was read, written, moved or deleted.
    let root = setup.root.path();
    assert_eq!(
        std::fs::read_to_string(root.join("secret.txt")).unwrap(),
        "do not touch"
    );
    assert!(!root.join("stolen.csv").exists());
    assert!(root.join("data/in/orders.csv").exists());
    // The server keeps serving.
    let (status, _) = setup.send(Method::GET, "path=in/orders.csv", vec![]).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_password_is_a_clear_error() {
    let setup = Setup::start().await;
    setup
        .server
        .api
        .update_outconn(
            "files",
            &connection("files", setup.ftp.port, "/data", "not-the-password"),
        )
        .await
        .unwrap();
    let (status, answer) = setup.json(Method::GET, "path=in/orders.csv", vec![]).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{answer}");
    assert!(
        answer.to_string().contains("refused the login of `zato`"),
        "{answer}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn ftps_with_the_servers_ca_fetches_and_without_it_is_refused() {
    let pki = tempfile::tempdir().unwrap();
    let (ca, _, _) = crate::harness::test_pki(pki.path());
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("data/in")).unwrap();
    std::fs::write(root.path().join("data/in/orders.csv"), "id\n1\n").unwrap();
    let ftp = Ftp::start_tls(
        root.path(),
        &pki.path().join("server.pem"),
        &pki.path().join("server.key"),
    )
    .await;
    let server = TestServer::start().await;
    server.deploy(wasm::FTP_FETCH).await;
    server
        .channel("ftp", "/demo/ftp", "demo.ftp-fetch", 0)
        .await;
    let fetch = || async {
        let response = server
            .http
            .get(format!("{}/demo/ftp?path=in/orders.csv", server.base))
            .send()
            .await
            .unwrap();
        (response.status(), response.text().await.unwrap())
    };

    // Plain FTP against a server that requires TLS: its refusal, named.
    let plain = connection("files", ftp.port, "/data", PASSWORD);
    server.api.create_outconn(&plain).await.unwrap();
    let (status, body) = fetch().await;
    assert!(status.is_server_error(), "{status}: {body}");

    // FTPS trusting the server's CA: the file, over TLS on both connections.
    let mut secure = plain.clone();
    if let OutconnSettings::Ftp(settings) = &mut secure.settings {
        settings.tls = true;
        settings.ca_pem = Some(ca);
    }
    server.api.update_outconn("files", &secure).await.unwrap();
    let (status, body) = fetch().await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, "id\n1\n");
    let ping = server
        .api
        .ping_outconn(OutconnType::Ftp, "files")
        .await
        .unwrap();
    assert!(ping.ok, "{ping:?}");

    // FTPS without the CA: the certificate is not trusted, and the call says so.
    if let OutconnSettings::Ftp(settings) = &mut secure.settings {
        settings.ca_pem = None;
    }
    server.api.update_outconn("files", &secure).await.unwrap();
    let (status, body) = fetch().await;
    assert!(status.is_server_error(), "{status}: {body}");
    assert!(body.contains("certificate"), "{body}");
}
