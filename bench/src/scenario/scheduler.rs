//! Scenario 10: the scheduler on a cluster of 3 (PostgreSQL ODB, Redis).
//!
//! - Firing delay: N jobs (1,000; 100 with --quick) invoke `demo.hello` every second,
//!   all from the same whole second, so each second brings a burst of N firings. After
//!   a settling time, the firings of a measured window are read back from the admin API
//!   (`/zato/api/scheduler/jobs/{name}/runs`): their delay (the recorded start minus the
//!   scheduled time) as p50, p99 and max, how many ran, failed or are missing from the
//!   window, and how they spread over the servers.
//! - Takeover: 5 times (2 with --quick), with the jobs still firing, the singleton is
//!   killed with `kill -9`; the time from the kill to the start of the next term (the
//!   new holder's `since`, the ODB's clock) as min, median and max; the killed server is
//!   started again before the next kill. The defaults apply: a lease of 6 s renewed
//!   every 2 s.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, bail};
use serde_json::{Value, json};

use super::Ctx;
use super::deploy::{TempDb, reachable, start_all, stop_all};
use crate::process::Proc;
use crate::report::{Row, Section, ms, thousands};
use crate::stats::{max, median, quantile};
use crate::zato::{Env, EnvOptions, client, wait_for};

/// The window whose firings are measured, after the jobs settled.
const SETTLE: Duration = Duration::from_secs(5);
const WINDOW: Duration = Duration::from_secs(20);

pub async fn run(ctx: &Ctx<'_>) -> anyhow::Result<Section> {
    let jobs = if ctx.plan.quick { 100 } else { 1000 };
    let kills = if ctx.plan.quick { 2 } else { 5 };
    let mut section = Section::new(
        "10. Scheduler",
        vec![
            "measure",
            "samples",
            "p50 / min",
            "p99 / median",
            "max",
            "notes",
        ],
    )
    .text_columns(1);
    if !reachable(&ctx.plan.redis).await {
        section.notes.push(format!(
            "Skipped: the scheduler's cluster needs Redis (none at {}).",
            ctx.plan.redis
        ));
        return Ok(section);
    }
    let db = TempDb::create(&ctx.plan.postgres)
        .await
        .context("the scheduler's cluster needs PostgreSQL")?;
    let cluster = format!(
        "bench-sch-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    eprintln!(
        "[bench] scheduler: a cluster of 3 (PostgreSQL ODB, Redis), {jobs} jobs every second"
    );
    let result = async {
        let env = Env::create(
            &ctx.artifacts.zato,
            &ctx.work.join("scheduler-cluster"),
            &EnvOptions {
                servers: 3,
                cluster: &cluster,
                redis: Some(&ctx.plan.redis),
                odb: Some(&db.url),
            },
        )?;
        let mut procs = start_all(&env, 3, ctx).await?;
        let measured = measure(ctx, &env, &mut procs, jobs, kills, &mut section).await;
        stop_all(procs);
        measured
    }
    .await;
    db.drop_database().await;
    result?;
    Ok(section)
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// The admin API of one server, as raw JSON.
struct Api {
    http: reqwest::Client,
    base: String,
    user: String,
    password: String,
}

impl Api {
    fn of(env: &Env, i: u16) -> Self {
        let (user, password) = env.credentials();
        Self {
            http: client(),
            base: env.base(i),
            user: user.to_owned(),
            password: password.to_owned(),
        }
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .basic_auth(&self.user, Some(&self.password));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let answer = request.send().await?;
        let status = answer.status();
        let text = answer.text().await?;
        if !status.is_success() {
            bail!("{path}: {status} {text}");
        }
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }
}

async fn measure(
    ctx: &Ctx<'_>,
    env: &Env,
    procs: &mut [Proc],
    jobs: usize,
    kills: usize,
    section: &mut Section,
) -> anyhow::Result<()> {
    let api = Api::of(env, 0);
    let hello = std::fs::read(&ctx.artifacts.hello)?;
    env.admin(0).deploy(hello, "demo.hello").await?;

    // Every job starts at the same whole second, a little after they are all created.
    let created = Instant::now();
    let start_ms = (now_ms() / 1000 + 2 + (jobs as i64) / 200) * 1000;
    let start = format_utc(start_ms);
    for n in 0..jobs {
        api.call(
            reqwest::Method::POST,
            "/zato/api/scheduler/jobs",
            Some(json!({
                "name": format!("bench.{n:04}"),
                "service": "demo.hello",
                "payload": "{\"name\": \"scheduler\"}",
                "schedule": {"kind": "interval", "seconds": 1, "start": start},
            })),
        )
        .await?;
    }
    eprintln!(
        "[bench] scheduler: {jobs} jobs created in {:.1} s; measuring {} s of firings",
        created.elapsed().as_secs_f64(),
        WINDOW.as_secs()
    );
    let from = start_ms.max(now_ms()) + SETTLE.as_millis() as i64;
    let to = from + WINDOW.as_millis() as i64;
    // Until the window's last firings have run and been recorded.
    tokio::time::sleep(Duration::from_millis((to - now_ms() + 2_000).max(0) as u64)).await;

    let mut delays = Vec::new();
    let (mut failed, mut pending) = (0usize, 0usize);
    let mut by_server: std::collections::BTreeMap<String, usize> = Default::default();
    for n in 0..jobs {
        let runs = api
            .call(
                reqwest::Method::GET,
                &format!("/zato/api/scheduler/jobs/bench.{n:04}/runs?limit=200"),
                None,
            )
            .await?;
        for run in runs.as_array().into_iter().flatten() {
            let at = run["fire_time_ms"].as_i64().unwrap_or(0);
            if at < from || at >= to {
                continue;
            }
            match run["outcome"].as_str() {
                Some("ok") => {
                    delays.push(run["delay_ms"].as_f64().unwrap_or(0.0));
                    *by_server
                        .entry(run["server"].as_str().unwrap_or("?").to_owned())
                        .or_default() += 1;
                }
                Some("pending") => pending += 1,
                _ => failed += 1,
            }
        }
    }
    let expected = jobs * WINDOW.as_secs() as usize;
    let missing = expected.saturating_sub(delays.len() + failed + pending);
    let spread = by_server
        .iter()
        .map(|(s, n)| format!("{s} {n}"))
        .collect::<Vec<_>>()
        .join(", ");
    section.rows.push(
        Row::new(
            "scheduler",
            format!("firing delay, {jobs} jobs every second"),
        )
        .extra("jobs", jobs)
        .extra("expected", expected)
        .extra("ok", delays.len())
        .extra("failed", failed)
        .extra("pending", pending)
        .extra("missing", missing)
        .extra("p50_delay_ms", quantile(&delays, 0.5))
        .extra("p99_delay_ms", quantile(&delays, 0.99))
        .extra("max_delay_ms", max(&delays))
        .cells(vec![
            format!("firing delay, {jobs} jobs every second"),
            thousands(delays.len() as f64),
            ms(quantile(&delays, 0.5)),
            ms(quantile(&delays, 0.99)),
            ms(max(&delays)),
            format!(
                "{failed} failed, {pending} pending, {missing} missing of {}; {spread}",
                thousands(expected as f64)
            ),
        ]),
    );

    let mut takeovers = Vec::new();
    for round in 0..kills {
        let (holder, since_before) = singleton(env).await?;
        let index = (1..=3u16)
            .find(|i| holder == format!("server{i}"))
            .with_context(|| format!("unknown singleton `{holder}`"))?;
        let killed_at = now_ms();
        let pid = procs[index as usize - 1].pid();
        let status = std::process::Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status()?;
        anyhow::ensure!(status.success(), "kill -9 {pid} failed");
        let waited = Instant::now();
        let since = loop {
            let other = (1..=3u16).find(|&i| i != index).unwrap_or(1) - 1;
            if let Ok(answer) = Api::of(env, other)
                .call(reqwest::Method::GET, "/zato/api/singleton", None)
                .await
                && answer["holder"].as_str().is_some_and(|h| h != holder)
                && let Some(since) = answer["since"].as_i64()
                && since > since_before
            {
                break since;
            }
            if waited.elapsed() > Duration::from_secs(60) {
                bail!("no server took over within 60 s of killing {holder}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let took = (since - killed_at) as f64;
        eprintln!(
            "[bench] scheduler: kill {}: {holder} replaced after {took:.0} ms",
            round + 1
        );
        takeovers.push(took);
        // Back before the next kill.
        let i = index - 1;
        procs[i as usize] = env.start(i, None, &ctx.logs)?;
        wait_for(
            &format!("{}/zato/ping", env.base(i)),
            &mut procs[i as usize],
            Duration::from_secs(60),
        )
        .await?;
    }
    section.rows.push(
        Row::new("scheduler", "takeover after kill -9 of the singleton")
            .extra("kills", kills)
            .extra(
                "min_ms",
                takeovers.iter().copied().fold(f64::INFINITY, f64::min),
            )
            .extra("median_ms", median(&takeovers))
            .extra("max_ms", max(&takeovers))
            .cells(vec![
                "takeover after kill -9 of the singleton".into(),
                kills.to_string(),
                ms(takeovers.iter().copied().fold(f64::INFINITY, f64::min)),
                ms(median(&takeovers)),
                ms(max(&takeovers)),
                "lease 6 s, renewed every 2 s (the defaults)".into(),
            ]),
    );
    section.notes.push(
        "Delay: a firing's recorded start minus its scheduled time. Takeover: from the kill to the new holder's term start (the ODB's clock). In the delay row, p50 and p99 columns; in the takeover row, min, median and max.".into(),
    );
    Ok(())
}

/// The singleton's name and the start of its term.
async fn singleton(env: &Env) -> anyhow::Result<(String, i64)> {
    let started = Instant::now();
    loop {
        for i in 0..3 {
            if let Ok(answer) = Api::of(env, i)
                .call(reqwest::Method::GET, "/zato/api/singleton", None)
                .await
                && let (Some(holder), Some(since)) =
                    (answer["holder"].as_str(), answer["since"].as_i64())
            {
                return Ok((holder.to_owned(), since));
            }
        }
        if started.elapsed() > Duration::from_secs(60) {
            bail!("no singleton within 60 s");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `ms` as RFC 3339 in UTC (whole seconds).
fn format_utc(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    #[test]
    fn utc_times_are_written_as_rfc_3339() {
        assert_eq!(super::format_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::format_utc(1_709_164_800_000), "2024-02-29T00:00:00Z");
    }
}
