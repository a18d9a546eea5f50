//! Security definitions attached to channels: each type on an HTTP and a SOAP channel
//! admits the right caller (and the service sees who called, never the credentials),
//! refuses a wrong one with 401 and a challenge or 403, and applies at run time; a
//! definition in use cannot be deleted; a changed password takes over at once.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use zato_test_artifacts as wasm;

use crate::cli::text;
use crate::harness::{TestServer, echoed};

const PASSWORD_1: &str = "correct horse battery";
const KEY: &str = "k3y-0123456789abcdef";

async fn security(server: &TestServer, args: &[&str]) -> (i32, Value) {
    crate::security_api::security(&server.base, args).await
}

async fn channel(server: &TestServer, args: &[&str]) -> (i32, Value) {
    let (code, document) = crate::soap_channel::channel_cli(server, args).await;
    (code.expect("zato exits"), document)
}

/// Both definitions, through the issue's commands.
async fn definitions(server: &TestServer) {
    let (code, created) = security(
        server,
        &[
            "create",
            "basic-auth",
            "--name",
            "partner",
            "--username",
            "acme",
            "--password",
            PASSWORD_1,
        ],
    )
    .await;
    assert_eq!(code, 0, "{created}");
    let (code, created) = security(
        server,
        &[
            "create",
            "apikey",
            "--name",
            "crm",
            "--header",
            "X-API-Key",
            "--key",
            KEY,
        ],
    )
    .await;
    assert_eq!(code, 0, "{created}");
}

fn basic(user: &str, password: &str) -> String {
    use base64::Engine as _;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

/// POSTs to `path` with `headers`; the response.
async fn call(server: &TestServer, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut request = server
        .http
        .post(format!("{}{path}", server.base))
        .header("x-query", "q")
        .body("{}");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

/// A refusal: its status, its `WWW-Authenticate` and its JSON error, which never holds
/// the secret sent.
async fn refused(response: reqwest::Response, sent: &str) -> (StatusCode, Option<String>, Value) {
    let status = response.status();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    let body: Value = response.json().await.unwrap();
    assert!(
        sent.is_empty() || !body.to_string().contains(sent),
        "{body}"
    );
    (status, challenge, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_definition_type_guards_an_http_channel_and_the_service_sees_who_called() {
    let server = TestServer::start().await;
    server.deploy(wasm::ECHO).await;
    definitions(&server).await;
    let (code, created) = channel(
        &server,
        &[
            "create",
            "http",
            "--name",
            "orders",
            "--path",
            "/orders",
            "--service",
            "test.echo",
            "--security",
            "partner",
        ],
    )
    .await;
    assert_eq!(code, 0, "{created}");
    assert_eq!(created["security"], "partner");

    // Basic auth: the right caller passes; the service sees who, not the password.
    let ok = echoed(
        call(
            &server,
            "/orders",
            &[("authorization", &basic("acme", PASSWORD_1))],
        )
        .await,
    )
    .await;
    assert_eq!(
        ok["caller"],
        json!({"definition": "partner", "kind": "basic-auth", "principal": "acme"})
    );
    assert_eq!(ok["looked_up"]["authorization"], Value::Null, "{ok}");
    assert!(ok["headers"].get("authorization").is_none(), "{ok}");
    // Again, from the verified digest.
    let again = echoed(
        call(
            &server,
            "/orders",
            &[("authorization", &basic("acme", PASSWORD_1))],
        )
        .await,
    )
    .await;
    assert_eq!(again["caller"]["principal"], "acme");
    // Wrong ones: 401 with the realm's challenge.
    for (headers, sent) in [
        (vec![], ""),
        (vec![("authorization", basic("acme", "wrong"))], "wrong"),
        (
            vec![("authorization", basic("other", PASSWORD_1))],
            PASSWORD_1,
        ),
        (vec![("authorization", "Bearer xyz".to_owned())], "xyz"),
    ] {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let (status, challenge, body) =
            refused(call(&server, "/orders", &headers).await, sent).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert_eq!(
            challenge.as_deref(),
            Some("Basic realm=\"zato\", charset=\"UTF-8\"")
        );
        assert!(
            body["error"].as_str().unwrap().contains("`orders`"),
            "{body}"
        );
    }

    // The API key, attached at run time with the issue's command.
    let (code, edited) = channel(&server, &["edit", "http", "orders", "--security", "crm"]).await;
    assert_eq!(code, 0, "{edited}");
    let ok = echoed(call(&server, "/orders", &[("x-api-key", KEY)]).await).await;
    assert_eq!(
        ok["caller"],
        json!({"definition": "crm", "kind": "apikey", "principal": "crm"})
    );
    assert!(ok["headers"].get("x-api-key").is_none(), "{ok}");
    let (status, challenge, _) = refused(call(&server, "/orders", &[]).await, "").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(challenge.as_deref(), Some("ApiKey header=\"x-api-key\""));
    let wrong = "k3y-0123456789abcdeF";
    let (status, challenge, _) = refused(
        call(&server, "/orders", &[("x-api-key", wrong)]).await,
        wrong,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(challenge, None);
    // Basic credentials are no API key.
    let (status, _, _) = refused(
        call(
            &server,
            "/orders",
            &[("authorization", &basic("acme", PASSWORD_1))],
        )
        .await,
        PASSWORD_1,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // In use: not deleted, and told by whom.
    let (code, answer) = security(&server, &["delete", "crm"]).await;
    assert_ne!(code, 0, "{answer}");
    assert!(
        answer.to_string().contains("HTTP channel `orders`"),
        "{answer}"
    );
    // A definition that does not exist cannot be attached; the channel keeps its own.
    let (code, answer) =
        channel(&server, &["edit", "http", "orders", "--security", "nobody"]).await;
    assert_ne!(code, 0, "{answer}");
    assert!(answer.to_string().contains("`nobody`"), "{answer}");
    let ok = echoed(call(&server, "/orders", &[("x-api-key", KEY)]).await).await;
    assert_eq!(ok["caller"]["definition"], "crm");

    // Open again: anyone, and no caller.
    let (code, edited) = channel(&server, &["edit", "http", "orders", "--no-security"]).await;
    assert_eq!(code, 0, "{edited}");
    assert!(edited.get("security").is_none(), "{edited}");
    let ok = echoed(call(&server, "/orders", &[]).await).await;
    assert_eq!(ok["caller"], Value::Null);
    let (code, answer) = security(&server, &["delete", "crm"]).await;
    assert_eq!(code, 0, "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_password_takes_over_at_once_and_the_old_one_is_refused() {
    let server = TestServer::start().await;
    server.deploy(wasm::ECHO).await;
    definitions(&server).await;
    let mut secured = crate::harness::http_channel("orders", "/orders", "test.echo");
    secured.security = Some("partner".into());
    server.api.create_http_channel(&secured).await.unwrap();
    let old = basic("acme", PASSWORD_1);
    echoed(call(&server, "/orders", &[("authorization", &old)]).await).await;

    let new_password = "a new horse, stapled";
    let answer = server
        .admin(Method::POST, "/zato/api/security/partner/secret")
        .json(&json!({"secret": new_password}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    // The old password was verified (and remembered) before: it no longer passes.
    let (status, _, _) = refused(
        call(&server, "/orders", &[("authorization", &old)]).await,
        PASSWORD_1,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let ok = echoed(
        call(
            &server,
            "/orders",
            &[("authorization", &basic("acme", new_password))],
        )
        .await,
    )
    .await;
    assert_eq!(ok["caller"]["principal"], "acme");

    // A new username, same password: the old name is refused.
    let answer = server
        .admin(Method::PUT, "/zato/api/security/partner")
        .json(&json!({"name": "partner", "settings": {"type": "basic-auth", "username": "acme2", "realm": "partners"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    let response = call(
        &server,
        "/orders",
        &[("authorization", &basic("acme", new_password))],
    )
    .await;
    let (status, challenge, _) = refused(response, new_password).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        challenge.as_deref(),
        Some("Basic realm=\"partners\", charset=\"UTF-8\"")
    );
    let ok = echoed(
        call(
            &server,
            "/orders",
            &[("authorization", &basic("acme2", new_password))],
        )
        .await,
    )
    .await;
    assert_eq!(ok["caller"]["principal"], "acme2");
}

/// A real SOAP client (zeep, over a requests session that carries the credentials):
/// reads the WSDL and calls the operation; prints one JSON line, the answer's fields or
/// the HTTP status that refused it.
const ZEEP: &str = r#"
import json, sys, requests, zeep
from zeep.transports import Transport
wsdl, kind, who, secret = sys.argv[1:5]
session = requests.Session()
if kind == "basic":
    session.auth = requests.auth.HTTPBasicAuth(who, secret)
elif kind == "apikey":
    session.headers["X-API-Key"] = secret
try:
    client = zeep.Client(wsdl, transport=Transport(session=session))
    proxy = client.bind("hello-soap", "hello-soapSoap11")
    answer = proxy["demo.soap-hello"](name="Ada")
    print(json.dumps({"message": answer.message, "caller": answer.caller}))
except requests.exceptions.HTTPError as e:
    print(json.dumps({"status": e.response.status_code}))
except zeep.exceptions.TransportError as e:
    print(json.dumps({"status": e.status_code}))
"#;

async fn zeep(server: &TestServer, kind: &str, who: &str, secret: &str) -> Value {
    let wsdl = format!("{}/soap/hello?wsdl", server.base);
    let out = tokio::process::Command::new("python3")
        .args(["-c", ZEEP, &wsdl, kind, who, secret])
        .output()
        .await
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "zeep failed (tests/run.sh installs it): {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    serde_json::from_str(text(&out.stdout).trim()).unwrap()
}

/// A raw SOAP 1.1 call: status, `WWW-Authenticate`, body.
async fn soap(
    server: &TestServer,
    headers: &[(&str, &str)],
) -> (StatusCode, Option<String>, String) {
    let mut request = server
        .http
        .post(format!("{}/soap/hello", server.base))
        .header("content-type", "text/xml; charset=utf-8")
        .header("soapaction", "\"\"")
        .body(
            r#"<?xml version="1.0"?><e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/"><e:Body><h:demo.soap-hello xmlns:h="urn:test"><h:name>Ada</h:name></h:demo.soap-hello></e:Body></e:Envelope>"#,
        );
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, challenge, response.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_definition_type_guards_a_soap_channel_and_its_wsdl_for_a_real_soap_client() {
    let server = TestServer::start().await;
    server.deploy(wasm::SOAP_HELLO).await;
    definitions(&server).await;
    let (code, created) = channel(
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
            "--security",
            "partner",
        ],
    )
    .await;
    assert_eq!(code, 0, "{created}");

    // zeep with the right password reads the WSDL and calls; the service names the caller.
    let answer = zeep(&server, "basic", "acme", PASSWORD_1).await;
    assert_eq!(answer, json!({"message": "Hello, Ada!", "caller": "acme"}));
    // With a wrong one, or none, even the WSDL is refused.
    assert_eq!(
        zeep(&server, "basic", "acme", "wrong").await,
        json!({"status": 401})
    );
    assert_eq!(zeep(&server, "none", "", "").await, json!({"status": 401}));
    let wsdl = server
        .http
        .get(format!("{}/soap/hello?wsdl", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(wsdl.status(), StatusCode::UNAUTHORIZED);
    // A refusal is a SOAP Fault of the client's, with the challenge.
    let (status, challenge, body) =
        soap(&server, &[("authorization", &basic("acme", "wrong"))]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        challenge.as_deref(),
        Some("Basic realm=\"zato\", charset=\"UTF-8\"")
    );
    assert!(body.contains("Fault") && body.contains("Client"), "{body}");
    assert!(!body.contains("wrong"), "{body}");

    // The API key, at run time.
    let (code, edited) = channel(
        &server,
        &["edit", "soap", "hello-soap", "--security", "crm"],
    )
    .await;
    assert_eq!(code, 0, "{edited}");
    assert_eq!(
        zeep(&server, "apikey", "", KEY).await,
        json!({"message": "Hello, Ada!", "caller": "crm"})
    );
    assert_eq!(
        zeep(&server, "apikey", "", "k3y-0123456789abcdeF").await,
        json!({"status": 403})
    );
    let (status, _, body) = soap(&server, &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let (status, _, body) = soap(&server, &[("x-api-key", KEY)]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("<caller>crm</caller>"), "{body}");

    // In use by the SOAP channel: not deleted.
    let (code, answer) = security(&server, &["delete", "crm"]).await;
    assert_ne!(code, 0, "{answer}");
    assert!(
        answer.to_string().contains("SOAP channel `hello-soap`"),
        "{answer}"
    );
}
