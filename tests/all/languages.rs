//! Services in Python and JavaScript (`examples/python/greeter.py` and
//! `examples/js/greeter.js`, on the zato SDK of each language), built by `zato build`
//! (componentize-py, componentize-js), deployed, and answering through an HTTP channel,
//! `invoke` and the scheduler, with their declared input checked by the server and
//! their configuration read.

use std::path::Path;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::cli::{text, zato};
use crate::harness::{TestServer, eventually};
use crate::stats::zato_at;

/// `zato build PATH`: the component's path, the last line of the output as the
/// interface promises.
async fn build(path: &Path) -> String {
    let output = zato(&["build", path.to_str().unwrap()]).await;
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", text(&output.stderr));
    let last = stdout.lines().last().unwrap().to_owned();
    assert!(Path::new(&last).is_file(), "{stdout}");
    last
}

/// Deploys `component` (the greeter `name`) and checks it end to end.
async fn greeter_answers_everywhere(component: &str, name: &str, path: &str) {
    let server = TestServer::start().await;
    let (code, deployed) = zato_at(&server.base, &["deploy", component]).await;
    assert_eq!(code, 0, "{deployed}");
    assert_eq!(deployed[0]["name"], name, "{deployed}");
    // Its info() came from the guest's language: description and declared fields.
    let details = server.api.service(name).await.unwrap();
    assert_eq!(
        details.info.description,
        "Greets whom it is asked to, with its `greeting` config key"
    );
    assert_eq!(
        serde_json::to_value(&details.info.input).unwrap(),
        json!([{"name": "name", "type": "string", "required": false}]),
    );

    // HTTP: a JSON body, then a query parameter.
    server.channel("greeter", path, name, 0).await;
    let (status, body) = server.post(path, r#"{"name": "Ada"}"#).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"message": "Hello, Ada!", "channel": "http"}));
    let (status, body) = server.get(&format!("{path}?name=Grace")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["message"], "Hello, Grace!");

    // The server checks the declared input before the guest runs.
    let (status, body) = server.post(path, r#"{"name": 7}"#).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body.to_string()
            .contains("field `name` must be a string, got an integer"),
        "{body}"
    );

    // Invoked (through the admin API, its own channel kind), with a configured greeting.
    server.set_config(name, &json!({"greeting": "Hi"})).await;
    let (status, body) = server.invoke(name, r#"{"name": "Ada"}"#).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"message": "Hi, Ada!", "channel": "admin"}));

    // The scheduler: a job every second; its runs end `ok`.
    let (code, created) = zato_at(
        &server.base,
        &[
            "scheduler",
            "create",
            "--name",
            "greet",
            "--service",
            name,
            "--interval-seconds",
            "1",
        ],
    )
    .await;
    assert_eq!(code, 0, "{created}");
    eventually(
        Duration::from_secs(30),
        "a scheduled run of the greeter",
        || async {
            let (code, runs) = zato_at(&server.base, &["scheduler", "runs", "greet"]).await;
            assert_eq!(code, 0, "{runs}");
            let runs: Vec<Value> = serde_json::from_value(runs).unwrap();
            assert!(
                runs.iter().all(|r| r["outcome"] != "error"),
                "a run failed: {runs:#?}"
            );
            runs.iter().any(|r| r["outcome"] == "ok").then_some(())
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_python_service_answers_through_http_invoke_and_the_scheduler() {
    // A copy: the component is written beside the module.
    let work = tempfile::tempdir().unwrap();
    let module = work.path().join("greeter.py");
    std::fs::copy(
        concat!(env!("CARGO_MANIFEST_DIR"), "/examples/python/greeter.py"),
        &module,
    )
    .unwrap();
    let component = build(&module).await;
    assert_eq!(
        component,
        work.path().join("greeter.wasm").to_str().unwrap()
    );
    greeter_answers_everywhere(&component, "demo.py-greeter", "/demo/py-greeter").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_javascript_service_answers_through_http_invoke_and_the_scheduler() {
    // The example's directory: its package.json names the module, its node_modules
    // hold componentize-js (`npm ci --prefix examples/js`).
    let project = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/js"));
    let component = build(project).await;
    assert_eq!(component, project.join("greeter.wasm").to_str().unwrap());
    greeter_answers_everywhere(&component, "demo.js-greeter", "/demo/js-greeter").await;
}
