//! Usage statistics, samples and slow responses end to end, through the guest
//! `test.stats` (a call of known duration and outcome) and the CLI: on one server with
//! the in-memory KVDB, and on three servers sharing Redis, whose figures add up.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use zato_test_artifacts as wasm;

use crate::cli::{text, zato};
use crate::harness::{Backend, Cluster, PASSWORD, REDIS, TestServer, USER, eventually};

/// `zato ARGS --url BASE ... --json`: its exit code and its one JSON document.
pub(crate) async fn zato_at(base: &str, args: &[&str]) -> (i32, Value) {
    let mut all = args.to_vec();
    all.extend([
        "--url",
        base,
        "--user",
        USER,
        "--password",
        PASSWORD,
        "--json",
    ]);
    let output = zato(&all).await;
    let document = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "`zato {}` printed no JSON document ({e}): {} {}",
            all.join(" "),
            text(&output.stdout),
            text(&output.stderr)
        )
    });
    (output.status.code().unwrap(), document)
}

/// Waits until the cluster's figures of `service`, read through `base`, count `count`
/// calls, and answers them.
pub(crate) async fn stats_once_counted(base: &str, service: &str, count: u64) -> Value {
    eventually(
        Duration::from_secs(20),
        &format!("{count} calls of {service} counted"),
        || async {
            let (code, stats) = zato_at(base, &["stats", "service", service]).await;
            assert_eq!(code, 0, "{stats}");
            let counted = stats["count"].as_u64().unwrap();
            assert!(counted <= count, "more calls counted than made: {stats}");
            (counted == count).then_some(stats)
        },
    )
    .await
}

fn fast_stats(config: &mut zato_host::config::ServerConfig) {
    config.stats.flush_interval_ms = 100;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_known_sequence_of_calls_is_counted_with_its_errors_timeouts_and_percentiles() {
    let server = TestServer::start_with(fast_stats).await;
    server.deploy(wasm::STATS).await;
    server.channel("stats", "/stats", "test.stats", 300).await;
    let url = format!("{}/stats", server.base);
    let call = |body: Value| {
        let request = server.http.post(&url).json(&body);
        async move { request.send().await.unwrap().status() }
    };
    // 20 quick calls, 5 slow ones (over the service's 50 ms), 3 failures and 2 that run
    // out of the channel's 300 ms, through HTTP; 4 through the admin API's invoke.
    for _ in 0..20 {
        assert_eq!(call(json!({"ms": 5})).await, StatusCode::OK);
    }
    for _ in 0..5 {
        assert_eq!(call(json!({"ms": 80})).await, StatusCode::OK);
    }
    for _ in 0..3 {
        assert_eq!(
            call(json!({"ms": 1, "fail": "internal"})).await,
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }
    for _ in 0..2 {
        assert_eq!(call(json!({"ms": 2000})).await, StatusCode::GATEWAY_TIMEOUT);
    }
    for _ in 0..4 {
        let (status, _) = server.invoke("test.stats", r#"{"ms": 5}"#).await;
        assert_eq!(status, StatusCode::OK);
    }
    // A call of a service nobody deployed is not counted under any name.
    let (status, _) = server.invoke("test.nobody", "{}").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let stats = stats_once_counted(&server.base, "test.stats", 34).await;
    assert_eq!(stats["errors"], 5, "{stats}");
    assert_eq!(stats["timeouts"], 2, "{stats}");
    let ms = |key: &str| {
        stats[key]
            .as_f64()
            .unwrap_or_else(|| panic!("{key}: {stats}"))
    };
    assert!(ms("min_ms") >= 1.0, "{stats}");
    assert!(
        (5.0..40.0).contains(&ms("p50_ms")),
        "most calls sleep 5 ms: {stats}"
    );
    assert!(
        ms("p99_ms") >= 300.0,
        "the timeouts are the slowest: {stats}"
    );
    assert!(ms("max_ms") >= 300.0 && ms("max_ms") < 2000.0, "{stats}");
    let mean = ms("mean_ms");
    assert!(ms("p50_ms") < mean && mean < ms("p99_ms"), "{stats}");

    // The last hour holds them all; the top lists order by what they are asked.
    let (code, last) = zato_at(
        &server.base,
        &["stats", "service", "test.stats", "--last", "1h"],
    )
    .await;
    assert_eq!((code, &last["count"]), (0, &json!(34)), "{last}");
    let (code, top) = zato_at(&server.base, &["stats", "top", "--by", "errors"]).await;
    assert_eq!(code, 0, "{top}");
    assert_eq!(top["by"], "errors");
    assert_eq!(top["services"][0]["service"], "test.stats", "{top}");
    let names: Vec<&str> = top["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["service"].as_str().unwrap())
        .collect();
    assert!(!names.contains(&"test.nobody"), "{top}");

    // The slow list: the 5 slow calls and the 2 timeouts, slowest first, with their
    // requests; nothing under the threshold.
    let (code, slow) = zato_at(&server.base, &["stats", "slow", "test.stats"]).await;
    assert_eq!(code, 0, "{slow}");
    let slow = slow.as_array().unwrap();
    assert_eq!(slow.len(), 7, "{slow:#?}");
    let durations: Vec<f64> = slow
        .iter()
        .map(|s| s["duration_ms"].as_f64().unwrap())
        .collect();
    assert!(durations.windows(2).all(|w| w[0] >= w[1]), "{durations:?}");
    assert!(durations.iter().all(|d| *d > 50.0), "{durations:?}");
    assert_eq!(slow[0]["status"], 504);
    assert_eq!(slow[0]["request"], r#"{"ms":2000}"#);
    assert_eq!(slow[0]["channel"], "http");
    assert_eq!(slow[6]["request"], r#"{"ms":80}"#);

    // The sample is the last call, and never carries credentials.
    let response = server
        .http
        .post(&url)
        .header("authorization", "Bearer secret-token-1")
        .header("cookie", "session=secret-cookie-2")
        .header("x-api-key", "secret-key-3")
        .header("x-order", "A-17")
        .json(&json!({"ms": 1, "order": "A-17"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    stats_once_counted(&server.base, "test.stats", 35).await;
    let (code, sample) = zato_at(&server.base, &["stats", "sample", "test.stats"]).await;
    assert_eq!(code, 0, "{sample}");
    assert_eq!(sample["request"], r#"{"ms":1,"order":"A-17"}"#);
    assert_eq!(sample["response"], r#"{"slept":1}"#);
    assert_eq!(sample["server"], "test");
    let document = sample.to_string();
    for secret in ["secret-token-1", "secret-cookie-2", "secret-key-3"] {
        assert!(!document.contains(secret), "{secret} kept: {document}");
    }
    assert!(
        sample["request_headers"]
            .as_array()
            .unwrap()
            .contains(&json!({"name": "x-order", "value": "A-17"})),
        "{sample}"
    );

    // A service whose configuration keeps its payloads private has none sampled.
    server
        .set_config("test.stats", &json!({"zato.stats.samples": "off"}))
        .await;
    eventually(
        Duration::from_secs(10),
        "the configuration applied",
        || async {
            let response = server
                .http
                .post(&url)
                .json(&json!({"ms": 1, "card": "4111"}))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            let stats = server.api.service_stats("test.stats", None).await.unwrap();
            let sample = server.api.service_sample("test.stats").await.unwrap();
            // Counted, yet the sample is still the one before.
            (stats.count > 36).then_some(sample)
        },
    )
    .await;
    let sample = server.api.service_sample("test.stats").await.unwrap();
    assert!(!sample.request.contains("4111"), "{sample:?}");

    // Bad input is refused, naming what was wrong.
    let output = zato(&[
        "stats",
        "service",
        "test.stats",
        "--last",
        "1y",
        "--url",
        &server.base,
    ])
    .await;
    assert_eq!(output.status.code(), Some(2), "{}", text(&output.stderr));
    assert!(
        text(&output.stderr).contains("`1y`"),
        "{}",
        text(&output.stderr)
    );
    let (code, unknown) = zato_at(&server.base, &["stats", "service", "test.never"]).await;
    assert_eq!(code, 1, "{unknown}");
    assert!(
        unknown["error"].as_str().unwrap().contains("test.never"),
        "{unknown}"
    );
    let response = server
        .admin(reqwest::Method::GET, "/zato/api/stats/top?by=p42")
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["error"].as_str().unwrap().contains("`p42`"), "{body}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_figures_of_three_servers_sharing_redis_add_up() {
    let cluster = Cluster::start_adjusted(3, Backend::Sqlite, REDIS, fast_stats).await;
    cluster.servers[0].deploy(wasm::STATS).await;
    cluster
        .wait_for_version("test.stats", 1, Duration::from_secs(30))
        .await;
    // Server i runs 10 * (i + 1) calls, one in five failing: 60 calls, 12 errors.
    let mut calls = Vec::new();
    for (i, server) in cluster.servers.iter().enumerate() {
        for n in 0..10 * (i + 1) {
            let body = if n % 5 == 0 {
                r#"{"ms": 2, "fail": "internal"}"#
            } else {
                r#"{"ms": 2}"#
            };
            calls.push(server.invoke("test.stats", body));
        }
    }
    let statuses: Vec<StatusCode> = futures::future::join_all(calls)
        .await
        .into_iter()
        .map(|(status, _)| status)
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == StatusCode::OK).count(),
        48
    );
    // Any server answers for the whole cluster.
    for server in &cluster.servers {
        let stats = stats_once_counted(&server.base, "test.stats", 60).await;
        assert_eq!(stats["errors"], 12, "{stats}");
        assert!(stats["p50_ms"].as_f64().unwrap() >= 2.0, "{stats}");
    }
    // Slow calls (over the service's 50 ms: 60 calls at once on a small machine can
    // be) come from every server into one list, slowest first.
    let slow = cluster.servers[2]
        .api
        .service_slow("test.stats")
        .await
        .unwrap();
    assert!(slow.len() <= 60, "{slow:?}");
    assert!(
        slow.windows(2)
            .all(|w| w[0].duration_ms >= w[1].duration_ms),
        "{slow:?}"
    );
    assert!(slow.iter().all(|s| s.duration_ms > 50.0), "{slow:?}");
    let sample = cluster.servers[1]
        .api
        .service_sample("test.stats")
        .await
        .unwrap();
    assert!(
        ["server1", "server2", "server3"].contains(&sample.server.as_str()),
        "{sample:?}"
    );
    cluster.stop().await;
}
