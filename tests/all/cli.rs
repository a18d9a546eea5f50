//! The `zato` CLI as a user runs it: real processes, an environment in a temporary
//! directory, a server started with `zato start`, stopped with SIGTERM.

use std::path::Path;
use std::process::{Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::Value;
use tokio::process::{Child, Command};
use zato_test_artifacts as wasm;

use crate::harness::eventually;

pub(crate) async fn zato(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_zato"))
        .args(args)
        .env_remove("ZATO_ENV")
        .output()
        .await
        .unwrap()
}

pub(crate) fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `zato quickstart create ENV --base-port 0`, which must succeed: its server binds a
/// port the system picks, so that tests running in parallel never race for one.
async fn quickstart(env: &str) -> Output {
    let created = zato(&["quickstart", "create", env, "--base-port", "0"]).await;
    assert!(created.status.success(), "{}", text(&created.stderr));
    created
}

/// `zato quickstart create ENV --servers 3 --base-port 0 --redis REDIS --cluster tUUID`
/// and `extra`, which must succeed: a cluster of three on ports the system picks, under
/// a cluster name (Redis key prefix) of its own.
pub(crate) async fn quickstart_cluster(env: &str, extra: &[&str]) {
    quickstart_cluster_of("3", env, extra).await;
}

/// [`quickstart_cluster`] with `servers` servers.
pub(crate) async fn quickstart_cluster_of(servers: &str, env: &str, extra: &[&str]) {
    let cluster = format!("t{}", uuid::Uuid::new_v4().simple());
    let mut args = vec![
        "quickstart",
        "create",
        env,
        "--servers",
        servers,
        "--base-port",
        "0",
        "--redis",
        crate::harness::REDIS,
        "--cluster",
        &cluster,
    ];
    args.extend_from_slice(extra);
    let created = zato(&args).await;
    assert!(created.status.success(), "{}", text(&created.stderr));
}

/// Deploys demo.hello to the environment and gives it an HTTP channel at /hello.
pub(crate) async fn deploy_hello_at_slash_hello(env: &str) {
    let deployed = zato(&["deploy", wasm::HELLO, "--env", env]).await;
    assert!(deployed.status.success(), "{}", text(&deployed.stderr));
    let channel = zato(&[
        "channel",
        "create",
        "http",
        "--name",
        "hello",
        "--path",
        "/hello",
        "--service",
        "demo.hello",
        "--env",
        env,
    ])
    .await;
    assert!(channel.status.success(), "{}", text(&channel.stderr));
}

/// Sends `signal` (TERM, KILL) to the process `pid`.
pub(crate) async fn signal(pid: &str, signal: &str) {
    let sent = Command::new("kill")
        .args([&format!("-{signal}"), pid])
        .status()
        .await
        .unwrap();
    assert!(sent.success(), "kill -{signal} {pid}");
}

/// Kills the server if the test fails half-way; a `zato start` of several servers
/// (spawned by [`start`] in a process group of its own) with every process it started.
pub(crate) struct Running(pub(crate) Child);

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(pid) = self.0.id() {
            // The group's leader is `zato start`: its supervised children are in it.
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &format!("-{pid}")])
                .stderr(Stdio::null())
                .status();
        }
        let _ = self.0.start_kill();
    }
}

pub(crate) async fn start(env: &Path, log: &Path) -> Running {
    start_with(env, log, &[]).await
}

/// [`start`] with `zato start`'s options `extra`.
async fn start_with(env: &Path, log: &Path, extra: &[&str]) -> Running {
    let log = std::fs::File::create(log).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_zato"))
        .arg("start")
        .arg(env)
        .args(extra)
        .stdout(Stdio::null())
        .stderr(log)
        .process_group(0)
        .spawn()
        .unwrap();
    Running(child)
}

#[tokio::test]
async fn quickstart_start_deploy_invoke_channel_pickup_and_stop() {
    let dir = tempfile::tempdir().unwrap();
    let env = dir.path().join("env");
    let env_arg = env.to_str().unwrap();
    let created = quickstart(env_arg).await;
    let password = password_of(&env);
    assert!(
        text(&created.stdout).contains(&password),
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
    let http = crate::harness::http_client();
    let base = address(&env.join("server1")).await;
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

    // A service that panics fails its request, and the panic's message reaches the
    // server's log through the SDK's panic hook.
    let deployed = zato(&["deploy", wasm::TRAP, "--env", env_arg]).await;
    assert!(deployed.status.success(), "{}", text(&deployed.stderr));
    let trapped = zato(&["service", "invoke", "test.trap", "--env", env_arg]).await;
    assert_eq!(trapped.status.code(), Some(1), "{}", text(&trapped.stderr));
    eventually(
        Duration::from_secs(10),
        "the panic message in the server's log",
        || async {
            let log = std::fs::read_to_string(&log).ok()?;
            log.contains("service panicked: panicked at")
                .then_some(())
                .filter(|()| log.contains("test.trap panics on purpose"))
        },
    )
    .await;

    // SIGTERM stops the server gracefully.
    let pid = server.0.id().unwrap().to_string();
    signal(&pid, "TERM").await;
    let status = tokio::time::timeout(Duration::from_secs(20), server.0.wait())
        .await
        .expect("server stops")
        .unwrap();
    assert!(
        status.success(),
        "graceful stop exits 0; log:\n{}",
        std::fs::read_to_string(&log).unwrap()
    );
    assert!(
        !env.join("server1/address").exists(),
        "a clean stop removes the address it listened on"
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

/// `http://ADDRESS` of the server started in `server_dir` on port 0, once it listens.
pub(crate) async fn address(server_dir: &Path) -> String {
    let file = server_dir.join("address");
    eventually(
        Duration::from_secs(30),
        &format!("`{}` written by the server", file.display()),
        || async {
            let address = std::fs::read_to_string(&file).ok()?;
            Some(format!("http://{}", address.trim()))
        },
    )
    .await
}

/// Waits for the server started in `server_dir` to answer; returns its `http://ADDRESS`.
pub(crate) async fn wait_for_ping(server_dir: &Path) -> String {
    let base = address(server_dir).await;
    let http = crate::harness::http_client();
    eventually(
        Duration::from_secs(30),
        &format!("a server answering on {base}"),
        || {
            let request = http.get(format!("{base}/zato/ping")).send();
            async move {
                request
                    .await
                    .ok()
                    .filter(|r| r.status().is_success())
                    .map(|_| ())
            }
        },
    )
    .await;
    base
}

/// Makes membership quick to notice a dead server, for the test's sake.
pub(crate) fn fast_membership(server_toml: &Path) {
    let mut config: toml::Table = std::fs::read_to_string(server_toml)
        .unwrap()
        .parse()
        .unwrap();
    let membership = config
        .entry("membership")
        .or_insert_with(|| toml::Value::Table(Default::default()));
    let table = membership.as_table_mut().unwrap();
    table.insert("heartbeat_ms".into(), toml::Value::Integer(200));
    table.insert("dead_after_ms".into(), toml::Value::Integer(1500));
    std::fs::write(server_toml, toml::to_string(&config).unwrap()).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_server_killed_with_sigkill_catches_up_when_restarted() {
    let dir = tempfile::tempdir().unwrap();
    let db = crate::harness::TestDb::new(crate::harness::Backend::Postgres, dir.path()).await;
    let env = dir.path().join("env");
    let env_arg = env.to_str().unwrap();
    quickstart_cluster(env_arg, &["--odb", &db.url]).await;
    let mut servers = Vec::new();
    for i in 1..=3u16 {
        let server_dir = env.join(format!("server{i}"));
        fast_membership(&server_dir.join("server.toml"));
        servers.push(start(&server_dir, &dir.path().join(format!("server{i}.log"))).await);
    }
    for i in 1..=3 {
        wait_for_ping(&env.join(format!("server{i}"))).await;
    }

    let first = zato(&["deploy", wasm::VERSION1, "--env", env_arg, "--json"]).await;
    assert!(first.status.success(), "{}", text(&first.stderr));
    let report: Value = serde_json::from_slice(&first.stdout).unwrap();
    assert_eq!(
        report[0]["servers"].as_object().unwrap().len(),
        3,
        "all three run it: {report}"
    );

    // kill -9: no deregistration, the others must notice by themselves.
    let victim = servers.pop().unwrap();
    let pid = victim.0.id().unwrap().to_string();
    signal(&pid, "KILL").await;
    let second = zato(&[
        "deploy",
        wasm::VERSION2,
        "--env",
        env_arg,
        "--json",
        "--timeout",
        "30",
    ])
    .await;
    assert!(second.status.success(), "{}", text(&second.stderr));
    let report: Value = serde_json::from_slice(&second.stdout).unwrap();
    let followed = report[0]["servers"].as_object().unwrap();
    assert_eq!(
        followed.len(),
        2,
        "the dead server is not waited for: {report}"
    );

    let info = zato(&["info", env_arg, "--json"]).await;
    let info: Value = serde_json::from_slice(&info.stdout).unwrap();
    let server3 = info["servers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "server3")
        .unwrap();
    assert_eq!(server3["state"], "gone");

    // Restarted, it reconciles with the ODB and runs version 2 at once. Killed, it left
    // its address behind: the restarted one writes its own.
    drop(victim);
    std::fs::remove_file(env.join("server3/address")).unwrap();
    servers.push(start(&env.join("server3"), &dir.path().join("server3-again.log")).await);
    let server3 = wait_for_ping(&env.join("server3")).await;
    let answer = zato(&[
        "service",
        "list",
        "--url",
        &server3,
        "--user",
        "admin",
        "--password",
        &password_of(&env),
        "--json",
    ])
    .await;
    let services: Value = serde_json::from_slice(&answer.stdout).unwrap();
    assert_eq!(services[0]["running_version"], 2, "{services}");

    for server in &servers {
        let pid = server.0.id().unwrap().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status().await;
    }
    for mut server in servers {
        let _ = tokio::time::timeout(Duration::from_secs(20), server.0.wait()).await;
    }
    db.drop_database().await;
}

pub(crate) fn password_of(env: &Path) -> String {
    let credentials = std::fs::read_to_string(env.join("credentials.toml")).unwrap();
    let line = credentials
        .lines()
        .find(|l| l.starts_with("password"))
        .unwrap();
    line.split('"').nth(1).unwrap().to_owned()
}

#[tokio::test]
async fn a_cluster_without_redis_is_refused_with_what_to_pass() {
    let dir = tempfile::tempdir().unwrap();
    let env = dir.path().join("env");
    let output = zato(&[
        "quickstart",
        "create",
        env.to_str().unwrap(),
        "--servers",
        "3",
    ])
    .await;
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr).contains("--redis redis://"),
        "{}",
        text(&output.stderr)
    );
    assert!(!env.join("zato.toml").exists(), "nothing is written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_names_the_live_servers_that_did_not_follow_and_exits_4() {
    let dir = tempfile::tempdir().unwrap();
    let env = dir.path().join("env");
    let env_arg = env.to_str().unwrap();
    quickstart(env_arg).await;
    let server = start(&env, &dir.path().join("server.log")).await;
    wait_for_ping(&env.join("server1")).await;

    // A server that heartbeats but never applies anything (hung, or partitioned from
    // its broker and its ODB reads): deploy must not call that a success.
    let odb_url = format!("sqlite://{}", env.join("data/odb.sqlite").display());
    let odb = zato_host::odb::SqlOdb::connect(&odb_url).await.unwrap();
    use zato_host::odb::Membership as _;
    odb.register_server("stuck", "http://127.0.0.1:9", 1)
        .await
        .unwrap();
    let heartbeat = tokio::spawn(async move {
        loop {
            odb.touch_server("stuck").await.unwrap();
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    let output = zato(&["deploy", wasm::HELLO, "--env", env_arg, "--timeout", "2"]).await;
    heartbeat.abort();
    assert_eq!(output.status.code(), Some(4), "{}", text(&output.stderr));
    let message = text(&output.stderr);
    assert!(
        message.contains("did not run it within 2s: stuck"),
        "{message}"
    );
    drop(server);
}

/// `zato start DIR` supervises its servers: `kill -9` of one of three costs the other
/// two nothing, and the killed one is back by itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_under_zato_start_is_restarted_while_the_others_serve() {
    let dir = tempfile::tempdir().unwrap();
    let db = crate::harness::TestDb::new(crate::harness::Backend::Postgres, dir.path()).await;
    let env = dir.path().join("env");
    let env_arg = env.to_str().unwrap();
    let cluster = format!("t{}", uuid::Uuid::new_v4().simple());
    let created = zato(&[
        "quickstart",
        "create",
        env_arg,
        "--base-port",
        "0",
        "--servers",
        "3",
        "--odb",
        &db.url,
        "--redis",
        crate::harness::REDIS,
        "--cluster",
        &cluster,
    ])
    .await;
    assert!(created.status.success(), "{}", text(&created.stderr));
    let log = dir.path().join("supervisor.log");
    let mut supervisor = start(&env, &log).await;
    let mut bases = Vec::new();
    for i in 1..=3 {
        bases.push(wait_for_ping(&env.join(format!("server{i}"))).await);
    }
    let info = zato(&["info", env_arg, "--json"]).await;
    let info: Value = serde_json::from_slice(&info.stdout).unwrap();
    let pid_of = |name: &str| {
        info["servers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .unwrap()["pid"]
            .as_i64()
            .unwrap()
            .to_string()
    };
    let victim = pid_of("server2");

    // The two others are asked for their ping throughout.
    let (watching, watcher) = watch_pings(vec![bases[0].clone(), bases[2].clone()]);
    let killed = std::time::Instant::now();
    signal(&victim, "KILL").await;
    let restarted = eventually(
        Duration::from_secs(30),
        "server2 restarted on a new address",
        || async {
            let now = std::fs::read_to_string(env.join("server2/address")).ok()?;
            let now = format!("http://{}", now.trim());
            (now != bases[1]).then_some(now)
        },
    )
    .await;
    let http = crate::harness::http_client();
    eventually(Duration::from_secs(30), "server2 answering again", || {
        let request = http.get(format!("{restarted}/zato/ping")).send();
        async move {
            request
                .await
                .ok()
                .filter(|r| r.status().is_success())
                .map(|_| ())
        }
    })
    .await;
    let back = killed.elapsed();
    watching.store(false, Ordering::Relaxed);
    let (sent, failed) = watcher.await.unwrap();
    println!(
        "server2 answered /zato/ping {} ms after kill -9; the others answered {sent} pings meanwhile",
        back.as_millis()
    );
    assert!(sent > 0, "the others were asked");
    assert_eq!(
        failed, 0,
        "{failed} of {sent} requests to the others failed"
    );
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(
        logged.contains("server `server2` exited") && logged.contains("restarting it in 500 ms"),
        "{logged}"
    );
    // Back within seconds (issue 18): the first restart waits 500 ms (the default
    // `--restart-backoff-ms`), then a server starts in about a second.
    assert!(
        back < Duration::from_secs(10),
        "server2 took {} ms to answer again after kill -9",
        back.as_millis()
    );

    signal(&supervisor.0.id().unwrap().to_string(), "TERM").await;
    let status = tokio::time::timeout(Duration::from_secs(30), supervisor.0.wait())
        .await
        .expect("zato start stops on SIGTERM")
        .unwrap();
    assert!(status.success(), "every server stopped cleanly: {logged}");
    db.drop_database().await;
}

/// Asks each of `bases` for its `/zato/ping` until the flag is cleared; the task answers
/// how many requests it sent and how many failed.
fn watch_pings(bases: Vec<String>) -> (Arc<AtomicBool>, tokio::task::JoinHandle<(usize, usize)>) {
    let watching = Arc::new(AtomicBool::new(true));
    let watcher = tokio::spawn({
        let watching = watching.clone();
        async move {
            let http = crate::harness::http_client();
            let (mut sent, mut failed) = (0, 0);
            while watching.load(Ordering::Relaxed) {
                for base in &bases {
                    sent += 1;
                    let ok = http
                        .get(format!("{base}/zato/ping"))
                        .send()
                        .await
                        .is_ok_and(|r| r.status().is_success());
                    failed += usize::from(!ok);
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            (sent, failed)
        }
    });
    (watching, watcher)
}

/// The process id of each server of `env`, by name, as `zato info` reports them.
async fn server_pids(env: &str) -> std::collections::HashMap<String, String> {
    let info = zato(&["info", env, "--json"]).await;
    assert!(info.status.success(), "{}", text(&info.stderr));
    let info: Value = serde_json::from_slice(&info.stdout).unwrap();
    info["servers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let name = s["name"].as_str().unwrap().to_owned();
            (name, s["pid"].as_i64().unwrap().to_string())
        })
        .collect()
}

/// What an operator's mistake leaves: a server configuration `zato start` cannot read,
/// so that the server exits at once each time it is started.
fn break_config(server_dir: &Path) {
    std::fs::write(server_dir.join("server.toml"), "this is not = [ TOML").unwrap();
}

/// Waits for `zato start`'s log to hold `line`; returns the log.
async fn wait_for_log(log: &Path, line: &str) -> String {
    eventually(
        Duration::from_secs(30),
        &format!("the log line `{line}`"),
        || async {
            std::fs::read_to_string(log)
                .ok()
                .filter(|logged| logged.contains(line))
        },
    )
    .await
}

/// A server that keeps dying is given up on, with a log line saying so, while the
/// others keep serving; `zato start` ends once every server is gone (issue 18).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_keeps_dying_is_given_up_on_and_zato_start_ends_when_none_is_left() {
    let dir = tempfile::tempdir().unwrap();
    let env = dir.path().join("env");
    let env_arg = env.to_str().unwrap();
    quickstart_cluster(env_arg, &[]).await;
    let log = dir.path().join("supervisor.log");
    // Two restarts within the window, the first after 100 ms, the second after 200 ms.
    let mut supervisor = start_with(
        &env,
        &log,
        &["--max-restarts", "2", "--restart-backoff-ms", "100"],
    )
    .await;
    let mut bases = Vec::new();
    for i in 1..=3 {
        bases.push(wait_for_ping(&env.join(format!("server{i}"))).await);
    }
    let pids = server_pids(env_arg).await;

    // server2 is killed, and cannot start again: it dies three times in all.
    let (watching, watcher) = watch_pings(vec![bases[0].clone(), bases[2].clone()]);
    break_config(&env.join("server2"));
    signal(&pids["server2"], "KILL").await;
    let logged = wait_for_log(
        &log,
        "server `server2` exited (exit status: 1) 3 times within 300 s: giving up on it; \
         the other servers go on",
    )
    .await;
    assert!(
        logged.contains("server `server2` exited (signal: 9 (SIGKILL)); restarting it in 100 ms")
            && logged.contains("server `server2` exited (exit status: 1); restarting it in 200 ms"),
        "{logged}"
    );
    // The others serve on, and so does `zato start`: a few more rounds of pings after
    // the supervisor gave up.
    let http = crate::harness::http_client();
    for _ in 0..20 {
        for base in [&bases[0], &bases[2]] {
            let ping = http.get(format!("{base}/zato/ping")).send().await.unwrap();
            assert!(ping.status().is_success(), "{base}: {}", ping.status());
        }
    }
    watching.store(false, Ordering::Relaxed);
    let (sent, failed) = watcher.await.unwrap();
    assert!(sent > 0, "the others were asked");
    assert_eq!(
        failed, 0,
        "{failed} of {sent} requests to the others failed"
    );
    assert!(
        supervisor.0.try_wait().unwrap().is_none(),
        "`zato start` goes on with two servers: {}",
        std::fs::read_to_string(&log).unwrap()
    );

    // The two others go the same way: with no server left, `zato start` ends.
    for name in ["server1", "server3"] {
        break_config(&env.join(name));
        signal(&pids[name], "KILL").await;
    }
    let status = tokio::time::timeout(Duration::from_secs(30), supervisor.0.wait())
        .await
        .expect("`zato start` ends once every server is given up on")
        .unwrap();
    let logged = std::fs::read_to_string(&log).unwrap();
    for name in ["server1", "server3"] {
        assert!(
            logged.contains(&format!(
                "server `{name}` exited (exit status: 1) 3 times within 300 s: giving up on it"
            )),
            "{logged}"
        );
    }
    // It says which servers it lost, and fails.
    assert_eq!(status.code(), Some(1), "{logged}");
    let last = logged.lines().last().unwrap_or_default();
    assert!(last.starts_with("error: "), "{logged}");
    for name in ["server1", "server2", "server3"] {
        assert!(last.contains(name), "{last}");
    }
}

/// Runs `zato ARGS --json` and returns its one JSON document: stdout must hold exactly
/// one, whatever happened, and a failure's `exit_code` is the process's.
pub(crate) async fn zato_json(args: &[&str]) -> (i32, Value) {
    let mut with_json = args.to_vec();
    with_json.push("--json");
    let output = zato(&with_json).await;
    let code = output.status.code().unwrap();
    let document: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "`zato {}` printed no single JSON document ({e}): stdout {:?}, stderr {:?}",
            with_json.join(" "),
            text(&output.stdout),
            text(&output.stderr)
        )
    });
    if code != 0 {
        assert_eq!(document["exit_code"], code, "{document}");
        assert!(
            document["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{document}"
        );
    }
    (code, document)
}

/// What a new user met (issue 17), each as a script or a person would meet it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_answers_scripts_with_one_json_document_and_people_with_what_happened() {
    let dir = tempfile::tempdir().unwrap();
    let env = dir.path().join("env");
    let env_arg = env.to_str().unwrap();
    quickstart(env_arg).await;
    let log = dir.path().join("server.log");
    let mut server = start(&env, &log).await;
    wait_for_ping(&env.join("server1")).await;
    let deployed = zato(&["deploy", wasm::HELLO, "--env", env_arg]).await;
    assert!(deployed.status.success(), "{}", text(&deployed.stderr));
    let broken = dir.path().join("broken.wasm");
    std::fs::write(&broken, b"nope").unwrap();
    let broken = broken.to_str().unwrap();

    // With --json, every failure is one document on stdout, with its exit code.
    let failures: &[(&[&str], i32)] = &[
        (&["deploy", broken, "--env", env_arg], 1),
        (&["deploy", wasm::HELLO, broken, "--env", env_arg], 1),
        (&["deploy", "/no/such.wasm", "--env", env_arg], 1),
        (&["service", "invoke", "nope", "--env", env_arg], 1),
        (
            &[
                "service",
                "invoke",
                "demo.hello",
                "--data",
                "{",
                "--env",
                env_arg,
            ],
            1,
        ),
        (
            &[
                "service", "config", "no.such", "--set", "a=b", "--env", env_arg,
            ],
            1,
        ),
        (&["service", "config", "no.such", "--env", env_arg], 1),
        (
            &[
                "service",
                "config",
                "demo.hello",
                "--set",
                "nokey",
                "--env",
                env_arg,
            ],
            2,
        ),
        (&["service", "delete", "no.such", "--env", env_arg], 1),
        (&["service", "versions", "no.such", "--env", env_arg], 1),
        (
            &[
                "service",
                "rollback",
                "demo.hello",
                "--to-version",
                "99",
                "--env",
                env_arg,
            ],
            1,
        ),
        (
            &[
                "channel",
                "create",
                "http",
                "--name",
                "x",
                "--path",
                "nope",
                "--service",
                "demo.hello",
                "--env",
                env_arg,
            ],
            1,
        ),
        (&["channel", "delete", "nope", "--env", env_arg], 1),
        (&["quickstart", "create", env_arg], 2),
        (&["service", "list", "--env", "/no/such/env"], 3),
        (&["info", "/no/such/env"], 3),
        (&["service", "frobnicate"], 2),
        (&["service", "invoke"], 2),
    ];
    for (args, expected) in failures {
        let (code, document) = zato_json(args).await;
        assert_eq!(code, *expected, "`zato {}`: {document}", args.join(" "));
    }
    // A failed invoke's document carries the service's answer too.
    let (_, document) = zato_json(&[
        "service",
        "invoke",
        "demo.hello",
        "--data",
        "{",
        "--env",
        env_arg,
    ])
    .await;
    assert_eq!(document["status"], 400, "{document}");
    assert!(document["response"].is_object(), "{document}");
    // A deploy of several files says which were deployed before the one that failed.
    let (_, document) = zato_json(&["deploy", wasm::HELLO, broken, "--env", env_arg]).await;
    assert_eq!(document["deployed"][0]["name"], "demo.hello", "{document}");

    // A service that is not deployed cannot be configured by mistake; --ahead says
    // it is meant, and the configuration is there at its first deploy.
    let refused = zato(&[
        "service",
        "config",
        "acme.later",
        "--set",
        "a=b",
        "--env",
        env_arg,
    ])
    .await;
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        text(&refused.stderr).contains("is not deployed"),
        "{}",
        text(&refused.stderr)
    );
    let (code, config) = zato_json(&[
        "service",
        "config",
        "acme.later",
        "--set",
        "a=b",
        "--ahead",
        "--env",
        env_arg,
    ])
    .await;
    assert_eq!((code, &config["a"]), (0, &Value::from("b")), "{config}");
    let (code, config) = zato_json(&["service", "config", "acme.later", "--env", env_arg]).await;
    assert_eq!((code, &config["a"]), (0, &Value::from("b")), "{config}");

    // Messages say what is wrong in the user's terms.
    let nowhere = zato(&["service", "list", "--env", "/no/such/env"]).await;
    assert!(
        text(&nowhere.stderr).contains("there is no environment at `/no/such/env`"),
        "{}",
        text(&nowhere.stderr)
    );
    let create = |name: &'static str, path: &'static str| {
        let env_arg = env_arg.to_owned();
        async move {
            zato(&[
                "channel",
                "create",
                "http",
                "--name",
                name,
                "--path",
                path,
                "--service",
                "demo.hello",
                "--env",
                &env_arg,
            ])
            .await
        }
    };
    assert!(create("greet", "/greet/{id}").await.status.success());
    let taken_name = create("greet", "/greet3").await;
    assert_eq!(
        text(&taken_name.stderr).trim(),
        "error: an HTTP channel named `greet` exists already"
    );
    let overlapping = create("greet2", "/greet/{name}").await;
    let message = text(&overlapping.stderr);
    assert!(
        message.contains("it overlaps channel `greet`'s path `/greet/{id}`")
            && !message.contains("Insertion failed"),
        "{message}"
    );
    let help = zato(&["help", "service", "config"]).await;
    assert!(
        text(&help.stdout).contains("Service name, e.g. demo.hello"),
        "{}",
        text(&help.stdout)
    );
    // As the guide has it, ZATO_ENV is set: usage must not show it as required.
    let missing = Command::new(env!("CARGO_BIN_EXE_zato"))
        .args(["service", "config"])
        .env("ZATO_ENV", env_arg)
        .output()
        .await
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
    let message = text(&missing.stderr);
    assert!(
        message.contains("<NAME>") && !message.contains("--env <"),
        "a missing argument's usage line shows only what is required: {message}"
    );
    // A deletion takes a version number; the message says so.
    let deleted = zato(&["service", "delete", "acme.later", "--env", env_arg]).await;
    assert_eq!(
        deleted.status.code(),
        Some(1),
        "never deployed: nothing to delete"
    );
    let deployed = zato(&["deploy", wasm::TRANSFORM, "--env", env_arg]).await;
    assert!(deployed.status.success(), "{}", text(&deployed.stderr));
    let deleted = zato(&["service", "delete", "demo.transform", "--env", env_arg]).await;
    assert!(
        text(&deleted.stdout)
            .contains("the deletion is its version 2, and a deploy of it again will be version 3"),
        "{}",
        text(&deleted.stdout)
    );

    // An explicit password wins over the environment's saved one: a wrong one fails.
    let wrong = Command::new(env!("CARGO_BIN_EXE_zato"))
        .args(["service", "list", "--env", env_arg])
        .env("ZATO_PASSWORD", "not-the-password")
        .output()
        .await
        .unwrap();
    assert_eq!(wrong.status.code(), Some(3), "{}", text(&wrong.stderr));

    // The log went to a file: no colour codes in it.
    let written = std::fs::read_to_string(&log).unwrap();
    assert!(written.contains("INFO"), "{written}");
    assert!(
        !written.contains('\u{1b}'),
        "ANSI codes in a log file:\n{written}"
    );

    // `zato stats service NAME --env DIR --json`: the calls of a service deployed now,
    // counted exactly.
    let deployed = zato(&["deploy", wasm::TRANSFORM, "--env", env_arg]).await;
    assert!(deployed.status.success(), "{}", text(&deployed.stderr));
    let customer = r#"{"first_name":"Ada","last_name":"Lovelace","email":"ada@example.com","orders":[{"amount":10.5}]}"#;
    for _ in 0..3 {
        let (code, answer) = zato_json(&[
            "service",
            "invoke",
            "demo.transform",
            "--data",
            customer,
            "--env",
            env_arg,
        ])
        .await;
        assert_eq!(code, 0, "{answer}");
    }
    let stats = eventually(Duration::from_secs(20), "3 calls counted", || async {
        let (code, stats) =
            zato_json(&["stats", "service", "demo.transform", "--env", env_arg]).await;
        assert_eq!(code, 0, "{stats}");
        let count = stats["count"].as_u64().unwrap();
        assert!(count <= 3, "{stats}");
        (count == 3).then_some(stats)
    })
    .await;
    assert_eq!(stats["errors"], 0, "{stats}");
    for key in ["mean_ms", "p50_ms", "p99_ms"] {
        assert!(
            stats[key].as_f64().is_some_and(|v| v > 0.0),
            "{key}: {stats}"
        );
    }
    let human = zato(&["stats", "service", "demo.transform", "--env", env_arg]).await;
    assert!(
        text(&human.stdout).contains("demo.transform") && text(&human.stdout).contains("P99 MS"),
        "{}",
        text(&human.stdout)
    );

    // With the server stopped, `zato info` still shows the environment, server down.
    let (code, info) = zato_json(&["info", env_arg]).await;
    let servers = &info["servers"];
    assert_eq!(code, 0);
    assert_eq!(servers[0]["answers"], true, "{servers}");
    assert_eq!(servers[0]["state"], "running", "{servers}");
    let pid = server.0.id().unwrap().to_string();
    signal(&pid, "TERM").await;
    tokio::time::timeout(Duration::from_secs(20), server.0.wait())
        .await
        .expect("server stops")
        .unwrap();
    let (code, info) = zato_json(&["info", env_arg]).await;
    let servers = &info["servers"];
    assert_eq!(code, 0, "{servers}");
    assert_eq!(servers[0]["name"], "server1", "{servers}");
    assert_eq!(servers[0]["answers"], false, "{servers}");
    assert_eq!(servers[0]["state"], "stopped", "{servers}");
    let info = zato(&["info", env_arg]).await;
    assert_eq!(info.status.code(), Some(0));
    assert!(
        text(&info.stderr).contains("no server of") && text(&info.stdout).contains("server1"),
        "{}{}",
        text(&info.stdout),
        text(&info.stderr)
    );
}

/// `zato start --log-format json`: every line of the log is a JSON object, and the line
/// that reports a failed call carries the cid the caller was given.
#[tokio::test]
async fn the_log_is_json_lines_carrying_the_cid_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let env = dir.path().join("env");
    let env_arg = env.to_str().unwrap();
    quickstart(env_arg).await;
    let log = dir.path().join("server.log");
    let _server = start_with(&env, &log, &["--log-format", "json"]).await;
    let base = address(&env.join("server1")).await;
    let deployed = zato(&["deploy", wasm::TRAP, "--env", env_arg]).await;
    assert!(deployed.status.success(), "{}", text(&deployed.stderr));

    let http = crate::harness::http_client();
    let trapped = http
        .post(format!("{base}/zato/api/services/test.trap/invoke"))
        .basic_auth("admin", Some(password_of(&env)))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(trapped.status(), reqwest::StatusCode::INTERNAL_SERVER_ERROR);
    let body: Value = trapped.json().await.unwrap();
    let cid = body["cid"]
        .as_str()
        .expect("the error carries its cid")
        .to_owned();

    let line = eventually(
        Duration::from_secs(10),
        "the failed call's line in the log",
        || async {
            let log = std::fs::read_to_string(&log).ok()?;
            log.lines()
                .map(|l| serde_json::from_str::<Value>(l).ok())
                .find(|l| {
                    l.as_ref()
                        .is_some_and(|l| l["fields"]["cid"] == cid.as_str())
                })
                .flatten()
        },
    )
    .await;
    assert_eq!(line["level"], "ERROR", "{line}");
    assert!(
        line["fields"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("test.trap")),
        "{line}"
    );
    assert!(line["timestamp"].is_string(), "{line}");
    let all = std::fs::read_to_string(&log).unwrap();
    for l in all.lines().filter(|l| !l.trim().is_empty()) {
        assert!(
            serde_json::from_str::<Value>(l).is_ok_and(|v| v.is_object()),
            "a log line that is not a JSON object: {l}"
        );
    }
}
