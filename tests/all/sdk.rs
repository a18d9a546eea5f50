//! The SDK's allocator (`sdk-rust/src/arena.rs`): a 256 KiB bump arena in the module's
//! static memory, then Rust's allocator, in both kinds of build. What a service computes
//! must not depend on where its memory came from.

use reqwest::StatusCode;
use serde_json::{Value, json};
use zato_test_artifacts as wasm;

use crate::harness::{TestServer, echoed};

/// A customer with `orders` orders of 1.5 each, and what demo.transform answers for it.
fn customer(orders: usize) -> (String, Value) {
    let customer = json!({
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email": "ada@Example.com",
        "orders": vec![json!({ "amount": 1.5 }); orders],
    });
    let expected = json!({
        "full_name": "Ada Lovelace",
        "email_domain": "example.com",
        "order_count": orders,
        "total": orders as f64 * 1.5,
    });
    (customer.to_string(), expected)
}

#[tokio::test]
async fn a_request_that_outgrows_the_arena_answers_right_in_both_builds() {
    for (build, component) in [
        ("wasm32-wasip2", wasm::TRANSFORM),
        ("lean", wasm::TRANSFORM_LEAN),
    ] {
        let server = TestServer::start().await;
        server.deploy(component).await;
        server.channel("t", "/t", "demo.transform", 0).await;
        // 20,000 orders: a 340 KB payload and a 160 KB Vec, past the 256 KiB arena, so
        // Rust's allocator takes over (and a growing Vec moves out of the arena).
        let (payload, expected) = customer(20_000);
        assert!(payload.len() > 256 * 1024);
        let (status, body) = server.post("/t", &payload).await;
        assert_eq!(status, StatusCode::OK, "{build}: {body}");
        assert_eq!(body, expected, "{build}");
    }
}

/// A server running `component`'s service `service` behind `/s`, opted in to warm
/// instances of up to `uses` requests each.
async fn warm_server(component: &str, service: &str, uses: u32) -> TestServer {
    let server = TestServer::start().await;
    server.deploy(component).await;
    server.channel("s", "/s", service, 0).await;
    server
        .set_config(service, &json!({ "zato.instance_reuse": uses.to_string() }))
        .await;
    server
}

#[tokio::test]
async fn a_warm_instance_reads_each_requests_own_cid_headers_and_query() {
    // The details a service reads through the `request` import belong to the call in
    // progress: a warm instance must never answer with an earlier request's.
    let server = warm_server(wasm::ECHO, "test.echo", 100).await;
    let mut cids = Vec::new();
    for round in 0..6 {
        let mut request = server.http.get(format!("{}/s?round={round}", server.base));
        if round % 2 == 0 {
            request = request.header("x-round", round.to_string());
        }
        let body = echoed(request.send().await.unwrap()).await;
        assert_eq!(
            body["query"],
            json!([["round", round.to_string()]]),
            "{body}"
        );
        let header = body["headers"].get("x-round");
        if round % 2 == 0 {
            assert_eq!(header, Some(&json!(round.to_string())), "{body}");
        } else {
            assert_eq!(header, None, "round {round} sent no x-round: {body}");
        }
        cids.push(body["cid"].as_str().unwrap().to_owned());
    }
    cids.sort();
    cids.dedup();
    assert_eq!(cids.len(), 6, "every request has its own cid: {cids:?}");
}

#[tokio::test]
async fn an_idle_warm_instance_holds_nothing_of_the_request_it_served() {
    // A channel moves its request's details (an HTTP request's head, say) into the
    // call's store; a warm instance must let them go when it goes back to the pool.
    use std::collections::{BTreeMap, HashMap};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    use zato_host::config::RuntimeSettings;
    use zato_host::deploy::sha256_hex;
    use zato_host::runtime::{
        CallContext, ChannelKind, DataFormat, LoadedService, REUSE_KEY, Request, RequestDetails,
        Runtime,
    };

    /// Details that say when they are dropped.
    struct Watched(Arc<AtomicBool>);
    impl RequestDetails for Watched {
        fn channel_name(&self) -> &str {
            "watched"
        }
    }
    impl Drop for Watched {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    let runtime = Runtime::new(RuntimeSettings::default()).unwrap();
    let bytes = std::fs::read(wasm::COUNTER).unwrap();
    let sha256 = sha256_hex(&bytes);
    let compiled = runtime
        .compile_async(Arc::from(bytes.as_slice()), sha256.clone())
        .await
        .unwrap();
    let info = runtime
        .read_info(&compiled, "test.counter", "test.counter")
        .await
        .unwrap();
    runtime
        .registry()
        .install(LoadedService::new(compiled, info, 1, sha256));
    let reuse = BTreeMap::from([(REUSE_KEY.to_owned(), "100".to_owned())]);
    runtime
        .registry()
        .set_configs(HashMap::from([("test.counter".to_owned(), reuse)]));
    for round in 1..=3 {
        let dropped = Arc::new(AtomicBool::new(false));
        let request = Request {
            cid: "cid",
            channel: ChannelKind::Invoke,
            payload: b"",
            data_format: DataFormat::Raw,
            details: Box::new(Watched(Arc::clone(&dropped))),
        };
        let response = runtime
            .call(
                "test.counter",
                request,
                CallContext::new(Duration::from_secs(30)),
            )
            .await
            .unwrap();
        let body: Value = serde_json::from_slice(&response.payload).unwrap();
        assert_eq!(body["count"], round, "one warm instance serves every round");
        assert!(
            dropped.load(Ordering::SeqCst),
            "round {round}: the idle instance still holds the request's details"
        );
    }
}

#[tokio::test]
async fn a_warm_instance_answers_right_as_its_arena_fills_and_starts_over() {
    // A warm instance keeps its memory between requests. Within a request the arena
    // frees only its most recent allocation, so a 100 KB request takes much of it; it
    // starts over once the request's last allocation is freed. Large and small
    // requests in turn must not see each other's data, in either build (a lean build
    // gets its `cabi_realloc` from wit-bindgen, over the same arena).
    for (build, component) in [
        ("wasm32-wasip2", wasm::TRANSFORM),
        ("lean", wasm::TRANSFORM_LEAN),
    ] {
        let server = warm_server(component, "demo.transform", 100).await;
        for round in 0..12 {
            // 6,000 orders is a 100 KB payload; the small ones fit what is left, if any.
            let orders = if round % 3 == 2 { 3 } else { 6_000 + round };
            let (payload, expected) = customer(orders);
            let (status, body) = server.post("/s", &payload).await;
            assert_eq!(status, StatusCode::OK, "{build}, round {round}: {body}");
            assert_eq!(body, expected, "{build}, round {round}");
        }
    }
}

#[tokio::test]
async fn a_warm_instance_allocates_each_request_from_where_the_first_one_did() {
    // test.counter allocates and frees 16 KiB per request. If the arena did not start
    // over between requests, what each request frees out of order (its strings and
    // lists) would stay used: the buffer would sit higher each time (by 848 bytes when
    // this test was written) until the 256 KiB arena is full, and from then on every
    // warm request would pay for wasi-libc's dlmalloc.
    let server = warm_server(wasm::COUNTER, "test.counter", 100).await;
    let mut scratch = Vec::new();
    for round in 1..=40u64 {
        let (status, body) = server.get("/s").await;
        assert_eq!(status, StatusCode::OK, "round {round}: {body}");
        // One warm instance served them all, or the addresses would prove nothing.
        assert_eq!(body["count"], round, "round {round}: {body}");
        scratch.push(body["scratch"].as_u64().expect("an address"));
    }
    assert!(
        scratch.iter().all(|a| *a == scratch[0]),
        "the 16 KiB buffer moved between requests: {scratch:?}"
    );
}

#[tokio::test]
async fn a_warm_instance_keeps_what_a_service_holds_between_requests() {
    // With `?keep=1`, test.counter keeps a growing list of strings in a `static` and
    // checks all of it on every request, while each request also allocates and frees
    // its own. Were the arena to start over while the list still lives in it, later
    // requests would write over the list.
    let server = warm_server(wasm::COUNTER, "test.counter", 1000).await;
    for round in 1..=300u64 {
        let (status, body) = server.get("/s?keep=1").await;
        assert_eq!(status, StatusCode::OK, "round {round}: {body}");
        assert_eq!(body["count"], round, "round {round}: {body}");
        assert_eq!(body["kept_intact"], true, "round {round}: {body}");
    }
}

#[tokio::test]
async fn c_code_in_a_service_can_free_what_the_host_gave_it() {
    // wasi-libc's `getentropy` gets its bytes as a list the host writes through the
    // guest's `cabi_realloc`, and frees it with `free()`: memory from the SDK's arena
    // there would corrupt wasi-libc's heap or trap.
    let server = TestServer::start().await;
    server.deploy(wasm::ENTROPY).await;
    server.channel("e", "/e", "test.entropy", 0).await;
    for round in 0..5 {
        let (status, body) = server.get("/e").await;
        assert_eq!(status, StatusCode::OK, "round {round}: {body}");
        assert_eq!(body["distinct"], 8, "round {round}: {body}");
    }
}
