//! Scenario 7: password guessing against the admin API, and what it does to the latency
//! of the other channels.
//!
//! zato checks an admin login with argon2 (about 20 ms of CPU, on purpose) on one
//! thread of its own behind a short queue (full: 429), and locks out an address after
//! `[admin.login] max_failures` failed logins in `window_s` seconds (429 with
//! `Retry-After`, no argon2). Here a steady client (wrk, keep-alive, 64 and 1
//! connections) loads `demo.hello` behind an HTTP channel while 0, 2 and 8 guessers
//! each loop, as fast as they are answered, on `GET /zato/api/services` with the admin's
//! user name and a new wrong password every time, over a keep-alive connection from an
//! address of its own (127.0.0.2, 127.0.0.3, ...: Linux answers the whole of 127/8 on
//! loopback), counting the 401s and 429s they get.
//!
//! Two servers, one after the other, one variant each:
//! - *lockout*: the defaults, so each guesser's address is locked out after a few
//!   failures and then answered 429 without argon2 (the guessers flood the server with
//!   cheap refusals);
//! - *no lockout*: `[admin.login] max_failures = 1000000`, so every guess reaches argon2
//!   and the argon2 thread stays busy (the cost path).
//!
//! In each round, every guesser count runs once (the guessers start, wrk warms up and
//! then measures, the guessers stop), starting each round with the next count; the table
//! gives the medians of the rounds and the ratios to the run without guessers on the
//! same server and connections. The server is pinned to one CPU, wrk and the guessers
//! (one thread of this process) to another, unless `--no-pin`.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use reqwest::StatusCode;
use zato_host::config::LoginSettings;

use super::Ctx;
use super::http::check_url;
use crate::process::{self, cpu_time_of};
use crate::report::{Row, Section, ms, ratio, thousands};
use crate::stats::median;
use crate::wrk::{self, Load, Outcome};
use crate::zato::{Env, EnvOptions, wait_for};

/// Guessers running at once, per run; 0 is the baseline of the ratios.
const GUESSERS: [usize; 3] = [0, 2, 8];
/// `[admin.login] max_failures` of the *no lockout* server: never reached here.
const NO_LOCKOUT_MAX_FAILURES: u32 = 1_000_000;
/// What the guessers ask for: any admin API route runs the login check first.
const ADMIN_PATH: &str = "/zato/api/services";
/// The user name guessers send (the admin's, as `zato quickstart create` names it).
const ADMIN_USER: &str = "admin";

/// One server's login settings.
struct Variant {
    key: &'static str,
    /// `[admin.login] max_failures` written to its `server.toml`; the default if none.
    max_failures: Option<u32>,
}

const VARIANTS: [Variant; 2] = [
    Variant {
        key: "lockout",
        max_failures: None,
    },
    Variant {
        key: "no lockout",
        max_failures: Some(NO_LOCKOUT_MAX_FAILURES),
    },
];

impl Variant {
    fn label(&self) -> String {
        let defaults = LoginSettings::default();
        match self.max_failures {
            None => format!(
                "lockout (defaults: {} failures in {} s)",
                defaults.max_failures, defaults.window_s
            ),
            Some(max) => format!("no lockout (max_failures = {max})"),
        }
    }
}

/// One measured run.
struct Run {
    variant: usize,
    connections: u32,
    guessers: usize,
    outcome: Outcome,
    /// What the guessers were answered during the measured run.
    tally: Tally,
    /// Length of the measured run as the guessers' counts cover it.
    measured: Duration,
    /// CPU time the server used during the measured run, over its length (1.0 = a core).
    server_cpu: Option<f64>,
}

pub async fn run(ctx: &Ctx<'_>) -> anyhow::Result<Section> {
    let wrk = ctx
        .wrk
        .as_deref()
        .context("the guessing scenario needs wrk")?;
    let plan = ctx.plan;
    let mut notes = Vec::new();
    let mut runs = Vec::new();
    for (v, variant) in VARIANTS.iter().enumerate() {
        eprintln!("[bench] guessing: starting a server, {}", variant.label());
        let env = Env::create(
            &ctx.artifacts.zato,
            &ctx.work
                .join(format!("guessing-{}", variant.key.replace(' ', "-"))),
            &EnvOptions::one_server("bench-guessing"),
        )?;
        if let Some(max) = variant.max_failures {
            env.set_config(
                0,
                &["admin", "login"],
                "max_failures",
                toml::Value::Integer(max.into()),
            )?;
        }
        let mut zato = env.start(0, ctx.server_cpu(), &ctx.logs)?;
        let base = env.base(0);
        wait_for(
            &format!("{base}/zato/ping"),
            &mut zato,
            Duration::from_secs(60),
        )
        .await?;
        // The bench's own admin client logs in once (argon2 once), from 127.0.0.1.
        let admin = env.admin(0);
        admin.status().await?;
        admin
            .deploy(std::fs::read(&ctx.artifacts.hello)?, "demo.hello")
            .await?;
        admin
            .channel("demo.hello", "/demo/hello", "demo.hello")
            .await?;
        let hello = format!("{base}/demo/hello?name=bench");
        check_url("zato demo.hello", &hello, None, "Hello, bench!").await?;
        let admin_url = format!("{base}{ADMIN_PATH}");
        check_guess(&admin_url).await?;

        for &connections in &plan.connections {
            for round in 0..plan.rounds as usize {
                for k in 0..GUESSERS.len() {
                    let guessers = GUESSERS[(round + k) % GUESSERS.len()];
                    eprintln!(
                        "[bench] guessing: {}, {connections} connections, round {}/{}: {guessers} guessers",
                        variant.key,
                        round + 1,
                        plan.rounds
                    );
                    let pool = Guessers::start(&admin_url, guessers, ctx.load_cpu()).await?;
                    let load = |duration| Load {
                        url: &hello,
                        connections,
                        duration,
                        script: None,
                        cpu: ctx.load_cpu(),
                        cores: plan.cores,
                    };
                    if !plan.warmup.is_zero() {
                        wrk::run(wrk, &load(plan.warmup)).await?;
                    }
                    zato.check_running()?;
                    let cpu_before = cpu_time_of(zato.pid());
                    let before = pool.tally();
                    let started = Instant::now();
                    let outcome = wrk::run(wrk, &load(plan.duration)).await?;
                    let measured = started.elapsed();
                    let tally = pool.tally().since(&before);
                    let server_cpu = match (cpu_before, cpu_time_of(zato.pid())) {
                        (Some(before), Some(after)) => {
                            Some((after - before).as_secs_f64() / measured.as_secs_f64())
                        }
                        _ => None,
                    };
                    pool.stop().await?;
                    runs.push(Run {
                        variant: v,
                        connections,
                        guessers,
                        outcome,
                        tally,
                        measured,
                        server_cpu,
                    });
                }
            }
        }
        zato.stop();
    }

    let warmup = match plan.warmup.as_secs() {
        0 => ", no warm-up".to_owned(),
        s => format!(" after {s} s of warm-up"),
    };
    let mut section = Section::new(
        format!(
            "7. Password guessing: demo.hello while guessers try admin passwords (keep-alive, {} s runs{warmup}, median of {} round{})",
            plan.duration.as_secs(),
            plan.rounds,
            if plan.rounds == 1 { "" } else { "s" }
        ),
        vec![
            "server",
            "conns",
            "guessers",
            "req/s",
            "p50",
            "p99",
            "req/s vs 0 guessers",
            "p50 vs 0 guessers",
            "p99 vs 0 guessers",
            "server CPU",
            "guesses/s",
            "401",
            "429",
            "p50 per round",
        ],
    );
    for (v, variant) in VARIANTS.iter().enumerate() {
        for &connections in &plan.connections {
            let of = |guessers: usize| -> Vec<&Run> {
                runs.iter()
                    .filter(|r| {
                        r.variant == v && r.connections == connections && r.guessers == guessers
                    })
                    .collect()
            };
            let baseline = Summary::of(&of(0));
            for guessers in GUESSERS {
                let of_these = of(guessers);
                let s = Summary::of(&of_these);
                let errors: u64 = of_these
                    .iter()
                    .map(|r| r.outcome.non_2xx + r.outcome.socket_errors)
                    .sum();
                if errors > 0 {
                    notes.push(format!(
                        "{}, {connections} connections, {guessers} guessers: demo.hello gave {errors} failed answers or socket errors during measured runs.",
                        variant.key
                    ));
                }
                if s.tally.other + s.tally.errors > 0 {
                    notes.push(format!(
                        "{}, {connections} connections, {guessers} guessers: the guessers got {} answers other than 401 and 429, and {} transport errors.",
                        variant.key, s.tally.other, s.tally.errors
                    ));
                }
                if variant.max_failures.is_some() && s.tally.too_many > 0 {
                    notes.push(format!(
                        "{}, {connections} connections, {guessers} guessers: {} guesses were answered 429 (the argon2 queue was full, or the limit was reached).",
                        variant.key, s.tally.too_many
                    ));
                }
                let rps_ratio = s.rps / baseline.rps;
                let p50_ratio = s.p50_ms / baseline.p50_ms;
                let p99_ratio = s.p99_ms / baseline.p99_ms;
                let guessing = guessers > 0;
                let counted = |n: u64| {
                    if guessing {
                        thousands(n as f64)
                    } else {
                        "-".into()
                    }
                };
                let mut row = Row::new(
                    "guessing",
                    format!("zato demo.hello, {guessers} guessers, {}", variant.key),
                )
                .extra("variant", variant.key)
                .extra(
                    "max_failures",
                    variant
                        .max_failures
                        .unwrap_or(LoginSettings::default().max_failures),
                )
                .extra("connections", connections)
                .extra("guessers", guessers)
                .extra("p50_ratio_to_baseline", p50_ratio)
                .extra("p99_ratio_to_baseline", p99_ratio)
                .extra(
                    "rounds_rps",
                    of_these.iter().map(|r| r.outcome.rps).collect::<Vec<_>>(),
                )
                .extra(
                    "rounds_p50_ms",
                    of_these
                        .iter()
                        .map(|r| r.outcome.p50_ms)
                        .collect::<Vec<_>>(),
                )
                .extra("errors", errors)
                .extra("server_cpu_cores", s.server_cpu)
                .extra("guesses_per_s", s.guesses_per_s)
                .extra("guesses_401", s.tally.unauthorized)
                .extra("guesses_429", s.tally.too_many)
                .extra("guesses_other", s.tally.other)
                .extra("guess_errors", s.tally.errors)
                .cells(vec![
                    variant.label(),
                    connections.to_string(),
                    guessers.to_string(),
                    thousands(s.rps),
                    ms(s.p50_ms),
                    ms(s.p99_ms),
                    ratio(rps_ratio),
                    ratio(p50_ratio),
                    ratio(p99_ratio),
                    s.server_cpu
                        .map_or("-".into(), |c| format!("{:.0}%", c * 100.0)),
                    if guessing {
                        thousands(s.guesses_per_s)
                    } else {
                        "-".into()
                    },
                    counted(s.tally.unauthorized),
                    counted(s.tally.too_many),
                    of_these
                        .iter()
                        .map(|r| ms(r.outcome.p50_ms))
                        .collect::<Vec<_>>()
                        .join(" / "),
                ]);
                row.rps = Some(s.rps);
                row.p50_ms = Some(s.p50_ms);
                row.p99_ms = Some(s.p99_ms);
                row.ratio_to_baseline = Some(rps_ratio);
                section.rows.push(row);
            }
        }
    }
    notes.push(format!(
        "Steady client: wrk on `/demo/hello` (a fresh instance per request). Each guesser loops on `GET {ADMIN_PATH}` with the user `{ADMIN_USER}` and a new wrong password, one request at a time over a keep-alive connection from an address of its own (127.0.0.2, 127.0.0.3, ...); 401 and 429 are what the guessers were answered during the measured runs of every round, guesses/s their rate."
    ));
    notes.push(format!(
        "lockout: the server's defaults, so each guesser's address is answered 429 without argon2 after {} failures, for the rest of its {} s window; no lockout: `[admin.login] max_failures = {NO_LOCKOUT_MAX_FAILURES}`, so every guess runs argon2 on the server's one argon2 thread.",
        LoginSettings::default().max_failures,
        LoginSettings::default().window_s
    ));
    notes.push(
        "Ratios are to the run with 0 guessers on the same server and connections; the JSON rows' ratio_to_baseline is the req/s ratio. Server CPU: CPU time of the server process (every thread, argon2's included) during the measured run, over its length (100% = one core)."
            .into(),
    );
    match plan.pin {
        Some(pin) => notes.push(format!(
            "The server is pinned to CPU {}; wrk (one thread) and the guessers (one thread of zato-bench) to CPU {}.",
            pin.server, pin.load
        )),
        None => notes.push(
            "Not pinned: the server, wrk and the guessers share every core.".into(),
        ),
    }
    section.notes = notes;
    Ok(section)
}

/// Medians of the rounds, and the guessers' answers summed over them.
struct Summary {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    server_cpu: Option<f64>,
    tally: Tally,
    guesses_per_s: f64,
}

impl Summary {
    fn of(runs: &[&Run]) -> Self {
        let pick = |f: fn(&Run) -> f64| median(&runs.iter().map(|r| f(r)).collect::<Vec<_>>());
        let cpu: Vec<f64> = runs.iter().filter_map(|r| r.server_cpu).collect();
        let mut tally = Tally::default();
        let mut seconds = 0.0;
        for run in runs {
            tally = tally.plus(&run.tally);
            seconds += run.measured.as_secs_f64();
        }
        Self {
            rps: pick(|r| r.outcome.rps),
            p50_ms: pick(|r| r.outcome.p50_ms),
            p99_ms: pick(|r| r.outcome.p99_ms),
            server_cpu: (!cpu.is_empty()).then(|| median(&cpu)),
            guesses_per_s: tally.answered() as f64 / seconds,
            tally,
        }
    }
}

/// The address of guesser `i`: 127.0.0.2, 127.0.0.3, ... (the steady client and the
/// bench's own admin client use 127.0.0.1).
fn guesser_address(i: usize) -> anyhow::Result<IpAddr> {
    let last = u8::try_from(i + 2)
        .ok()
        .filter(|&n| n < 255)
        .context("at most 253 guessers")?;
    Ok(IpAddr::V4(Ipv4Addr::new(127, 0, 0, last)))
}

/// A client of guesser `i`: its own source address, keep-alive (reqwest's pool).
fn guesser_client(i: usize) -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .no_proxy()
        .local_address(guesser_address(i)?)
        .timeout(Duration::from_secs(60))
        .build()?)
}

/// Makes sure a guess from a guesser's address reaches the server and is refused with
/// 401 before any run counts them.
async fn check_guess(url: &str) -> anyhow::Result<()> {
    let client = guesser_client(0)?;
    let response = client
        .get(url)
        .basic_auth(ADMIN_USER, Some("not-the-password"))
        .send()
        .await
        .with_context(|| {
            format!(
                "a guess from {} to {url} failed (can this machine bind 127.0.0.x addresses?)",
                guesser_address(0).map_or_else(|e| e.to_string(), |a| a.to_string())
            )
        })?;
    let status = response.status();
    if status != StatusCode::UNAUTHORIZED {
        let body = response.text().await.unwrap_or_default();
        bail!("a wrong password was answered {status} `{body}` instead of 401");
    }
    Ok(())
}

/// Answers the guessers got so far.
#[derive(Debug, Clone, Copy, Default)]
struct Tally {
    unauthorized: u64,
    too_many: u64,
    other: u64,
    /// Connect, read and timeout errors.
    errors: u64,
}

impl Tally {
    fn since(&self, before: &Tally) -> Tally {
        Tally {
            unauthorized: self.unauthorized - before.unauthorized,
            too_many: self.too_many - before.too_many,
            other: self.other - before.other,
            errors: self.errors - before.errors,
        }
    }

    fn plus(&self, other: &Tally) -> Tally {
        Tally {
            unauthorized: self.unauthorized + other.unauthorized,
            too_many: self.too_many + other.too_many,
            other: self.other + other.other,
            errors: self.errors + other.errors,
        }
    }

    fn answered(&self) -> u64 {
        self.unauthorized + self.too_many + self.other
    }
}

#[derive(Default)]
struct Counters {
    unauthorized: AtomicU64,
    too_many: AtomicU64,
    other: AtomicU64,
    errors: AtomicU64,
}

/// Guessers running on a thread of their own (a single-threaded tokio runtime), pinned
/// to the load generator's CPU when given; they stop when told to or when dropped.
struct Guessers {
    stop: Arc<AtomicBool>,
    counters: Arc<Counters>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Guessers {
    /// Starts `n` guessers on `url` (none for 0); returns once they run.
    async fn start(url: &str, n: usize, cpu: Option<usize>) -> anyhow::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let counters = Arc::new(Counters::default());
        if n == 0 {
            return Ok(Self {
                stop,
                counters,
                thread: None,
            });
        }
        let clients = (0..n)
            .map(guesser_client)
            .collect::<anyhow::Result<Vec<_>>>()?;
        let (ready, started) = tokio::sync::oneshot::channel::<anyhow::Result<()>>();
        let thread = {
            let stop = stop.clone();
            let counters = counters.clone();
            let url = url.to_owned();
            std::thread::Builder::new()
                .name("guessers".into())
                .spawn(move || {
                    let runtime = match pin_this_thread(cpu).and_then(|()| {
                        Ok(tokio::runtime::Builder::new_current_thread()
                            .enable_all()
                            .build()?)
                    }) {
                        Ok(runtime) => runtime,
                        Err(e) => {
                            let _ = ready.send(Err(e));
                            return;
                        }
                    };
                    let _ = ready.send(Ok(()));
                    runtime.block_on(async {
                        let guessers: Vec<_> = clients
                            .into_iter()
                            .enumerate()
                            .map(|(i, client)| {
                                tokio::spawn(guess(
                                    client,
                                    url.clone(),
                                    i,
                                    stop.clone(),
                                    counters.clone(),
                                ))
                            })
                            .collect();
                        for guesser in guessers {
                            let _ = guesser.await;
                        }
                    });
                })?
        };
        let pool = Self {
            stop,
            counters,
            thread: Some(thread),
        };
        started
            .await
            .context("the guessers' thread ended before it started")??;
        Ok(pool)
    }

    fn tally(&self) -> Tally {
        let c = &self.counters;
        Tally {
            unauthorized: c.unauthorized.load(Ordering::Relaxed),
            too_many: c.too_many.load(Ordering::Relaxed),
            other: c.other.load(Ordering::Relaxed),
            errors: c.errors.load(Ordering::Relaxed),
        }
    }

    /// Stops the guessers and waits for their last answers.
    async fn stop(mut self) -> anyhow::Result<()> {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            tokio::task::spawn_blocking(move || thread.join())
                .await?
                .map_err(|_| anyhow::anyhow!("the guessers' thread panicked"))?;
        }
        Ok(())
    }
}

impl Drop for Guessers {
    fn drop(&mut self) {
        // The thread ends after its guesses in flight are answered (or time out).
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// One guesser: a wrong password after another, each sent once the last is answered.
async fn guess(
    client: reqwest::Client,
    url: String,
    i: usize,
    stop: Arc<AtomicBool>,
    counters: Arc<Counters>,
) {
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let sent = client
            .get(&url)
            .basic_auth(ADMIN_USER, Some(format!("guess-{i}-{n}")))
            .send()
            .await;
        match sent {
            Ok(response) => {
                let status = response.status();
                // Read the body so the connection goes back to the pool for the next.
                let read = response.bytes().await;
                let counter = match status {
                    _ if read.is_err() => &counters.errors,
                    StatusCode::UNAUTHORIZED => &counters.unauthorized,
                    StatusCode::TOO_MANY_REQUESTS => &counters.too_many,
                    _ => &counters.other,
                };
                counter.fetch_add(1, Ordering::Relaxed);
            }
            Err(_) => {
                counters.errors.fetch_add(1, Ordering::Relaxed);
                // A server that refuses connections would make this a busy loop.
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

/// Pins the calling thread to `cpu` (`taskset -p` on its thread id), if given.
fn pin_this_thread(cpu: Option<usize>) -> anyhow::Result<()> {
    let Some(cpu) = cpu else {
        return Ok(());
    };
    // `/proc/thread-self` links to `PID/task/TID`.
    let link = std::fs::read_link("/proc/thread-self")
        .context("cannot read /proc/thread-self to pin the guessers")?;
    let tid = link
        .file_name()
        .context("/proc/thread-self names no thread")?
        .to_string_lossy()
        .into_owned();
    let mut cmd = std::process::Command::new("taskset");
    cmd.args(["-p", "-c", &cpu.to_string(), &tid]);
    process::run("taskset (pinning the guessers)", &mut cmd)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guessers_get_addresses_of_their_own_past_the_steady_client_s() {
        assert_eq!(
            guesser_address(0).unwrap(),
            IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2))
        );
        assert_eq!(
            guesser_address(7).unwrap(),
            IpAddr::V4(Ipv4Addr::new(127, 0, 0, 9))
        );
        assert!(guesser_address(253).is_err());
    }

    #[test]
    fn a_tally_counts_what_a_run_added() {
        let before = Tally {
            unauthorized: 5,
            too_many: 10,
            other: 0,
            errors: 1,
        };
        let after = Tally {
            unauthorized: 7,
            too_many: 110,
            other: 1,
            errors: 1,
        };
        let run = after.since(&before);
        assert_eq!((run.unauthorized, run.too_many, run.other), (2, 100, 1));
        assert_eq!(run.errors, 0);
        assert_eq!(run.plus(&run).answered(), 206);
    }
}
