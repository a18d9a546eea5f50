//! Kept versions: the ODB keeps the newest `deploy.keep_versions` of each service, and
//! a rollback deploys a kept one's bytes again as the next version.

use reqwest::StatusCode;
use serde_json::Value;
use zato_api::ClientError;
use zato_test_artifacts as wasm;

use crate::harness::{PASSWORD, TestServer, USER};

#[tokio::test]
async fn old_versions_go_past_the_limit_and_a_kept_one_can_be_rolled_back_to() {
    let server = TestServer::start_with(|config| config.deploy.keep_versions = 2).await;
    server.deploy(wasm::VERSION1).await;
    server
        .channel("version", "/version", "test.version", 0)
        .await;
    server.deploy(wasm::VERSION2).await;
    let third = server.deploy(wasm::VERSION1).await;
    assert_eq!(third.version, 3, "the first bytes again are a new version");
    let kept: Vec<i64> = server
        .api
        .versions("test.version")
        .await
        .unwrap()
        .iter()
        .map(|v| v.version)
        .collect();
    assert_eq!(kept, [3, 2], "two kept, newest first");

    let back = server.api.rollback("test.version", 2).await.unwrap();
    assert_eq!((back.version, back.unchanged), (4, false));
    let (status, body) = server.get("/version").await;
    assert_eq!(
        (status, body["version"].as_i64()),
        (StatusCode::OK, Some(2))
    );

    match server.api.rollback("test.version", 1).await {
        Err(ClientError::Server {
            status, message, ..
        }) => {
            assert_eq!(status, StatusCode::NOT_FOUND);
            assert!(
                message.contains("version 1 of `test.version` is not kept (kept: 4, 3)"),
                "{message}"
            );
        }
        other => panic!("a pruned version cannot be rolled back to: {other:?}"),
    }

    // The CLI lists them, for people and for scripts.
    let listed = zato(&server, &["service", "versions", "test.version"]).await;
    let versions: Vec<i64> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_i64().unwrap())
        .collect();
    assert_eq!(versions, [4, 3]);
    assert_eq!(listed[0]["running_on"][0], "test");

    // A rollback from the CLI, as a script runs it: back to version 3, the first bytes.
    let rolled = zato(
        &server,
        &["service", "rollback", "test.version", "--to-version", "3"],
    )
    .await;
    assert_eq!(rolled["name"], "test.version", "{rolled}");
    assert_eq!(rolled["version"], 5, "the next version: {rolled}");
    assert_eq!(rolled["unchanged"], false, "{rolled}");
    assert_eq!(
        rolled["sha256"],
        third.sha256.as_str(),
        "version 3's bytes: {rolled}"
    );
    let (status, body) = server.get("/version").await;
    assert_eq!(
        (status, body["version"].as_i64()),
        (StatusCode::OK, Some(1)),
        "the channel serves the rolled-back code"
    );
    let listed = zato(&server, &["service", "versions", "test.version"]).await;
    assert_eq!(listed[0]["version"], 5, "{listed}");
    assert_eq!(listed[0]["source"], "rollback:test.version@3", "{listed}");
    server.stop().await;
}

/// Runs `zato ARGS --json` against `server`, which must succeed; its JSON answer.
async fn zato(server: &TestServer, args: &[&str]) -> Value {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_zato"))
        .args(args)
        .args(["--json", "--url"])
        .arg(&server.base)
        .args(["--user", USER, "--password", PASSWORD])
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "zato {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}
