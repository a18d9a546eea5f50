//! The web admin's data dictionary page (`/dictionaries`) in Debian's Chromium, driven
//! by playwright-core (`tests/browser/web_admin_dictionaries.mjs`) against a real
//! server running `demo.currency`: a bad import refused naming its line with nothing
//! imported, a good one that the service translates with, a translation changed and
//! one removed through the page, and the export.

use std::time::Duration;

use zato_api::DictEntry;
use zato_test_artifacts as wasm;

use crate::harness::{PASSWORD, TestServer, USER};
use crate::web_admin_messaging::{run_browser_script, start_admin};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_imports_changes_and_removes_translations_in_the_browser() {
    let server = TestServer::start().await;
    server.deploy(wasm::CURRENCY).await;
    let admin = start_admin(&server).await;
    run_browser_script(
        "web_admin_dictionaries.mjs",
        &[
            ("WEB_ADMIN_URL", &admin.base),
            ("ZATO_USER", USER),
            ("ZATO_PASSWORD", PASSWORD),
            ("ZATO_SERVER", &server.base),
        ],
        &["dictionary-refused", "dictionaries"],
        Duration::from_secs(180),
    )
    .await;
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
