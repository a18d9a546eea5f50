//! Security definitions through the admin API and `zato security`: created, listed,
//! edited, their secrets changed and never shown, refused with a message naming what
//! was wrong, and deleted.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::{PASSWORD, TestServer, USER};

/// `zato security ARGS --url BASE ... --json`: its exit code and its one JSON document.
pub(crate) async fn security(base: &str, args: &[&str]) -> (i32, Value) {
    let mut all = vec!["security"];
    all.extend_from_slice(args);
    all.extend(["--url", base, "--user", USER, "--admin-password", PASSWORD]);
    crate::cli::zato_json(&all).await
}

/// No answer carries a secret or a hash of one.
fn assert_no_secret(answer: &Value, secrets: &[&str]) {
    let text = answer.to_string();
    for secret in secrets {
        assert!(!text.contains(secret), "a secret in {answer}");
    }
    assert!(!text.contains("argon2"), "a hash in {answer}");
    assert!(!text.contains("sha256:"), "a hash in {answer}");
    assert!(!text.contains("\"secret\""), "a secret field in {answer}");
}

#[tokio::test]
async fn the_cli_creates_lists_edits_and_deletes_definitions_and_never_shows_a_secret() {
    let server = TestServer::start().await;
    let base = server.base.as_str();
    let key = "k3y-0123456789abcdef";

    // The interface, both types.
    let (code, created) = security(
        base,
        &[
            "create",
            "basic-auth",
            "--name",
            "partner",
            "--username",
            "acme",
            "--password",
            "s3cret pass",
        ],
    )
    .await;
    assert_eq!(code, 0, "{created}");
    assert_eq!(created["type"], "basic-auth");
    assert_eq!(created["settings"]["username"], "acme");
    assert_eq!(created["settings"]["realm"], "zato");
    assert_no_secret(&created, &["s3cret pass"]);
    let (code, created) = security(
        base,
        &[
            "create",
            "apikey",
            "--name",
            "crm",
            "--header",
            "X-Client-Key",
            "--key",
            key,
        ],
    )
    .await;
    assert_eq!(code, 0, "{created}");
    assert_eq!(created["settings"]["header"], "X-Client-Key");
    assert_no_secret(&created, &[key]);

    let (code, listed) = security(base, &["list"]).await;
    assert_eq!(code, 0);
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["crm", "partner"]);
    assert_no_secret(&listed, &["s3cret pass", key]);

    let (code, edited) = security(base, &["edit", "partner", "--realm", "partners"]).await;
    assert_eq!(code, 0, "{edited}");
    assert_eq!(edited["settings"]["realm"], "partners");
    assert_eq!(edited["settings"]["username"], "acme");
    // An option of the other type is a usage error, and changes nothing.
    let (code, refused) = security(base, &["edit", "crm", "--realm", "x"]).await;
    assert_eq!(code, 2, "{refused}");
    assert!(
        refused["error"].as_str().unwrap().contains("--realm"),
        "{refused}"
    );

    let (code, changed) = security(
        base,
        &["change-password", "crm", "--key", "another-key-0123456789"],
    )
    .await;
    assert_eq!(code, 0, "{changed}");
    assert_no_secret(&changed, &["another-key-0123456789"]);
    // A key too short for its type: refused, naming why.
    let (code, refused) = security(base, &["change-password", "crm", "--key", "short"]).await;
    assert_ne!(code, 0);
    assert!(
        refused["error"].as_str().unwrap().contains("16"),
        "{refused}"
    );
    // No secret given at all.
    let (code, refused) = security(
        base,
        &["create", "basic-auth", "--name", "x", "--username", "u"],
    )
    .await;
    assert_eq!(code, 2, "{refused}");
    assert!(
        refused["error"].as_str().unwrap().contains("--password"),
        "{refused}"
    );

    let (code, deleted) = security(base, &["delete", "crm"]).await;
    assert_eq!(code, 0, "{deleted}");
    assert_eq!(deleted, json!({"name": "crm", "type": "apikey"}));
    let (code, missing) = security(base, &["get", "crm"]).await;
    assert_ne!(code, 0);
    assert!(
        missing["error"].as_str().unwrap().contains("crm"),
        "{missing}"
    );
    server.stop().await;
}

#[tokio::test]
async fn bad_definitions_are_refused_naming_what_is_wrong_and_nothing_is_stored() {
    let server = TestServer::start().await;
    let post = |body: Value| {
        server
            .admin(Method::POST, "/zato/api/security")
            .json(&body)
            .send()
    };
    let refused = [
        (
            json!({"name": "a", "settings": {"type": "basic-auth", "username": "u"}}),
            "secret",
        ),
        (
            json!({"name": "a", "settings": {"type": "basic-auth", "username": "u:v"}, "secret": "p"}),
            "username",
        ),
        (
            json!({"name": "a", "settings": {"type": "basic-auth", "username": "u", "realm": "a\"b"}, "secret": "p"}),
            "realm",
        ),
        (
            json!({"name": "a", "settings": {"type": "apikey", "header": "Bad Header"}, "secret": "0123456789abcdef"}),
            "header",
        ),
        (
            json!({"name": "a", "settings": {"type": "apikey"}, "secret": "too-short"}),
            "16",
        ),
        (
            json!({"name": "a b", "settings": {"type": "apikey"}, "secret": "0123456789abcdef"}),
            "name",
        ),
        (
            json!({"name": "a", "settings": {"type": 0, "username": "u"}, "secret": "p"}),
            "settings.type",
        ),
        (
            json!({"name": "a", "settings": {"type": "oauth"}, "secret": "p"}),
            "oauth",
        ),
        (
            json!({"name": "a", "settings": {"type": "jwt"}, "secret": "p"}),
            "algorithm",
        ),
        (
            json!({"name": "a", "settings": {"type": "jwt", "algorithm": "HS256", "issuer": "i",
                   "audience": "a", "login": "nobody"}, "secret": "k".repeat(32)}),
            "`login`",
        ),
        (
            json!({"name": "a", "settings": {"type": "jwt", "algorithm": "HS256", "issuer": "i",
                   "audience": "a", "login": "nobody"}, "secret": "short"}),
            "32",
        ),
        (
            json!({"name": "a", "settings": {"type": "jwt", "algorithm": "ES256", "issuer": "i",
                   "audience": "a", "login": "nobody"}, "secret": "k"}),
            "public_key",
        ),
    ];
    for (body, names) in refused {
        let response = post(body.clone()).await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
        let error: Value = response.json().await.unwrap();
        assert!(
            error["error"].as_str().unwrap().contains(names),
            "{body}: {error} should name {names}"
        );
    }
    let listed = server.api.security_defs().await.unwrap();
    assert!(listed.is_empty(), "nothing stored: {listed:?}");

    // A taken name; a rename; a change of type without a new secret.
    let ok =
        json!({"name": "a", "settings": {"type": "basic-auth", "username": "u"}, "secret": "p"});
    assert_eq!(
        post(ok.clone()).await.unwrap().status(),
        StatusCode::CREATED
    );
    assert_eq!(post(ok).await.unwrap().status(), StatusCode::CONFLICT);
    let put = |body: Value| {
        server
            .admin(Method::PUT, "/zato/api/security/a")
            .json(&body)
            .send()
    };
    let renamed = put(json!({"name": "b", "settings": {"type": "basic-auth", "username": "u"}}));
    assert_eq!(renamed.await.unwrap().status(), StatusCode::BAD_REQUEST);
    let retyped = put(json!({"name": "a", "settings": {"type": "apikey"}}))
        .await
        .unwrap();
    assert_eq!(retyped.status(), StatusCode::BAD_REQUEST);
    let error: Value = retyped.json().await.unwrap();
    assert!(
        error["error"]
            .as_str()
            .unwrap()
            .contains("new password or key"),
        "{error}"
    );
    let retyped =
        put(json!({"name": "a", "settings": {"type": "apikey"}, "secret": "0123456789abcdef"}))
            .await
            .unwrap();
    assert_eq!(retyped.status(), StatusCode::OK);
    let got = server
        .admin(Method::GET, "/zato/api/security/a")
        .send()
        .await
        .unwrap();
    assert_eq!(got.status(), StatusCode::OK);
    let got: Value = got.json().await.unwrap();
    assert_eq!(got["type"], "apikey");
    assert_no_secret(&got, &["0123456789abcdef"]);
    let missing = server
        .admin(Method::GET, "/zato/api/security/nobody")
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    server.stop().await;
}
