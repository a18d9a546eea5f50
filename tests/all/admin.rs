//! The admin API's authentication and invoke endpoint.

use reqwest::{Method, StatusCode};
use zato_test_artifacts as wasm;

use crate::harness::{TestServer, echoed};

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
