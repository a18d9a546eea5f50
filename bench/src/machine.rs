//! The machine a run measured: printed with every table, because figures mean nothing
//! without it.

use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    /// Logical CPUs listed in `/proc/cpuinfo`.
    pub cores: usize,
    /// CPUs this process may run on (fewer under a cgroup or affinity limit).
    pub usable_cores: usize,
    pub cpu_model: String,
    pub memory_gib: f64,
    pub kernel: String,
}

impl Machine {
    pub fn read() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cores = cpuinfo
            .lines()
            .filter(|l| l.starts_with("processor"))
            .count();
        let cpu_model = cpuinfo
            .lines()
            .find_map(|l| {
                l.strip_prefix("model name")
                    .and_then(|rest| rest.split_once(':'))
                    .map(|(_, v)| v.trim().to_owned())
            })
            .unwrap_or_else(|| "unknown CPU".into());
        let memory_gib = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|m| {
                m.lines().find_map(|l| {
                    l.strip_prefix("MemTotal:")?
                        .trim()
                        .trim_end_matches("kB")
                        .trim()
                        .parse::<f64>()
                        .ok()
                })
            })
            .map(|kib| kib / (1024.0 * 1024.0))
            .unwrap_or(0.0);
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| s.trim().to_owned())
            .unwrap_or_default();
        let usable_cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self {
            cores: cores.max(1),
            usable_cores,
            cpu_model,
            memory_gib,
            kernel,
        }
    }
}

impl std::fmt::Display for Machine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} cores ({}), {:.1} GiB, Linux {}",
            self.cores, self.cpu_model, self.memory_gib, self.kernel
        )?;
        if self.usable_cores != self.cores {
            write!(f, ", {} usable by this process", self.usable_cores)?;
        }
        Ok(())
    }
}
