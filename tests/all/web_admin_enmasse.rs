//! The web admin's Enmasse page (`/enmasse`) in Debian's Chromium, driven by
//! playwright-core (`tests/browser/web_admin_enmasse.mjs`) against a real server running
//! `demo.hello`: the export names the service by sha256; a document with a missing
//! service and an unset secret is refused whole, naming both, with nothing changed; a
//! preview shows the plan and changes nothing; the import creates a basic-auth
//! definition and a channel it guards, which then admits its user alone; a second
//! import changes nothing.

use std::time::Duration;

use zato_test_artifacts as wasm;

use crate::harness::{PASSWORD, TestServer, USER};
use crate::web_admin_messaging::{run_browser_script, start_admin};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_previews_and_imports_a_document_in_the_browser() {
    let server = TestServer::start().await;
    server.deploy(wasm::HELLO).await;
    let admin = start_admin(&server).await;
    run_browser_script(
        "web_admin_enmasse.mjs",
        &[
            ("WEB_ADMIN_URL", &admin.base),
            ("ZATO_USER", USER),
            ("ZATO_PASSWORD", PASSWORD),
            ("ZATO_SERVER", &server.base),
        ],
        &["enmasse-refused", "enmasse"],
        Duration::from_secs(180),
    )
    .await;
    // What the browser left, as the cluster has it.
    let defs = server.api.security_defs().await.unwrap();
    assert_eq!(defs.len(), 1);
    assert_eq!(defs[0].name, "partner");
    let channel = server.api.http_channel("hello").await.unwrap();
    assert_eq!(channel.security.as_deref(), Some("partner"));
    server.stop().await;
}
