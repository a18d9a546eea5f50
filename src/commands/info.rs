//! `zato info [DIR]`: the servers of an environment and the versions they run.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::Args;
use serde::{Deserialize, Serialize};

use crate::client::{Client, Target};
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

#[derive(Debug, Serialize, Deserialize)]
struct ServerEntry {
    name: String,
    address: String,
    state: String,
    pid: i64,
    started_at: i64,
    last_seen: i64,
    services: BTreeMap<String, i64>,
}

impl Info {
    pub async fn run(mut self, out: &Output) -> CliResult {
        if self.dir.is_some() {
            self.target.env = self.dir.take();
        }
        let client = Client::from_target(&self.target)?;
        let servers: Vec<ServerEntry> = client.get("/zato/api/servers").await?;
        out.print(&servers, || {
            let now = zato_host::odb::now_ms();
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
                        s.state.clone(),
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
