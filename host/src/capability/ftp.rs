//! `zato:service/ftp`: files on the FTP and FTPS servers an administrator configured
//! as named connections (`crate::outconn::ftp`).
//!
//! This module checks the guest's arguments (sizes first) and maps [`OutconnError`] to
//! the guest's `ftp-error`; the path rules, the sessions and the time limits are
//! `outconn::ftp`'s. A hostile argument is an error value for the guest, never a trap
//! or a panic.

use std::sync::Arc;
use std::time::Instant;

use wasmtime::component::{HasData, Linker};

use crate::outconn::ftp::{FtpConn, MAX_FILE_BYTES, MAX_PATH_BYTES};
use crate::outconn::{OutconnError, Outconns};
use crate::wit::zato::service::ftp::{self, Entry, FtpError, Host};

/// Longest connection name accepted: a longer one cannot be configured.
pub const MAX_NAME_BYTES: usize = crate::api::MAX_SERVICE_NAME;

/// What the `ftp` import reaches of a call: the server's connections and the deadline
/// of the request being handled.
pub struct FtpView {
    /// `None` only while the server shuts down.
    pub outconns: Option<Arc<Outconns>>,
    pub deadline: Instant,
}

struct Ftp;

impl HasData for Ftp {
    type Data<'a> = FtpView;
}

/// Links `ftp`, building each call's [`FtpView`] with `get`.
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> FtpView,
) -> wasmtime::Result<()> {
    ftp::add_to_linker::<T, Ftp>(linker, get)
}

impl From<OutconnError> for FtpError {
    fn from(err: OutconnError) -> Self {
        let message = err.to_string();
        match err {
            OutconnError::NotFound(..) => Self::NotFound(message),
            OutconnError::Inactive(..) => Self::Inactive(message),
            OutconnError::Misconfigured(..) => Self::Misconfigured(message),
            OutconnError::BadRequest(_) => Self::BadRequest(message),
            OutconnError::Timeout(_) => Self::Timeout(message),
            OutconnError::Remote(_) => Self::Remote(message),
        }
    }
}

impl FtpView {
    /// The connection `name` once the paths' sizes are checked (the path rules
    /// themselves are the connection's).
    fn conn(&self, name: &str, paths: &[&str]) -> Result<Arc<FtpConn>, FtpError> {
        if name.is_empty() || name.len() > MAX_NAME_BYTES {
            return Err(FtpError::BadRequest(format!(
                "invalid connection name ({} bytes): must be 1 to {MAX_NAME_BYTES} bytes",
                name.len()
            )));
        }
        if let Some(path) = paths.iter().find(|p| p.len() > MAX_PATH_BYTES) {
            return Err(FtpError::BadRequest(format!(
                "path of {} bytes refused: at most {MAX_PATH_BYTES}",
                path.len()
            )));
        }
        let outconns = self
            .outconns
            .as_ref()
            .ok_or_else(|| FtpError::Remote("the server is shutting down".into()))?;
        Ok(outconns.ftp(name)?)
    }
}

impl Host for FtpView {
    async fn list(
        &mut self,
        connection: String,
        path: String,
    ) -> wasmtime::Result<Result<Vec<Entry>, FtpError>> {
        let conn = match self.conn(&connection, &[&path]) {
            Ok(conn) => conn,
            Err(err) => return Ok(Err(err)),
        };
        Ok(conn
            .list(&path, self.deadline)
            .await
            .map(|entries| {
                entries
                    .into_iter()
                    .map(|e| Entry {
                        name: e.name,
                        size: e.size,
                        is_dir: e.is_dir,
                        modified: e.modified,
                    })
                    .collect()
            })
            .map_err(FtpError::from))
    }

    async fn get(
        &mut self,
        connection: String,
        path: String,
    ) -> wasmtime::Result<Result<Vec<u8>, FtpError>> {
        let conn = match self.conn(&connection, &[&path]) {
            Ok(conn) => conn,
            Err(err) => return Ok(Err(err)),
        };
        Ok(conn.get(&path, self.deadline).await.map_err(FtpError::from))
    }

    async fn put(
        &mut self,
        connection: String,
        path: String,
        data: Vec<u8>,
    ) -> wasmtime::Result<Result<(), FtpError>> {
        if data.len() > MAX_FILE_BYTES {
            return Ok(Err(FtpError::BadRequest(format!(
                "{} bytes refused: a file written is at most {MAX_FILE_BYTES}",
                data.len()
            ))));
        }
        let conn = match self.conn(&connection, &[&path]) {
            Ok(conn) => conn,
            Err(err) => return Ok(Err(err)),
        };
        Ok(conn
            .put(&path, &data, self.deadline)
            .await
            .map_err(FtpError::from))
    }

    async fn delete(
        &mut self,
        connection: String,
        path: String,
    ) -> wasmtime::Result<Result<(), FtpError>> {
        let conn = match self.conn(&connection, &[&path]) {
            Ok(conn) => conn,
            Err(err) => return Ok(Err(err)),
        };
        Ok(conn
            .delete(&path, self.deadline)
            .await
            .map_err(FtpError::from))
    }

    async fn rename(
        &mut self,
        connection: String,
        source: String,
        target: String,
    ) -> wasmtime::Result<Result<(), FtpError>> {
        let conn = match self.conn(&connection, &[&source, &target]) {
            Ok(conn) => conn,
            Err(err) => return Ok(Err(err)),
        };
        Ok(conn
            .rename(&source, &target, self.deadline)
            .await
            .map_err(FtpError::from))
    }
}
