//! The web admin's statistics pages in Debian's Chromium (playwright-core,
//! `tests/browser/web_admin_stats.mjs`), against a real server after a load run of
//! 2,000 calls from 32 clients and a known sequence of calls: the top list's counts, the service page's charts (their bars add up to the
//! calls made), its slow list and its last call, as a person reads them.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use zato_test_artifacts as wasm;

use crate::harness::{PASSWORD, TestServer, USER, eventually};
use crate::web_admin_messaging::{run_browser_script, start_admin};

/// The calls of the load run before the known sequence.
const LOAD: usize = 2_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_reads_the_statistics_and_their_charts_in_the_browser_after_a_load_run() {
    let server = TestServer::start_with(|c| c.stats.flush_interval_ms = 100).await;
    server.deploy(wasm::STATS).await;
    server.channel("stats", "/stats", "test.stats", 5_000).await;
    let url = format!("{}/stats", server.base);
    // A load run first: LOAD quick calls from 32 clients at once.
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let clients: Vec<_> = (0..32)
        .map(|_| {
            let (http, url, next) = (server.http.clone(), url.clone(), next.clone());
            tokio::spawn(async move {
                while next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < LOAD {
                    let status = http.post(&url).json(&json!({"ms": 0})).send().await;
                    assert_eq!(status.unwrap().status(), StatusCode::OK);
                }
            })
        })
        .collect();
    for client in clients {
        client.await.unwrap();
    }
    // Then 9 quick calls, one slow (over the service's 50 ms), 2 failures: 12, 2 errors.
    let mut bodies = vec![json!({"ms": 2}); 9];
    bodies.push(json!({"ms": 70}));
    bodies.extend([
        json!({"ms": 1, "fail": "internal"}),
        json!({"ms": 1, "fail": "internal"}),
    ]);
    for body in &bodies {
        let status = server
            .http
            .post(&url)
            .json(body)
            .send()
            .await
            .unwrap()
            .status();
        assert!(
            status == StatusCode::OK || status == StatusCode::INTERNAL_SERVER_ERROR,
            "{status}"
        );
    }
    let calls = LOAD + 12;
    eventually(Duration::from_secs(20), "every call counted", || async {
        let stats = server.api.service_stats("test.stats", None).await.unwrap();
        (stats.count == calls as u64).then_some(())
    })
    .await;
    let admin = start_admin(&server).await;
    run_browser_script(
        "web_admin_stats.mjs",
        &[
            ("WEB_ADMIN_URL", &admin.base),
            ("ZATO_USER", USER),
            ("ZATO_PASSWORD", PASSWORD),
            ("EXPECTED_CALLS", &calls.to_string()),
            ("EXPECTED_ERRORS", "2"),
        ],
        &["stats", "stats-service", "stats-week"],
        Duration::from_secs(180),
    )
    .await;
    server.stop().await;
}
