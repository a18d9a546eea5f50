//! Scenario 7, on request only (`--scenario profile`): where the CPU time of an HTTP
//! request goes, the kernel's share included, for plain hyper and for zato's
//! `demo.hello` with a fresh instance per request and with warm instances.
//!
//! Scenario 6 counts instructions in user space only. On a VM, the kernel takes about
//! half of a request's CPU time: loopback TCP, waking wrk on the other core, resetting a
//! fresh instance's memory. perf's software clock (`cpu-clock`) samples user space
//! and kernel alike, also where the VM exposes no hardware counters. Each server runs at
//! full speed, pinned as in the HTTP scenario. For each target: wrk's warm-up, then
//! `perf record` of the server for as long as the measured wrk run. The server's CPU
//! time during that run, divided by the requests wrk counted, is split by the samples'
//! shares. These are CPU times, so they move with the machine, as requests/s do.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context as _, bail};

use super::Ctx;
use super::http::{WARM_SERVICE, check_url, opt_in_warm};
use crate::component::renamed;
use crate::process::{self, Proc};
use crate::report::{Row, Section, thousands};
use crate::wrk::{self, Load};
use crate::zato::{Env, EnvOptions, wait_for};

/// Connections wrk keeps open, as in the HTTP scenario's main rows.
const CONNECTIONS: u32 = 64;
/// Samples per second of CPU time.
const FREQUENCY: u32 = 1999;
/// How long a server may take to start and load its services.
const START_LIMIT: Duration = Duration::from_secs(120);
/// Kernel frames under which a sample is the waking of a process blocked on a socket:
/// wrk, on the other core, when a response reaches it.
const WAKEUPS: &str = "^sock_def_readable$";
/// Kernel frames under which a sample is spent on an instance's memory: the dirty-page
/// scan of wasmtime's pooling allocator, `madvise`, page faults, mappings.
const MEMORY: &str = "^(do_pagemap_scan|do_madvise|exc_page_fault|__x64_sys_mmap|__x64_sys_munmap|__x64_sys_mprotect)$";

/// Where a sample was taken, in the table's columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Kernel,
    Wasmtime,
    /// The service's code, compiled by Cranelift.
    Guest,
    /// hyper, hyper-util, http, httparse, bytes, tokio, mio.
    HttpStack,
    /// The server's own crates (zato-host, the baseline's binary) and zato's router.
    Own,
    /// glibc's malloc and free, and its mem* functions.
    Libc,
    Other,
}

/// The columns after the first three, in order.
const PARTS: [(&str, &str); 9] = [
    ("kernel: TCP, syscalls, scheduler", "kernel_other_us"),
    ("kernel: waking wrk", "kernel_wakeups_us"),
    ("kernel: instance memory", "kernel_memory_us"),
    ("wasmtime", "wasmtime_us"),
    ("guest code", "guest_us"),
    ("hyper, tokio", "http_stack_us"),
    ("server's own code", "own_us"),
    ("malloc, mem*", "libc_alloc_mem_us"),
    ("other", "other_us"),
];

/// One target's profile.
struct Profile {
    label: &'static str,
    outcome: wrk::Outcome,
    /// Server CPU time per request, µs.
    cpu_per_request: f64,
    /// Shares of the samples, in the order of [`PARTS`]; they add up to 1.
    shares: [f64; 9],
}

pub async fn run(ctx: &Ctx<'_>) -> anyhow::Result<Section> {
    let wrk = ctx.wrk.as_deref().context("this scenario needs wrk")?;
    let dir = ctx.work.join("perf");
    std::fs::create_dir_all(&dir)?;
    let perf = check_perf(&dir)?;
    let warmup = ctx.plan.warmup.max(Duration::from_secs(1));
    let measured = ctx.plan.duration.max(Duration::from_secs(3));
    let sample = Sampling {
        perf: &perf,
        wrk,
        dir: &dir,
        warmup,
        measured,
    };

    eprintln!("[bench] profile: plain hyper under perf");
    let mut cmd = process::command(&ctx.artifacts.hyper, ctx.server_cpu());
    cmd.arg("127.0.0.1:0");
    let mut hyper = Proc::spawn("hyper-profile", cmd, &ctx.logs, true)?;
    let addr = hyper.first_line()?;
    let url = format!("http://{addr}/hello?name=bench");
    check_url("hyper", &url, None, "Hello, bench!").await?;
    let mut profiles = vec![
        sample
            .profile(ctx, &hyper, "hyper hello (baseline)", &url)
            .await?,
    ];
    hyper.stop();

    eprintln!("[bench] profile: zato under perf");
    let env = Env::create(
        &ctx.artifacts.zato,
        &ctx.work.join("profile"),
        &EnvOptions {
            servers: 1,
            cluster: "bench-profile",
            redis: None,
            odb: None,
        },
    )?;
    let mut zato = env.start(0, ctx.server_cpu(), &ctx.logs)?;
    let ping = format!("{}/zato/ping", env.base(0));
    wait_for(&ping, &mut zato, START_LIMIT).await?;
    let admin = env.admin(0);
    let hello = std::fs::read(&ctx.artifacts.hello)?;
    let warm = renamed(&hello, "demo.hello", WARM_SERVICE)?;
    for (bytes, service, path) in [
        (hello, "demo.hello", "/demo/hello"),
        (warm, WARM_SERVICE, "/demo/hwarm"),
    ] {
        admin.deploy(bytes, service).await?;
        admin.channel(service, path, service).await?;
    }
    opt_in_warm(&admin).await?;
    // Started again, the server maps each service's compiled code from the artifact
    // cache's files, where perf finds its symbols; code compiled in the process lives in
    // anonymous memory that perf cannot name.
    zato.stop();
    let mut zato = env.start(0, ctx.server_cpu(), &ctx.logs)?;
    wait_for(&ping, &mut zato, START_LIMIT).await?;
    for (label, service) in [
        ("zato demo.hello", "hello"),
        ("zato demo.hello, warm instances (opt-in)", "hwarm"),
    ] {
        let url = format!("{}/demo/{service}?name=bench", env.base(0));
        wait_for(&url, &mut zato, START_LIMIT).await?;
        check_url(label, &url, None, "Hello, bench!").await?;
        profiles.push(sample.profile(ctx, &zato, label, &url).await?);
    }
    zato.stop();
    Ok(section(&profiles, warmup, measured))
}

/// What every target's profile is taken with.
struct Sampling<'a> {
    perf: &'a Path,
    wrk: &'a Path,
    dir: &'a Path,
    warmup: Duration,
    measured: Duration,
}

impl Sampling<'_> {
    async fn profile(
        &self,
        ctx: &Ctx<'_>,
        server: &Proc,
        label: &'static str,
        url: &str,
    ) -> anyhow::Result<Profile> {
        let load = |duration| Load {
            url,
            connections: CONNECTIONS,
            duration,
            script: None,
            cpu: ctx.load_cpu(),
            cores: ctx.plan.cores,
        };
        wrk::run(self.wrk, &load(self.warmup)).await?;
        let data = self.dir.join(format!("{}.data", server.pid()));
        // perf itself runs beside wrk, off the server's core.
        let mut cmd = process::command(self.perf, ctx.load_cpu());
        cmd.args(["record", "-e", "cpu-clock", "-F"])
            .arg(FREQUENCY.to_string())
            .args(["-g", "-p"])
            .arg(server.pid().to_string())
            .arg("-o")
            .arg(&data)
            .args(["--", "sleep"])
            .arg(self.measured.as_secs().to_string());
        let recording = tokio::process::Command::from(cmd)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .context("cannot start perf record")?;
        let before = process::cpu_time_of(server.pid());
        let outcome = wrk::run(self.wrk, &load(self.measured)).await?;
        let after = process::cpu_time_of(server.pid());
        let recorded = recording.wait_with_output().await?;
        if !recorded.status.success() {
            bail!(
                "perf record failed ({}): {}",
                recorded.status,
                String::from_utf8_lossy(&recorded.stderr)
            );
        }
        if outcome.requests == 0 || outcome.non_2xx > 0 || outcome.socket_errors > 0 {
            bail!(
                "{url} under perf: {} requests, {} answers not 2xx, {} socket errors",
                outcome.requests,
                outcome.non_2xx,
                outcome.socket_errors
            );
        }
        let (Some(before), Some(after)) = (before, after) else {
            bail!("cannot read the CPU time of {}", server.name());
        };
        let cpu_per_request = (after - before).as_secs_f64() * 1e6 / outcome.requests as f64;
        let shares = shares(self.perf, &data)?;
        Ok(Profile {
            label,
            outcome,
            cpu_per_request,
            shares,
        })
    }
}

/// perf's path, once it has shown that it can sample a process's kernel frames.
fn check_perf(dir: &Path) -> anyhow::Result<PathBuf> {
    let Some(perf) = process::which("perf") else {
        bail!("perf is not installed: `sudo apt-get install -y linux-perf` (Debian)");
    };
    let probe = dir.join("probe.data");
    let mut cmd = std::process::Command::new(&perf);
    cmd.args(["record", "-e", "cpu-clock", "-g", "-o"])
        .arg(&probe)
        .args(["--", "true"]);
    process::run("perf record (a probe)", &mut cmd).context(
        "perf cannot sample here; kernel frames need root or \
         `sysctl kernel.perf_event_paranoid=1`",
    )?;
    Ok(perf)
}

/// The samples of `data` split into [`PARTS`], as shares that add up to 1.
fn shares(perf: &Path, data: &Path) -> anyhow::Result<[f64; 9]> {
    let report = |args: &[&str]| -> anyhow::Result<String> {
        let mut cmd = std::process::Command::new(perf);
        cmd.arg("report")
            .arg("-i")
            .arg(data)
            .args(["--stdio", "--no-children", "-g", "none", "-q"])
            .args(args);
        process::run("perf report", &mut cmd)
    };
    let flat = report(&["--sort", "dso,sym", "--percent-limit", "0"])?;
    let wakeups = parent_share(&report(&["--sort", "parent", "-p", WAKEUPS])?);
    let memory = parent_share(&report(&["--sort", "parent", "-p", MEMORY])?);
    split(&flat, wakeups, memory).with_context(|| {
        format!(
            "perf report of `{}` has no samples; is perf allowed to sample the server?",
            data.display()
        )
    })
}

/// Shares of [`PARTS`] from a flat report (`--sort dso,sym`) and the shares of all
/// samples taken under the wake-up and memory frames.
fn split(flat: &str, wakeups: f64, memory: f64) -> Option<[f64; 9]> {
    let mut by_part = [0.0; 7];
    for (percent, dso, kernel, symbol) in flat.lines().filter_map(parse_line) {
        by_part[part(dso, kernel, symbol) as usize] += percent;
    }
    let total: f64 = by_part.iter().sum();
    if total <= 0.0 {
        return None;
    }
    let share = |percent: f64| percent / total;
    let kernel = share(by_part[Part::Kernel as usize]);
    let wakeups = (wakeups / total).min(kernel);
    let memory = (memory / total).min(kernel - wakeups);
    Some([
        (kernel - wakeups - memory).max(0.0),
        wakeups,
        memory,
        share(by_part[Part::Wasmtime as usize]),
        share(by_part[Part::Guest as usize]),
        share(by_part[Part::HttpStack as usize]),
        share(by_part[Part::Own as usize]),
        share(by_part[Part::Libc as usize]),
        share(by_part[Part::Other as usize]),
    ])
}

/// `  12.34%  DSO  [k] SYMBOL` (`[.]` in user space): percent, DSO, kernel?, symbol.
fn parse_line(line: &str) -> Option<(f64, &str, bool, &str)> {
    let (percent, rest) = line.trim_start().split_once('%')?;
    let percent = percent.parse().ok()?;
    let (dso, kernel, symbol) = match rest.split_once(" [k] ") {
        Some((dso, symbol)) => (dso, true, symbol),
        None => {
            let (dso, symbol) = rest.split_once(" [.] ")?;
            (dso, false, symbol)
        }
    };
    Some((percent, dso.trim(), kernel, symbol.trim()))
}

/// The percent of samples a `--sort parent` report puts under the parent pattern (the
/// rest is `[other]`).
fn parent_share(report: &str) -> f64 {
    report
        .lines()
        .filter_map(|line| {
            let (percent, name) = line.trim_start().split_once('%')?;
            (name.trim() != "[other]").then(|| percent.parse::<f64>().ok())?
        })
        .sum::<f64>()
        // An empty sum is -0.0, which the table would print as "-0.00".
        + 0.0
}

fn part(dso: &str, kernel: bool, symbol: &str) -> Part {
    if kernel {
        return Part::Kernel;
    }
    // Compiled components, mapped from the artifact cache: the functions of the
    // service's modules, and wasmtime's trampolines and builtins.
    if dso.ends_with(".cwasm") {
        return if symbol.starts_with("wasm[") {
            Part::Guest
        } else {
            Part::Wasmtime
        };
    }
    if dso.starts_with("libc.so") {
        const ALLOC: [&str; 6] = [
            "malloc",
            "free",
            "realloc",
            "calloc",
            "unlink_chunk",
            "tcache",
        ];
        return if symbol.starts_with("__mem") || ALLOC.iter().any(|a| symbol.contains(a)) {
            Part::Libc
        } else {
            Part::Other
        };
    }
    match first_crate(symbol) {
        Some(name) if name.starts_with("wasmtime") || name.starts_with("cranelift") => {
            Part::Wasmtime
        }
        Some(
            "hyper" | "hyper_util" | "http" | "http_body" | "http_body_util" | "httparse" | "h2"
            | "bytes" | "tokio" | "tokio_util" | "mio",
        ) => Part::HttpStack,
        Some(name) if name.starts_with("zato") => Part::Own,
        Some("matchit" | "arc_swap") => Part::Own,
        _ => Part::Other,
    }
}

/// The first crate a demangled Rust symbol names, other than core, alloc and std:
/// `core::ptr::drop_in_place<hyper_util::rt::tokio::TokioSleep>` names hyper_util.
fn first_crate(symbol: &str) -> Option<&str> {
    let bytes = symbol.as_bytes();
    let ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut from = 0;
    while let Some(at) = symbol[from..].find("::") {
        let end = from + at;
        let start = (0..end)
            .rev()
            .find(|&i| !ident(bytes[i]))
            .map_or(0, |i| i + 1);
        let boundary = start == 0 || !matches!(bytes[start - 1], b':');
        let name = &symbol[start..end];
        if boundary && !name.is_empty() && !matches!(name, "core" | "alloc" | "std" | "__rustc") {
            return Some(name);
        }
        from = end + 2;
    }
    None
}

fn section(profiles: &[Profile], warmup: Duration, measured: Duration) -> Section {
    let mut columns = vec!["target", "req/s", "CPU per request"];
    columns.extend(PARTS.iter().map(|(column, _)| *column));
    let mut section = Section::new(
        format!(
            "7. Where a request's CPU time goes (perf, {CONNECTIONS} connections, {} s sampled after {} s of warm-up)",
            measured.as_secs(),
            warmup.as_secs()
        ),
        columns,
    );
    let baseline = profiles.first().map_or(f64::NAN, |p| p.cpu_per_request);
    let us = |value: f64| format!("{value:.2} µs");
    for profile in profiles {
        let mut cells = vec![
            profile.label.to_owned(),
            thousands(profile.outcome.rps),
            us(profile.cpu_per_request),
        ];
        let mut row =
            Row::new("profile", profile.label).extra("cpu_us_per_request", profile.cpu_per_request);
        for ((_, key), share) in PARTS.iter().zip(profile.shares) {
            let value = share * profile.cpu_per_request;
            cells.push(us(value));
            row = row.extra(key, (value * 100.0).round() / 100.0);
        }
        row.rps = Some(profile.outcome.rps);
        row.p50_ms = Some(profile.outcome.p50_ms);
        row.p99_ms = Some(profile.outcome.p99_ms);
        row.ratio_to_baseline = Some(profile.cpu_per_request / baseline);
        section.rows.push(row.cells(cells));
    }
    section.notes.push(
        "CPU per request: the server's CPU time (user + system, all threads, from /proc) \
         during the sampled run over the requests wrk counted; each column is its share of \
         perf's cpu-clock samples of the server. The JSON rows' `ratio_to_baseline` is CPU \
         per request over the baseline's: lower is better."
            .into(),
    );
    section.notes.push(
        "kernel: waking wrk counts samples under `sock_def_readable`: a response reaching wrk, \
         asleep on the other core, wakes it from the server's core. On a VM that wake-up is \
         expensive, and a slower server pays it more often, since wrk has more time to fall \
         asleep between responses. kernel: instance memory counts samples under the \
         pooling allocator's dirty-page scan (`PAGEMAP_SCAN`), madvise, page faults and \
         mappings."
            .into(),
    );
    section.notes.push(
        "Requests/s are wrk's during the sampled run, with perf running on wrk's core; the \
         HTTP scenario's figures are the ones to compare with other servers."
            .into(),
    );
    section
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_symbol_belongs_to_the_first_crate_it_names_after_std() {
        let cases = [
            ("zato_host::channel::http::handle::{{closure}}", Part::Own),
            (
                "<hyper_util::server::graceful::GracefulConnectionFuture<C,F> as core::future::future::Future>::poll",
                Part::HttpStack,
            ),
            (
                "core::ptr::drop_in_place<hyper_util::rt::tokio::TokioSleep>",
                Part::HttpStack,
            ),
            (
                "<alloc::string::String as wasmtime::runtime::component::func::typed::Lift>::linear_lift_from_memory",
                Part::Wasmtime,
            ),
            (
                "wasmtime_environ::module_artifacts::CompiledFunctionsTable::func_loc",
                Part::Wasmtime,
            ),
            ("cranelift_bforest::path::Path<F>::find", Part::Wasmtime),
            (
                "<&mio::net::tcp::stream::TcpStream as std::io::Write>::write_vectored",
                Part::HttpStack,
            ),
            (
                "core::ptr::drop_in_place<tokio::time::timeout::Timeout<zato_host::runtime::Runtime::call::{{closure}}>>",
                Part::HttpStack,
            ),
            ("matchit::tree::Node<T>::at", Part::Own),
            ("core::str::converts::from_utf8", Part::Other),
            ("__rustc::__rdl_alloc", Part::Other),
        ];
        for (symbol, expected) in cases {
            assert_eq!(part("zato", false, symbol), expected, "{symbol}");
        }
    }

    #[test]
    fn samples_outside_rust_go_by_their_dso() {
        let cwasm = "95f5dac9-8d639a2a52bc2921.cwasm";
        assert_eq!(
            part(
                cwasm,
                false,
                "wasm[0]::function[74]::zato:service/service@0.2.0#handle"
            ),
            Part::Guest
        );
        assert_eq!(
            part(cwasm, false, "wasmtime_builtin_memory_copy"),
            Part::Wasmtime
        );
        assert_eq!(part("libc.so.6", false, "_int_free"), Part::Libc);
        assert_eq!(part("libc.so.6", false, "realloc"), Part::Libc);
        assert_eq!(part("libc.so.6", false, "cfree@GLIBC_2.2.5"), Part::Libc);
        assert_eq!(
            part("libc.so.6", false, "__memmove_avx512_unaligned_erms"),
            Part::Libc
        );
        assert_eq!(part("libc.so.6", false, "__GI___writev"), Part::Other);
        assert_eq!(
            part("[kernel.kallsyms]", true, "_raw_spin_unlock_irqrestore"),
            Part::Kernel
        );
        assert_eq!(part("[vdso]", false, "__vdso_clock_gettime"), Part::Other);
    }

    #[test]
    fn a_report_splits_into_shares_that_add_up_to_one() {
        let flat = "    50.00%  [kernel.kallsyms]  [k] _raw_spin_unlock_irqrestore\n\
                    \x20   20.00%  zato               [.] wasmtime::runtime::func::Func::call_raw\n\
                    \x20   10.00%  x-1.cwasm          [.] wasm[0]::function[74]::handle\n\
                    \x20   10.00%  libc.so.6          [.] malloc\n\
                    \x20   10.00%  zato               [.] zato_host::channel::http::new_cid\n";
        let wakeups = parent_share("    20.00%  sock_def_readable\n    80.00%  [other]\n");
        let memory = parent_share("    10.00%  do_pagemap_scan\n    90.00%  [other]\n");
        assert_eq!((wakeups, memory), (20.0, 10.0));
        let none = parent_share("   100.00%  [other]\n");
        assert!(none == 0.0 && none.is_sign_positive());
        let shares = split(flat, wakeups, memory).expect("samples");
        let expected = [0.2, 0.2, 0.1, 0.2, 0.1, 0.0, 0.1, 0.1, 0.0];
        for (got, want) in shares.iter().zip(expected) {
            assert!((got - want).abs() < 1e-9, "{shares:?}");
        }
        assert!((shares.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        assert!(split("# nothing sampled\n", 0.0, 0.0).is_none());
    }
}
