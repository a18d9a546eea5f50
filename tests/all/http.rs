//! HTTP channels: routing, what reaches the service, limits and error bodies.

use reqwest::StatusCode;
use zato_api::HttpChannel;
use zato_test_artifacts as wasm;

use crate::harness::{TestServer, echoed, http_channel};

#[tokio::test]
async fn path_params_query_headers_and_payload_reach_the_service() {
    let server = TestServer::start().await;
    server.deploy(wasm::ECHO).await;
    server
        .channel("echo", "/customers/{id}/orders/{order}", "test.echo", 0)
        .await;
    let response = server
        .http
        .post(format!(
            "{}/customers/c%201/orders/42?x=1&y=two%20words&header=X-CUSTOM",
            server.base
        ))
        .header("X-Custom", "yes")
        .header("X-Query", "y")
        .header("Authorization", "Bearer for-the-service")
        .body("hello body")
        .send()
        .await
        .unwrap();
    let body = echoed(response).await;
    assert_eq!(body["channel"]["kind"], "http");
    assert_eq!(body["channel"]["name"], "echo");
    assert_eq!(body["method"], "POST");
    assert_eq!(body["path"], "/customers/c%201/orders/42");
    assert_eq!(body["path_params"]["id"], "c 1");
    assert_eq!(body["path_params"]["order"], "42");
    assert_eq!(body["query"][1][1], "two words");
    assert_eq!(body["headers"]["x-custom"], "yes");
    assert_eq!(body["payload"], "hello body");
    // The same, looked up by name before any list was read: one value from the host.
    assert_eq!(body["looked_up"]["header"], "yes", "{body}");
    assert_eq!(body["looked_up"]["query"], "two words", "{body}");
    assert_eq!(body["looked_up"]["path_param"], "c 1", "{body}");
    // An HTTP channel passes its caller's credentials on (unlike the admin API).
    assert_eq!(
        body["looked_up"]["authorization"], "Bearer for-the-service",
        "{body}"
    );
    // Once the lists were read, the SDK answers the same lookups from them.
    assert_eq!(body["looked_up_again"], body["looked_up"], "{body}");
}

#[tokio::test]
async fn config_changes_reach_a_running_service_without_redeploy() {
    let server = TestServer::start().await;
    server.deploy(wasm::CONFIGURED).await;
    server
        .channel("configured", "/configured", "demo.configured", 0)
        .await;
    let (_, body) = server.get("/configured").await;
    assert_eq!(body["message"], "Hello, world!");
    let config = serde_json::json!({ "greeting": "Howdy", "target": "partner" });
    server.set_config("demo.configured", &config).await;
    let (_, body) = server.get("/configured").await;
    assert_eq!(body["message"], "Howdy, partner!");
}

#[tokio::test]
async fn unknown_paths_wrong_methods_and_large_bodies_get_json_errors() {
    let server = TestServer::start_with(|c| c.http.max_body_bytes = 1024).await;
    server.deploy(wasm::HELLO).await;
    let channel = http_channel("h", "/h", "demo.hello");
    let created = server
        .api
        .create_http_channel(&HttpChannel {
            methods: vec!["get".into()],
            ..channel
        })
        .await
        .unwrap();
    assert_eq!(created.methods, ["GET"]);

    let (status, body) = server.get("/nowhere").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"], "no channel for path `/nowhere`");
    assert!(body["cid"].is_string());

    let (status, body) = server.post("/h", "{}").await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{body}");

    let response = server
        .http
        .get(format!("{}/h", server.base))
        .body("x".repeat(2048))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);

    let (status, body) = server.get("/zato/ping").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "ok");
}

#[tokio::test]
async fn input_validation_answers_400_naming_the_field() {
    let server = TestServer::start().await;
    server.deploy(wasm::TRANSFORM).await;
    server.channel("t", "/t", "demo.transform", 0).await;
    let (status, body) = server.post("/t", r#"{"first_name":"Ada","last_name":"Lovelace","email":"ada@example.com","orders":[{"amount":2.5},{"amount":4}]}"#).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["full_name"], "Ada Lovelace");
    assert_eq!(body["email_domain"], "example.com");
    assert_eq!(body["order_count"], 2);
    assert_eq!(body["total"], 6.5);
    let (status, body) = server.post("/t", r#"{"first_name":"Ada"}"#).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["error"].as_str().unwrap().contains("`last_name`"),
        "{body}"
    );
    let (status, _) = server
        .post("/t", r#"{"first_name":1,"last_name":"x"}"#)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn channels_are_checked_when_created() {
    let server = TestServer::start().await;
    server.deploy(wasm::HELLO).await;
    server.channel("a", "/a/{id}", "demo.hello", 0).await;
    let refusals = [
        ("b", "/a/{other}", "demo.hello", StatusCode::CONFLICT, ""),
        ("a", "/new", "demo.hello", StatusCode::CONFLICT, ""),
        // Wrong on its own, whatever the other channels: a bad request.
        (
            "z",
            "/zato/mine",
            "demo.hello",
            StatusCode::BAD_REQUEST,
            "reserved",
        ),
        (
            "c",
            "/c",
            "no.such",
            StatusCode::BAD_REQUEST,
            "not deployed",
        ),
    ];
    for (name, path, service, status, message) in refusals {
        let error = server
            .api
            .create_http_channel(&http_channel(name, path, service))
            .await
            .unwrap_err();
        assert_eq!(error.status(), Some(status), "{name}: {error}");
        assert!(error.to_string().contains(message), "{name}: {error}");
    }

    let deleted = server.api.delete_http_channel("a").await.unwrap();
    assert_eq!(deleted.name, "a");
    assert_eq!(server.get("/a/1").await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn each_request_gets_a_fresh_instance_unless_the_service_opts_in_to_reuse() {
    let server = TestServer::start().await;
    server.deploy(wasm::COUNTER).await;
    server
        .channel("counter", "/counter", "test.counter", 0)
        .await;
    let mut counts = Vec::new();
    for _ in 0..4 {
        counts.push(server.get("/counter").await.1["count"].as_u64().unwrap());
    }
    assert_eq!(
        counts,
        [1, 1, 1, 1],
        "nothing of one request is visible to the next"
    );

    // Opting in: an instance serves up to 3 requests, one at a time.
    let config = serde_json::json!({ "zato.instance_reuse": "3" });
    server.set_config("test.counter", &config).await;
    let mut counts = Vec::new();
    for _ in 0..7 {
        counts.push(server.get("/counter").await.1["count"].as_u64().unwrap());
    }
    assert_eq!(
        counts,
        [1, 2, 3, 1, 2, 3, 1],
        "each instance retired after 3 uses"
    );

    // A trap retires the instance at once.
    assert_eq!(server.get("/counter").await.1["count"], 2);
    let (status, _) = server.post("/counter", "trap").await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        server.get("/counter").await.1["count"],
        1,
        "the trapped instance was not reused"
    );
}

#[tokio::test]
async fn request_heads_over_the_header_limit_are_refused() {
    let server = TestServer::start_with(|c| c.http.max_header_bytes = 16 * 1024).await;
    server.deploy(wasm::HELLO).await;
    server.channel("h", "/h", "demo.hello", 0).await;
    let (status, _) = server.get("/h").await;
    assert_eq!(status, StatusCode::OK);
    let response = server
        .http
        .get(format!("{}/h", server.base))
        .header("x-big", "x".repeat(32 * 1024))
        .send()
        .await;
    // hyper answers 431 or closes the connection, depending on when the limit is hit.
    match response {
        Ok(r) => assert_eq!(r.status(), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE),
        Err(e) => assert!(
            e.is_request() || e.is_connect() || e.to_string().contains("closed"),
            "{e}"
        ),
    }
    assert_eq!(
        server.get("/h").await.0,
        StatusCode::OK,
        "the server goes on serving"
    );
}
