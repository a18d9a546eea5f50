//! SOAP channels end to end: a real SOAP client (Python's zeep) reads a channel's WSDL
//! and calls `demo.soap-hello` over SOAP 1.1 and 1.2 while the same service answers
//! JSON over an HTTP channel; hostile envelopes (an entity bomb, a 10,000-level
//! document) are refused with a Fault and the server goes on; unknown operations and
//! service failures come back as Faults of the right code; channels are created,
//! changed and deleted through the CLI at run time and share the listener's paths with
//! HTTP channels.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use zato_test_artifacts as wasm;

use crate::cli::{text, zato};
use crate::harness::{PASSWORD, TestServer, USER, http_channel};

const SOAP11: &str = "http://schemas.xmlsoap.org/soap/envelope/";
const SOAP12: &str = "http://www.w3.org/2003/05/soap-envelope";

/// Runs `zato channel ...` against `server` with `--json`; the exit code and the JSON.
pub(crate) async fn channel_cli(server: &TestServer, args: &[&str]) -> (Option<i32>, Value) {
    let mut all = vec!["channel"];
    all.extend_from_slice(args);
    all.extend_from_slice(&[
        "--url",
        &server.base,
        "--user",
        USER,
        "--password",
        PASSWORD,
    ]);
    all.push("--json");
    let out = zato(&all).await;
    let value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{all:?}: {e}: {}", text(&out.stdout)));
    (out.status.code(), value)
}

/// POSTs `body` as a SOAP request of `version` (1.1 with a SOAPAction header, 1.2 with
/// an `action` parameter); the status, the content type and the body.
async fn soap(
    server: &TestServer,
    path: &str,
    version: &str,
    action: Option<&str>,
    body: String,
) -> (StatusCode, String, String) {
    let mut request = server
        .http
        .post(format!("{}{path}", server.base))
        .timeout(Duration::from_secs(10))
        .body(body);
    request = match (version, action) {
        ("1.1", action) => request
            .header("content-type", "text/xml; charset=utf-8")
            .header("soapaction", format!("\"{}\"", action.unwrap_or(""))),
        (_, Some(action)) => request.header(
            "content-type",
            format!("application/soap+xml; charset=utf-8; action=\"{action}\""),
        ),
        (_, None) => request.header("content-type", "application/soap+xml; charset=utf-8"),
    };
    let response = request.send().await.expect("the server answers");
    let status = response.status();
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    (status, content_type, response.text().await.unwrap())
}

fn envelope(ns: &str, body: &str) -> String {
    format!(
        r#"<?xml version="1.0"?><e:Envelope xmlns:e="{ns}"><e:Body>{body}</e:Body></e:Envelope>"#
    )
}

fn hello(name: &str) -> String {
    format!(r#"<h:demo.soap-hello xmlns:h="urn:test"><h:name>{name}</h:name></h:demo.soap-hello>"#)
}

/// The zeep client: reads the WSDL, calls the operation through each binding, and
/// prints one JSON line per call (the answer's fields, or the Fault's code and message).
const ZEEP: &str = r#"
import json, sys, zeep
wsdl, service, name = sys.argv[1], sys.argv[2], sys.argv[3]
client = zeep.Client(wsdl)
for port in ("Soap11", "Soap12"):
    proxy = client.bind(service, service + port)
    try:
        answer = proxy["demo.soap-hello"](name=name)
        print(json.dumps({"port": port, "message": answer.message, "channel": answer.channel}))
    except zeep.exceptions.Fault as fault:
        print(json.dumps({"port": port, "fault": fault.message, "code": str(fault.code)}))
"#;

async fn zeep(wsdl: &str, service: &str, name: &str) -> Vec<Value> {
    let out = tokio::process::Command::new("python3")
        .args(["-c", ZEEP, wsdl, service, name])
        .output()
        .await
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "zeep failed (tests/run.sh installs it): {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zeep_calls_a_service_through_our_wsdl_over_soap_1_1_and_1_2_and_rest_still_answers() {
    let server = TestServer::start().await;
    server.deploy(wasm::SOAP_HELLO).await;
    let (code, created) = channel_cli(
        &server,
        &[
            "create",
            "soap",
            "--name",
            "hello-soap",
            "--path",
            "/soap/hello",
            "--service",
            "demo.soap-hello",
        ],
    )
    .await;
    assert_eq!(code, Some(0), "{created}");
    assert_eq!(created["services"], serde_json::json!(["demo.soap-hello"]));
    server
        .api
        .create_http_channel(&http_channel(
            "hello-rest",
            "/rest/hello",
            "demo.soap-hello",
        ))
        .await
        .unwrap();

    // The WSDL describes the declared fields.
    let wsdl = server
        .http
        .get(format!("{}/soap/hello?wsdl", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(wsdl.status(), StatusCode::OK);
    let wsdl = wsdl.text().await.unwrap();
    assert!(
        wsdl.contains(r#"<xsd:element name="name" type="xsd:string" minOccurs="1"/>"#),
        "{wsdl}"
    );
    assert!(
        wsdl.contains(&format!(r#"location="{}/soap/hello""#, server.base)),
        "{wsdl}"
    );

    // zeep, through each binding.
    let answers = zeep(
        &format!("{}/soap/hello?wsdl", server.base),
        "hello-soap",
        "Ada & <Bob>",
    )
    .await;
    assert_eq!(answers.len(), 2, "{answers:?}");
    for (answer, port) in answers.iter().zip(["Soap11", "Soap12"]) {
        assert_eq!(answer["port"], port);
        assert_eq!(answer["message"], "Hello, Ada & <Bob>!", "{answer}");
        assert_eq!(answer["channel"], "soap", "{answer}");
    }
    // The service's refusal reaches zeep as a Fault of the sender, with its message.
    let faults = zeep(
        &format!("{}/soap/hello?wsdl", server.base),
        "hello-soap",
        "",
    )
    .await;
    for fault in &faults {
        assert!(
            fault["fault"]
                .as_str()
                .unwrap()
                .contains("`name` must not be empty"),
            "{fault}"
        );
    }
    assert!(
        faults[0]["code"].as_str().unwrap().contains("Client"),
        "{faults:?}"
    );
    assert!(
        faults[1]["code"].as_str().unwrap().contains("Sender"),
        "{faults:?}"
    );

    // The same service over REST.
    let (status, answer) = server.post("/rest/hello", r#"{"name":"Ada"}"#).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["message"], "Hello, Ada!");
    assert_eq!(answer["channel"], "http");

    // Each version's envelope and content type, by hand.
    let (status, content_type, body) = soap(
        &server,
        "/soap/hello",
        "1.2",
        None,
        envelope(SOAP12, &hello("Eve")),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(content_type, "application/soap+xml; charset=utf-8");
    assert!(body.contains(SOAP12), "{body}");
    assert!(
        body.contains(
            r#"<demo.soap-helloResponse xmlns="urn:test"><message>Hello, Eve!</message>"#
        ),
        "{body}"
    );
    let (status, content_type, body) = soap(
        &server,
        "/soap/hello",
        "1.1",
        None,
        envelope(SOAP11, &hello("Eve")),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(content_type, "text/xml; charset=utf-8");
    assert!(body.contains(SOAP11), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_envelopes_and_unknown_operations_get_faults_and_the_server_goes_on() {
    let server = TestServer::start().await;
    server.deploy(wasm::SOAP_HELLO).await;
    server.deploy(wasm::TRAP).await;
    let (code, out) = channel_cli(
        &server,
        &[
            "create",
            "soap",
            "--name",
            "two",
            "--path",
            "/soap/two",
            "--service",
            "demo.soap-hello",
            "--service",
            "test.trap",
        ],
    )
    .await;
    assert_eq!(code, Some(0), "{out}");

    // A billion laughs: refused at its DTD.
    let laughs: String = (1..10)
        .map(|i| {
            let previous = format!("&lol{};", i - 1);
            format!(r#"<!ENTITY lol{i} "{}">"#, previous.repeat(10))
        })
        .collect();
    let bomb = format!(
        r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol0 "lol">{laughs}]>{}"#,
        envelope(SOAP11, "<x>&lol9;</x>")
    );
    let sent = std::time::Instant::now();
    let (status, _, body) = soap(&server, "/soap/two", "1.1", Some("demo.soap-hello"), bomb).await;
    let bomb_ms = sent.elapsed().as_secs_f64() * 1e3;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body.contains("<faultcode>soap:Client</faultcode>"),
        "{body}"
    );
    assert!(body.contains("DTD"), "{body}");

    // 10,000 levels: refused at the 65th.
    let deep = envelope(
        SOAP12,
        &format!("{}{}", "<a>".repeat(10_000), "</a>".repeat(10_000)),
    );
    let sent = std::time::Instant::now();
    let (status, content_type, body) = soap(&server, "/soap/two", "1.2", None, deep).await;
    println!(
        "answered in {bomb_ms:.1} ms (entity bomb) and {:.1} ms (10,000 levels), over HTTP",
        sent.elapsed().as_secs_f64() * 1e3
    );
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(content_type, "application/soap+xml; charset=utf-8");
    assert!(body.contains("soap:Sender"), "{body}");
    assert!(body.contains("deeper than 64 levels"), "{body}");

    // An unknown SOAPAction, or with none a body element that names no service.
    let (status, _, body) = soap(
        &server,
        "/soap/two",
        "1.1",
        Some("urn:x/nope"),
        envelope(SOAP11, &hello("a")),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "1.1 Faults are 500: {body}"
    );
    assert!(body.contains("soap:Client"), "{body}");
    assert!(body.contains("unknown SOAPAction `urn:x/nope`"), "{body}");
    let (status, _, body) = soap(
        &server,
        "/soap/two",
        "1.2",
        None,
        envelope(SOAP12, "<other/>"),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "1.2 Sender Faults are 400: {body}"
    );
    assert!(body.contains("soap:Sender"), "{body}");
    assert!(body.contains("body element `other`"), "{body}");
    // A content type that is not SOAP's.
    let response = server
        .http
        .post(format!("{}/soap/two", server.base))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    // A service that fails: a Fault of the receiver, with what went wrong.
    let (status, _, body) = soap(
        &server,
        "/soap/two",
        "1.1",
        Some("test.trap"),
        envelope(SOAP11, "<x/>"),
    )
    .await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
    assert!(
        body.contains("<faultcode>soap:Server</faultcode>"),
        "{body}"
    );
    assert!(body.contains("test.trap"), "{body}");
    let (status, _, body) = soap(
        &server,
        "/soap/two",
        "1.2",
        Some("test.trap"),
        envelope(SOAP12, "<x/>"),
    )
    .await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
    assert!(body.contains("soap:Receiver"), "{body}");

    // The server goes on: the body element selects the service.
    let (status, _, body) = soap(
        &server,
        "/soap/two",
        "1.1",
        None,
        envelope(SOAP11, &hello("still here")),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("Hello, still here!"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soap_channels_change_at_run_time_and_share_paths_with_http_channels() {
    let server = TestServer::start().await;
    server.deploy(wasm::SOAP_HELLO).await;
    let call = |path: &'static str| {
        let server = &server;
        async move {
            soap(server, path, "1.1", None, envelope(SOAP11, &hello("x")))
                .await
                .0
        }
    };
    let (code, out) = channel_cli(
        &server,
        &[
            "create",
            "soap",
            "--name",
            "s",
            "--path",
            "/soap/a",
            "--service",
            "demo.soap-hello",
            "--soap-version",
            "1.1",
        ],
    )
    .await;
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(call("/soap/a").await, StatusCode::OK);
    // Only 1.1 is accepted, and the WSDL binds only it.
    let (status, _, body) = soap(
        &server,
        "/soap/a",
        "1.2",
        None,
        envelope(SOAP12, &hello("x")),
    )
    .await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
    assert!(body.contains("soap:VersionMismatch"), "{body}");

    // Edited: the new path answers at once, the old one is gone.
    let (code, out) = channel_cli(
        &server,
        &["edit", "soap", "s", "--path", "/soap/b", "--any-version"],
    )
    .await;
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(out["path"], "/soap/b");
    assert_eq!(out["versions"], serde_json::json!([]));
    assert_eq!(call("/soap/b").await, StatusCode::OK);
    assert_eq!(call("/soap/a").await, StatusCode::NOT_FOUND);

    // A path is an HTTP or a SOAP channel's, not both.
    server
        .api
        .create_http_channel(&http_channel("h", "/rest/h", "demo.soap-hello"))
        .await
        .unwrap();
    let (code, out) = channel_cli(
        &server,
        &[
            "create",
            "soap",
            "--name",
            "t",
            "--path",
            "/rest/h",
            "--service",
            "demo.soap-hello",
        ],
    )
    .await;
    assert_eq!(code, Some(1), "{out}");
    assert_eq!(out["status"], 409, "{out}");
    assert!(out["error"].as_str().unwrap().contains("`h`"), "{out}");
    let clash = server
        .api
        .create_http_channel(&http_channel("h2", "/soap/b", "demo.soap-hello"))
        .await;
    match clash {
        Err(zato_api::ClientError::Server {
            status, message, ..
        }) => {
            assert_eq!(status, StatusCode::CONFLICT);
            assert!(message.contains("`s`"), "{message}");
        }
        other => panic!("an HTTP channel took a SOAP channel's path: {other:?}"),
    }
    let (code, out) = channel_cli(
        &server,
        &[
            "create",
            "soap",
            "--name",
            "u",
            "--path",
            "/soap/u",
            "--service",
            "nope.nope",
        ],
    )
    .await;
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out["error"]
            .as_str()
            .unwrap()
            .contains("`nope.nope` is not deployed"),
        "{out}"
    );

    let (code, list) = channel_cli(&server, &["list", "soap"]).await;
    assert_eq!(code, Some(0), "{list}");
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list[0]["name"], "s");

    // Deleted: the next request finds no channel.
    let (code, out) = channel_cli(&server, &["delete", "soap", "s"]).await;
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(call("/soap/b").await, StatusCode::NOT_FOUND);
    let (code, list) = channel_cli(&server, &["list", "soap"]).await;
    assert_eq!(code, Some(0));
    assert_eq!(list, serde_json::json!([]));
    // The HTTP channel is still there, and `delete NAME` still means an HTTP channel.
    let (code, out) = channel_cli(&server, &["delete", "h"]).await;
    assert_eq!(code, Some(0), "{out}");
}

#[tokio::test]
async fn a_soap_body_too_large_or_stalled_is_a_fault_with_its_status() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let server = TestServer::start_with(|c| {
        c.http.max_body_bytes = 4096;
        c.http.body_read_timeout_ms = 300;
    })
    .await;
    server.deploy(wasm::SOAP_HELLO).await;
    let (code, out) = channel_cli(
        &server,
        &[
            "create",
            "soap",
            "--name",
            "limits",
            "--path",
            "/soap/limits",
            "--service",
            "demo.soap-hello",
        ],
    )
    .await;
    assert_eq!(code, Some(0), "{out}");

    // Past max_body_bytes: 413, as a Fault of the sender in the request's version.
    let big = envelope(SOAP12, &hello(&"x".repeat(5000)));
    let (status, content_type, body) = soap(&server, "/soap/limits", "1.2", None, big).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(content_type, "application/soap+xml; charset=utf-8");
    assert!(body.contains("soap:Sender"), "{body}");
    assert!(body.contains("larger than 4096 bytes"), "{body}");

    // A body that stops arriving: 408, a Fault too.
    let addr = server.base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(
            b"POST /soap/limits HTTP/1.1\r\nhost: x\r\ncontent-type: text/xml\r\nsoapaction: \"\"\r\ncontent-length: 1000\r\n\r\n<?xml vers",
        )
        .await
        .unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer))
        .await
        .expect("the server answers a stalled body within its timeout")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408 "), "{answer}");
    assert!(
        answer.contains("<faultcode>soap:Client</faultcode>"),
        "{answer}"
    );
    assert!(answer.contains("request body stalled"), "{answer}");

    // And the channel goes on serving.
    let (status, _, body) = soap(
        &server,
        "/soap/limits",
        "1.1",
        Some("demo.soap-hello"),
        envelope(SOAP11, &hello("after")),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("after"), "{body}");
}

#[tokio::test]
async fn zato_channel_create_soap_with_env_serves_the_service_and_its_wsdl() {
    use crate::cli::{start, wait_for_ping};

    let dir = tempfile::tempdir().unwrap();
    let env = dir.path().join("env");
    let env_arg = env.to_str().unwrap();
    let created = zato(&[
        "quickstart",
        "create",
        env_arg,
        "--base-port",
        "0",
        "--no-web-admin",
    ])
    .await;
    assert!(created.status.success(), "{}", text(&created.stderr));
    let _running = start(&env, &dir.path().join("start.log")).await;
    let base = wait_for_ping(&env.join("server1")).await;
    let deployed = zato(&["deploy", wasm::SOAP_HELLO, "--env", env_arg]).await;
    assert!(deployed.status.success(), "{}", text(&deployed.stderr));

    // The issue's own form of the command.
    let created = zato(&[
        "channel",
        "create",
        "soap",
        "--env",
        env_arg,
        "--name",
        "hello-soap",
        "--path",
        "/soap/x",
        "--service",
        "demo.soap-hello",
    ])
    .await;
    assert!(
        created.status.success(),
        "{}{}",
        text(&created.stdout),
        text(&created.stderr)
    );
    let http = crate::harness::http_client();
    let wsdl = http
        .get(format!("{base}/soap/x?wsdl"))
        .send()
        .await
        .unwrap();
    assert_eq!(wsdl.status(), StatusCode::OK);
    let wsdl = wsdl.text().await.unwrap();
    assert!(wsdl.contains("<wsdl:definitions"), "{wsdl}");
    assert!(wsdl.contains(r#"name="demo.soap-hello""#), "{wsdl}");
    assert!(wsdl.contains("/soap/x"), "the endpoint: {wsdl}");
    let answer = http
        .post(format!("{base}/soap/x"))
        .header("content-type", "text/xml; charset=utf-8")
        .header("soapaction", "\"demo.soap-hello\"")
        .body(envelope(SOAP11, &hello("Ada")))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    let answer = answer.text().await.unwrap();
    assert!(answer.contains("Ada"), "{answer}");

    let listed = zato(&["channel", "list", "soap", "--env", env_arg, "--json"]).await;
    assert!(listed.status.success(), "{}", text(&listed.stderr));
    let listed: Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(listed[0]["name"], "hello-soap", "{listed}");
}
