//! The scheduler fires: jobs of each kind run their service through the `scheduler`
//! channel, once per fire time, on one server and through the death, the pause and the
//! ODB's restart under a cluster's singleton.
//!
//! (The jobs' admin API and CLI, and the fire-time arithmetic, are tested in
//! `scheduler_api.rs` and in the host's `scheduler::schedule` unit tests.)

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};
use tokio::process::Command;
use zato_test_artifacts as wasm;

use crate::cli::{Running, quickstart_cluster, signal, start, text, wait_for_ping, zato};
use crate::harness::{TestServer, eventually};

/// The runs of `job` as the admin API lists them, oldest first.
async fn runs(server: &TestServer, job: &str) -> Vec<Value> {
    let answer = server
        .admin(
            Method::GET,
            &format!("/zato/api/scheduler/jobs/{job}/runs?limit=10000"),
        )
        .send()
        .await
        .unwrap();
    assert!(
        answer.status().is_success(),
        "runs of {job}: {}",
        answer.status()
    );
    let mut runs: Vec<Value> = answer.json().await.unwrap();
    runs.reverse();
    runs
}

async fn create(server: &TestServer, job: Value) {
    let answer = server
        .admin(Method::POST, "/zato/api/scheduler/jobs")
        .json(&job)
        .send()
        .await
        .unwrap();
    let status = answer.status();
    let body = answer.text().await.unwrap();
    assert!(status.is_success(), "create {job}: {status} {body}");
}

/// Waits until `job` has at least `n` runs that ended as `outcome`; returns its runs.
async fn wait_for_runs(server: &TestServer, job: &str, n: usize, outcome: &str) -> Vec<Value> {
    eventually(
        Duration::from_secs(30),
        &format!("{n} runs of `{job}` ending `{outcome}`"),
        || async {
            let runs = runs(server, job).await;
            (runs.iter().filter(|r| r["outcome"] == outcome).count() >= n).then_some(runs)
        },
    )
    .await
}

fn fire_times(runs: &[Value]) -> Vec<i64> {
    runs.iter()
        .map(|r| r["fire_time_ms"].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn jobs_of_every_kind_fire_once_per_fire_time_through_the_scheduler_channel() {
    let server = TestServer::start_with(|c| c.name = "solo".into()).await;
    server.deploy(wasm::SCHEDULED).await;
    let (_, answer) = server.invoke("demo.scheduled", "{}").await;
    assert!(
        answer.to_string().contains("runs from a scheduler job"),
        "the example refuses other channels: {answer}"
    );

    // The lone server is the singleton.
    let singleton: Value = eventually(Duration::from_secs(10), "a singleton", || async {
        let answer: Value = server
            .admin(Method::GET, "/zato/api/singleton")
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        (answer["holder"] == "solo").then_some(answer)
    })
    .await;
    assert!(singleton["epoch"].as_i64().unwrap() >= 1, "{singleton}");
    let servers = server.api.servers().await.unwrap();
    assert!(servers[0].singleton, "{servers:?}");

    create(
        &server,
        json!({"name": "tick", "service": "demo.scheduled", "payload": "{\"n\": 1}",
               "schedule": {"kind": "interval", "seconds": 1}}),
    )
    .await;
    create(
        &server,
        json!({"name": "every-second", "service": "demo.scheduled", "timezone": "Europe/Warsaw",
               "schedule": {"kind": "cron", "expression": "* * * * * *"}}),
    )
    .await;
    let at = utc_iso(zato_now_ms() + 1500);
    create(
        &server,
        json!({"name": "once", "service": "demo.scheduled",
               "schedule": {"kind": "one_time", "at": at}}),
    )
    .await;
    create(
        &server,
        json!({"name": "twice", "service": "demo.scheduled",
               "schedule": {"kind": "interval", "seconds": 1, "repeats": 2, "after_last": "delete"}}),
    )
    .await;
    create(
        &server,
        json!({"name": "nobody", "service": "demo.not-deployed",
               "schedule": {"kind": "interval", "seconds": 1}}),
    )
    .await;

    let ticks = wait_for_runs(&server, "tick", 3, "ok").await;
    let times = fire_times(&ticks);
    for pair in times.windows(2) {
        assert_eq!(
            pair[1] - pair[0],
            1000,
            "an interval job fires every second: {times:?}"
        );
    }
    for run in ticks.iter().filter(|r| r["outcome"] == "ok") {
        assert_eq!(run["server"], "solo", "{run}");
        assert_eq!(run["trigger"], "schedule", "{run}");
        assert!(run["epoch"].as_i64().unwrap() >= 1, "{run}");
    }
    let cron = wait_for_runs(&server, "every-second", 2, "ok").await;
    for run in cron.iter().filter(|r| r["outcome"] == "ok") {
        assert_eq!(
            run["fire_time_ms"].as_i64().unwrap() % 1000,
            0,
            "on the second: {run}"
        );
        assert!(
            run["fire_time"].as_str().unwrap().ends_with("+01:00"),
            "in the job's time zone: {run}"
        );
    }
    // A service that is not deployed: its runs say so, and nothing else stops.
    let missing = wait_for_runs(&server, "nobody", 1, "missing").await;
    assert!(
        missing[0]["detail"]
            .as_str()
            .unwrap()
            .contains("demo.not-deployed"),
        "{missing:?}"
    );
    // The repeated job fired twice and was deleted after its last firing.
    eventually(
        Duration::from_secs(20),
        "`twice` deleted after its last firing",
        || async {
            let status = server
                .admin(Method::GET, "/zato/api/scheduler/jobs/twice")
                .send()
                .await
                .ok()?
                .status();
            (status == reqwest::StatusCode::NOT_FOUND).then_some(())
        },
    )
    .await;

    let once = wait_for_runs(&server, "once", 1, "ok").await;
    // Pause `tick`, and let three more seconds of `every-second` go by.
    let paused = server
        .admin(Method::POST, "/zato/api/scheduler/jobs/tick/pause")
        .send()
        .await
        .unwrap();
    assert!(paused.status().is_success());
    let ticks_when_paused = runs(&server, "tick").await.len();
    let seen = runs(&server, "every-second").await.len();
    wait_for_runs(&server, "every-second", seen + 3, "ok").await;
    assert_eq!(
        runs(&server, "once").await,
        once,
        "a one-time job fires once"
    );
    // At most the firings queued ahead of the pause ran, as `skipped`.
    let after_pause = runs(&server, "tick").await;
    assert!(
        after_pause[ticks_when_paused..]
            .iter()
            .all(|r| r["outcome"] == "skipped"),
        "a paused job does not run: {after_pause:?}"
    );
    assert!(
        after_pause.len() <= ticks_when_paused + 2,
        "{after_pause:?}"
    );

    // Run now: a paused job runs when asked to.
    let queued = server
        .admin(Method::POST, "/zato/api/scheduler/jobs/tick/run")
        .send()
        .await
        .unwrap();
    assert_eq!(queued.status(), reqwest::StatusCode::ACCEPTED);
    eventually(
        Duration::from_secs(10),
        "the manual run of `tick`",
        || async {
            let runs = runs(&server, "tick").await;
            runs.iter()
                .any(|r| r["trigger"] == "manual" && r["outcome"] == "ok")
                .then_some(())
        },
    )
    .await;
    server.stop().await;
}

/// ms since the Unix epoch.
fn zato_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// `ms` as RFC 3339 in UTC, whole seconds rounded up.
fn utc_iso(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis((ms + 999) / 1000 * 1000)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A 3-server cluster of processes (`zato start` each) on PostgreSQL and Redis, with
/// `demo.scheduled` deployed and a job `tick` every second.
struct ProcessCluster {
    dir: tempfile::TempDir,
    env: std::path::PathBuf,
    servers: BTreeMap<String, Running>,
    db: Option<crate::harness::TestDb>,
}

impl ProcessCluster {
    async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::harness::TestDb::new(crate::harness::Backend::Postgres, dir.path()).await;
        let env = dir.path().join("env");
        quickstart_cluster(env.to_str().unwrap(), &["--odb", &db.url]).await;
        let mut servers = BTreeMap::new();
        for i in 1..=3 {
            let name = format!("server{i}");
            let log = dir.path().join(format!("{name}.log"));
            servers.insert(name.clone(), start(&env.join(&name), &log).await);
        }
        for name in servers.keys() {
            wait_for_ping(&env.join(name)).await;
        }
        let cluster = Self {
            dir,
            env,
            servers,
            db: Some(db),
        };
        let deployed = cluster.zato(&["deploy", wasm::SCHEDULED]).await;
        assert!(deployed.status.success(), "{}", text(&deployed.stderr));
        let created = cluster
            .zato(&[
                "scheduler",
                "create",
                "--name",
                "tick",
                "--service",
                "demo.scheduled",
                "--interval-seconds",
                "1",
            ])
            .await;
        assert!(created.status.success(), "{}", text(&created.stderr));
        cluster
    }

    fn env(&self) -> &str {
        self.env.to_str().unwrap()
    }

    /// `zato ARGS --env ENV`.
    async fn zato(&self, args: &[&str]) -> std::process::Output {
        let mut all = args.to_vec();
        all.extend(["--env", self.env()]);
        zato(&all).await
    }

    /// The runs of `tick`, oldest first, from `zato scheduler runs tick --json`.
    async fn runs(&self) -> Vec<Value> {
        let out = self
            .zato(&["scheduler", "runs", "tick", "--limit", "10000", "--json"])
            .await;
        assert!(out.status.success(), "{}", text(&out.stderr));
        let mut runs: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
        runs.sort_by_key(|r| r["fire_time_ms"].as_i64());
        runs
    }

    /// The singleton from `zato info --json`: (name, pid).
    async fn singleton(&self) -> Option<(String, String)> {
        let out = zato(&["info", self.env(), "--json"]).await;
        let info: Value = serde_json::from_slice(&out.stdout).ok()?;
        let holders: Vec<&Value> = info["servers"]
            .as_array()?
            .iter()
            .filter(|s| s["singleton"] == true)
            .collect();
        assert!(holders.len() <= 1, "two singletons at once: {info}");
        let holder = holders.first()?;
        Some((
            holder["name"].as_str()?.to_owned(),
            holder["pid"].as_i64()?.to_string(),
        ))
    }

    /// Waits until a server other than `not` is the singleton.
    async fn new_singleton(&self, not: &str) -> (String, String) {
        eventually(Duration::from_secs(20), "another singleton", || async {
            self.singleton().await.filter(|(name, _)| name != not)
        })
        .await
    }

    /// How many times each fire time of `tick` was run, from the servers' logs (the
    /// service logs every firing it handles).
    fn executions(&self) -> BTreeMap<String, usize> {
        let mut seen = BTreeMap::new();
        for entry in std::fs::read_dir(self.dir.path()).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "log") {
                let log = std::fs::read_to_string(&path).unwrap();
                for line in log.lines() {
                    if let Some(rest) = line.split("job tick fired for ").nth(1) {
                        let time = rest.split_whitespace().next().unwrap().to_owned();
                        *seen.entry(time).or_insert(0) += 1;
                    }
                }
            }
        }
        seen
    }

    /// Every fire time was run at most once, and recorded once; the ones that ran
    /// leave no gap longer than `gap_ms`.
    async fn check_once_and_no_gap(&self, gap_ms: i64) -> Vec<Value> {
        let executions = self.executions();
        assert!(
            !executions.is_empty(),
            "the servers log the firings they run"
        );
        let twice: Vec<_> = executions.iter().filter(|(_, n)| **n > 1).collect();
        assert!(twice.is_empty(), "fire times run more than once: {twice:?}");
        let runs = self.runs().await;
        let times = fire_times(&runs);
        let distinct: HashSet<_> = times.iter().collect();
        assert_eq!(
            distinct.len(),
            times.len(),
            "a fire time recorded twice: {times:?}"
        );
        let ran: Vec<i64> = runs
            .iter()
            .filter(|r| r["outcome"] == "ok")
            .map(|r| r["fire_time_ms"].as_i64().unwrap())
            .collect();
        for pair in ran.windows(2) {
            assert!(
                pair[1] - pair[0] <= gap_ms,
                "a gap of {} ms between firings: {runs:?}",
                pair[1] - pair[0]
            );
        }
        runs
    }

    async fn stop(mut self) {
        for server in self.servers.values() {
            if let Some(pid) = server.0.id() {
                let _ = Command::new("kill")
                    .args(["-CONT", &pid.to_string()])
                    .status()
                    .await;
                let _ = Command::new("kill")
                    .args(["-TERM", &pid.to_string()])
                    .status()
                    .await;
            }
        }
        for (_, mut server) in std::mem::take(&mut self.servers) {
            let _ = tokio::time::timeout(Duration::from_secs(20), server.0.wait()).await;
        }
        if let Some(db) = self.db.take() {
            db.drop_database().await;
        }
    }
}

/// Waits until `tick` has `n` more runs that ended well than `after` had.
async fn more_ok_runs(cluster: &ProcessCluster, after: usize, n: usize) -> Vec<Value> {
    eventually(Duration::from_secs(30), "more runs of `tick`", || async {
        let runs = cluster.runs().await;
        (runs.iter().filter(|r| r["outcome"] == "ok").count() >= after + n).then_some(runs)
    })
    .await
}

/// The defaults: a lease of 6 s renewed every 2 s.
const LEASE_MS: i64 = 6_000;

#[tokio::test]
async fn a_singleton_killed_with_sigkill_is_replaced_within_its_lease_and_no_firing_runs_twice() {
    let cluster = ProcessCluster::start().await;
    let (first, pid) = eventually(Duration::from_secs(20), "a singleton", || async {
        cluster.singleton().await
    })
    .await;
    let before = more_ok_runs(&cluster, 0, 3).await;
    let old_epoch = before.last().unwrap()["epoch"].as_i64().unwrap();

    let killed_at = zato_now_ms();
    signal(&pid, "KILL").await;
    let (second, _) = cluster.new_singleton(&first).await;
    let since = eventually(Duration::from_secs(10), "the new term's start", || async {
        let out = cluster.zato(&["info", "--json"]).await;
        let info: Value = serde_json::from_slice(&out.stdout).ok()?;
        info["servers"]
            .as_array()?
            .iter()
            .find(|s| s["name"] == second.as_str())?["singleton_since"]
            .as_i64()
    })
    .await;
    assert!(
        since - killed_at <= LEASE_MS + 500,
        "{second} took over {} ms after the kill, past the lease of {LEASE_MS} ms",
        since - killed_at
    );

    let ok_before = before.iter().filter(|r| r["outcome"] == "ok").count();
    let runs = more_ok_runs(&cluster, ok_before, 4).await;
    let new_epoch = runs.last().unwrap()["epoch"].as_i64().unwrap();
    assert!(
        new_epoch > old_epoch,
        "a takeover starts a new epoch: {runs:?}"
    );
    // No gap longer than the takeover (the missed firings fire once, policy `once`).
    cluster.check_once_and_no_gap(LEASE_MS + 1_500).await;
    cluster.stop().await;
}

#[tokio::test]
async fn a_singleton_paused_past_its_lease_steps_down_and_no_firing_runs_twice() {
    let cluster = ProcessCluster::start().await;
    let (first, pid) = eventually(Duration::from_secs(20), "a singleton", || async {
        cluster.singleton().await
    })
    .await;
    more_ok_runs(&cluster, 0, 2).await;
    signal(&pid, "STOP").await;
    let (second, _) = cluster.new_singleton(&first).await;
    // The new singleton runs jobs while the old one sleeps.
    let ok = cluster
        .runs()
        .await
        .iter()
        .filter(|r| r["outcome"] == "ok")
        .count();
    more_ok_runs(&cluster, ok, 3).await;
    signal(&pid, "CONT").await;
    // Woken, the old singleton finds its lease gone at its next renewal or write.
    let log = cluster.dir.path().join(format!("{first}.log"));
    let woken = Instant::now();
    loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.contains("no longer the singleton") {
            break;
        }
        assert!(
            woken.elapsed() < Duration::from_secs(20),
            "the woken singleton did not step down: {}",
            text.lines()
                .filter(|l| !l.contains("fired for"))
                .collect::<Vec<_>>()
                .join("\n")
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let ok = cluster
        .runs()
        .await
        .iter()
        .filter(|r| r["outcome"] == "ok")
        .count();
    more_ok_runs(&cluster, ok, 3).await;
    assert_eq!(
        cluster.singleton().await.map(|(name, _)| name),
        Some(second),
        "the server that took over keeps the lease"
    );
    cluster.check_once_and_no_gap(LEASE_MS + 1_500).await;
    cluster.stop().await;
}

/// A PostgreSQL server of the test's own, so that restarting it disturbs no other test.
struct OwnPostgres {
    dir: tempfile::TempDir,
    port: u16,
}

const PG_BIN: &str = "/usr/lib/postgresql";

impl OwnPostgres {
    fn bin(tool: &str) -> String {
        let version = std::fs::read_dir(PG_BIN)
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .max()
            .expect("PostgreSQL is installed");
        format!("{PG_BIN}/{version}/bin/{tool}")
    }

    async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let data = dir.path().join("data");
        // PostgreSQL refuses to run as root: as the `postgres` user.
        Self::as_postgres(
            &["chown", "-R", "postgres", dir.path().to_str().unwrap()],
            true,
        )
        .await;
        Self::as_postgres(
            &[
                &Self::bin("initdb"),
                "-D",
                data.to_str().unwrap(),
                "-A",
                "trust",
                "-U",
                "postgres",
            ],
            false,
        )
        .await;
        let pg = Self { dir, port };
        pg.ctl("start").await;
        pg
    }

    async fn as_postgres(args: &[&str], as_root: bool) {
        let mut command = if as_root {
            Command::new(args[0])
        } else {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--", args[0]]);
            c
        };
        let out = command.args(&args[1..]).output().await.unwrap();
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
    }

    async fn ctl(&self, action: &str) {
        let data = self.dir.path().join("data");
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("pg.log");
        Self::as_postgres(
            &[
                &Self::bin("pg_ctl"),
                "-D",
                data.to_str().unwrap(),
                "-o",
                &options,
                "-l",
                log.to_str().unwrap(),
                "-w",
                "-m",
                "fast",
                action,
            ],
            false,
        )
        .await;
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        let data = self.dir.path().join("data");
        let _ = std::process::Command::new("runuser")
            .args(["-u", "postgres", "--", &Self::bin("pg_ctl"), "-D"])
            .arg(&data)
            .args(["-m", "immediate", "stop"])
            .output();
    }
}

#[tokio::test]
async fn the_scheduler_goes_on_after_its_odb_restarts() {
    let pg = OwnPostgres::start().await;
    let url = pg.url();
    let server = TestServer::start_with(|c| {
        c.name = "solo".into();
        c.odb = url.clone();
    })
    .await;
    server.deploy(wasm::SCHEDULED).await;
    create(
        &server,
        json!({"name": "tick", "service": "demo.scheduled", "schedule": {"kind": "interval", "seconds": 1}}),
    )
    .await;
    let before = wait_for_runs(&server, "tick", 2, "ok").await;
    let epoch = before.last().unwrap()["epoch"].as_i64().unwrap();

    // Down for longer than the lease: the singleton must step down, then take the
    // lease again once the ODB is back.
    pg.ctl("stop").await;
    let down = Instant::now();
    tokio::time::sleep(Duration::from_millis(LEASE_MS as u64 + 2_000)).await;
    pg.ctl("start").await;
    let outage = down.elapsed();

    let ok = before.iter().filter(|r| r["outcome"] == "ok").count();
    let after = eventually(
        Duration::from_secs(30),
        "firings after the restart",
        || async {
            let answer = server
                .admin(
                    Method::GET,
                    "/zato/api/scheduler/jobs/tick/runs?limit=10000",
                )
                .send()
                .await
                .ok()?;
            let runs: Vec<Value> = answer.json().await.ok()?;
            (runs.iter().filter(|r| r["outcome"] == "ok").count() >= ok + 3).then_some(runs)
        },
    )
    .await;
    let newest = after.first().unwrap();
    assert!(
        newest["epoch"].as_i64().unwrap() > epoch,
        "after {outage:?} without its ODB the singleton stepped down and took a new term: {newest}"
    );
    // The server kept serving meanwhile.
    let (status, _) = server.get("/zato/ping").await;
    assert!(status.is_success());
    server.stop().await;
}
