//! `zato`: start servers, deploy WebAssembly services, and manage a running environment.
//!
//! One file per command under `commands/`. Every command speaks to the admin API of a
//! running server through `zato_api` (`client.rs` finds the server), except `start`
//! (which runs one) and `quickstart` (which writes files). The server itself is
//! `zato_host`, and `embedded.rs` is the one module that uses it: what `start` runs and
//! what `quickstart` writes for it, so that the CLI's dependence on the server is in
//! one place and every other command builds on the admin API alone.

#![forbid(unsafe_code)]

mod client;
mod commands;
mod embedded;
mod env;
mod exit;
mod output;

use clap::{Parser, Subcommand};

use exit::ExitCode;

/// Hot-deployed WebAssembly services: an integration server in the family of Zato.
///
/// Start a development server with the examples deployed:
///     zato start
///
/// Or create an environment and start it:
///     zato quickstart create ./env --base-port 17010
///     zato start ./env
///
/// Then deploy a service (a component built for wasm32-wasip2 with zato-sdk):
///     zato deploy target/wasm32-wasip2/release/my_service.wasm --env ./env
///
/// Exit codes: 0 success, 1 the operation failed, 2 wrong usage, 3 server unreachable or
/// no credentials, 4 timed out.
#[derive(Debug, Parser)]
#[command(name = "zato", version, verbatim_doc_comment, max_term_width = 100)]
struct Cli {
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Start(commands::start::Start),
    Quickstart(commands::quickstart::Quickstart),
    Deploy(commands::deploy::Deploy),
    Service(commands::service::Service),
    Channel(commands::channel::Channel),
    Info(commands::info::Info),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::from(ExitCode::Failed as u8);
        }
    };
    let out = output::Output { json: cli.json };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Start(cmd) => cmd.run(&out).await,
            Command::Quickstart(cmd) => cmd.run(&out).await,
            Command::Deploy(cmd) => cmd.run(&out).await,
            Command::Service(cmd) => cmd.run(&out).await,
            Command::Channel(cmd) => cmd.run(&out).await,
            Command::Info(cmd) => cmd.run(&out).await,
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            if out.json {
                println!(
                    "{}",
                    serde_json::json!({ "error": e.message, "exit_code": e.code as u8 })
                );
            } else {
                eprintln!("error: {}", e.message);
            }
            std::process::ExitCode::from(e.code as u8)
        }
    }
}
