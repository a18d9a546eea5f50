//! The admin plane of messaging channels: create, list, edit and delete AMQP and ZeroMQ
//! channels (and AMQP and ZeroMQ connections) through the CLI, as the interface
//! writes it, and through the admin API; refusals that name the field; a password given
//! in an AMQP URL stored as the secret and never shown again.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::cli::{Running, start, text, wait_for_ping, zato};
use zato_test_artifacts as wasm;

use crate::harness::TestServer;

const PASSWORD: &str = "brok3r-pw-never-shown";

/// Runs `zato ARGS --json` and returns its exit code and JSON document.
async fn json_of(args: &[&str]) -> (i32, Value, String) {
    let mut all = args.to_vec();
    all.push("--json");
    let out = zato(&all).await;
    let stdout = text(&out.stdout);
    let value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "not one JSON document ({e}): {stdout} {}",
            text(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), value, stdout)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_creates_lists_edits_and_deletes_amqp_and_zmq_channels() {
    let dir = tempfile::tempdir().unwrap();
    let env = dir.path().join("env");
    let env_arg = env.to_str().unwrap();
    let created = zato(&["quickstart", "create", env_arg, "--base-port", "0"]).await;
    assert!(created.status.success(), "{}", text(&created.stderr));
    let running: Running = start(&env, &dir.path().join("server.log")).await;
    wait_for_ping(&env.join("server1")).await;
    let deployed = zato(&["deploy", wasm::HELLO, "--env", env_arg]).await;
    assert!(deployed.status.success(), "{}", text(&deployed.stderr));

    // The issue's own command. Port 1: nothing listens, so the consumer only retries.
    let url = format!("amqp://guest:{PASSWORD}@127.0.0.1:1/orders-vhost");
    let (code, channel, stdout) = json_of(&[
        "channel",
        "create",
        "amqp",
        "--env",
        env_arg,
        "--name",
        "orders",
        "--url",
        &url,
        "--queue",
        "orders",
        "--service",
        "demo.hello",
    ])
    .await;
    assert_eq!(code, 0, "{stdout}");
    assert_eq!(channel["type"], "amqp");
    assert_eq!(
        channel["settings"]["url"], "amqp://guest@127.0.0.1:1/orders-vhost",
        "the password is taken out of the URL"
    );
    assert_eq!(channel["secret_set"], true);
    assert_eq!(channel["settings"]["prefetch"], 10);
    assert!(!stdout.contains(PASSWORD));
    let out = zato(&["channel", "list", "amqp", "--env", env_arg]).await;
    let listed = text(&out.stdout);
    assert!(
        listed.contains("orders") && listed.contains("demo.hello"),
        "{listed}"
    );
    assert!(!listed.contains(PASSWORD), "{listed}");

    // An edit changes only what it names and keeps the stored password.
    let (code, edited, stdout) = json_of(&[
        "channel",
        "edit",
        "amqp",
        "orders",
        "--env",
        env_arg,
        "--prefetch",
        "50",
        "--consumers",
        "3",
        "--inactive",
    ])
    .await;
    assert_eq!(code, 0, "{stdout}");
    assert_eq!(edited["settings"]["prefetch"], 50);
    assert_eq!(edited["settings"]["consumers"], 3);
    assert_eq!(edited["settings"]["queue"], "orders");
    assert_eq!(edited["active"], false);
    assert_eq!(edited["secret_set"], true);

    // Refusals name what is wrong, and store nothing.
    for (args, names) in [
        (
            vec![
                "--url",
                "http://127.0.0.1:1/",
                "--queue",
                "q",
                "--service",
                "demo.hello",
            ],
            "settings.url",
        ),
        (
            vec![
                "--url",
                "amqp://guest@127.0.0.1:1/v",
                "--queue",
                "q",
                "--service",
                "no.such",
            ],
            "`no.such` is not deployed",
        ),
        (
            vec![
                "--url",
                "amqp://guest@127.0.0.1:1/v",
                "--queue",
                "q",
                "--service",
                "demo.hello",
                "--consumers",
                "0",
            ],
            "settings.consumers",
        ),
    ] {
        let mut all = vec![
            "channel", "create", "amqp", "--env", env_arg, "--name", "bad",
        ];
        all.extend(args);
        let (code, error, _) = json_of(&all).await;
        assert_ne!(code, 0);
        let message = error["error"].as_str().unwrap_or_default();
        assert!(message.contains(names), "{error}");
    }
    let out = zato(&[
        "channel", "create", "amqp", "--env", env_arg, "--name", "bad", "--queue", "q",
    ])
    .await;
    assert_eq!(out.status.code(), Some(2), "a usage error");
    assert!(text(&out.stderr).contains("--url"), "{}", text(&out.stderr));

    // `--declare` alone asks the channel to declare its queue.
    let (code, declaring, stdout) = json_of(&[
        "channel",
        "create",
        "amqp",
        "--env",
        env_arg,
        "--name",
        "declaring",
        "--url",
        "amqp://guest@127.0.0.1:1/%2f",
        "--queue",
        "fresh",
        "--declare",
        "--service",
        "demo.hello",
    ])
    .await;
    assert_eq!(code, 0, "{stdout}");
    assert_eq!(declaring["settings"]["declare"], true, "{declaring}");
    let out = zato(&["channel", "delete", "amqp", "declaring", "--env", env_arg]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));

    // ZeroMQ: the command.
    let (code, zmq, stdout) = json_of(&[
        "channel",
        "create",
        "zmq",
        "--env",
        env_arg,
        "--name",
        "feed",
        "--socket",
        "pull",
        "--bind",
        "tcp://127.0.0.1:45871",
        "--service",
        "demo.hello",
    ])
    .await;
    assert_eq!(code, 0, "{stdout}");
    assert_eq!(zmq["settings"]["socket"], "pull");
    assert_eq!(zmq["settings"]["bind"], true);
    let (code, error, _) = json_of(&[
        "channel",
        "create",
        "zmq",
        "--env",
        env_arg,
        "--name",
        "feed2",
        "--socket",
        "pull",
        "--connect",
        "tcp://127.0.0.1:45872",
        "--subscribe",
        "orders.",
        "--service",
        "demo.hello",
    ])
    .await;
    assert_ne!(code, 0);
    assert!(
        error["error"].as_str().unwrap().contains("subscriptions"),
        "{error}"
    );
    let (code, error, _) = json_of(&[
        "channel",
        "create",
        "zmq",
        "--env",
        env_arg,
        "--name",
        "feed2",
        "--socket",
        "sub",
        "--connect",
        "tcp://127.0.0.1",
        "--service",
        "demo.hello",
    ])
    .await;
    assert_ne!(code, 0);
    assert!(
        error["error"]
            .as_str()
            .unwrap()
            .contains("settings.address"),
        "{error}"
    );
    let (_, listed, _) = json_of(&["channel", "list", "zmq", "--env", env_arg]).await;
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");

    // Outgoing AMQP and ZeroMQ connections.
    let (code, conn, stdout) = json_of(&[
        "outconn",
        "create",
        "amqp",
        "--env",
        env_arg,
        "--name",
        "events",
        "--amqp-url",
        &url,
    ])
    .await;
    assert_eq!(code, 0, "{stdout}");
    assert_eq!(
        conn["settings"]["url"],
        "amqp://guest@127.0.0.1:1/orders-vhost"
    );
    assert_eq!(conn["secret_set"], true);
    assert!(!stdout.contains(PASSWORD));
    let (code, conn, stdout) = json_of(&[
        "outconn",
        "create",
        "zmq",
        "--env",
        env_arg,
        "--name",
        "out",
        "--socket",
        "pub",
        "--connect",
        "tcp://127.0.0.1:45873",
    ])
    .await;
    assert_eq!(code, 0, "{stdout}");
    assert_eq!(conn["settings"]["socket"], "pub");
    let out = zato(&[
        "outconn",
        "create",
        "zmq",
        "--env",
        env_arg,
        "--name",
        "x",
        "--amqp-url",
        &url,
    ])
    .await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--amqp-url"),
        "{}",
        text(&out.stderr)
    );

    for (kind, name) in [("amqp", "orders"), ("zmq", "feed")] {
        let out = zato(&["channel", "delete", kind, name, "--env", env_arg]).await;
        assert!(out.status.success(), "{}", text(&out.stderr));
        let (_, listed, _) = json_of(&["channel", "list", kind, "--env", env_arg]).await;
        assert_eq!(listed, json!([]));
    }
    drop(running);
}

/// The routes refuse a body of the other type and a password given twice, and answer
/// 404 for what is not there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_refuses_settings_of_another_type_and_a_password_given_twice() {
    let server = TestServer::start().await;
    server.deploy(wasm::HELLO).await;
    let zmq_body = json!({
        "name": "feed", "service": "demo.hello",
        "settings": {"type": "zmq", "socket": "pull", "address": "tcp://127.0.0.1:45874"}
    });
    let response = server
        .admin(Method::POST, "/zato/api/channels/amqp")
        .json(&zmq_body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("settings.type"),
        "{body}"
    );

    let twice = json!({
        "name": "orders", "service": "demo.hello", "secret": "other",
        "settings": {"type": "amqp", "url": "amqp://u:p@127.0.0.1:1/%2f", "queue": "q"}
    });
    let response = server
        .admin(Method::POST, "/zato/api/channels/amqp")
        .json(&twice)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("twice"), "{body}");
    assert!(!body.to_string().contains("\"p\""), "{body}");

    for path in [
        "/zato/api/channels/amqp/none",
        "/zato/api/channels/zmq/none",
    ] {
        let response = server.admin(Method::GET, path).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let listed: Value = server
        .admin(Method::GET, "/zato/api/channels/amqp")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed, json!([]), "nothing refused was stored");
    server.stop().await;
}
