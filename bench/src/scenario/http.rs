//! Scenario 1: HTTP throughput and latency, keep-alive, and scenario 5: resident memory
//! of the servers under that load.
//!
//! Targets, each a process of its own on 127.0.0.1:
//! - plain hyper answering what `demo.hello` answers (`zato-bench-hyper`): the baseline;
//! - `zato start` with `demo.hello` and `demo.transform` behind HTTP channels (a fresh
//!   instance per request), and a copy of `demo.hello` opted in to warm instances
//!   (`zato.instance_reuse`), to show what instantiation costs, and demo.hello's lean
//!   build (wasm32-unknown-unknown: no WASI, wrapped at deploy);
//! - the same wasi:http hello deployed on zato unchanged (named `http_hello` after its
//!   file), behind an HTTP channel, a fresh instance per request;
//! - the Python and JavaScript greeters (`examples/python`, `examples/js`) built by
//!   `zato build`, when componentize-py and `examples/js/node_modules` are there: what
//!   a fresh instance of an interpreter's snapshot costs per request;
//! - `wasmtime serve` running an equivalent wasi:http hello, when `wasmtime` is on the
//!   PATH (`cargo install wasmtime-cli --version 48.0.8`): with its defaults, and with
//!   its pooling allocator tuned as zato's engine is.
//!
//! For each connection count, every round runs every target once (warm-up, then the
//! measured run), starting each round with the next target so none always goes first;
//! the table gives the median of the rounds. Servers are pinned to one CPU and wrk to
//! another unless `--no-pin`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, bail};

use super::Ctx;
use crate::component::renamed;
use crate::process::{self, Proc, cpu_time_of, rss_of};
use crate::report::{Row, Section, mib, ms, ratio, thousands};
use crate::stats::{max, median};
use crate::wrk::{self, Load, Outcome};
use crate::zato::{Admin, Env, EnvOptions, client, wait_for};

/// The opted-in copy of `demo.hello` (same length as the original name).
pub(crate) const WARM_SERVICE: &str = "demo.hwarm";
/// demo.hello's lean build, renamed (same length as `demo.hello`).
const LEAN_BUILD_SERVICE: &str = "demo.hlean";
/// Requests one warm instance serves before it is replaced.
pub(crate) const WARM_REUSE: u32 = 1000;

/// The two `wasmtime serve` targets: its defaults, and its pooling allocator tuned as
/// zato's engine is (keep-resident memory and tables reset with `PAGEMAP_SCAN`). zato
/// also turns off `Config::concurrency_support`; `wasmtime serve` 48 cannot run without
/// it (its request loop uses `run_concurrent`).
const WASMTIME_SERVE: [(&str, &str, &[&str]); 2] = [
    (
        "wasmtime serve hello (defaults)",
        "wasmtime-serve-defaults",
        &[],
    ),
    (
        "wasmtime serve hello (pooling tuned as zato's)",
        "wasmtime-serve-tuned",
        &[
            "-Opooling-allocator=y,pooling-memory-keep-resident=1048576,pooling-table-keep-resident=65536,pooling-pagemap-scan=auto",
        ],
    ),
];

/// The customer record `demo.transform` reshapes.
const TRANSFORM_BODY: &str = r#"{"first_name":"Ada","last_name":"Lovelace","email":"ada@example.com","orders":[{"amount":10.5},{"amount":20}]}"#;

/// A process serving one or more targets.
struct Server {
    label: String,
    proc: Proc,
    idle_rss: Option<u64>,
    /// Connections -> highest resident memory seen during measured runs.
    peak_rss: BTreeMap<u32, u64>,
}

/// One URL under load.
struct Target {
    label: String,
    url: String,
    script: Option<PathBuf>,
    /// Index of its process in the servers.
    server: usize,
    /// What a correct answer contains.
    expect: &'static str,
}

/// One measured run.
struct Run {
    target: usize,
    connections: u32,
    outcome: Outcome,
    /// CPU time the serving process used per answered request, in µs.
    cpu_us: Option<f64>,
}

/// The two sections this module fills.
pub struct Results {
    pub throughput: Section,
    pub memory: Section,
}

pub async fn run(ctx: &Ctx<'_>) -> anyhow::Result<Results> {
    let wrk = ctx.wrk.as_deref().context("the HTTP scenario needs wrk")?;
    let mut notes = Vec::new();
    let mut servers = Vec::new();
    let mut targets = Vec::new();

    eprintln!("[bench] http: starting the baseline, zato and wasmtime serve");
    let cmd = process::command(&ctx.artifacts.hyper, ctx.server_cpu());
    let (hyper, url) = spawn_baseline(ctx, "hyper-baseline", cmd)?;
    targets.push(Target {
        label: "hyper hello (baseline)".into(),
        url,
        script: None,
        server: 0,
        expect: "Hello, bench!",
    });
    servers.push(Server::new("plain hyper (baseline)", hyper));

    let env = Env::create(
        &ctx.artifacts.zato,
        &ctx.work.join("http"),
        &EnvOptions::one_server("bench-http"),
    )?;
    let mut zato = env.start(0, ctx.server_cpu(), &ctx.logs)?;
    wait_for(
        &format!("{}/zato/ping", env.base(0)),
        &mut zato,
        Duration::from_secs(60),
    )
    .await?;
    let admin = env.admin(0);
    admin.status().await?;
    let hello = std::fs::read(&ctx.artifacts.hello)?;
    let transform = std::fs::read(&ctx.artifacts.transform)?;
    // A copy of demo.hello under another name, opted in to warm instances.
    let warm = renamed(&hello, "demo.hello", WARM_SERVICE)?;
    // demo.hello's lean build (a core module), under another name.
    let hello_lean = renamed(
        &std::fs::read(&ctx.artifacts.hello_lean)?,
        "demo.hello",
        LEAN_BUILD_SERVICE,
    )?;
    for (bytes, service, path) in [
        (hello, "demo.hello", "/demo/hello"),
        (transform, "demo.transform", "/demo/transform"),
        (warm, WARM_SERVICE, "/demo/hwarm"),
        (hello_lean, LEAN_BUILD_SERVICE, "/demo/hlean"),
    ] {
        admin.deploy(bytes, service).await?;
        admin.channel(service, path, service).await?;
    }
    opt_in_warm(&admin).await?;
    // The wasi:http hello `wasmtime serve` runs, deployed as it is.
    let outcome = admin
        .deploy(std::fs::read(&ctx.artifacts.http_hello)?, "http_hello.wasm")
        .await?;
    admin
        .channel(&outcome.name, "/demo/http-hello", &outcome.name)
        .await?;
    // The greeters in Python and JavaScript, built by `zato build` as a user would.
    let mut greeters = Vec::new();
    for (language, source, service, path) in [
        (
            "Python",
            ctx.artifacts.root.join("examples/python/greeter.py"),
            "demo.py-greeter",
            "/demo/py-greeter",
        ),
        (
            "JavaScript",
            ctx.artifacts.root.join("examples/js"),
            "demo.js-greeter",
            "/demo/js-greeter",
        ),
    ] {
        match zato_build(ctx, &source) {
            Ok(component) => {
                admin.deploy(std::fs::read(&component)?, service).await?;
                admin.channel(service, path, service).await?;
                greeters.push((language, path));
            }
            Err(e) => notes.push(format!("The {language} greeter skipped: {e:#}")),
        }
    }
    let script = ctx.work.join("transform.lua");
    std::fs::write(
        &script,
        format!(
            "wrk.method = \"POST\"\nwrk.headers[\"Content-Type\"] = \"application/json\"\nwrk.body = '{TRANSFORM_BODY}'\n"
        ),
    )?;
    let zato_index = servers.len();
    targets.push(Target {
        label: "zato demo.hello".into(),
        url: format!("{}/demo/hello?name=bench", env.base(0)),
        script: None,
        server: zato_index,
        expect: "Hello, bench!",
    });
    targets.push(Target {
        label: "zato demo.transform".into(),
        url: format!("{}/demo/transform", env.base(0)),
        script: Some(script.clone()),
        server: zato_index,
        expect: "\"full_name\":\"Ada Lovelace\"",
    });
    targets.push(Target {
        label: "zato demo.hello, warm instances (opt-in)".into(),
        url: format!("{}/demo/hwarm?name=bench", env.base(0)),
        script: None,
        server: zato_index,
        expect: "Hello, bench!",
    });
    targets.push(Target {
        label: "zato demo.hello, lean build (wasm32-unknown-unknown)".into(),
        url: format!("{}/demo/hlean?name=bench", env.base(0)),
        script: None,
        server: zato_index,
        expect: "Hello, bench!",
    });
    targets.push(Target {
        label: "zato http_hello (the wasi:http component, unchanged)".into(),
        url: format!("{}/demo/http-hello?name=bench", env.base(0)),
        script: None,
        server: zato_index,
        expect: "Hello, bench!",
    });
    for (language, path) in greeters {
        targets.push(Target {
            label: format!("zato {language} greeter (a fresh instance of its snapshot)"),
            url: format!("{}{path}?name=bench", env.base(0)),
            script: None,
            server: zato_index,
            expect: "Hello, bench!",
        });
    }
    notes.push(
        "The lean build is demo.hello built for wasm32-unknown-unknown: a core module without WASI that zato wraps into a component at deploy."
            .into(),
    );
    servers.push(Server::new("zato (all its services)", zato));

    match &ctx.artifacts.wasmtime {
        Some((wasmtime, version)) => {
            for (label, proc_name, options) in WASMTIME_SERVE {
                let port = process::free_ports(1)?;
                let mut cmd = process::command(wasmtime, ctx.server_cpu());
                // `-Scli`: like every wasm32-wasip2 Rust component, the hello imports
                // wasi:cli (std reads the environment), which zato links too.
                cmd.args(["serve", "-Scli", "--addr", &format!("127.0.0.1:{port}")])
                    .args(options.iter())
                    .arg(&ctx.artifacts.http_hello);
                let mut proc = Proc::spawn(proc_name, cmd, &ctx.logs, false)?;
                let url = format!("http://127.0.0.1:{port}/?name=bench");
                wait_for(&url, &mut proc, Duration::from_secs(120)).await?;
                targets.push(Target {
                    label: (*label).into(),
                    url,
                    script: None,
                    server: servers.len(),
                    expect: "Hello, bench!",
                });
                servers.push(Server::new(label, proc));
            }
            notes.push(format!(
                "`wasmtime serve` is {version} (a fresh instance per request, pooling allocator when available), once with its defaults plus `-Scli`, and once tuned as zato's engine is: `{}`.",
                WASMTIME_SERVE[1].2.join(" ")
            ));
        }
        None => notes.push(
            "`wasmtime serve` skipped: `wasmtime` is not on the PATH (install it with \
             `cargo install wasmtime-cli --version 48.0.8`)."
                .into(),
        ),
    }

    for target in &targets {
        check_answer(target).await?;
    }
    // Let the servers settle after deploys and first requests before the idle figure.
    tokio::time::sleep(Duration::from_millis(500)).await;
    for server in &mut servers {
        server.idle_rss = server.proc.rss();
    }

    let plan = ctx.plan;
    let mut runs = Vec::new();
    for &connections in &plan.connections {
        for round in 0..plan.rounds as usize {
            for k in 0..targets.len() {
                let t = (round + k) % targets.len();
                let target = &targets[t];
                eprintln!(
                    "[bench] http: {connections} connections, round {}/{}: {}",
                    round + 1,
                    plan.rounds,
                    target.label
                );
                let load = |duration| Load {
                    url: &target.url,
                    connections,
                    duration,
                    script: target.script.as_deref(),
                    cpu: ctx.load_cpu(),
                    cores: plan.cores,
                };
                if !plan.warmup.is_zero() {
                    wrk::run(wrk, &load(plan.warmup)).await?;
                }
                let server = &mut servers[target.server];
                server.proc.check_running()?;
                let cpu_before = cpu_time_of(server.proc.pid());
                let (outcome, peak) = with_peak_rss(server.proc.pid(), async {
                    wrk::run(wrk, &load(plan.duration)).await
                })
                .await;
                let outcome = outcome?;
                let cpu_us = match (cpu_before, cpu_time_of(server.proc.pid())) {
                    (Some(before), Some(after)) if outcome.requests > 0 => {
                        Some((after - before).as_secs_f64() * 1e6 / outcome.requests as f64)
                    }
                    _ => None,
                };
                let entry = server.peak_rss.entry(connections).or_default();
                *entry = (*entry).max(peak);
                runs.push(Run {
                    target: t,
                    connections,
                    outcome,
                    cpu_us,
                });
            }
        }
    }
    let mut memory_rows = Vec::new();
    for server in &servers {
        let after = server.proc.rss();
        memory_rows.push(server.memory_row(after, &plan.connections));
    }

    let warmup = match plan.warmup.as_secs() {
        0 => ", no warm-up".to_owned(),
        s => format!(" after {s} s of warm-up"),
    };
    let mut throughput = Section::new(
        format!(
            "1. HTTP throughput and latency (keep-alive, {} s runs{warmup}, median of {} round{})",
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
            "req/s vs baseline",
            "p99 vs baseline",
            "server CPU/req",
            "req/s per round",
        ],
    );
    for &connections in &plan.connections {
        let of = |t: usize| -> Vec<&Outcome> {
            runs.iter()
                .filter(|r| r.target == t && r.connections == connections)
                .map(|r| &r.outcome)
                .collect()
        };
        let baseline = summarise(&of(0));
        for (t, target) in targets.iter().enumerate() {
            let outcomes = of(t);
            let s = summarise(&outcomes);
            let cpu: Vec<f64> = runs
                .iter()
                .filter(|r| r.target == t && r.connections == connections)
                .filter_map(|r| r.cpu_us)
                .collect();
            let cpu_us = (!cpu.is_empty()).then(|| median(&cpu));
            let errors: u64 = outcomes.iter().map(|o| o.non_2xx + o.socket_errors).sum();
            if errors > 0 {
                notes.push(format!(
                    "{} at {connections} connections: {errors} failed answers or socket errors during measured runs.",
                    target.label
                ));
            }
            let rps_ratio = s.rps / baseline.rps;
            let p99_ratio = s.p99_ms / baseline.p99_ms;
            let per_round = outcomes
                .iter()
                .map(|o| thousands(o.rps))
                .collect::<Vec<_>>()
                .join(" / ");
            let mut row = Row::new("http", &target.label)
                .extra("connections", connections)
                .extra("p99_ratio_to_baseline", p99_ratio)
                .extra(
                    "rounds_rps",
                    outcomes.iter().map(|o| o.rps).collect::<Vec<_>>(),
                )
                .extra("errors", errors)
                .extra("server_cpu_us_per_request", cpu_us)
                .cells(vec![
                    target.label.clone(),
                    connections.to_string(),
                    thousands(s.rps),
                    ms(s.p50_ms),
                    ms(s.p99_ms),
                    ratio(rps_ratio),
                    ratio(p99_ratio),
                    cpu_us.map_or("-".into(), |us| format!("{us:.1} µs")),
                    per_round,
                ]);
            row.rps = Some(s.rps);
            row.p50_ms = Some(s.p50_ms);
            row.p99_ms = Some(s.p99_ms);
            row.ratio_to_baseline = Some(rps_ratio);
            throughput.rows.push(row);
        }
    }
    match plan.pin {
        Some(pin) => notes.push(format!(
            "Every server is pinned to CPU {} and wrk (one thread) to CPU {}: each server gets one core, whatever loading it costs wrk.",
            pin.server, pin.load
        )),
        None => notes.push(
            "Not pinned: the servers and wrk share every core, so a cheaper server leaves more CPU to wrk."
                .into(),
        ),
    }
    notes.push(
        "Server CPU/req: CPU time (user + system, all threads) the serving process used during the measured run, divided by the requests wrk counted; it includes the kernel's share of loopback TCP (waking wrk on its core is part of it)."
            .into(),
    );
    throughput.notes = notes;

    let mut memory = Section::new(
        "5. Resident memory of the servers during scenario 1",
        vec![
            "server",
            "idle before load",
            "peak, 64 conns",
            "peak, 1 conn",
            "after load",
        ],
    );
    memory.rows = memory_rows;
    memory.notes.push(
        "Resident set (VmRSS) sampled every 100 ms during the measured runs; zato's row covers all of its targets."
            .into(),
    );
    for server in servers {
        server.proc.stop();
    }
    Ok(Results { throughput, memory })
}

impl Server {
    fn new(label: &str, proc: Proc) -> Self {
        Self {
            label: label.into(),
            proc,
            idle_rss: None,
            peak_rss: BTreeMap::new(),
        }
    }

    fn memory_row(&self, after: Option<u64>, connections: &[u32]) -> Row {
        let to_f = |v: Option<u64>| v.map_or(f64::NAN, |b| b as f64);
        let peak = |c: u32| to_f(self.peak_rss.get(&c).copied());
        let all_peaks: Vec<f64> = connections.iter().map(|&c| peak(c)).collect();
        let mut row = Row::new("memory", &self.label)
            .extra("idle_rss_mib", to_f(self.idle_rss) / MIB)
            .extra("peak_rss_mib_64", peak(64) / MIB)
            .extra("peak_rss_mib_1", peak(1) / MIB)
            .extra("after_load_rss_mib", to_f(after) / MIB)
            .extra("peak_rss_mib", max(&all_peaks) / MIB)
            .cells(vec![
                self.label.clone(),
                mib(to_f(self.idle_rss)),
                mib(peak(64)),
                mib(peak(1)),
                mib(to_f(after)),
            ]);
        row.extra.retain(|_, v| !v.is_null());
        row
    }
}

const MIB: f64 = 1024.0 * 1024.0;

struct Summary {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
}

fn summarise(outcomes: &[&Outcome]) -> Summary {
    let pick = |f: fn(&Outcome) -> f64| median(&outcomes.iter().map(|o| f(o)).collect::<Vec<_>>());
    Summary {
        rps: pick(|o| o.rps),
        p50_ms: pick(|o| o.p50_ms),
        p99_ms: pick(|o| o.p99_ms),
    }
}

/// The rows of scenario 6: demo.hello at `/demo/hello` with a fresh instance per
/// request, and its copy [`WARM_SERVICE`] at `/demo/hwarm` with warm instances, as
/// (label, last path segment); [`deploy_hello_fresh_and_warm`] deploys both.
pub(crate) const HELLO_FRESH_AND_WARM: [(&str, &str); 2] = [
    ("zato demo.hello", "hello"),
    ("zato demo.hello, warm instances (opt-in)", "hwarm"),
];

/// Starts the plain hyper baseline from `cmd` (the binary, perhaps under a wrapper) on a
/// free port of 127.0.0.1, and gives its process and the URL of its hello.
/// `zato build SOURCE` with the benchmark's zato, into a copy for a Python module (the
/// component is written beside it); the component's path, the last line printed.
fn zato_build(ctx: &Ctx<'_>, source: &std::path::Path) -> anyhow::Result<PathBuf> {
    let source = if source.extension().is_some_and(|e| e == "py") {
        let copy = ctx.work.join(source.file_name().context("a module")?);
        std::fs::copy(source, &copy)?;
        copy
    } else {
        source.to_owned()
    };
    let output = std::process::Command::new(&ctx.artifacts.zato)
        .arg("build")
        .arg(&source)
        .output()?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!(
            "`zato build {}` failed: {}",
            source.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(PathBuf::from(
        stdout
            .lines()
            .last()
            .context("zato build printed nothing")?,
    ))
}

pub(crate) fn spawn_baseline(
    ctx: &Ctx<'_>,
    name: &str,
    mut cmd: std::process::Command,
) -> anyhow::Result<(Proc, String)> {
    cmd.arg("127.0.0.1:0");
    let mut hyper = Proc::spawn(name, cmd, &ctx.logs, true)?;
    let addr = hyper.first_line()?;
    Ok((hyper, format!("http://{addr}/hello?name=bench")))
}

/// Deploys demo.hello (the component at `hello`) and its copy [`WARM_SERVICE`], each
/// behind an HTTP channel, and opts the copy in to warm instances.
pub(crate) async fn deploy_hello_fresh_and_warm(
    admin: &Admin,
    hello: &std::path::Path,
) -> anyhow::Result<()> {
    let hello = std::fs::read(hello)?;
    let warm = renamed(&hello, "demo.hello", WARM_SERVICE)?;
    for (bytes, service, path) in [
        (hello, "demo.hello", "/demo/hello"),
        (warm, WARM_SERVICE, "/demo/hwarm"),
    ] {
        admin.deploy(bytes, service).await?;
        admin.channel(service, path, service).await?;
    }
    opt_in_warm(admin).await
}

/// Opts the copy of demo.hello in to warm instances of [`WARM_REUSE`] uses each.
pub(crate) async fn opt_in_warm(admin: &Admin) -> anyhow::Result<()> {
    admin
        .config(
            WARM_SERVICE,
            &serde_json::json!({ zato_host::runtime::REUSE_KEY: WARM_REUSE.to_string() }),
        )
        .await
}

/// Makes sure a target answers what it should before it is measured: a benchmark of
/// 404s would be fast and worthless.
async fn check_answer(target: &Target) -> anyhow::Result<()> {
    let body = target.script.as_ref().map(|_| TRANSFORM_BODY);
    check_url(&target.label, &target.url, body, target.expect).await
}

/// Fails unless `url` answers 2xx with `expect` in its body (to a POST of `post` if
/// given, else to a GET).
pub(crate) async fn check_url(
    label: &str,
    url: &str,
    post: Option<&str>,
    expect: &str,
) -> anyhow::Result<()> {
    let http = client();
    let request = match post {
        Some(body) => http
            .post(url)
            .header("content-type", "application/json")
            .body(body.to_owned()),
        None => http.get(url),
    };
    let response = request.send().await?;
    let status = response.status();
    let body = response.text().await?;
    if !status.is_success() || !body.contains(expect) {
        bail!("{label} answered {status} `{body}` instead of `{expect}`");
    }
    Ok(())
}

/// Runs `work` while sampling the resident memory of `pid`; returns its peak.
async fn with_peak_rss<T>(pid: u32, work: impl Future<Output = T>) -> (T, u64) {
    let mut peak = rss_of(pid).unwrap_or(0);
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    tokio::pin!(work);
    loop {
        tokio::select! {
            out = &mut work => return (out, peak.max(rss_of(pid).unwrap_or(0))),
            _ = tick.tick() => peak = peak.max(rss_of(pid).unwrap_or(0)),
        }
    }
}
