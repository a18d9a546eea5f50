//! zato-bench: the benchmark suite of zato.
//!
//! One entry point, `cargo run -p zato-bench --release -- [OPTIONS]`. It builds what it
//! measures in release mode, starts each server it measures on 127.0.0.1 in a process of
//! its own, loads them with wrk, stops everything it started (every child sits in a
//! guard that stops it when dropped: on success, on error and on Ctrl-C), and prints a
//! table per scenario with the machine it ran on. See `--help` for the scenarios.
//!
//! Honesty rules the code keeps: one machine and one run for every figure compared;
//! targets alternate within each round and figures are medians of rounds; every target's
//! answer is checked before it is measured; no `RUST_BACKTRACE` in any measured process;
//! the machine's cores, CPU model and load are printed with the tables.
//!
//! Layout: `prepare` (builds), `process` (child guards, resident memory), `zato`
//! (environments and the admin API), `wrk` (the load generator), `component` (variants
//! of components), `scenario/` (one module per scenario), `report` (tables and JSON),
//! `machine`, `stats`; `src/bin/hyper_hello.rs` is the baseline server and
//! `guests/http-hello` the wasi:http component for `wasmtime serve`.

#![forbid(unsafe_code)]

mod component;
mod machine;
mod otlp_sink;
mod prepare;
mod process;
mod report;
mod scenario;
mod stats;
mod wrk;
mod zato;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::{Parser, ValueEnum};

use machine::Machine;
use report::{Report, Section};
use scenario::{Ctx, Pin, Plan};

/// Benchmarks of zato: HTTP throughput and latency against plain hyper and `wasmtime
/// serve`, the cost of a sandbox per request, hot deploy, a server with many services,
/// and memory.
///
/// Run it in release mode (it builds zato, the examples and the other targets itself):
///     cargo run -p zato-bench --release              # the full suite (about 25 minutes)
///     cargo run -p zato-bench --release -- --quick   # a shortened run, under a minute
///     cargo run -p zato-bench --release -- --scenario sandbox --json
///
/// Scenarios:
///   http     1. keep-alive HTTP, 64 and 1 connections: plain hyper (the baseline), zato
///               with demo.hello and demo.transform behind HTTP channels (plus a copy of
///               demo.hello opted in to warm instances), and `wasmtime serve` on an
///               equivalent wasi:http hello when `wasmtime` is on the PATH
///               (`cargo install wasmtime-cli --version 48.0.8`); requests/s, p50, p99,
///               ratios to the baseline; 3 rounds alternating the targets, medians.
///   sandbox  2. instantiate + call + drop of a deployed service in a loop, pooling vs
///               on-demand allocator (and a warm instance's call), in µs.
///   deploy   3. hot deploy, sent -> new version answering, small and 5 MB components,
///               cold (compile) and warm (cached artifact), on one server and on a
///               cluster of 3 (PostgreSQL or SQLite ODB, the local Redis).
///   scale    4. a server started with 1,000 services: time until all answer, cold and
///               from the artifact cache; resident memory idle and per service; and
///            9. on that server, the web admin's pages (p50, p99, max of 40 loads each).
///   memory   5. resident memory of the servers during scenario 1 (runs scenario 1).
///   instructions
///            6. only when asked for: instructions per HTTP request under valgrind's
///               callgrind (64 connections), plain hyper and zato's demo.hello, fresh
///               and warm: unlike requests/s, counts that do not move with the machine's
///               speed or load. Needs valgrind (`apt-get install -y valgrind`); takes a
///               few minutes, and at least 2 s of warm-up and 3 s counted per target even
///               with --quick. With --keep, the callgrind files stay in the work
///               directory for callgrind_annotate.
///   guessing 7. password guessing against the admin API: demo.hello's requests/s, p50
///               and p99 (wrk, 64 and 1 connections) while 0, 2 and 8 guessers loop on
///               the admin API with wrong passwords, each from an address of its own
///               (127.0.0.2, ...); on a server with the default login lockout and on one
///               where it is never reached (every guess runs argon2); ratios to the run
///               without guessers, and the guessers' 401 and 429 counts.
///   lb       8. only when asked for: zato-lb against HAProxy (Debian's package,
///               installed with apt-get when missing and run as root) in front of the
///               same 2 servers (demo.hello), and direct to one: requests/s, p50, p99,
///               the load balancer's CPU per request, ratios to HAProxy; then the longest
///               gap in answers and the failed requests when one server is killed.
///   scheduler
///           10. the scheduler on a cluster of 3 (PostgreSQL ODB, Redis): the firing
///               delay (start minus scheduled time; p50, p99, max) of 1,000 jobs every
///               second, and the takeover time after `kill -9` of the singleton (min,
///               median, max of 5 kills).
///   sql     11. demo.sql-table answering one SQL query (SQLite, by primary key) over
///               HTTP against sqlx running it directly; ratios in the same run.
///   http-out
///           12. demo.outgoing-http making one GET to a local hyper backend through
///               its connection, against hyper-util's client calling it directly;
///               ratios in the same run.
///   amqp    13. AMQP messages per second consumed by a channel calling demo.hello,
///               against a plain lapin consumer of the same queue (this machine's
///               RabbitMQ, a vhost of its own); ratio in the same run.
///   async-invoke
///           14. asynchronous invokes of demo.hello per second through the admin API,
///               queued, run by the server's worker and acknowledged (one server, the
///               local Redis), against synchronous invokes of it; ratio in the same run.
///   stats   15. demo.hello over HTTP with usage statistics on against off (one server
///               each, embedded defaults), ratio in the same run; then a known number of
///               requests counted by `zato stats`, percentiles beside the clients'.
///   security
///           16. demo.hello through channels guarded by a basic-auth, an API key and a
///               JWT definition (right credentials on every request) against an open
///               one on the same server; requests/s, p50, p99, ratios to the open one.
///   new     17. from `zato new LANGUAGE NAME` to the service deployed and answering, in
///               Rust, Python and JavaScript: each step timed as a new user runs it.
///               Needs componentize-py (pip) and Node.js with npm.
///
/// bench/README.md says how to profile a server or the sandbox scenario by hand (perf,
/// callgrind).
///
/// Needs wrk (Debian's package; installed with apt-get when missing and run as root),
/// the wasm32-wasip2 Rust target, and for the cluster a Redis (and PostgreSQL, else a
/// shared SQLite file). On a machine with two or more cores, servers are pinned to one
/// core and wrk to another (--no-pin to turn that off).
///
/// --json prints {"machine", "settings", "rows", "notes"}; every row has `scenario`,
/// `target`, `rps`, `p50_ms`, `p99_ms` and `ratio_to_baseline` (null where a figure does
/// not apply), plus fields of its own.
#[derive(Debug, Parser)]
#[command(
    name = "zato-bench",
    version,
    verbatim_doc_comment,
    max_term_width = 100
)]
struct Cli {
    /// A shortened run (under a minute): one 1 s run per HTTP target without warm-up,
    /// 2,000 calls per sandbox, 2 deploys per case, 50 services.
    #[arg(long)]
    quick: bool,
    /// Print the rows as JSON objects instead of tables.
    #[arg(long)]
    json: bool,
    /// Run only this scenario; repeat for several.
    #[arg(long, value_enum)]
    scenario: Vec<Scenario>,
    /// Rounds of the HTTP scenario [default: 3, 1 with --quick].
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    rounds: Option<u32>,
    /// Measured seconds of each HTTP run, and of each counted run of the instructions
    /// scenario (at least 3) [default: 10, 1 with --quick].
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    duration: Option<u64>,
    /// Services of the scale scenario [default: 1000, 50 with --quick].
    #[arg(long)]
    services: Option<usize>,
    /// Do not pin the servers and wrk to separate cores.
    #[arg(long)]
    no_pin: bool,
    /// Redis of the cluster in the deploy scenario.
    #[arg(long, default_value = "redis://127.0.0.1:6379")]
    redis: String,
    /// PostgreSQL server on which the cluster's ODB is created (and dropped afterwards);
    /// a shared SQLite file is used when it is unreachable.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    postgres: String,
    /// Use what is built already instead of running the builds.
    #[arg(long)]
    no_build: bool,
    /// Keep the work directory (environments, logs of every process) and print its path.
    #[arg(long)]
    keep: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Scenario {
    Http,
    Sandbox,
    Deploy,
    Scale,
    Memory,
    /// Not part of the default suite: run only when named.
    Instructions,
    Guessing,
    /// Not part of the default suite: run only when named.
    Lb,
    Scheduler,
    /// A service running one SQL query against sqlx running it directly.
    Sql,
    /// A service making one outgoing HTTP call against hyper making it directly.
    HttpOut,
    /// AMQP messages consumed through demo.hello against a plain lapin consumer.
    Amqp,
    /// Asynchronous invokes per second against synchronous ones.
    AsyncInvoke,
    /// demo.hello with usage statistics on against off, and their count.
    Stats,
    /// demo.hello through channels guarded by each security definition type against
    /// an open one.
    Security,
    /// From `zato new` to a deployed service answering, per language.
    New,
}

fn main() -> ExitCode {
    // reqwest is built with `rustls-no-provider` (the server's outgoing connections):
    // every client needs the process's provider installed first.
    zato_host::outconn::http::install_crypto_provider();
    reexec_without_backtraces();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async {
        tokio::select! {
            outcome = run(cli) => outcome,
            // Dropping `run` drops every process guard, which stops the processes.
            _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
        }
    });
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// With `RUST_BACKTRACE` set, wasmtime captures a backtrace on every trap and store
/// drop, which would distort the in-process sandbox figures: run again without it.
fn reexec_without_backtraces() {
    use std::os::unix::process::CommandExt as _;
    let vars = ["RUST_BACKTRACE", "RUST_LIB_BACKTRACE"];
    if vars.iter().all(|v| std::env::var_os(v).is_none()) {
        return;
    }
    if let Ok(exe) = std::env::current_exe() {
        let mut cmd = std::process::Command::new(exe);
        cmd.args(std::env::args_os().skip(1));
        for v in vars {
            cmd.env_remove(v);
        }
        let error = cmd.exec();
        eprintln!(
            "warning: cannot run again without RUST_BACKTRACE ({error}); figures may be distorted"
        );
    }
}

/// Runs the selected scenarios; `Ok(false)` when one of them failed (the others still
/// ran and are reported).
async fn run(cli: Cli) -> anyhow::Result<bool> {
    let machine = Machine::read();
    let plan = plan(&cli, &machine);
    let wanted = |s: Scenario| cli.scenario.is_empty() || cli.scenario.contains(&s);
    let load_before = load_average();

    let started = Instant::now();
    let no_build = cli.no_build;
    let artifacts = tokio::task::spawn_blocking(move || prepare::build(no_build)).await??;
    eprintln!(
        "[bench] builds took {:.0} s",
        started.elapsed().as_secs_f64()
    );
    // Counting instructions under valgrind takes minutes: only when asked for.
    let instructions = cli.scenario.contains(&Scenario::Instructions);
    let needs_http = (cli.scenario.is_empty() || cli.scenario.contains(&Scenario::Http))
        || cli.scenario.contains(&Scenario::Memory);
    let lb = cli.scenario.contains(&Scenario::Lb);
    let needs_wrk = needs_http
        || instructions
        || wanted(Scenario::Guessing)
        || lb
        || wanted(Scenario::Stats)
        || wanted(Scenario::Security);
    let wrk = if needs_wrk {
        Some(wrk::ensure_installed()?)
    } else {
        None
    };
    let work = tempfile::Builder::new()
        .prefix("zato-bench-")
        .tempdir()
        .context("cannot create a work directory")?;
    let logs = work.path().join("logs");
    std::fs::create_dir_all(&logs)?;
    let ctx = Ctx {
        plan: &plan,
        artifacts: &artifacts,
        work: work.path(),
        logs,
        wrk,
    };

    let mut sections = Vec::new();
    let mut failed = false;
    let mut record = |title: &str, result: anyhow::Result<Section>| match result {
        Ok(section) => sections.push(section),
        Err(e) => {
            eprintln!("[bench] {title} failed: {e:#}");
            failed = true;
            let mut section = Section::new(title, vec!["target"]);
            section.notes.push(format!("FAILED: {e:#}"));
            sections.push(section);
        }
    };
    let timed = |title: &'static str, started: Instant| {
        eprintln!(
            "[bench] {title} took {:.0} s",
            started.elapsed().as_secs_f64()
        );
    };
    if needs_http {
        let started = Instant::now();
        let results = scenario::http::run(&ctx).await;
        timed("http", started);
        match results {
            Ok(results) => {
                if wanted(Scenario::Http) {
                    record("1. HTTP", Ok(results.throughput));
                }
                if wanted(Scenario::Memory) {
                    record("5. Memory", Ok(results.memory));
                }
            }
            Err(e) => record("1. HTTP and 5. memory", Err(e)),
        }
    }
    if wanted(Scenario::Sandbox) {
        let started = Instant::now();
        let result = scenario::sandbox::run(&ctx).await;
        timed("sandbox", started);
        record("2. Sandbox", result);
    }
    if wanted(Scenario::Deploy) {
        let started = Instant::now();
        let result = scenario::deploy::run(&ctx).await;
        timed("deploy", started);
        record("3. Hot deploy", result);
    }
    if wanted(Scenario::Scale) {
        let started = Instant::now();
        let results = scenario::scale::run(&ctx).await;
        timed("scale", started);
        match results {
            Ok(results) => {
                record("4. Scale", Ok(results.scale));
                record("9. Web admin", results.web_admin);
            }
            Err(e) => record("4. Scale", Err(e)),
        }
    }
    if instructions {
        let started = Instant::now();
        let result = scenario::instructions::run(&ctx).await;
        timed("instructions", started);
        record("6. Instructions", result);
    }
    if wanted(Scenario::Guessing) {
        let started = Instant::now();
        let result = scenario::guessing::run(&ctx).await;
        timed("guessing", started);
        record("7. Password guessing", result);
    }
    if lb {
        let started = Instant::now();
        let results = scenario::lb::run(&ctx).await;
        timed("lb", started);
        match results {
            Ok(results) => {
                record("8. Load balancers", Ok(results.throughput));
                record("8. Load balancer failover", Ok(results.failover));
            }
            Err(e) => record("8. Load balancers", Err(e)),
        }
    }
    if wanted(Scenario::Scheduler) {
        let started = Instant::now();
        let result = scenario::scheduler::run(&ctx).await;
        timed("scheduler", started);
        record("10. Scheduler", result);
    }
    if wanted(Scenario::Sql) {
        let started = Instant::now();
        let result = scenario::sql::run(&ctx).await;
        timed("sql", started);
        record("11. SQL", result);
    }
    if wanted(Scenario::HttpOut) {
        let started = Instant::now();
        let result = scenario::http_out::run(&ctx).await;
        timed("http-out", started);
        record("12. Outgoing HTTP", result);
    }
    if wanted(Scenario::Amqp) {
        let started = Instant::now();
        let result = scenario::amqp::run(&ctx).await;
        timed("amqp", started);
        record("13. AMQP", result);
    }
    if wanted(Scenario::AsyncInvoke) {
        let started = Instant::now();
        let result = scenario::async_invoke::run(&ctx).await;
        timed("async-invoke", started);
        record("14. Asynchronous invoke", result);
    }
    if wanted(Scenario::Stats) {
        let started = Instant::now();
        let result = scenario::stats::run(&ctx).await;
        timed("stats", started);
        record("15. Usage statistics", result);
    }
    if wanted(Scenario::Security) {
        let started = Instant::now();
        let result = scenario::security::run(&ctx).await;
        timed("security", started);
        record("16. Channel security", result);
    }
    if wanted(Scenario::New) {
        let started = Instant::now();
        let result = scenario::new_project::run(&ctx).await;
        timed("new", started);
        record("17. From zato new to a deployed service", result);
    }
    // Scenario order in the report: 1, 2, ..., 10, by the title's number.
    sections.sort_by_key(|s| {
        s.title
            .split('.')
            .next()
            .and_then(|n| n.parse::<u32>().ok())
            .unwrap_or(u32::MAX)
    });

    let report = Report {
        settings: settings(
            &plan,
            &cli.scenario,
            &artifacts,
            ctx.wrk.as_deref(),
            &load_before,
        ),
        machine,
        sections,
    };
    if cli.json {
        println!("{}", serde_json::to_string_pretty(&report.json())?);
    } else {
        print!("{}", report.markdown());
    }
    if cli.keep || failed {
        let path = work.keep();
        eprintln!("[bench] work directory and logs kept in {}", path.display());
    }
    Ok(!failed)
}

fn plan(cli: &Cli, machine: &Machine) -> Plan {
    let quick = cli.quick;
    let cpus = allowed_cpus();
    let pin = match (cli.no_pin, cpus.as_slice()) {
        (false, [load, server, ..]) => Some(Pin {
            server: *server,
            load: *load,
        }),
        _ => None,
    };
    Plan {
        quick,
        rounds: cli.rounds.unwrap_or(if quick { 1 } else { 3 }),
        duration: Duration::from_secs(cli.duration.unwrap_or(if quick { 1 } else { 10 })),
        // A quick run skips the warm-up: these servers have nothing to warm but caches.
        warmup: Duration::from_secs(if quick { 0 } else { 2 }),
        connections: vec![64, 1],
        calls: if quick { 2_000 } else { 20_000 },
        // Two at least: warm deploys reuse bytes of both versions deployed cold.
        deploys: if quick { 2 } else { 5 },
        services: cli.services.unwrap_or(if quick { 50 } else { 1000 }),
        pin,
        cores: machine.usable_cores,
        redis: cli.redis.clone(),
        postgres: cli.postgres.clone(),
    }
}

/// The CPUs this process may run on (`Cpus_allowed_list`, e.g. `0-1` or `0,2-3`).
fn allowed_cpus() -> Vec<usize> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let Some(list) = status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
    else {
        return Vec::new();
    };
    let mut cpus = Vec::new();
    for part in list.trim().split(',') {
        match part.split_once('-') {
            Some((a, b)) => {
                if let (Ok(a), Ok(b)) = (a.parse::<usize>(), b.parse::<usize>()) {
                    cpus.extend(a..=b);
                }
            }
            None => cpus.extend(part.parse::<usize>().ok()),
        }
    }
    cpus
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// What the report's `Run:` line calls the run: `full suite`, `--quick`, or the
/// scenarios named (`--scenario instructions, full length`).
fn run_kind(quick: bool, scenarios: &[Scenario]) -> String {
    let length = if quick { "--quick" } else { "full length" };
    if scenarios.is_empty() {
        return if quick {
            length.into()
        } else {
            "full suite".into()
        };
    }
    let names: Vec<String> = scenarios
        .iter()
        .filter_map(|s| Some(s.to_possible_value()?.get_name().to_owned()))
        .collect();
    format!("--scenario {}, {length}", names.join(" "))
}

/// How the run was set up, printed above the tables.
fn settings(
    plan: &Plan,
    scenarios: &[Scenario],
    artifacts: &prepare::Artifacts,
    wrk: Option<&std::path::Path>,
    load_before: &str,
) -> Vec<String> {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .current_dir(&artifacts.root)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    let commit = git(&["rev-parse", "--short", "HEAD"]).unwrap_or_else(|| "unknown".into());
    let dirty = git(&["status", "--porcelain"]).is_some_and(|s| !s.is_empty());
    let date = std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let wrk_version = wrk
        .and_then(|w| std::process::Command::new(w).arg("--version").output().ok())
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .unwrap_or("")
                .split(" Copyright")
                .next()
                .unwrap_or("")
                .trim()
                .to_owned()
        })
        .unwrap_or_else(|| "not used".into());
    vec![
        format!(
            "Run: {} on {date}, commit {commit}{}; load average {load_before} at the start, {} at the end.",
            run_kind(plan.quick, scenarios),
            if dirty {
                " with uncommitted changes"
            } else {
                ""
            },
            load_average()
        ),
        format!(
            "HTTP: {} round(s) x {} s ({} s of warm-up before each), {} connections; sandbox: {} calls; deploy: {} per case; scale: {} services.",
            plan.rounds,
            plan.duration.as_secs(),
            plan.warmup.as_secs(),
            plan.connections
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(" and "),
            plan.calls,
            plan.deploys,
            plan.services
        ),
        format!(
            "Load generator: {wrk_version}; wasmtime: {}.",
            artifacts
                .wasmtime
                .as_ref()
                .map_or("not on the PATH", |(_, v)| v.as_str())
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_run_line_names_what_ran() {
        assert_eq!(run_kind(false, &[]), "full suite");
        assert_eq!(run_kind(true, &[]), "--quick");
        assert_eq!(
            run_kind(false, &[Scenario::Instructions]),
            "--scenario instructions, full length"
        );
        assert_eq!(
            run_kind(true, &[Scenario::Http, Scenario::Instructions]),
            "--scenario http instructions, --quick"
        );
    }
}
