//! `zato quickstart create DIR`: a new environment in a directory.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use zato_host::config::DEFAULT_PORT;

use crate::env::{self, NewEnv};
use crate::exit::CliResult;
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
    /// SQLite ODB and admin credentials (the password is shown once).
    ///
    /// Start it with `zato start DIR`; drop .wasm files into DIR/pickup or use
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
    /// Name of the cluster.
    #[arg(long, default_value = "zato")]
    cluster: String,
}

impl Quickstart {
    pub async fn run(self, out: &Output) -> CliResult {
        let QuickstartCommand::Create(create) = self.command;
        let created = env::create(&NewEnv {
            dir: &create.dir,
            base_port: create.base_port,
            cluster: &create.cluster,
            pickup_dir: None,
        })?;
        let url = format!("http://127.0.0.1:{}", create.base_port);
        let dir = create.dir.display();
        out.print(
            &serde_json::json!({
                "dir": create.dir,
                "servers": [{ "name": "server1", "url": url }],
                "username": created.username,
                "password": created.password,
            }),
            || {
                format!(
                    "Created environment `{dir}` (cluster `{}`): server1 on {url}\n\
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
