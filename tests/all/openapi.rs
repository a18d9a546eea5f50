//! The admin API against its OpenAPI description: served without credentials, the same
//! as `zato apispec`'s, every route in it answering only its methods, and schemathesis
//! (a contract tester nobody here wrote) finding no request the server answers outside
//! its description.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::Value;
use tokio::process::Command;
use zato_test_artifacts as wasm;

use crate::cli::{text, zato};
use crate::harness::{PASSWORD, TestServer, USER};

/// The pinned schemathesis, which `tests/run.sh` installs.
const SCHEMATHESIS: &str = "4.32.5";

/// Every (method, path) of a description, path parameters as written (`{name}`).
fn operations(spec: &Value) -> Vec<(Method, String)> {
    let mut out = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            out.push((method.to_uppercase().parse().unwrap(), path.clone()));
        }
    }
    out
}

#[tokio::test]
async fn the_description_is_served_without_credentials_and_is_zato_apispecs() {
    // Every reqwest client of this process needs rustls\'s provider (see outconn::http).
    let server = TestServer::start().await;
    let served = server
        .http
        .get(format!("{}/zato/api/openapi.json", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(served.status(), StatusCode::OK);
    assert_eq!(served.headers()["content-type"], "application/json");
    let served: Value = served.json().await.unwrap();
    assert!(served["openapi"].as_str().unwrap().starts_with("3.1"));
    assert_eq!(served, server.api.openapi().await.unwrap());

    // Offline, from the code: the same document, on stdout or in a file.
    let printed = zato(&["apispec"]).await;
    assert!(printed.status.success(), "{}", text(&printed.stderr));
    assert_eq!(
        serde_json::from_slice::<Value>(&printed.stdout).unwrap(),
        served
    );
    let json = zato(&["apispec", "--json"]).await;
    assert_eq!(
        serde_json::from_slice::<Value>(&json.stdout).unwrap(),
        served
    );
    let file = server.dir.path().join("spec.json");
    let written = zato(&["apispec", "--output", file.to_str().unwrap(), "--json"]).await;
    assert!(written.status.success(), "{}", text(&written.stderr));
    let answer: Value = serde_json::from_slice(&written.stdout).unwrap();
    assert_eq!(answer["output"], file.to_str().unwrap());
    let on_disk: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(on_disk, served);
    let nowhere = zato(&[
        "apispec",
        "--output",
        "/nonexistent/dir/spec.json",
        "--json",
    ])
    .await;
    assert_eq!(nowhere.status.code(), Some(1));
    let error: Value = serde_json::from_slice(&nowhere.stdout).unwrap();
    assert!(
        error["error"]
            .as_str()
            .unwrap()
            .contains("/nonexistent/dir/spec.json"),
        "{error}"
    );

    // Everything else still needs the credentials.
    let anonymous = server
        .http
        .get(format!("{}/zato/api/services", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
}

/// A route cannot exist without its description (routes are added only through
/// utoipa-axum's `routes!`); this probes it from outside: every described operation
/// reaches a handler, and every other method on a described path is a 405, whose
/// `Allow` names the described methods.
#[tokio::test]
async fn every_route_is_described_and_answers_only_its_methods() {
    // Every reqwest client of this process needs rustls\'s provider (see outconn::http).
    let server = TestServer::start().await;
    let spec = server.api.openapi().await.unwrap();
    let described = operations(&spec);
    let fallback = "no such admin API endpoint";
    for (method, path) in &described {
        // A name nothing has: no probe changes anything.
        let url = path.replace("{name}", "zz.probe").replace("{type}", "http");
        let answer = server.admin(method.clone(), &url).send().await.unwrap();
        let status = answer.status();
        let body = answer.text().await.unwrap();
        assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {url}");
        assert!(!body.contains(fallback), "{method} {url}: {body}");
        assert_ne!(
            status,
            StatusCode::INTERNAL_SERVER_ERROR,
            "{method} {url}: {body}"
        );
    }
    let paths: std::collections::BTreeSet<&String> = described.iter().map(|(_, p)| p).collect();
    for path in paths {
        let url = path.replace("{name}", "zz.probe").replace("{type}", "http");
        for method in [
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::DELETE,
            Method::PATCH,
        ] {
            if described.contains(&(method.clone(), path.clone())) {
                continue;
            }
            let answer = server.admin(method.clone(), &url).send().await.unwrap();
            assert_eq!(
                answer.status(),
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {url} is not described"
            );
        }
    }
    let unknown = server
        .admin(Method::GET, "/zato/api/nothing")
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    assert!(unknown.text().await.unwrap().contains(fallback));
}

/// Refusals the contract test found, each answered as described: a JSON error body
/// with a described status, never axum's plain-text 415 or 422.
#[tokio::test]
async fn unreadable_requests_are_json_errors_with_described_statuses() {
    // Every reqwest client of this process needs rustls\'s provider (see outconn::http).
    let server = TestServer::start().await;
    server.deploy(wasm::HELLO).await;
    let cases = [
        // No content type on a JSON body.
        (Method::POST, "/zato/api/channels/http", None, "{}"),
        // A channel with a field it does not have.
        (
            Method::POST,
            "/zato/api/channels/http",
            Some("application/json"),
            r#"{"name":"a","path":"/a","service":"demo.hello","colour":"red"}"#,
        ),
        // A timeout that is not a number of milliseconds.
        (
            Method::POST,
            "/zato/api/channels/http",
            Some("application/json"),
            r#"{"name":"a","path":"/a","service":"demo.hello","timeout_ms":-1}"#,
        ),
        // Timeouts past what the ODB holds (the description's int64), which the
        // contract test found accepted.
        (
            Method::POST,
            "/zato/api/channels/http",
            Some("application/json"),
            r#"{"name":"a","path":"/a","service":"demo.hello","timeout_ms":9223372036854775808}"#,
        ),
        (
            Method::POST,
            "/zato/api/services/demo.hello/invoke?timeout_ms=9223372036854775808",
            Some("application/json"),
            "{}",
        ),
        // A path that is wrong on its own is a 400, not a conflict.
        (
            Method::POST,
            "/zato/api/channels/http",
            Some("application/json"),
            r#"{"name":"a","path":"no-slash","service":"demo.hello"}"#,
        ),
        (
            Method::POST,
            "/zato/api/services/demo.hello/invoke?data_format=yaml",
            None,
            "{}",
        ),
        (
            Method::PUT,
            "/zato/api/services/demo.hello/config",
            Some("application/json"),
            r#"{"key": 1}"#,
        ),
        (
            Method::POST,
            "/zato/api/services/demo.hello/rollback",
            Some("application/json"),
            r#"{"to_version":"one"}"#,
        ),
    ];
    for (method, path, content_type, body) in cases {
        let mut request = server.admin(method.clone(), path).body(body);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let answer = request.send().await.unwrap();
        let status = answer.status();
        let content = answer.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        let text = answer.text().await.unwrap();
        assert_eq!(status, StatusCode::BAD_REQUEST, "{method} {path}: {text}");
        assert_eq!(content, "application/json", "{method} {path}: {text}");
        let error: Value = serde_json::from_str(&text).unwrap();
        assert!(error["error"].is_string(), "{method} {path}: {text}");
    }
    // A name with a NUL is an unknown channel (PostgreSQL would refuse it in a query).
    let nul = server
        .admin(Method::GET, "/zato/api/channels/http/a%00b")
        .send()
        .await
        .unwrap();
    assert_eq!(nul.status(), StatusCode::NOT_FOUND);
}

/// Whether schemathesis is installed (`tests/run.sh` installs it), as pinned.
async fn schemathesis() -> bool {
    let version = Command::new("schemathesis").arg("--version").output().await;
    match version {
        Ok(out) if out.status.success() => {
            let said = text(&out.stdout);
            assert!(
                said.contains(SCHEMATHESIS),
                "schemathesis {SCHEMATHESIS} is pinned, found: {said}"
            );
            true
        }
        _ => false,
    }
}

/// schemathesis generates requests from the description (valid and invalid ones) and
/// checks every answer against it: no 500, only described statuses, content types,
/// headers and bodies, valid input accepted, invalid input refused, no operation
/// answering without credentials, 405 for undescribed methods.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_answer_outside_the_description() {
    // Every reqwest client of this process needs rustls\'s provider (see outconn::http).
    assert!(
        schemathesis().await,
        "schemathesis is not installed: `pip install schemathesis=={SCHEMATHESIS}` \
         (tests/run.sh does)"
    );
    // Its `ignored_auth` check sends wrong credentials: no lockout of the test's address
    // nor of the user name it makes up.
    let server = TestServer::start_with(|c| {
        c.admin.login.max_failures = 0;
        c.admin.login.max_user_failures = 0;
    })
    .await;
    server.deploy(wasm::HELLO).await;
    let dir = server.dir.path();
    // Rules the description states in words and a schema cannot: a body of bytes must
    // be a component, a channel's path must parse and its service be deployed, a job's
    // time zone, cron expression, times and calendars must be real ones, a calendar's
    // dates be dates, a PUT's name be the URL's, a connection's settings be usable and
    // of the URL's type (outgoing connections, AMQP and ZeroMQ channels), a statistics
    // span be over 0 and at most 400 days, a dictionary's names and values be
    // non-empty and without control characters and its CSV be CSV, a delete name
    // what exists, a rate limit's lines be `source = limit` and what it is attached to
    // exist, an admin user's password be 12 characters or more. Valid-looking data
    // refused with 400 is right there.
    let config = dir.join("schemathesis.toml");
    std::fs::write(
        &config,
        r#"
[[operations]]
include-operation-id = ["deploy", "create_http_channel", "update_http_channel", "invoke", "rollback", "set_service_config", "create_job", "update_job", "preview_job", "job_next", "create_calendar", "update_calendar", "delete_calendar", "create_outconn", "update_outconn", "create_soap_channel", "update_soap_channel", "create_amqp_channel", "update_amqp_channel", "create_zmq_channel", "update_zmq_channel", "service_stats", "stats_top", "import_dictionary", "set_translation", "delete_translation", "delete_entries", "create_security_def", "update_security_def", "change_security_secret", "create_rate_limit", "update_rate_limit", "attach_rate_limit", "create_admin_user", "change_admin_password"]
checks.positive_data_acceptance.expected-statuses = ["2xx", "400", "404", "409"]
"#,
    )
    .unwrap();
    let spec = format!("{}/zato/api/openapi.json", server.base);
    let auth = format!("{USER}:{PASSWORD}");
    let run = Command::new("schemathesis")
        .args(["--config-file", config.to_str().unwrap(), "run", &spec])
        .args(["--url", &server.base, "--auth", &auth])
        .args(["--checks", "all", "--max-examples", "50", "--seed", "20"])
        // One worker: with two, schemathesis builds strategies in two threads, and
        // CPython 3.11's `ast.parse` is not thread-safe ("AST constructor recursion
        // depth mismatch" inside Hypothesis, reported as a flaky Runtime Error on
        // whichever operation lost the race). One is as fast on two cores.
        .args(["--workers", "1", "--no-color"])
        .args(["--request-timeout", "10", "--generation-database", "none"])
        .current_dir(dir)
        .env("SCHEMATHESIS_TELEMETRY", "false")
        .kill_on_drop(true)
        .output();
    // A guard against a hang, not a measure: on two cores busy with the rest of the
    // suite, a run has taken over 150 s.
    let out = tokio::time::timeout(Duration::from_secs(400), run)
        .await
        .expect("schemathesis finished within 400 s")
        .unwrap();
    assert!(
        out.status.success(),
        "schemathesis found failures:\n{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}
