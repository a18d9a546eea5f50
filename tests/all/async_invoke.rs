//! Asynchronous invokes, end to end: a service's `invoke-async` (the guest `test.async`)
//! and the admin API's / CLI's `--async` queue calls that some server's worker runs, its
//! callback told of the outcome through an HTTP sink started here; and a cluster of
//! server processes sharing Redis where a server is killed with SIGKILL while it runs
//! calls, each of which then runs to completion on another server.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use reqwest::StatusCode;
use serde_json::{Value, json};
use zato_api::outconn::{HttpAuth, HttpSettings, Outconn, OutconnSettings};
use zato_api::{AdminClient, AsyncOutcome, AsyncState, ClientError, DataFormat};
use zato_test_artifacts as wasm;

use crate::cli::{
    Running, password_of, quickstart_cluster, signal, start, text, wait_for_ping, zato,
};
use crate::harness::{PASSWORD, TestServer, USER, eventually, http_client};

/// What the sink received: one outcome per callback, with the query of its request.
type Sunk = Arc<Mutex<Vec<(String, Value)>>>;

/// An HTTP server on 127.0.0.1:0 that keeps every JSON body posted to it.
async fn sink() -> (SocketAddr, Sunk) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let sunk: Sunk = Arc::default();
    let kept = sunk.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let kept = kept.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let kept = kept.clone();
                    async move {
                        let query = req.uri().query().unwrap_or_default().to_owned();
                        let body = req.into_body().collect().await.unwrap().to_bytes();
                        let value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                        kept.lock().unwrap().push((query, value));
                        Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(
                            Bytes::new(),
                        )))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (addr, sunk)
}

/// The outgoing HTTP connection `async-sink` the callback posts through.
fn sink_connection(addr: SocketAddr) -> Outconn {
    Outconn {
        name: "async-sink".into(),
        active: true,
        settings: OutconnSettings::Http(HttpSettings {
            address: format!("http://{addr}"),
            timeout_ms: 0,
            pool_size: 0,
            tls_verify: true,
            ca_pem: None,
            auth: HttpAuth::None,
            headers: Vec::new(),
            retries: 0,
            ping_method: "HEAD".into(),
        }),
        secret: None,
    }
}

/// Waits until the call `cid` has ended; returns its outcome.
async fn ended(api: &AdminClient, cid: &str, limit: Duration) -> AsyncOutcome {
    eventually(
        limit,
        &format!("the asynchronous call {cid} to end"),
        || async {
            api.async_outcome(cid)
                .await
                .ok()
                .filter(|o| o.state.is_final())
        },
    )
    .await
}

/// The outcome the sink received for `cid`, with its request's query.
async fn callback_of(sunk: &Sunk, cid: &str) -> (String, Value) {
    eventually(
        Duration::from_secs(20),
        &format!("the callback of {cid}"),
        || async {
            sunk.lock()
                .unwrap()
                .iter()
                .find(|(_, outcome)| outcome["cid"] == cid)
                .cloned()
        },
    )
    .await
}

/// `test.async` queues through `invoke-async`: `{"cid"}` or `{"error", "message"}`.
async fn queue_from_service(server: &TestServer, mut call: Value) -> Value {
    call["op"] = "queue".into();
    let (status, answer) = server.invoke("test.async", &call.to_string()).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer
}

#[tokio::test(flavor = "multi_thread")]
async fn a_service_s_async_invoke_runs_elsewhere_and_its_callback_gets_the_outcome() {
    let (addr, sunk) = sink().await;
    let server = TestServer::start().await;
    server.deploy(wasm::ASYNC_INVOKE).await;
    server.deploy(wasm::TRAP).await;
    server
        .api
        .create_outconn(&sink_connection(addr))
        .await
        .unwrap();

    let queued = queue_from_service(
        &server,
        json!({"service": "test.async", "payload": {"op": "sleep", "ms": 10},
            "callback": "test.async"}),
    )
    .await;
    let cid = queued["cid"].as_str().expect("a cid").to_owned();
    assert_eq!(cid.len(), 32, "{queued}");
    let outcome = ended(&server.api, &cid, Duration::from_secs(20)).await;
    assert_eq!(outcome.state, AsyncState::Done, "{outcome:?}");
    assert_eq!(
        (
            outcome.service.as_str(),
            outcome.caller.as_deref(),
            outcome.callback.as_deref()
        ),
        ("test.async", Some("test.async"), Some("test.async"))
    );
    assert_eq!(
        (
            outcome.server.as_deref(),
            outcome.deliveries,
            outcome.status
        ),
        (Some("test"), 1, Some(200))
    );
    let (query, told) = callback_of(&sunk, &cid).await;
    assert_eq!(
        query, "delivery=1&channel=test.async",
        "the callback's own request"
    );
    assert_eq!(
        (&told["service"], &told["ok"], &told["status"]),
        (&json!("test.async"), &json!(true), &json!(200)),
        "{told}"
    );
    let answered: Value = serde_json::from_str(told["payload"].as_str().expect("text")).unwrap();
    assert_eq!(
        answered,
        json!({"cid": cid, "channel": "test.async", "async": "true", "delivery": "1"}),
        "what the service called asynchronously read of its request"
    );

    // A call that traps fails, and the callback is told why.
    let queued = queue_from_service(
        &server,
        json!({"service": "test.trap", "payload": {}, "callback": "test.async"}),
    )
    .await;
    let cid = queued["cid"].as_str().expect("a cid").to_owned();
    let outcome = ended(&server.api, &cid, Duration::from_secs(20)).await;
    assert_eq!(
        (outcome.state, outcome.status),
        (AsyncState::Failed, Some(500)),
        "{outcome:?}"
    );
    let (_, told) = callback_of(&sunk, &cid).await;
    assert_eq!((&told["ok"], &told["status"]), (&json!(false), &json!(500)));
    assert!(
        told["error"].as_str().unwrap().contains("test.trap"),
        "{told}"
    );
    assert_eq!(told.get("payload"), None);

    // What cannot be queued is refused at once, by kind.
    for (call, kind) in [
        (json!({"service": "no.such", "payload": {}}), "not-found"),
        (
            json!({"service": "test.async", "payload": {}, "callback": "no.such"}),
            "not-found",
        ),
        (json!({"service": "bad name", "payload": {}}), "bad-request"),
    ] {
        let answer = queue_from_service(&server, call.clone()).await;
        assert_eq!(answer["error"], kind, "{call}: {answer}");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_admin_api_and_the_cli_queue_a_call_and_say_where_it_stands() {
    let server = TestServer::start().await;
    server.deploy(wasm::HELLO).await;

    let queued = server
        .api
        .invoke_async("demo.hello", r#"{"name": "Ada"}"#, DataFormat::Json, None)
        .await
        .unwrap();
    let outcome = ended(&server.api, &queued.cid, Duration::from_secs(20)).await;
    assert_eq!(
        (outcome.state, outcome.caller, outcome.deliveries),
        (AsyncState::Done, None, 1)
    );

    // The CLI prints the cid, or one JSON document with --json.
    let target = [
        "--url",
        &server.base,
        "--user",
        USER,
        "--password",
        PASSWORD,
    ];
    let mut args = vec!["service", "invoke", "demo.hello", "--async", "-d", "{}"];
    args.extend(target);
    let out = zato(&args).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let cid = text(&out.stdout).trim().to_owned();
    assert_eq!(cid.len(), 32, "{cid}");
    assert_eq!(
        ended(&server.api, &cid, Duration::from_secs(20))
            .await
            .state,
        AsyncState::Done
    );
    args.push("--json");
    let out = zato(&args).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    let cid = printed["cid"].as_str().expect("{printed}");
    ended(&server.api, cid, Duration::from_secs(20)).await;

    // Refusals.
    fn refused<T: std::fmt::Debug>(result: Result<T, ClientError>) -> (u16, String) {
        match result {
            Err(ClientError::Server {
                status, message, ..
            }) => (status.as_u16(), message),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }
    let (status, message) = refused(
        server
            .api
            .invoke_async("no.such", "{}", DataFormat::Json, None)
            .await,
    );
    assert_eq!(status, 404, "{message}");
    assert!(message.contains("`no.such`"), "{message}");
    let (status, _) = refused(
        server
            .api
            .invoke_async("demo.hello", "{}", DataFormat::Json, Some("no.such"))
            .await,
    );
    assert_eq!(status, 404);
    let (status, message) = refused(
        server
            .api
            .invoke_async(
                "demo.hello",
                vec![b' '; 16 * 1024 * 1024 + 1],
                DataFormat::Raw,
                None,
            )
            .await,
    );
    assert_eq!(status, 413, "{message}");
    let (status, _) = refused(server.api.async_outcome("0123456789abcdef").await);
    assert_eq!(status, 404);
    for (query, why) in [
        (
            "async=true&timeout_ms=5",
            "timeout_ms applies to a synchronous invoke only",
        ),
        (
            "callback=demo.hello",
            "a callback applies to an asynchronous invoke only",
        ),
    ] {
        let response = server
            .admin(
                reqwest::Method::POST,
                &format!("/zato/api/services/demo.hello/invoke?{query}"),
            )
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{query}");
        let body = response.text().await.unwrap();
        assert!(body.contains(why), "{query}: {body}");
    }
    server.stop().await;
}

/// Adds `[async_invoke]` settings to a server's configuration file.
fn async_settings(server_toml: &Path, visibility_ms: i64, workers: i64) {
    let mut config: toml::Table = std::fs::read_to_string(server_toml)
        .unwrap()
        .parse()
        .unwrap();
    let mut settings = toml::Table::new();
    settings.insert("visibility_ms".into(), visibility_ms.into());
    settings.insert("workers".into(), workers.into());
    config.insert("async_invoke".into(), toml::Value::Table(settings));
    std::fs::write(server_toml, toml::to_string(&config).unwrap()).unwrap();
}

/// How long each call of the cluster test runs.
const SLEEP_MS: u64 = 5_000;
/// The servers' visibility timeout in that test.
const VISIBILITY_MS: i64 = 2_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_server_s_calls_run_to_completion_elsewhere() {
    const CALLS: usize = 12;
    let dir = tempfile::tempdir().unwrap();
    let db = crate::harness::TestDb::new(crate::harness::Backend::Postgres, dir.path()).await;
    let env = dir.path().join("env");
    let env_arg = env.to_str().unwrap();
    quickstart_cluster(env_arg, &["--odb", &db.url]).await;
    let mut servers: BTreeMap<String, Running> = BTreeMap::new();
    let mut apis = BTreeMap::new();
    let password = password_of(&env);
    for i in 1..=3 {
        let name = format!("server{i}");
        let server_dir = env.join(&name);
        // Each server runs a few calls at once, so the calls spread over the three.
        async_settings(&server_dir.join("server.toml"), VISIBILITY_MS, 4);
        servers.insert(
            name.clone(),
            start(&server_dir, &dir.path().join(format!("{name}.log"))).await,
        );
    }
    for name in servers.keys() {
        let base = wait_for_ping(&env.join(name)).await;
        apis.insert(
            name.clone(),
            AdminClient::with_client(http_client(), &base, "admin", &password),
        );
    }
    let deployed = zato(&["deploy", wasm::ASYNC_INVOKE, "--env", env_arg]).await;
    assert!(deployed.status.success(), "{}", text(&deployed.stderr));
    let api = apis.values().next().unwrap();
    for api in apis.values() {
        eventually(Duration::from_secs(30), "test.async everywhere", || async {
            api.services()
                .await
                .ok()
                .filter(|s| s.iter().any(|s| s.name == "test.async"))
                .map(|_| ())
        })
        .await;
    }

    // The acceptance interface: `zato service invoke NAME --async --env DIR` prints the cid.
    let payload = json!({"op": "sleep", "ms": SLEEP_MS}).to_string();
    let mut cids = Vec::new();
    for _ in 0..CALLS {
        let out = zato(&[
            "service",
            "invoke",
            "test.async",
            "--async",
            "-d",
            &payload,
            "--env",
            env_arg,
        ])
        .await;
        assert!(out.status.success(), "{}", text(&out.stderr));
        cids.push(text(&out.stdout).trim().to_owned());
    }

    // The server running the most calls is killed while they run.
    let running = eventually(Duration::from_secs(20), "every call taken", || async {
        let mut on: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for cid in &cids {
            let outcome = api.async_outcome(cid).await.ok()?;
            match outcome.state {
                AsyncState::Pending => return None,
                AsyncState::Running => on.entry(outcome.server?).or_default().push(cid.clone()),
                AsyncState::Done | AsyncState::Failed => {}
            }
        }
        (!on.is_empty()).then_some(on)
    })
    .await;
    let (victim, in_flight) = running
        .iter()
        .max_by_key(|(_, cids)| cids.len())
        .map(|(name, cids)| (name.clone(), cids.clone()))
        .unwrap();
    let pid = servers[&victim].0.id().unwrap().to_string();
    signal(&pid, "KILL").await;
    let killed_at = Instant::now();
    let _ = servers.get_mut(&victim).unwrap().0.wait().await;
    apis.remove(&victim);
    let api = apis.values().next().unwrap();

    let mut outcomes = BTreeMap::new();
    for cid in &cids {
        let outcome = ended(api, cid, Duration::from_secs(60)).await;
        assert_eq!(outcome.state, AsyncState::Done, "{outcome:?}");
        outcomes.insert(cid.clone(), outcome);
    }
    let took_over = killed_at.elapsed();
    for cid in &in_flight {
        let outcome = &outcomes[cid];
        assert!(
            outcome.deliveries >= 2 && outcome.server.as_deref() != Some(victim.as_str()),
            "a call in flight on the killed {victim} ended there: {outcome:?}"
        );
    }
    let redelivered = outcomes.values().filter(|o| o.deliveries > 1).count();
    println!(
        "{CALLS} calls of {SLEEP_MS} ms on 3 servers; {victim} killed with {} in flight; \
         all done {took_over:?} after the kill; {redelivered} delivered more than once \
         (visibility {VISIBILITY_MS} ms)",
        in_flight.len()
    );
    assert_eq!(
        redelivered,
        in_flight.len(),
        "only the killed server's calls ran twice"
    );

    for (_, server) in servers.iter_mut() {
        if let Some(pid) = server.0.id() {
            signal(&pid.to_string(), "TERM").await;
        }
    }
    for (_, mut server) in servers {
        let _ = tokio::time::timeout(Duration::from_secs(20), server.0.wait()).await;
    }
    db.drop_database().await;
}
