//! Guests that trap, loop, allocate or recurse without bound, or invoke in a cycle:
//! each fails only its own request, with the right status and a message naming it,
//! and the server keeps serving everything else.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use zato_test_artifacts as wasm;

use crate::harness::TestServer;

async fn hostile_server() -> TestServer {
    let server = TestServer::start_with(|c| {
        c.runtime.memory_limit_mib = 32;
    })
    .await;
    for (component, name, path, timeout) in [
        (wasm::HELLO, "demo.hello", "/hello", 0),
        (wasm::TRAP, "test.trap", "/trap", 0),
        (wasm::SPIN, "test.loop", "/loop", 1000),
        (wasm::MEMBOMB, "test.memory", "/memory", 0),
        (wasm::RECURSE, "test.recurse", "/recurse", 0),
        (wasm::CYCLE_A, "test.cycle-a", "/cycle", 0),
        (wasm::CYCLE_B, "test.cycle-b", "/cycle-b", 0),
        (wasm::HOSTILE_INVOKE, "test.hostile", "/hostile", 0),
    ] {
        assert_eq!(server.deploy(component).await.name, name);
        server.channel(name, path, name, timeout).await;
    }
    server
}

async fn assert_hello_still_answers(server: &TestServer) {
    let (status, body) = server.get("/hello?name=survivor").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["message"], "Hello, survivor!");
}

fn error_of(body: &Value) -> &str {
    assert!(
        body["cid"].as_str().is_some_and(|c| c.len() == 32),
        "error bodies carry the cid: {body}"
    );
    body["error"]
        .as_str()
        .unwrap_or_else(|| panic!("no error message in {body}"))
}

#[tokio::test]
async fn each_hostile_guest_fails_only_its_own_request() {
    let server = hostile_server().await;
    let cases: [(&str, StatusCode, &[&str]); 5] = [
        (
            "/trap",
            StatusCode::INTERNAL_SERVER_ERROR,
            &["service `test.trap` trapped"],
        ),
        (
            "/loop",
            StatusCode::GATEWAY_TIMEOUT,
            &["service `test.loop` timed out"],
        ),
        (
            "/memory",
            StatusCode::INTERNAL_SERVER_ERROR,
            &["`test.memory` exceeded its memory limit of 33554432 bytes"],
        ),
        (
            "/recurse",
            StatusCode::INTERNAL_SERVER_ERROR,
            &["`test.recurse` overflowed its stack"],
        ),
        (
            "/cycle",
            StatusCode::LOOP_DETECTED,
            &["invoke depth limit exceeded", "test.cycle-"],
        ),
    ];
    for (path, expected_status, expected_text) in cases {
        let (status, body) = server.get(path).await;
        assert_eq!(status, expected_status, "{path}: {body}");
        let message = error_of(&body);
        for text in expected_text {
            assert!(
                message.contains(text),
                "{path}: `{message}` should contain `{text}`"
            );
        }
        assert_hello_still_answers(&server).await;
    }
}

#[tokio::test]
async fn hostile_invoke_arguments_come_back_as_errors_the_guest_handles() {
    let server = hostile_server().await;
    let (status, body) = server.get("/hostile").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let text = body.to_string();
    assert!(text.contains("invalid service name (0 bytes)"), "{text}");
    assert!(
        text.contains("invalid service name (1048576 bytes)"),
        "{text}"
    );
    assert!(text.contains("is not deployed"), "{text}");
    assert_hello_still_answers(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guests_spinning_on_every_worker_thread_do_not_stop_other_requests() {
    let server = hostile_server().await;
    // Long enough that the loops are surely still running when hello answers, even on
    // a loaded machine.
    server
        .channel("long-loop", "/long-loop", "test.loop", 5000)
        .await;
    // More looping requests than the runtime has worker threads.
    let loops: Vec<_> = (0..4)
        .map(|_| {
            let request = server.http.get(format!("{}/long-loop", server.base)).send();
            tokio::spawn(async move {
                let outcome = request.await.map(|r| r.status()).map_err(|e| e.to_string());
                (outcome, std::time::Instant::now())
            })
        })
        .collect();
    // A deliberate pause: nothing outside a guest shows that it has started looping. The
    // end of each loop, 5 s after it started, proves below that it was looping already
    // when hello answered.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = std::time::Instant::now();
    assert_hello_still_answers(&server).await;
    let hello_answered = std::time::Instant::now();
    println!(
        "hello answered in {} ms while 4 guests spun",
        started.elapsed().as_millis()
    );
    let ended_early: Vec<usize> = (0..loops.len())
        .filter(|&i| loops[i].is_finished())
        .collect();
    let mut outcomes = Vec::new();
    let mut ends = Vec::new();
    for l in loops {
        let (outcome, ended) = l.await.unwrap();
        outcomes.push(outcome);
        ends.push(ended);
    }
    for ended in ends {
        assert!(
            ended.duration_since(hello_answered) <= Duration::from_millis(5000),
            "each loop had started before hello answered: one ended {:?} after it",
            ended.duration_since(hello_answered)
        );
    }
    assert!(
        ended_early.is_empty(),
        "the loops must still run while hello answers, but loops {ended_early:?} had \
         ended; all of them ended with {outcomes:?}"
    );
    for outcome in outcomes {
        assert_eq!(outcome, Ok(StatusCode::GATEWAY_TIMEOUT));
    }
    // And a burst of traps and memory bombs in parallel leaves the server whole.
    let burst: Vec<_> = [
        "/trap", "/memory", "/recurse", "/trap", "/memory", "/recurse",
    ]
    .into_iter()
    .map(|path| {
        let request = server.http.get(format!("{}{path}", server.base)).send();
        tokio::spawn(async move { request.await.unwrap().status() })
    })
    .collect();
    for b in burst {
        assert_eq!(b.await.unwrap(), StatusCode::INTERNAL_SERVER_ERROR);
    }
    assert_hello_still_answers(&server).await;
}
