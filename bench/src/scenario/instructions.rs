//! Scenario 6, on request only (`--scenario instructions`): instructions per HTTP
//! request, counted by valgrind's callgrind, for plain hyper and for zato's `demo.hello`
//! with a fresh instance per request and with warm instances.
//!
//! Requests/s move with the machine and with whatever else it runs; instruction counts
//! do not, so these are the figures to compare across machines and runs. Each server
//! runs under `valgrind --tool=callgrind --instr-atstart=no`, pinned like the HTTP
//! scenario's. For each target: counting on, wrk's warm-up, counters zeroed, the
//! measured wrk run, a dump; the dump's total (all threads, user space) divided by the
//! requests wrk counted. zato's epoch tick is raised to 1 s: under valgrind, which runs
//! the server many times slower, the default tick would make guests yield where they
//! never do at full speed. The services are deployed to the server under valgrind (it
//! compiles them there, slowly), and counting starts once each answers.
//!
//! Every target is counted twice: with wrk's requests as they are (one header, `Host`),
//! and with the ten headers a browser sends, because what a request costs a service
//! host grows with what it passes on.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context as _, bail};

use super::http::{HELLO_FRESH_AND_WARM, check_url, deploy_hello_fresh_and_warm, spawn_baseline};
use super::{CONNECTIONS, Ctx};
use crate::process::{self, Proc};
use crate::report::{Row, Section, thousands};
use crate::wrk;
use crate::zato::{Env, EnvOptions, wait_for};

/// How long a server under valgrind may take to start and load its services.
const START_LIMIT: Duration = Duration::from_secs(300);
/// What a browser sends besides `Host` (which wrk sets) when it follows a link.
const BROWSER_HEADERS: [(&str, &str); 9] = [
    (
        "User-Agent",
        "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    ),
    (
        "Accept",
        "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    ),
    ("Accept-Language", "en-GB,en;q=0.5"),
    ("Accept-Encoding", "gzip, deflate, br, zstd"),
    ("Referer", "http://127.0.0.1/demo/"),
    (
        "Cookie",
        "session=5f2b6c0e9d4a4f3b8c1e7a2d9b0c4e6f; theme=dark",
    ),
    ("Upgrade-Insecure-Requests", "1"),
    ("Sec-Fetch-Dest", "document"),
    ("Sec-Fetch-Mode", "navigate"),
];
/// The label suffix of the rows with [`BROWSER_HEADERS`].
const WITH_HEADERS: &str = ", a browser's 10 headers";

/// One server under callgrind.
struct Counted {
    proc: Proc,
    /// `--callgrind-out-file`; dumps are written next to it as `FILE.N`.
    out: PathBuf,
    dumps: u32,
}

pub async fn run(ctx: &Ctx<'_>) -> anyhow::Result<Section> {
    let wrk = ctx.wrk.as_deref().context("this scenario needs wrk")?;
    let (Some(valgrind), Some(control)) = (
        process::which("valgrind"),
        process::which("callgrind_control"),
    ) else {
        bail!("valgrind is not installed: `sudo apt-get install -y valgrind`");
    };
    let dir = ctx.work.join("callgrind");
    std::fs::create_dir_all(&dir)?;
    let under_callgrind = |name: &str| -> Vec<OsString> {
        vec![
            valgrind.clone().into(),
            "--tool=callgrind".into(),
            "--instr-atstart=no".into(),
            format!("--callgrind-out-file={}", dir.join(name).display()).into(),
        ]
    };
    let warmup = ctx.plan.warmup.max(Duration::from_secs(2));
    let measured = ctx.plan.duration.max(Duration::from_secs(3));
    let headers = dir.join("browser-headers.lua");
    std::fs::write(&headers, headers_script())?;
    let measure = async |server: &mut Counted,
                         url: &str,
                         script: Option<&Path>|
           -> anyhow::Result<(u64, f64)> {
        callgrind_control(&control, server.proc.pid(), &["-i", "on"])?;
        wrk::run(wrk, &ctx.main_load(url, script, warmup)).await?;
        callgrind_control(&control, server.proc.pid(), &["-z"])?;
        let outcome = wrk::run(wrk, &ctx.main_load(url, script, measured)).await?;
        callgrind_control(&control, server.proc.pid(), &["-d"])?;
        server.dumps += 1;
        let total = dump_total(&server.out, server.dumps)?;
        outcome.require_clean(&format!("{url} under callgrind"))?;
        Ok((outcome.requests, total as f64 / outcome.requests as f64))
    };

    eprintln!("[bench] instructions: plain hyper under callgrind");
    let cmd = process::command_under(
        &under_callgrind("hyper.out"),
        &ctx.artifacts.hyper,
        ctx.server_cpu(),
    );
    let (proc, url) = spawn_baseline(ctx, "hyper-callgrind", cmd)?;
    let mut hyper = Counted {
        proc,
        out: dir.join("hyper.out"),
        dumps: 0,
    };
    check_url("hyper under callgrind", &url, None, "Hello, bench!").await?;
    let mut results = Vec::new();
    for script in [None, Some(headers.as_path())] {
        let (requests, per_request) = measure(&mut hyper, &url, script).await?;
        let label = match script {
            None => "hyper hello (baseline)".to_owned(),
            Some(_) => format!("hyper hello{WITH_HEADERS}"),
        };
        results.push((label, script.is_some(), requests, per_request));
    }
    hyper.proc.stop();

    eprintln!("[bench] instructions: zato under callgrind (deploying takes a while there)");
    let env = Env::create(
        &ctx.artifacts.zato,
        &ctx.work.join("instructions"),
        &EnvOptions::one_server("bench-instructions"),
    )?;
    raise_epoch_tick(&env.dir.join("server1/server.toml"))?;
    let mut zato = Counted {
        proc: env.start_under(0, ctx.server_cpu(), &ctx.logs, &under_callgrind("zato.out"))?,
        out: dir.join("zato.out"),
        dumps: 0,
    };
    wait_for(
        &format!("{}/zato/ping", env.base(0)),
        &mut zato.proc,
        START_LIMIT,
    )
    .await?;
    deploy_hello_fresh_and_warm(&env.admin(0), &ctx.artifacts.hello).await?;
    for (label, service) in HELLO_FRESH_AND_WARM {
        let url = format!("{}/demo/{service}?name=bench", env.base(0));
        wait_for(&url, &mut zato.proc, START_LIMIT).await?;
        check_url(label, &url, None, "Hello, bench!").await?;
        for script in [None, Some(headers.as_path())] {
            let (requests, per_request) = measure(&mut zato, &url, script).await?;
            let label = match script {
                None => label.to_owned(),
                Some(_) => format!("{label}{WITH_HEADERS}"),
            };
            results.push((label, script.is_some(), requests, per_request));
        }
    }
    zato.proc.stop();

    // Each row against hyper's with the same headers.
    let (baseline, baseline_with_headers) = (results[0].3, results[1].3);
    let mut section = Section::new(
        format!(
            "6. Instructions per request (callgrind, {CONNECTIONS} connections, {} s counted after {} s of warm-up)",
            measured.as_secs(),
            warmup.as_secs()
        ),
        vec![
            "target",
            "requests counted",
            "instructions per request",
            "vs baseline",
        ],
    );
    for (label, with_headers, requests, per_request) in results {
        let reference = if with_headers {
            baseline_with_headers
        } else {
            baseline
        };
        let ratio = per_request / reference;
        let mut row = Row::new("instructions", &label)
            .extra("requests_counted", requests)
            .extra("instructions_per_request", per_request.round())
            .cells(vec![
                label.clone(),
                thousands(requests as f64),
                thousands(per_request),
                format!("{ratio:.1}x"),
            ]);
        row.ratio_to_baseline = Some(ratio);
        section.rows.push(row);
    }
    section.notes.push(
        "Instructions of all the server's threads in user space (valgrind's callgrind), divided \
         by the requests wrk counted; unlike requests/s they do not depend on the machine's \
         speed or load. \
         `vs baseline` and the JSON rows' `ratio_to_baseline` are instructions per request \
         over the baseline's: lower is better, unlike the HTTP scenario's ratios."
            .into(),
    );
    section.notes.push(format!(
        "Rows ending in `{WITH_HEADERS}` send what Firefox sends when it follows a link \
         (Host, User-Agent, Accept, Accept-Language, Accept-Encoding, Referer, Cookie and \
         three more; wrk sends only Host), and are compared with hyper's row under the same \
         load."
    ));
    section.notes.push(
        "zato runs with an epoch tick of 1 s here (10 ms by default), so that valgrind's \
         slowness does not make guests yield; two runs differ by about 1k instructions per \
         request (wrk paces requests differently each time)."
            .into(),
    );
    Ok(section)
}

/// A wrk script that adds [`BROWSER_HEADERS`] to every request.
fn headers_script() -> String {
    BROWSER_HEADERS
        .iter()
        .map(|(name, value)| format!("wrk.headers[\"{name}\"] = \"{value}\"\n"))
        .collect()
}

/// `callgrind_control ARGS PID`, which exits 0 whatever happened: its answer must say
/// `OK.`. Bounded by `timeout`, as it waits for the server to reach a point where
/// valgrind can take the command.
fn callgrind_control(control: &Path, pid: u32, args: &[&str]) -> anyhow::Result<()> {
    let mut cmd = Command::new("timeout");
    cmd.arg("60").arg(control).args(args).arg(pid.to_string());
    let answer = process::run("callgrind_control", &mut cmd)?;
    if !control_succeeded(&answer) {
        bail!(
            "callgrind_control {} {pid} answered: {answer}",
            args.join(" ")
        );
    }
    Ok(())
}

/// Whether `callgrind_control`'s answer says the command was carried out.
fn control_succeeded(answer: &str) -> bool {
    answer.contains("OK.") && !answer.contains("Error") && !answer.contains("No active")
}

/// The instruction total of dump `n` of a server run with `--callgrind-out-file=OUT`.
fn dump_total(out: &Path, n: u32) -> anyhow::Result<u64> {
    let path = PathBuf::from(format!("{}.{n}", out.display()));
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read callgrind's dump `{}`", path.display()))?;
    parse_total(&text).with_context(|| format!("no total in `{}`", path.display()))
}

/// The `summary:` (or `totals:`) line of a callgrind dump: instructions executed.
fn parse_total(dump: &str) -> Option<u64> {
    dump.lines()
        .find_map(|line| {
            line.strip_prefix("summary:")
                .or_else(|| line.strip_prefix("totals:"))
        })
        .and_then(|value| value.split_whitespace().next()?.parse().ok())
}

/// Sets `epoch_tick_ms = 1000` in a server's configuration.
fn raise_epoch_tick(server_toml: &Path) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(server_toml)?;
    let mut found = false;
    let text: String = text
        .lines()
        .map(|line| {
            if line.trim_start().starts_with("epoch_tick_ms") {
                found = true;
                "epoch_tick_ms = 1000".to_owned()
            } else {
                line.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    if !found {
        bail!("no epoch_tick_ms in `{}`", server_toml.display());
    }
    std::fs::write(server_toml, text + "\n")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dump_total_is_read_from_its_summary_line() {
        let dump = "# callgrind format\nversion: 1\ncreator: callgrind-3.19.0\n\
                    events: Ir\nsummary: 2665708396\n\nfn=main\n0 12\n\ntotals: 2665708396\n";
        assert_eq!(parse_total(dump), Some(2_665_708_396));
        assert_eq!(parse_total("events: Ir\n"), None);
    }

    #[test]
    fn only_an_ok_from_callgrind_control_counts_as_done() {
        let done = "PID 4242: zato start\nsending command zero to pid 4242\n  OK.\n";
        assert!(control_succeeded(done));
        let gone = "Error: Callgrind task with PID/name\n  4242\nnot detected.\n";
        assert!(!control_succeeded(gone));
        assert!(!control_succeeded("No active callgrind runs detected.\n"));
    }
}
