//! The web admin's security definitions page (`/security`) in Debian's Chromium, driven
//! by playwright-core (`tests/browser/web_admin_security.mjs`) against a real server: a
//! basic-auth definition and an API key created through their forms, a key too short
//! refused naming the shortest, a realm edited with the password kept, a key changed,
//! one definition deleted after a confirmation, and no secret ever in a page; then an
//! HTTP channel guarded by the other, chosen in the channel's form, which admits the
//! definition's caller only, and keeps the definition from deletion; then a JWT
//! definition logging in with it, made through its form, which issues tokens.

use std::time::Duration;

use zato_api::security::{BasicAuthSettings, SecuritySettings, SecurityType};
use zato_host::odb::SecurityDefinitions as _;

use crate::harness::{PASSWORD, TestServer, USER};
use crate::web_admin_messaging::{run_browser_script, start_admin};

/// The basic-auth password typed in the browser: kept by the edit that leaves it empty.
const PARTNER_PASSWORD: &str = "partner-pw-web-never-shown";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_creates_edits_and_deletes_security_definitions_in_the_browser() {
    let server = TestServer::start().await;
    server.deploy(zato_test_artifacts::ECHO).await;
    let admin = start_admin(&server).await;
    run_browser_script(
        "web_admin_security.mjs",
        &[
            ("WEB_ADMIN_URL", &admin.base),
            ("ZATO_USER", USER),
            ("ZATO_PASSWORD", PASSWORD),
            ("PARTNER_PASSWORD", PARTNER_PASSWORD),
        ],
        &[
            "security-form",
            "security-refused",
            "security",
            "channel-security",
            "security-jwt",
        ],
        Duration::from_secs(180),
    )
    .await;
    // What the browser left, as the cluster has it: partner alone, its realm changed.
    let defs = server.api.security_defs().await.unwrap();
    let [partner, partner_jwt] = defs.as_slice() else {
        panic!("partner and partner-jwt are left: {defs:?}")
    };
    assert_eq!(partner_jwt.name, "partner-jwt");
    assert_eq!(partner_jwt.kind, SecurityType::Jwt);
    assert_eq!(partner.name, "partner");
    assert_eq!(partner.kind, SecurityType::BasicAuth);
    assert_eq!(
        partner.settings,
        SecuritySettings::BasicAuth(BasicAuthSettings {
            username: "acme".into(),
            realm: "partners-eu".into(),
        })
    );
    // The edit that left the password empty kept it: the stored hash still matches.
    let odb_url = format!("sqlite://{}/odb.sqlite", server.dir.path().display());
    let odb = zato_host::odb::SqlOdb::connect(&odb_url).await.unwrap();
    let hashes = odb.security_hashes().await.unwrap();
    let (_, hash) = hashes
        .iter()
        .find(|(info, _)| info.name == "partner")
        .expect("partner's hash");
    assert!(zato_host::security::matches(hash, PARTNER_PASSWORD));
    assert!(!zato_host::security::matches(hash, "another password"));

    // The channel the browser made admits partner's caller only.
    let channel = server.api.http_channel("partner-orders").await.unwrap();
    assert_eq!(channel.security.as_deref(), Some("partner"));
    let url = format!("{}/partner/orders", server.base);
    let open = server.http.get(&url).send().await.unwrap();
    assert_eq!(open.status(), reqwest::StatusCode::UNAUTHORIZED);
    let admitted = server
        .http
        .get(&url)
        .basic_auth("acme", Some(PARTNER_PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(admitted.status(), reqwest::StatusCode::OK);
    let body: serde_json::Value = admitted.json().await.unwrap();
    assert_eq!(body["caller"]["principal"], "acme", "{body}");

    // The JWT definition made in the browser issues tokens to partner's caller.
    let issued = server
        .http
        .post(format!("{}/zato/jwt/log-in", server.base))
        .json(&serde_json::json!({"username": "acme", "password": PARTNER_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(issued.status(), reqwest::StatusCode::OK);
    let issued: serde_json::Value = issued.json().await.unwrap();
    assert_eq!(issued["definition"], "partner-jwt");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_makes_a_client_certificate_definition_rate_limits_and_admin_users_in_the_browser()
{
    let server = TestServer::start().await;
    server.deploy(zato_test_artifacts::ECHO).await;
    server
        .api
        .create_http_channel(&crate::harness::http_channel(
            "orders",
            "/orders",
            "test.echo",
        ))
        .await
        .unwrap();
    let pki = tempfile::tempdir().unwrap();
    let made = crate::cli::zato(&["ca", "create", pki.path().to_str().unwrap()]).await;
    assert!(made.status.success());
    let ca_pem = std::fs::read_to_string(pki.path().join("ca.pem")).unwrap();
    let admin = start_admin(&server).await;
    run_browser_script(
        "web_admin_rate_limits.mjs",
        &[
            ("WEB_ADMIN_URL", &admin.base),
            ("ZATO_USER", USER),
            ("ZATO_PASSWORD", PASSWORD),
            ("CA_PEM", &ca_pem),
            ("OPS_PASSWORD", "ops password typed in"),
            ("OPS_NEW_PASSWORD", "ops password changed in"),
        ],
        &["security-tls", "rate-limit-form", "rate-limits", "users"],
        Duration::from_secs(180),
    )
    .await;
    // What the browser left: the client-certificate definition, no rate limit.
    let defs = server.api.security_defs().await.unwrap();
    let [cert] = defs.as_slice() else {
        panic!("partner-cert is left: {defs:?}")
    };
    let SecuritySettings::Tls(settings) = &cert.settings else {
        panic!("{cert:?}")
    };
    assert_eq!(
        settings.subject,
        [
            ("CN".to_owned(), "partner".to_owned()),
            ("O".to_owned(), "ACME".to_owned())
        ]
        .into_iter()
        .collect()
    );
    assert_eq!(settings.ca_pem.trim(), ca_pem.trim());
    assert!(server.api.rate_limits().await.unwrap().is_empty());
    assert!(server.api.rate_limit_uses().await.unwrap().is_empty());
    // The admin and ops are left; ops logs in with the password it was changed to.
    let users: Vec<String> = server
        .api
        .admin_users()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.username)
        .collect();
    assert_eq!(users, [USER, "ops"]);
    let services = format!("{}/zato/api/services", server.base);
    for (password, status) in [
        ("ops password changed in", 200),
        ("ops password typed in", 401),
    ] {
        let answer = server
            .http
            .get(&services)
            .basic_auth("ops", Some(password))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), status, "{password}");
    }
}
