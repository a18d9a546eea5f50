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
    /// Reads the request and never answers it (its health checks pass).
    Silent,
    /// A server still loading its services: its `/zato/ping` answers 503 `loading` until
    /// [`Scripted::loaded`] is set, then it behaves as [`Script::Answer`].
    Loading,
}

/// A scripted backend: its address, and the requests that reached it.
struct Scripted {
    address: String,
    seen: Arc<AtomicU64>,
    /// For [`Script::Loading`]: set, its services are loaded and its ping passes.
    loaded: Arc<AtomicBool>,
    accepting: tokio::task::JoinHandle<()>,
}

impl Scripted {
    /// Stops listening: a new connection to it is refused from now on.
    async fn close(self) {
        self.accepting.abort();
        // Once the task is gone, so is its listener.
        let _ = self.accepting.await;
    }
}

async fn scripted(name: &'static str, script: Script) -> Scripted {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let seen = Arc::new(AtomicU64::new(0));
    let loaded = Arc::new(AtomicBool::new(false));
    let counter = Arc::clone(&seen);
    let is_loaded = Arc::clone(&loaded);
    let accepting = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let counter = Arc::clone(&counter);
            let is_loaded = Arc::clone(&is_loaded);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
                    let counter = Arc::clone(&counter);
                    let is_loaded = Arc::clone(&is_loaded);
                    async move {
                        // Health checks pass (unless still loading), and do not count as
                        // requests.
                        if req.uri().path() == "/zato/ping" {
                            if script == Script::Loading && !is_loaded.load(Ordering::SeqCst) {
                                let mut loading = hyper::Response::new(Full::new(Bytes::from(
                                    "{\"status\":\"loading\"}",
                                )));
                                *loading.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
                                return Ok(loading);
                            }
                            return Ok(hyper::Response::new(Full::new(Bytes::from("{}"))));
                        }
                        counter.fetch_add(1, Ordering::SeqCst);
                        let (parts, body) = req.into_parts();
                        let body = body
                            .collect()
                            .await
                            .map(|b| b.to_bytes())
                            .unwrap_or_default();
                        match script {
                            Script::Vanish => return Err("vanish"),
                            Script::Silent => std::future::pending::<()>().await,
                            Script::Answer | Script::Loading => {}
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
    Scripted {
        address,
        seen,
        loaded,
        accepting,
    }
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
    crate::harness::http_client()
        .get(format!("{base}/zato-lb-stats"))
        .send()
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
            let stats: LbStats = crate::harness::http_client()
                .get(format!("{base}/zato-lb-stats"))
                .send()
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
    // Health checks are no requests: no latency yet.
    for backend in stats(&base).await.backends {
        assert_eq!((backend.p50_ms, backend.p99_ms), (0.0, 0.0), "{backend:?}");
    }
    for _ in 0..30 {
        let response = http.get(format!("{base}/x?y=1")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
    let spread: Vec<u64> = [&a, &b, &c]
        .iter()
        .map(|s| s.seen.load(Ordering::SeqCst))
        .collect();
    assert_eq!(spread, [10, 10, 10]);
    // Each backend's latency to its answer, from the requests it served.
    for backend in stats(&base).await.backends {
        assert_eq!(backend.requests, 10, "{backend:?}");
        assert!(
            backend.p50_ms > 0.0 && backend.p99_ms >= backend.p50_ms,
            "{backend:?}"
        );
    }

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

    // The same figures for Prometheus, parsed by its own client's parser.
    let response = http
        .get(format!("{base}/zato-lb-metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let samples = crate::metrics::parse(&response.text().await.unwrap()).await;
    let now = self::stats(&base).await;
    for b in &now.backends {
        let labels = format!("backend={},name={}", b.address, b.address);
        for (metric, value) in [
            ("zato_lb_requests_total", b.requests),
            ("zato_lb_retries_total", b.retries),
            ("zato_lb_backend_errors_total", b.errors),
        ] {
            assert_eq!(
                samples.get(&format!("{metric}{{{labels}}}")).copied(),
                Some(value as f64),
                "{metric} of {}: {samples:#?}",
                b.address
            );
        }
        assert_eq!(
            samples.get(&format!("zato_lb_backend_state{{{labels},state=up}}")),
            Some(&1.0)
        );
    }
    assert_eq!(
        samples.get("zato_lb_refused_total{}"),
        Some(&(now.refused as f64))
    );
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
    let response = crate::harness::http_client()
        .get(format!("{base}/x"))
        .send()
        .await
        .unwrap();
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
    let alive = crate::harness::http_client()
        .get(format!("{base}/zato-lb-alive"))
        .send()
        .await
        .unwrap();
    assert_eq!(alive.status(), StatusCode::OK);
    lb.stop().await;
}

/// The backend named `address` in the load balancer's stats.
async fn backend_stats(base: &str, address: &str) -> zato_api::lb::BackendStats {
    stats(base)
        .await
        .backends
        .into_iter()
        .find(|b| b.address == address)
        .unwrap_or_else(|| panic!("no backend {address}"))
}

/// Asserts a JSON error of the load balancer's own: `status`, the cid in the body the
/// same as in `x-zato-cid`, and an error naming `backend` and saying `says`.
async fn lb_error(response: reqwest::Response, status: StatusCode, backend: &str, says: &str) {
    assert_eq!(response.status(), status);
    assert_eq!(response.headers()["content-type"], "application/json");
    let cid = response.headers()["x-zato-cid"]
        .to_str()
        .unwrap()
        .to_owned();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["cid"], cid.as_str(), "{body}");
    assert_eq!(body["from"], "zato-lb", "{body}");
    let error = body["error"].as_str().unwrap();
    assert!(
        error.contains(backend) && error.contains(says),
        "expected `{says}` about {backend}: {body}"
    );
}

/// A backend that takes requests and never answers: past `response_timeout_ms` a POST
/// gets a 504 naming its cid and the backend, and is sent nowhere else; a GET goes to
/// another backend if there is one, else it gets a 504 too.
#[tokio::test]
async fn a_backend_that_never_answers_costs_a_504_and_a_get_goes_elsewhere() {
    let silent = scripted("silent", Script::Silent).await;
    let good = scripted("good", Script::Answer).await;
    let timeout = |config: &mut LbConfig| config.limits.response_timeout_ms = 300;
    let alone = lb_for(&[&silent], timeout).await;
    let base = format!("http://{}", alone.addr());
    backends_up(&base, 1).await;
    let http = crate::harness::http_client();
    let post = http
        .post(format!("{base}/order"))
        .body("{\"n\":1}")
        .send()
        .await
        .unwrap();
    assert_eq!(
        post.headers()
            .get("x-zato-lb-backend")
            .map(|v| v.as_bytes()),
        Some(silent.address.as_bytes())
    );
    lb_error(
        post,
        StatusCode::GATEWAY_TIMEOUT,
        &silent.address,
        "did not answer in 300 ms",
    )
    .await;
    assert_eq!(silent.seen.load(Ordering::SeqCst), 1, "the POST went once");
    let get = http.get(format!("{base}/read")).send().await.unwrap();
    lb_error(
        get,
        StatusCode::GATEWAY_TIMEOUT,
        &silent.address,
        "did not answer in 300 ms",
    )
    .await;
    assert_eq!(silent.seen.load(Ordering::SeqCst), 2);
    // Slow is not dead: it stays in rotation, with the two failures counted.
    let backend = backend_stats(&base, &silent.address).await;
    assert_eq!(backend.state, BackendState::Up, "{backend:?}");
    assert_eq!(backend.errors, 2, "{backend:?}");
    alone.stop().await;

    let both = lb_for(&[&silent, &good], timeout).await;
    let base = format!("http://{}", both.addr());
    backends_up(&base, 2).await;
    for _ in 0..4 {
        let response = http.get(format!("{base}/read")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["backend"], "good", "{body}");
    }
    assert!(
        silent.seen.load(Ordering::SeqCst) > 2,
        "round-robin sent a GET to the silent backend first"
    );
    let good_stats = backend_stats(&base, &good.address).await;
    assert!(good_stats.retries >= 1, "{good_stats:?}");
    both.stop().await;
}

/// The only backend stops listening between two health checks: the request that finds
/// it gone gets a 502 naming it (there is no other backend to try), it is out of
/// rotation at once, and the next request gets the quick 503 of no backend up.
#[tokio::test]
async fn an_unreachable_only_backend_is_a_502_then_a_quick_503() {
    let gone = scripted("gone", Script::Answer).await;
    let address = gone.address.clone();
    let lb = lb_for(&[&gone], |config| {
        // Checks far apart and slow to fail: only the request can find it gone.
        config.health.interval_ms = 600_000;
        config.health.fall = 1000;
    })
    .await;
    let base = format!("http://{}", lb.addr());
    backends_up(&base, 1).await;
    gone.close().await;
    let http = crate::harness::http_client();
    let response = http.get(format!("{base}/x")).send().await.unwrap();
    lb_error(
        response,
        StatusCode::BAD_GATEWAY,
        &address,
        "could not be reached",
    )
    .await;
    let backend = backend_stats(&base, &address).await;
    assert_eq!(backend.state, BackendState::Down, "{backend:?}");
    assert_eq!((backend.errors, backend.requests), (1, 0), "{backend:?}");
    let started = Instant::now();
    let response = http.get(format!("{base}/x")).send().await.unwrap();
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("no backend is up"),
        "{body}"
    );
    lb.stop().await;
}

/// A server still loading its services answers its ping 503 `loading`: it stays out of
/// rotation, round after round of checks, while another backend takes every request;
/// once its ping passes it takes requests too.
#[tokio::test]
async fn a_backend_still_loading_gets_no_request_until_its_ping_passes() {
    let loading = scripted("loading", Script::Loading).await;
    let good = scripted("good", Script::Answer).await;
    let lb = lb_for(&[&loading, &good], |_| {}).await;
    let base = format!("http://{}", lb.addr());
    backends_up(&base, 1).await;
    let first = backend_stats(&base, &loading.address)
        .await
        .last_check
        .expect("checked before the load balancer listens")
        .at;
    // Three more rounds of checks (every 100 ms), and still loading.
    eventually(
        Duration::from_secs(10),
        "three more checks of the loading backend",
        || async {
            let check = backend_stats(&base, &loading.address).await.last_check?;
            (check.at >= first + 300).then_some(())
        },
    )
    .await;
    let http = crate::harness::http_client();
    for _ in 0..20 {
        let response = http.get(format!("{base}/x")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["backend"], "good", "{body}");
    }
    assert_eq!(loading.seen.load(Ordering::SeqCst), 0);
    let backend = backend_stats(&base, &loading.address).await;
    assert_ne!(backend.state, BackendState::Up, "{backend:?}");
    assert_eq!(backend.requests, 0, "{backend:?}");
    let check = backend.last_check.unwrap();
    assert!(!check.ok);
    assert_eq!(check.outcome, "503 loading");

    loading.loaded.store(true, Ordering::SeqCst);
    backends_up(&base, 2).await;
    for _ in 0..10 {
        let response = http.get(format!("{base}/x")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
    assert!(
        loading.seen.load(Ordering::SeqCst) > 0,
        "loaded, it takes requests"
    );
    lb.stop().await;
}

/// Slowloris clients: each holds a connection with half a request head sent and
/// nothing more, and opens another as soon as the load balancer closes it.
struct Slowloris {
    opened: Arc<AtomicU64>,
    /// The first line of each answer the load balancer gave before closing.
    answers: Arc<std::sync::Mutex<Vec<String>>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Slowloris {
    fn start(host: &str, connections: usize) -> Self {
        let opened = Arc::new(AtomicU64::new(0));
        let answers = Arc::new(std::sync::Mutex::new(Vec::new()));
        let tasks = (0..connections)
            .map(|_| {
                let (host, opened, answers) =
                    (host.to_owned(), Arc::clone(&opened), Arc::clone(&answers));
                tokio::spawn(async move {
                    loop {
                        let mut stream = TcpStream::connect(&host).await.unwrap();
                        stream
                            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                            .await
                            .unwrap();
                        opened.fetch_add(1, Ordering::SeqCst);
                        let mut answer = Vec::new();
                        let _ = stream.read_to_end(&mut answer).await;
                        let answer = String::from_utf8_lossy(&answer);
                        let first = answer.lines().next().unwrap_or("").to_owned();
                        answers.lock().unwrap().push(first);
                    }
                })
            })
            .collect();
        Self {
            opened,
            answers,
            tasks,
        }
    }

    fn answered(&self) -> usize {
        self.answers.lock().unwrap().len()
    }

    /// Stops the clients; returns the first line of every answer they had.
    fn stop(self) -> Vec<String> {
        for task in &self.tasks {
            task.abort();
        }
        self.answers.lock().unwrap().clone()
    }
}

/// The latencies of `n` GETs of `url`, one after another, sorted; each must succeed.
async fn latencies(http: &reqwest::Client, url: &str, n: usize) -> Vec<Duration> {
    let mut all = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        let response = http.get(url).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.bytes().await.unwrap();
        all.push(started.elapsed());
    }
    all.sort();
    all
}

fn percentile(sorted: &[Duration], q: f64) -> Duration {
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// A request head of `fields` header fields, Host and `Connection: close` among them.
fn head_of(fields: usize) -> String {
    let mut head = "GET /ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n".to_owned();
    for i in 2..fields {
        head.push_str(&format!("X-H{i}: 1\r\n"));
    }
    head + "\r\n"
}

/// The status of a GET with `fields` header fields over HTTP/2 (with prior knowledge,
/// as a client that knows the load balancer speaks it).
async fn h2_status(host: &str, fields: usize) -> StatusCode {
    let stream = TcpStream::connect(host).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        TokioIo::new(stream),
    )
    .await
    .unwrap();
    tokio::spawn(conn);
    let mut request = hyper::Request::get(format!("http://{host}/ok"));
    for i in 0..fields {
        request = request.header(format!("x-h{i}"), "1");
    }
    let request = request.body(http_body_util::Empty::<Bytes>::new()).unwrap();
    sender.send_request(request).await.unwrap().status()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_oversized_and_lying_requests_get_their_status_while_others_are_served() {
    let a = scripted("a", Script::Answer).await;
    let lb = lb_for(&[&a], |config| {
        config.limits.header_read_timeout_ms = 300;
        config.limits.body_read_timeout_ms = 300;
        config.limits.max_header_bytes = 8192;
        config.limits.max_headers = 20;
        config.limits.max_body_bytes = 1000;
    })
    .await;
    let base = format!("http://{}", lb.addr());
    backends_up(&base, 1).await;
    let host = base.trim_start_matches("http://").to_owned();
    let http = crate::harness::http_client();
    let url = format!("{base}/ok");

    // Legitimate GETs alone, then beside slowloris clients (half a request head, then
    // nothing), which the load balancer answers 408 once their time is up: GETs on a
    // keep-alive connection, and GETs each on a new connection (which slowloris
    // clients compete with for the load balancer's connections).
    const GETS: usize = 300;
    const SLOW: usize = 200;
    let fresh = crate::harness::http_client_builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    latencies(&http, &url, 20).await;
    let alone = [
        latencies(&http, &url, GETS).await,
        latencies(&fresh, &url, GETS).await,
    ];
    let slowloris = Slowloris::start(&host, SLOW);
    eventually(
        Duration::from_secs(10),
        &format!("{SLOW} slowloris connections open"),
        || async { (slowloris.opened.load(Ordering::SeqCst) >= SLOW as u64).then_some(()) },
    )
    .await;
    let attacked = [
        latencies(&http, &url, GETS).await,
        latencies(&fresh, &url, GETS).await,
    ];
    let opened = slowloris.opened.load(Ordering::SeqCst);
    // Every slow client is closed with its 408 (the first ones at least).
    eventually(
        Duration::from_secs(10),
        &format!("{SLOW} slowloris connections answered"),
        || async { (slowloris.answered() >= SLOW).then_some(()) },
    )
    .await;
    let answers = slowloris.stop();
    assert!(
        answers.iter().all(|a| a.starts_with("HTTP/1.1 408 ")),
        "{:?}",
        answers.iter().find(|a| !a.starts_with("HTTP/1.1 408 "))
    );
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    for ((alone, attacked), how) in alone
        .iter()
        .zip(&attacked)
        .zip(["keep-alive", "new connection each"])
    {
        let (p50, p99) = (percentile(alone, 0.5), percentile(alone, 0.99));
        let (p50_attacked, p99_attacked) = (percentile(attacked, 0.5), percentile(attacked, 0.99));
        println!(
            "GET latency through the load balancer ({how}), p50/p99: alone {:.2}/{:.2} ms; \
             beside {SLOW} slowloris connections ({opened} opened by the end) {:.2}/{:.2} ms",
            ms(p50),
            ms(p99),
            ms(p50_attacked),
            ms(p99_attacked),
        );
        // Generous against a busy machine's jitter (a test run shares two cores), and
        // far below what a stall costs: a new connection queued behind slowloris
        // clients waits for their 408, 300 ms here.
        assert!(
            p99_attacked < p99 * 5 + Duration::from_millis(50),
            "slowloris slows legitimate requests ({how}): p99 {p99_attacked:?} against \
             {p99:?} alone"
        );
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
    // `limits.max_headers` (20 here, not hyper's 100) header fields at most.
    for fields in [10, 20] {
        let answer = raw(&base, head_of(fields).as_bytes()).await;
        assert!(answer.starts_with("HTTP/1.1 200 "), "{fields}: {answer}");
    }
    for fields in [21, 30] {
        let answer = raw(&base, head_of(fields).as_bytes()).await;
        assert!(answer.starts_with("HTTP/1.1 431 "), "{fields}: {answer}");
    }
    // Over HTTP/2 as well, where hyper bounds a head in bytes only.
    for (fields, status) in [
        (20, StatusCode::OK),
        (21, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE),
        (30, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE),
    ] {
        assert_eq!(
            h2_status(&host, fields).await,
            status,
            "{fields} over HTTP/2"
        );
    }

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

/// Waits for the server `name` to leave the load balancer's backends (discovery drops
/// a server the cluster lists as stopped or gone).
async fn gone_from_stats(base: &str, name: &str) {
    eventually(
        Duration::from_secs(20),
        &format!("{name} gone from the load balancer's backends"),
        || async {
            let stats = stats(base).await;
            (!stats
                .backends
                .iter()
                .any(|b| b.name.as_deref() == Some(name)))
            .then_some(())
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
    // Each server's latency to its answers, from the requests it served.
    for backend in stats(&base).await.backends {
        assert!(
            backend.requests > 0 && backend.p50_ms > 0.0 && backend.p99_ms >= backend.p50_ms,
            "{backend:?}"
        );
    }

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
    // Once the cluster counts it `gone`, it leaves the load balancer's backends.
    gone_from_stats(&base, "server2").await;

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
    // It deregistered: it leaves the load balancer's backends.
    gone_from_stats(&base, "server3").await;

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
