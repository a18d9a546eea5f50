//! The load generator: wrk, from Debian's packages.
//!
//! Why wrk: it is a small C program with an event loop per thread, so it spends far
//! less CPU per request than the servers it loads (the load generator shares this
//! machine with them), it keeps connections alive, its `--latency` report gives
//! percentiles computed from every request (an HDR histogram, not a sample), and Debian
//! ships it (`apt-get install -y wrk`), so nothing is built or downloaded from elsewhere.
//! It is a closed-loop generator: latencies are those seen by N clients that each wait
//! for their answer, not those of an open arrival rate.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context as _, bail};

use crate::process;

/// What wrk is asked to do.
pub struct Load<'a> {
    pub url: &'a str,
    pub connections: u32,
    pub duration: Duration,
    /// A Lua script setting the method, body and headers; GET without one.
    pub script: Option<&'a Path>,
    /// CPU to pin wrk to; wrk then runs one thread.
    pub cpu: Option<usize>,
    /// Cores wrk may spread its threads over when not pinned.
    pub cores: usize,
}

/// What wrk measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub requests: u64,
    /// Answers whose status was not 2xx or 3xx.
    pub non_2xx: u64,
    /// Connect, read, write errors and timeouts.
    pub socket_errors: u64,
}

impl Outcome {
    /// Fails unless wrk counted requests and every one was answered 2xx/3xx without a
    /// socket error; `what` names the run in the message.
    pub fn require_clean(&self, what: &str) -> anyhow::Result<()> {
        if self.requests == 0 || self.non_2xx > 0 || self.socket_errors > 0 {
            bail!(
                "{what}: {} requests, {} answers not 2xx, {} socket errors",
                self.requests,
                self.non_2xx,
                self.socket_errors
            );
        }
        Ok(())
    }
}

/// Path to wrk, installing Debian's package when it is missing and we are root.
pub fn ensure_installed() -> anyhow::Result<PathBuf> {
    if let Some(path) = process::which("wrk") {
        return Ok(path);
    }
    let root = process::run("id", std::process::Command::new("id").arg("-u"))
        .map(|uid| uid.trim() == "0")
        .unwrap_or(false);
    if root {
        eprintln!("[bench] wrk is missing: installing Debian's package (apt-get install -y wrk)");
        let installed = std::process::Command::new("apt-get")
            .args(["install", "-y", "-qq", "wrk"])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if installed && let Some(path) = process::which("wrk") {
            return Ok(path);
        }
    }
    bail!(
        "wrk (the load generator) is missing: install it with `sudo apt-get install -y wrk` \
         (after `sudo apt-get update` on a fresh machine)"
    )
}

/// Runs wrk and parses its report.
pub async fn run(wrk: &Path, load: &Load<'_>) -> anyhow::Result<Outcome> {
    let threads = match load.cpu {
        Some(_) => 1,
        None => load.cores.min(load.connections as usize).max(1),
    };
    let mut cmd = process::command(wrk, load.cpu);
    cmd.arg("-t")
        .arg(threads.to_string())
        .arg("-c")
        .arg(load.connections.to_string())
        .arg("-d")
        .arg(format!("{}s", load.duration.as_secs().max(1)))
        .arg("--latency");
    if let Some(script) = load.script {
        cmd.arg("-s").arg(script);
    }
    cmd.arg(load.url);
    let output = tokio::process::Command::from(cmd)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .context("cannot run wrk")?;
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!(
            "wrk failed ({}): {}{text}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    parse(&text).with_context(|| format!("cannot read wrk's report:\n{text}"))
}

/// Reads requests/s, p50 and p99 (from `--latency`) and error counts from wrk's report.
pub fn parse(report: &str) -> anyhow::Result<Outcome> {
    let mut rps = None;
    let mut p50 = None;
    let mut p99 = None;
    let mut requests = None;
    let mut non_2xx = 0;
    let mut socket_errors = 0;
    for line in report.lines().map(str::trim) {
        if let Some(v) = line.strip_prefix("Requests/sec:") {
            rps = v.trim().parse::<f64>().ok();
        } else if let Some(v) = line.strip_prefix("50%") {
            p50 = duration_ms(v.trim());
        } else if let Some(v) = line.strip_prefix("99%") {
            p99 = duration_ms(v.trim());
        } else if let Some(v) = line.strip_prefix("Non-2xx or 3xx responses:") {
            non_2xx = v.trim().parse().unwrap_or(0);
        } else if let Some(v) = line.strip_prefix("Socket errors:") {
            socket_errors = v
                .split(',')
                .filter_map(|part| part.split_whitespace().last()?.parse::<u64>().ok())
                .sum();
        } else if line.contains(" requests in ") {
            requests = line.split_whitespace().next().and_then(|n| n.parse().ok());
        }
    }
    Ok(Outcome {
        rps: rps.context("no `Requests/sec` line")?,
        p50_ms: p50.context("no 50% latency line (was --latency given?)")?,
        p99_ms: p99.context("no 99% latency line")?,
        requests: requests.context("no request count")?,
        non_2xx,
        socket_errors,
    })
}

/// `583.00us`, `1.20ms`, `2.00s`, `1.50m` as milliseconds.
fn duration_ms(text: &str) -> Option<f64> {
    let split = text.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = text.split_at(split);
    let value: f64 = number.parse().ok()?;
    match unit {
        "us" => Some(value / 1000.0),
        "ms" => Some(value),
        "s" => Some(value * 1000.0),
        "m" => Some(value * 60_000.0),
        "h" => Some(value * 3_600_000.0),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPORT: &str = "Running 10s test @ http://127.0.0.1:8080/hello
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   605.15us  200.00us   5.00ms   80.00%
    Req/Sec   100.00k     5.00k  110.00k    70.00%
  Latency Distribution
     50%  583.00us
     75%  650.00us
     90%  750.00us
     99%    1.20ms
  1000000 requests in 10.00s, 100.00MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 5
Requests/sec: 100000.50
Transfer/sec:     10.00MB
";

    #[test]
    fn a_latency_report_is_read() {
        let outcome = parse(REPORT).unwrap();
        assert_eq!(
            outcome,
            Outcome {
                rps: 100000.5,
                p50_ms: 0.583,
                p99_ms: 1.2,
                requests: 1_000_000,
                non_2xx: 5,
                socket_errors: 3,
            }
        );
    }

    #[test]
    fn a_report_without_latency_distribution_is_refused() {
        assert!(parse("Requests/sec: 5\n").is_err());
    }

    #[test]
    fn units_are_converted() {
        assert_eq!(duration_ms("2.00s"), Some(2000.0));
        assert_eq!(duration_ms("1.5m"), Some(90_000.0));
        assert_eq!(duration_ms("12"), None);
    }
}
