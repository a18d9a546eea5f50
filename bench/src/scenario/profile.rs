//! Scenario 7, on request only (`--scenario profile`): where the CPU time of an HTTP
//! request goes, the kernel's share included, for plain hyper and for zato's
//! `demo.hello` with a fresh instance per request and with warm instances.
//!
//! Scenario 6 counts instructions in user space only. On a VM, the kernel takes about
//! half of a request's CPU time: loopback TCP, waking wrk on the other core, resetting a
//! fresh instance's memory. perf's software clock (`cpu-clock`) samples user space
//! and kernel alike, also where the VM exposes no hardware counters. Each server runs at
//! full speed, pinned as in the HTTP scenario. For each target: wrk's warm-up, then
//! `perf record` of the server (started just before the measured wrk run, and lasting
//! as long). The server's CPU time during the wrk run, divided by the requests wrk
//! counted, is split by the samples' shares. These are CPU times, so they move with
//! the machine, as requests/s do. perf's stack walks at each sample are charged to the
//! server (as kernel time) and so spread over every column, a few percent at most.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context as _, bail};

use super::http::{HELLO_FRESH_AND_WARM, check_url, deploy_hello_fresh_and_warm, spawn_baseline};
use super::{CONNECTIONS, Ctx};
use crate::process::{self, Proc};
use crate::report::{Row, Section, thousands};
use crate::wrk;
use crate::zato::{Env, EnvOptions, wait_for};

/// Samples per second of CPU time.
const FREQUENCY: u32 = 1999;
/// How long a server may take to start and load its services.
const START_LIMIT: Duration = Duration::from_secs(120);
/// The kernel frame under which a sample is the waking of a process blocked on a
/// socket: wrk, on the other core, when a response reaches it.
const WAKEUP_FRAME: &str = "sock_def_readable";
/// Kernel frames under which a sample is spent on an instance's memory: the dirty-page
/// scan of wasmtime's pooling allocator, `madvise`, page faults, mappings.
const MEMORY_FRAMES: [&str; 6] = [
    "do_pagemap_scan",
    "do_madvise",
    "exc_page_fault",
    "__x64_sys_mmap",
    "__x64_sys_munmap",
    "__x64_sys_mprotect",
];

/// Where a sample was taken, in the table's columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Kernel,
    Wasmtime,
    /// The service's code, compiled by Cranelift.
    Guest,
    /// hyper, hyper-util, http, httparse, bytes, tokio, mio.
    HttpStack,
    /// The server's own crates (zato-host, the baseline's binary), and matchit and
    /// arc-swap, with which zato routes.
    Own,
    /// glibc's malloc, free and mem* functions, and Rust's allocator shims.
    Alloc,
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
    ("malloc, free, mem*", "alloc_mem_us"),
    ("other", "other_us"),
];

/// One target's profile.
struct Profile {
    label: &'static str,
    outcome: wrk::Outcome,
    /// Server CPU time per request, µs.
    cpu_per_request: f64,
    /// Shares of the samples, in the order of [`PARTS`]; they add up to 1.
    shares: [f64; PARTS.len()],
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
    let cmd = process::command(&ctx.artifacts.hyper, ctx.server_cpu());
    let (hyper, url) = spawn_baseline(ctx, "hyper-profile", cmd)?;
    check_url("hyper", &url, None, "Hello, bench!").await?;
    let mut profiles = vec![
        sample
            .profile(ctx, &hyper, "hyper hello (baseline)", "hyper", &url)
            .await?,
    ];
    hyper.stop();

    eprintln!("[bench] profile: zato under perf");
    let env = Env::create(
        &ctx.artifacts.zato,
        &ctx.work.join("profile"),
        &EnvOptions::one_server("bench-profile"),
    )?;
    let mut zato = env.start(0, ctx.server_cpu(), &ctx.logs)?;
    let ping = format!("{}/zato/ping", env.base(0));
    wait_for(&ping, &mut zato, START_LIMIT).await?;
    deploy_hello_fresh_and_warm(&env.admin(0), &ctx.artifacts.hello).await?;
    // Started again, the server maps each service's compiled code from the artifact
    // cache's files, where perf finds its symbols; code compiled in the process lives in
    // anonymous memory that perf cannot name.
    zato.stop();
    let mut zato = env.start(0, ctx.server_cpu(), &ctx.logs)?;
    wait_for(&ping, &mut zato, START_LIMIT).await?;
    for (label, service) in HELLO_FRESH_AND_WARM {
        let url = format!("{}/demo/{service}?name=bench", env.base(0));
        wait_for(&url, &mut zato, START_LIMIT).await?;
        check_url(label, &url, None, "Hello, bench!").await?;
        profiles.push(sample.profile(ctx, &zato, label, service, &url).await?);
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
        file: &str,
        url: &str,
    ) -> anyhow::Result<Profile> {
        wrk::run(self.wrk, &ctx.main_load(url, None, self.warmup)).await?;
        let data = self.dir.join(format!("{file}.data"));
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
        let outcome = wrk::run(self.wrk, &ctx.main_load(url, None, self.measured)).await?;
        let after = process::cpu_time_of(server.pid());
        let recorded = recording.wait_with_output().await?;
        if !recorded.status.success() {
            bail!(
                "perf record failed ({}): {}",
                recorded.status,
                String::from_utf8_lossy(&recorded.stderr)
            );
        }
        outcome.require_clean(&format!("{url} under perf"))?;
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

/// What perf needs to sample a server's kernel frames and name them.
const PERMISSIONS: &str = "root, or `sysctl kernel.perf_event_paranoid=1` and \
                           `sysctl kernel.kptr_restrict=0`";

/// perf's path, once it has shown that it may sample kernel frames at [`FREQUENCY`].
/// (Asked for `cpu-clock` where kernel frames are not allowed, perf quietly samples
/// user space only; asked for `cpu-clock:k`, it fails.)
fn check_perf(dir: &Path) -> anyhow::Result<PathBuf> {
    let Some(perf) = process::which("perf") else {
        bail!("perf is not installed: `sudo apt-get install -y linux-perf` (Debian)");
    };
    let probe = dir.join("probe.data");
    let mut cmd = std::process::Command::new(&perf);
    cmd.args(["record", "-e", "cpu-clock:k", "-g", "-F"])
        .arg(FREQUENCY.to_string())
        .arg("-o")
        .arg(&probe)
        .args(["--", "true"]);
    process::run("perf record (a probe)", &mut cmd)
        .with_context(|| format!("perf cannot sample the kernel here; it needs {PERMISSIONS}"))?;
    Ok(perf)
}

/// The samples of `data` split into [`PARTS`], as shares that add up to 1.
fn shares(perf: &Path, data: &Path) -> anyhow::Result<[f64; PARTS.len()]> {
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
    if !names_kernel_functions(&flat) {
        bail!(
            "perf's report of `{}` names no kernel function; it needs {PERMISSIONS}",
            data.display()
        );
    }
    // One report for both: each sample goes under the first of these frames on its stack.
    let frames: Vec<&str> = std::iter::once(WAKEUP_FRAME).chain(MEMORY_FRAMES).collect();
    let pattern = format!("^({})$", frames.join("|"));
    let (wakeups, memory) = parent_shares(&report(&["--sort", "parent", "-p", &pattern])?);
    split(&flat, wakeups, memory).with_context(|| {
        format!(
            "perf report of `{}` has no samples; is perf allowed to sample the server?",
            data.display()
        )
    })
}

/// Whether a flat report (`--sort dso,sym`) names a kernel function: where
/// `kernel.kptr_restrict` hides the kernel's symbols, its samples are bare addresses.
fn names_kernel_functions(flat: &str) -> bool {
    flat.lines()
        .filter_map(parse_line)
        .any(|(_, _, mark, symbol)| mark == Mark::Kernel && !symbol.starts_with("0x"))
}

/// Shares of [`PARTS`] from a flat report (`--sort dso,sym`) and the shares of all
/// samples taken under the wake-up and memory frames.
fn split(flat: &str, wakeups: f64, memory: f64) -> Option<[f64; PARTS.len()]> {
    let mut by_part = [0.0; 7];
    for (percent, dso, mark, symbol) in flat.lines().filter_map(parse_line) {
        by_part[part(dso, mark, symbol) as usize] += percent;
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
        share(by_part[Part::Alloc as usize]),
        share(by_part[Part::Other as usize]),
    ])
}

/// Where perf says a sample was taken: `[k]`, `[.]`, or another mark (a guest's or a
/// hypervisor's, which the other column takes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mark {
    Kernel,
    User,
    Elsewhere,
}

/// `  12.34%  DSO  [k] SYMBOL`: percent, DSO, mark, symbol. The mark is the first
/// ` [c] ` after the percent.
fn parse_line(line: &str) -> Option<(f64, &str, Mark, &str)> {
    let (percent, rest) = line.trim_start().split_once('%')?;
    let percent = percent.parse().ok()?;
    let bytes = rest.as_bytes();
    let at = (0..bytes.len().saturating_sub(4)).find(|&i| {
        bytes[i] == b' ' && bytes[i + 1] == b'[' && bytes[i + 3] == b']' && bytes[i + 4] == b' '
    })?;
    let mark = match bytes[at + 2] {
        b'k' => Mark::Kernel,
        b'.' => Mark::User,
        _ => Mark::Elsewhere,
    };
    Some((percent, rest[..at].trim(), mark, rest[at + 5..].trim()))
}

/// The percents of samples a `--sort parent` report puts under [`WAKEUP_FRAME`] and
/// under [`MEMORY_FRAMES`] (the rest is `[other]`).
fn parent_shares(report: &str) -> (f64, f64) {
    let (mut wakeups, mut memory) = (0.0, 0.0);
    for line in report.lines() {
        let Some((percent, name)) = line.trim_start().split_once('%') else {
            continue;
        };
        let Ok(percent) = percent.parse::<f64>() else {
            continue;
        };
        match name.trim() {
            WAKEUP_FRAME => wakeups += percent,
            name if MEMORY_FRAMES.contains(&name) => memory += percent,
            _ => {}
        }
    }
    (wakeups, memory)
}

fn part(dso: &str, mark: Mark, symbol: &str) -> Part {
    match mark {
        Mark::Kernel => return Part::Kernel,
        Mark::Elsewhere => return Part::Other,
        Mark::User => {}
    }
    // Compiled components, mapped from the artifact cache: the functions of the
    // service's modules (`wasm[0]::function[74]::...`), and wasmtime's trampolines
    // (`wasm[0]::array_to_wasm_trampoline[74]`) and builtins.
    if dso.ends_with(".cwasm") {
        return if symbol.starts_with("wasm[") && symbol.contains("]::function[") {
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
            Part::Alloc
        } else {
            Part::Other
        };
    }
    // `__rustc::__rdl_alloc`, `__rustc::__rust_dealloc`: Rust's way into malloc.
    if symbol.starts_with("__rustc::") && symbol.contains("alloc") {
        return Part::Alloc;
    }
    match first_crate(symbol) {
        Some(name) if name.starts_with("wasmtime") || name.starts_with("cranelift") => {
            Part::Wasmtime
        }
        Some(
            "hyper" | "hyper_util" | "http" | "http_body" | "http_body_util" | "httparse" | "h2"
            | "bytes" | "tokio" | "tokio_util" | "mio" | "want" | "axum" | "axum_core"
            | "futures_util" | "futures_core",
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

    /// Lines of a real `perf report --sort dso,sym -q` of zato serving fresh instances
    /// (a long artifact name as the DSO, a guest function and a trampoline in it).
    const REPORT: &str = "\
    14.18%  [kernel.kallsyms]                                                                        [k] _raw_spin_unlock_irqrestore
     3.85%  libc.so.6                                                                                [.] __memmove_avx512_unaligned_erms
     2.48%  zato                                                                                     [.] wasmtime_environ::module_artifacts::CompiledFunctionsTable::func_loc
     2.37%  [kernel.kallsyms]                                                                        [k] pagemap_scan_pmd_entry
     0.62%  95f5dac9c226109de4bbe1b1eb96e58d9deecec47a6bda065b10318c3abc7d94-8d639a2a52bc2921.cwasm  [.] wasm[0]::function[74]::zato:service/service@0.2.0#handle
     0.37%  [vdso]                                                                                   [.] __vdso_clock_gettime
     0.16%  zato                                                                                     [.] zato_host::channel::http::new_cid
     0.07%  zato                                                                                     [.] __rustc::__rdl_alloc
     0.03%  95f5dac9c226109de4bbe1b1eb96e58d9deecec47a6bda065b10318c3abc7d94-8d639a2a52bc2921.cwasm  [.] wasm[0]::array_to_wasm_trampoline[201]
";

    /// The same profile's `--sort parent` report for the wake-up and memory frames,
    /// trailing spaces included.
    const PARENT: &str = "    78.85%  [other]          \n    13.74%  sock_def_readable\n     7.40%  do_pagemap_scan  \n\n";

    fn user(dso: &str, symbol: &str) -> Part {
        part(dso, Mark::User, symbol)
    }

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
            ("cranelift_bforest::path::Path<F>::find", Part::Wasmtime),
            (
                "<&mio::net::tcp::stream::TcpStream as std::io::Write>::write_vectored",
                Part::HttpStack,
            ),
            (
                "core::ptr::drop_in_place<tokio::time::timeout::Timeout<zato_host::runtime::Runtime::call::{{closure}}>>",
                Part::HttpStack,
            ),
            (
                "<axum_core::body::Body as core::convert::From<alloc::vec::Vec<u8>>>::from",
                Part::HttpStack,
            ),
            ("matchit::tree::Node<T>::at", Part::Own),
            ("core::str::converts::from_utf8", Part::Other),
            ("__rustc::__rust_dealloc", Part::Alloc),
            ("rustix::ioctl::_ioctl", Part::Other),
        ];
        for (symbol, expected) in cases {
            assert_eq!(user("zato", symbol), expected, "{symbol}");
        }
    }

    #[test]
    fn a_report_whose_kernel_samples_are_addresses_is_refused() {
        assert!(names_kernel_functions(REPORT));
        let hidden = "    14.18%  [kernel.kallsyms]  [k] 0xffffffff81a2b3c4\n     3.85%  libc.so.6  [.] __memmove_avx512_unaligned_erms\n";
        assert!(!names_kernel_functions(hidden));
    }

    #[test]
    fn samples_outside_rust_go_by_their_dso_and_mark() {
        assert_eq!(user("libc.so.6", "realloc"), Part::Alloc);
        assert_eq!(user("libc.so.6", "cfree@GLIBC_2.2.5"), Part::Alloc);
        assert_eq!(user("libc.so.6", "__GI___writev"), Part::Other);
        assert_eq!(
            part(
                "[guest.kernel.kallsyms]",
                Mark::Elsewhere,
                "native_safe_halt"
            ),
            Part::Other
        );
        let line = "     1.00%  [unknown]  [H] 0x00007f0000001234";
        assert_eq!(
            parse_line(line),
            Some((1.0, "[unknown]", Mark::Elsewhere, "0x00007f0000001234"))
        );
    }

    #[test]
    fn a_real_report_splits_by_part() {
        let parsed: Vec<_> = REPORT.lines().filter_map(parse_line).collect();
        assert_eq!(parsed.len(), 9, "{parsed:?}");
        let parts: Vec<_> = parsed
            .iter()
            .map(|&(_, dso, mark, symbol)| part(dso, mark, symbol))
            .collect();
        assert_eq!(
            parts,
            [
                Part::Kernel,
                Part::Alloc,
                Part::Wasmtime,
                Part::Kernel,
                Part::Guest,
                Part::Other,
                Part::Own,
                Part::Alloc,
                Part::Wasmtime,
            ]
        );
        // The fixture's lines add up to 24.13%; the memory parent is pagemap's 2.37%
        // here (7.40% in the whole profile, of which the fixture keeps one line).
        assert_eq!(parent_shares(PARENT), (13.74, 7.4));
        let shares = split(REPORT, 14.18, 2.37).expect("samples");
        let total = 24.13;
        let expected = [
            0.0,
            14.18 / total,
            2.37 / total,
            2.51 / total,
            0.62 / total,
            0.0,
            0.16 / total,
            3.92 / total,
            0.37 / total,
        ];
        for (got, want) in shares.iter().zip(expected) {
            assert!((got - want).abs() < 1e-9, "{shares:?}");
        }
        assert!(split("# nothing sampled\n", 0.0, 0.0).is_none());
        let (wakeups, memory) = parent_shares("   100.00%  [other]\n");
        assert!(wakeups == 0.0 && memory == 0.0 && memory.is_sign_positive());
    }
}
