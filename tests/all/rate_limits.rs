//! Rate limits and IP allow lists: exact counts across three servers (the N+1th request
//! of a window gets 429 whichever server it reaches), allow lists of IPv4 and IPv6
//! networks, `X-Forwarded-For` believed from a trusted proxy only, the limits of a
//! security definition, a channel (HTTP and SOAP) and a service, and the definitions'
//! commands (a definition in use is not deleted).

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use zato_test_artifacts as wasm;

use crate::harness::{Backend, Cluster, TestServer, eventually, http_channel};

/// `zato rate-limit ARGS` against the server at `base`: (exit code, JSON).
async fn rate_limit(base: &str, args: &[&str]) -> (i32, Value) {
    let mut all = vec!["rate-limit"];
    all.extend_from_slice(args);
    all.extend([
        "--url",
        base,
        "--user",
        crate::harness::USER,
        "--password",
        crate::harness::PASSWORD,
    ]);
    crate::cli::zato_json(&all).await
}

/// POSTs to `url`, from `forwarded` when given (as a proxy would say): the status and
/// `Retry-After`.
async fn call(
    http: &reqwest::Client,
    url: &str,
    forwarded: Option<&str>,
) -> (StatusCode, Option<u64>) {
    let mut request = http.post(url).body("{}");
    if let Some(client) = forwarded {
        request = request.header("x-forwarded-for", client);
    }
    let response = request.send().await.unwrap();
    let retry = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().parse().unwrap());
    (response.status(), retry)
}

fn trust_loopback(config: &mut zato_host::config::ServerConfig) {
    config.http.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
}

/// The tests count per UTC day: when the day ends within a minute, waits until it has,
/// so that no window ends between a test's requests.
async fn a_day_that_lasts() {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let left = 86_400 - now % 86_400;
    if left < 60 {
        tokio::time::sleep(Duration::from_secs(left + 1)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exact_limit_holds_across_three_servers_whichever_one_a_request_reaches() {
    a_day_that_lasts().await;
    let cluster =
        Cluster::start_adjusted(3, Backend::Sqlite, crate::harness::REDIS, trust_loopback).await;
    let one = &cluster.servers[0];
    one.deploy(wasm::ECHO).await;
    one.api
        .create_http_channel(&http_channel("orders", "/orders", "test.echo"))
        .await
        .unwrap();
    // Five a day for each address; 192.0.2.0/24 none, to see a server hold the limit
    // without spending the count.
    let (code, created) = rate_limit(
        &one.base,
        &[
            "create",
            "--name",
            "partners",
            "--rule",
            "* = 5/d",
            "--rule",
            "192.0.2.0/24 = 0/d",
            "--exact",
        ],
    )
    .await;
    assert_eq!(code, 0, "{created}");
    assert_eq!(created["exact"], true);
    let (code, attached) = rate_limit(
        &one.base,
        &["attach", "partners", "--http-channel", "orders"],
    )
    .await;
    assert_eq!(code, 0, "{attached}");
    for server in &cluster.servers {
        let url = format!("{}/orders", server.base);
        eventually(
            Duration::from_secs(20),
            "every server holds the limit",
            || async {
                (call(&server.http, &url, Some("192.0.2.1")).await.0
                    == StatusCode::TOO_MANY_REQUESTS)
                    .then_some(())
            },
        )
        .await;
    }
    // 127.0.0.1, directly: five requests spread over the servers pass...
    for i in 0..5 {
        let server = &cluster.servers[i % 3];
        let (status, _) = call(&server.http, &format!("{}/orders", server.base), None).await;
        assert_eq!(
            status,
            StatusCode::OK,
            "request {} on {}",
            i + 1,
            server.base
        );
    }
    // ... and the sixth is refused on each of them, saying when to come back.
    for server in &cluster.servers {
        let (status, retry) = call(&server.http, &format!("{}/orders", server.base), None).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{}", server.base);
        let retry = retry.expect("Retry-After");
        assert!((1..=86_400).contains(&retry), "{retry}");
    }
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allow_lists_take_ipv4_and_ipv6_networks_and_forwarded_for_only_from_a_trusted_proxy() {
    a_day_that_lasts().await;
    let server = TestServer::start_with(trust_loopback).await;
    server.deploy(wasm::ECHO).await;
    server
        .api
        .create_http_channel(&http_channel("orders", "/orders", "test.echo"))
        .await
        .unwrap();
    let (code, created) = rate_limit(
        &server.base,
        &[
            "create",
            "--name",
            "office",
            "--rule",
            "192.0.2.0/24 = unlimited",
            "--rule",
            "2001:db8::/32 = 2/d",
        ],
    )
    .await;
    assert_eq!(code, 0, "{created}");
    let (code, _) = rate_limit(
        &server.base,
        &["attach", "office", "--http-channel", "orders"],
    )
    .await;
    assert_eq!(code, 0);
    let orders = format!("{}/orders", server.base);
    let http = &server.http;
    for _ in 0..3 {
        assert_eq!(
            call(http, &orders, Some("192.0.2.7")).await.0,
            StatusCode::OK
        );
    }
    assert_eq!(
        call(http, &orders, Some("198.51.100.1")).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        call(http, &orders, Some("2001:db8::5")).await.0,
        StatusCode::OK
    );
    assert_eq!(
        call(http, &orders, Some("2001:db8:1::9")).await.0,
        StatusCode::OK
    );
    let (status, retry) = call(http, &orders, Some("2001:db8::5")).await;
    assert_eq!(status, StatusCode::OK, "each /64 has its own count");
    assert!(retry.is_none());
    let (status, retry) = call(http, &orders, Some("2001:db8::5")).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(retry.is_some());
    assert_eq!(
        call(http, &orders, Some("2001:db9::1")).await.0,
        StatusCode::FORBIDDEN
    );
    // The proxy's own address, with no header, is in no line.
    let response = http.post(&orders).body("{}").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("address 127.0.0.1 is not allowed to call HTTP channel `orders`"),
        "{body}"
    );

    // A server that trusts no proxy: what a client says it is counts for nothing.
    let untrusting = TestServer::start().await;
    untrusting.deploy(wasm::ECHO).await;
    untrusting
        .api
        .create_http_channel(&http_channel("orders", "/orders", "test.echo"))
        .await
        .unwrap();
    for args in [
        &[
            "create",
            "--name",
            "office",
            "--rule",
            "192.0.2.0/24 = unlimited",
        ][..],
        &["attach", "office", "--http-channel", "orders"][..],
    ] {
        let (code, answer) = rate_limit(&untrusting.base, args).await;
        assert_eq!(code, 0, "{answer}");
    }
    let spoofed = call(
        &untrusting.http,
        &format!("{}/orders", untrusting.base),
        Some("192.0.2.7"),
    )
    .await;
    assert_eq!(
        spoofed.0,
        StatusCode::FORBIDDEN,
        "X-Forwarded-For from an untrusted client"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_of_a_security_definition_a_soap_channel_and_a_service_apply_and_in_use_is_kept() {
    a_day_that_lasts().await;
    let server = TestServer::start().await;
    server.deploy(wasm::ECHO).await;
    server.deploy(wasm::SOAP_HELLO).await;
    server
        .api
        .create_http_channel(&http_channel("orders", "/orders", "test.echo"))
        .await
        .unwrap();
    let (code, created) = crate::security_api::security(
        &server.base,
        &[
            "create",
            "apikey",
            "--name",
            "crm",
            "--key",
            "k3y-0123456789abcdef",
        ],
    )
    .await;
    assert_eq!(code, 0, "{created}");
    let mut guarded = http_channel("guarded", "/guarded", "test.echo");
    guarded.security = Some("crm".into());
    server.api.create_http_channel(&guarded).await.unwrap();
    let (code, created) = crate::soap_channel::channel_cli(
        &server,
        &[
            "create",
            "soap",
            "--name",
            "hello-soap",
            "--path",
            "/soap/hello",
            "--service",
            "demo.soap-hello",
        ],
    )
    .await;
    assert_eq!(code, Some(0), "{created}");
    for args in [
        &["create", "--name", "once", "--rule", "* = 1/d"][..],
        &["create", "--name", "twice", "--rule", "* = 2/d"][..],
        &["attach", "twice", "--security", "crm"][..],
        &["attach", "once", "--soap-channel", "hello-soap"][..],
    ] {
        let (code, answer) = rate_limit(&server.base, args).await;
        assert_eq!(code, 0, "{args:?}: {answer}");
    }
    // The security definition's: its callers twice, right key or not (counted before
    // the key is checked: a guesser is limited too).
    let guarded = format!("{}/guarded", server.base);
    let with_key = |key: &'static str| {
        server
            .http
            .post(&guarded)
            .header("x-api-key", key)
            .body("{}")
            .send()
    };
    assert_eq!(
        with_key("k3y-0123456789abcdef").await.unwrap().status(),
        200
    );
    assert_eq!(
        with_key("wrong-key-0123456789").await.unwrap().status(),
        403
    );
    let third = with_key("k3y-0123456789abcdef").await.unwrap();
    assert_eq!(third.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(third.headers().contains_key("retry-after"));
    // The service's, through whichever channel: counted from when it is attached.
    let (code, _) = rate_limit(&server.base, &["attach", "once", "--service", "test.echo"]).await;
    assert_eq!(code, 0);
    let orders = format!("{}/orders", server.base);
    assert_eq!(call(&server.http, &orders, None).await.0, StatusCode::OK);
    assert_eq!(
        call(&server.http, &orders, None).await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
    // The SOAP channel's, as a Fault.
    let soap = || {
        server
            .http
            .post(format!("{}/soap/hello", server.base))
            .header("content-type", "text/xml; charset=utf-8")
            .header("soapaction", "\"\"")
            .body(r#"<?xml version="1.0"?><e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/"><e:Body><h:demo.soap-hello xmlns:h="urn:test"><h:name>Ada</h:name></h:demo.soap-hello></e:Body></e:Envelope>"#)
            .send()
    };
    assert_eq!(soap().await.unwrap().status(), 200);
    let refused = soap().await.unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.headers().contains_key("retry-after"));
    let body = refused.text().await.unwrap();
    assert!(
        body.contains("Fault") && body.contains("too many requests"),
        "{body}"
    );

    // In use: not deleted, and told by whom; listed with its uses.
    let (code, answer) = rate_limit(&server.base, &["delete", "once"]).await;
    assert_ne!(code, 0, "{answer}");
    let message = answer.to_string();
    assert!(
        message.contains("SOAP channel `hello-soap`") && message.contains("service `test.echo`"),
        "{answer}"
    );
    let (code, uses) = rate_limit(&server.base, &["uses"]).await;
    assert_eq!(code, 0);
    assert_eq!(uses.as_array().unwrap().len(), 3, "{uses}");
    // A wrong line is refused by the CLI, naming it; attaching what does not exist too.
    let (code, answer) = rate_limit(
        &server.base,
        &["create", "--name", "bad", "--rule", "* = 10/w"],
    )
    .await;
    assert_eq!(code, 2, "{answer}");
    assert!(answer.to_string().contains("10/w"), "{answer}");
    let (code, answer) = rate_limit(
        &server.base,
        &["attach", "nothing", "--http-channel", "orders"],
    )
    .await;
    assert_ne!(code, 0);
    assert!(answer.to_string().contains("`nothing`"), "{answer}");
    let (code, answer) = rate_limit(
        &server.base,
        &["attach", "once", "--http-channel", "no-such-channel"],
    )
    .await;
    assert_ne!(code, 0);
    assert!(answer.to_string().contains("no-such-channel"), "{answer}");
    // Detached, the service is open again; then the definition goes.
    for args in [
        &["detach", "--service", "test.echo"][..],
        &["detach", "--soap-channel", "hello-soap"][..],
        &["delete", "once"][..],
    ] {
        let (code, answer) = rate_limit(&server.base, args).await;
        assert_eq!(code, 0, "{args:?}: {answer}");
    }
    assert_eq!(call(&server.http, &orders, None).await.0, StatusCode::OK);
    // A channel's deletion takes its attachment with it.
    let (code, _) = rate_limit(
        &server.base,
        &["attach", "twice", "--http-channel", "orders"],
    )
    .await;
    assert_eq!(code, 0);
    server.api.delete_http_channel("orders").await.unwrap();
    let (_, uses) = rate_limit(&server.base, &["uses"]).await;
    assert!(!uses.to_string().contains("\"orders\""), "{uses}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwt_log_ins_are_counted_by_the_rate_limit_of_their_definition() {
    a_day_that_lasts().await;
    let server = TestServer::start().await;
    for args in [
        &[
            "create",
            "basic-auth",
            "--name",
            "partner",
            "--username",
            "acme",
            "--password",
            "correct horse",
        ][..],
        &[
            "create",
            "jwt",
            "--name",
            "partner-jwt",
            "--login",
            "partner",
            "--issuer",
            "zato",
            "--audience",
            "partners",
            "--key",
            "jwt-key-0123456789abcdef0123456789",
        ][..],
    ] {
        let (code, answer) = crate::security_api::security(&server.base, args).await;
        assert_eq!(code, 0, "{answer}");
    }
    for args in [
        &["create", "--name", "log-ins", "--rule", "* = 2/d"][..],
        &["attach", "log-ins", "--security", "partner-jwt"][..],
    ] {
        let (code, answer) = rate_limit(&server.base, args).await;
        assert_eq!(code, 0, "{answer}");
    }
    let log_in = |password: &'static str| {
        server
            .http
            .post(format!("{}/zato/jwt/log-in", server.base))
            .json(&serde_json::json!({"username": "acme", "password": password}))
            .send()
    };
    // A guess and the right password, then the window's count is spent: even the right
    // password waits, and the password is not checked.
    assert_eq!(
        log_in("a guess").await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        log_in("correct horse").await.unwrap().status(),
        StatusCode::OK
    );
    let refused = log_in("correct horse").await.unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.headers().contains_key("retry-after"));
}
