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
    /// More fields of the `--json` error document (e.g. a failed invoke's response),
    /// so that stdout still carries one JSON document.
    pub details: serde_json::Map<String, serde_json::Value>,
}

impl CliError {
    pub fn new(code: ExitCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            details: serde_json::Map::new(),
        }
    }

    /// This error with `details` added to its `--json` document.
    pub fn with_details(mut self, details: serde_json::Map<String, serde_json::Value>) -> Self {
        self.details.extend(details);
        self
    }

    /// The `--json` document of this error: `error`, `exit_code` and the details.
    pub fn to_json(&self) -> serde_json::Value {
        let mut doc = serde_json::Map::new();
        doc.insert("error".into(), self.message.clone().into());
        doc.insert("exit_code".into(), (self.code as u8).into());
        for (k, v) in &self.details {
            doc.insert(k.clone(), v.clone());
        }
        serde_json::Value::Object(doc)
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
