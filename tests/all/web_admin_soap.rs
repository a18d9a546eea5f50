//! The web admin's SOAP channels page (`/channels/soap`) in Debian's Chromium, driven by
//! playwright-core (`tests/browser/web_admin_soap.mjs`) against a real server: a channel
//! refused for a service that is not deployed (the form kept), created for SOAP 1.1
//! only, its WSDL served; a second one at the same path refused next to the path; the
//! first edited to both versions and a namespace of its own (the WSDL says so); another
//! deleted after a confirmation, its path answering no more.

use std::time::Duration;

use zato_api::SoapChannel;

use crate::harness::{PASSWORD, TestServer, USER};
use crate::web_admin_messaging::{run_browser_script, start_admin};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_creates_edits_and_deletes_soap_channels_in_the_browser() {
    let server = TestServer::start().await;
    server.deploy(zato_test_artifacts::SOAP_HELLO).await;
    let admin = start_admin(&server).await;
    run_browser_script(
        "web_admin_soap.mjs",
        &[
            ("WEB_ADMIN_URL", &admin.base),
            ("ZATO_USER", USER),
            ("ZATO_PASSWORD", PASSWORD),
            ("ZATO_SERVER", &server.base),
        ],
        &["soap-channel-refused", "soap-channel-form", "soap-channels"],
        Duration::from_secs(180),
    )
    .await;
    // What the browser left, as the admin API reads it.
    let channels = server.api.soap_channels().await.unwrap();
    assert_eq!(
        channels,
        [SoapChannel {
            name: "greetings".into(),
            path: "/soap/greetings".into(),
            services: vec!["demo.soap-hello".into()],
            versions: vec![],
            timeout_ms: 0,
            namespace: "urn:example:greetings".into(),
            security: None,
        }]
    );
    server.stop().await;
}
