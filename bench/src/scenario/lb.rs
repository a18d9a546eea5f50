//! Scenario 8: the load balancer, zato-lb against HAProxy, in front of the same two
//! servers serving `demo.hello`, with the same load generator, and the same load
//! straight to one server; then failover, each load balancer in turn losing one of the
//! two servers to `kill -9`.
//!
//! - The servers: two of one cluster (a private cluster name on the local Redis, a
//!   shared SQLite ODB), or two one-server environments when Redis is unreachable, on
//!   fixed ports picked free before they start (a restarted server must come back
//!   where both load balancers expect it).
//! - zato-lb: `zato lb start DIR`, DIR holding an `lb.toml` with the two servers as
//!   static `[[backends]]`, round-robin, every other setting its default (health checks
//!   of `/zato/ping` every second, in after 2 passed, out after 2 failed; 2 retries).
//! - HAProxy (Debian's package, installed with apt-get when missing and run as root):
//!   `haproxy -f CFG -db` with a configuration written here to match: `mode http`,
//!   `balance roundrobin`, keep-alive on both sides with idle backend connections
//!   reused (`http-reuse always`), `check inter 1s fall 2 rise 2` on `/zato/ping`, the
//!   same timeouts, 2 retries to another server for requests that got no answer, and
//!   the forwarding headers zato-lb adds (`option forwardfor`, `X-Forwarded-Proto`).
//! - Pinning, on two cores or more: the load balancer (either one) alone on one CPU,
//!   wrk and both servers on the other. Both load balancers thus get one core and one
//!   thread (`nbthread 1`; zato-lb's tokio runtime sizes itself to the one CPU it may
//!   use), and neither competes with the servers for it: its CPU per request is its own.
//!
//! As in scenario 1, every round runs every target once (warm-up, then the measured
//! run), starting with the next target each round, and the table gives medians.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

use super::Ctx;
use super::deploy::reachable;
use super::http::check_url;
use crate::process::{self, Proc, cpu_time_of};
use crate::report::{Row, Section, ms, ratio, thousands};
use crate::stats::{max, median};
use crate::wrk::{self, Load, Outcome};
use crate::zato::{Env, EnvOptions, wait_for};

/// What demo.hello answers the bench's requests.
const EXPECT: &str = "Hello, bench!";
/// Concurrent clients of the failover run, each one request at a time, keep-alive.
const FAILOVER_CLIENTS: usize = 16;
/// A request of the failover run that takes longer than this has failed.
const FAILOVER_TIMEOUT: Duration = Duration::from_secs(5);

/// The two sections this module fills.
pub struct Results {
    pub throughput: Section,
    pub failover: Section,
}

/// The two servers behind the load balancers.
struct Servers {
    /// One environment (a cluster of two) or two (one server each).
    envs: Vec<Env>,
    /// Server k: (index in `envs`, index in that environment).
    slots: [(usize, u16); 2],
    procs: Vec<Proc>,
    /// `HOST:PORT` of each server.
    addrs: [String; 2],
    cpu: Option<usize>,
}

impl Servers {
    /// Starts server `k` on its fixed port (`zato start ENV/serverN`, as `Env::start`
    /// does), and writes the `address` file the admin client reads: a server writes it
    /// itself only when it binds port 0.
    fn start(&mut self, k: usize, zato: &Path, logs: &Path) -> anyhow::Result<Proc> {
        let (e, i) = self.slots[k];
        let dir = self.envs[e].dir.join(format!("server{}", i + 1));
        let mut cmd = process::command(zato, self.cpu);
        cmd.arg("start").arg(&dir);
        let name = format!("zato-lb-server{}", k + 1);
        let proc = Proc::spawn(&name, cmd, logs, false)?;
        std::fs::write(dir.join("address"), &self.addrs[k])?;
        Ok(proc)
    }

    fn url(&self, k: usize, path: &str) -> String {
        format!("http://{}{path}", self.addrs[k])
    }
}

/// A load balancer under test.
struct Balancer {
    label: &'static str,
    proc: Proc,
    url: String,
}

/// One URL under load.
struct Target {
    label: &'static str,
    url: String,
    /// Index in the balancers, none for the direct target.
    balancer: Option<usize>,
}

/// One measured run.
struct Run {
    target: usize,
    connections: u32,
    outcome: Outcome,
    /// CPU time of the load balancer per answered request, in µs.
    lb_cpu_us: Option<f64>,
    /// Share of its core the load balancer used during the run.
    lb_busy: Option<f64>,
    /// CPU time of both servers together per answered request, in µs.
    servers_cpu_us: Option<f64>,
}

pub async fn run(ctx: &Ctx<'_>) -> anyhow::Result<Results> {
    let wrk = ctx
        .wrk
        .as_deref()
        .context("the load balancer scenario needs wrk")?;
    let haproxy = ensure_haproxy()?;
    let haproxy_version =
        process::run("haproxy -v", std::process::Command::new(&haproxy).arg("-v"))
            .map(|v| v.lines().next().unwrap_or("").trim().to_owned())
            .unwrap_or_default();
    let mut notes = Vec::new();
    // The load balancer alone on one CPU, wrk and the servers on the other.
    let lb_cpu = ctx.server_cpu();
    let rest_cpu = ctx.load_cpu();

    let mut servers = start_servers(ctx, rest_cpu, &mut notes).await?;
    let balancers_dir = ctx.work.join("lb");
    let mut balancers = vec![
        start_zato_lb(ctx, &balancers_dir.join("zato-lb"), &servers.addrs, lb_cpu).await?,
        start_haproxy(ctx, &haproxy, &balancers_dir, &servers.addrs, lb_cpu).await?,
    ];
    // Both load balancers put a server in rotation after 2 passed checks 1 s apart.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let targets = [
        Target {
            label: "direct to server 1",
            url: servers.url(0, "/demo/hello?name=bench"),
            balancer: None,
        },
        Target {
            label: "zato-lb",
            url: format!("{}/demo/hello?name=bench", balancers[0].url),
            balancer: Some(0),
        },
        Target {
            label: "HAProxy",
            url: format!("{}/demo/hello?name=bench", balancers[1].url),
            balancer: Some(1),
        },
    ];
    for target in &targets {
        check_url(target.label, &target.url, None, EXPECT).await?;
    }

    let plan = ctx.plan;
    let mut runs = Vec::new();
    for &connections in &plan.connections {
        for round in 0..plan.rounds as usize {
            for k in 0..targets.len() {
                let t = (round + k) % targets.len();
                let target = &targets[t];
                eprintln!(
                    "[bench] lb: {connections} connections, round {}/{}: {}",
                    round + 1,
                    plan.rounds,
                    target.label
                );
                let load = |duration| Load {
                    url: &target.url,
                    connections,
                    duration,
                    script: None,
                    cpu: rest_cpu,
                    cores: plan.cores,
                };
                if !plan.warmup.is_zero() {
                    wrk::run(wrk, &load(plan.warmup)).await?;
                }
                for proc in &mut servers.procs {
                    proc.check_running()?;
                }
                let lb_pid = match target.balancer {
                    Some(b) => {
                        balancers[b].proc.check_running()?;
                        Some(balancers[b].proc.pid())
                    }
                    None => None,
                };
                let server_pids: Vec<u32> = servers.procs.iter().map(Proc::pid).collect();
                let lb_before = lb_pid.and_then(cpu_time_of);
                let servers_before = cpu_sum(&server_pids);
                let started = Instant::now();
                let outcome = wrk::run(wrk, &load(plan.duration)).await?;
                let wall = started.elapsed().as_secs_f64();
                let lb_after = lb_pid.and_then(cpu_time_of);
                let servers_after = cpu_sum(&server_pids);
                let per_request = |seconds: f64| {
                    (outcome.requests > 0).then(|| seconds * 1e6 / outcome.requests as f64)
                };
                let lb_seconds = match (lb_before, lb_after) {
                    (Some(b), Some(a)) => Some((a - b).as_secs_f64()),
                    _ => None,
                };
                let servers_cpu_us = match (servers_before, servers_after) {
                    (Some(b), Some(a)) => per_request((a - b).as_secs_f64()),
                    _ => None,
                };
                runs.push(Run {
                    target: t,
                    connections,
                    lb_cpu_us: lb_seconds.and_then(per_request),
                    lb_busy: lb_seconds.map(|s| s / wall),
                    servers_cpu_us,
                    outcome,
                });
            }
        }
    }
    let throughput = throughput_section(ctx, &targets, &runs, &haproxy_version, notes);

    let mut failover = Section::new(
        "8. Load balancer failover: one of the two servers killed (kill -9) under load",
        vec![
            "load balancer",
            "requests",
            "failed",
            "longest gap between answers",
            "gap before the kill",
            "slowest request",
            "answered req/s",
        ],
    );
    let (before, after) = if plan.quick {
        (Duration::from_secs(1), Duration::from_secs(4))
    } else {
        (Duration::from_secs(2), Duration::from_secs(6))
    };
    for balancer in &mut balancers {
        eprintln!(
            "[bench] lb: failover through {}: server 2 killed after {} s",
            balancer.label,
            before.as_secs()
        );
        balancer.proc.check_running()?;
        let url = format!("{}/demo/hello?name=bench", balancer.url);
        let victim = servers.procs[1].pid();
        let outcome = failover_run(&url, before, after, victim).await?;
        failover.rows.push(outcome.row(balancer.label));
        // Back in both rotations before the next load balancer's run.
        let mut proc = servers.start(1, &ctx.artifacts.zato, &ctx.logs)?;
        wait_for(
            &servers.url(1, "/zato/ping"),
            &mut proc,
            Duration::from_secs(60),
        )
        .await?;
        check_url(
            "server 2, restarted",
            &servers.url(1, "/demo/hello?name=bench"),
            None,
            EXPECT,
        )
        .await?;
        let killed = std::mem::replace(&mut servers.procs[1], proc);
        drop(killed);
        tokio::time::sleep(Duration::from_secs(4)).await;
    }
    failover.notes.push(format!(
        "{FAILOVER_CLIENTS} clients of zato-bench (reqwest, keep-alive, one request at a time each, a {} s timeout) loop on demo.hello through the load balancer; {} s in, server 2 is killed with SIGKILL, and they go on for {} s. failed: requests not answered 200 with demo.hello's answer (errors and timeouts included); longest gap: the longest time between two successive good answers, whoever got them, over the whole run; gap before the kill: the same before the kill, the noise floor; slowest request: the longest any request took, failed or not. Server 2 is restarted and given 4 s to be back in rotation before the next load balancer's run.",
        FAILOVER_TIMEOUT.as_secs(),
        before.as_secs(),
        after.as_secs()
    ));
    failover.notes.push(
        "Both load balancers check /zato/ping every second (out after 2 failures) and send a request that reached no server, or got no answer, to the other one (zato-lb: retries = 2 for idempotent requests; HAProxy: `retries 2`, `option redispatch 1`, `retry-on conn-failure empty-response`): a failure reaching the client is one neither could retry."
            .into(),
    );

    for balancer in balancers.drain(..) {
        balancer.proc.stop();
    }
    for proc in servers.procs.drain(..) {
        proc.stop();
    }
    Ok(Results {
        throughput,
        failover,
    })
}

fn throughput_section(
    ctx: &Ctx<'_>,
    targets: &[Target],
    runs: &[Run],
    haproxy_version: &str,
    mut notes: Vec<String>,
) -> Section {
    let plan = ctx.plan;
    let warmup = match plan.warmup.as_secs() {
        0 => ", no warm-up".to_owned(),
        s => format!(" after {s} s of warm-up"),
    };
    let mut section = Section::new(
        format!(
            "8. Load balancers: zato-lb and HAProxy in front of 2 servers (demo.hello, keep-alive, {} s runs{warmup}, median of {} round{})",
            plan.duration.as_secs(),
            plan.rounds,
            if plan.rounds == 1 { "" } else { "s" }
        ),
        vec![
            "target",
            "conns",
            "req/s",
            "p50",
            "p99",
            "req/s vs HAProxy",
            "p99 vs HAProxy",
            "LB CPU/req",
            "LB core busy",
            "servers CPU/req",
            "req/s per round",
        ],
    );
    let haproxy = targets
        .iter()
        .position(|t| t.label == "HAProxy")
        .unwrap_or(0);
    for &connections in &plan.connections {
        let of = |t: usize| -> Vec<&Run> {
            runs.iter()
                .filter(|r| r.target == t && r.connections == connections)
                .collect()
        };
        let figure = |runs: &[&Run], f: fn(&Run) -> Option<f64>| -> Option<f64> {
            let values: Vec<f64> = runs.iter().filter_map(|r| f(r)).collect();
            (!values.is_empty()).then(|| median(&values))
        };
        let reference = of(haproxy);
        let ref_rps = figure(&reference, |r| Some(r.outcome.rps)).unwrap_or(f64::NAN);
        let ref_p99 = figure(&reference, |r| Some(r.outcome.p99_ms)).unwrap_or(f64::NAN);
        for (t, target) in targets.iter().enumerate() {
            let own = of(t);
            let rps = figure(&own, |r| Some(r.outcome.rps)).unwrap_or(f64::NAN);
            let p50 = figure(&own, |r| Some(r.outcome.p50_ms)).unwrap_or(f64::NAN);
            let p99 = figure(&own, |r| Some(r.outcome.p99_ms)).unwrap_or(f64::NAN);
            let lb_cpu = figure(&own, |r| r.lb_cpu_us);
            let lb_busy = figure(&own, |r| r.lb_busy);
            let servers_cpu = figure(&own, |r| r.servers_cpu_us);
            let errors: u64 = own
                .iter()
                .map(|r| r.outcome.non_2xx + r.outcome.socket_errors)
                .sum();
            if errors > 0 {
                notes.push(format!(
                    "{} at {connections} connections: {errors} failed answers or socket errors during measured runs.",
                    target.label
                ));
            }
            let per_round = own
                .iter()
                .map(|r| thousands(r.outcome.rps))
                .collect::<Vec<_>>()
                .join(" / ");
            let us = |v: Option<f64>| v.map_or("-".into(), |us| format!("{us:.1} µs"));
            let mut row = Row::new("lb", target.label)
                .extra("connections", connections)
                .extra("p99_ratio_to_haproxy", p99 / ref_p99)
                .extra(
                    "rounds_rps",
                    own.iter().map(|r| r.outcome.rps).collect::<Vec<_>>(),
                )
                .extra("errors", errors)
                .extra("lb_cpu_us_per_request", lb_cpu)
                .extra("lb_core_busy", lb_busy)
                .extra("servers_cpu_us_per_request", servers_cpu)
                .cells(vec![
                    target.label.to_owned(),
                    connections.to_string(),
                    thousands(rps),
                    ms(p50),
                    ms(p99),
                    ratio(rps / ref_rps),
                    ratio(p99 / ref_p99),
                    us(lb_cpu),
                    lb_busy.map_or("-".into(), |b| format!("{:.0}%", b * 100.0)),
                    us(servers_cpu),
                    per_round,
                ]);
            row.rps = Some(rps);
            row.p50_ms = Some(p50);
            row.p99_ms = Some(p99);
            row.ratio_to_baseline = Some(rps / ref_rps);
            section.rows.push(row);
        }
    }
    match plan.pin {
        Some(pin) => notes.push(format!(
            "The load balancer under test (either one) is pinned to CPU {} with nothing else on it; wrk (one thread) and both servers share CPU {}. The direct row loads server 1 alone, on that same CPU: it is the latency of one hop less, not a capacity to compare.",
            pin.server, pin.load
        )),
        None => notes.push(
            "Not pinned: the load balancers, the servers and wrk share every core.".into(),
        ),
    }
    notes.push(format!(
        "HAProxy is {haproxy_version} (Debian's package), `nbthread 1`, configured as zato-lb is: round-robin, keep-alive to clients and servers with idle server connections reused (`http-reuse always`), health checks of /zato/ping every 1 s (fall 2, rise 2), 1 s to connect, 2 retries to another server. Ratios are to HAProxy's row of the same connections, in the same run."
    ));
    notes.push(
        "LB CPU/req: CPU time (user + system, all threads) of the load balancer's process during the measured run, divided by the requests wrk counted; LB core busy: that CPU time over the run's wall time (100% means the load balancer was the bottleneck). servers CPU/req: the same for both servers together."
            .into(),
    );
    section.notes = notes;
    section
}

/// The CPU time of every process in `pids`, summed.
fn cpu_sum(pids: &[u32]) -> Option<Duration> {
    pids.iter().map(|&pid| cpu_time_of(pid)).sum()
}

/// Two servers with demo.hello behind an HTTP channel, on ports picked free now.
async fn start_servers(
    ctx: &Ctx<'_>,
    cpu: Option<usize>,
    notes: &mut Vec<String>,
) -> anyhow::Result<Servers> {
    let (envs, slots) = if reachable(&ctx.plan.redis).await {
        let cluster = format!(
            "bench-lb-{}",
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        eprintln!("[bench] lb: a cluster of 2 servers ({cluster}, SQLite ODB, Redis)");
        let env = Env::create(
            &ctx.artifacts.zato,
            &ctx.work.join("lb-cluster"),
            &EnvOptions {
                servers: 2,
                cluster: &cluster,
                redis: Some(&ctx.plan.redis),
                odb: None,
            },
        )?;
        notes.push(format!(
            "The two servers are a cluster (a shared SQLite ODB, Redis at {}); demo.hello is deployed once, through server 1.",
            ctx.plan.redis
        ));
        (vec![env], [(0, 0), (0, 1)])
    } else {
        eprintln!("[bench] lb: no Redis; two one-server environments");
        let mut envs = Vec::new();
        for k in 1..=2 {
            envs.push(Env::create(
                &ctx.artifacts.zato,
                &ctx.work.join(format!("lb-server{k}")),
                &EnvOptions::one_server(&format!("bench-lb-{k}")),
            )?);
        }
        notes.push(format!(
            "No Redis at {}: the two servers are two one-server environments, demo.hello deployed to each.",
            ctx.plan.redis
        ));
        (envs, [(0, 0), (1, 0)])
    };
    let port = process::free_ports(2)?;
    let addrs = [
        format!("127.0.0.1:{port}"),
        format!("127.0.0.1:{}", port + 1),
    ];
    for (k, &(e, i)) in slots.iter().enumerate() {
        set_bind(
            &envs[e].dir.join(format!("server{}/server.toml", i + 1)),
            &addrs[k],
        )?;
    }
    let mut servers = Servers {
        envs,
        slots,
        procs: Vec::new(),
        addrs,
        cpu,
    };
    for k in 0..2 {
        let proc = servers.start(k, &ctx.artifacts.zato, &ctx.logs)?;
        servers.procs.push(proc);
    }
    for k in 0..2 {
        let url = servers.url(k, "/zato/ping");
        wait_for(&url, &mut servers.procs[k], Duration::from_secs(60)).await?;
    }
    let hello = std::fs::read(&ctx.artifacts.hello)?;
    let deployed_to: Vec<usize> = if servers.envs.len() == 1 {
        vec![0]
    } else {
        vec![0, 1]
    };
    for k in deployed_to {
        let (e, i) = servers.slots[k];
        let admin = servers.envs[e].admin(i);
        admin.status().await?;
        admin.deploy(hello.clone(), "demo.hello").await?;
        admin.channel("hello", "/demo/hello", "demo.hello").await?;
    }
    // In a cluster, server 2 gets the deploy and the channel through Redis.
    for k in 0..2 {
        let url = servers.url(k, "/demo/hello?name=bench");
        let started = Instant::now();
        while let Err(e) = check_url("demo.hello", &url, None, EXPECT).await {
            if started.elapsed() > Duration::from_secs(60) {
                return Err(e.context(format!("server {} never answered", k + 1)));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    Ok(servers)
}

/// Sets `bind` in a server's `server.toml`.
fn set_bind(path: &Path, addr: &str) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read `{}`", path.display()))?;
    let mut config: toml::Table = text
        .parse()
        .with_context(|| format!("invalid `{}`", path.display()))?;
    config.insert("bind".into(), addr.into());
    std::fs::write(path, toml::to_string(&config)?)
        .with_context(|| format!("cannot write `{}`", path.display()))
}

/// `zato lb start DIR` with the two servers as static backends, everything else default.
async fn start_zato_lb(
    ctx: &Ctx<'_>,
    dir: &Path,
    addrs: &[String; 2],
    cpu: Option<usize>,
) -> anyhow::Result<Balancer> {
    std::fs::create_dir_all(dir)?;
    let mut config = String::from("bind = \"127.0.0.1:0\"\nalgorithm = \"round-robin\"\n");
    for addr in addrs {
        write!(config, "\n[[backends]]\naddress = \"{addr}\"\n")?;
    }
    std::fs::write(dir.join("lb.toml"), config)?;
    let address = dir.join("address");
    let _ = std::fs::remove_file(&address);
    let mut cmd = process::command(&ctx.artifacts.zato, cpu);
    cmd.args(["lb", "start"]).arg(dir);
    let mut proc = Proc::spawn("zato-lb", cmd, &ctx.logs, false)?;
    let started = Instant::now();
    let addr = loop {
        if let Ok(text) = std::fs::read_to_string(&address)
            && !text.trim().is_empty()
        {
            break text.trim().to_owned();
        }
        proc.check_running()?;
        if started.elapsed() > Duration::from_secs(30) {
            bail!(
                "zato-lb did not write `{}`{}",
                address.display(),
                proc.log_tail()
            );
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let url = format!("http://{addr}");
    wait_for(
        &format!("{url}/demo/hello?name=bench"),
        &mut proc,
        Duration::from_secs(30),
    )
    .await?;
    Ok(Balancer {
        label: "zato-lb",
        proc,
        url,
    })
}

/// HAProxy's configuration, equivalent to zato-lb's defaults (see the module's doc).
fn haproxy_config(port: u16, addrs: &[String; 2]) -> String {
    let mut cfg = String::from(
        "global
    nbthread 1
    maxconn 4096

defaults
    mode http
    option http-keep-alive
    http-reuse always
    # zato-lb adds these to every request: HAProxy does the same work.
    option forwardfor
    timeout connect 1s
    timeout client 75s
    timeout server 60s
    timeout http-request 10s
    timeout http-keep-alive 75s
    timeout check 1s
    retries 2
    option redispatch 1
    retry-on conn-failure empty-response

",
    );
    let _ = write!(
        cfg,
        "frontend bench
    bind 127.0.0.1:{port}
    default_backend zato

backend zato
    balance roundrobin
    http-request set-header X-Forwarded-Proto http
    option httpchk GET /zato/ping
    http-check expect status 200
"
    );
    for (k, addr) in addrs.iter().enumerate() {
        let _ = writeln!(
            cfg,
            "    server s{} {addr} check inter 1s fall 2 rise 2",
            k + 1
        );
    }
    cfg
}

async fn start_haproxy(
    ctx: &Ctx<'_>,
    haproxy: &Path,
    dir: &Path,
    addrs: &[String; 2],
    cpu: Option<usize>,
) -> anyhow::Result<Balancer> {
    std::fs::create_dir_all(dir)?;
    let port = process::free_ports(1)?;
    let path = dir.join("haproxy.cfg");
    std::fs::write(&path, haproxy_config(port, addrs))?;
    let mut check = std::process::Command::new(haproxy);
    check.arg("-c").arg("-f").arg(&path);
    process::run("haproxy -c", &mut check)?;
    let mut cmd = process::command(haproxy, cpu);
    cmd.arg("-f").arg(&path).arg("-db");
    let mut proc = Proc::spawn("haproxy", cmd, &ctx.logs, false)?;
    let url = format!("http://127.0.0.1:{port}");
    wait_for(
        &format!("{url}/demo/hello?name=bench"),
        &mut proc,
        Duration::from_secs(30),
    )
    .await?;
    Ok(Balancer {
        label: "HAProxy",
        proc,
        url,
    })
}

/// Path to haproxy, installing Debian's package when it is missing and we are root.
fn ensure_haproxy() -> anyhow::Result<PathBuf> {
    let find = || {
        process::which("haproxy").or_else(|| {
            let sbin = PathBuf::from("/usr/sbin/haproxy");
            sbin.is_file().then_some(sbin)
        })
    };
    if let Some(path) = find() {
        return Ok(path);
    }
    let root = process::run("id", std::process::Command::new("id").arg("-u"))
        .map(|uid| uid.trim() == "0")
        .unwrap_or(false);
    if root {
        eprintln!(
            "[bench] haproxy is missing: installing Debian's package (apt-get install -y haproxy)"
        );
        // Not started by the package here (no systemd in most containers); the bench
        // runs its own instance on a port it picks anyway.
        let installed = std::process::Command::new("apt-get")
            .args(["install", "-y", "-qq", "haproxy"])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if installed && let Some(path) = find() {
            return Ok(path);
        }
    }
    bail!(
        "haproxy is missing: install it with `sudo apt-get install -y haproxy` \
         (after `sudo apt-get update` on a fresh machine)"
    )
}

/// What one failover run saw.
struct Failover {
    requests: usize,
    failed: usize,
    longest_gap_ms: f64,
    /// Where the longest gap started, relative to the kill, in ms.
    gap_at_ms: f64,
    gap_before_kill_ms: f64,
    slowest_ms: f64,
    answered_rps: f64,
}

impl Failover {
    fn row(&self, label: &str) -> Row {
        let mut row = Row::new("lb-failover", label)
            .extra("requests", self.requests)
            .extra("failed", self.failed)
            .extra("longest_gap_ms", self.longest_gap_ms)
            .extra("longest_gap_starts_after_kill_ms", self.gap_at_ms)
            .extra("gap_before_kill_ms", self.gap_before_kill_ms)
            .extra("slowest_request_ms", self.slowest_ms)
            .cells(vec![
                label.to_owned(),
                thousands(self.requests as f64),
                self.failed.to_string(),
                format!(
                    "{} ({:+.0} ms from the kill)",
                    ms(self.longest_gap_ms),
                    self.gap_at_ms
                ),
                ms(self.gap_before_kill_ms),
                ms(self.slowest_ms),
                thousands(self.answered_rps),
            ]);
        row.rps = Some(self.answered_rps);
        row
    }
}

/// Loads `url` with [`FAILOVER_CLIENTS`] clients for `before`, kills `victim` with
/// SIGKILL, and goes on for `after`; every request's times are kept.
async fn failover_run(
    url: &str,
    before: Duration,
    after: Duration,
    victim: u32,
) -> anyhow::Result<Failover> {
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(FAILOVER_TIMEOUT)
        .pool_max_idle_per_host(FAILOVER_CLIENTS)
        .build()?;
    let origin = Instant::now();
    let end = origin + before + after;
    let url: Arc<str> = url.into();
    let mut clients = Vec::new();
    for _ in 0..FAILOVER_CLIENTS {
        let http = http.clone();
        let url = url.clone();
        clients.push(tokio::spawn(async move {
            // (sent, done, good), in seconds since the origin.
            let mut seen: Vec<(f64, f64, bool)> = Vec::new();
            while Instant::now() < end {
                let sent = origin.elapsed().as_secs_f64();
                let good = match http.get(&*url).send().await {
                    Ok(response) => {
                        let ok = response.status() == reqwest::StatusCode::OK;
                        let body = response.text().await.unwrap_or_default();
                        ok && body.contains(EXPECT)
                    }
                    Err(_) => false,
                };
                seen.push((sent, origin.elapsed().as_secs_f64(), good));
            }
            seen
        }));
    }
    tokio::time::sleep_until((origin + before).into()).await;
    let killed_at = origin.elapsed().as_secs_f64();
    process::run(
        "kill -9",
        std::process::Command::new("kill").args(["-KILL", &victim.to_string()]),
    )?;
    let mut all = Vec::new();
    for client in clients {
        all.extend(client.await?);
    }
    let total = origin.elapsed().as_secs_f64();
    let mut good: Vec<f64> = all.iter().filter(|r| r.2).map(|r| r.1).collect();
    good.sort_by(f64::total_cmp);
    // Gaps between successive good answers, from the start to the end of the run.
    let mut marks = vec![0.0];
    marks.extend(&good);
    marks.push(total);
    let (mut longest, mut longest_at, mut before_kill) = (0.0f64, 0.0f64, 0.0f64);
    for pair in marks.windows(2) {
        let gap = pair[1] - pair[0];
        if gap > longest {
            longest = gap;
            longest_at = pair[0];
        }
        if pair[1] < killed_at {
            before_kill = before_kill.max(gap);
        }
    }
    let latencies: Vec<f64> = all.iter().map(|r| (r.1 - r.0) * 1000.0).collect();
    Ok(Failover {
        requests: all.len(),
        failed: all.iter().filter(|r| !r.2).count(),
        longest_gap_ms: longest * 1000.0,
        gap_at_ms: (longest_at - killed_at) * 1000.0,
        gap_before_kill_ms: before_kill * 1000.0,
        slowest_ms: max(&latencies),
        answered_rps: good.len() as f64 / total,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_haproxy_configuration_names_both_servers_with_checks() {
        let cfg = haproxy_config(8080, &["127.0.0.1:1".to_owned(), "127.0.0.1:2".to_owned()]);
        assert!(cfg.contains("bind 127.0.0.1:8080"));
        assert!(cfg.contains("balance roundrobin"));
        assert!(cfg.contains("server s1 127.0.0.1:1 check inter 1s fall 2 rise 2"));
        assert!(cfg.contains("server s2 127.0.0.1:2 check inter 1s fall 2 rise 2"));
        assert!(cfg.contains("nbthread 1"));
    }
}
