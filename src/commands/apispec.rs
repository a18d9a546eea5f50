//! `zato apispec [--output FILE]`: the admin API's OpenAPI 3.1 description, generated
//! from the code of this build (no server needed): the same document a server serves at
//! `GET /zato/api/openapi.json`.

use std::path::PathBuf;

use clap::Args;

use crate::embedded;
use crate::exit::{CliError, CliResult, ExitCode};
use crate::output::Output;

/// Print the admin API's OpenAPI 3.1 description (JSON), as a server serves it at
/// /zato/api/openapi.json.
///
/// To stdout by default (with or without --json: the description is one JSON
/// document); with --output FILE, written to FILE, and with --json the answer is
/// `{"output": FILE, "bytes": N}`.
#[derive(Debug, Args)]
pub struct Apispec {
    /// Write the description to this file instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    output: Option<PathBuf>,
}

impl Apispec {
    pub async fn run(self, out: &Output) -> CliResult {
        let spec = embedded::openapi_json();
        let Some(path) = self.output else {
            println!("{spec}");
            return Ok(());
        };
        std::fs::write(&path, format!("{spec}\n")).map_err(|e| {
            CliError::new(
                ExitCode::Failed,
                format!("cannot write the description to `{}`: {e}", path.display()),
            )
        })?;
        out.print(
            &serde_json::json!({ "output": path, "bytes": spec.len() + 1 }),
            || {
                format!(
                    "wrote the admin API's OpenAPI description to {}",
                    path.display()
                )
            },
        );
        Ok(())
    }
}
