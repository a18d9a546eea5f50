//! Three `zato start` servers, each on a host of its own, behind the load balancer, so
//! that nothing may assume 127.0.0.1: a network namespace per server, joined to this
//! one by a veth pair the test makes (and removes, failed or not). Making namespaces
//! takes root; without it the test says why and passes.
//!
//! The hosts share the filesystem, so the ODB is one SQLite file; Redis listens on this
//! host's loopback only, so each host reaches it through a forwarder in the test,
//! bound to this host's end of its veth pair.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, TcpStream};
use zato_api::lb::{BackendState, BackendStats, LbStats};
use zato_lb::{Lb, LbConfig};

use crate::cli::{
    Running, deploy_hello_at_slash_hello, fast_membership, quickstart_cluster, text, wait_for_ping,
};
use crate::harness::eventually;
use crate::lb::{Load, load_for, requests_of, stats, up_by_name};

/// One host: a network namespace and the veth pair that joins it to this one.
struct Host {
    netns: String,
    /// This namespace's end of the pair, and its address.
    outer: String,
    outer_ip: Ipv4Addr,
    /// The host's end, and its address (the one its server binds).
    inner: String,
    ip: Ipv4Addr,
}

/// The hosts of one test, removed when dropped.
struct Hosts(Vec<Host>);

impl Drop for Hosts {
    fn drop(&mut self) {
        for host in &self.0 {
            // Deleting one end deletes the pair; the namespace itself goes once its last
            // process has exited.
            let _ = ip(&["link", "del", &host.outer]);
            let _ = ip(&["netns", "del", &host.netns]);
        }
    }
}

impl Hosts {
    /// `n` hosts, each on a /30 of a /24 of 10.0.0.0/8 that nothing here uses. An error
    /// only when a namespace cannot be made at all (the test is then skipped).
    fn make(n: u8) -> Result<Self, String> {
        let tag = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
        let (a, b) = free_subnet();
        let mut hosts = Self(Vec::new());
        for i in 0..n {
            let netns = format!("zato-{tag}-{i}");
            ip(&["netns", "add", &netns])?;
            hosts.0.push(Host {
                netns,
                // At most 15 characters: an interface name's limit.
                outer: format!("zo{tag}{i}"),
                outer_ip: Ipv4Addr::new(10, a, b, 4 * i + 1),
                inner: format!("zi{tag}{i}"),
                ip: Ipv4Addr::new(10, a, b, 4 * i + 2),
            });
            let host = &hosts.0[usize::from(i)];
            let (outer_ip, inner_ip) = (format!("{}/30", host.outer_ip), format!("{}/30", host.ip));
            let (ns, outer, inner) = (
                host.netns.as_str(),
                host.outer.as_str(),
                host.inner.as_str(),
            );
            for args in [
                &[
                    "link", "add", outer, "type", "veth", "peer", "name", inner, "netns", ns,
                ][..],
                &["addr", "add", &outer_ip, "dev", outer],
                &["link", "set", outer, "up"],
                &["-n", ns, "addr", "add", &inner_ip, "dev", inner],
                &["-n", ns, "link", "set", inner, "up"],
                &["-n", ns, "link", "set", "lo", "up"],
            ] {
                ip(args).unwrap_or_else(|e| panic!("{e}"));
            }
        }
        Ok(hosts)
    }
}

/// Runs `ip ARGS`; on failure, says what it said.
fn ip(args: &[&str]) -> Result<(), String> {
    let output = std::process::Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run `ip`: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`ip {}`: {}",
            args.join(" "),
            text(&output.stderr).trim()
        ))
    }
}

/// `10.A.B.0/24` with no address or route of this machine in it, from random bytes
/// (so that test runs at once are unlikely to pick the same one).
fn free_subnet() -> (u8, u8) {
    let mut used = String::new();
    for what in ["addr", "route"] {
        let output = std::process::Command::new("ip")
            .args(["-4", "-o", what])
            .output()
            .expect("`ip` runs");
        used.push_str(&text(&output.stdout));
    }
    for _ in 0..100 {
        let random = uuid::Uuid::new_v4();
        let [a, b, ..] = *random.as_bytes();
        let prefix = format!("10.{a}.{b}.");
        if !used
            .split_whitespace()
            .any(|word| word.starts_with(&prefix))
        {
            return (a, b);
        }
    }
    panic!("no free /24 in 10.0.0.0/8: {used}");
}

fn is_root() -> bool {
    // `Uid:` real, effective, saved, filesystem.
    std::fs::read_to_string("/proc/self/status").is_ok_and(|status| {
        status
            .lines()
            .find_map(|line| line.strip_prefix("Uid:"))
            .and_then(|uids| uids.split_whitespace().nth(1))
            == Some("0")
    })
}

/// Forwards connections made to `from` (port picked by the system) to `to`, for as long
/// as the test runs; returns where it listens.
async fn forwarder(from: Ipv4Addr, to: &'static str) -> SocketAddr {
    let listener = TcpListener::bind((from, 0)).await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            tokio::spawn(async move {
                if let Ok(mut outbound) = TcpStream::connect(to).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    address
}

/// Makes the server of `server_toml` listen on `host` and reach Redis through `redis`.
fn place(server_toml: &Path, host: &Host, redis: SocketAddr) {
    let mut config: toml::Table = std::fs::read_to_string(server_toml)
        .unwrap()
        .parse()
        .unwrap();
    config.insert("bind".into(), format!("{}:0", host.ip).into());
    config.insert("kvdb".into(), format!("redis://{redis}").into());
    std::fs::write(server_toml, toml::to_string(&config).unwrap()).unwrap();
}

/// `zato start SERVER_DIR` inside `host`'s namespace (`ip netns exec` execs it: the
/// child is the server).
fn start_on(host: &Host, server_dir: &Path, log: &Path) -> Running {
    let log = std::fs::File::create(log).unwrap();
    let child = tokio::process::Command::new("ip")
        .args([
            "netns",
            "exec",
            &host.netns,
            env!("CARGO_BIN_EXE_zato"),
            "start",
        ])
        .arg(server_dir)
        .env_remove("ZATO_ENV")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    Running(child)
}

/// The servers, one a host.
const SERVERS: [&str; 3] = ["server1", "server2", "server3"];

/// Clients sending GETs at once under load.
const CLIENTS: usize = 4;

/// The load balancer in front of the environment's servers. A host unplugged drops
/// packets: connections to it time out rather than being refused, so the timeouts are
/// short.
fn lb_config(health_interval_ms: u64) -> LbConfig {
    toml::from_str(&format!(
        "bind = \"127.0.0.1:0\"\n\
         [cluster]\ncredentials = \"credentials.toml\"\n\
         address_files = [\"server1/address\", \"server2/address\", \"server3/address\"]\n\
         poll_ms = 200\n\
         [health]\ninterval_ms = {health_interval_ms}\ntimeout_ms = 300\n\
         [limits]\nconnect_timeout_ms = 200\nresponse_timeout_ms = 1000\n",
    ))
    .unwrap()
}

/// Sets the host's end of its link `down` (its packets are dropped; this end down
/// would route them to the default gateway instead) or `up`.
fn link(host: &Host, state: &str) {
    ip(&["-n", &host.netns, "link", "set", &host.inner, state]).unwrap_or_else(|e| panic!("{e}"));
}

fn backend<'a>(stats: &'a LbStats, name: &str) -> Option<&'a BackendStats> {
    stats
        .backends
        .iter()
        .find(|b| b.name.as_deref() == Some(name))
}

/// Three servers on three hosts behind the load balancer: it finds them at their
/// hosts' addresses and spreads requests over all three. When one host's link goes
/// down under continuous GETs (timeouts, not refusals), its health checks take it out
/// (and the GETs waiting on it go to another server: none fails) and put it back
/// when the link comes back; when a request is the first to find a host unplugged, its
/// connection times out and it goes to another server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_servers_on_hosts_of_their_own_behind_the_lb_and_one_unplugged_under_load() {
    let started = Instant::now();
    if !is_root() {
        eprintln!("lb_netns skipped: making network namespaces takes root");
        return;
    }
    // Declared first, dropped last: after the servers in its namespaces are killed.
    let hosts = match Hosts::make(3) {
        Ok(hosts) => hosts,
        Err(e) => {
            eprintln!("lb_netns skipped: cannot make a network namespace: {e}");
            return;
        }
    };
    let dir = tempfile::tempdir().unwrap();
    let env = dir.path().join("env");
    let env_arg = env.to_str().unwrap();
    quickstart_cluster(env_arg, &[]).await;
    let redis = crate::harness::REDIS.trim_start_matches("redis://");
    let mut servers = Vec::new();
    for (i, host) in hosts.0.iter().enumerate() {
        let server_dir = env.join(format!("server{}", i + 1));
        let server_toml = server_dir.join("server.toml");
        fast_membership(&server_toml);
        place(&server_toml, host, forwarder(host.outer_ip, redis).await);
        let log = dir.path().join(format!("server{}.log", i + 1));
        servers.push(start_on(host, &server_dir, &log));
    }
    for (i, host) in hosts.0.iter().enumerate() {
        let base = wait_for_ping(&env.join(format!("server{}", i + 1))).await;
        assert!(
            base.starts_with(&format!("http://{}:", host.ip)),
            "server{} listens on its host: {base}",
            i + 1
        );
    }

    // The CLI reaches server1 on its host, at the address it wrote.
    deploy_hello_at_slash_hello(env_arg).await;

    let lb = Lb::start(lb_config(200), &env).await.unwrap();
    let base = format!("http://{}", lb.addr());
    up_by_name(&base, &SERVERS).await;
    let found = stats(&base).await;
    for (i, host) in hosts.0.iter().enumerate() {
        let name = format!("server{}", i + 1);
        let written = std::fs::read_to_string(env.join(&name).join("address")).unwrap();
        let backend = backend(&found, &name).unwrap_or_else(|| panic!("{name}: {found:?}"));
        assert_eq!(backend.address, written.trim(), "{found:?}");
        assert!(
            backend.address.starts_with(&format!("{}:", host.ip)),
            "{name} at its host's address, not the loopback: {found:?}"
        );
    }
    assert_eq!(found.backends.len(), 3, "{found:?}");

    let http = crate::harness::http_client();
    let hello = |base: &str| {
        let request = http.get(format!("{base}/hello?name=x")).send();
        async move {
            let response = request.await.unwrap();
            assert_eq!(response.status(), reqwest::StatusCode::OK);
            let body: serde_json::Value = response.json().await.unwrap();
            assert_eq!(body["message"], "Hello, x!");
        }
    };
    for _ in 0..30 {
        hello(&base).await;
    }
    let spread = stats(&base).await;
    let counts = SERVERS.map(|name| requests_of(&spread, name));
    assert!(counts.iter().all(|&n| n > 0), "{counts:?}");
    assert_eq!(counts.iter().sum::<u64>(), 30, "{spread:?}");

    // server2's host unplugged under continuous GETs: out of rotation once its health
    // checks time out, back in once the link is.
    let load = Load::start(format!("{base}/hello?name=load"), CLIENTS);
    load_for(&load, 200).await;
    load.phase("three hosts");
    let server2 = &hosts.0[1];
    link(server2, "down");
    eventually(
        Duration::from_secs(5),
        "server2 out of rotation",
        || async {
            let stats = stats(&base).await;
            let server2 = backend(&stats, "server2")?;
            (server2.state != BackendState::Up && server2.in_flight == 0).then_some(())
        },
    )
    .await;
    load_for(&load, 300).await;
    load.phase("server2's host unplugged");
    link(server2, "up");
    up_by_name(&base, &["server2"]).await;
    let before = requests_of(&stats(&base).await, "server2");
    load_for(&load, 300).await;
    assert!(
        requests_of(&stats(&base).await, "server2") > before,
        "server2 takes requests again"
    );
    load.phase("server2's host plugged back");

    load.stop_with_no_failure().await;
    lb.stop().await;

    // A load balancer with no connection to server3 yet and no health check due for a
    // minute: when server3's host is unplugged, the first request sent there finds out
    // (its connection times out), goes to another server, and takes server3 out (a
    // health check could not: it takes two failed ones, `fall`).
    let quiet = Lb::start(lb_config(60_000), &env).await.unwrap();
    let base = format!("http://{}", quiet.addr());
    up_by_name(&base, &SERVERS).await;
    link(&hosts.0[2], "down");
    for _ in 0..30 {
        hello(&base).await;
    }
    let after = stats(&base).await;
    let server3 = backend(&after, "server3").unwrap();
    assert_eq!(server3.state, BackendState::Down, "{after:?}");
    assert_eq!((server3.requests, server3.errors), (0, 1), "{after:?}");
    let retried: u64 = after.backends.iter().map(|b| b.retries).sum();
    assert_eq!(retried, 1, "{after:?}");
    quiet.stop().await;

    drop(servers);
    drop(hosts);
    println!("lb_netns: {:?}", started.elapsed());
}
