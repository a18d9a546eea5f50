//! The `kv` and `lock` imports end to end, through the guest `test.kv-lock` and the
//! example `demo.inventory`: on one server (the in-memory KVDB), and on two servers of
//! a cluster sharing Redis, where calls of two services contend for one lock.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use zato_test_artifacts as wasm;

use crate::harness::{Backend, Cluster, TestServer, eventually};

/// Calls `test.kv-lock` with `call`; asserts a 200 and answers its JSON.
async fn call(server: &TestServer, call: Value) -> Value {
    let (status, answer) = server.invoke("test.kv-lock", &call.to_string()).await;
    assert_eq!(status, StatusCode::OK, "{call} answered {answer}");
    answer
}

/// The error kind `test.kv-lock` answered, with its message.
fn error_of(answer: &Value) -> (&str, &str) {
    (
        answer["error"]
            .as_str()
            .unwrap_or_else(|| panic!("an error: {answer}")),
        answer["message"].as_str().unwrap_or_default(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_service_keeps_values_in_its_namespace_and_shares_named_ones() {
    let server = TestServer::start().await;
    server.deploy(wasm::KV_LOCK).await;
    server.deploy(wasm::INVENTORY).await;

    assert_eq!(
        call(&server, json!({"op": "get", "key": "k"})).await,
        json!({"value": null})
    );
    call(&server, json!({"op": "set", "key": "k", "value": "v1"})).await;
    assert_eq!(
        call(&server, json!({"op": "get", "key": "k"})).await,
        json!({"value": "v1"})
    );
    assert_eq!(
        call(&server, json!({"op": "get", "key": "k", "ns": "stock"})).await,
        json!({"value": null}),
        "the service's own namespace is not a shared one"
    );
    assert_eq!(
        call(&server, json!({"op": "incr", "key": "n", "by": 5})).await["value"],
        5
    );
    assert_eq!(
        call(&server, json!({"op": "incr", "key": "n", "by": -8})).await["value"],
        -3
    );
    assert_eq!(
        call(&server, json!({"op": "get", "key": "n"})).await["value"],
        "-3"
    );
    assert_eq!(
        call(&server, json!({"op": "delete", "key": "k"})).await["deleted"],
        true
    );
    assert_eq!(
        call(&server, json!({"op": "delete", "key": "k"})).await["deleted"],
        false
    );

    // Another service's values are in a shared namespace both name.
    let (status, restocked) = server
        .invoke("demo.inventory", r#"{"sku": "A-1", "put": 5}"#)
        .await;
    assert_eq!(status, StatusCode::OK, "{restocked}");
    assert_eq!(
        call(&server, json!({"op": "get", "key": "A-1", "ns": "stock"})).await,
        json!({"value": "5"})
    );
    let (status, refused) = server
        .invoke("demo.inventory", r#"{"sku": "A-1", "take": 6}"#)
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");

    // A value with a TTL goes when it runs out.
    call(
        &server,
        json!({"op": "set", "key": "t", "value": "x", "ttl_ms": 300}),
    )
    .await;
    assert_eq!(
        call(&server, json!({"op": "get", "key": "t"})).await["value"],
        "x"
    );
    eventually(
        Duration::from_secs(10),
        "the value with a TTL to expire",
        || async {
            call(&server, json!({"op": "get", "key": "t"})).await["value"]
                .is_null()
                .then_some(())
        },
    )
    .await;

    // What the host refuses, it refuses by kind, naming the fault; nothing is stored.
    let too_big = call(
        &server,
        json!({"op": "set", "key": "big", "value": 1024 * 1024 + 1}),
    )
    .await;
    let (kind, message) = error_of(&too_big);
    assert_eq!(kind, "bad-request");
    assert!(
        message.contains("key `big`") && message.contains("over the limit"),
        "{message}"
    );
    assert_eq!(
        call(&server, json!({"op": "get", "key": "big"})).await["value"],
        Value::Null
    );
    let empty_key = call(&server, json!({"op": "get", "key": ""})).await;
    let (kind, message) = error_of(&empty_key);
    assert_eq!(
        (kind, message.contains("invalid key")),
        ("bad-request", true),
        "{message}"
    );
    let bad_ns = call(&server, json!({"op": "get", "key": "k", "ns": "a:b"})).await;
    assert_eq!(error_of(&bad_ns).0, "bad-request");
    call(&server, json!({"op": "set", "key": "text", "value": "abc"})).await;
    let not_a_number = call(&server, json!({"op": "incr", "key": "text"})).await;
    let (kind, message) = error_of(&not_a_number);
    assert_eq!(kind, "not-a-number");
    assert!(message.contains("key `text`"), "{message}");
    let bad_ttl = call(
        &server,
        json!({"op": "set", "key": "k", "value": "v", "ttl_ms": 0}),
    )
    .await;
    assert_eq!(error_of(&bad_ttl).0, "bad-request");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lock_ends_with_the_call_that_held_it_however_it_ended() {
    let server = TestServer::start().await;
    server.deploy(wasm::KV_LOCK).await;

    let first = call(&server, json!({"op": "try", "lock": "l"})).await;
    assert_eq!(first, json!({"fence": 1}));
    // A call that returns holding the lock (its guard forgotten), one that fails and one
    // that traps while holding it: each time, the next call finds it free, with the
    // next token.
    assert_eq!(
        call(&server, json!({"op": "hold", "lock": "l"})).await,
        json!({"fence": 2})
    );
    assert_eq!(
        call(&server, json!({"op": "try", "lock": "l"})).await["fence"],
        3
    );
    for (then, next) in [("fail", 5), ("trap", 7)] {
        let (status, answer) = server
            .invoke(
                "test.kv-lock",
                &json!({"op": "hold", "lock": "l", "then": then}).to_string(),
            )
            .await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{answer}");
        assert!(answer.to_string().contains(then), "{answer}");
        assert_eq!(
            call(&server, json!({"op": "try", "lock": "l"})).await["fence"],
            next
        );
    }

    // While one call holds it, another waits its timeout and is told so.
    let holder = {
        let body = json!({"op": "locked-incr", "lock": "l", "key": "n", "sleep_ms": 1500});
        let api = server.api.clone();
        tokio::spawn(async move {
            api.invoke(
                "test.kv-lock",
                body.to_string(),
                zato_api::DataFormat::Json,
                None,
            )
            .await
            .unwrap()
        })
    };
    eventually(
        Duration::from_secs(10),
        "the first call to hold the lock",
        || async {
            let tried = call(&server, json!({"op": "try", "lock": "l", "timeout_ms": 0})).await;
            (tried["error"] == "timeout").then_some(())
        },
    )
    .await;
    let waited = call(
        &server,
        json!({"op": "try", "lock": "l", "timeout_ms": 100}),
    )
    .await;
    let (kind, message) = error_of(&waited);
    assert_eq!(kind, "timeout");
    assert!(
        message.contains("lock `l` is held by another call"),
        "{message}"
    );
    let held = holder.await.unwrap();
    assert_eq!(held.status, StatusCode::OK);
    // Once it ended, the lock is free at once.
    let after = call(&server, json!({"op": "try", "lock": "l", "timeout_ms": 0})).await;
    assert!(after["fence"].as_u64().unwrap() > 8, "{after}");

    let hostile = call(&server, json!({"op": "try", "lock": ""})).await;
    assert_eq!(error_of(&hostile).0, "bad-request");
    let hostile = call(
        &server,
        json!({"op": "try", "lock": "l", "ttl_ms": 3_600_000}),
    )
    .await;
    let (kind, message) = error_of(&hostile);
    assert_eq!(kind, "bad-request");
    assert!(message.contains("invalid TTL"), "{message}");
    server.stop().await;
}

/// Many concurrent read-sleep-write increments of one shared key, half through each of
/// two servers, by `test.kv-lock` under the lock `stock:A-1` and `demo.inventory`
/// taking under the same lock: the lock never has two holders, so no update is lost,
/// and every acquisition had a token of its own. Without the lock, the same run loses
/// updates (so the check can fail).
#[tokio::test(flavor = "multi_thread")]
async fn calls_of_two_services_on_two_servers_never_hold_a_lock_together() {
    let cluster = Cluster::start(2, Backend::Sqlite).await;
    let [one, two] = [&cluster.servers[0], &cluster.servers[1]];
    one.deploy(wasm::KV_LOCK).await;
    one.deploy(wasm::INVENTORY).await;
    cluster
        .wait_for_version("test.kv-lock", 1, Duration::from_secs(30))
        .await;
    cluster
        .wait_for_version("demo.inventory", 1, Duration::from_secs(30))
        .await;

    const START: i64 = 1000;
    const INCREMENTS: usize = 24;
    const TAKES: usize = 24;
    let (status, _) = one
        .invoke(
            "demo.inventory",
            &json!({"sku": "A-1", "put": START}).to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    let mut calls = tokio::task::JoinSet::new();
    for i in 0..INCREMENTS + TAKES {
        let api = if i % 2 == 0 {
            one.api.clone()
        } else {
            two.api.clone()
        };
        let (service, body) = if i < INCREMENTS {
            (
                "test.kv-lock",
                json!({"op": "locked-incr", "lock": "stock:A-1", "ns": "stock", "key": "A-1",
                    "sleep_ms": 10}),
            )
        } else {
            ("demo.inventory", json!({"sku": "A-1", "take": 1}))
        };
        calls.spawn(async move {
            let answer = api
                .invoke(service, body.to_string(), zato_api::DataFormat::Json, None)
                .await
                .unwrap();
            let value: Value = serde_json::from_slice(&answer.body).unwrap();
            assert_eq!(answer.status, StatusCode::OK, "{service}: {value}");
            assert!(value.get("error").is_none(), "{service}: {value}");
            value["fence"].as_u64().expect("a fencing token")
        });
    }
    let mut fences: Vec<u64> = calls.join_all().await;
    fences.sort_unstable();
    fences.dedup();
    assert_eq!(
        fences.len(),
        INCREMENTS + TAKES,
        "every acquisition had a token of its own"
    );

    let (_, level) = two.invoke("demo.inventory", r#"{"sku": "A-1"}"#).await;
    let expected = START + INCREMENTS as i64 - TAKES as i64;
    assert_eq!(
        level["left"], expected,
        "no update lost under the lock: {level}"
    );

    // The control: the same increments without the lock lose updates.
    let mut calls = tokio::task::JoinSet::new();
    for i in 0..INCREMENTS {
        let api = if i % 2 == 0 {
            one.api.clone()
        } else {
            two.api.clone()
        };
        let body = json!({"op": "unlocked-incr", "ns": "stock", "key": "A-1", "sleep_ms": 50});
        calls.spawn(async move {
            api.invoke(
                "test.kv-lock",
                body.to_string(),
                zato_api::DataFormat::Json,
                None,
            )
            .await
            .unwrap()
            .status
        });
    }
    assert!(calls.join_all().await.iter().all(|s| *s == StatusCode::OK));
    let (_, level) = one.invoke("demo.inventory", r#"{"sku": "A-1"}"#).await;
    let unlocked = level["left"].as_i64().unwrap() - expected;
    assert!(
        unlocked < INCREMENTS as i64,
        "without the lock {unlocked} of {INCREMENTS} increments stayed: the test cannot tell"
    );
    eprintln!(
        "under the lock: {} of {} changes kept; without: {unlocked} of {INCREMENTS}",
        INCREMENTS + TAKES,
        INCREMENTS + TAKES
    );
    cluster.stop().await;
}
