//! `zato channel ...`: create, list, update and delete channels (HTTP, SOAP, AMQP and
//! ZeroMQ).

mod messaging;

use clap::{Args, Subcommand, ValueEnum};
use zato_api::{DataFormat, HttpChannel, MsgChannelType, SoapChannel, SoapVersion};

use messaging::{AmqpArgs, MsgTarget, ZmqArgs};

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
    #[command(alias = "edit")]
    Update {
        #[command(subcommand)]
        kind: UpdateKind,
    },
    /// List channels of one kind: `list` or `list http` (HTTP channels), `list soap`,
    /// `list amqp`, `list zmq`.
    List {
        /// The kind of channel.
        #[arg(value_enum, default_value = "http")]
        kind: Kind,
        #[command(flatten)]
        target: Target,
    },
    /// Delete a channel by name: `delete NAME` (an HTTP channel), `delete http NAME`,
    /// `delete soap NAME`, `delete amqp NAME`, `delete zmq NAME`.
    Delete {
        /// The channel's name, or its kind (`http`, `soap`, `amqp`, `zmq`) followed by
        /// its name.
        #[arg(num_args = 1..=2, required = true, value_names = ["KIND", "NAME"])]
        args: Vec<String>,
        #[command(flatten)]
        target: Target,
    },
}

/// A kind of channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Kind {
    Http,
    Soap,
    Amqp,
    Zmq,
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
        /// The security definition callers must satisfy (`zato security create`);
        /// anyone may call when absent.
        #[arg(long, value_name = "NAME")]
        security: Option<String>,
        #[command(flatten)]
        target: Target,
    },
    /// A SOAP channel: SOAP 1.1 and 1.2 requests to PATH go to SERVICE (with several
    /// services, the SOAPAction or the body element's name selects one), on every
    /// server, at once; its WSDL is at PATH?wsdl.
    ///
    /// Example: zato channel create soap --name billing --path /soap/billing --service billing.get-invoice
    Soap {
        /// Unique channel name.
        #[arg(long)]
        name: String,
        /// URL path, exact (no `{params}`).
        #[arg(long)]
        path: String,
        /// A service the channel exposes (repeatable: one operation each).
        #[arg(long = "service", value_name = "SERVICE", required = true)]
        services: Vec<String>,
        /// A SOAP version accepted, 1.1 or 1.2 (repeatable); both when absent.
        #[arg(long = "soap-version", value_name = "VERSION", value_parser = parse_version)]
        versions: Vec<SoapVersion>,
        /// Per-request timeout in milliseconds (the server's default when absent).
        #[arg(long, default_value_t = 0)]
        timeout_ms: u64,
        /// The WSDL's target namespace (`urn:zato:soap:NAME` when absent).
        #[arg(long, default_value = "")]
        namespace: String,
        /// The security definition callers must satisfy (`zato security create`);
        /// anyone may call when absent.
        #[arg(long, value_name = "NAME")]
        security: Option<String>,
        #[command(flatten)]
        target: Target,
    },
    /// An AMQP channel: each message of QUEUE invokes SERVICE, acknowledged once it
    /// succeeded; consumers start on every server (or on the singleton only, with
    /// --singleton) at once. The admin API is --env or --admin-url here: --url is the
    /// broker's.
    ///
    /// Example: zato channel create amqp --name orders --url amqp://guest:guest@127.0.0.1:5672/%2f --queue orders --service demo.hello
    Amqp {
        /// Unique channel name.
        #[arg(long)]
        name: String,
        /// Create it inactive: it consumes nothing until it is activated.
        #[arg(long)]
        inactive: bool,
        #[command(flatten)]
        args: AmqpArgs,
        #[command(flatten)]
        target: MsgTarget,
    },
    /// A ZeroMQ channel: a PULL or SUB socket on the singleton server (it moves with
    /// the singleton); each message invokes SERVICE on one server.
    ///
    /// Example: zato channel create zmq --name feed --socket pull --bind tcp://127.0.0.1:5555 --service demo.hello
    Zmq {
        /// Unique channel name.
        #[arg(long)]
        name: String,
        /// Create it inactive: its socket is not opened until it is activated.
        #[arg(long)]
        inactive: bool,
        #[command(flatten)]
        args: ZmqArgs,
        #[command(flatten)]
        target: MsgTarget,
    },
}

fn parse_version(s: &str) -> Result<SoapVersion, String> {
    match s {
        "1.1" => Ok(SoapVersion::V11),
        "1.2" => Ok(SoapVersion::V12),
        other => Err(format!("unknown SOAP version `{other}`: 1.1 or 1.2")),
    }
}

fn version_text(v: SoapVersion) -> &'static str {
    match v {
        SoapVersion::V11 => "1.1",
        SoapVersion::V12 => "1.2",
    }
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
        /// The security definition callers must satisfy from now on.
        #[arg(long, value_name = "NAME", conflicts_with = "no_security")]
        security: Option<String>,
        /// Detach the channel's security definition: anyone may call.
        #[arg(long)]
        no_security: bool,
        #[command(flatten)]
        target: Target,
    },
    /// A SOAP channel, on every server, at once. Only the options given change.
    ///
    /// Example: zato channel edit soap billing --service billing.get-invoice --service billing.pay
    Soap {
        /// The channel's name.
        name: String,
        /// New URL path, exact.
        #[arg(long)]
        path: Option<String>,
        /// A service the channel exposes (repeatable): replaces the channel's services.
        #[arg(long = "service", value_name = "SERVICE")]
        services: Vec<String>,
        /// A SOAP version accepted (repeatable): replaces the channel's versions.
        #[arg(long = "soap-version", value_name = "VERSION", value_parser = parse_version, conflicts_with = "any_version")]
        versions: Vec<SoapVersion>,
        /// Accept both SOAP versions.
        #[arg(long)]
        any_version: bool,
        /// New per-request timeout in milliseconds (0: the server's default).
        #[arg(long)]
        timeout_ms: Option<u64>,
        /// New target namespace of the WSDL (empty: the default).
        #[arg(long)]
        namespace: Option<String>,
        /// The security definition callers must satisfy from now on.
        #[arg(long, value_name = "NAME", conflicts_with = "no_security")]
        security: Option<String>,
        /// Detach the channel's security definition: anyone may call.
        #[arg(long)]
        no_security: bool,
        #[command(flatten)]
        target: Target,
    },
    /// An AMQP channel, on every server. Only the options given change (the stored
    /// password stays unless --url carries a new one).
    ///
    /// Example: zato channel edit amqp orders --prefetch 50 --consumers 4
    Amqp {
        /// The channel's name.
        name: String,
        /// Start consuming again.
        #[arg(long, conflicts_with = "inactive")]
        active: bool,
        /// Stop consuming, keeping the definition.
        #[arg(long)]
        inactive: bool,
        #[command(flatten)]
        args: AmqpArgs,
        #[command(flatten)]
        target: MsgTarget,
    },
    /// A ZeroMQ channel. Only the options given change.
    ///
    /// Example: zato channel edit zmq feed --subscribe orders. --subscribe invoices.
    Zmq {
        /// The channel's name.
        name: String,
        /// Open its socket again.
        #[arg(long, conflicts_with = "inactive")]
        active: bool,
        /// Close its socket, keeping the definition.
        #[arg(long)]
        inactive: bool,
        #[command(flatten)]
        args: ZmqArgs,
        #[command(flatten)]
        target: MsgTarget,
    },
}

/// What a channel's line says of its security definition.
fn secured_by(security: Option<&str>) -> String {
    match security {
        Some(name) => format!(", callers checked by security definition `{name}`"),
        None => ", open to any caller".to_owned(),
    }
}

/// `--active` / `--inactive` as a change of the active flag.
fn activity(active: bool, inactive: bool) -> Option<bool> {
    match (active, inactive) {
        (true, _) => Some(true),
        (_, true) => Some(false),
        _ => None,
    }
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
                        security,
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
                    security,
                };
                let client = target.connect()?;
                let created = client.create_http_channel(&channel).await?;
                out.print(&created, || {
                    format!(
                        "created HTTP channel `{}`: {}{} -> `{}`{}",
                        created.name,
                        client.base(),
                        created.path,
                        created.service,
                        secured_by(created.security.as_deref())
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
                        security,
                        no_security,
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
                if no_security {
                    channel.security = None;
                } else if security.is_some() {
                    channel.security = security;
                }
                let updated = client.update_http_channel(&name, &channel).await?;
                out.print(&updated, || {
                    format!(
                        "updated HTTP channel `{}`: {}{} -> `{}`{}",
                        updated.name,
                        client.base(),
                        updated.path,
                        updated.service,
                        secured_by(updated.security.as_deref())
                    )
                });
                Ok(())
            }
            ChannelCommand::Create {
                kind:
                    CreateKind::Soap {
                        name,
                        path,
                        services,
                        versions,
                        timeout_ms,
                        namespace,
                        security,
                        target,
                    },
            } => {
                let channel = SoapChannel {
                    name,
                    path,
                    services,
                    versions,
                    timeout_ms,
                    namespace,
                    security,
                };
                let client = target.connect()?;
                let created = client.create_soap_channel(&channel).await?;
                out.print(&created, || {
                    format!(
                        "created SOAP channel `{}`: {}{} -> {} (WSDL at {}{}?wsdl){}",
                        created.name,
                        client.base(),
                        created.path,
                        created.services.join(", "),
                        client.base(),
                        created.path,
                        secured_by(created.security.as_deref())
                    )
                });
                Ok(())
            }
            ChannelCommand::Update {
                kind:
                    UpdateKind::Soap {
                        name,
                        path,
                        services,
                        versions,
                        any_version,
                        timeout_ms,
                        namespace,
                        security,
                        no_security,
                        target,
                    },
            } => {
                let client = target.connect()?;
                let mut channel = client.soap_channel(&name).await?;
                if let Some(path) = path {
                    channel.path = path;
                }
                if !services.is_empty() {
                    channel.services = services;
                }
                if any_version {
                    channel.versions.clear();
                } else if !versions.is_empty() {
                    channel.versions = versions;
                }
                if let Some(timeout_ms) = timeout_ms {
                    channel.timeout_ms = timeout_ms;
                }
                if let Some(namespace) = namespace {
                    channel.namespace = namespace;
                }
                if no_security {
                    channel.security = None;
                } else if security.is_some() {
                    channel.security = security;
                }
                let updated = client.update_soap_channel(&name, &channel).await?;
                out.print(&updated, || {
                    format!(
                        "updated SOAP channel `{}`: {}{} -> {}{}",
                        updated.name,
                        client.base(),
                        updated.path,
                        updated.services.join(", "),
                        secured_by(updated.security.as_deref())
                    )
                });
                Ok(())
            }
            ChannelCommand::Create {
                kind:
                    CreateKind::Amqp {
                        name,
                        inactive,
                        args,
                        target,
                    },
            } => messaging::create(out, target.target(), args.create(name, inactive)?).await,
            ChannelCommand::Create {
                kind:
                    CreateKind::Zmq {
                        name,
                        inactive,
                        args,
                        target,
                    },
            } => messaging::create(out, target.target(), args.create(name, inactive)?).await,
            ChannelCommand::Update {
                kind:
                    UpdateKind::Amqp {
                        name,
                        active,
                        inactive,
                        args,
                        target,
                    },
            } => {
                let active = activity(active, inactive);
                messaging::update(
                    out,
                    target.target(),
                    MsgChannelType::Amqp,
                    &name,
                    active,
                    |c| args.apply(c),
                )
                .await
            }
            ChannelCommand::Update {
                kind:
                    UpdateKind::Zmq {
                        name,
                        active,
                        inactive,
                        args,
                        target,
                    },
            } => {
                let active = activity(active, inactive);
                messaging::update(
                    out,
                    target.target(),
                    MsgChannelType::Zmq,
                    &name,
                    active,
                    |c| args.apply(c),
                )
                .await
            }
            ChannelCommand::List {
                kind: Kind::Amqp,
                target,
            } => messaging::list(out, target, MsgChannelType::Amqp).await,
            ChannelCommand::List {
                kind: Kind::Zmq,
                target,
            } => messaging::list(out, target, MsgChannelType::Zmq).await,
            ChannelCommand::List {
                kind: Kind::Soap,
                target,
            } => {
                let channels = target.connect()?.soap_channels().await?;
                out.print(&channels, || {
                    let rows: Vec<Vec<String>> = channels
                        .iter()
                        .map(|c| {
                            let versions = if c.versions.is_empty() {
                                "1.1,1.2".into()
                            } else {
                                c.versions
                                    .iter()
                                    .map(|v| version_text(*v))
                                    .collect::<Vec<_>>()
                                    .join(",")
                            };
                            vec![
                                c.name.clone(),
                                c.path.clone(),
                                c.services.join(","),
                                versions,
                                c.security.clone().unwrap_or_else(|| "-".into()),
                            ]
                        })
                        .collect();
                    table(&["NAME", "PATH", "SERVICES", "SOAP", "SECURITY"], &rows)
                });
                Ok(())
            }
            ChannelCommand::List {
                kind: Kind::Http,
                target,
            } => {
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
                                c.security.clone().unwrap_or_else(|| "-".into()),
                            ]
                        })
                        .collect();
                    table(
                        &["NAME", "METHODS", "PATH", "SERVICE", "FORMAT", "SECURITY"],
                        &rows,
                    )
                });
                Ok(())
            }
            ChannelCommand::Delete { args, target } => {
                let (kind, name) = match args.as_slice() {
                    [name] => (Kind::Http, name.clone()),
                    [kind, name] => (
                        Kind::from_str(kind, true).map_err(|_| {
                            CliError::new(
                                ExitCode::Usage,
                                format!(
                                    "unknown kind of channel `{kind}`: http, soap, amqp or zmq"
                                ),
                            )
                        })?,
                        name.clone(),
                    ),
                    _ => unreachable!("clap takes one or two arguments"),
                };
                let client = target.connect()?;
                let what = match kind {
                    Kind::Http => {
                        client.delete_http_channel(&name).await?;
                        "HTTP"
                    }
                    Kind::Soap => {
                        client.delete_soap_channel(&name).await?;
                        "SOAP"
                    }
                    Kind::Amqp => {
                        return messaging::delete(out, target, MsgChannelType::Amqp, &name).await;
                    }
                    Kind::Zmq => {
                        return messaging::delete(out, target, MsgChannelType::Zmq, &name).await;
                    }
                };
                out.print(&serde_json::json!({ "deleted": name }), || {
                    format!("deleted {what} channel `{name}`")
                });
                Ok(())
            }
        }
    }
}
