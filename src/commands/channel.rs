//! `zato channel ...`: create, list and delete channels.

use clap::{Args, Subcommand};
use zato_api::{DataFormat, HttpChannel};

use crate::client::Target;
use crate::exit::{CliError, CliResult, ExitCode};
use crate::output::{Output, table};

/// Work with channels (how requests reach services).
#[derive(Debug, Args)]
pub struct Channel {
    #[command(subcommand)]
    command: ChannelCommand,
}

#[derive(Debug, Subcommand)]
enum ChannelCommand {
    /// Create a channel.
    Create {
        #[command(subcommand)]
        kind: CreateKind,
    },
    /// List HTTP channels.
    List {
        #[command(flatten)]
        target: Target,
    },
    /// Delete an HTTP channel by name.
    Delete {
        name: String,
        #[command(flatten)]
        target: Target,
    },
}

#[derive(Debug, Subcommand)]
enum CreateKind {
    /// An HTTP channel: requests to PATH go to SERVICE, on every server, at once.
    ///
    /// Example: zato channel create http --name customer --path /customers/{id} --service crm.get-customer
    Http {
        /// Unique channel name.
        #[arg(long)]
        name: String,
        /// URL path; `{param}` segments reach the service as path parameters.
        #[arg(long)]
        path: String,
        /// The service to invoke.
        #[arg(long)]
        service: String,
        /// Allowed HTTP method (repeatable); any method when absent.
        #[arg(long = "method", value_name = "METHOD")]
        methods: Vec<String>,
        /// Payload format: json, xml or raw.
        #[arg(long, default_value = "json")]
        data_format: String,
        /// Per-request timeout in milliseconds (the server's default when absent).
        #[arg(long, default_value_t = 0)]
        timeout_ms: u64,
        #[command(flatten)]
        target: Target,
    },
}

impl Channel {
    pub async fn run(self, out: &Output) -> CliResult {
        match self.command {
            ChannelCommand::Create {
                kind:
                    CreateKind::Http {
                        name,
                        path,
                        service,
                        methods,
                        data_format,
                        timeout_ms,
                        target,
                    },
            } => {
                let data_format: DataFormat = data_format
                    .parse()
                    .map_err(|e: String| CliError::new(ExitCode::Usage, e))?;
                let channel = HttpChannel {
                    name,
                    path,
                    methods,
                    service,
                    data_format,
                    timeout_ms,
                };
                let client = target.connect()?;
                let created = client.create_http_channel(&channel).await?;
                out.print(&created, || {
                    format!(
                        "created HTTP channel `{}`: {}{} -> `{}`",
                        created.name,
                        client.base(),
                        created.path,
                        created.service
                    )
                });
                Ok(())
            }
            ChannelCommand::List { target } => {
                let channels = target.connect()?.http_channels().await?;
                out.print(&channels, || {
                    let rows: Vec<Vec<String>> = channels
                        .iter()
                        .map(|c| {
                            let methods = if c.methods.is_empty() {
                                "*".into()
                            } else {
                                c.methods.join(",")
                            };
                            vec![
                                c.name.clone(),
                                methods,
                                c.path.clone(),
                                c.service.clone(),
                                c.data_format.as_str().into(),
                            ]
                        })
                        .collect();
                    table(&["NAME", "METHODS", "PATH", "SERVICE", "FORMAT"], &rows)
                });
                Ok(())
            }
            ChannelCommand::Delete { name, target } => {
                target.connect()?.delete_http_channel(&name).await?;
                out.print(&serde_json::json!({ "deleted": name }), || {
                    format!("deleted HTTP channel `{name}`")
                });
                Ok(())
            }
        }
    }
}
