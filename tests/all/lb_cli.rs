//! The load balancer as a user meets it through the CLI: `zato quickstart create
//! --lb-port` writes it, `zato start` runs it with the servers, `zato lb status` and
//! `zato lb drain` talk to it, `zato info` shows it. Ports are ones the system picks
//! (`--base-port 0 --lb-port 0`), so that tests run in parallel, but in the test of
//! fixed ports, which takes a block below the range the system picks from.

use std::path::Path;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use zato_api::lb::{BackendState, LbStats};

use crate::cli::{
    Running, deploy_hello_at_slash_hello, quickstart_cluster, signal, start, text, zato,
};
use crate::harness::eventually;

/// `zato lb status ENV --json`, once it answers with `n` backends up.
async fn up(env: &str, n: usize) -> LbStats {
    eventually(
        Duration::from_secs(30),
        &format!("{n} backends up in `zato lb status`"),
        || async {
            let status = zato(&["lb", "status", env, "--json"]).await;
            let stats: LbStats = serde_json::from_slice(&status.stdout).ok()?;
            let up = stats
                .backends
                .iter()
                .filter(|b| b.state == BackendState::Up)
                .count();
            (status.status.success() && up == n).then_some(stats)
        },
    )
    .await
}

/// `zato lb status ENV --json`, which must succeed.
async fn status(env: &str) -> LbStats {
    let status = zato(&["lb", "status", env, "--json"]).await;
    assert!(status.status.success(), "{}", text(&status.stdout));
    serde_json::from_slice(&status.stdout).unwrap()
}

/// The requests the load balancer sent to the server named `name`.
fn requests_of(stats: &LbStats, name: &str) -> u64 {
    stats
        .backends
        .iter()
        .find(|b| b.name.as_deref() == Some(name))
        .unwrap_or_else(|| panic!("no backend {name}: {stats:?}"))
        .requests
}

/// GETs `/zato/ping` and the `/hello` channel through the load balancer `n` times each;
/// every one must succeed.
async fn through(http: &reqwest::Client, base: &str, n: usize) {
    for _ in 0..n {
        let ping = http.get(format!("{base}/zato/ping")).send().await.unwrap();
        assert_eq!(ping.status(), StatusCode::OK);
        let hello = http
            .get(format!("{base}/hello?name=lb"))
            .send()
            .await
            .unwrap();
        assert_eq!(hello.status(), StatusCode::OK);
        let answer: Value = hello.json().await.unwrap();
        assert_eq!(answer["message"], "Hello, lb!", "{answer}");
    }
}

/// Stops a `zato start` or `zato lb start` process with SIGTERM; it must exit 0.
async fn stop(mut process: Running, log: &Path) {
    signal(&process.0.id().unwrap().to_string(), "TERM").await;
    let status = tokio::time::timeout(Duration::from_secs(30), process.0.wait())
        .await
        .expect("stops on SIGTERM")
        .unwrap();
    assert!(
        status.success(),
        "a clean stop exits 0; log:\n{}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}

/// A cluster of three made and started by the CLI serves every request through its load
/// balancer, spread over the three; a drained server gets no new ones until put back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zato_start_puts_the_load_balancer_in_front_and_zato_lb_drains_a_server() {
    let dir = tempfile::tempdir().unwrap();
    let env = dir.path().join("env");
    let env_arg = env.to_str().unwrap();
    quickstart_cluster(env_arg, &["--lb-port", "0"]).await;
    let lb_toml = std::fs::read_to_string(env.join("lb/lb.toml")).unwrap();
    assert!(
        lb_toml.contains("bind = \"127.0.0.1:0\"")
            && lb_toml.contains("\"../server3/address\"")
            && lb_toml.contains("credentials = \"../credentials.toml\""),
        "{lb_toml}"
    );

    let log = dir.path().join("start.log");
    let supervisor = start(&env, &log).await;
    let stats = up(env_arg, 3).await;
    let base = format!("http://{}", stats.address);
    assert_eq!(
        std::fs::read_to_string(env.join("lb/address"))
            .unwrap()
            .trim(),
        stats.address,
        "the load balancer on port 0 writes where it listens"
    );

    deploy_hello_at_slash_hello(env_arg).await;
    // The other servers learn of the channel from a notice: each answers it first.
    let http = crate::harness::http_client();
    for backend in &stats.backends {
        let url = format!("http://{}/hello?name=lb", backend.address);
        eventually(
            Duration::from_secs(10),
            &format!("the channel on {}", backend.address),
            || {
                let request = http.get(&url).send();
                async move { request.await.ok()?.status().is_success().then_some(()) }
            },
        )
        .await;
    }

    // Round-robin: every server takes some of the requests.
    let before = status(env_arg).await;
    through(&http, &base, 30).await;
    let after = status(env_arg).await;
    for name in ["server1", "server2", "server3"] {
        assert!(
            requests_of(&after, name) > requests_of(&before, name),
            "{name} got none of the requests: {after:?}"
        );
    }

    // Drained: server2 gets nothing new, and nothing fails.
    let drained = zato(&["lb", "drain", "server2", env_arg, "--json"]).await;
    assert!(drained.status.success(), "{}", text(&drained.stdout));
    let backend: Value = serde_json::from_slice(&drained.stdout).unwrap();
    assert_eq!(backend["state"], "draining", "{backend}");
    let human = zato(&["lb", "status", env_arg]).await;
    let table = text(&human.stdout);
    assert!(
        table.contains("BACKEND")
            && table
                .lines()
                .any(|l| l.starts_with("server2") && l.contains("draining")),
        "{table}"
    );
    let before = status(env_arg).await;
    through(&http, &base, 30).await;
    let after = status(env_arg).await;
    assert_eq!(
        requests_of(&after, "server2"),
        requests_of(&before, "server2"),
        "a drained server gets no new request"
    );
    for name in ["server1", "server3"] {
        assert!(requests_of(&after, name) > requests_of(&before, name));
    }

    // Mistakes say what is wrong.
    let unknown = zato(&["lb", "drain", "server9", env_arg]).await;
    assert_eq!(unknown.status.code(), Some(1));
    assert!(
        text(&unknown.stderr).contains("no backend `server9`"),
        "{}",
        text(&unknown.stderr)
    );
    let wrong = zato(&[
        "lb",
        "drain",
        "server2",
        env_arg,
        "--undo",
        "--password",
        "not-the-password",
    ])
    .await;
    assert_eq!(wrong.status.code(), Some(3), "{}", text(&wrong.stderr));

    // Undone: server2 is back in rotation.
    let undone = zato(&["lb", "drain", "server2", "--undo", "--env", env_arg]).await;
    assert!(undone.status.success(), "{}", text(&undone.stderr));
    let before = requests_of(&up(env_arg, 3).await, "server2");
    through(&http, &base, 10).await;
    assert!(requests_of(&status(env_arg).await, "server2") > before);

    // Killed, the load balancer is restarted by `zato start` as a server would be (on a
    // new port: it binds port 0).
    let children = tokio::process::Command::new("ps")
        .args(["-o", "pid=,args=", "--ppid"])
        .arg(supervisor.0.id().unwrap().to_string())
        .output()
        .await
        .unwrap();
    let children = text(&children.stdout);
    let lb_pid = children
        .lines()
        .find(|l| l.contains(" lb start "))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("no `zato lb start` child: {children}"))
        .to_owned();
    signal(&lb_pid, "KILL").await;
    let stats = eventually(
        Duration::from_secs(30),
        "the load balancer restarted",
        || async {
            let status = zato(&["lb", "status", env_arg, "--json"]).await;
            let stats: LbStats = serde_json::from_slice(&status.stdout).ok()?;
            (stats.address != base.trim_start_matches("http://")).then_some(stats)
        },
    )
    .await;
    let base = format!("http://{}", stats.address);
    up(env_arg, 3).await;
    through(&http, &base, 3).await;

    // `zato info` shows the load balancer, beside the servers and with each of them.
    let info = zato(&["info", env_arg]).await;
    assert!(info.status.success(), "{}", text(&info.stderr));
    assert!(
        text(&info.stdout).contains(&format!("load balancer: {base} (round-robin")),
        "{}",
        text(&info.stdout)
    );
    let info = zato(&["info", env_arg, "--json"]).await;
    let info: Value = serde_json::from_slice(&info.stdout).unwrap();
    assert_eq!(info["lb"]["url"], base.as_str(), "{info}");
    assert_eq!(info["lb"]["answers"], true, "{info}");
    assert_eq!(info["lb"]["algorithm"], "round-robin", "{info}");
    let servers = info["servers"].as_array().unwrap();
    assert_eq!(servers.len(), 3, "{servers:?}");
    for server in servers {
        assert_eq!(server["lb"]["url"], base.as_str(), "{server}");
        assert_eq!(server["lb"]["answers"], true, "{server}");
        assert_eq!(server["lb"]["state"], "up", "{server}");
    }
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(
        logged.contains("started 3 servers, the load balancer and the web admin")
            && logged.contains("load balancer `lb` exited (signal: 9"),
        "{logged}"
    );

    // Stopped, the load balancer says so: exit 3, one JSON document with --json.
    stop(supervisor, &log).await;
    assert!(
        !env.join("lb/address").exists(),
        "a clean stop removes the address the load balancer listened on"
    );
    let down = zato(&["lb", "status", env_arg]).await;
    assert_eq!(down.status.code(), Some(3));
    assert!(
        text(&down.stderr).contains("the load balancer is not running"),
        "{}",
        text(&down.stderr)
    );
    // Killed, it would leave its address behind: nothing answers there.
    std::fs::write(env.join("lb/address"), "127.0.0.1:1\n").unwrap();
    let down = zato(&["lb", "status", env_arg, "--json"]).await;
    assert_eq!(down.status.code(), Some(3));
    let error: Value = serde_json::from_slice(&down.stdout).unwrap();
    assert_eq!(error["exit_code"], 3, "{error}");
    assert!(
        error["error"]
            .as_str()
            .unwrap()
            .contains("the load balancer at http://127.0.0.1:1 does not answer"),
        "{error}"
    );
}

/// One server: `zato lb start` runs its load balancer alone, and `zato start ENV` runs
/// both in one process; an environment made with `--no-lb` has none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zato_lb_start_runs_one_alone_and_one_server_runs_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let env = dir.path().join("env");
    let env_arg = env.to_str().unwrap();
    // --base-port 0 alone: the load balancer's port is the system's pick too.
    let created = zato(&["quickstart", "create", env_arg, "--base-port", "0"]).await;
    assert!(created.status.success(), "{}", text(&created.stderr));
    let http = crate::harness::http_client();
    let ping = |base: String| {
        let request = http.get(format!("{base}/zato/ping")).send();
        async move {
            let response = request.await.unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            let ping: Value = response.json().await.unwrap();
            assert_eq!(ping["server"], "server1", "{ping}");
        }
    };

    // The server alone (its own directory names no load balancer), and the load
    // balancer alone in front of it.
    let server_log = dir.path().join("server.log");
    let server = start(&env.join("server1"), &server_log).await;
    let lb_log = dir.path().join("lb.log");
    let lb = Running(
        tokio::process::Command::new(env!("CARGO_BIN_EXE_zato"))
            .args(["lb", "start"])
            .arg(env.join("lb"))
            .stderr(std::fs::File::create(&lb_log).unwrap())
            .spawn()
            .unwrap(),
    );
    let stats = up(env_arg, 1).await;
    ping(format!("http://{}", stats.address)).await;
    assert!(
        std::fs::read_to_string(&lb_log)
            .unwrap()
            .contains("load balancer listening on"),
        "it logs as a server does"
    );
    stop(lb, &lb_log).await;
    assert!(!env.join("lb/address").exists());
    let down = zato(&["lb", "status", "--env", env_arg]).await;
    assert_eq!(down.status.code(), Some(3), "{}", text(&down.stderr));
    stop(server, &server_log).await;

    // `zato start ENV`: the server and its load balancer.
    let log = dir.path().join("start.log");
    let both = start(&env, &log).await;
    let stats = up(env_arg, 1).await;
    ping(format!("http://{}", stats.address)).await;
    stop(both, &log).await;
    assert!(!env.join("lb/address").exists() && !env.join("server1/address").exists());

    // None at all.
    let bare = dir.path().join("bare");
    let created = zato(&[
        "quickstart",
        "create",
        bare.to_str().unwrap(),
        "--base-port",
        "0",
        "--no-lb",
    ])
    .await;
    assert!(created.status.success(), "{}", text(&created.stderr));
    assert!(!bare.join("lb").exists());
    let none = zato(&["lb", "status", bare.to_str().unwrap()]).await;
    assert_eq!(none.status.code(), Some(3));
    assert!(
        text(&none.stderr).contains("has no load balancer"),
        "{}",
        text(&none.stderr)
    );
}

/// A port P with P to P+3 free on 127.0.0.1, below the range the system picks port 0
/// from, so that no test binding port 0 takes one of them meanwhile.
fn free_block() -> u16 {
    let low: u16 = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse().ok())
        .unwrap_or(32768);
    loop {
        let span = u128::from(low.saturating_sub(10_004).max(1));
        let base = 10_000 + (uuid::Uuid::new_v4().as_u128() % span) as u16;
        if (base..base + 4).all(|port| std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()) {
            return base;
        }
    }
}

/// The load balancer's stats at `base` once `n` backends are up, or `None` after a
/// minute.
async fn serving(http: &reqwest::Client, base: &str, n: usize) -> Option<LbStats> {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while std::time::Instant::now() < deadline {
        if let Ok(response) = http.get(format!("{base}/zato-lb-stats")).send().await
            && let Ok(stats) = response.json::<LbStats>().await
            && stats
                .backends
                .iter()
                .filter(|b| b.state == BackendState::Up)
                .count()
                == n
        {
            return Some(stats);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

/// The interface the acceptance checks use: `zato quickstart create DIR --servers 3
/// --base-port P --lb-port L --redis URL`, then `zato start DIR`, serves `/zato/ping`
/// and every channel through 127.0.0.1:L, and the servers keep ports P, P+1 and P+2.
/// Without --lb-port the load balancer listens on Zato's 11223.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fixed_ports_put_the_servers_on_p_to_p_plus_2_and_the_load_balancer_on_l() {
    let dir = tempfile::tempdir().unwrap();
    let redis = crate::harness::REDIS;
    let http = crate::harness::http_client();

    // No --lb-port: Zato's port (the environment is only made, not started).
    let default = dir.path().join("default");
    let created = zato(&[
        "quickstart",
        "create",
        default.to_str().unwrap(),
        "--servers",
        "3",
        "--base-port",
        "17010",
        "--redis",
        redis,
    ])
    .await;
    assert!(created.status.success(), "{}", text(&created.stderr));
    let config = zato_lb::LbConfig::load(&default.join("lb/lb.toml")).unwrap();
    assert_eq!(config.bind, "127.0.0.1:11223");

    // Fixed ports, free when chosen; another block if one was taken before the servers
    // bound it. A cluster name of its own keeps its Redis keys apart, and the web admin
    // takes a port the system picks, as no other test can collide with it then.
    let mut attempt = 0;
    let (env, p, l, supervisor, log, stats) = loop {
        attempt += 1;
        let p = free_block();
        let l = p + 3;
        let env = dir.path().join(format!("env{attempt}"));
        let cluster = format!("t{}", uuid::Uuid::new_v4().simple());
        let created = zato(&[
            "quickstart",
            "create",
            env.to_str().unwrap(),
            "--servers",
            "3",
            "--base-port",
            &p.to_string(),
            "--lb-port",
            &l.to_string(),
            "--redis",
            redis,
            "--cluster",
            &cluster,
            "--web-admin-port",
            "0",
        ])
        .await;
        assert!(created.status.success(), "{}", text(&created.stderr));
        let log = dir.path().join(format!("start{attempt}.log"));
        let supervisor = start(&env, &log).await;
        if let Some(stats) = serving(&http, &format!("http://127.0.0.1:{l}"), 3).await {
            break (env, p, l, supervisor, log, stats);
        }
        drop(supervisor);
        let logged = std::fs::read_to_string(&log).unwrap_or_default();
        assert!(
            attempt < 3 && logged.contains("in use"),
            "not serving on ports {p}-{} and {l}; log:\n{logged}",
            p + 2
        );
    };
    let env_arg = env.to_str().unwrap();
    let base = format!("http://127.0.0.1:{l}");
    assert_eq!(stats.address, format!("127.0.0.1:{l}"));
    let mut backends: Vec<(String, String)> = stats
        .backends
        .iter()
        .map(|b| (b.name.clone().unwrap_or_default(), b.address.clone()))
        .collect();
    backends.sort();
    let expected: Vec<(String, String)> = (0..3u16)
        .map(|i| (format!("server{}", i + 1), format!("127.0.0.1:{}", p + i)))
        .collect();
    assert_eq!(backends, expected, "the servers keep their ports");
    for (name, address) in &expected {
        let ping: Value = http
            .get(format!("http://{address}/zato/ping"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(ping["server"], name.as_str(), "{ping}");
    }
    let found = status(env_arg).await;
    assert_eq!(found.address, format!("127.0.0.1:{l}"), "the CLI finds it");

    deploy_hello_at_slash_hello(env_arg).await;
    // Each server learns of the channel from a notice: each answers it first.
    for (_, address) in &expected {
        let url = format!("http://{address}/hello?name=lb");
        eventually(
            Duration::from_secs(10),
            &format!("the channel on {address}"),
            || {
                let request = http.get(&url).send();
                async move { request.await.ok()?.status().is_success().then_some(()) }
            },
        )
        .await;
    }
    let before = status(env_arg).await;
    through(&http, &base, 15).await;
    let after = status(env_arg).await;
    for (name, _) in &expected {
        assert!(
            requests_of(&after, name) > requests_of(&before, name),
            "{name} got none of the requests through 127.0.0.1:{l}: {after:?}"
        );
    }
    stop(supervisor, &log).await;
}

/// A quickstart environment trusts its own load balancer's `X-Forwarded-For`: a rate
/// limit's allow list sees the address of the client the load balancer served, not the
/// load balancer's. A client bound to 127.0.0.2 is allowed through it; one on
/// 127.0.0.1 is not, though the load balancer itself reaches the server from there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quickstart_server_counts_the_client_its_load_balancer_forwards() {
    let dir = tempfile::tempdir().unwrap();
    let env = dir.path().join("env");
    let env_arg = env.to_str().unwrap();
    let created = zato(&["quickstart", "create", env_arg, "--base-port", "0"]).await;
    assert!(created.status.success(), "{}", text(&created.stderr));
    let log = dir.path().join("start.log");
    let running = start(&env, &log).await;
    let lb = up(env_arg, 1).await.address;
    deploy_hello_at_slash_hello(env_arg).await;
    for args in [
        &[
            "rate-limit",
            "create",
            "--name",
            "only-two",
            "--rule",
            "127.0.0.2/32 = unlimited",
        ][..],
        &[
            "rate-limit",
            "attach",
            "only-two",
            "--http-channel",
            "hello",
        ][..],
    ] {
        let mut args = args.to_vec();
        args.extend(["--env", env_arg]);
        let (code, answer) = crate::cli::zato_json(&args).await;
        assert_eq!(code, 0, "{args:?}: {answer}");
    }
    let from = |ip: [u8; 4]| {
        reqwest::Client::builder()
            .local_address(std::net::IpAddr::from(ip))
            .build()
            .unwrap()
    };
    let (two, one) = (from([127, 0, 0, 2]), from([127, 0, 0, 1]));
    let hello = format!("http://{lb}/hello?name=lb");
    // The channel and its limit reach the server through the ODB's change feed.
    eventually(
        Duration::from_secs(30),
        "127.0.0.1 refused through the load balancer once the limit is attached",
        || async {
            let answer = one.get(&hello).send().await.ok()?;
            (answer.status() == StatusCode::FORBIDDEN).then_some(())
        },
    )
    .await;
    let refused: Value = one.get(&hello).send().await.unwrap().json().await.unwrap();
    assert!(
        refused["error"]
            .as_str()
            .is_some_and(|e| e.contains("address 127.0.0.1 is not allowed")),
        "{refused}"
    );
    let allowed = two.get(&hello).send().await.unwrap();
    assert_eq!(
        allowed.status(),
        StatusCode::OK,
        "from 127.0.0.2 through the LB"
    );
    stop(running, &log).await;
}
