//! TLS on both sides of the load balancer: its own listener (`[tls]` in `lb.toml`: a
//! certificate read again when its files change) and its connections to the backends
//! (`[backend_tls]`: every backend speaks TLS, its certificate verified against the
//! environment's CA for the backend's host, an IP address or a name).

use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use hyper::body::Body;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use zato_api::tls::{ServerTls, TlsFiles};

use crate::config::LbConfig;

/// How the load balancer reaches its backends over TLS.
pub struct BackendTls {
    connector: tokio_rustls::TlsConnector,
    /// The CA's PEM, for the admin API client that discovers the cluster's servers.
    pub ca_pem: Vec<u8>,
}

impl BackendTls {
    fn load(ca: &Path) -> anyhow::Result<Self> {
        let ca_pem = std::fs::read(ca)
            .with_context(|| format!("[backend_tls] ca: cannot read `{}`", ca.display()))?;
        let certs = zato_api::tls::certs_of_pem(&ca_pem)
            .map_err(|e| anyhow::anyhow!("[backend_tls] ca `{}`: {e}", ca.display()))?;
        let config = zato_api::tls::client_config(&certs, &[b"http/1.1"])
            .map_err(|e| anyhow::anyhow!("[backend_tls] ca `{}`: {e}", ca.display()))?;
        Ok(Self {
            connector: tokio_rustls::TlsConnector::from(Arc::new(config)),
            ca_pem,
        })
    }
}

/// The listener's TLS and the backends', as `config` asks, its paths relative to `dir`.
pub fn load(
    config: &LbConfig,
    dir: &Path,
) -> anyhow::Result<(Option<ServerTls>, Option<BackendTls>)> {
    let listener = config
        .tls
        .as_ref()
        .map(|tls| {
            ServerTls::load(
                TlsFiles {
                    cert: dir.join(&tls.cert),
                    key: dir.join(&tls.key),
                },
                false,
            )
            .map_err(|e| anyhow::anyhow!("[tls]: {e}"))
        })
        .transpose()?;
    let backends = config
        .backend_tls
        .as_ref()
        .map(|tls| BackendTls::load(&dir.join(&tls.ca)))
        .transpose()?;
    Ok((listener, backends))
}

/// An HTTP/1.1 connection to the backend at `address` over `stream`: TLS first when
/// `tls` is given, the backend's certificate checked for the address's host.
pub async fn handshake<B>(
    tls: Option<&BackendTls>,
    address: &str,
    stream: TcpStream,
) -> Result<SendRequest<B>, String>
where
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    match tls {
        None => over(stream).await,
        Some(tls) => {
            let host = host_of(address);
            let name = ServerName::try_from(host.to_owned())
                .map_err(|_| format!("`{host}` is not a host name TLS can verify"))?;
            let stream = tls
                .connector
                .connect(name, stream)
                .await
                .map_err(|e| format!("TLS with {address}: {e}"))?;
            over(stream).await
        }
    }
}

async fn over<S, B>(stream: S) -> Result<SendRequest<B>, String>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let (sender, conn) = hyper::client::conn::http1::Builder::new()
        .handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

/// The host of `HOST:PORT` (`[v6]:PORT` without its brackets).
fn host_of(address: &str) -> &str {
    let host = address.rsplit_once(':').map_or(address, |(host, _)| host);
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

/// The scheme the backends speak.
pub fn scheme(tls: Option<&BackendTls>) -> &'static str {
    if tls.is_some() { "https" } else { "http" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_of_an_address_is_what_the_certificate_names() {
        assert_eq!(host_of("127.0.0.1:17010"), "127.0.0.1");
        assert_eq!(host_of("[::1]:17010"), "::1");
        assert_eq!(host_of("zato1.example.com:443"), "zato1.example.com");
    }
}
