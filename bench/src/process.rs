//! Child processes in guards: whatever the benchmark starts is stopped when its guard
//! is dropped, on success, on error and on Ctrl-C alike.
//!
//! Every child gets a clean environment for measuring: no `RUST_BACKTRACE` (with it,
//! every trap and every store drop captures a backtrace, which distorts the figures) and
//! no `ZATO_*` overrides from the caller's shell.

use std::ffi::OsString;
use std::fs::File;
use std::io::{BufRead as _, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

/// How long a child gets to stop after SIGTERM before it is killed.
const GRACE: Duration = Duration::from_secs(10);

/// A command for `program` with the measuring environment, pinned to `cpu` when given
/// (with `taskset`, which execs the program, so the pid stays the program's).
pub fn command(program: &Path, cpu: Option<usize>) -> Command {
    let mut cmd = match cpu {
        Some(cpu) => {
            let mut cmd = Command::new("taskset");
            cmd.arg("-c").arg(cpu.to_string()).arg(program);
            cmd
        }
        None => Command::new(program),
    };
    clean_env(&mut cmd);
    cmd
}

/// As [`command`], with `program` run by `wrapper` (a program and its arguments, such as
/// valgrind's) when it is not empty; the wrapper is what gets pinned.
pub fn command_under(wrapper: &[OsString], program: &Path, cpu: Option<usize>) -> Command {
    match wrapper.split_first() {
        Some((tool, args)) => {
            let mut cmd = command(Path::new(tool), cpu);
            cmd.args(args).arg(program);
            cmd
        }
        None => command(program, cpu),
    }
}

/// Removes what would distort a measurement or redirect a server from `cmd`'s env.
pub fn clean_env(cmd: &mut Command) {
    cmd.env_remove("RUST_BACKTRACE")
        .env_remove("RUST_LIB_BACKTRACE");
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("ZATO_") {
            cmd.env_remove(key);
        }
    }
}

/// A running child process, stopped (SIGTERM, then SIGKILL) when dropped.
pub struct Proc {
    name: String,
    child: Child,
    log: PathBuf,
    stopped: bool,
}

impl Proc {
    /// Starts `cmd` with stderr (and stdout unless `pipe_stdout`) going to
    /// `logs/NAME.log`.
    pub fn spawn(
        name: &str,
        mut cmd: Command,
        logs: &Path,
        pipe_stdout: bool,
    ) -> anyhow::Result<Self> {
        let log = logs.join(format!("{}.log", name.replace([' ', '/'], "-")));
        let file =
            File::create(&log).with_context(|| format!("cannot create `{}`", log.display()))?;
        cmd.stdin(Stdio::null())
            .stderr(file.try_clone()?)
            .stdout(if pipe_stdout {
                Stdio::piped()
            } else {
                Stdio::from(file)
            });
        let child = cmd
            .spawn()
            .with_context(|| format!("cannot start {name} ({cmd:?})"))?;
        Ok(Self {
            name: name.to_owned(),
            child,
            log,
            stopped: false,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The first line the child prints on stdout (spawned with `pipe_stdout`).
    pub fn first_line(&mut self) -> anyhow::Result<String> {
        let stdout = self.child.stdout.take().context("stdout was not piped")?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        if line.trim().is_empty() {
            bail!("{} printed nothing{}", self.name, self.log_tail());
        }
        Ok(line.trim().to_owned())
    }

    /// Fails with the end of the child's log if it has exited.
    pub fn check_running(&mut self) -> anyhow::Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!("{} exited ({status}){}", self.name, self.log_tail());
        }
        Ok(())
    }

    /// Resident memory, in bytes.
    pub fn rss(&self) -> Option<u64> {
        rss_of(self.pid())
    }

    /// Stops the child: SIGTERM (servers finish what is in flight), then SIGKILL.
    pub fn stop(mut self) {
        self.terminate();
    }

    fn terminate(&mut self) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return;
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .stderr(Stdio::null())
            .status();
        let started = Instant::now();
        while started.elapsed() < GRACE {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        eprintln!("[bench] {} did not stop on SIGTERM; killing it", self.name);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The last lines of the log, to explain a failure.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(15)..].join("\n");
        format!("; end of {}:\n{tail}", self.log.display())
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.terminate();
    }
}

/// Resident memory of process `pid`, in bytes (`VmRSS` in `/proc/PID/status`).
pub fn rss_of(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|l| {
        let kib: u64 = l
            .strip_prefix("VmRSS:")?
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()?;
        Some(kib * 1024)
    })
}

/// CPU time (user + system, every thread) a process has used so far, from
/// `/proc/PID/stat`, whose clock ticks are USER_HZ = 100 per second on Linux (10 ms
/// resolution: over a 10 s run, well under 1% of the figure).
pub fn cpu_time_of(pid: u32) -> Option<std::time::Duration> {
    cpu_time_in(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// utime + stime of a `/proc/PID/stat` line.
fn cpu_time_in(stat: &str) -> Option<std::time::Duration> {
    // The command name (field 2) is in parentheses and may contain spaces and `)`.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Fields 14 and 15 of the file: utime and stime; `rest` starts at field 3.
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(std::time::Duration::from_millis(ticks * 10))
}

/// `n` consecutive free ports on 127.0.0.1 (free when checked; the servers bind them
/// moments later, so another process may take one in between). Only for a server that
/// cannot report a port the system picked, such as `wasmtime serve`: zato binds port 0
/// and writes the address it got (see `zato::Env`).
pub fn free_ports(n: u16) -> anyhow::Result<u16> {
    for _ in 0..50 {
        let first = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        if u32::from(first) + u32::from(n) > u32::from(u16::MAX) {
            continue;
        }
        let all_free = (1..n)
            .all(|i| TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], first + i))).is_ok());
        if all_free {
            return Ok(first);
        }
    }
    bail!("cannot find {n} consecutive free ports on 127.0.0.1")
}

/// Finds `program` on the `PATH`.
pub fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

/// Runs `cmd` to completion, failing with its output when it fails.
pub fn run(what: &str, cmd: &mut Command) -> anyhow::Result<String> {
    let output = cmd
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot run {what} ({cmd:?})"))?;
    if !output.status.success() {
        bail!(
            "{what} failed ({}): {}{}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim(),
            String::from_utf8_lossy(&output.stdout).trim()
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn cpu_time_is_utime_plus_stime_whatever_the_command_name() {
        // Fields 1-17 of a real line; utime = 731 and stime = 269 ticks.
        let stat = "4242 (tokio (rt) x) S 1 4242 4242 0 -1 4194560 2290 0 0 0 731 269 0 0 20";
        assert_eq!(cpu_time_in(stat), Some(Duration::from_millis(10_000)));
        assert_eq!(cpu_time_in("4242 (zato) S 1 2"), None);
    }

    #[test]
    fn a_live_process_has_a_cpu_time_and_a_missing_one_none() {
        assert!(cpu_time_of(std::process::id()).is_some());
        // Linux pids stop at 2^22.
        assert_eq!(cpu_time_of(u32::MAX), None);
    }
}
