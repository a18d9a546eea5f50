//! `zato service ...`: list, invoke, delete and configure deployed services.

use std::collections::BTreeMap;
use std::io::IsTerminal as _;

use clap::{Args, Subcommand};
use zato_host::api::{DeleteOutcome, ServiceSummary};

use crate::client::{Body, Client, Target, segment};
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
        #[arg(long)]
        timeout_ms: Option<u64>,
        #[command(flatten)]
        target: Target,
    },
    /// Delete a service from every server.
    Delete {
        name: String,
        #[command(flatten)]
        target: Target,
    },
    /// Show a service's configuration, or change it with --set / --unset.
    Config {
        name: String,
        /// Set KEY=VALUE (repeatable).
        #[arg(long, value_name = "KEY=VALUE")]
        set: Vec<String>,
        /// Remove KEY (repeatable).
        #[arg(long, value_name = "KEY")]
        unset: Vec<String>,
        #[command(flatten)]
        target: Target,
    },
}

impl Service {
    pub async fn run(self, out: &Output) -> CliResult {
        match self.command {
            ServiceCommand::List { target } => list(&Client::from_target(&target)?, out).await,
            ServiceCommand::Invoke {
                name,
                data,
                data_format,
                timeout_ms,
                target,
            } => {
                invoke(
                    &Client::from_target(&target)?,
                    out,
                    &name,
                    &data,
                    &data_format,
                    timeout_ms,
                )
                .await
            }
            ServiceCommand::Delete { name, target } => {
                let client = Client::from_target(&target)?;
                let path = format!("/zato/api/services/{}", segment(&name));
                let deleted: DeleteOutcome = client
                    .send(reqwest::Method::DELETE, &path, None)
                    .await?
                    .json()?;
                out.print(&deleted, || {
                    format!("deleted `{}` (version {})", deleted.name, deleted.version)
                });
                Ok(())
            }
            ServiceCommand::Config {
                name,
                set,
                unset,
                target,
            } => config(&Client::from_target(&target)?, out, &name, &set, &unset).await,
        }
    }
}

async fn list(client: &Client, out: &Output) -> CliResult {
    let services: Vec<ServiceSummary> = client.get("/zato/api/services").await?;
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

async fn invoke(
    client: &Client,
    out: &Output,
    name: &str,
    data: &str,
    data_format: &str,
    timeout_ms: Option<u64>,
) -> CliResult {
    let payload = read_data(data)?;
    let mut path = format!(
        "/zato/api/services/{}/invoke?data_format={}",
        segment(name),
        segment(data_format)
    );
    if let Some(ms) = timeout_ms {
        path.push_str(&format!("&timeout_ms={ms}"));
    }
    let answer = client
        .send(reqwest::Method::POST, &path, Some(Body::Bytes(payload)))
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
    if out.json {
        let response = parsed
            .clone()
            .unwrap_or_else(|| String::from_utf8_lossy(&answer.body).into_owned().into());
        out.print(&serde_json::json!({ "status": answer.status.as_u16(), "cid": answer.cid, "response": response }), String::new);
    } else if answer.status.is_success() {
        match &parsed {
            Some(value) if std::io::stdout().is_terminal() => println!(
                "{}",
                serde_json::to_string_pretty(value).unwrap_or_default()
            ),
            _ => println!("{}", String::from_utf8_lossy(&answer.body)),
        }
    }
    if answer.status.is_success() {
        return Ok(());
    }
    let cid = answer.cid.as_deref().unwrap_or("-");
    Err(CliError::new(
        ExitCode::Failed,
        format!(
            "`{name}` answered {} (cid {cid}): {}",
            answer.status,
            answer.error_message()
        ),
    ))
}

async fn config(
    client: &Client,
    out: &Output,
    name: &str,
    set: &[String],
    unset: &[String],
) -> CliResult {
    let path = format!("/zato/api/services/{}/config", segment(name));
    let mut current: BTreeMap<String, String> = client.get(&path).await?;
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
        let value = serde_json::to_value(&current).expect("a map serialises");
        current = client
            .send(reqwest::Method::PUT, &path, Some(Body::Json(value)))
            .await?
            .json()?;
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
