//! Scenario 15: what usage statistics cost the request path, and whether they count
//! what the load generator sent.
//!
//! Two one-server environments on the embedded defaults (SQLite, the in-memory KVDB),
//! `demo.hello` behind `/demo/hello` on each, one with `[stats] enabled = false`. wrk
//! loads each in turn, the order alternating by round, both pinned like scenario 1; the
//! table gives the median of the rounds and the ratio of statistics on to off.
//!
//! A fourth server has statistics on and exports a span per call to an OTLP collector
//! in this process (`otlp_sink.rs`), which decodes and counts them: what traces cost,
//! and whether every call got its span.
//!
//! Then the count: a copy of demo.hello under its own name gets exactly [`COUNTED`]
//! requests from [`CLIENTS`] clients of this process (wrk cannot say how many requests
//! it sent: it drops those in flight when it stops), and the server's statistics are
//! read back once flushed: calls counted against requests sent, and the statistics'
//! percentiles (the server's time in the service) beside the clients' (the whole HTTP
//! round trip).
//!
//! Then the percentiles: `test.stats` (tests/guests) sleeping 1 to 40 ms, one value
//! after another, gets [`TIMED`] requests, and the statistics' p50/p95/p99 are set
//! beside the clients': with the service's time far above the round trip's, they must
//! agree to within the round trip.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

use super::Ctx;
use super::deploy::stop_all;
use crate::component::renamed;
use crate::otlp_sink::Sink;
use crate::report::{Section, ms, thousands};
use crate::stats::quantile;
use crate::wrk::{self, Load};
use crate::zato::{Env, EnvOptions, client, wait_for};

/// The copy of demo.hello whose calls are counted (same length as `demo.hello`).
const COUNTED_SERVICE: &str = "demo.count";
/// Requests sent to [`COUNTED_SERVICE`].
const COUNTED: usize = 20_000;
/// Clients sending them at once.
const CLIENTS: usize = 16;
/// Requests sent to `test.stats` for the percentiles.
const TIMED: usize = 2_000;
/// The longest sleep asked of `test.stats`, in ms: requests ask 1, 2, ..., this, 1, ...
const LONGEST_SLEEP_MS: usize = 40;
/// The env with traces exported: the fourth.
const TRACED: usize = 3;

pub async fn run(ctx: &Ctx<'_>) -> anyhow::Result<Section> {
    let wrk = ctx.wrk.as_deref().context("the stats scenario needs wrk")?;
    let plan = ctx.plan;
    let counted = if plan.quick { 2_000 } else { COUNTED };
    let mut section = Section::new(
        "15. Usage statistics: their cost on the request path, and their count",
        crate::scenario::RATIO_COLUMNS.to_vec(),
    )
    .text_columns(1);
    section.notes.push(format!(
        "demo.hello over HTTP (GET /demo/hello?name=bench, keep-alive, {} connections, {} s runs, median of {} rounds alternating the order), on one server with statistics off (`[stats] enabled = false`), one with them on but no samples (`samples = false`: each call added to its minute's aggregate only) one with the defaults (also the last call kept as its service's sample, headers and payloads copied), and one with the defaults and a span per call exported as OTLP/HTTP protobuf to a collector in the bench's process (`[telemetry] otlp_endpoint`); each writes to the in-memory KVDB every second; ratio = to statistics off; paired ratio = the median of each round's ratio to the statistics-off run of the same round.",
        crate::scenario::CONNECTIONS,
        plan.duration.as_secs(),
        plan.rounds.max(2)
    ));

    let collector = Sink::start().await?;
    let mut envs = Vec::new();
    for (label, dir, enabled, samples, traced) in [
        ("statistics off", "stats-off", false, false, false),
        (
            "statistics on, samples off",
            "stats-no-samples",
            true,
            false,
            false,
        ),
        ("statistics on (the default)", "stats-on", true, true, false),
        (
            "statistics on, traces exported (OTLP)",
            "stats-traces",
            true,
            true,
            true,
        ),
    ] {
        let cluster = format!("bench-stats-{}", uuid::Uuid::new_v4().simple());
        let env = Env::create(
            &ctx.artifacts.zato,
            &ctx.work.join(dir),
            &EnvOptions::one_server(&cluster),
        )?;
        env.set_config(0, &["stats"], "enabled", toml::Value::Boolean(enabled))?;
        env.set_config(0, &["stats"], "samples", toml::Value::Boolean(samples))?;
        if traced {
            env.set_config(
                0,
                &["telemetry"],
                "otlp_endpoint",
                toml::Value::String(collector.url()),
            )?;
        }
        envs.push((label, env));
    }
    let mut procs = Vec::new();
    for (_, env) in &envs {
        let mut proc = env.start(0, ctx.server_cpu(), &ctx.logs)?;
        wait_for(
            &format!("{}/zato/ping", env.base(0)),
            &mut proc,
            Duration::from_secs(60),
        )
        .await?;
        procs.push(proc);
    }
    let measured = async {
        let hello = std::fs::read(&ctx.artifacts.hello)
            .with_context(|| format!("cannot read `{}`", ctx.artifacts.hello.display()))?;
        for (_, env) in &envs {
            let admin = env.admin(0);
            admin.deploy(hello.clone(), "hello.wasm").await?;
            admin
                .channel("demo.hello", "/demo/hello", "demo.hello")
                .await?;
        }
        let rounds = plan.rounds.max(2) as usize;
        let mut runs: Vec<Vec<wrk::Outcome>> = vec![Vec::new(); envs.len()];
        for round in 0..rounds {
            for k in 0..envs.len() {
                let t = (round + k) % envs.len();
                let (label, env) = &envs[t];
                eprintln!("[bench] stats: round {}/{rounds}: {label}", round + 1);
                let url = format!("{}/demo/hello?name=bench", env.base(0));
                let load = |duration| Load {
                    url: &url,
                    connections: crate::scenario::CONNECTIONS,
                    duration,
                    script: None,
                    cpu: ctx.load_cpu(),
                    cores: plan.cores,
                };
                if !plan.warmup.is_zero() {
                    wrk::run(wrk, &load(plan.warmup)).await?;
                }
                let outcome = wrk::run(wrk, &load(plan.duration)).await?;
                outcome.require_clean(label)?;
                runs[t].push(outcome);
            }
        }
        let count = count_check(&envs[2].1, &hello, counted).await?;
        let timed = std::fs::read(&ctx.artifacts.timed)
            .with_context(|| format!("cannot read `{}`", ctx.artifacts.timed.display()))?;
        let timed = timed_check(&envs[2].1, timed, if plan.quick { 400 } else { TIMED }).await?;
        let traced = traced_check(&envs[TRACED].1, &collector).await?;
        anyhow::Ok((runs, count, timed, traced))
    }
    .await;
    stop_all(procs);
    let (runs, count, timed, traced) = measured?;

    let labels: Vec<&str> = envs.iter().map(|(label, _)| *label).collect();
    section
        .rows
        .extend(crate::scenario::ratio_rows("stats", &labels, &runs));
    section.notes.push(format!(
        "Count: {} requests sent to {COUNTED_SERVICE} from {CLIENTS} clients, {} calls counted by `zato stats` ({} errors), read {} ms after the last answer. p50 / p99: the clients' {} / {} (the HTTP round trip), the statistics' {} / {} (the service's time on the server).",
        count.sent,
        count.counted,
        count.errors,
        count.waited_ms,
        ms(count.client_p50),
        ms(count.client_p99),
        ms(count.stats_p50),
        ms(count.stats_p99),
    ));
    section.notes.push(format!(
        "Percentiles: {} requests to test.stats sleeping 1 to {LONGEST_SLEEP_MS} ms in turn, from {CLIENTS} clients. p50 / p95 / p99: the clients' {} / {} / {}, the statistics' {} / {} / {}; the statistics (the service's time on the server) are below the clients' (the HTTP round trip) by {} / {} / {}. {} calls counted of {} sent.",
        timed.sent,
        ms(timed.client[0]),
        ms(timed.client[1]),
        ms(timed.client[2]),
        ms(timed.stats[0]),
        ms(timed.stats[1]),
        ms(timed.stats[2]),
        ms(timed.client[0] - timed.stats[0]),
        ms(timed.client[1] - timed.stats[1]),
        ms(timed.client[2] - timed.stats[2]),
        timed.counted,
        timed.sent,
    ));
    section.notes.push(format!(
        "Traces: the traced server's {} calls of demo.hello (its statistics' count, warm-ups included) gave {} spans at the collector in {} exports ({} MB of protobuf, {} refused); spans past the exporter's queue (`[telemetry] max_queue_size`, 16,384) are dropped rather than slow the request path.",
        thousands(traced.calls as f64),
        thousands(traced.spans as f64),
        thousands(traced.exports as f64),
        format_args!("{:.1}", traced.bytes as f64 / 1e6),
        traced.refused,
    ));
    if timed.counted != timed.sent as u64 {
        bail!(
            "the statistics counted {} calls of test.stats, {} were sent",
            timed.counted,
            timed.sent
        );
    }
    if count.counted != count.sent as u64 {
        bail!(
            "the statistics counted {} calls of {COUNTED_SERVICE}, {} were sent",
            count.counted,
            count.sent
        );
    }
    Ok(section)
}

/// What the count check saw.
struct Count {
    sent: usize,
    counted: u64,
    errors: u64,
    waited_ms: u128,
    client_p50: f64,
    client_p99: f64,
    stats_p50: f64,
    stats_p99: f64,
}

/// Sends `calls` requests to a copy of demo.hello, then reads its statistics back.
async fn count_check(env: &Env, hello: &[u8], calls: usize) -> anyhow::Result<Count> {
    let admin = env.admin(0);
    let copy = renamed(hello, "demo.hello", COUNTED_SERVICE)?;
    admin.deploy(copy, COUNTED_SERVICE).await?;
    admin
        .channel(COUNTED_SERVICE, "/demo/count", COUNTED_SERVICE)
        .await?;
    let url = format!("{}/demo/count?name=bench", env.base(0));
    let (latencies, stats, waited) = load(env, COUNTED_SERVICE, url, calls, |_| None).await?;
    Ok(Count {
        sent: latencies.len(),
        counted: stats.count,
        errors: stats.errors,
        waited_ms: waited.as_millis(),
        client_p50: quantile(&latencies, 0.5),
        client_p99: quantile(&latencies, 0.99),
        stats_p50: stats.p50_ms.unwrap_or(f64::NAN),
        stats_p99: stats.p99_ms.unwrap_or(f64::NAN),
    })
}

/// Sends `calls` requests to `url` from [`CLIENTS`] clients (request `i` a POST of
/// `body(i)` when it gives one, else a GET), then reads `service`'s statistics once
/// they count every call (at most 30 s later): the clients' latencies in ms, the
/// statistics, and how long after the last answer they were read.
async fn load(
    env: &Env,
    service: &'static str,
    url: String,
    calls: usize,
    body: fn(usize) -> Option<String>,
) -> anyhow::Result<(Vec<f64>, zato_api::ServiceStats, Duration)> {
    let http = client();
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..CLIENTS {
        let (http, url, next) = (http.clone(), url.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= calls {
                    break;
                }
                let request = match body(i) {
                    Some(body) => http.post(&url).body(body),
                    None => http.get(&url),
                };
                let sent = Instant::now();
                let response = request.send().await?;
                let status = response.status();
                response.bytes().await?;
                if !status.is_success() {
                    bail!("{service} answered {status}");
                }
                latencies.push(sent.elapsed().as_secs_f64() * 1e3);
            }
            anyhow::Ok(latencies)
        }));
    }
    let mut latencies = Vec::with_capacity(calls);
    for task in tasks {
        latencies.extend(task.await??);
    }
    let done = Instant::now();
    let (user, password) = env.credentials();
    let api = zato_api::AdminClient::with_client(client(), env.base(0), user, password);
    let stats = loop {
        let stats = api.service_stats(service, None).await?;
        if stats.count >= calls as u64 || done.elapsed() > Duration::from_secs(30) {
            break stats;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    Ok((latencies, stats, done.elapsed()))
}

/// What the percentile check saw: p50, p95, p99.
struct Timed {
    sent: usize,
    counted: u64,
    client: [f64; 3],
    stats: [f64; 3],
}

/// Sends `calls` requests to `test.stats`, asking for 1 to [`LONGEST_SLEEP_MS`] ms in
/// turn, then reads its statistics back once they count every call.
async fn timed_check(env: &Env, component: Vec<u8>, calls: usize) -> anyhow::Result<Timed> {
    const SERVICE: &str = "test.stats";
    let admin = env.admin(0);
    admin.deploy(component, "stats.wasm").await?;
    admin.channel(SERVICE, "/bench/timed", SERVICE).await?;
    let url = format!("{}/bench/timed", env.base(0));
    let (latencies, stats, _) = load(env, SERVICE, url, calls, |i| {
        Some(format!(r#"{{"ms": {}}}"#, 1 + i % LONGEST_SLEEP_MS))
    })
    .await?;
    let nan = f64::NAN;
    Ok(Timed {
        sent: latencies.len(),
        counted: stats.count,
        client: [
            quantile(&latencies, 0.5),
            quantile(&latencies, 0.95),
            quantile(&latencies, 0.99),
        ],
        stats: [
            stats.p50_ms.unwrap_or(nan),
            stats.p95_ms.unwrap_or(nan),
            stats.p99_ms.unwrap_or(nan),
        ],
    })
}

/// What the traced server's collector got.
struct Traced {
    calls: u64,
    spans: u64,
    exports: u64,
    bytes: u64,
    refused: u64,
}

/// The traced server's calls of demo.hello against the spans its collector got, once
/// the spans stop coming (the exporter sends every second).
async fn traced_check(env: &Env, collector: &Sink) -> anyhow::Result<Traced> {
    let (user, password) = env.credentials();
    let api = zato_api::AdminClient::with_client(client(), env.base(0), user, password);
    let mut last = u64::MAX;
    let started = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(2_500)).await;
        let spans = collector.spans();
        if spans == last || started.elapsed() > Duration::from_secs(60) {
            break;
        }
        last = spans;
    }
    let calls = api.service_stats("demo.hello", None).await?.count;
    let counts = &collector.counts;
    let load = |n: &std::sync::atomic::AtomicU64| n.load(std::sync::atomic::Ordering::Relaxed);
    Ok(Traced {
        calls,
        spans: load(&counts.spans),
        exports: load(&counts.exports),
        bytes: load(&counts.bytes),
        refused: load(&counts.refused),
    })
}
