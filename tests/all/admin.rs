//! The admin API's authentication and invoke endpoint.

use reqwest::{Method, StatusCode};
use zato_host::config::LoginSettings;
use zato_test_artifacts as wasm;

use crate::harness::{PASSWORD, TestServer, USER, echoed, pickup_log_count, pickup_logged};

#[tokio::test]
async fn the_admin_api_needs_the_right_credentials() {
    let server = TestServer::start().await;
    let url = format!("{}/zato/api/services", server.base);
    let response = server.http.get(&url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(response.headers().contains_key("www-authenticate"));
    let response = server
        .http
        .get(&url)
        .basic_auth("admin", Some("wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let response = server
        .http
        .post(&url)
        .body(std::fs::read(wasm::HELLO).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::UNAUTHORIZED,
        "no deploy without credentials"
    );
    assert!(server.services().await.is_empty());
}

#[tokio::test]
async fn invoke_runs_a_service_and_invoke_chains_work() {
    let server = TestServer::start().await;
    server.deploy(wasm::HELLO).await;
    server.deploy(wasm::INVOKER).await;
    let (status, body) = server.invoke("demo.invoker", r#"{"name":"chain"}"#).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["from"], "demo.hello");
    assert_eq!(body["answer"]["message"], "Hello, chain!");
    let (status, _) = server.invoke("no.such", "").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // A timeout of 0 is the server's default, as a channel's (found by schemathesis:
    // it timed out at once, a 504).
    let answer = server
        .admin(
            Method::POST,
            "/zato/api/services/demo.hello/invoke?timeout_ms=0",
        )
        .body(r#"{"name":"zero"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_admin_invoke_passes_the_request_but_never_the_admin_credentials() {
    let server = TestServer::start().await;
    server.deploy(wasm::ECHO).await;
    let response = server
        .admin(Method::POST, "/zato/api/services/test.echo/invoke")
        .header("x-trace", "t-1")
        .body(r#"{"x":1}"#)
        .send()
        .await
        .unwrap();
    let body = echoed(response).await;
    assert_eq!(body["channel"]["kind"], "admin");
    assert_eq!(body["channel"]["name"], "admin");
    assert_eq!(body["payload"], r#"{"x":1}"#);
    assert_eq!(body["headers"]["x-trace"], "t-1");
    assert!(
        body["headers"].get("authorization").is_none(),
        "the service must not see the admin's credentials: {body}"
    );
    assert_eq!(
        body["looked_up"].get("authorization"),
        Some(&serde_json::Value::Null),
        "nor find them by name: {body}"
    );
    assert!(body["method"].is_null() && body["path"].is_null(), "{body}");
}

/// A password guesser gets 401s, then 429s with `Retry-After`, each refusal is logged
/// with the user and the address but never the password, the admin who logged in
/// before goes on working from the same address, and the channels go on answering.
#[tokio::test]
async fn a_password_guesser_is_locked_out_and_logged_while_the_channels_serve() {
    let server = TestServer::start_with(|config| {
        config.admin.login = LoginSettings {
            max_failures: 3,
            window_s: 60,
            ..LoginSettings::default()
        };
    })
    .await;
    server.deploy(wasm::HELLO).await;
    server.channel("hello", "/hello", "demo.hello", 0).await;
    let url = format!("{}/zato/api/services", server.base);
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let user = format!("guesser-{tag}");
    let password = format!("guess-{tag}");
    for attempt in 1..=3 {
        let response = server
            .http
            .get(&url)
            .basic_auth(&user, Some(&password))
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "attempt {attempt}"
        );
    }
    // Locked out now: another guess waits, and argon2 does not run.
    let response = server
        .http
        .get(&url)
        .basic_auth(&user, Some("one-more-guess"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (1..=60).contains(&retry_after),
        "Retry-After: {retry_after}"
    );
    let body: serde_json::Value = response.json().await.unwrap();
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("too many failed admin logins"),
        "{body}"
    );
    assert_eq!(
        pickup_log_count(&format!(
            "admin login of `{user}` from 127.0.0.1 refused: wrong user name or password"
        )),
        3
    );
    assert!(pickup_logged("too many failed logins from 127.0.0.1"));
    assert_eq!(
        pickup_log_count(&password),
        0,
        "the password is never logged"
    );
    // The admin, whose credentials the deploy above verified, is not locked out.
    let response = server
        .http
        .get(&url)
        .basic_auth(USER, Some(PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let (status, body) = server.get("/hello?name=meanwhile").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["message"], "Hello, meanwhile!");
}
