//! The `zato` CLI as a user runs it: real processes, an environment in a temporary
//! directory, a server started with `zato start`, stopped with SIGTERM.

use std::path::Path;
use std::process::{Output, Stdio};
use std::time::Duration;

use serde_json::Value;
use tokio::process::{Child, Command};
use zato_test_artifacts as wasm;

use crate::harness::eventually;

async fn zato(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_zato"))
        .args(args)
        .env_remove("ZATO_ENV")
        .output()
        .await
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Kills the server if the test fails half-way.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.start_kill();
    }
}

async fn start(env: &Path, log: &Path) -> Running {
    let log = std::fs::File::create(log).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_zato"))
        .arg("start")
        .arg(env)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    Running(child)
}

#[tokio::test]
async fn quickstart_start_deploy_invoke_channel_pickup_and_stop() {
    let dir = tempfile::tempdir().unwrap();
    let env = dir.path().join("env");
    let env_arg = env.to_str().unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");

    let created = zato(&[
        "quickstart",
        "create",
        env_arg,
        "--base-port",
        &port.to_string(),
    ])
    .await;
    assert!(created.status.success(), "{}", text(&created.stderr));
    let credentials = std::fs::read_to_string(env.join("credentials.toml")).unwrap();
    let password_line = credentials
        .lines()
        .find(|l| l.starts_with("password"))
        .unwrap();
    let password = password_line.split('"').nth(1).unwrap();
    assert!(
        text(&created.stdout).contains(password),
        "the password is shown once at creation"
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(env.join("credentials.toml"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "credentials are private");

    let log = dir.path().join("server.log");
    let mut server = start(&env, &log).await;
    let http = reqwest::Client::new();
    eventually(
        Duration::from_secs(30),
        "the server answers /zato/ping",
        || {
            let request = http.get(format!("{base}/zato/ping")).send();
            async move { request.await.ok().filter(|r| r.status().is_success()) }
        },
    )
    .await;

    let deployed = zato(&["deploy", wasm::HELLO, "--env", env_arg]).await;
    assert!(deployed.status.success(), "{}", text(&deployed.stderr));
    assert!(
        text(&deployed.stdout).contains("deployed: `demo.hello` version 1"),
        "{}",
        text(&deployed.stdout)
    );

    let listed = zato(&["service", "list", "--env", env_arg, "--json"]).await;
    assert!(listed.status.success());
    let services: Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(services[0]["name"], "demo.hello");
    assert_eq!(services[0]["version"], 1);

    let invoked = zato(&[
        "service",
        "invoke",
        "demo.hello",
        "--env",
        env_arg,
        "--data",
        r#"{"name":"cli"}"#,
    ])
    .await;
    assert!(invoked.status.success(), "{}", text(&invoked.stderr));
    let answer: Value = serde_json::from_slice(&invoked.stdout).unwrap();
    assert_eq!(answer["message"], "Hello, cli!");

    let channel = zato(&[
        "channel",
        "create",
        "http",
        "--env",
        env_arg,
        "--name",
        "greet",
        "--path",
        "/greet/{name}",
        "--service",
        "demo.hello",
    ])
    .await;
    assert!(channel.status.success(), "{}", text(&channel.stderr));
    let greeting: Value = http
        .get(format!("{base}/greet/Zato"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(greeting["message"], "Hello, Zato!");

    // Hot deploy by pickup, no restart.
    std::fs::copy(wasm::TRANSFORM, env.join("pickup/transform.wasm")).unwrap();
    eventually(
        Duration::from_secs(20),
        "demo.transform deployed from pickup",
        || async {
            let listed = zato(&["service", "list", "--env", env_arg, "--json"]).await;
            let services: Value = serde_json::from_slice(&listed.stdout).ok()?;
            services
                .as_array()?
                .iter()
                .any(|s| s["name"] == "demo.transform")
                .then_some(())
        },
    )
    .await;

    // Failures say what went wrong and exit non-zero.
    let broken = dir.path().join("broken.wasm");
    std::fs::write(&broken, b"nope").unwrap();
    let refused = zato(&["deploy", broken.to_str().unwrap(), "--env", env_arg]).await;
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        text(&refused.stderr).contains("not a WebAssembly file"),
        "{}",
        text(&refused.stderr)
    );
    let unknown = zato(&["service", "invoke", "no.such", "--env", env_arg]).await;
    assert_eq!(unknown.status.code(), Some(1));
    assert!(
        text(&unknown.stderr).contains("`no.such` is not deployed"),
        "{}",
        text(&unknown.stderr)
    );

    // SIGTERM stops the server gracefully.
    let pid = server.0.id().unwrap().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .await
            .unwrap()
            .success()
    );
    let status = tokio::time::timeout(Duration::from_secs(20), server.0.wait())
        .await
        .expect("server stops")
        .unwrap();
    assert!(
        status.success(),
        "graceful stop exits 0; log:\n{}",
        std::fs::read_to_string(&log).unwrap()
    );
    let gone = zato(&["service", "list", "--env", env_arg]).await;
    assert_eq!(gone.status.code(), Some(3), "an unreachable server exits 3");
}

#[tokio::test]
async fn commands_without_an_environment_say_what_to_pass() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_zato"))
        .args(["service", "list"])
        .current_dir(dir.path())
        .env_remove("ZATO_ENV")
        .env_remove("ZATO_URL")
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    assert!(
        text(&output.stderr).contains("--env DIR"),
        "{}",
        text(&output.stderr)
    );
    let json = Command::new(env!("CARGO_BIN_EXE_zato"))
        .args(["service", "list", "--json"])
        .current_dir(dir.path())
        .env_remove("ZATO_ENV")
        .output()
        .await
        .unwrap();
    let error: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(error["exit_code"], 3);
}
