//! `zato deploy FILE.wasm...`: upload components and wait until every server runs them.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Args;
use serde::Serialize;
use zato_api::{AdminClient, DeployOutcome, ServerState};

use crate::client::Target;
use crate::exit::{CliError, CliResult, ExitCode};
use crate::output::{Output, bytes, table};

/// Deploy WebAssembly services (built with zato-sdk for wasm32-wasip2, or for
/// wasm32-unknown-unknown: a lean build, wrapped into a component by the server).
///
/// Exits 0 once every live server runs the new version, 1 if the server refused a
/// component (the running version keeps serving), 3 if no server could be reached and
/// 4 if some server did not run the new version within --timeout.
#[derive(Debug, Args)]
pub struct Deploy {
    /// The .wasm files to deploy.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    #[command(flatten)]
    target: Target,
    /// Seconds to wait for every server to run the new version.
    #[arg(long, default_value_t = 60)]
    timeout: u64,
}

#[derive(Debug, Serialize)]
struct Deployed {
    file: PathBuf,
    #[serde(flatten)]
    outcome: DeployOutcome,
    /// Server name -> version it runs.
    servers: BTreeMap<String, i64>,
}

impl Deploy {
    pub async fn run(self, out: &Output) -> CliResult {
        let client = self.target.connect()?;
        let mut results = Vec::new();
        if let Err(e) = self.deploy_each(&client, out, &mut results).await {
            // With --json, the one document on stdout says what was deployed before.
            if results.is_empty() {
                return Err(e);
            }
            let mut details = serde_json::Map::new();
            details.insert(
                "deployed".into(),
                serde_json::to_value(&results).expect("results serialise"),
            );
            return Err(e.with_details(details));
        }
        if out.json {
            out.print(&results, String::new);
        }
        Ok(())
    }

    async fn deploy_each(
        &self,
        client: &AdminClient,
        out: &Output,
        results: &mut Vec<Deployed>,
    ) -> CliResult {
        for file in &self.files {
            let data = std::fs::read(file).map_err(|e| {
                CliError::new(
                    ExitCode::Failed,
                    format!("cannot read `{}`: {e}", file.display()),
                )
            })?;
            let label = file
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            let spinner = out.spinner(format!("deploying {label} ({})", bytes(data.len() as i64)));
            let outcome = match client.deploy(data, &label).await {
                Ok(outcome) => outcome,
                Err(e) => {
                    let e = CliError::from(e);
                    if let Some(s) = spinner {
                        s.finish_and_clear();
                    }
                    return Err(CliError::new(
                        e.code,
                        format!("`{}` not deployed: {}", file.display(), e.message),
                    ));
                }
            };
            let waited = wait_for_servers(
                client,
                &outcome,
                Duration::from_secs(self.timeout),
                spinner.as_ref(),
            )
            .await;
            if let Some(s) = spinner {
                s.finish_and_clear();
            }
            let servers = waited?;
            if !out.json {
                let verb = if outcome.unchanged {
                    "unchanged"
                } else {
                    "deployed"
                };
                println!(
                    "{verb}: `{}` version {} from {} in {} ms",
                    outcome.name,
                    outcome.version,
                    file.display(),
                    outcome.elapsed_ms,
                );
                let rows: Vec<Vec<String>> = servers
                    .iter()
                    .map(|(server, version)| vec![format!("  {server}"), version.to_string()])
                    .collect();
                println!("{}", table(&["  SERVER", "RUNS VERSION"], &rows));
            }
            results.push(Deployed {
                file: file.clone(),
                outcome,
                servers,
            });
        }
        Ok(())
    }
}

/// Polls the servers' reported versions until every live one runs `outcome.version`.
async fn wait_for_servers(
    client: &AdminClient,
    outcome: &DeployOutcome,
    timeout: Duration,
    progress: Option<&indicatif::ProgressBar>,
) -> CliResult<BTreeMap<String, i64>> {
    let started = Instant::now();
    loop {
        let servers = client.servers().await?;
        // The server reports dead ones as `gone` and stopped ones as `stopped`.
        let live: Vec<_> = servers
            .iter()
            .filter(|s| s.state == ServerState::Running)
            .collect();
        let lagging: Vec<&str> = live
            .iter()
            .filter(|s| {
                s.services
                    .get(&outcome.name)
                    .is_none_or(|v| *v < outcome.version)
            })
            .map(|s| s.name.as_str())
            .collect();
        if let Some(bar) = progress {
            bar.set_message(format!(
                "`{}` version {}: {}/{} servers run it",
                outcome.name,
                outcome.version,
                live.len() - lagging.len(),
                live.len()
            ));
        }
        if lagging.is_empty() {
            return Ok(live
                .iter()
                .map(|s| {
                    (
                        s.name.clone(),
                        s.services.get(&outcome.name).copied().unwrap_or_default(),
                    )
                })
                .collect());
        }
        if started.elapsed() > timeout {
            return Err(CliError::new(
                ExitCode::Timeout,
                format!(
                    "`{}` version {} is stored, but these servers did not run it within {timeout:?}: {}",
                    outcome.name,
                    outcome.version,
                    lagging.join(", ")
                ),
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
