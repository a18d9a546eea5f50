//! Hot deploy through every door, refusal of bad components, restarts.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use zato_test_artifacts as wasm;

use crate::harness::{TestServer, config, eventually, pickup_logged};

#[tokio::test]
async fn a_wasm_dropped_in_pickup_is_served_over_http() {
    let server = TestServer::start().await;
    let started = Instant::now();
    std::fs::copy(wasm::HELLO, server.pickup().join("hello.wasm")).unwrap();
    eventually(
        Duration::from_secs(20),
        "demo.hello deployed from pickup",
        || async { server.running_version("demo.hello").await },
    )
    .await;
    println!("pickup -> running: {} ms", started.elapsed().as_millis());
    server.channel("hello", "/hello", "demo.hello", 0).await;
    let (status, body) = server.get("/hello?name=pickup").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["message"], "Hello, pickup!");
    let pickup = server.pickup().join("hello.wasm");
    eventually(Duration::from_secs(5), "deployed file removed", || async {
        (!pickup.exists()).then_some(())
    })
    .await;
}

#[tokio::test]
async fn pickup_ignores_hidden_temporary_and_outside_links_and_keeps_failed_files() {
    let server = TestServer::start().await;
    let pickup = server.pickup();
    std::fs::copy(wasm::HELLO, pickup.join(".hidden.wasm")).unwrap();
    std::fs::copy(wasm::HELLO, pickup.join("hello.wasm.tmp")).unwrap();
    std::fs::copy(wasm::HELLO, pickup.join("hello.wasm.part")).unwrap();
    // A link to a component outside the directory must not be followed.
    let outside = server.dir.path().join("outside.wasm");
    std::fs::copy(wasm::TRANSFORM, &outside).unwrap();
    std::os::unix::fs::symlink(&outside, pickup.join("link.wasm")).unwrap();
    std::fs::write(pickup.join("broken.wasm"), b"not wasm at all").unwrap();
    // A component that is good, as a marker that the watcher went through its events.
    std::fs::copy(wasm::ECHO, pickup.join("echo.wasm")).unwrap();
    eventually(Duration::from_secs(20), "echo deployed", || async {
        server.running_version("test.echo").await
    })
    .await;
    // The watcher handles events in the order they come, and the marker's came last: the
    // files ignored by their names (which leave no trace) were handled before it. The
    // link and the broken file leave a log line each; wait for both verdicts.
    let dir = pickup.canonicalize().unwrap();
    let link_refused = format!(
        "ignoring `link.wasm`: it links to `{}`",
        outside.canonicalize().unwrap().display()
    );
    let broken_refused = format!(
        "pickup: cannot deploy `{}`",
        dir.join("broken.wasm").display()
    );
    eventually(
        Duration::from_secs(20),
        "the watcher's verdicts on the link and the broken file",
        || async { (pickup_logged(&link_refused) && pickup_logged(&broken_refused)).then_some(()) },
    )
    .await;
    let names: Vec<String> = server
        .services()
        .await
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(
        names,
        ["test.echo"],
        "only the complete, visible, local component is deployed"
    );
    assert!(
        pickup.join("broken.wasm").exists(),
        "a failed file stays for the user to see"
    );
    assert!(outside.exists());
}

#[tokio::test]
async fn broken_and_non_component_files_are_refused_and_the_old_version_keeps_serving() {
    let server = TestServer::start().await;
    server.deploy(wasm::HELLO).await;
    server.channel("hello", "/hello", "demo.hello", 0).await;

    let hello = std::fs::read(wasm::HELLO).unwrap();
    // A minimal valid core module: header only.
    let core_module = b"\0asm\x01\0\0\0".to_vec();
    let cases: [(&str, Vec<u8>, &str); 4] = [
        (
            "garbage",
            b"definitely not wasm".to_vec(),
            "not a WebAssembly file",
        ),
        (
            "core module",
            core_module,
            "core WebAssembly module that is not a zato service: it has no `component-type` section",
        ),
        (
            "truncated component",
            hello[..hello.len() / 2].to_vec(),
            "invalid component",
        ),
        ("empty", Vec::new(), "empty upload"),
    ];
    for (what, bytes, expected) in cases {
        let (status, body) = server.try_deploy(bytes).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{what}: {body}");
        let message = body["error"].as_str().unwrap();
        assert!(message.contains(expected), "{what}: {message}");
    }
    // Through the pickup door too: the file fails, the running version stays. Whole
    // but damaged (a file cut short is waited for, not refused: `pickup.rs` tests it).
    let broken = server.pickup().canonicalize().unwrap().join("hello.wasm");
    let mut damaged = hello.clone();
    let middle = damaged.len() / 2;
    damaged[middle..middle + 64].fill(0xff);
    std::fs::write(&broken, &damaged).unwrap();
    let refused = format!("pickup: cannot deploy `{}`", broken.display());
    eventually(
        Duration::from_secs(20),
        "the watcher's refusal of the broken hello.wasm",
        || async { pickup_logged(&refused).then_some(()) },
    )
    .await;
    assert!(broken.exists(), "a failed file stays for the user to see");
    let (status, body) = server.get("/hello?name=still").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["message"], "Hello, still!");
    assert_eq!(server.running_version("demo.hello").await, Some(1));
}

#[tokio::test]
async fn same_bytes_twice_are_one_version_and_new_bytes_are_the_next() {
    let server = TestServer::start().await;
    let first = server.deploy(wasm::VERSION1).await;
    assert_eq!(
        (first.name.as_str(), first.version, first.unchanged),
        ("test.version", 1, false)
    );
    let again = server.deploy(wasm::VERSION1).await;
    assert_eq!((again.version, again.unchanged), (1, true));
    let second = server.deploy(wasm::VERSION2).await;
    assert_eq!((second.version, second.unchanged), (2, false));
    assert_eq!(server.running_version("test.version").await, Some(2));
}

#[tokio::test]
async fn a_restarted_server_runs_what_the_odb_holds_from_its_artifact_cache() {
    let server = TestServer::start().await;
    server.deploy(wasm::HELLO).await;
    server.channel("hello", "/hello", "demo.hello", 0).await;
    let dir = server.stop().await;
    let cached: Vec<_> = std::fs::read_dir(dir.path().join("data/cache"))
        .unwrap()
        .flatten()
        .collect();
    assert_eq!(cached.len(), 1, "one compiled artifact cached");

    let config = config(dir.path());
    let restarted = TestServer::start_in(dir, config).await;
    let (status, body) = restarted.get("/hello?name=again").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["message"], "Hello, again!");
    // Same bytes deployed again: found in the cache, not recompiled, same version.
    let outcome = restarted.deploy(wasm::HELLO).await;
    assert!(outcome.unchanged && outcome.from_cache);
}

#[tokio::test]
async fn a_starting_server_listens_at_once_and_answers_503_until_its_services_are_loaded() {
    let server = TestServer::start().await;
    for component in [
        wasm::HELLO,
        wasm::ECHO,
        wasm::COUNTER,
        wasm::TRAP,
        wasm::VERSION1,
    ] {
        server.deploy(component).await;
    }
    server
        .channel("version", "/version", "test.version", 0)
        .await;
    let dir = server.stop().await;
    // An empty artifact cache: the restarted server compiles all five, one per core, in
    // name order, so `test.version` comes last, after at least two rounds of compiling
    // (hundreds of milliseconds), while the requests below take a few.
    std::fs::remove_dir_all(dir.path().join("data/cache")).unwrap();

    let config = config(dir.path());
    let restarted = TestServer::start_loading(dir, config).await;
    let (status, body) = restarted.get("/zato/ping").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["status"], "loading", "{body}");
    assert_eq!(body["total"], 5, "{body}");
    let response = restarted
        .http
        .get(format!("{}/version", restarted.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()["retry-after"], "1");
    let body = crate::harness::json_or_text(response).await;
    let error = body["error"].as_str().unwrap();
    assert!(error.contains("`test.version` is not loaded yet"), "{body}");
    // The admin API answers meanwhile, and says the same of an invoke.
    assert_eq!(restarted.services().await.len(), 5);
    let (status, body) = restarted.invoke("test.version", "").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    // A service that is not in the ODB is still simply not deployed.
    let (status, body) = restarted.invoke("no.such", "").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");

    restarted.loaded().await;
    let (status, body) = restarted.get("/zato/ping").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (&body["status"], &body["failed_to_load"]),
        (&"ok".into(), &0.into()),
        "{body}"
    );
    let (status, body) = restarted.get("/version").await;
    assert_eq!(
        (status, &body["version"]),
        (StatusCode::OK, &1.into()),
        "{body}"
    );
}

#[tokio::test]
async fn a_deleted_service_stops_answering() {
    let server = TestServer::start().await;
    server.deploy(wasm::HELLO).await;
    server.channel("hello", "/hello", "demo.hello", 0).await;
    server.api.delete_service("demo.hello").await.unwrap();
    let (status, body) = server.get("/hello").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        body["error"].as_str().unwrap().contains("not deployed"),
        "{body}"
    );
    let error = server.api.delete_service("demo.hello").await.unwrap_err();
    assert_eq!(error.status(), Some(StatusCode::NOT_FOUND), "{error}");
    // Deploying it again makes version 3 (1 = deploy, 2 = deletion).
    assert_eq!(server.deploy(wasm::HELLO).await.version, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_the_development_environment_a_dropped_wasm_answers_at_its_own_url() {
    let server = TestServer::start_with(|c| c.deploy.auto_http_channels = true).await;
    let started = Instant::now();
    std::fs::copy(wasm::ECHO, server.pickup().join("echo.wasm")).unwrap();
    let body = eventually(
        Duration::from_secs(20),
        "test.echo answering at /test/echo",
        || async {
            let (status, body) = server.get("/test/echo?x=1").await;
            (status == StatusCode::OK).then_some(body)
        },
    )
    .await;
    println!(
        "copied into pickup -> answering over HTTP: {} ms",
        started.elapsed().as_millis()
    );
    assert_eq!(body["channel"]["name"], "test.echo");
    // A service that already has a channel gets no second one.
    server.deploy(wasm::HELLO).await;
    server.channel("mine", "/my/hello", "demo.hello", 0).await;
    std::fs::copy(wasm::VERSION1, server.pickup().join("v.wasm")).unwrap();
    eventually(
        Duration::from_secs(20),
        "test.version at /test/version",
        || async { (server.get("/test/version").await.0 == StatusCode::OK).then_some(()) },
    )
    .await;
    let channels = server.api.http_channels().await.unwrap();
    let mut names: Vec<&str> = channels.iter().map(|c| c.name.as_str()).collect();
    names.sort();
    assert_eq!(names, ["demo.hello", "mine", "test.echo", "test.version"]);
}

#[tokio::test]
async fn a_component_over_the_size_limit_is_refused_before_compiling() {
    let server = TestServer::start_with(|c| c.runtime.max_component_bytes = 64 * 1024).await;
    let hello = std::fs::read(wasm::HELLO).unwrap();
    assert!(
        hello.len() > 64 * 1024,
        "the example is larger than the test's limit"
    );
    let (status, body) = server.try_deploy(hello).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("over the component size limit of 65536 bytes"),
        "{body}"
    );
    assert!(server.services().await.is_empty());
}
