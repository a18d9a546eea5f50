//! Scenario 14: asynchronous invokes per second, queued, run and acknowledged end to
//! end, against synchronous invokes of the same service, in the same run.
//!
//! One server on this machine's Redis (the cluster's KVDB: a stream per work queue,
//! XREADGROUP, XACK), `demo.hello` deployed. The baseline is [`CALLS`] synchronous
//! invokes through the admin API (`POST /zato/api/services/demo.hello/invoke`) from
//! [`CONCURRENCY`] clients; the target is as many asynchronous ones (`?async=true`,
//! answered 202 with a cid at once) from as many clients, the server's worker running
//! them ([`WORKERS`] at a time, the default). An asynchronous call's end is the time its
//! outcome was recorded `done` (`updated_at`, read back through `GET
//! /zato/api/async/{cid}` after the run, so the reads do not load the run itself): the
//! rate is the calls over the time from the first request sent to the last call done,
//! and the latency of each is from queued to done.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use tokio::sync::Semaphore;
use zato_api::{AdminClient, AsyncState, DataFormat};

use super::Ctx;
use super::deploy::{start_all, stop_all};
use crate::report::{Row, Section, ms, thousands};
use crate::stats::quantile;
use crate::zato::{Env, EnvOptions, client};

/// Clients sending at once.
const CONCURRENCY: usize = 16;
/// The server's `[async_invoke] workers` (its default).
const WORKERS: usize = 16;
const BODY: &str = r#"{"name": "bench"}"#;

/// What one target did.
struct Figures {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    took: Duration,
}

pub async fn run(ctx: &Ctx<'_>) -> anyhow::Result<Section> {
    let calls: usize = if ctx.plan.quick { 500 } else { 5_000 };
    let mut section = Section::new(
        "14. Asynchronous invoke: queued, run and acknowledged vs synchronous invokes",
        vec!["target", "calls/s", "p50", "p99", "ratio (calls/s)", "took"],
    )
    .text_columns(1);
    section.notes.push(format!(
        "One server, KVDB on the local Redis; {calls} invokes of demo.hello ({} bytes of JSON) through the admin API from {CONCURRENCY} clients, synchronous (latency: the request) then asynchronous (the server's {WORKERS} workers; latency: queued to done, as the outcomes record it). calls/s runs from the first request sent to the last call done; ratio = asynchronous / synchronous. The server is not pinned, and shares the machine with Redis.",
        BODY.len()
    ));

    let cluster = format!("bench-async-{}", uuid::Uuid::new_v4().simple());
    let env = Env::create(
        &ctx.artifacts.zato,
        &ctx.work.join("async-env"),
        &EnvOptions {
            servers: 1,
            cluster: &cluster,
            redis: Some(&ctx.plan.redis),
            odb: None,
        },
    )?;
    let procs = start_all(&env, 1, ctx).await?;
    let measured = async {
        let (user, password) = env.credentials();
        let api = AdminClient::with_client(client(), env.base(0), user, password);
        let bytes = std::fs::read(&ctx.artifacts.hello)
            .with_context(|| format!("cannot read `{}`", ctx.artifacts.hello.display()))?;
        env.admin(0).deploy(bytes, "hello.wasm").await?;
        // Warm-up: compiled artifact, connections, the worker's first takes.
        sync_invokes(&api, 200).await?;
        async_invokes(&api, 200).await?;
        eprintln!("[bench] async-invoke: {calls} synchronous invokes");
        let sync = sync_invokes(&api, calls).await?;
        eprintln!("[bench] async-invoke: {calls} asynchronous invokes");
        let asynchronous = async_invokes(&api, calls).await?;
        anyhow::Ok((sync, asynchronous))
    }
    .await;
    stop_all(procs);
    let (sync, asynchronous) = measured?;

    section
        .rows
        .push(row("synchronous invoke (admin API)", &sync, None));
    section.rows.push(row(
        "asynchronous invoke: queued, run, acknowledged",
        &asynchronous,
        Some(&sync),
    ));
    Ok(section)
}

fn row(target: &str, figures: &Figures, baseline: Option<&Figures>) -> Row {
    let ratio = baseline.map(|b| figures.rps / b.rps);
    let mut row = Row::new("async-invoke", target);
    row.rps = Some(figures.rps);
    row.p50_ms = Some(figures.p50_ms);
    row.p99_ms = Some(figures.p99_ms);
    row.ratio_to_baseline = ratio;
    let cells = vec![
        target.to_owned(),
        thousands(figures.rps),
        ms(figures.p50_ms),
        ms(figures.p99_ms),
        ratio.map_or("1.00 (baseline)".into(), |r| format!("{r:.2}")),
        format!("{:.2} s", figures.took.as_secs_f64()),
    ];
    row.extra("took_s", figures.took.as_secs_f64()).cells(cells)
}

/// `calls` synchronous invokes from [`CONCURRENCY`] clients.
async fn sync_invokes(api: &AdminClient, calls: usize) -> anyhow::Result<Figures> {
    let started = Instant::now();
    let latencies = from_clients(calls, {
        let api = api.clone();
        move || {
            let api = api.clone();
            async move {
                let sent = Instant::now();
                let answer = api
                    .invoke("demo.hello", BODY, DataFormat::Json, None)
                    .await?;
                if !answer.status.is_success() {
                    bail!("demo.hello answered {}", answer.status);
                }
                Ok(sent.elapsed().as_secs_f64() * 1e3)
            }
        }
    })
    .await?;
    let took = started.elapsed();
    Ok(Figures {
        rps: calls as f64 / took.as_secs_f64(),
        p50_ms: quantile(&latencies, 0.5),
        p99_ms: quantile(&latencies, 0.99),
        took,
    })
}

/// `calls` asynchronous invokes from [`CONCURRENCY`] clients, until every one is done.
async fn async_invokes(api: &AdminClient, calls: usize) -> anyhow::Result<Figures> {
    let started_ms = now_ms();
    let cids = from_clients(calls, {
        let api = api.clone();
        move || {
            let api = api.clone();
            async move {
                Ok(api
                    .invoke_async("demo.hello", BODY, DataFormat::Json, None)
                    .await?
                    .cid)
            }
        }
    })
    .await?;
    // Read back once every call ended: the last one queued first, then the rest.
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut latencies = Vec::with_capacity(calls);
    let mut last_done = 0;
    for cid in cids.iter().rev() {
        let outcome = loop {
            let outcome = api.async_outcome(cid).await?;
            if outcome.state.is_final() {
                break outcome;
            }
            if Instant::now() > deadline {
                bail!("the asynchronous call {cid} did not end: {outcome:?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        if outcome.state != AsyncState::Done {
            bail!("the asynchronous call {cid} failed: {:?}", outcome.error);
        }
        latencies.push((outcome.updated_at - outcome.queued_at) as f64);
        last_done = last_done.max(outcome.updated_at);
    }
    let took = Duration::from_millis((last_done - started_ms).max(1) as u64);
    Ok(Figures {
        rps: calls as f64 / took.as_secs_f64(),
        p50_ms: quantile(&latencies, 0.5),
        p99_ms: quantile(&latencies, 0.99),
        took,
    })
}

/// Runs `call` `calls` times from [`CONCURRENCY`] tasks; the first error stops it.
async fn from_clients<T, F, Fut>(calls: usize, call: F) -> anyhow::Result<Vec<T>>
where
    T: Send + 'static,
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = anyhow::Result<T>> + Send,
{
    let left = Arc::new(Semaphore::new(calls));
    let mut tasks = Vec::new();
    for _ in 0..CONCURRENCY {
        let (call, left) = (call.clone(), left.clone());
        tasks.push(tokio::spawn(async move {
            let mut got = Vec::new();
            while let Ok(permit) = left.try_acquire() {
                permit.forget();
                got.push(call().await?);
            }
            anyhow::Ok(got)
        }));
    }
    let mut all = Vec::with_capacity(calls);
    for task in tasks {
        all.extend(task.await??);
    }
    Ok(all)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
