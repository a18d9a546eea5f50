//! Exit codes that mean something, and the error that carries one.

use std::fmt;

/// The process exit codes of `zato`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    /// The server refused or failed the operation (bad component, unknown service, ...).
    Failed = 1,
    /// Wrong usage (clap's own code for bad arguments).
    Usage = 2,
    /// The server could not be reached, or no credentials were found.
    Unreachable = 3,
    /// The operation did not complete in time (e.g. servers did not follow a deploy).
    Timeout = 4,
}

/// An error with the exit code it maps to.
#[derive(Debug)]
pub struct CliError {
    pub code: ExitCode,
    pub message: String,
}

impl CliError {
    pub fn new(code: ExitCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CliError {}

impl From<anyhow::Error> for CliError {
    fn from(e: anyhow::Error) -> Self {
        CliError::new(ExitCode::Failed, format!("{e:#}"))
    }
}

pub type CliResult<T = ()> = Result<T, CliError>;
