//! `zato quickstart create DIR`: a new environment in a directory.

use std::path::PathBuf;

use crate::embedded::DEFAULT_PORT;
use clap::{Args, Subcommand};

use crate::env::{self, NewEnv};
use crate::exit::{CliError, CliResult, ExitCode};
use crate::output::Output;

/// Create a ready-to-start environment.
#[derive(Debug, Args)]
pub struct Quickstart {
    #[command(subcommand)]
    command: QuickstartCommand,
}

#[derive(Debug, Subcommand)]
enum QuickstartCommand {
    /// Create an environment in DIR: a server configuration, a pickup directory, an
    /// SQLite ODB, admin credentials (the password is shown once) and a load balancer
    /// in front of the servers (DIR/lb/lb.toml).
    ///
    /// Start it with `zato start DIR` (the servers and the load balancer); send requests
    /// to the load balancer; drop .wasm files into DIR/pickup or use
    /// `zato deploy FILE --env DIR`.
    Create(Create),
}

#[derive(Debug, Args)]
struct Create {
    /// Directory to create (must not exist, or be empty).
    dir: PathBuf,
    /// Port of the first server (127.0.0.1:PORT); further servers take the next ports.
    #[arg(long, default_value_t = DEFAULT_PORT, env = "ZATO_BASE_PORT")]
    base_port: u16,
    /// Name of the cluster (also the prefix of its keys in Redis).
    #[arg(long, default_value = "zato")]
    cluster: String,
    /// Number of servers; more than one needs --redis.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
    servers: u16,
    /// ODB URL: sqlite://PATH, postgres://USER@HOST/DB or mysql://USER@HOST/DB
    /// (an SQLite file in DIR/data when absent).
    #[arg(long)]
    odb: Option<String>,
    /// Redis URL for the KVDB and broker, e.g. redis://127.0.0.1:6379 (required with
    /// more than one server).
    #[arg(long)]
    redis: Option<String>,
    /// Port of the load balancer in front of the servers (127.0.0.1:PORT; 0: the system
    /// picks one, written to DIR/lb/address while it runs). Default: 11223, or 0 with
    /// --base-port 0.
    #[arg(long, conflicts_with = "no_lb")]
    lb_port: Option<u16>,
    /// No load balancer: clients talk to the servers directly.
    #[arg(long)]
    no_lb: bool,
    /// Port of the web admin (127.0.0.1:PORT; 0: the system picks one, written to
    /// DIR/web-admin/address while it runs). Default: 8183, or 0 with --base-port 0.
    #[arg(long, conflicts_with = "no_web_admin")]
    web_admin_port: Option<u16>,
    /// No web admin.
    #[arg(long)]
    no_web_admin: bool,
    /// TLS everywhere: a CA of the environment's own (DIR/ca/ca.pem, which clients
    /// trust: `curl --cacert DIR/ca/ca.pem`) signs a certificate for each server, the
    /// load balancer and the web admin, and they all speak HTTPS only.
    #[arg(long)]
    tls: bool,
    /// A host name or address the certificates name besides localhost, 127.0.0.1 and
    /// ::1 (repeat for more; with --tls).
    #[arg(long = "tls-host", value_name = "HOST", requires = "tls")]
    tls_hosts: Vec<String>,
}

impl Quickstart {
    pub async fn run(self, out: &Output) -> CliResult {
        let QuickstartCommand::Create(create) = self.command;
        // Ports the system picks for the servers: the load balancer's too, unless given.
        let lb_port = (!create.no_lb).then(|| {
            create.lb_port.unwrap_or(if create.base_port == 0 {
                0
            } else {
                env::DEFAULT_LB_PORT
            })
        });
        let web_admin_port = (!create.no_web_admin).then(|| {
            create.web_admin_port.unwrap_or(if create.base_port == 0 {
                0
            } else {
                env::DEFAULT_WEB_ADMIN_PORT
            })
        });
        let created = env::create(&NewEnv {
            dir: &create.dir,
            base_port: create.base_port,
            cluster: &create.cluster,
            pickup_dir: None,
            servers: create.servers,
            odb: create.odb.as_deref(),
            redis: create.redis.as_deref(),
            auto_http_channels: false,
            lb_port,
            web_admin_port,
            tls: create.tls.then(|| create.tls_hosts.clone()),
        })
        .map_err(|e| CliError::new(ExitCode::Usage, format!("{e:#}")))?;
        let scheme = if create.tls { "https" } else { "http" };
        let servers: Vec<_> = (0..create.servers)
            .map(|i| {
                serde_json::json!({
                    "name": format!("server{}", i + 1),
                    "url": format!("{scheme}://127.0.0.1:{}", env::server_port(create.base_port, i)),
                })
            })
            .collect();
        let ca = create
            .tls
            .then(|| create.dir.join(env::CA_DIR).join(crate::ca::CA_CERT));
        let listing = servers
            .iter()
            .map(|s| {
                format!(
                    "{} on {}",
                    s["name"].as_str().unwrap_or(""),
                    s["url"].as_str().unwrap_or("")
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        let dir = create.dir.display();
        let lb_url = lb_port.map(|port| format!("{scheme}://127.0.0.1:{port}"));
        let web_admin_url = web_admin_port.map(|port| format!("{scheme}://127.0.0.1:{port}/"));
        out.print(
            &serde_json::json!({
                "dir": create.dir,
                "servers": servers,
                "lb": lb_url.as_ref().map(|url| serde_json::json!({
                    "url": url,
                    "dir": create.dir.join(env::LB_DIR),
                })),
                "web_admin": web_admin_url.as_ref().map(|url| serde_json::json!({
                    "url": url,
                    "dir": create.dir.join(env::WEB_ADMIN_DIR),
                })),
                "username": created.username,
                "password": created.password,
                "ca": ca,
            }),
            || {
                let lb = match (&lb_url, lb_port) {
                    (Some(_), Some(0)) => format!(
                        "Load balancer in front of them on a port the system picks \
                         (written to {dir}/{}/address while it runs)\n",
                        env::LB_DIR
                    ),
                    (Some(url), _) => format!(
                        "Load balancer in front of them on {url}: send requests there\n"
                    ),
                    (None, _) => String::new(),
                };
                let web_admin = match (&web_admin_url, web_admin_port) {
                    (Some(_), Some(0)) => format!(
                        "Web admin on a port the system picks (written to {dir}/{}/address \
                         while it runs); log in as the admin user\n",
                        env::WEB_ADMIN_DIR
                    ),
                    (Some(url), _) => format!("Web admin on {url}: log in as the admin user\n"),
                    (None, _) => String::new(),
                };
                let tls = match &ca {
                    Some(ca) => format!(
                        "TLS everywhere, with certificates of the environment's own CA: clients \
                         trust {} (curl --cacert {})\n",
                        ca.display(),
                        ca.display()
                    ),
                    None => String::new(),
                };
                format!(
                    "Created environment `{dir}` (cluster `{}`): {listing}\n{lb}{web_admin}{tls}\
                     Admin user `{}`, password `{}` (shown once; the CLI reads it from {dir}/{})\n\
                     Start it:          zato start {dir}\n\
                     Deploy a service:  cp my_service.wasm {dir}/pickup/   or   zato deploy my_service.wasm --env {dir}",
                    create.cluster,
                    created.username,
                    created.password,
                    env::CREDENTIALS_FILE
                )
            },
        );
        Ok(())
    }
}
