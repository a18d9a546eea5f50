//! Outgoing FTP and FTPS connections (suppaftp on tokio): a new session per call, as
//! Zato does (connect, explicit TLS when configured, log in, binary, passive mode), closed
//! when the call ends.
//!
//! Every path a service gives is under the connection's base directory: it is
//! normalised lexically ([`resolve`]) and refused, before anything is sent, when it has
//! a `..` segment, a NUL, CR or LF (which would end an FTP command and start another), a
//! backslash, or more than [`MAX_PATH_BYTES`] bytes, or when it is absolute and not
//! under the base. Passive mode uses the control connection's address for data
//! connections whatever the server's `227` reply says, so a server cannot point a
//! transfer at another host.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use suppaftp::tokio::{AsyncRustlsConnector, AsyncRustlsFtpStream};
use suppaftp::types::FileType;
use tokio::io::AsyncReadExt as _;

use super::OutconnError;
use crate::api::FtpSettings;

/// A call's timeout when the definition says 0.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest file read or written.
pub const MAX_FILE_BYTES: usize = 64 << 20;
/// The longest path accepted.
pub const MAX_PATH_BYTES: usize = 4096;

/// One entry of a directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub size: u64,
    pub is_dir: bool,
    /// ISO 8601, when the server says it.
    pub modified: Option<String>,
}

/// A live FTP connection: its settings (each call opens its own session).
pub struct FtpConn {
    host: String,
    port: u16,
    username: String,
    password: String,
    tls: Option<Arc<rustls::ClientConfig>>,
    base: String,
    timeout: Duration,
}

impl FtpConn {
    /// Builds the live connection of a definition, or says why it cannot be built. No
    /// I/O.
    pub fn new(settings: &FtpSettings, secret: Option<&str>) -> Result<Self, String> {
        if settings.host.is_empty() {
            return Err("no host".into());
        }
        let base = normalise_base(&settings.base_dir)?;
        let tls = if settings.tls {
            Some(Arc::new(tls_config(settings.ca_pem.as_deref())?))
        } else {
            None
        };
        Ok(Self {
            host: settings.host.clone(),
            port: match settings.port {
                0 => 21,
                port => port,
            },
            username: settings.username.clone(),
            password: secret.unwrap_or_default().to_owned(),
            tls,
            base,
            timeout: timeout_of(settings),
        })
    }

    /// The base directory every path is under.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The server path of `path`, or why it is refused.
    pub fn resolve(&self, path: &str) -> Result<String, OutconnError> {
        resolve(&self.base, path).map_err(OutconnError::BadRequest)
    }

    /// Runs `op` in a session, within the earlier of the connection's timeout and
    /// `deadline`.
    async fn session<T>(
        &self,
        deadline: Instant,
        op: impl AsyncFnOnce(&mut AsyncRustlsFtpStream) -> suppaftp::FtpResult<T>,
    ) -> Result<T, OutconnError> {
        let deadline = deadline.min(Instant::now() + self.timeout);
        let run = async {
            let mut ftp = login(
                &self.host,
                self.port,
                &self.username,
                &self.password,
                self.tls.clone(),
            )
            .await?;
            let result = op(&mut ftp).await.map_err(remote)?;
            let _ = ftp.quit().await;
            Ok(result)
        };
        tokio::time::timeout_at(deadline.into(), run)
            .await
            .unwrap_or_else(|_| Err(timed_out()))
    }

    /// The entries of the directory `path`.
    pub async fn list(&self, path: &str, deadline: Instant) -> Result<Vec<Entry>, OutconnError> {
        let dir = self.resolve(path)?;
        self.session(deadline, async |ftp| {
            // MLSD says sizes, kinds and times exactly; LIST's lines are the fallback.
            match ftp.mlsd(Some(&dir)).await {
                Ok(lines) => Ok(lines
                    .iter()
                    .filter_map(|line| suppaftp::list::ListParser::parse_mlsd(line).ok())
                    .filter(|f| f.name() != "." && f.name() != "..")
                    .map(|f| entry(&f))
                    .collect()),
                Err(_) => {
                    let lines = ftp.list(Some(&dir)).await?;
                    Ok(lines
                        .iter()
                        .filter_map(|line| suppaftp::list::File::try_from(line.as_str()).ok())
                        .filter(|f| f.name() != "." && f.name() != "..")
                        .map(|f| entry(&f))
                        .collect())
                }
            }
        })
        .await
    }

    /// The content of the file `path`, at most [`MAX_FILE_BYTES`].
    pub async fn get(&self, path: &str, deadline: Instant) -> Result<Vec<u8>, OutconnError> {
        let file = self.resolve(path)?;
        let data = self
            .session(deadline, async |ftp| {
                let mut stream = ftp.retr_as_stream(&file).await?;
                let mut data = Vec::new();
                (&mut stream)
                    .take(MAX_FILE_BYTES as u64 + 1)
                    .read_to_end(&mut data)
                    .await
                    .map_err(suppaftp::FtpError::ConnectionError)?;
                if data.len() > MAX_FILE_BYTES {
                    // The session is dropped, closing the transfer.
                    return Ok(None);
                }
                stream.finish().await?;
                Ok(Some(data))
            })
            .await?;
        data.ok_or_else(|| {
            OutconnError::Remote(format!("`{path}` is over {MAX_FILE_BYTES} bytes: not read"))
        })
    }

    /// Writes `data` to the file `path`, replacing it.
    pub async fn put(
        &self,
        path: &str,
        data: &[u8],
        deadline: Instant,
    ) -> Result<(), OutconnError> {
        if data.len() > MAX_FILE_BYTES {
            return Err(OutconnError::BadRequest(format!(
                "{} bytes refused: a file written is at most {MAX_FILE_BYTES}",
                data.len()
            )));
        }
        let file = self.resolve(path)?;
        self.session(deadline, async |ftp| {
            let mut reader = data;
            ftp.put_file(&file, &mut reader).await.map(|_| ())
        })
        .await
    }

    /// Deletes the file `path`.
    pub async fn delete(&self, path: &str, deadline: Instant) -> Result<(), OutconnError> {
        let file = self.resolve(path)?;
        self.session(deadline, async |ftp| ftp.rm(&file).await)
            .await
    }

    /// Renames the file `from` to `to`.
    pub async fn rename(
        &self,
        from: &str,
        to: &str,
        deadline: Instant,
    ) -> Result<(), OutconnError> {
        let source = self.resolve(from)?;
        let target = self.resolve(to)?;
        self.session(deadline, async |ftp| ftp.rename(&source, &target).await)
            .await
    }
}

fn entry(file: &suppaftp::list::File) -> Entry {
    let modified = chrono::DateTime::<chrono::Utc>::from(file.modified());
    Entry {
        name: file.name().to_owned(),
        size: if file.is_directory() {
            0
        } else {
            file.size() as u64
        },
        is_dir: file.is_directory(),
        // An epoch of 0 is what suppaftp gives when the line had no time.
        modified: (modified.timestamp() != 0)
            .then(|| modified.format("%Y-%m-%dT%H:%M:%SZ").to_string()),
    }
}

fn timeout_of(settings: &FtpSettings) -> Duration {
    match settings.timeout_ms {
        0 => DEFAULT_TIMEOUT,
        ms => Duration::from_millis(ms),
    }
}

fn timed_out() -> OutconnError {
    OutconnError::Timeout("the FTP server did not answer within the call's time limit".into())
}

fn remote(error: suppaftp::FtpError) -> OutconnError {
    match error {
        suppaftp::FtpError::UnexpectedResponse(response) => OutconnError::Remote(format!(
            "the FTP server answered {}",
            String::from_utf8_lossy(&response.body).trim()
        )),
        other => OutconnError::Remote(format!("FTP: {other}")),
    }
}

/// The TLS settings of FTPS: the system's trusted roots and `ca_pem`'s, rustls with
/// ring.
fn tls_config(ca_pem: Option<&str>) -> Result<rustls::ClientConfig, String> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    super::http::install_crypto_provider();
    let mut roots = rustls::RootCertStore::empty();
    let found = rustls_native_certs::load_native_certs();
    for cert in found.certs {
        let _ = roots.add(cert);
    }
    if let Some(pem) = ca_pem.filter(|pem| !pem.trim().is_empty()) {
        let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("`ca_pem` is not a PEM certificate bundle: {e}"))?;
        if certs.is_empty() {
            return Err("`ca_pem` holds no certificate".into());
        }
        for cert in certs {
            roots
                .add(cert)
                .map_err(|e| format!("`ca_pem` holds a certificate rustls refuses: {e}"))?;
        }
    }
    if roots.is_empty() {
        return Err("FTPS: no trusted root certificate found on this system".into());
    }
    Ok(rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// Connects, secures (FTPS), logs in and sets binary transfers and passive mode.
async fn login(
    host: &str,
    port: u16,
    username: &str,
    password: &str,
    tls: Option<Arc<rustls::ClientConfig>>,
) -> Result<AsyncRustlsFtpStream, OutconnError> {
    let addr: SocketAddr = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| OutconnError::Remote(format!("cannot resolve `{host}`: {e}")))?
        .next()
        .ok_or_else(|| OutconnError::Remote(format!("`{host}` resolves to no address")))?;
    let mut ftp = AsyncRustlsFtpStream::connect_with_stream(
        tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| OutconnError::Remote(format!("cannot connect to {addr}: {e}")))?,
    )
    .await
    .map_err(remote)?;
    if let Some(config) = tls {
        let connector =
            AsyncRustlsConnector::from(suppaftp::tokio_rustls::TlsConnector::from(config));
        ftp = ftp.into_secure(connector, host).await.map_err(remote)?;
    }
    ftp.set_passive_nat_workaround(true);
    ftp.login(username, password).await.map_err(|e| match e {
        suppaftp::FtpError::UnexpectedResponse(response) => OutconnError::Remote(format!(
            "the FTP server refused the login of `{username}`: {}",
            String::from_utf8_lossy(&response.body).trim()
        )),
        other => remote(other),
    })?;
    ftp.transfer_type(FileType::Binary).await.map_err(remote)?;
    Ok(ftp)
}

/// The base directory, normalised: absolute, no trailing `/` (except the root), no
/// `.` or `..`.
fn normalise_base(base: &str) -> Result<String, String> {
    let base = if base.is_empty() { "/" } else { base };
    if !base.starts_with('/') {
        return Err(format!("the base directory `{base}` is not absolute"));
    }
    let segments = segments(base).map_err(|why| format!("the base directory {why}"))?;
    Ok(format!("/{}", segments.join("/")))
}

/// The segments of `path`, without empty ones and `.`, or why it is refused.
fn segments(path: &str) -> Result<Vec<&str>, String> {
    if path.len() > MAX_PATH_BYTES {
        return Err(format!(
            "path of {} bytes refused: at most {MAX_PATH_BYTES}",
            path.len()
        ));
    }
    let shown = || path.escape_default().to_string();
    if path.contains(['\0', '\r', '\n']) {
        return Err(format!(
            "`{}` refused: a path cannot hold a NUL, CR or LF",
            shown()
        ));
    }
    if path.contains('\\') {
        return Err(format!(
            "`{}` refused: a path cannot hold a backslash",
            shown()
        ));
    }
    let mut out = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                return Err(format!(
                    "`{}` refused: a path cannot have a `..` segment",
                    shown()
                ));
            }
            segment => out.push(segment),
        }
    }
    Ok(out)
}

/// The server path of `path` under `base` (normalised by [`normalise_base`]): a
/// relative path is joined under the base, an absolute one must already be under it.
pub fn resolve(base: &str, path: &str) -> Result<String, String> {
    let segments = segments(path)?;
    let joined = segments.join("/");
    if path.starts_with('/') {
        let full = format!("/{joined}");
        let inside = base == "/"
            || full == base
            || full
                .strip_prefix(base)
                .is_some_and(|rest| rest.starts_with('/'));
        if !inside {
            return Err(format!(
                "`{}` refused: it is outside the connection's base directory `{base}`",
                path.escape_default()
            ));
        }
        return Ok(full);
    }
    Ok(match (base, joined.is_empty()) {
        (base, true) => base.to_owned(),
        ("/", false) => format!("/{joined}"),
        (base, false) => format!("{base}/{joined}"),
    })
}

/// Checks that the server answers: logs in and asks the working directory.
pub async fn ping(
    settings: &FtpSettings,
    secret: Option<&str>,
    deadline: Instant,
) -> Result<String, OutconnError> {
    let conn = FtpConn::new(settings, secret).map_err(OutconnError::BadRequest)?;
    let deadline = deadline.min(Instant::now() + conn.timeout);
    let run = async {
        let mut ftp = login(
            &conn.host,
            conn.port,
            &conn.username,
            &conn.password,
            conn.tls.clone(),
        )
        .await?;
        let welcome = ftp
            .get_welcome_msg()
            .unwrap_or_default()
            .lines()
            .next()
            .unwrap_or_default()
            .trim()
            .to_owned();
        let pwd = ftp.pwd().await.map_err(remote)?;
        let _ = ftp.quit().await;
        Ok(format!(
            "{welcome}; logged in as `{}`, in `{pwd}`",
            conn.username
        ))
    };
    tokio::time::timeout_at(deadline.into(), run)
        .await
        .unwrap_or_else(|_| Err(timed_out()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_is_joined_under_the_base() {
        assert_eq!(resolve("/data", "in/a.csv").unwrap(), "/data/in/a.csv");
        assert_eq!(resolve("/data", "./in//a.csv").unwrap(), "/data/in/a.csv");
        assert_eq!(resolve("/data", "").unwrap(), "/data");
        assert_eq!(
            resolve("/data", "/data/in/a.csv").unwrap(),
            "/data/in/a.csv"
        );
        assert_eq!(resolve("/data", "/data").unwrap(), "/data");
        assert_eq!(resolve("/", "/in/a.csv").unwrap(), "/in/a.csv");
        assert_eq!(resolve("/", "in").unwrap(), "/in");
        assert_eq!(resolve("/", "").unwrap(), "/");
    }

    #[test]
    fn a_path_leaving_the_base_is_refused_naming_it() {
        for path in [
            "../etc/passwd",
            "in/../../etc/passwd",
            "/data/../etc/passwd",
            "..",
        ] {
            let err = resolve("/data", path).unwrap_err();
            assert!(
                err.contains(&format!("`{path}`")) && err.contains(".."),
                "{err}"
            );
        }
        for path in ["/etc/passwd", "/database/x", "/"] {
            let err = resolve("/data", path).unwrap_err();
            assert!(err.contains("outside") && err.contains(path), "{err}");
        }
        let err = resolve("/", "a\r\nDELE b").unwrap_err();
        assert!(
            err.contains("CR or LF") && err.contains("a\\r\\nDELE b"),
            "{err}"
        );
        assert!(resolve("/", "a\0b").is_err());
        assert!(resolve("/", "a\\..\\b").is_err());
        assert!(resolve("/", &"a".repeat(MAX_PATH_BYTES + 1)).is_err());
    }

    #[test]
    fn the_base_is_normalised() {
        assert_eq!(normalise_base("/srv/ftp/").unwrap(), "/srv/ftp");
        assert_eq!(normalise_base("").unwrap(), "/");
        assert_eq!(normalise_base("/").unwrap(), "/");
        assert!(normalise_base("srv").is_err());
        assert!(normalise_base("/srv/../etc").is_err());
    }

    /// A server that accepts and never says a word (no banner): the call ends at the
    /// connection's timeout, named as one.
    #[tokio::test]
    async fn a_silent_server_ends_the_call_at_the_connections_timeout() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((stream, _)) = listener.accept().await {
                held.push(stream);
            }
        });
        let settings = FtpSettings {
            host: "127.0.0.1".into(),
            port,
            username: "zato".into(),
            tls: false,
            ca_pem: None,
            base_dir: "/".into(),
            timeout_ms: 300,
        };
        let conn = FtpConn::new(&settings, Some("pw")).unwrap();
        let far = Instant::now() + Duration::from_secs(30);
        let err = conn.list("/", far).await.unwrap_err();
        assert!(matches!(err, OutconnError::Timeout(_)), "{err:?}");
        let err = conn.get("/a", far).await.unwrap_err();
        assert!(matches!(err, OutconnError::Timeout(_)), "{err:?}");
    }
}
