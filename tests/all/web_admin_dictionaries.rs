//! The web admin's data dictionary page (`/dictionaries`) in Debian's Chromium, driven
//! by playwright-core (`tests/browser/web_admin_dictionaries.mjs`) against a real
//! server running `demo.currency`: a bad import refused naming its line with nothing
//! imported, a good one that the service translates with, a translation changed and
//! one removed through the page, and the export.

use std::path::Path;
use std::time::Duration;

use zato_api::DictEntry;
use zato_test_artifacts as wasm;

use crate::cli::text;
use crate::harness::{PASSWORD, TestServer, USER};
use crate::web_admin_messaging::{browser_tests, screenshots, start_admin};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_imports_changes_and_removes_translations_in_the_browser() {
    let chromium = Path::new("/usr/bin/chromium");
    let playwright = browser_tests().join("node_modules/playwright-core");
    assert!(
        chromium.exists() && playwright.exists(),
        "the browser tests need Debian's chromium and tests/browser/node_modules: \
         tests/run.sh installs both (apt-get install chromium; npm ci --prefix tests/browser)"
    );
    let server = TestServer::start().await;
    server.deploy(wasm::CURRENCY).await;
    let admin = start_admin(&server).await;
    let shots = screenshots();
    std::fs::create_dir_all(&shots).unwrap();

    let run = tokio::process::Command::new("node")
        .arg(browser_tests().join("web_admin_dictionaries.mjs"))
        .env("WEB_ADMIN_URL", &admin.base)
        .env("ZATO_USER", USER)
        .env("ZATO_PASSWORD", PASSWORD)
        .env("ZATO_SERVER", &server.base)
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
    for page in ["dictionary-refused", "dictionaries"] {
        assert!(
            shots.join(format!("{page}.png")).exists(),
            "a screenshot of {page}"
        );
    }
    // What the browser left, as the cluster has it: USD changed to 841, EUR removed.
    let usd = DictEntry {
        system: "crm".into(),
        key: "currency".into(),
        value: "USD".into(),
    };
    assert_eq!(
        server
            .api
            .translate(&usd, "accounting", "currency")
            .await
            .unwrap()
            .as_deref(),
        Some("841")
    );
    let eur = DictEntry {
        value: "EUR".into(),
        ..usd
    };
    assert_eq!(
        server
            .api
            .translate(&eur, "accounting", "currency")
            .await
            .unwrap(),
        None
    );
    server.stop().await;
}
