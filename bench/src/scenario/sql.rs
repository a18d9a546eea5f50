//! Scenario 11: a service that runs one SQL query, against sqlx running the same query
//! directly, in the same run.
//!
//! The database is a SQLite file of 1,000 customers. The service is the
//! `demo.sql-table` example behind an HTTP channel (`GET /demo/customers/{id}`: one
//! `select ... where id = ?` through the outgoing connection `customers`, a pool of 5),
//! loaded by 16 concurrent clients; the baseline is a sqlx pool of 5 on the same file
//! running the same query from 16 concurrent tasks in this process. Both run for the
//! same time (10 s; 3 s with --quick) after a short warm-up; the ratios say what the
//! HTTP request, the fresh instance, the `sql` import and the JSON answer cost on top of
//! the query itself.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use serde_json::json;
use zato_api::{AdminClient, Outconn, OutconnSettings, SqlSettings};

use super::Ctx;
use super::deploy::{start_all, stop_all};
use crate::report::{Row, Section, ms, thousands};
use crate::stats::quantile;
use crate::zato::{Env, EnvOptions, client};

pub(super) const CUSTOMERS: i64 = 1_000;
pub(super) const CONCURRENCY: usize = 16;
const POOL: u32 = 5;
const QUERY: &str = "select id, name, email from customers where id = ?";

pub async fn run(ctx: &Ctx<'_>) -> anyhow::Result<Section> {
    let duration = if ctx.plan.quick {
        Duration::from_secs(3)
    } else {
        Duration::from_secs(10)
    };
    let warmup = Duration::from_secs(1);
    let mut section = Section::new(
        "11. SQL: a service running one query vs sqlx directly",
        vec![
            "target",
            "req/s",
            "p50",
            "p99",
            "ratio (req/s)",
            "ratio (p50)",
        ],
    )
    .text_columns(1);
    section.notes.push(format!(
        "SQLite file, {CUSTOMERS} rows, `{QUERY}` by primary key; {CONCURRENCY} concurrent clients, pools of {POOL}, {} s each after {} s of warm-up. The service's figures include its HTTP request and JSON answer; ratio = zato / sqlx (throughput) and zato / sqlx (p50 latency). Servers are not pinned.",
        duration.as_secs(),
        warmup.as_secs()
    ));

    let dir = ctx.work.join("sql");
    std::fs::create_dir_all(&dir)?;
    let file = dir.join("customers.db");
    let url = format!("sqlite://{}?mode=rwc", file.display());
    let pool = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(POOL)
        .connect(&url)
        .await
        .with_context(|| format!("cannot open `{}`", file.display()))?;
    sqlx::query(
        "create table customers (id integer primary key autoincrement, name text not null, email text)",
    )
    .execute(&pool)
    .await?;
    let mut tx = pool.begin().await?;
    for id in 1..=CUSTOMERS {
        sqlx::query("insert into customers (name, email) values (?, ?)")
            .bind(format!("customer {id}"))
            .bind(format!("c{id}@example.com"))
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;

    eprintln!("[bench] sql: sqlx directly");
    let pool = Arc::new(pool);
    let direct = load(duration, warmup, {
        let pool = pool.clone();
        move |id| {
            let pool = pool.clone();
            async move {
                let rows = sqlx::query(QUERY).bind(id).fetch_all(&*pool).await?;
                if rows.len() != 1 {
                    bail!("customer {id}: {} rows", rows.len());
                }
                Ok(())
            }
        }
    })
    .await?;
    pool.close().await;

    eprintln!("[bench] sql: demo.sql-table on one server");
    let env = Env::create(
        &ctx.artifacts.zato,
        &ctx.work.join("sql-env"),
        &EnvOptions::one_server("bench-sql"),
    )?;
    let procs = start_all(&env, 1, ctx).await?;
    let served = async {
        let sql = SqlSettings {
            url: url.clone(),
            pool_size: POOL,
            timeout_ms: 0,
            max_rows: 0,
        };
        deploy_example(
            ctx,
            &env,
            &Outconn {
                name: "customers".into(),
                active: true,
                settings: OutconnSettings::Sql(sql),
                secret: None,
            },
            ("sql_table.wasm", "demo.sql-table"),
            Some(json!({"engine": "sqlite"})),
            "/demo/customers/{id}",
        )
        .await?;
        let base = env.base(0);
        load_http(duration, warmup, move |id| {
            format!("{base}/demo/customers/{id}")
        })
        .await
    }
    .await;
    stop_all(procs);
    let served = served?;

    section
        .rows
        .push(ratio_row("sql", "sqlx directly", &direct, None));
    section.rows.push(ratio_row(
        "sql",
        "zato: demo.sql-table over HTTP",
        &served,
        Some(&direct),
    ));
    Ok(section)
}

/// What one target did under [`load`].
pub(super) struct Figures {
    pub rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub count: usize,
}

/// A row of `target`'s figures with its ratios to `baseline`'s (zato / baseline, for
/// requests/s and p50), or marked as the baseline.
pub(super) fn ratio_row(
    scenario: &'static str,
    target: &str,
    figures: &Figures,
    baseline: Option<&Figures>,
) -> Row {
    let ratios = baseline.map(|b| (figures.rps / b.rps, figures.p50_ms / b.p50_ms));
    let mut row = Row::new(scenario, target);
    row.rps = Some(figures.rps);
    row.p50_ms = Some(figures.p50_ms);
    row.p99_ms = Some(figures.p99_ms);
    row.ratio_to_baseline = ratios.map(|r| r.0);
    let cells = vec![
        target.to_owned(),
        thousands(figures.rps),
        ms(figures.p50_ms),
        ms(figures.p99_ms),
        ratios.map_or("1.00 (baseline)".into(), |r| format!("{:.2}", r.0)),
        ratios.map_or("1.00 (baseline)".into(), |r| format!("{:.2}", r.1)),
    ];
    row.extra("requests", figures.count)
        .extra("p50_ratio", ratios.map(|r| r.1))
        .cells(cells)
}

/// On the environment's first server: the connection `conn`, the example in `file`
/// (in the examples' build directory) as `service` with `config`, and an HTTP channel
/// to it at `path`.
pub(super) async fn deploy_example(
    ctx: &Ctx<'_>,
    env: &Env,
    conn: &Outconn,
    (file, service): (&str, &str),
    config: Option<serde_json::Value>,
    path: &str,
) -> anyhow::Result<()> {
    let (user, password) = env.credentials();
    let api = AdminClient::with_client(client(), env.base(0), user, password);
    api.create_outconn(conn)
        .await
        .with_context(|| format!("the connection `{}` was refused", conn.name))?;
    let admin = env.admin(0);
    let wasm = ctx.artifacts.hello.with_file_name(file);
    let bytes =
        std::fs::read(&wasm).with_context(|| format!("cannot read `{}`", wasm.display()))?;
    admin.deploy(bytes, file).await?;
    if let Some(config) = config {
        admin.config(service, &config).await?;
    }
    admin.channel("customer", path, service).await?;
    Ok(())
}

/// [`load`] of GETs of `url(id)`, each of which must answer 2xx.
pub(super) async fn load_http(
    duration: Duration,
    warmup: Duration,
    url: impl Fn(i64) -> String + Clone + Send + 'static,
) -> anyhow::Result<Figures> {
    let http = client();
    load(duration, warmup, move |id| {
        let request = http.get(url(id));
        async move {
            let response = request.send().await?;
            let status = response.status();
            let body = response.bytes().await?;
            if !status.is_success() {
                bail!("customer {id}: {status} {}", String::from_utf8_lossy(&body));
            }
            Ok(())
        }
    })
    .await
}

/// Runs `call` from [`CONCURRENCY`] tasks, each with ids going round 1..=[`CUSTOMERS`],
/// for `warmup` unmeasured and then `duration`; the first error stops the run.
pub(super) async fn load<F, Fut>(
    duration: Duration,
    warmup: Duration,
    call: F,
) -> anyhow::Result<Figures>
where
    F: Fn(i64) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    let start = Instant::now();
    let measure_from = start + warmup;
    let end = measure_from + duration;
    let mut tasks = Vec::new();
    for task in 0..CONCURRENCY {
        let call = call.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut id = task as i64;
            loop {
                let sent = Instant::now();
                if sent >= end {
                    return anyhow::Ok(latencies);
                }
                call(id % CUSTOMERS + 1).await?;
                if sent >= measure_from {
                    latencies.push(sent.elapsed().as_secs_f64() * 1e3);
                }
                id += CONCURRENCY as i64;
            }
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await??);
    }
    if all.is_empty() {
        bail!("no call finished within the measured time");
    }
    Ok(Figures {
        rps: all.len() as f64 / duration.as_secs_f64(),
        p50_ms: quantile(&all, 0.5),
        p99_ms: quantile(&all, 0.99),
        count: all.len(),
    })
}
