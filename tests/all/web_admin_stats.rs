//! The web admin's statistics pages in Debian's Chromium (playwright-core,
//! `tests/browser/web_admin_stats.mjs`), against a real server after a known sequence of
//! calls: the top list's counts, the service page's charts (their bars add up to the
//! calls made), its slow list and its last call, as a person reads them.

use std::path::Path;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use zato_test_artifacts as wasm;

use crate::cli::text;
use crate::harness::{PASSWORD, TestServer, USER, eventually};
use crate::web_admin_messaging::{browser_tests, screenshots, start_admin};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_reads_the_statistics_and_their_charts_in_the_browser() {
    let chromium = Path::new("/usr/bin/chromium");
    let playwright = browser_tests().join("node_modules/playwright-core");
    assert!(
        chromium.exists() && playwright.exists(),
        "the browser tests need Debian's chromium and tests/browser/node_modules: \
         tests/run.sh installs both (apt-get install chromium; npm ci --prefix tests/browser)"
    );
    let server = TestServer::start_with(|c| c.stats.flush_interval_ms = 100).await;
    server.deploy(wasm::STATS).await;
    server.channel("stats", "/stats", "test.stats", 5_000).await;
    let url = format!("{}/stats", server.base);
    // 9 quick calls, one slow (over the service's 50 ms), 2 failures: 12, 2 errors.
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
    eventually(Duration::from_secs(20), "12 calls counted", || async {
        let stats = server.api.service_stats("test.stats", None).await.unwrap();
        (stats.count == 12).then_some(())
    })
    .await;
    let admin = start_admin(&server).await;
    let shots = screenshots();
    std::fs::create_dir_all(&shots).unwrap();

    let run = tokio::process::Command::new("node")
        .arg(browser_tests().join("web_admin_stats.mjs"))
        .env("WEB_ADMIN_URL", &admin.base)
        .env("ZATO_USER", USER)
        .env("ZATO_PASSWORD", PASSWORD)
        .env("EXPECTED_CALLS", "12")
        .env("EXPECTED_ERRORS", "2")
        .env("SCREENSHOTS", &shots)
        .env("CHROMIUM", chromium)
        .kill_on_drop(true)
        .output();
    let run = tokio::time::timeout(Duration::from_secs(180), run)
        .await
        .expect("the browser run ends within 3 minutes")
        .unwrap();
    let report = format!(
        "stdout:\n{}\nstderr:\n{}",
        text(&run.stdout),
        text(&run.stderr)
    );
    assert!(run.status.success(), "{report}");
    assert!(
        text(&run.stdout).contains("all steps passed"),
        "the script ran to its end: {report}"
    );
    for page in ["stats", "stats-service", "stats-week"] {
        assert!(
            shots.join(format!("{page}.png")).exists(),
            "a screenshot of {page}"
        );
    }
    server.stop().await;
}
