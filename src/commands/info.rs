//! `zato info [DIR]`: the servers of an environment and the versions they run.

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::Args;

use crate::client::Target;
use crate::exit::CliResult;
use crate::output::{Output, table};

/// Show each server, its state and the versions of the services it runs.
#[derive(Debug, Args)]
pub struct Info {
    /// Environment directory (same as --env).
    dir: Option<PathBuf>,
    #[command(flatten)]
    target: Target,
}

impl Info {
    pub async fn run(mut self, out: &Output) -> CliResult {
        if self.dir.is_some() {
            self.target.env = self.dir.take();
        }
        let servers = self.target.connect()?.servers().await?;
        out.print(&servers, || {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as i64);
            let rows: Vec<Vec<String>> = servers
                .iter()
                .map(|s| {
                    let services = s
                        .services
                        .iter()
                        .map(|(name, v)| format!("{name}@{v}"))
                        .collect::<Vec<_>>()
                        .join(" ");
                    let seen = format!("{}s ago", (now - s.last_seen).max(0) / 1000);
                    vec![
                        s.name.clone(),
                        s.address.clone(),
                        s.state.to_string(),
                        s.pid.to_string(),
                        seen,
                        services,
                    ]
                })
                .collect();
            table(
                &["SERVER", "ADDRESS", "STATE", "PID", "LAST SEEN", "SERVICES"],
                &rows,
            )
        });
        Ok(())
    }
}
