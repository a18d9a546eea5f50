//! `zato service ...`: list, invoke, delete and configure deployed services, list their
//! kept versions and roll back to one.

use std::collections::BTreeMap;
use std::io::IsTerminal as _;

use clap::{Args, Subcommand};
use zato_api::AdminClient;

use crate::client::Target;
use crate::exit::{CliError, CliResult, ExitCode};
use crate::output::{Output, bytes, table};

/// Work with deployed services.
#[derive(Debug, Args)]
pub struct Service {
    #[command(subcommand)]
    command: ServiceCommand,
}

#[derive(Debug, Subcommand)]
enum ServiceCommand {
    /// List deployed services with their versions.
    List {
        #[command(flatten)]
        target: Target,
    },
    /// Invoke a service and print its response (exit 1 on an error status).
    Invoke {
        /// Service name, e.g. demo.hello.
        name: String,
        /// Request payload: the text itself, `@FILE` to read a file, or `-` for stdin.
        #[arg(long, short, default_value = "")]
        data: String,
        /// Payload format: json, xml or raw.
        #[arg(long, default_value = "json")]
        data_format: String,
        /// Timeout in milliseconds (the server's default when absent).
        #[arg(long, conflicts_with = "run_async")]
        timeout_ms: Option<u64>,
        /// Queue the call and print its cid at once: it runs on any server, at least
        /// once (`GET /zato/api/async/{cid}` says where it stands).
        #[arg(long = "async")]
        run_async: bool,
        /// With --async: the service invoked with the call's outcome once it ended.
        #[arg(long, requires = "run_async")]
        callback: Option<String>,
        #[command(flatten)]
        target: Target,
    },
    /// Delete a service from every server.
    Delete {
        name: String,
        #[command(flatten)]
        target: Target,
    },
    /// List the kept versions of a service, newest first, with the servers running each
    /// (the server keeps the newest `deploy.keep_versions`, 10 by default).
    Versions {
        /// Service name, e.g. demo.hello.
        name: String,
        #[command(flatten)]
        target: Target,
    },
    /// Deploy a kept version of a service again, as its next version.
    Rollback {
        /// Service name, e.g. demo.hello.
        name: String,
        /// The kept version to go back to (see `zato service versions NAME`).
        #[arg(long)]
        to_version: i64,
        #[command(flatten)]
        target: Target,
    },
    /// Show a service's configuration, or change it with --set / --unset (running
    /// servers see the change at once).
    Config {
        /// Service name, e.g. demo.hello; it must be deployed, unless --ahead.
        name: String,
        /// Set KEY=VALUE (repeatable).
        #[arg(long, value_name = "KEY=VALUE")]
        set: Vec<String>,
        /// Remove KEY (repeatable).
        #[arg(long, value_name = "KEY")]
        unset: Vec<String>,
        /// Configure a service that is not deployed yet, ahead of its first deploy.
        #[arg(long)]
        ahead: bool,
        #[command(flatten)]
        target: Target,
    },
}

impl Service {
    pub async fn run(self, out: &Output) -> CliResult {
        match self.command {
            ServiceCommand::List { target } => list(&target.connect()?, out).await,
            ServiceCommand::Invoke {
                name,
                data,
                data_format,
                // Refused by clap with --async.
                timeout_ms: _,
                run_async: true,
                callback,
                target,
            } => {
                invoke_async(
                    &target.connect()?,
                    out,
                    &name,
                    &data,
                    &data_format,
                    callback.as_deref(),
                )
                .await
            }
            ServiceCommand::Invoke {
                name,
                data,
                data_format,
                timeout_ms,
                run_async: false,
                callback: _,
                target,
            } => {
                invoke(
                    &target.connect()?,
                    out,
                    &name,
                    &data,
                    &data_format,
                    timeout_ms,
                )
                .await
            }
            ServiceCommand::Versions { name, target } => {
                versions(&target.connect()?, out, &name).await
            }
            ServiceCommand::Rollback {
                name,
                to_version,
                target,
            } => {
                let outcome = target.connect()?.rollback(&name, to_version).await?;
                out.print(&outcome, || {
                    format!(
                        "`{}` version {} runs the bytes of version {to_version}{}",
                        outcome.name,
                        outcome.version,
                        if outcome.unchanged {
                            " (unchanged: the latest already had them)"
                        } else {
                            ""
                        }
                    )
                });
                Ok(())
            }
            ServiceCommand::Delete { name, target } => {
                let deleted = target.connect()?.delete_service(&name).await?;
                out.print(&deleted, || {
                    // A deletion takes a version number of its own, so that a number
                    // never names two different components: say so.
                    format!(
                        "deleted `{}`: the deletion is its version {}, and a deploy of it \
                         again will be version {}",
                        deleted.name,
                        deleted.version,
                        deleted.version + 1
                    )
                });
                Ok(())
            }
            ServiceCommand::Config {
                name,
                set,
                unset,
                ahead,
                target,
            } => config(&target.connect()?, out, &name, &set, &unset, ahead).await,
        }
    }
}

async fn list(client: &AdminClient, out: &Output) -> CliResult {
    let services = client.services().await?;
    out.print(&services, || {
        if services.is_empty() {
            return "no services deployed".into();
        }
        let rows: Vec<Vec<String>> = services
            .iter()
            .map(|s| {
                vec![
                    s.name.clone(),
                    s.version.to_string(),
                    s.running_version
                        .map(|v| v.to_string())
                        .unwrap_or_else(|| "-".into()),
                    bytes(s.size),
                    s.description.clone(),
                ]
            })
            .collect();
        table(
            &["NAME", "VERSION", "RUNNING", "SIZE", "DESCRIPTION"],
            &rows,
        )
    });
    Ok(())
}

async fn versions(client: &AdminClient, out: &Output, name: &str) -> CliResult {
    let versions = client.versions(name).await?;
    out.print(&versions, || {
        let rows: Vec<Vec<String>> = versions
            .iter()
            .map(|v| {
                vec![
                    v.version.to_string(),
                    if v.deleted {
                        "(deleted)".into()
                    } else {
                        v.sha256.chars().take(12).collect()
                    },
                    bytes(v.size),
                    v.source.clone(),
                    if v.running_on.is_empty() {
                        "-".into()
                    } else {
                        v.running_on.join(", ")
                    },
                ]
            })
            .collect();
        table(
            &["VERSION", "SHA256", "SIZE", "SOURCE", "RUNNING ON"],
            &rows,
        )
    });
    Ok(())
}

fn read_data(data: &str) -> CliResult<Vec<u8>> {
    let fail = |what: String| CliError::new(ExitCode::Failed, what);
    if data == "-" {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf)
            .map_err(|e| fail(format!("cannot read stdin: {e}")))?;
        Ok(buf)
    } else if let Some(file) = data.strip_prefix('@') {
        std::fs::read(file).map_err(|e| fail(format!("cannot read `{file}`: {e}")))
    } else {
        Ok(data.as_bytes().to_vec())
    }
}

/// Queues the call and prints its cid (with `--json`, `{"cid": ...}`).
async fn invoke_async(
    client: &AdminClient,
    out: &Output,
    name: &str,
    data: &str,
    data_format: &str,
    callback: Option<&str>,
) -> CliResult {
    let data_format = data_format
        .parse()
        .map_err(|e: String| CliError::new(ExitCode::Usage, e))?;
    let payload = read_data(data)?;
    let queued = client
        .invoke_async(name, payload, data_format, callback)
        .await?;
    out.print(&queued, || queued.cid.clone());
    Ok(())
}

async fn invoke(
    client: &AdminClient,
    out: &Output,
    name: &str,
    data: &str,
    data_format: &str,
    timeout_ms: Option<u64>,
) -> CliResult {
    let payload = read_data(data)?;
    // The format goes as given: the server's refusal of an unknown one is the message.
    let answer = client
        .invoke_as(name, payload, data_format, timeout_ms)
        .await?;
    let is_json = answer
        .content_type
        .as_deref()
        .is_some_and(|c| c.contains("json"));
    let parsed: Option<serde_json::Value> = if is_json {
        serde_json::from_slice(&answer.body).ok()
    } else {
        None
    };
    let response = || {
        parsed
            .clone()
            .unwrap_or_else(|| String::from_utf8_lossy(&answer.body).into_owned().into())
    };
    if answer.status.is_success() {
        if out.json {
            out.print(
                &serde_json::json!({ "status": answer.status.as_u16(), "cid": answer.cid, "response": response() }),
                String::new,
            );
        } else {
            match &parsed {
                Some(value) if std::io::stdout().is_terminal() => println!(
                    "{}",
                    serde_json::to_string_pretty(value).unwrap_or_default()
                ),
                _ => println!("{}", String::from_utf8_lossy(&answer.body)),
            }
        }
        return Ok(());
    }
    let cid = answer.cid.as_deref().unwrap_or("-");
    let mut details = serde_json::Map::new();
    details.insert("status".into(), answer.status.as_u16().into());
    details.insert("cid".into(), answer.cid.clone().into());
    details.insert("response".into(), response());
    Err(CliError::new(
        ExitCode::Failed,
        format!(
            "`{name}` answered {} (cid {cid}): {}",
            answer.status,
            answer.error_message()
        ),
    )
    .with_details(details))
}

async fn config(
    client: &AdminClient,
    out: &Output,
    name: &str,
    set: &[String],
    unset: &[String],
    ahead: bool,
) -> CliResult {
    let mut current: BTreeMap<String, String> = match client.config(name).await {
        Ok(config) => config,
        // Not deployed and never configured: nothing to start from, ahead of a deploy.
        Err(e) if ahead && e.status() == Some(reqwest::StatusCode::NOT_FOUND) => BTreeMap::new(),
        Err(e) => return Err(e.into()),
    };
    if !set.is_empty() || !unset.is_empty() {
        for pair in set {
            let (k, v) = pair.split_once('=').ok_or_else(|| {
                CliError::new(
                    ExitCode::Usage,
                    format!("--set expects KEY=VALUE, got `{pair}`"),
                )
            })?;
            current.insert(k.to_owned(), v.to_owned());
        }
        for key in unset {
            current.remove(key);
        }
        current = if ahead {
            client.set_config_ahead(name, &current).await?
        } else {
            client.set_config(name, &current).await?
        };
    }
    out.print(&current, || {
        if current.is_empty() {
            return format!("`{name}` has no configuration");
        }
        current
            .iter()
            .map(|(k, v)| format!("{k} = {v}"))
            .collect::<Vec<_>>()
            .join("\n")
    });
    Ok(())
}
