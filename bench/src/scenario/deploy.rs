//! Scenario 3: hot deploy, from the moment the deploy is sent to the admin API to the
//! moment the new version answers on an HTTP channel, on one server and on every server
//! of a cluster of three (one ODB, the local Redis).
//!
//! The components are `test.version` 1 and 2, which answer `{"version": N}`, so the
//! answer itself says which version served it. Each deploy sends the other version than
//! the one answering: *cold* deploys send bytes never seen (a custom section makes a new
//! sha256, so the server compiles them); *warm* deploys send again bytes deployed
//! earlier, which every server finds in its artifact cache. The 5 MB component is the
//! small one plus a 5 MiB custom section: same code, five megabytes more to upload,
//! hash, store in the ODB and fetch.

use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use sqlx::Connection as _;

use super::Ctx;
use crate::component::variant;
use crate::process::Proc;
use crate::report::{Row, Section, ms};
use crate::stats::{max, median};
use crate::zato::{Env, EnvOptions, client, wait_for};

const BIG_PAD: usize = 5 * 1024 * 1024;
/// Longest a deploy may take to reach every server before the scenario gives up.
const LIMIT: Duration = Duration::from_secs(120);

pub async fn run(ctx: &Ctx<'_>) -> anyhow::Result<Section> {
    let mut section = Section::new(
        format!(
            "3. Hot deploy: sent -> new version answering ({} deploys per case)",
            ctx.plan.deploys.max(2)
        ),
        vec![
            "setup",
            "component",
            "case",
            "sent -> accepted (p50)",
            "accepted -> answering (p50)",
            "sent -> answering (p50)",
            "sent -> answering (max)",
        ],
    )
    .text_columns(3);
    section.notes.push(
        "sent: the upload starts; accepted: the admin API answers it (that server runs the new version by then); answering: the channel of every server answers with the new version. The JSON rows' p50_ms and p99_ms are sent -> answering, median and worst. Servers are not pinned."
            .into(),
    );
    let versions = [
        std::fs::read(&ctx.artifacts.version[0])?,
        std::fs::read(&ctx.artifacts.version[1])?,
    ];

    eprintln!("[bench] deploy: one server");
    let env = Env::create(
        &ctx.artifacts.zato,
        &ctx.work.join("deploy"),
        &EnvOptions::one_server("bench-deploy"),
    )?;
    let procs = start_all(&env, 1, ctx).await?;
    measure(ctx, &env, 1, "1 server", &versions, &mut section).await?;
    stop_all(procs);

    if !reachable(&ctx.plan.redis).await {
        section.notes.push(format!(
            "Cluster skipped: no Redis at {} (start one, or pass --redis URL).",
            ctx.plan.redis
        ));
        return Ok(section);
    }
    let db = TempDb::create(&ctx.plan.postgres).await;
    let (odb, odb_label) = match &db {
        Ok(db) => (Some(db.url.clone()), "PostgreSQL ODB"),
        Err(e) => {
            section.notes.push(format!(
                "The cluster's ODB is a shared SQLite file: PostgreSQL at {} is unavailable ({e:#}).",
                ctx.plan.postgres
            ));
            (None, "SQLite ODB")
        }
    };
    let cluster = format!("bench-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    eprintln!("[bench] deploy: a cluster of 3 ({odb_label}, Redis)");
    let result = async {
        let env = Env::create(
            &ctx.artifacts.zato,
            &ctx.work.join("deploy-cluster"),
            &EnvOptions {
                servers: 3,
                cluster: &cluster,
                redis: Some(&ctx.plan.redis),
                odb: odb.as_deref(),
            },
        )?;
        let procs = start_all(&env, 3, ctx).await?;
        let setup = format!("3 servers ({odb_label}, Redis)");
        let measured = measure(ctx, &env, 3, &setup, &versions, &mut section).await;
        stop_all(procs);
        measured
    }
    .await;
    if let Ok(db) = db {
        db.drop_database().await;
    }
    result?;
    Ok(section)
}

/// Times cold and warm deploys of the small and the 5 MB component.
async fn measure(
    ctx: &Ctx<'_>,
    env: &Env,
    servers: u16,
    setup: &str,
    versions: &[Vec<u8>; 2],
    section: &mut Section,
) -> anyhow::Result<()> {
    let admin = env.admin(0);
    admin.status().await?;
    let probes: Vec<String> = (0..servers)
        .map(|i| format!("{}/bench/version", env.base(i)))
        .collect();
    admin
        .deploy(variant(&versions[0], 0, 0), "version.wasm")
        .await?;
    admin
        .channel("bench-version", "/bench/version", "test.version")
        .await?;
    wait_all(&probes, 1, Instant::now()).await?;
    let mut answering_now = 1usize;
    let mut tag = 0u32;

    for (component, pad) in [("small", 0), ("5 MB", BIG_PAD)] {
        // Bytes deployed cold, by the version they answer, to deploy again warm.
        let mut seen: [Vec<Vec<u8>>; 2] = [Vec::new(), Vec::new()];
        let mut reused = [0usize; 2];
        for cold in [true, false] {
            let case = if cold {
                "cold (compile)"
            } else {
                "warm (cached artifact)"
            };
            eprintln!("[bench] deploy: {setup}, {component}, {case}");
            let mut accepted = Vec::new();
            let mut answering = Vec::new();
            let mut surprises = 0;
            // Two at least, so that both versions have bytes to deploy again warm.
            for _ in 0..ctx.plan.deploys.max(2) {
                let want = 3 - answering_now;
                let bytes = if cold {
                    tag += 1;
                    let bytes = variant(&versions[want - 1], tag, pad);
                    seen[want - 1].push(bytes.clone());
                    bytes
                } else {
                    let pool = &seen[want - 1];
                    let bytes = pool[reused[want - 1] % pool.len()].clone();
                    reused[want - 1] += 1;
                    bytes
                };
                let started = Instant::now();
                let outcome = admin.deploy(bytes, "version.wasm").await?;
                accepted.push(started.elapsed().as_secs_f64() * 1000.0);
                answering.push(wait_all(&probes, want, started).await?.as_secs_f64() * 1000.0);
                answering_now = want;
                if outcome.from_cache == cold {
                    surprises += 1;
                }
            }
            if surprises > 0 {
                section.notes.push(format!(
                    "{setup}, {component}, {case}: {surprises} deploys were {} the artifact cache, unlike the case says.",
                    if cold { "served from" } else { "not served from" }
                ));
            }
            let propagation: Vec<f64> = answering
                .iter()
                .zip(&accepted)
                .map(|(a, b)| a - b)
                .collect();
            let mut row = Row::new("deploy", format!("{setup}, {component}, {case}"))
                .extra("servers", servers)
                .extra("component", component)
                .extra("cold", cold)
                .extra("accepted_p50_ms", median(&accepted))
                .extra("accepted_max_ms", max(&accepted))
                .extra("propagation_p50_ms", median(&propagation))
                .extra("answering_max_ms", max(&answering))
                .extra("samples", answering.len())
                .cells(vec![
                    setup.to_owned(),
                    component.to_owned(),
                    case.to_owned(),
                    ms(median(&accepted)),
                    ms(median(&propagation)),
                    ms(median(&answering)),
                    ms(max(&answering)),
                ]);
            // Few samples: the worst stands in for the 99th percentile.
            row.p50_ms = Some(median(&answering));
            row.p99_ms = Some(max(&answering));
            section.rows.push(row);
        }
    }
    Ok(())
}

/// Waits until every probe answers `{"version": want}`; returns the time since `started`.
async fn wait_all(probes: &[String], want: usize, started: Instant) -> anyhow::Result<Duration> {
    let http = client();
    for url in probes {
        loop {
            let answer = match http.get(url).send().await {
                Ok(response) => response.json::<serde_json::Value>().await.ok(),
                Err(_) => None,
            };
            if answer.is_some_and(|a| a["version"] == want) {
                break;
            }
            if started.elapsed() > LIMIT {
                bail!("{url} did not answer version {want} within {LIMIT:?}");
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    Ok(started.elapsed())
}

pub(crate) async fn start_all(env: &Env, servers: u16, ctx: &Ctx<'_>) -> anyhow::Result<Vec<Proc>> {
    let mut procs = Vec::new();
    for i in 0..servers {
        procs.push(env.start(i, None, &ctx.logs)?);
    }
    for (i, proc) in procs.iter_mut().enumerate() {
        wait_for(
            &format!("{}/zato/ping", env.base(i as u16)),
            proc,
            Duration::from_secs(60),
        )
        .await?;
    }
    Ok(procs)
}

pub(crate) fn stop_all(procs: Vec<Proc>) {
    for proc in procs {
        proc.stop();
    }
}

/// Whether something listens at the host and port of `url`.
pub(crate) async fn reachable(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let hostport = rest.split(['/', '?']).next().unwrap_or(rest);
    let hostport = hostport.rsplit_once('@').map_or(hostport, |(_, h)| h);
    let addr = if hostport.contains(':') {
        hostport.to_owned()
    } else {
        format!("{hostport}:6379")
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(2), tokio::net::TcpStream::connect(addr)).await,
        Ok(Ok(_))
    )
}

/// A PostgreSQL database made for the cluster and dropped after it.
pub(crate) struct TempDb {
    admin: String,
    name: String,
    pub(crate) url: String,
}

impl TempDb {
    pub(crate) async fn create(admin: &str) -> anyhow::Result<Self> {
        let name = format!("zato_bench_{}", uuid::Uuid::new_v4().simple());
        let (base, _) = admin
            .rsplit_once('/')
            .context("the PostgreSQL URL has no database")?;
        let mut conn =
            tokio::time::timeout(Duration::from_secs(5), sqlx::PgConnection::connect(admin))
                .await
                .context("timed out")??;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await?;
        Ok(Self {
            admin: admin.to_owned(),
            url: format!("{base}/{name}"),
            name,
        })
    }

    pub(crate) async fn drop_database(self) {
        let dropped = async {
            let mut conn = sqlx::PgConnection::connect(&self.admin).await?;
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            )))
            .execute(&mut conn)
            .await?;
            anyhow::Ok(())
        }
        .await;
        if let Err(e) = dropped {
            eprintln!("[bench] could not drop database {}: {e:#}", self.name);
        }
    }
}
