//! A standard `wasi:http/proxy` component, built for `wasmtime serve` with the `wasip2`
//! crate and knowing nothing of zato (`bench/guests/http-hello`), deploys with `zato
//! deploy` and is served unchanged: by an HTTP channel with a security definition, by
//! `invoke`, counted by the statistics like any service, and loaded again from the ODB
//! by a restarted server.

use reqwest::StatusCode;
use serde_json::json;
use zato_test_artifacts as wasm;

use crate::harness::TestServer;
use crate::stats::{stats_once_counted, zato_at};

const KEY: &str = "k3y-0123456789abcdef";

/// `GET /hello?name=NAME` with the API key.
async fn hello(server: &TestServer, name: &str) -> reqwest::Response {
    server
        .http
        .get(format!("{}/hello?name={name}", server.base))
        .header("x-api-key", KEY)
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wasi_http_component_built_for_wasmtime_serve_is_served_unchanged() {
    let server = TestServer::start_with(|config| config.stats.flush_interval_ms = 100).await;

    // Deployed as a user would; named after its file, as it has no `info()`.
    let (code, deployed) = zato_at(&server.base, &["deploy", wasm::HTTP_HELLO]).await;
    assert_eq!(code, 0, "{deployed}");
    let name = "http_hello";
    assert_eq!(deployed[0]["name"], name, "{deployed}");
    let listed = server.services().await;
    let summary = listed.iter().find(|s| s.name == name).unwrap();
    assert_eq!(summary.description, "a wasi:http component");

    // Behind an HTTP channel guarded by an API key.
    let (code, created) = crate::security_api::security(
        &server.base,
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
    let (code, created) = zato_at(
        &server.base,
        &[
            "channel",
            "create",
            "http",
            "--name",
            "hello",
            "--path",
            "/hello",
            "--service",
            name,
            "--security",
            "crm",
        ],
    )
    .await;
    assert_eq!(code, 0, "{created}");
    let url = format!("{}/hello?name=zato", server.base);
    let refused = server.http.get(&url).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);

    // Its own status, headers and body, as `wasmtime serve` would send them.
    let answered = hello(&server, "zato").await;
    assert_eq!(answered.status(), StatusCode::OK);
    assert_eq!(answered.headers()["content-type"], "application/json");
    assert!(answered.headers().contains_key("x-zato-cid"));
    let body: serde_json::Value = answered.json().await.unwrap();
    assert_eq!(body, json!({"message": "Hello, zato!"}));

    // `invoke` reaches it too: a POST to `/` with the payload as its body.
    let (status, body) = server.invoke(name, "{}").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"message": "Hello, world!"}));

    // The statistics count the calls that reached it (the refused one did not).
    let stats = stats_once_counted(&server.base, name, 2).await;
    assert_eq!(stats["errors"], 0, "{stats}");

    // Restarted, the server loads it from the ODB under the name it was stored with.
    let dir = server.stop().await;
    let config = crate::harness::config(dir.path());
    let server = TestServer::start_in(dir, config).await;
    let answered = hello(&server, "again").await;
    assert_eq!(answered.status(), StatusCode::OK);
    let body: serde_json::Value = answered.json().await.unwrap();
    assert_eq!(body, json!({"message": "Hello, again!"}));
}
