//! `zato`: start servers, deploy WebAssembly services, and manage a running environment.
//!
//! One file per command under `commands/`. Every command speaks to the admin API of a
//! running server through `zato_api` (`client.rs` finds the server), except `start`
//! (which runs one), `quickstart` (which writes files) and `lb` (which runs the load
//! balancer, `zato_lb`, or talks to its own endpoints). The server itself is
//! `zato_host`, and `embedded.rs` is the one module that uses it: what `start` runs and
//! what `quickstart` writes for it, so that the CLI's dependence on the server is in
//! one place and every other command builds on the admin API alone.

#![forbid(unsafe_code)]

mod ca;
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
/// Or create an environment (servers behind a load balancer on 127.0.0.1:11223) and
/// start it:
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
    Ca(commands::ca::CaCommand),
    New(commands::new::New),
    Build(commands::build::Build),
    Deploy(commands::deploy::Deploy),
    Service(commands::service::Service),
    Channel(commands::channel::Channel),
    Scheduler(Box<commands::scheduler::Scheduler>),
    Outconn(Box<commands::outconn::OutconnCommand>),
    Dictionary(commands::dictionary::Dictionary),
    Enmasse(commands::enmasse::EnmasseCommand),
    Security(commands::security::Security),
    RateLimit(commands::rate_limit::RateLimitCommand),
    User(commands::user::UserCommand),
    Info(commands::info::Info),
    Stats(commands::stats::Stats),
    Lb(commands::lb::Lb),
    Apispec(commands::apispec::Apispec),
    WebAdmin(commands::web_admin::WebAdminCommand),
}

fn main() -> std::process::ExitCode {
    // The server's outgoing connections build reqwest with rustls and no provider of its
    // own (one provider in the binary: ring), which every HTTP client here shares:
    // installed before any client is built, the CLI's admin API client included.
    zato_host::outconn::http::install_crypto_provider();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
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
            Command::Ca(cmd) => cmd.run(&out),
            Command::New(cmd) => cmd.run(&out).await,
            Command::Build(cmd) => cmd.run(&out).await,
            Command::Deploy(cmd) => cmd.run(&out).await,
            Command::Service(cmd) => cmd.run(&out).await,
            Command::Channel(cmd) => cmd.run(&out).await,
            Command::Scheduler(cmd) => cmd.run(&out).await,
            Command::Outconn(cmd) => cmd.run(&out).await,
            Command::Dictionary(cmd) => cmd.run(&out).await,
            Command::Enmasse(cmd) => cmd.run(&out).await,
            Command::Security(cmd) => cmd.run(&out).await,
            Command::RateLimit(cmd) => cmd.run(&out).await,
            Command::User(cmd) => cmd.run(&out).await,
            Command::Info(cmd) => cmd.run(&out).await,
            Command::Stats(cmd) => cmd.run(&out).await,
            Command::Lb(cmd) => cmd.run(&out).await,
            Command::Apispec(cmd) => cmd.run(&out).await,
            Command::WebAdmin(cmd) => cmd.run().await,
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            if out.json {
                println!("{}", e.to_json());
            } else {
                eprintln!("error: {}", e.message);
            }
            std::process::ExitCode::from(e.code as u8)
        }
    }
}

/// Wrong usage: clap's message on stderr, exit 2, as clap would; with `--json`
/// anywhere on the command line, the same as one JSON document on stdout instead, so
/// that a script gets JSON whatever happens. `--help` and `--version` print as usual.
fn usage_error(e: clap::Error) -> std::process::ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        e.exit();
    }
    let args: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let message = without_env_options(&e.render().to_string(), &args);
    if args.iter().any(|a| a == "--json") {
        let message = message.trim().trim_start_matches("error: ").to_owned();
        let error = exit::CliError::new(ExitCode::Usage, message);
        println!("{}", error.to_json());
    } else {
        eprint!("{message}");
    }
    std::process::ExitCode::from(ExitCode::Usage as u8)
}

/// Clap's usage line names the options it found set, and an option set by its
/// environment variable (`ZATO_ENV`, ...) would read as if it were required: the
/// usage line keeps only those typed on the command line.
fn without_env_options(message: &str, args: &[String]) -> String {
    const FROM_ENV: [&str; 4] = ["--env", "--url", "--user", "--password"];
    let typed = |flag: &str| {
        args.iter()
            .any(|a| a == flag || a.starts_with(&format!("{flag}=")))
    };
    let mut out = String::with_capacity(message.len());
    for line in message.split_inclusive('\n') {
        if !line.trim_start().starts_with("Usage:") {
            out.push_str(line);
            continue;
        }
        let mut words = line.split(' ').peekable();
        let mut kept = Vec::new();
        while let Some(word) = words.next() {
            if FROM_ENV.contains(&word) && !typed(word) {
                // Its value follows as `<NAME>`.
                if words.peek().is_some_and(|w| w.starts_with('<')) {
                    words.next();
                }
                continue;
            }
            kept.push(word);
        }
        out.push_str(&kept.join(" "));
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_usage_line_keeps_only_the_options_typed() {
        let message = "error: the following required arguments were not provided:\n  <NAME>\n\n\
                       Usage: zato service config --env <DIR> --password <PASSWORD> <NAME>\n";
        assert_eq!(
            super::without_env_options(message, &["--password=x".into()]),
            "error: the following required arguments were not provided:\n  <NAME>\n\n\
             Usage: zato service config --password <PASSWORD> <NAME>\n"
        );
    }
}
