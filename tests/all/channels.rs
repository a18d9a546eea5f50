//! HTTP channels changed in place: `zato channel update http` (over `PUT
//! /zato/api/channels/http/{name}`) on one server of a cluster, followed by the others.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use zato_api::{ClientError, DataFormat};
use zato_test_artifacts as wasm;

use crate::cli::{text, zato};
use crate::harness::{Backend, Cluster, PASSWORD, USER, eventually, http_channel};

/// The status of `GET base + path`.
async fn status(base: &str, path: &str) -> StatusCode {
    reqwest::get(format!("{base}{path}"))
        .await
        .unwrap()
        .status()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_channel_updated_through_the_cli_moves_on_every_server() {
    let cluster = Cluster::start(2, Backend::Sqlite).await;
    let (one, two) = (&cluster.servers[0], &cluster.servers[1]);
    one.deploy(wasm::HELLO).await;
    one.api
        .create_http_channel(&http_channel("hello", "/hello", "demo.hello"))
        .await
        .unwrap();
    for server in [one, two] {
        eventually(
            Duration::from_secs(10),
            "the channel on every server",
            || async { (status(&server.base, "/hello").await == StatusCode::OK).then_some(()) },
        )
        .await;
    }

    let target = ["--url", &one.base, "--user", USER, "--password", PASSWORD];
    let mut args = vec![
        "channel",
        "update",
        "http",
        "hello",
        "--path",
        "/v2/hello",
        "--method",
        "get",
        "--timeout-ms",
        "1500",
        "--json",
    ];
    args.extend_from_slice(&target);
    let updated = zato(&args).await;
    assert!(updated.status.success(), "{}", text(&updated.stdout));
    let channel: Value = serde_json::from_slice(&updated.stdout).unwrap();
    assert_eq!(channel["path"], "/v2/hello");
    assert_eq!(channel["methods"], serde_json::json!(["GET"]), "upper case");
    assert_eq!(channel["service"], "demo.hello", "what is not given stays");
    assert_eq!(channel["timeout_ms"], 1500);

    // Here at once: the admin API reloads before it answers.
    assert_eq!(status(&one.base, "/v2/hello").await, StatusCode::OK);
    assert_eq!(status(&one.base, "/hello").await, StatusCode::NOT_FOUND);
    // The other server follows the notice.
    eventually(
        Duration::from_secs(10),
        "the other server to follow",
        || async {
            (status(&two.base, "/v2/hello").await == StatusCode::OK
                && status(&two.base, "/hello").await == StatusCode::NOT_FOUND)
                .then_some(())
        },
    )
    .await;
    let stored = two.api.http_channel("hello").await.unwrap();
    assert_eq!(stored.path, "/v2/hello");
    assert_eq!(stored.data_format, DataFormat::Json);

    // Refusals name what was wrong.
    two.api
        .create_http_channel(&http_channel("other", "/other/{id}", "demo.hello"))
        .await
        .unwrap();
    let mut args = vec![
        "channel",
        "update",
        "http",
        "hello",
        "--path",
        "/other/{x}",
        "--json",
    ];
    args.extend_from_slice(&target);
    let clash = zato(&args).await;
    assert_eq!(clash.status.code(), Some(1));
    let error: Value = serde_json::from_slice(&clash.stdout).unwrap();
    assert!(
        error["error"].as_str().unwrap().contains("`other`"),
        "names the channel it overlaps: {error}"
    );
    assert_eq!(error["status"], 409, "{error}");
    let mut args = vec![
        "channel", "update", "http", "nope", "--path", "/n", "--json",
    ];
    args.extend_from_slice(&target);
    let unknown = zato(&args).await;
    assert_eq!(unknown.status.code(), Some(1));
    let error: Value = serde_json::from_slice(&unknown.stdout).unwrap();
    assert!(
        error["error"].as_str().unwrap().contains("`nope`"),
        "{error}"
    );
    let mut args = vec![
        "channel",
        "update",
        "http",
        "hello",
        "--data-format",
        "yaml",
        "--json",
    ];
    args.extend_from_slice(&target);
    let usage = zato(&args).await;
    assert_eq!(usage.status.code(), Some(2), "{}", text(&usage.stdout));

    // Through the client: a channel is not renamed, an unknown one is a 404.
    let renamed = http_channel("hello2", "/v3/hello", "demo.hello");
    match one.api.update_http_channel("hello", &renamed).await {
        Err(ClientError::Server {
            status, message, ..
        }) => {
            assert_eq!(status, StatusCode::BAD_REQUEST);
            assert!(message.contains("cannot be renamed"), "{message}");
        }
        other => panic!("a rename was not refused: {other:?}"),
    }
    match one.api.http_channel("nope").await {
        Err(ClientError::Server { status, .. }) => assert_eq!(status, StatusCode::NOT_FOUND),
        other => panic!("{other:?}"),
    }
    assert_eq!(status(&two.base, "/v2/hello").await, StatusCode::OK);
    cluster.stop().await;
}
