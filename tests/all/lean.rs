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
