//! `zato channel ...`: create, list, update and delete channels.

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
    /// Change a channel: only what is given changes.
    Update {
        #[command(subcommand)]
        kind: UpdateKind,
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

#[derive(Debug, Subcommand)]
enum UpdateKind {
    /// An HTTP channel, on every server, at once: the new path answers and the old one
    /// stops when this returns. Only the options given change.
    ///
    /// Example: zato channel update http customer --path /v2/customers/{id} --method GET
    Http {
        /// The channel's name.
        name: String,
        /// New URL path; `{param}` segments reach the service as path parameters.
        #[arg(long)]
        path: Option<String>,
        /// Allowed HTTP method (repeatable): replaces the channel's methods.
        #[arg(long = "method", value_name = "METHOD", conflicts_with = "any_method")]
        methods: Vec<String>,
        /// Allow any method (drops the channel's list of methods).
        #[arg(long)]
        any_method: bool,
        /// New service to invoke.
        #[arg(long)]
        service: Option<String>,
        /// New payload format: json, xml or raw.
        #[arg(long)]
        data_format: Option<String>,
        /// New per-request timeout in milliseconds (0: the server's default).
        #[arg(long)]
        timeout_ms: Option<u64>,
        #[command(flatten)]
        target: Target,
    },
}

fn parse_format(s: &str) -> Result<DataFormat, CliError> {
    s.parse()
        .map_err(|e: String| CliError::new(ExitCode::Usage, e))
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
                let data_format = parse_format(&data_format)?;
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
            ChannelCommand::Update {
                kind:
                    UpdateKind::Http {
                        name,
                        path,
                        methods,
                        any_method,
                        service,
                        data_format: format,
                        timeout_ms,
                        target,
                    },
            } => {
                // Checked before the server is asked anything.
                let format = format.as_deref().map(parse_format).transpose()?;
                let client = target.connect()?;
                let mut channel = client.http_channel(&name).await?;
                if let Some(path) = path {
                    channel.path = path;
                }
                if any_method {
                    channel.methods.clear();
                } else if !methods.is_empty() {
                    channel.methods = methods;
                }
                if let Some(service) = service {
                    channel.service = service;
                }
                if let Some(format) = format {
                    channel.data_format = format;
                }
                if let Some(timeout_ms) = timeout_ms {
                    channel.timeout_ms = timeout_ms;
                }
                let updated = client.update_http_channel(&name, &channel).await?;
                out.print(&updated, || {
                    format!(
                        "updated HTTP channel `{}`: {}{} -> `{}`",
                        updated.name,
                        client.base(),
                        updated.path,
                        updated.service
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
