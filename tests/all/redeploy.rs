//! Redeploying a service under continuous requests: nothing fails, and the new
//! version answers afterwards.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use reqwest::StatusCode;
use zato_test_artifacts as wasm;

use crate::harness::{TestServer, eventually};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redeploy_under_load_fails_no_request() {
    let server = Arc::new(TestServer::start().await);
    server.deploy(wasm::VERSION1).await;
    server
        .channel("version", "/version", "test.version", 0)
        .await;

    let stop = Arc::new(AtomicBool::new(false));
    let failures = Arc::new(AtomicUsize::new(0));
    let seen: Arc<[AtomicUsize; 3]> = Arc::new(Default::default());
    let clients: Vec<_> = (0..8)
        .map(|_| {
            let (server, stop, failures, seen) =
                (server.clone(), stop.clone(), failures.clone(), seen.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let (status, body) = server.get("/version").await;
                    match (status, body["version"].as_u64()) {
                        (StatusCode::OK, Some(v @ 1..=2)) => {
                            seen[v as usize].fetch_add(1, Ordering::Relaxed);
                        }
                        _ => {
                            eprintln!("failed request: {status} {body}");
                            failures.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            })
        })
        .collect();
    // The clients are under way: version 1 has answered them.
    eventually(
        Duration::from_secs(10),
        "version 1 answering the clients",
        || async { (seen[1].load(Ordering::Relaxed) >= 8).then_some(()) },
    )
    .await;
    let outcome = server.deploy(wasm::VERSION2).await;
    assert_eq!(outcome.version, 2);
    let before_after = seen[2].load(Ordering::Relaxed);
    // The clients keep going after the deploy: version 2 answers them, none fails.
    eventually(
        Duration::from_secs(10),
        "version 2 answering the clients",
        || async { (seen[2].load(Ordering::Relaxed) >= before_after + 8).then_some(()) },
    )
    .await;
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.await.unwrap();
    }
    let (v1, v2) = (
        seen[1].load(Ordering::Relaxed),
        seen[2].load(Ordering::Relaxed),
    );
    println!("requests: {v1} answered by version 1, {v2} by version 2");
    assert_eq!(
        failures.load(Ordering::Relaxed),
        0,
        "no request may fail during a redeploy"
    );
    assert!(v1 > 0, "version 1 served before the deploy");
    assert!(v2 > before_after, "version 2 served after the deploy");
    // Once the deploy returned, only the new version answers.
    for _ in 0..20 {
        assert_eq!(server.get("/version").await.1["version"], 2);
    }
}
