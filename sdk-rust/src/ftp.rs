//! Files on the FTP and FTPS servers configured as named outgoing connections.
//!
//! ```no_run
//! use zato_sdk::{Error, ftp};
//!
//! let csv = ftp::get("files", "/in/orders.csv")?;
//! ftp::put("files", "/out/orders.json", b"[]")?;
//! ftp::rename("files", "/in/orders.csv", "/done/orders.csv")?;
//! for entry in ftp::list("files", "/in")? {
//!     println!("{} {} bytes", entry.name, entry.size);
//! }
//! # Ok::<(), Error>(())
//! ```
//!
//! Each call opens its own session with the server (log in, passive mode, binary) and
//! closes it. Every path is under the connection's base directory and cannot leave it:
//! a relative path is taken under the base (`in/a.csv` under a base of `/data` is
//! `/data/in/a.csv`), an absolute one must already be under it, and a path with a `..`
//! segment, a NUL, CR, LF or backslash is refused ([`FtpError::BadRequest`]) before
//! anything is sent. A file read or written is at most 64 MiB. Every call is bounded by
//! the connection's timeout and the request's deadline.
//!
//! An [`FtpError`] converts into the service's [`Error`], so `?` works in a service: a
//! missing connection is [`Error::NotFound`], a refused path [`Error::BadRequest`], a
//! timeout or an inactive connection [`Error::Retry`], anything the server answered
//! [`Error::Internal`].
//!
//! Outside a zato host (in a native unit test) no connection is configured: every call
//! fails with [`FtpError::NotFound`].

use std::fmt;

use crate::Error;

/// One entry of a directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Its name, without the directory.
    pub name: String,
    /// Its size in bytes (0 for a directory or when the server does not say).
    pub size: u64,
    /// Whether it is a directory.
    pub is_dir: bool,
    /// When it was last modified, as the server says it, if it does.
    pub modified: Option<String>,
}

/// Why a call failed; converts into the service's [`Error`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FtpError {
    /// No FTP connection of that name is configured.
    NotFound(String),
    /// The connection is configured but inactive.
    Inactive(String),
    /// The connection's definition cannot be used: an administrator must fix it.
    Misconfigured(String),
    /// The call was refused before anything was sent: a path leaving the base
    /// directory, data too large.
    BadRequest(String),
    /// The call did not finish within the connection's timeout or the request's
    /// deadline.
    Timeout(String),
    /// The server could not be reached, refused the login or answered an error (e.g.
    /// `550` for a file that is not there).
    Remote(String),
}

impl FtpError {
    /// The message the error carries.
    pub fn message(&self) -> &str {
        match self {
            Self::NotFound(m)
            | Self::Inactive(m)
            | Self::Misconfigured(m)
            | Self::BadRequest(m)
            | Self::Timeout(m)
            | Self::Remote(m) => m,
        }
    }
}

impl fmt::Display for FtpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for FtpError {}

impl From<FtpError> for Error {
    fn from(err: FtpError) -> Self {
        match err {
            FtpError::NotFound(m) => Error::NotFound(m),
            FtpError::BadRequest(m) => Error::BadRequest(m),
            FtpError::Inactive(m) | FtpError::Timeout(m) => Error::Retry(m),
            FtpError::Misconfigured(m) | FtpError::Remote(m) => Error::Internal(m),
        }
    }
}

/// The entries of the directory `path`.
///
/// # Errors
///
/// See [`FtpError`].
pub fn list(connection: &str, path: &str) -> Result<Vec<Entry>, FtpError> {
    host::list(connection, path)
}

/// The content of the file `path` (at most 64 MiB).
///
/// # Errors
///
/// See [`FtpError`].
pub fn get(connection: &str, path: &str) -> Result<Vec<u8>, FtpError> {
    host::get(connection, path)
}

/// Writes `data` (at most 64 MiB) to the file `path`, replacing it if it exists.
///
/// # Errors
///
/// See [`FtpError`].
pub fn put(connection: &str, path: &str, data: &[u8]) -> Result<(), FtpError> {
    host::put(connection, path, data)
}

/// Deletes the file `path`.
///
/// # Errors
///
/// See [`FtpError`].
pub fn delete(connection: &str, path: &str) -> Result<(), FtpError> {
    host::delete(connection, path)
}

/// Renames (moves) the file `from` to `to`, both under the base directory.
///
/// # Errors
///
/// See [`FtpError`].
pub fn rename(connection: &str, from: &str, to: &str) -> Result<(), FtpError> {
    host::rename(connection, from, to)
}

#[cfg(target_arch = "wasm32")]
mod host {
    use super::*;
    use crate::bindings::zato::service::ftp as wit;

    fn error(err: wit::FtpError) -> FtpError {
        match err {
            wit::FtpError::NotFound(m) => FtpError::NotFound(m),
            wit::FtpError::Inactive(m) => FtpError::Inactive(m),
            wit::FtpError::Misconfigured(m) => FtpError::Misconfigured(m),
            wit::FtpError::BadRequest(m) => FtpError::BadRequest(m),
            wit::FtpError::Timeout(m) => FtpError::Timeout(m),
            wit::FtpError::Remote(m) => FtpError::Remote(m),
        }
    }

    pub(super) fn list(connection: &str, path: &str) -> Result<Vec<Entry>, FtpError> {
        let entries = crate::import(|| wit::list(connection, path)).map_err(error)?;
        Ok(entries
            .into_iter()
            .map(|e| Entry {
                name: e.name,
                size: e.size,
                is_dir: e.is_dir,
                modified: e.modified,
            })
            .collect())
    }

    pub(super) fn get(connection: &str, path: &str) -> Result<Vec<u8>, FtpError> {
        crate::import(|| wit::get(connection, path)).map_err(error)
    }

    pub(super) fn put(connection: &str, path: &str, data: &[u8]) -> Result<(), FtpError> {
        crate::import(|| wit::put(connection, path, data)).map_err(error)
    }

    pub(super) fn delete(connection: &str, path: &str) -> Result<(), FtpError> {
        crate::import(|| wit::delete(connection, path)).map_err(error)
    }

    pub(super) fn rename(connection: &str, from: &str, to: &str) -> Result<(), FtpError> {
        crate::import(|| wit::rename(connection, from, to)).map_err(error)
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod host {
    use super::*;

    fn none(connection: &str) -> FtpError {
        FtpError::NotFound(format!(
            "no ftp connection named `{connection}` is configured: ftp needs a zato host"
        ))
    }

    pub(super) fn list(connection: &str, _: &str) -> Result<Vec<Entry>, FtpError> {
        Err(none(connection))
    }

    pub(super) fn get(connection: &str, _: &str) -> Result<Vec<u8>, FtpError> {
        Err(none(connection))
    }

    pub(super) fn put(connection: &str, _: &str, _: &[u8]) -> Result<(), FtpError> {
        Err(none(connection))
    }

    pub(super) fn delete(connection: &str, _: &str) -> Result<(), FtpError> {
        Err(none(connection))
    }

    pub(super) fn rename(connection: &str, _: &str, _: &str) -> Result<(), FtpError> {
        Err(none(connection))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natively_no_connection_is_configured() {
        let err = get("files", "/in/a.csv").unwrap_err();
        assert!(matches!(&err, FtpError::NotFound(m) if m.contains("`files`")));
        assert_eq!(Error::from(err).status(), 404);
        assert_eq!(Error::from(FtpError::BadRequest("..".into())).status(), 400);
        assert_eq!(Error::from(FtpError::Remote("550".into())).status(), 500);
    }
}
