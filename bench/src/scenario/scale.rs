//! Scenario 4: a server with many services. It is populated through the admin API with
//! N services (copies of `demo.hello` renamed `demo.h0001`, `demo.h0002`, ..., each with
//! an HTTP channel), stopped, then started again twice: *cold*, its artifact cache
//! emptied, so it compiles every service, and *warm*, from the cache.
//! Each start is timed from the process's spawn until it listens (`/zato/ping` answers,
//! 503 while it loads its services), until it has loaded them all (`/zato/ping` answers
//! 200) and until every channel has answered, and its resident memory read once it is
//! idle; a server with no service gives the base
//! from which the memory per service is counted.

use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use futures::{StreamExt as _, TryStreamExt as _};

use super::Ctx;
use crate::component::renamed;
use crate::report::{Row, Section, mib, ms};
use crate::zato::{Env, EnvOptions, client, wait_for, wait_listening};

/// The service name the copies replace (same length as theirs: `demo.h0001`).
const ORIGINAL: &str = "demo.hello";
/// Deploys in flight while populating; the server compiles them on its blocking pool.
const DEPLOYS_IN_FLIGHT: usize = 4;
/// Channels probed at once while waiting for every service to answer.
const PROBES_IN_FLIGHT: usize = 16;

/// What one start of the populated server measured.
struct Start {
    /// Spawn -> `/zato/ping` answers at all (503 while the services load).
    listening: Duration,
    /// Spawn -> `/zato/ping` answers 200: every service is loaded.
    ready: Duration,
    /// Spawn -> the last channel answered.
    all_answering: Duration,
    rss: Option<u64>,
    compilations: u64,
    cache_hits: u64,
}

/// Scenario 4's section, and scenario 9's: the web admin's pages, measured while the
/// populated server runs.
pub struct Results {
    pub scale: Section,
    pub web_admin: anyhow::Result<Section>,
}

pub async fn run(ctx: &Ctx<'_>) -> anyhow::Result<Results> {
    let n = ctx.plan.services;
    if n > 9999 {
        bail!("the scale scenario names services demo.h0001..demo.h9999: at most 9999");
    }
    let limit = Duration::from_secs(60 + 2 * n as u64);
    let hello = std::fs::read(&ctx.artifacts.hello)?;
    let names: Vec<String> = (1..=n).map(|i| format!("demo.h{i:04}")).collect();

    eprintln!("[bench] scale: a server with no service");
    let empty = Env::create(
        &ctx.artifacts.zato,
        &ctx.work.join("scale-empty"),
        &options(),
    )?;
    let mut proc = empty.start(0, None, &ctx.logs)?;
    wait_for(&ping(&empty), &mut proc, limit).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let base_rss = proc.rss();
    proc.stop();

    eprintln!("[bench] scale: deploying {n} services, each with a channel");
    let env = Env::create(&ctx.artifacts.zato, &ctx.work.join("scale"), &options())?;
    let mut proc = env.start(0, None, &ctx.logs)?;
    wait_for(&ping(&env), &mut proc, limit).await?;
    let admin = env.admin(0);
    admin.status().await?;
    let started = Instant::now();
    futures::stream::iter(&names)
        .map(|name| {
            let admin = &admin;
            let hello = &hello;
            async move {
                let bytes = renamed(hello, ORIGINAL, name)?;
                let outcome = admin.deploy(bytes, &format!("{name}.wasm")).await?;
                if &outcome.name != name {
                    bail!(
                        "a renamed copy deployed as `{}`, not `{name}`",
                        outcome.name
                    );
                }
                admin.channel(name, &format!("/s/{name}"), name).await
            }
        })
        .buffer_unordered(DEPLOYS_IN_FLIGHT)
        .try_collect::<Vec<()>>()
        .await?;
    let populate = started.elapsed();
    probe_all(&env, &names, started, limit).await?;
    eprintln!("[bench] web admin: its pages with {n} services");
    let web_admin = super::web_admin::run(ctx, &env, &names).await;
    proc.stop();

    eprintln!("[bench] scale: starting with {n} services, artifact cache emptied");
    let cache = env.cache_dir(0);
    std::fs::remove_dir_all(&cache)
        .with_context(|| format!("cannot empty the artifact cache `{}`", cache.display()))?;
    let cold = start(ctx, &env, &names, limit).await?;
    eprintln!("[bench] scale: starting with {n} services, from the artifact cache");
    let warm = start(ctx, &env, &names, limit).await?;

    let mut section = Section::new(
        format!(
            "4. Scale: a server with {n} services (copies of demo.hello, one HTTP channel each)"
        ),
        vec![
            "case",
            "listening",
            "loaded (/zato/ping 200)",
            "all answering",
            "per service",
            "resident memory",
            "memory per service",
        ],
    );
    let per = |d: Duration| d.as_secs_f64() * 1000.0 / n as f64;
    let per_service_rss = |rss: Option<u64>| match (rss, base_rss) {
        (Some(rss), Some(base)) => (rss as f64 - base as f64) / n as f64,
        _ => f64::NAN,
    };
    let mut populate_row = Row::new("scale", format!("populate: deploy {n} services + channels"))
        .extra("services", n)
        .extra("total_ms", populate.as_secs_f64() * 1000.0)
        .extra("per_service_ms", per(populate))
        .cells(vec![
            format!("deploy {n} services + channels through the admin API ({DEPLOYS_IN_FLIGHT} at a time)"),
            "-".into(),
            "-".into(),
            ms(populate.as_secs_f64() * 1000.0),
            ms(per(populate)),
            "-".into(),
            "-".into(),
        ]);
    populate_row.p50_ms = Some(per(populate));
    section.rows.push(populate_row);
    for (case, figures) in [
        ("start cold (compile every service)", &cold),
        ("start warm (artifact cache)", &warm),
    ] {
        let all_ms = figures.all_answering.as_secs_f64() * 1000.0;
        let per_rss = per_service_rss(figures.rss);
        let mut row = Row::new("scale", format!("{case}, {n} services"))
            .extra("services", n)
            .extra("listening_ms", figures.listening.as_secs_f64() * 1000.0)
            .extra("loaded_ms", figures.ready.as_secs_f64() * 1000.0)
            .extra("all_answering_ms", all_ms)
            .extra("per_service_ms", per(figures.all_answering))
            .extra("rss_mib", figures.rss.map(|b| b as f64 / MIB))
            .extra("rss_per_service_kib", per_rss / 1024.0)
            .extra("compilations", figures.compilations)
            .extra("cache_hits", figures.cache_hits)
            .cells(vec![
                case.into(),
                ms(figures.listening.as_secs_f64() * 1000.0),
                ms(figures.ready.as_secs_f64() * 1000.0),
                ms(all_ms),
                ms(per(figures.all_answering)),
                mib(figures.rss.map_or(f64::NAN, |b| b as f64)),
                format!("{:.0} KiB", per_rss / 1024.0),
            ]);
        row.p50_ms = Some(all_ms);
        section.rows.push(row);
        if figures.compilations + figures.cache_hits < n as u64 {
            section.notes.push(format!(
                "{case}: the server reports {} compilations and {} cache hits for {n} services.",
                figures.compilations, figures.cache_hits
            ));
        }
    }
    section.rows.push(
        Row::new("scale", "idle server, no service")
            .extra("rss_mib", base_rss.map(|b| b as f64 / MIB))
            .cells(vec![
                "idle server, no service".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                mib(base_rss.map_or(f64::NAN, |b| b as f64)),
                "-".into(),
            ]),
    );
    section.notes.push(format!(
        "Times are from the spawn of `zato start` (SQLite ODB, one server, not pinned); memory is VmRSS once idle, per service = (server - idle server with no service) / {n}. Cold start: {} compilations, {} cache hits; warm start: {} compilations, {} cache hits.",
        cold.compilations, cold.cache_hits, warm.compilations, warm.cache_hits
    ));
    Ok(Results {
        scale: section,
        web_admin,
    })
}

const MIB: f64 = 1024.0 * 1024.0;

fn options() -> EnvOptions<'static> {
    EnvOptions::one_server("bench-scale")
}

fn ping(env: &Env) -> String {
    format!("{}/zato/ping", env.base(0))
}

/// Starts the populated server and times it until every channel answers.
async fn start(
    ctx: &Ctx<'_>,
    env: &Env,
    names: &[String],
    limit: Duration,
) -> anyhow::Result<Start> {
    let spawned = Instant::now();
    let mut proc = env.start(0, None, &ctx.logs)?;
    wait_listening(&ping(env), &mut proc, limit).await?;
    let listening = spawned.elapsed();
    wait_for(&ping(env), &mut proc, limit).await?;
    let ready = spawned.elapsed();
    probe_all(env, names, spawned, limit).await?;
    let all_answering = spawned.elapsed();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss = proc.rss();
    let status = env.admin(0).status().await?;
    proc.stop();
    Ok(Start {
        listening,
        ready,
        all_answering,
        rss,
        compilations: status["compilations"].as_u64().unwrap_or(0),
        cache_hits: status["cache_hits"].as_u64().unwrap_or(0),
    })
}

/// Waits until the channel of every service answers 200.
async fn probe_all(
    env: &Env,
    names: &[String],
    started: Instant,
    limit: Duration,
) -> anyhow::Result<()> {
    let http = client();
    let base = env.base(0);
    futures::stream::iter(names)
        .map(|name| {
            let url = format!("{base}/s/{name}?name=bench");
            let http = &http;
            async move {
                loop {
                    if let Ok(response) = http.get(&url).send().await
                        && response.status().is_success()
                    {
                        return Ok(());
                    }
                    if started.elapsed() > limit {
                        bail!("{url} did not answer within {limit:?}");
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
        })
        .buffer_unordered(PROBES_IN_FLIGHT)
        .try_collect::<Vec<()>>()
        .await?;
    Ok(())
}
