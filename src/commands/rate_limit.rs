//! `zato rate-limit ...`: rate limits and IP allow lists: definitions of `source =
//! limit` lines (create, list, get, edit, delete) and what they are attached to
//! (attach, detach, uses).

use clap::{Args, Subcommand};
use zato_api::rate_limit::{LimitedKind, RateLimit, RateLimitInfo, RateLimitUse, parse_rules};

use crate::client::Target;
use crate::exit::{CliError, CliResult, ExitCode};
use crate::output::{Output, table};

/// Rate limits and IP allow lists. A definition is a list of `source = limit` lines: a
/// source is `*`, an IPv4 or IPv6 address or network (CIDR), a limit a count per
/// second, minute, hour or day (`100/m`) or `unlimited`. A caller's address takes the
/// line of the most specific source that holds it; an address no line holds gets 403,
/// one over its count 429 with Retry-After. Each address is counted apart, in fixed
/// windows. With --exact the count is cluster-wide (in the KVDB); without, each server
/// counts its own requests.
///
/// A definition is attached to security definitions, HTTP and SOAP channels and
/// services; a request is counted by each that applies, in that order.
///
/// Examples:
///     zato rate-limit create --name partners --rule '* = 100/m' \
///         --rule '10.0.0.0/8 = unlimited' --rule '2001:db8::/32 = 1000/h' --exact
///     zato rate-limit create --name office-only --rule '192.0.2.0/24 = unlimited'
///     zato rate-limit attach partners --http-channel orders
///     zato rate-limit attach office-only --service crm.delete-customer
///     zato rate-limit uses
///     zato rate-limit edit partners --rule '* = 50/m'
///     zato rate-limit detach --http-channel orders
///     zato rate-limit delete partners
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct RateLimitCommand {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create a definition.
    Create {
        /// Its name (attachments name it).
        #[arg(long)]
        name: String,
        /// A `source = limit` line, repeated: `* = 100/m`, `10.0.0.0/8 = unlimited`.
        #[arg(long = "rule", value_name = "SOURCE = LIMIT", required = true)]
        rules: Vec<String>,
        /// Count cluster-wide through the KVDB (exact), not per server.
        #[arg(long)]
        exact: bool,
        #[command(flatten)]
        target: Target,
    },
    /// List the definitions.
    List {
        #[command(flatten)]
        target: Target,
    },
    /// Show one definition.
    Get {
        /// Its name.
        name: String,
        #[command(flatten)]
        target: Target,
    },
    /// Change a definition's lines (all of them) or its mode.
    Edit {
        /// Its name.
        name: String,
        /// The new lines, repeated (they replace every line).
        #[arg(long = "rule", value_name = "SOURCE = LIMIT")]
        rules: Vec<String>,
        /// Count cluster-wide (true) or per server (false).
        #[arg(long, value_name = "BOOL")]
        exact: Option<bool>,
        #[command(flatten)]
        target: Target,
    },
    /// Delete a definition nothing is attached to.
    Delete {
        /// Its name.
        name: String,
        #[command(flatten)]
        target: Target,
    },
    /// Attach a definition to an object (replacing the one it had).
    Attach {
        /// The definition.
        name: String,
        #[command(flatten)]
        object: Object,
        #[command(flatten)]
        target: Target,
    },
    /// Detach an object's definition.
    Detach {
        #[command(flatten)]
        object: Object,
        #[command(flatten)]
        target: Target,
    },
    /// What each definition is attached to.
    Uses {
        #[command(flatten)]
        target: Target,
    },
}

/// The object: exactly one of these.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
struct Object {
    /// A security definition (every caller it admits).
    #[arg(long, value_name = "NAME")]
    security: Option<String>,
    /// An HTTP channel.
    #[arg(long, value_name = "NAME")]
    http_channel: Option<String>,
    /// A SOAP channel.
    #[arg(long, value_name = "NAME")]
    soap_channel: Option<String>,
    /// A service, through whichever HTTP or SOAP channel calls it.
    #[arg(long, value_name = "NAME")]
    service: Option<String>,
}

impl Object {
    fn of(self) -> (LimitedKind, String) {
        match (
            self.security,
            self.http_channel,
            self.soap_channel,
            self.service,
        ) {
            (Some(name), ..) => (LimitedKind::Security, name),
            (_, Some(name), ..) => (LimitedKind::HttpChannel, name),
            (_, _, Some(name), _) => (LimitedKind::SoapChannel, name),
            (.., Some(name)) => (LimitedKind::Service, name),
            // clap's group requires one.
            _ => unreachable!("one object is required"),
        }
    }
}

fn usage(message: impl Into<String>) -> CliError {
    CliError::new(ExitCode::Usage, message)
}

/// The lines, checked here first: a wrong one is a usage error naming it.
fn checked(rules: &[String]) -> CliResult<()> {
    parse_rules(rules.iter().map(String::as_str))
        .map(|_| ())
        .map_err(|e| usage(format!("--rule: {e}")))
}

fn row(info: &RateLimitInfo) -> Vec<String> {
    vec![
        info.name.clone(),
        if info.exact { "exact" } else { "per server" }.into(),
        info.rules.join("; "),
    ]
}

impl RateLimitCommand {
    pub async fn run(self, out: &Output) -> CliResult {
        match self.command {
            Command::Create {
                name,
                rules,
                exact,
                target,
            } => {
                checked(&rules)?;
                let def = RateLimit { name, rules, exact };
                let info = target.connect()?.create_rate_limit(&def).await?;
                out.print(&info, || {
                    format!("created rate-limit definition `{}`", info.name)
                });
            }
            Command::List { target } => {
                let defs = target.connect()?.rate_limits().await?;
                out.print(&defs, || {
                    if defs.is_empty() {
                        return "no rate-limit definitions".into();
                    }
                    let rows: Vec<_> = defs.iter().map(row).collect();
                    table(&["NAME", "COUNTED", "RULES"], &rows)
                });
            }
            Command::Get { name, target } => {
                let info = target.connect()?.rate_limit(&name).await?;
                out.print(&info, || {
                    table(&["NAME", "COUNTED", "RULES"], &[row(&info)])
                });
            }
            Command::Edit {
                name,
                rules,
                exact,
                target,
            } => {
                if rules.is_empty() && exact.is_none() {
                    return Err(usage("give --rule (repeated) or --exact true|false"));
                }
                if !rules.is_empty() {
                    checked(&rules)?;
                }
                let client = target.connect()?;
                let info = client.rate_limit(&name).await?;
                let def = RateLimit {
                    name: name.clone(),
                    rules: if rules.is_empty() { info.rules } else { rules },
                    exact: exact.unwrap_or(info.exact),
                };
                let info = client.update_rate_limit(&name, &def).await?;
                out.print(&info, || {
                    format!("updated rate-limit definition `{}`", info.name)
                });
            }
            Command::Delete { name, target } => {
                let deleted = target.connect()?.delete_rate_limit(&name).await?;
                out.print(&deleted, || {
                    format!("deleted rate-limit definition `{}`", deleted.name)
                });
            }
            Command::Attach {
                name,
                object,
                target,
            } => {
                let (kind, object) = object.of();
                let used = target
                    .connect()?
                    .attach_rate_limit(kind, &object, Some(&name))
                    .await?;
                out.print(&used, || {
                    format!(
                        "rate-limit definition `{name}` attached to {} `{object}`",
                        kind.describe()
                    )
                });
            }
            Command::Detach { object, target } => {
                let (kind, object) = object.of();
                let used = target
                    .connect()?
                    .attach_rate_limit(kind, &object, None)
                    .await?;
                out.print(&used, || {
                    format!(
                        "{} `{object}` has no rate limit of its own now",
                        kind.describe()
                    )
                });
            }
            Command::Uses { target } => {
                let uses = target.connect()?.rate_limit_uses().await?;
                out.print(&uses, || {
                    if uses.is_empty() {
                        return "no rate limit is attached to anything".into();
                    }
                    let rows: Vec<Vec<String>> = uses
                        .iter()
                        .map(|u: &RateLimitUse| {
                            vec![
                                u.rate_limit.clone(),
                                u.kind.describe().into(),
                                u.object.clone(),
                            ]
                        })
                        .collect();
                    table(&["RATE LIMIT", "ATTACHED TO", "NAME"], &rows)
                });
            }
        }
        Ok(())
    }
}
