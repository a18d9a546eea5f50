//! `zato ca`: an environment's own certificate authority (`crate::ca`).

use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::ca::{self, Ca, Usage};
use crate::exit::{CliError, CliResult, ExitCode};
use crate::output::Output;

/// A certificate authority of your own, for TLS between clients, the load balancer,
/// the servers and the web admin.
///
/// `zato quickstart create DIR --tls` makes one in DIR/ca and signs a certificate for
/// each server, the load balancer and the web admin; these commands make one by itself
/// and sign more certificates with it (another host's name, a client certificate).
#[derive(Debug, Args)]
pub struct CaCommand {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Make a CA in DIR: DIR/ca.pem (what clients trust: `curl --cacert DIR/ca.pem`)
    /// and DIR/ca-key.pem (its private key, mode 0600).
    Create(Create),
    /// Sign a new certificate with the CA in --ca DIR, written to OUT/cert.pem and
    /// OUT/key.pem (mode 0600).
    Issue(Issue),
}

#[derive(Debug, Args)]
struct Create {
    /// Directory of the new CA (created if missing; must not hold one already).
    dir: PathBuf,
    /// The CA's name (its certificate's common name).
    #[arg(long, default_value = "zato CA")]
    name: String,
}

#[derive(Debug, Args)]
struct Issue {
    /// Directory of the CA that signs (holding ca.pem and ca-key.pem).
    #[arg(long, value_name = "DIR")]
    ca: PathBuf,
    /// The certificate's common name (a server's name, a client's).
    #[arg(long)]
    name: String,
    /// A DNS name or IP address the certificate is for (repeat for more); a listener's
    /// certificate gets localhost, 127.0.0.1 and ::1 when none is given.
    #[arg(long = "host", value_name = "HOST")]
    hosts: Vec<String>,
    /// A client certificate (for channels whose security definition asks for one)
    /// rather than a listener's.
    #[arg(long)]
    client: bool,
    /// Directory to write cert.pem and key.pem to.
    out: PathBuf,
}

impl CaCommand {
    pub fn run(self, out: &Output) -> CliResult {
        match self.command {
            Command::Create(create) => {
                let ca = Ca::create(&create.dir, &create.name).map_err(usage)?;
                let cert = ca.cert_path();
                out.print(
                    &serde_json::json!({
                        "ca": cert,
                        "key": create.dir.join(ca::CA_KEY),
                    }),
                    || {
                        format!(
                            "Created CA `{}` in {}: clients trust {}; its key {} signs \
                             certificates (`zato ca issue --ca {} ...`)",
                            create.name.trim(),
                            create.dir.display(),
                            cert.display(),
                            create.dir.join(ca::CA_KEY).display(),
                            create.dir.display()
                        )
                    },
                );
                Ok(())
            }
            Command::Issue(issue) => {
                let ca = Ca::load(&issue.ca).map_err(usage)?;
                let usage_of = if issue.client {
                    Usage::Client
                } else {
                    Usage::Server
                };
                let hosts = if issue.hosts.is_empty() && !issue.client {
                    ca::LOCAL_HOSTS.iter().map(|h| h.to_string()).collect()
                } else {
                    issue.hosts.clone()
                };
                let issued = ca
                    .issue(&issue.out, &issue.name, &hosts, usage_of)
                    .map_err(usage)?;
                out.print(
                    &serde_json::json!({
                        "cert": issued.cert,
                        "key": issued.key,
                        "name": issue.name.trim(),
                        "hosts": hosts,
                        "client": issue.client,
                    }),
                    || {
                        format!(
                            "Signed a {} certificate for `{}`{}: {} (key {})",
                            if issue.client { "client" } else { "listener" },
                            issue.name.trim(),
                            if hosts.is_empty() {
                                String::new()
                            } else {
                                format!(" ({})", hosts.join(", "))
                            },
                            issued.cert.display(),
                            issued.key.display()
                        )
                    },
                );
                Ok(())
            }
        }
    }
}

fn usage(e: anyhow::Error) -> CliError {
    CliError::new(ExitCode::Usage, format!("{e:#}"))
}
