//! JWT security definitions: a token from `/zato/jwt/log-in` for a basic-auth
//! definition's username and password passes a channel guarded by the JWT definition
//! (HTTP and SOAP), and the service sees who logged in; an expired, a tampered, a
//! foreign and a revoked token are refused with 401 and a Bearer challenge; a log-out
//! on one server revokes the token on the other; RS256 and ES256 key pairs sign and
//! check, and a mismatched pair is refused when the definition is created.

use std::time::Duration;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::{Value, json};
use zato_test_artifacts as wasm;

use crate::cli::text;
use crate::harness::{Backend, Cluster, TestServer, echoed, eventually, http_channel};
use crate::security_api::security;

const ACME_PASSWORD: &str = "correct horse battery";
const HS256_KEY: &str = "an HS256 key of more than 32 bytes, for tests";

/// The basic-auth definition `partner` (acme) and the HS256 JWT definition
/// `partner-jwt` that logs it in, through the CLI; a channel `/orders` to test.echo
/// guarded by the JWT definition.
async fn definitions(base: &str) {
    let (code, answer) = security(
        base,
        &[
            "create",
            "basic-auth",
            "--name",
            "partner",
            "--username",
            "acme",
            "--password",
            ACME_PASSWORD,
        ],
    )
    .await;
    assert_eq!(code, 0, "{answer}");
    let (code, answer) = security(
        base,
        &[
            "create",
            "jwt",
            "--name",
            "partner-jwt",
            "--login",
            "partner",
            "--issuer",
            "zato-tests",
            "--audience",
            "partners",
            "--ttl",
            "600",
            "--key",
            HS256_KEY,
        ],
    )
    .await;
    assert_eq!(code, 0, "{answer}");
    assert_eq!(answer["type"], "jwt");
    assert!(!answer.to_string().contains(HS256_KEY), "{answer}");
}

/// Logs in on `base`: the status and the answer.
async fn log_in(http: &reqwest::Client, base: &str, body: Value) -> (StatusCode, Value) {
    let response = http
        .post(format!("{base}/zato/jwt/log-in"))
        .json(&body)
        .send()
        .await
        .unwrap();
    (response.status(), response.json().await.unwrap())
}

/// A token for acme from `base`.
async fn token(http: &reqwest::Client, base: &str) -> String {
    let (status, answer) = log_in(
        http,
        base,
        json!({"username": "acme", "password": ACME_PASSWORD, "definition": "partner-jwt"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["token_type"], "Bearer");
    assert_eq!(answer["definition"], "partner-jwt");
    answer["token"].as_str().unwrap().to_owned()
}

/// GET `path` with `token` as the Bearer; the response.
async fn call(http: &reqwest::Client, url: &str, token: Option<&str>) -> reqwest::Response {
    let mut request = http.get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

/// A 401 with the Bearer challenge: whether the challenge says the token is invalid.
async fn refused(response: reqwest::Response) -> bool {
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let challenge = response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        challenge.starts_with("Bearer realm=\"zato\""),
        "{challenge}"
    );
    challenge.contains("error=\"invalid_token\"")
}

/// A token signed with `key`, with these claims.
fn signed(claims: &Value, key: &str) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(key.as_bytes()),
    )
    .unwrap()
}

fn now_s() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_from_log_in_passes_and_expired_tampered_foreign_and_revoked_ones_do_not() {
    let server = TestServer::start().await;
    server.deploy(wasm::ECHO).await;
    definitions(&server.base).await;
    let mut channel = http_channel("orders", "/orders", "test.echo");
    channel.security = Some("partner-jwt".into());
    server.api.create_http_channel(&channel).await.unwrap();
    let url = format!("{}/orders", server.base);

    // Wrong credentials get no token, and are not told which part was wrong.
    for body in [
        json!({"username": "acme", "password": "wrong"}),
        json!({"username": "nobody", "password": ACME_PASSWORD}),
        json!({"username": "acme", "password": ACME_PASSWORD, "definition": "other"}),
    ] {
        let (status, answer) = log_in(&server.http, &server.base, body).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{answer}");
        assert_eq!(
            answer["error"],
            "the username and password are not accepted"
        );
    }
    let (status, answer) = log_in(&server.http, &server.base, json!({"user": "acme"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");

    // The right ones: the token passes, the service sees acme, not the token.
    let token = token(&server.http, &server.base).await;
    let ok = echoed(call(&server.http, &url, Some(&token)).await).await;
    assert_eq!(
        ok["caller"],
        json!({"definition": "partner-jwt", "kind": "jwt", "principal": "acme"})
    );
    assert!(ok["headers"].get("authorization").is_none(), "{ok}");

    // None, expired, tampered, foreign.
    assert!(!refused(call(&server.http, &url, None).await).await);
    let claims = |exp: u64, iss: &str| {
        json!({"sub": "acme", "iss": iss, "aud": "partners", "iat": now_s() - 700,
               "exp": exp, "jti": "0123456789abcdef", "zato_def": "partner-jwt"})
    };
    let expired = signed(&claims(now_s() - 60, "zato-tests"), HS256_KEY);
    assert!(refused(call(&server.http, &url, Some(&expired)).await).await);
    let foreign_issuer = signed(&claims(now_s() + 60, "someone-else"), HS256_KEY);
    assert!(refused(call(&server.http, &url, Some(&foreign_issuer)).await).await);
    let foreign_key = signed(&claims(now_s() + 60, "zato-tests"), &"x".repeat(40));
    assert!(refused(call(&server.http, &url, Some(&foreign_key)).await).await);
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    {
        use base64::Engine as _;
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let payload = String::from_utf8(engine.decode(&parts[1]).unwrap()).unwrap();
        assert!(payload.contains("\"sub\":\"acme\""), "{payload}");
        parts[1] = engine.encode(payload.replace("\"sub\":\"acme\"", "\"sub\":\"root\""));
    }
    assert!(refused(call(&server.http, &url, Some(&parts.join("."))).await).await);
    // The genuine token still passes.
    echoed(call(&server.http, &url, Some(&token)).await).await;

    // A SOAP channel guarded by the same definition: the token passes, none is a Fault.
    server.deploy(wasm::SOAP_HELLO).await;
    let soap = zato_api::soap::SoapChannel {
        name: "hello-soap".into(),
        path: "/soap/hello".into(),
        services: vec!["demo.soap-hello".into()],
        versions: Vec::new(),
        timeout_ms: 0,
        namespace: String::new(),
        security: Some("partner-jwt".into()),
    };
    server.api.create_soap_channel(&soap).await.unwrap();
    let envelope = r#"<?xml version="1.0"?><e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/"><e:Body><h:demo.soap-hello xmlns:h="urn:test"><h:name>Ada</h:name></h:demo.soap-hello></e:Body></e:Envelope>"#;
    for (bearer, status) in [
        (Some(&token), StatusCode::OK),
        (None, StatusCode::UNAUTHORIZED),
    ] {
        let mut request = server
            .http
            .post(format!("{}/soap/hello", server.base))
            .header("content-type", "text/xml; charset=utf-8")
            .header("soapaction", "\"\"")
            .body(envelope);
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), status);
        let body = response.text().await.unwrap();
        if status == StatusCode::OK {
            assert!(body.contains("<caller>acme</caller>"), "{body}");
        } else {
            assert!(body.contains("Fault"), "{body}");
        }
    }

    // Log-out revokes it, and again is no error; a log-out without a token is refused.
    for _ in 0..2 {
        let response = server
            .http
            .post(format!("{}/zato/jwt/log-out", server.base))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let answer: Value = response.json().await.unwrap();
        assert_eq!(answer["revoked"], true);
    }
    assert!(refused(call(&server.http, &url, Some(&token)).await).await);
    let response = server
        .http
        .post(format!("{}/zato/jwt/log-out", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    // A new log-in gets a new token that passes.
    let again = self::token(&server.http, &server.base).await;
    assert_ne!(again, token);
    echoed(call(&server.http, &url, Some(&again)).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_out_on_one_server_revokes_the_token_on_the_other() {
    let cluster = Cluster::start(2, Backend::Sqlite).await;
    let (one, two) = (&cluster.servers[0], &cluster.servers[1]);
    one.deploy(wasm::ECHO).await;
    definitions(&one.base).await;
    let mut channel = http_channel("orders", "/orders", "test.echo");
    channel.security = Some("partner-jwt".into());
    one.api.create_http_channel(&channel).await.unwrap();
    // Issued by one, accepted by the other (once it holds the channel and the service).
    let token = token(&one.http, &one.base).await;
    let on_two = format!("{}/orders", two.base);
    eventually(
        Duration::from_secs(20),
        "server2 admits the token server1 issued",
        || async {
            (call(&two.http, &on_two, Some(&token)).await.status() == StatusCode::OK).then_some(())
        },
    )
    .await;
    let response = one
        .http
        .post(format!("{}/zato/jwt/log-out", one.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    // Refused on server1 at once, and on server2 once the notice reaches it.
    assert!(refused(call(&one.http, &format!("{}/orders", one.base), Some(&token)).await).await);
    eventually(
        Duration::from_secs(10),
        "server2 refuses the revoked token",
        || async {
            (call(&two.http, &on_two, Some(&token)).await.status() == StatusCode::UNAUTHORIZED)
                .then_some(())
        },
    )
    .await;
    cluster.stop().await;
}

/// An RSA or EC key pair made with openssl: (private PEM, public PEM).
fn key_pair(dir: &std::path::Path, kind: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let private = dir.join(format!("{kind}.key"));
    let public = dir.join(format!("{kind}.pub"));
    let args: &[&str] = match kind {
        "rsa" => &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
        ],
        _ => &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ],
    };
    let made = std::process::Command::new("openssl")
        .args(args)
        .arg("-out")
        .arg(&private)
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", text(&made.stderr));
    let made = std::process::Command::new("openssl")
        .args(["pkey", "-pubout", "-in"])
        .arg(&private)
        .arg("-out")
        .arg(&public)
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", text(&made.stderr));
    (private, public)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rs256_and_es256_pairs_sign_and_check_and_a_mismatched_pair_is_refused() {
    let server = TestServer::start().await;
    server.deploy(wasm::ECHO).await;
    definitions(&server.base).await;
    let keys = tempfile::tempdir().unwrap();
    let (rsa, rsa_pub) = key_pair(keys.path(), "rsa");
    let (ec, ec_pub) = key_pair(keys.path(), "ec");
    for (name, algorithm, private, public) in [
        ("partner-rs", "RS256", &rsa, &rsa_pub),
        ("partner-es", "ES256", &ec, &ec_pub),
    ] {
        let (code, answer) = security(
            &server.base,
            &[
                "create",
                "jwt",
                "--name",
                name,
                "--algorithm",
                algorithm,
                "--login",
                "partner",
                "--issuer",
                "zato-tests",
                "--audience",
                "partners",
                "--key-file",
                private.to_str().unwrap(),
                "--public-key-file",
                public.to_str().unwrap(),
            ],
        )
        .await;
        assert_eq!(code, 0, "{answer}");
        assert!(!answer.to_string().contains("PRIVATE KEY"), "{answer}");
        let mut channel = http_channel(name, &format!("/{name}"), "test.echo");
        channel.security = Some(name.into());
        server.api.create_http_channel(&channel).await.unwrap();
        let (status, answer) = log_in(
            &server.http,
            &server.base,
            json!({"username": "acme", "password": ACME_PASSWORD, "definition": name}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        let token = answer["token"].as_str().unwrap();
        let header = token.split('.').next().unwrap();
        let header = {
            use base64::Engine as _;
            String::from_utf8(
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(header)
                    .unwrap(),
            )
            .unwrap()
        };
        assert!(header.contains(algorithm), "{header}");
        let url = format!("{}/{name}", server.base);
        let ok = echoed(call(&server.http, &url, Some(token)).await).await;
        assert_eq!(ok["caller"]["definition"], name);
        // With several definitions for acme, a log-in must name one.
        let (status, answer) = log_in(
            &server.http,
            &server.base,
            json!({"username": "acme", "password": ACME_PASSWORD}),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
        assert!(
            answer["error"].as_str().unwrap().contains("`definition`"),
            "{answer}"
        );
        // The HS256 definition's token does not pass the RS256/ES256 channel.
        let hs = self::token(&server.http, &server.base).await;
        assert!(refused(call(&server.http, &url, Some(&hs)).await).await);
    }
    // A private key with another key's public half: refused, naming the field.
    let (code, answer) = security(
        &server.base,
        &[
            "create",
            "jwt",
            "--name",
            "mismatched",
            "--algorithm",
            "ES256",
            "--login",
            "partner",
            "--issuer",
            "i",
            "--audience",
            "a",
            "--key-file",
            ec.to_str().unwrap(),
            "--public-key-file",
            key_pair(keys.path(), "ec2").1.to_str().unwrap(),
        ],
    )
    .await;
    assert_ne!(code, 0, "{answer}");
    assert!(answer.to_string().contains("public_key"), "{answer}");
    // A log-in definition that is not basic auth, and a short HS256 key.
    let (code, answer) = security(
        &server.base,
        &[
            "create",
            "jwt",
            "--name",
            "bad",
            "--login",
            "partner-jwt",
            "--issuer",
            "i",
            "--audience",
            "a",
            "--key",
            HS256_KEY,
        ],
    )
    .await;
    assert_ne!(code, 0, "{answer}");
    assert!(answer.to_string().contains("login"), "{answer}");
    let (code, answer) = security(
        &server.base,
        &[
            "create",
            "jwt",
            "--name",
            "bad",
            "--login",
            "partner",
            "--issuer",
            "i",
            "--audience",
            "a",
            "--key",
            "short",
        ],
    )
    .await;
    assert_ne!(code, 0, "{answer}");
    assert!(answer.to_string().contains("32"), "{answer}");
}
