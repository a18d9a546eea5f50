//! zato-lb in the spirit of HAProxy's reg-tests: scripted backends on port 0 and what
//! the load balancer does with them, then real servers (`zato start` processes) killed,
//! added and drained under load, and the load balancer itself restarted under load.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use reqwest::StatusCode;
use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use zato_api::lb::{BackendState, LbStats};
use zato_lb::{Lb, LbConfig};

use crate::cli::{
    Running, deploy_hello_at_slash_hello, fast_membership, password_of, quickstart_cluster, signal,
    start, text, wait_for_ping, zato,
};
use crate::harness::eventually;

/// How a scripted backend behaves.
#[derive(Clone, Copy, PartialEq)]
enum Script {
    /// Answers 200 with its name and what it saw.
    Answer,
    /// Reads the request, then closes the connection without a word.
    Vanish,
}

/// A scripted backend: its address, and the requests that reached it.
struct Scripted {
    address: String,
    seen: Arc<AtomicU64>,
}

async fn scripted(name: &'static str, script: Script) -> Scripted {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let seen = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&seen);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let counter = Arc::clone(&counter);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
                    let counter = Arc::clone(&counter);
                    async move {
                        // Health checks pass, and do not count as requests.
                        if req.uri().path() == "/zato/ping" {
                            return Ok(hyper::Response::new(Full::new(Bytes::from("{}"))));
                        }
                        counter.fetch_add(1, Ordering::SeqCst);
                        let (parts, body) = req.into_parts();
                        let body = body
                            .collect()
                            .await
                            .map(|b| b.to_bytes())
                            .unwrap_or_default();
                        if script == Script::Vanish {
                            return Err("vanish");
                        }
                        let headers: serde_json::Map<String, Value> = parts
                            .headers
                            .iter()
                            .map(|(k, v)| (k.to_string(), Value::from(v.to_str().unwrap_or(""))))
                            .collect();
                        let answer = serde_json::json!({
                            "backend": name,
                            "method": parts.method.as_str(),
                            "uri": parts.uri.to_string(),
                            "headers": headers,
                            "body_bytes": body.len(),
                        });
                        Ok::<_, &str>(hyper::Response::new(Full::new(Bytes::from(
                            answer.to_string(),
                        ))))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Scripted { address, seen }
}

/// An address where nothing listens (any more).
async fn dead_address() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().to_string()
}

/// A load balancer in front of `backends`, with quick health checks.
async fn lb_for(backends: &[&Scripted], adjust: impl FnOnce(&mut LbConfig)) -> Lb {
    let mut text = "bind = \"127.0.0.1:0\"\n[health]\ninterval_ms = 100\ntimeout_ms = 500\nrise = 1\nfall = 1\n".to_owned();
    for backend in backends {
        text.push_str(&format!(
            "[[backends]]\naddress = \"{}\"\n",
            backend.address
        ));
    }
    let mut config: LbConfig = toml::from_str(&text).unwrap();
    adjust(&mut config);
    let dir = tempfile::tempdir().unwrap();
    Lb::start(config, dir.path()).await.unwrap()
}

pub(crate) async fn stats(base: &str) -> LbStats {
    reqwest::get(format!("{base}/zato-lb-stats"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn backends_up(base: &str, n: usize) {
    eventually(
        Duration::from_secs(10),
        &format!("{n} backends up"),
        || async {
            // The load balancer may not listen yet.
            let stats: LbStats = reqwest::get(format!("{base}/zato-lb-stats"))
                .await
                .ok()?
                .json()
                .await
                .ok()?;
            (stats
                .backends
                .iter()
                .filter(|b| b.state == BackendState::Up)
                .count()
                == n)
                .then_some(())
        },
    )
    .await;
}

/// Sends raw bytes and reads the whole answer (the connection is closed after it).
async fn raw(base: &str, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(base.trim_start_matches("http://"))
        .await
        .unwrap();
    stream.write_all(request).await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer)).await;
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn requests_go_round_robin_with_forwarding_headers_and_skip_a_dead_backend() {
    let a = scripted("a", Script::Answer).await;
    let b = scripted("b", Script::Answer).await;
    let c = scripted("c", Script::Answer).await;
    let lb = lb_for(&[&a, &b, &c], |_| {}).await;
    let base = format!("http://{}", lb.addr());
    backends_up(&base, 3).await;
    let http = crate::harness::http_client();
    for _ in 0..30 {
        let response = http.get(format!("{base}/x?y=1")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
    let spread: Vec<u64> = [&a, &b, &c]
        .iter()
        .map(|s| s.seen.load(Ordering::SeqCst))
        .collect();
    assert_eq!(spread, [10, 10, 10]);

    let seen: Value = http
        .post(format!("{base}/echo?q=2"))
        .header("connection", "keep-alive, x-hop")
        .header("x-hop", "secret")
        .header("x-forwarded-for", "10.1.2.3")
        .body("hello")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(seen["uri"], "/echo?q=2");
    assert_eq!(seen["body_bytes"], 5);
    let headers = &seen["headers"];
    assert_eq!(headers["x-forwarded-for"], "10.1.2.3, 127.0.0.1", "{seen}");
    assert_eq!(headers["x-forwarded-proto"], "http");
    assert!(
        headers["forwarded"]
            .as_str()
            .unwrap()
            .starts_with("for=127.0.0.1;proto=http")
    );
    assert!(
        headers.get("x-hop").is_none(),
        "a header Connection names is hop-by-hop: {seen}"
    );
    // A large body of unknown length streams through whole.
    let chunks = futures::stream::iter(
        (0..48).map(|_| Ok::<_, std::io::Error>(Bytes::from(vec![b'z'; 64 * 1024]))),
    );
    let seen: Value = http
        .put(format!("{base}/upload"))
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(seen["body_bytes"], 48 * 64 * 1024, "{seen}");
    assert_eq!(seen["headers"]["transfer-encoding"], "chunked", "{seen}");

    // A backend that is gone: its requests go to the others at once, none fails.
    let dead_address = dead_address().await;
    let lb2 = lb_for(&[&a, &b], |config| {
        config.backends.push(zato_lb::config::StaticBackend {
            address: dead_address.clone(),
            weight: 1,
        });
    })
    .await;
    let base2 = format!("http://{}", lb2.addr());
    backends_up(&base2, 2).await;
    for _ in 0..20 {
        let response = http.get(format!("{base2}/x")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
    let stats = stats(&base2).await;
    let dead = stats
        .backends
        .iter()
        .find(|b| b.address == dead_address)
        .unwrap();
    assert_eq!(dead.state, BackendState::Down);
    assert!(!dead.last_check.as_ref().unwrap().ok);
    lb.stop().await;
    lb2.stop().await;
}

#[tokio::test]
async fn a_post_is_never_replayed_and_a_get_is_retried_elsewhere() {
    let vanishing = scripted("vanishing", Script::Vanish).await;
    let good = scripted("good", Script::Answer).await;
    let lb = lb_for(&[&vanishing, &good], |_| {}).await;
    let base = format!("http://{}", lb.addr());
    backends_up(&base, 2).await;
    let http = crate::harness::http_client();
    let mut posts_failed = 0;
    for _ in 0..4 {
        let response = http
            .post(format!("{base}/order"))
            .body("{\"n\":1}")
            .send()
            .await
            .unwrap();
        if response.status() == StatusCode::BAD_GATEWAY {
            posts_failed += 1;
            let cid = response.headers()["x-zato-cid"]
                .to_str()
                .unwrap()
                .to_owned();
            assert_eq!(
                response.headers()["x-zato-lb-backend"],
                vanishing.address.as_str()
            );
            let body: Value = response.json().await.unwrap();
            let error = body["error"].as_str().unwrap();
            assert!(
                error.contains(&vanishing.address) && error.contains("not sent again"),
                "{body}"
            );
            assert_eq!(body["cid"], cid);
        } else {
            assert_eq!(response.status(), StatusCode::OK);
        }
        // The vanishing backend is taken out at once: put it back for the next try.
        eventually(
            Duration::from_secs(5),
            "the vanishing backend back up",
            || async {
                let stats = stats(&base).await;
                stats
                    .backends
                    .iter()
                    .all(|b| b.state == BackendState::Up)
                    .then_some(())
            },
        )
        .await;
    }
    assert!(
        posts_failed >= 1,
        "round-robin sent a POST to the vanishing backend"
    );
    assert_eq!(
        vanishing.seen.load(Ordering::SeqCst) + good.seen.load(Ordering::SeqCst),
        4,
        "each POST reached one backend once"
    );
    // A GET that gets no answer goes to the other backend.
    for _ in 0..4 {
        let response = http.get(format!("{base}/read")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["backend"], "good");
        eventually(Duration::from_secs(5), "both backends up", || async {
            let stats = stats(&base).await;
            stats
                .backends
                .iter()
                .all(|b| b.state == BackendState::Up)
                .then_some(())
        })
        .await;
    }
    let stats = stats(&base).await;
    let retried: u64 = stats.backends.iter().map(|b| b.retries).sum();
    assert!(retried >= 1, "{stats:?}");
    lb.stop().await;
}

#[tokio::test]
async fn with_no_backend_up_the_answer_is_a_quick_503() {
    let address = dead_address().await;
    let lb = lb_for(&[], |config| {
        config
            .backends
            .push(zato_lb::config::StaticBackend { address, weight: 1 });
    })
    .await;
    let base = format!("http://{}", lb.addr());
    let started = Instant::now();
    let response = reqwest::get(format!("{base}/x")).await.unwrap();
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()["retry-after"], "1");
    let body: Value = response.json().await.unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("no backend is up"),
        "{body}"
    );
    let alive = reqwest::get(format!("{base}/zato-lb-alive")).await.unwrap();
    assert_eq!(alive.status(), StatusCode::OK);
    lb.stop().await;
}

#[tokio::test]
async fn slow_oversized_and_lying_requests_get_their_status_while_others_are_served() {
    let a = scripted("a", Script::Answer).await;
    let lb = lb_for(&[&a], |config| {
        config.limits.header_read_timeout_ms = 300;
        config.limits.body_read_timeout_ms = 300;
        config.limits.max_header_bytes = 8192;
        config.limits.max_headers = 100;
        config.limits.max_body_bytes = 1000;
    })
    .await;
    let base = format!("http://{}", lb.addr());
    backends_up(&base, 1).await;
    let host = base.trim_start_matches("http://").to_owned();

    // Slowloris: half a request head, then nothing.
    let mut slow = Vec::new();
    for _ in 0..20 {
        let mut stream = TcpStream::connect(&host).await.unwrap();
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            .await
            .unwrap();
        slow.push(stream);
    }
    // Others are served meanwhile.
    let http = crate::harness::http_client();
    for _ in 0..10 {
        assert_eq!(
            http.get(format!("{base}/ok"))
                .send()
                .await
                .unwrap()
                .status(),
            StatusCode::OK
        );
    }
    for mut stream in slow {
        let mut answer = Vec::new();
        tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer))
            .await
            .expect("a slow client is closed")
            .unwrap();
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with("HTTP/1.1 408 "), "{answer}");
    }

    let big_header = format!(
        "GET / HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(20_000)
    );
    assert!(
        raw(&base, big_header.as_bytes())
            .await
            .starts_with("HTTP/1.1 431 ")
    );
    let mut many = "GET / HTTP/1.1\r\nHost: x\r\n".to_owned();
    for i in 0..150 {
        many.push_str(&format!("X-H{i}: 1\r\n"));
    }
    many.push_str("\r\n");
    assert!(
        raw(&base, many.as_bytes())
            .await
            .starts_with("HTTP/1.1 431 ")
    );

    let declared = raw(
        &base,
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n",
    )
    .await;
    assert!(declared.starts_with("HTTP/1.1 413 "), "{declared}");
    let chunk = "a".repeat(600);
    let chunked = format!(
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n258\r\n{chunk}\r\n258\r\n{chunk}\r\n0\r\n\r\n"
    );
    let answer = raw(&base, chunked.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 413 "), "chunked: {answer}");
    let lying = raw(
        &base,
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
    )
    .await;
    assert!(lying.starts_with("HTTP/1.1 400 "), "{lying}");
    let stalled = raw(
        &base,
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789",
    )
    .await;
    assert!(stalled.starts_with("HTTP/1.1 408 "), "{stalled}");
    let stalled_chunk = raw(
        &base,
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n100\r\n0123456789",
    )
    .await;
    assert!(
        stalled_chunk.starts_with("HTTP/1.1 408 "),
        "{stalled_chunk}"
    );
    assert_eq!(
        http.get(format!("{base}/ok"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    lb.stop().await;
}

/// Continuous GETs through the load balancer from a few clients, counting what failed.
pub(crate) struct Load {
    sent: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
    failures: Arc<std::sync::Mutex<Vec<String>>>,
    /// Each phase: its name, requests sent and failed.
    phases: std::sync::Mutex<Vec<(String, u64, u64)>>,
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    pub(crate) fn start(url: String, clients: usize) -> Self {
        let sent = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(AtomicU64::new(0));
        let failures = Arc::new(std::sync::Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let tasks = (0..clients)
            .map(|_| {
                let (url, sent, failed, failures, stop) = (
                    url.clone(),
                    Arc::clone(&sent),
                    Arc::clone(&failed),
                    Arc::clone(&failures),
                    Arc::clone(&stop),
                );
                tokio::spawn(async move {
                    let http = crate::harness::http_client();
                    while !stop.load(Ordering::Relaxed) {
                        sent.fetch_add(1, Ordering::Relaxed);
                        let outcome = match http.get(&url).send().await {
                            Ok(r) if r.status().is_success() => None,
                            Ok(r) => Some(format!(
                                "{}: {}",
                                r.status(),
                                r.text().await.unwrap_or_default()
                            )),
                            Err(e) => Some(format!("{e:?}")),
                        };
                        if let Some(outcome) = outcome {
                            failed.fetch_add(1, Ordering::Relaxed);
                            failures.lock().unwrap().push(outcome);
                        }
                    }
                })
            })
            .collect();
        Self {
            sent,
            failed,
            failures,
            phases: std::sync::Mutex::default(),
            stop,
            tasks,
        }
    }

    /// Ends a phase: prints the requests sent and failed since the last one.
    pub(crate) fn phase(&self, name: &str) {
        let sent = self.sent.swap(0, Ordering::Relaxed);
        let failed = self.failed.swap(0, Ordering::Relaxed);
        println!("{name}: {sent} requests sent, {failed} failed");
        self.phases
            .lock()
            .unwrap()
            .push((name.to_owned(), sent, failed));
    }

    /// Stops the clients and asserts that every phase sent requests and none failed.
    pub(crate) async fn stop_with_no_failure(self) {
        self.stop.store(true, Ordering::Relaxed);
        for task in self.tasks {
            task.await.unwrap();
        }
        let failures = self.failures.lock().unwrap().clone();
        assert!(
            failures.is_empty(),
            "{} failed: {:?}",
            failures.len(),
            &failures[..failures.len().min(5)]
        );
        for (name, sent, failed) in self.phases.lock().unwrap().iter() {
            assert!(
                *sent > 0 && *failed == 0,
                "{name}: {sent} sent, {failed} failed"
            );
        }
    }
}

/// Waits until the load has sent `n` more requests.
pub(crate) async fn load_for(load: &Load, n: u64) {
    let from = load.sent.load(Ordering::Relaxed);
    eventually(
        Duration::from_secs(60),
        &format!("{n} requests of load"),
        || async { (load.sent.load(Ordering::Relaxed) >= from + n).then_some(()) },
    )
    .await;
}

fn lb_config_for_env(env: &Path, port: u16) -> LbConfig {
    toml::from_str(&format!(
        "bind = \"127.0.0.1:{port}\"\n\
         [cluster]\ncredentials = \"{}\"\naddress_files = [\"{}\", \"{}\", \"{}\"]\npoll_ms = 200\n\
         [health]\ninterval_ms = 200\ntimeout_ms = 500\n",
        env.join("credentials.toml").display(),
        env.join("server1/address").display(),
        env.join("server2/address").display(),
        env.join("server3/address").display(),
    ))
    .unwrap()
}

pub(crate) async fn up_by_name(base: &str, names: &[&str]) {
    eventually(
        Duration::from_secs(30),
        &format!("{names:?} up behind the load balancer"),
        || async {
            let stats = stats(base).await;
            let up: Vec<&str> = stats
                .backends
                .iter()
                .filter(|b| b.state == BackendState::Up)
                .filter_map(|b| b.name.as_deref())
                .collect();
            names.iter().all(|n| up.contains(n)).then_some(())
        },
    )
    .await;
}

pub(crate) fn requests_of(stats: &LbStats, name: &str) -> u64 {
    stats
        .backends
        .iter()
        .filter(|b| b.name.as_deref() == Some(name))
        .map(|b| b.requests)
        .sum()
}

/// Three `zato start` servers of one cluster behind the load balancer, under
/// continuous GETs: a server joining, one drained, one killed with SIGKILL, one stopped
/// cleanly and the load balancer restarted each cost no failed request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_join_drain_and_die_and_the_lb_restarts_under_load_with_no_failed_request() {
    // A listener that closes hands its queued connections to the one that replaces it
    // (Linux 5.14+; the README says so too). Tests run as root on CI.
    let _ = std::fs::write("/proc/sys/net/ipv4/tcp_migrate_req", "1");
    let dir = tempfile::tempdir().unwrap();
    let env = dir.path().join("env");
    let env_arg = env.to_str().unwrap();
    quickstart_cluster(env_arg, &[]).await;
    let mut servers: Vec<Option<Running>> = Vec::new();
    for i in 1..=3u16 {
        fast_membership(&env.join(format!("server{i}/server.toml")));
    }
    for i in 1..=2u16 {
        let server_dir = env.join(format!("server{i}"));
        servers.push(Some(
            start(&server_dir, &dir.path().join(format!("server{i}.log"))).await,
        ));
        wait_for_ping(&server_dir).await;
    }
    deploy_hello_at_slash_hello(env_arg).await;

    let lb = Lb::start(lb_config_for_env(&env, 0), &env).await.unwrap();
    let port = lb.addr().port();
    let base = format!("http://{}", lb.addr());
    up_by_name(&base, &["server1", "server2"]).await;
    let load = Load::start(format!("{base}/hello?name=load"), 4);
    load_for(&load, 200).await;
    load.phase("two servers");

    // A server joins: it gets requests once its checks pass.
    let server3 = env.join("server3");
    servers.push(Some(start(&server3, &dir.path().join("server3.log")).await));
    up_by_name(&base, &["server1", "server2", "server3"]).await;
    let before = requests_of(&stats(&base).await, "server3");
    load_for(&load, 300).await;
    assert!(
        requests_of(&stats(&base).await, "server3") > before,
        "server3 takes requests"
    );
    load.phase("server3 joins");

    // Drained: no new requests, the others take them.
    let drained = crate::harness::http_client()
        .post(format!("{base}/zato-lb-drain"))
        .basic_auth("admin", Some(password_of(&env)))
        .json(&serde_json::json!({"backend": "server1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        drained.status(),
        StatusCode::OK,
        "{}",
        drained.text().await.unwrap()
    );
    eventually(
        Duration::from_secs(5),
        "server1's requests in flight done",
        || async {
            let stats = stats(&base).await;
            let server1 = stats
                .backends
                .iter()
                .find(|b| b.name.as_deref() == Some("server1"))?;
            (server1.in_flight == 0).then_some(())
        },
    )
    .await;
    let during = requests_of(&stats(&base).await, "server1");
    load_for(&load, 300).await;
    assert_eq!(
        requests_of(&stats(&base).await, "server1"),
        during,
        "a drained server gets nothing new"
    );
    load.phase("server1 drained");

    // SIGKILL of server2 under load.
    let victim = servers[1].take().unwrap();
    signal(&victim.0.id().unwrap().to_string(), "KILL").await;
    drop(victim);
    eventually(
        Duration::from_secs(10),
        "server2 out of rotation",
        || async {
            let stats = stats(&base).await;
            stats
                .backends
                .iter()
                .find(|b| b.name.as_deref() == Some("server2"))
                .is_none_or(|b| b.state != BackendState::Up)
                .then_some(())
        },
    )
    .await;
    load_for(&load, 300).await;
    load.phase("server2 killed");

    // server1 back, then server3 stopped cleanly (SIGTERM): it finishes what it has,
    // leaves the cluster, and the load balancer stops sending to it.
    let undrain = crate::harness::http_client()
        .post(format!("{base}/zato-lb-drain"))
        .basic_auth("admin", Some(password_of(&env)))
        .json(&serde_json::json!({"backend": "server1", "drain": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(undrain.status(), StatusCode::OK);
    up_by_name(&base, &["server1"]).await;
    let stopping = servers[2].take().unwrap();
    signal(&stopping.0.id().unwrap().to_string(), "TERM").await;
    let mut stopping = stopping;
    let stopped = tokio::time::timeout(Duration::from_secs(30), stopping.0.wait())
        .await
        .expect("server3 stops")
        .unwrap();
    assert!(stopped.success(), "{stopped:?}");
    load_for(&load, 300).await;
    load.phase("server3 stopped cleanly");

    // The load balancer restarted in place: the new one listens beside the old, which
    // then stops and lets its connections finish.
    let refused = Lb::start(lb_config_for_env(&env, port), &env).await;
    let refusal = refused
        .err()
        .expect("a second load balancer on the address is refused")
        .to_string();
    assert!(refusal.contains("--replace"), "{refusal}");
    let new_lb = Lb::replace(lb_config_for_env(&env, port), &env)
        .await
        .unwrap();
    assert_eq!(new_lb.addr().port(), port);
    load_for(&load, 100).await;
    lb.stop().await;
    load_for(&load, 300).await;
    load.phase("load balancer restarted");

    load.stop_with_no_failure().await;
    new_lb.stop().await;
    for server in servers.into_iter().flatten() {
        let _ = signal(&server.0.id().unwrap().to_string(), "TERM").await;
    }
}

/// `zato lb start --replace`, as a user upgrades a load balancer: the new process
/// listens beside the old one, which stops and lets its requests finish; continuous
/// GETs see no failure, and a second load balancer without --replace is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zato_lb_start_replace_takes_over_under_load_with_no_failed_request() {
    let _ = std::fs::write("/proc/sys/net/ipv4/tcp_migrate_req", "1");
    let backend = scripted("a", Script::Answer).await;
    let dir = tempfile::tempdir().unwrap();
    let port = dead_address().await.rsplit(':').next().unwrap().to_owned();
    std::fs::write(
        dir.path().join("lb.toml"),
        format!(
            "bind = \"127.0.0.1:{port}\"\n[[backends]]\naddress = \"{}\"\n[health]\ninterval_ms = 100\n",
            backend.address
        ),
    )
    .unwrap();
    let run = |log: &str| {
        let log = std::fs::File::create(dir.path().join(log)).unwrap();
        tokio::process::Command::new(env!("CARGO_BIN_EXE_zato"))
            .args(["lb", "start"])
            .arg(dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .unwrap()
    };
    let base = format!("http://127.0.0.1:{port}");
    let mut old = run("old.log");
    backends_up(&base, 1).await;
    let load = Load::start(format!("{base}/x"), 4);
    load_for(&load, 300).await;
    load.phase("before");

    let second = zato(&["lb", "start", dir.path().to_str().unwrap()]).await;
    assert!(!second.status.success());
    assert!(
        text(&second.stderr).contains("--replace"),
        "{}",
        text(&second.stderr)
    );

    let mut new = tokio::process::Command::new(env!("CARGO_BIN_EXE_zato"))
        .args(["lb", "start", "--replace"])
        .arg(dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("new.log")).unwrap())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let exited = tokio::time::timeout(Duration::from_secs(30), old.wait())
        .await
        .expect("the old load balancer stops once replaced")
        .unwrap();
    assert!(exited.success(), "{exited:?}");
    load_for(&load, 300).await;
    load.phase("replaced");
    load.stop_with_no_failure().await;
    let pid = new.id().unwrap().to_string();
    signal(&pid, "TERM").await;
    assert!(new.wait().await.unwrap().success());
}
