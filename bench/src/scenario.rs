//! The scenarios, one module each, and what they share.
//!
//! - [`http`]: 1. HTTP throughput and latency against plain hyper and `wasmtime serve`,
//!   and 5. the servers' resident memory under that load;
//! - [`sandbox`]: 2. instantiate + call + drop of a service, pooling vs on-demand;
//! - [`deploy`]: 3. hot deploy, from accepted to answering, on one server and on three;
//! - [`scale`]: 4. a server starting with many services, and its memory per service;
//! - [`instructions`]: 6. (when asked for) instructions per HTTP request under callgrind;
//! - [`guessing`]: 7. demo.hello's latency while guessers try admin passwords;
//! - [`lb`]: 8. (when asked for) zato-lb against HAProxy, and failover;
//! - [`web_admin`]: 9. the web admin's pages, on scenario 4's server with N services;
//! - [`scheduler`]: 10. the scheduler's firing delay and the singleton's takeover.
//! - [`sql`]: 11. a service running one SQL query against sqlx running it directly;
//! - [`http_out`]: 12. a service making one outgoing HTTP call against hyper making it.
//! - [`amqp`]: 13. AMQP messages consumed through a channel calling demo.hello against a
//!   plain lapin consumer.
//! - [`async_invoke`]: 14. asynchronous invokes per second (queued, run, acknowledged)
//!   against synchronous invokes of the same service.

pub mod amqp;
pub mod async_invoke;
pub mod deploy;
pub mod guessing;
pub mod http;
pub mod http_out;
pub mod instructions;
pub mod lb;
pub mod new_project;
pub mod sandbox;
pub mod scale;
pub mod scheduler;
pub mod security;
pub mod sql;
pub mod stats;
pub mod web_admin;

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::prepare::Artifacts;
use crate::report::{Row, ms, thousands};

/// How much to measure; `--quick` shrinks every figure.
#[derive(Debug, Clone)]
pub struct Plan {
    pub quick: bool,
    /// Rounds of the HTTP scenario; each round runs every target once, in turn.
    pub rounds: u32,
    /// Measured time of one HTTP run.
    pub duration: Duration,
    /// Unmeasured load before each HTTP run.
    pub warmup: Duration,
    /// Connection counts of the HTTP scenario.
    pub connections: Vec<u32>,
    /// Timed calls per configuration in the sandbox scenario.
    pub calls: usize,
    /// Deploys timed per case in the deploy scenario.
    pub deploys: usize,
    /// Services of the scale scenario.
    pub services: usize,
    /// Where servers and wrk run, when pinned.
    pub pin: Option<Pin>,
    pub cores: usize,
    /// Redis of the cluster in the deploy scenario.
    pub redis: String,
    /// PostgreSQL server on which the cluster's ODB is created (SQLite when unreachable).
    pub postgres: String,
}

/// Servers on one CPU, the load generator on another, so that each server gets the
/// same CPU whatever the load generator needs to load it.
#[derive(Debug, Clone, Copy)]
pub struct Pin {
    pub server: usize,
    pub load: usize,
}

/// What every scenario gets.
pub struct Ctx<'a> {
    pub plan: &'a Plan,
    pub artifacts: &'a Artifacts,
    /// A fresh directory for environments, caches and scripts.
    pub work: &'a Path,
    /// Where each started process writes its output.
    pub logs: PathBuf,
    /// wrk, when a scenario that needs it runs.
    pub wrk: Option<PathBuf>,
}

/// The rows of targets each loaded in several rounds (`runs[t]`, one outcome a round),
/// the first the baseline: the median requests/s, p50 and p99 of each, and its ratio of
/// requests/s to the baseline's.
pub fn ratio_rows(
    scenario: &'static str,
    labels: &[&str],
    runs: &[Vec<crate::wrk::Outcome>],
) -> Vec<Row> {
    let median_of = |t: usize, f: fn(&crate::wrk::Outcome) -> f64| {
        crate::stats::median(&runs[t].iter().map(f).collect::<Vec<_>>())
    };
    let baseline_rps = median_of(0, |o| o.rps);
    labels
        .iter()
        .enumerate()
        .map(|(t, label)| {
            let (rps, p50, p99) = (
                median_of(t, |o| o.rps),
                median_of(t, |o| o.p50_ms),
                median_of(t, |o| o.p99_ms),
            );
            let ratio = (t > 0).then(|| rps / baseline_rps);
            // Each round's ratio to the baseline's run of the same round, whose
            // neighbour it was: a drift of the machine's speed over the run moves both.
            let paired = (t > 0).then(|| {
                let per_round: Vec<f64> = runs[t]
                    .iter()
                    .zip(&runs[0])
                    .map(|(o, base)| o.rps / base.rps)
                    .collect();
                crate::stats::median(&per_round)
            });
            let mut row = Row::new(scenario, *label);
            row.rps = Some(rps);
            row.p50_ms = Some(p50);
            row.p99_ms = Some(p99);
            row.ratio_to_baseline = ratio;
            let rounds: Vec<f64> = runs[t].iter().map(|o| o.rps).collect();
            let row = row.extra("rounds_rps", rounds);
            let row = match paired {
                Some(p) => row.extra("paired_ratio", p),
                None => row,
            };
            row.cells(vec![
                label.to_string(),
                thousands(rps),
                ms(p50),
                ms(p99),
                ratio.map_or("1.00 (baseline)".into(), |r| format!("{r:.3}")),
                paired.map_or("1.00 (baseline)".into(), |r| format!("{r:.3}")),
            ])
        })
        .collect()
}

/// The columns of the rows [`ratio_rows`] makes.
pub const RATIO_COLUMNS: [&str; 6] = [
    "target",
    "requests/s",
    "p50",
    "p99",
    "ratio (requests/s)",
    "paired ratio (median of rounds)",
];

/// Connections wrk keeps open in the HTTP scenario's main rows, and in scenario 6.
pub const CONNECTIONS: u32 = 64;

impl Ctx<'_> {
    /// wrk's load on `url` as the HTTP scenario's main rows apply it ([`CONNECTIONS`],
    /// pinned as the plan says), for scenario 6.
    pub fn main_load<'u>(
        &self,
        url: &'u str,
        script: Option<&'u Path>,
        duration: Duration,
    ) -> crate::wrk::Load<'u> {
        crate::wrk::Load {
            url,
            connections: CONNECTIONS,
            duration,
            script,
            cpu: self.load_cpu(),
            cores: self.plan.cores,
        }
    }

    pub fn server_cpu(&self) -> Option<usize> {
        self.plan.pin.map(|p| p.server)
    }
    pub fn load_cpu(&self) -> Option<usize> {
        self.plan.pin.map(|p| p.load)
    }
}
