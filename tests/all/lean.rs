//! Lean builds: services built for `wasm32-unknown-unknown` are core modules without
//! WASI, which the server wraps into components at deploy.

use reqwest::StatusCode;
use zato_test_artifacts as wasm;

use crate::harness::TestServer;

#[tokio::test]
async fn a_lean_build_is_wrapped_at_deploy_and_serves_with_every_capability() {
    let server = TestServer::start().await;
    for lean in [wasm::HELLO_LEAN, wasm::INVOKER_LEAN, wasm::CONFIGURED_LEAN] {
        let bytes = std::fs::read(lean).unwrap();
        assert_eq!(bytes[4..8], [1, 0, 0, 0], "{lean} is a core module");
    }
    let hello = server.deploy(wasm::HELLO_LEAN).await;
    assert_eq!((hello.name.as_str(), hello.version), ("demo.hello", 1));
    server.deploy(wasm::INVOKER_LEAN).await;
    server.deploy(wasm::CONFIGURED_LEAN).await;

    server.channel("hello", "/hello", "demo.hello", 0).await;
    let (status, body) = server.get("/hello?name=lean").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["message"], "Hello, lean!");

    // invoke: one lean service calling another.
    let (status, body) = server.invoke("demo.invoker", r#"{"name":"chain"}"#).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["answer"]["message"], "Hello, chain!");

    // config, read at every request.
    let config = serde_json::json!({ "greeting": "Howdy", "target": "partner" });
    server.set_config("demo.configured", &config).await;
    server
        .channel("configured", "/configured", "demo.configured", 0)
        .await;
    let (_, body) = server.get("/configured").await;
    assert_eq!(body["message"], "Howdy, partner!");

    // A restarted server loads the wrapped component from its artifact cache.
    let dir = server.stop().await;
    let config = crate::harness::config(dir.path());
    let server = TestServer::start_in(dir, config).await;
    let (status, body) = server.get("/hello?name=again").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["message"], "Hello, again!");
}

#[tokio::test]
async fn a_lean_build_whose_request_outgrows_the_sdk_arena_answers_right() {
    let server = TestServer::start().await;
    server.deploy(wasm::TRANSFORM_LEAN).await;
    server.channel("t", "/t", "demo.transform", 0).await;
    // 20,000 orders: a 340 KB payload and a 160 KB Vec, past the SDK's 256 KiB arena,
    // so Rust's allocator takes over (and a growing Vec moves out of the arena).
    let orders = vec![serde_json::json!({ "amount": 1.5 }); 20_000];
    let customer = serde_json::json!({
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email": "ada@Example.com",
        "orders": orders,
    });
    let payload = customer.to_string();
    assert!(payload.len() > 256 * 1024);
    let (status, body) = server.post("/t", &payload).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        serde_json::json!({
            "full_name": "Ada Lovelace",
            "email_domain": "example.com",
            "order_count": 20_000,
            "total": 30_000.0,
        })
    );
}
