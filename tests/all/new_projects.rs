//! `zato new rust|python|js NAME`: each project's own test passes without a server
//! (`cargo test`, pytest, `node --test`), `zato build` in it prints the component's path
//! last, and the component deploys and answers a JSON object as the service `NAME`.

use std::path::Path;
use std::process::Output;

use reqwest::StatusCode;
use serde_json::json;
use tokio::process::Command;

use crate::cli::text;
use crate::harness::TestServer;
use crate::stats::zato_at;

/// Runs `program args` in `dir` (the Rust projects' builds share one target directory
/// across runs); fails the test with its output unless it succeeds.
async fn run_in(dir: &Path, program: &str, args: &[&str]) -> Output {
    let output = Command::new(program)
        .args(args)
        .current_dir(dir)
        .env_remove("ZATO_ENV")
        .env(
            "CARGO_TARGET_DIR",
            concat!(env!("CARGO_TARGET_TMPDIR"), "/zato-new-rust"),
        )
        // The outer build's flags are for the host and clippy, not these projects.
        .env_remove("RUSTFLAGS")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .output()
        .await
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(
        output.status.success(),
        "`{program} {}` in {} failed:\n{}{}",
        args.join(" "),
        dir.display(),
        text(&output.stdout),
        text(&output.stderr)
    );
    output
}

/// `zato new LANGUAGE greeter-LANGUAGE`, then `steps` in the project (its own test
/// among them), `zato build`, and a deploy that answers.
async fn new_project_builds_tests_and_deploys(language: &str, steps: &[&[&str]]) {
    let work = tempfile::tempdir().unwrap();
    let name = format!("greeter-{language}");
    let zato = env!("CARGO_BIN_EXE_zato");
    run_in(work.path(), zato, &["new", language, &name]).await;
    let project = work.path().join(&name);
    for step in steps {
        run_in(&project, step[0], &step[1..]).await;
    }

    // `zato build` where it stands; the component's path on the last line.
    let built = run_in(&project, zato, &["build"]).await;
    let stdout = text(&built.stdout);
    let component = stdout.lines().last().unwrap().to_owned();
    assert!(Path::new(&component).is_file(), "{stdout}");

    let server = TestServer::start().await;
    let (code, deployed) = zato_at(&server.base, &["deploy", &component]).await;
    assert_eq!(code, 0, "{deployed}");
    assert_eq!(deployed[0]["name"], name.as_str(), "{deployed}");
    let (status, body) = server.invoke(&name, r#"{"name": "Ada"}"#).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"message": "Hello, Ada!"}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_rust_project_builds_tests_and_deploys() {
    new_project_builds_tests_and_deploys("rust", &[&["cargo", "test", "--quiet"]]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_python_project_builds_tests_and_deploys() {
    new_project_builds_tests_and_deploys(
        "python",
        &[&["python3", "-m", "pytest", "-q", "-p", "no:cacheprovider"]],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_javascript_project_builds_tests_and_deploys() {
    // As its README says: `npm install` links the SDK and brings componentize-js.
    new_project_builds_tests_and_deploys(
        "js",
        &[
            &[
                "npm",
                "install",
                "--prefer-offline",
                "--no-audit",
                "--no-fund",
            ],
            &["node", "--test"],
        ],
    )
    .await;
}
