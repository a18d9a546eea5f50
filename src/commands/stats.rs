//! `zato stats ...`: usage statistics of services, their last call and slow calls.

use clap::{Args, Subcommand};
use zato_api::stats::parse_span;
use zato_api::{CallSample, ServiceStats, StatsOrder};

use crate::client::Target;
use crate::exit::{CliError, CliResult, ExitCode};
use crate::output::{Output, table};

/// Usage statistics of services: calls, errors and durations (mean, p50, p95, p99),
/// over their whole history or the last span of time, for the whole cluster.
///
/// Every server writes what it counted to the KVDB about once a second
/// (`[stats] flush_interval_ms`), so the latest second may be missing.
///
/// Examples:
///     zato stats service demo.hello --last 1h
///     zato stats top --by mean --last 1d
///     zato stats slow demo.hello
///     zato stats sample demo.hello --json
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct Stats {
    #[command(subcommand)]
    command: StatsCommand,
}

#[derive(Debug, Subcommand)]
enum StatsCommand {
    /// A service's calls, errors, timeouts and durations.
    ///
    /// With --json: {"service", "from_ms", "to_ms", "count", "errors", "timeouts",
    /// "min_ms", "max_ms", "mean_ms", "p50_ms", "p95_ms", "p99_ms"} (durations are
    /// null without calls).
    Service {
        /// The service's name.
        name: String,
        /// Only the last span: 30m, 1h, 7d, 2w (the whole history when absent).
        #[arg(long, value_parser = span)]
        last: Option<String>,
        #[command(flatten)]
        target: Target,
    },
    /// The services with the most calls, the most errors or the longest mean duration.
    Top {
        /// What to order by.
        #[arg(long, default_value = "count", value_parser = order)]
        by: StatsOrder,
        /// Only the last span: 30m, 1h, 7d, 2w (the whole history when absent).
        #[arg(long, value_parser = span)]
        last: Option<String>,
        /// How many services: 1 to 1000.
        #[arg(long, default_value_t = 10)]
        limit: usize,
        #[command(flatten)]
        target: Target,
    },
    /// A service's slowest calls over its threshold (at most 100), slowest first.
    Slow {
        /// The service's name.
        name: String,
        #[command(flatten)]
        target: Target,
    },
    /// A service's last call: request and response, headers with credentials left out.
    Sample {
        /// The service's name.
        name: String,
        #[command(flatten)]
        target: Target,
    },
}

fn span(s: &str) -> Result<String, String> {
    parse_span(s).map(|_| s.to_owned())
}

fn order(s: &str) -> Result<StatsOrder, String> {
    s.parse()
}

fn ms(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| format!("{v:.3}"))
}

fn stats_rows(stats: &[ServiceStats]) -> Vec<Vec<String>> {
    stats
        .iter()
        .map(|s| {
            vec![
                s.service.clone(),
                s.count.to_string(),
                s.errors.to_string(),
                s.timeouts.to_string(),
                ms(s.mean_ms),
                ms(s.p50_ms),
                ms(s.p95_ms),
                ms(s.p99_ms),
                ms(s.max_ms),
            ]
        })
        .collect()
}

const HEADER: [&str; 9] = [
    "SERVICE", "CALLS", "ERRORS", "TIMEOUTS", "MEAN MS", "P50 MS", "P95 MS", "P99 MS", "MAX MS",
];

fn when(at_ms: u64) -> String {
    chrono::DateTime::from_timestamp_millis(i64::try_from(at_ms).unwrap_or(i64::MAX)).map_or_else(
        || at_ms.to_string(),
        |t| t.format("%Y-%m-%d %H:%M:%S%.3f UTC").to_string(),
    )
}

fn samples_table(samples: &[CallSample]) -> String {
    if samples.is_empty() {
        return "no slow calls recorded".to_owned();
    }
    let rows: Vec<Vec<String>> = samples
        .iter()
        .map(|s| {
            vec![
                format!("{:.3}", s.duration_ms),
                when(s.at_ms),
                s.server.clone(),
                format!("{} {}", s.channel, s.channel_name),
                s.status.to_string(),
                s.cid.clone(),
            ]
        })
        .collect();
    table(
        &["MS", "STARTED", "SERVER", "CHANNEL", "STATUS", "CID"],
        &rows,
    )
}

fn sample_text(s: &CallSample) -> String {
    let headers = |headers: &[zato_api::Header]| {
        headers
            .iter()
            .map(|h| format!("  {}: {}\n", h.name, h.value))
            .collect::<String>()
    };
    let cut = |truncated: bool| if truncated { " (cut)" } else { "" };
    let mut text = format!(
        "cid {}, {} on {} through {} {}, {:.3} ms, status {}\n",
        s.cid,
        when(s.at_ms),
        s.server,
        s.channel,
        s.channel_name,
        s.duration_ms,
        s.status
    );
    if let Some(error) = &s.error {
        text.push_str(&format!("error: {error}\n"));
    }
    if s.private {
        text.push_str("payloads not kept: the service's configuration keeps them private\n");
    }
    text.push_str(&format!(
        "request{}:\n{}{}\nresponse{}:\n{}{}",
        cut(s.request_truncated),
        headers(&s.request_headers),
        s.request,
        cut(s.response_truncated),
        headers(&s.response_headers),
        s.response
    ));
    text
}

impl Stats {
    pub async fn run(self, out: &Output) -> CliResult {
        match self.command {
            StatsCommand::Service { name, last, target } => {
                let stats = target
                    .connect()?
                    .service_stats(&name, last.as_deref())
                    .await?;
                out.print(&stats, || {
                    let span = match &last {
                        Some(last) => format!("over the last {last}"),
                        None => format!("since {}", when(stats.from_ms as u64)),
                    };
                    format!(
                        "{}\n\n{span}",
                        table(&HEADER, &stats_rows(std::slice::from_ref(&stats)))
                    )
                });
                Ok(())
            }
            StatsCommand::Top {
                by,
                last,
                limit,
                target,
            } => {
                if !(1..=1000).contains(&limit) {
                    return Err(CliError::new(
                        ExitCode::Usage,
                        format!("--limit {limit} is out of range: 1 to 1000"),
                    ));
                }
                let top = target
                    .connect()?
                    .stats_top(by, last.as_deref(), limit)
                    .await?;
                out.print(&top, || {
                    if top.services.is_empty() {
                        "no calls recorded".to_owned()
                    } else {
                        table(&HEADER, &stats_rows(&top.services))
                    }
                });
                Ok(())
            }
            StatsCommand::Slow { name, target } => {
                let slow = target.connect()?.service_slow(&name).await?;
                out.print(&slow, || samples_table(&slow));
                Ok(())
            }
            StatsCommand::Sample { name, target } => {
                let sample = target.connect()?.service_sample(&name).await?;
                out.print(&sample, || sample_text(&sample));
                Ok(())
            }
        }
    }
}
