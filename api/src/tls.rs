//! TLS for zato's listeners (a server's HTTP channels and admin API, the load balancer,
//! the web admin) and for the clients that reach them with an environment's own CA.
//!
//! rustls with the ring provider, TLS 1.2 and 1.3 only (rustls has nothing older). A
//! listener's certificate and key are PEM files read at start and read again once either
//! changes ([`ServerTls::watch`]): a rotated certificate serves the next handshake, with
//! no restart, and a rotation caught half-written (a key that does not match its
//! certificate, a file cut short) keeps the previous pair until the files agree.
//!
//! A server asks each client for a certificate without requiring one
//! ([`ServerTls::load`] with `ask_client_certs`): a certificate offered is checked at
//! the handshake for the key it holds (the client signed the handshake with it), and by
//! the channel that requires one for its issuer and subject ([`TlsConnection`] in the
//! request's extensions), so that a channel refuses with an HTTP answer saying why
//! rather than a failed handshake.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};

/// How often [`ServerTls::watch`] looks at the certificate and key files.
pub const RELOAD_POLL: Duration = Duration::from_secs(1);

/// The protocol versions every zato listener and client speaks: TLS 1.3 and 1.2.
pub static VERSIONS: &[&rustls::SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];

/// The ring provider, the only one zato builds with.
pub fn provider() -> Arc<CryptoProvider> {
    crate::install_crypto_provider();
    // rustls deprecates ring's provider for lacking post-quantum key exchange; the
    // project builds on ring only (see `install_crypto_provider`).
    #[allow(deprecated)]
    Arc::new(rustls::crypto::ring::default_provider())
}

/// In the extensions of every request that came over TLS: the client's certificate
/// chain as it offered it (its signature over the handshake checked), if it offered one.
#[derive(Debug, Clone, Default)]
pub struct TlsConnection {
    /// The client's certificate first, then its intermediates.
    pub peer_certificates: Option<Arc<[CertificateDer<'static>]>>,
}

/// The PEM files of a listener's certificate chain and private key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate, followed by any intermediates.
    pub cert: PathBuf,
    /// Its private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// A listener's TLS: its rustls configuration, whose certificate is read again when the
/// files change.
#[derive(Debug, Clone)]
pub struct ServerTls {
    config: Arc<rustls::ServerConfig>,
    cert: Arc<Reloading>,
}

impl ServerTls {
    /// Reads `files`; the error names the file that is missing or wrong. With
    /// `ask_client_certs`, clients are asked for a certificate (none is required).
    pub fn load(files: TlsFiles, ask_client_certs: bool) -> Result<Self, String> {
        let provider = provider();
        let (key, stamp) = read_pair(&files, &provider)?;
        let cert = Arc::new(Reloading {
            files,
            provider: Arc::clone(&provider),
            current: RwLock::new(Arc::new(key)),
            state: Mutex::new(WatchState {
                stamp,
                failed: None,
            }),
        });
        let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_protocol_versions(VERSIONS)
            .map_err(|e| format!("TLS: {e}"))?;
        let builder = if ask_client_certs {
            builder.with_client_cert_verifier(Arc::new(AnyClientCert {
                algorithms: provider.signature_verification_algorithms,
            }))
        } else {
            builder.with_no_client_auth()
        };
        let mut config = builder.with_cert_resolver(Arc::clone(&cert) as _);
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Self {
            config: Arc::new(config),
            cert,
        })
    }

    /// The rustls configuration to accept connections with.
    pub fn config(&self) -> Arc<rustls::ServerConfig> {
        Arc::clone(&self.config)
    }

    /// The files it serves.
    pub fn files(&self) -> &TlsFiles {
        &self.cert.files
    }

    /// Reads the files again if either changed since they were last read: `Ok(true)`
    /// when a new certificate now serves, `Err` (the old one still serving) when the new
    /// files do not make a pair.
    pub fn reload(&self) -> Result<bool, String> {
        self.cert.reload()
    }

    /// Looks at the files every [`RELOAD_POLL`] until `stop`, serving a changed pair
    /// from the next handshake on, and logging each change and each pair refused (once
    /// per change of the files).
    pub async fn watch(self, what: &'static str, stop: impl Future<Output = ()>) {
        let mut stop = std::pin::pin!(stop);
        loop {
            tokio::select! {
                () = &mut stop => return,
                () = tokio::time::sleep(RELOAD_POLL) => {}
            }
            let cert = Arc::clone(&self.cert);
            match tokio::task::spawn_blocking(move || cert.reload_logged()).await {
                Ok(Some(Ok(()))) => tracing::info!(
                    cert = %self.cert.files.cert.display(),
                    "{what}: TLS certificate reloaded; new connections get the new one"
                ),
                Ok(Some(Err(e))) => tracing::warn!(
                    "{what}: the changed TLS files were not loaded, the previous \
                     certificate still serves: {e}"
                ),
                Ok(None) | Err(_) => {}
            }
        }
    }
}

/// The certificate a listener serves, swapped whole when its files change.
#[derive(Debug)]
struct Reloading {
    files: TlsFiles,
    provider: Arc<CryptoProvider>,
    current: RwLock<Arc<CertifiedKey>>,
    state: Mutex<WatchState>,
}

#[derive(Debug)]
struct WatchState {
    /// The files' modification times and sizes when last loaded.
    stamp: Stamp,
    /// The files' stamp when they last failed to load, so that a pair refused is said
    /// once, not once a second.
    failed: Option<Stamp>,
}

type Stamp = [(Option<SystemTime>, u64); 2];

impl Reloading {
    fn reload(&self) -> Result<bool, String> {
        match self.reload_logged() {
            None => Ok(false),
            Some(Ok(())) => Ok(true),
            Some(Err(e)) => Err(e),
        }
    }

    /// `None` when nothing changed (or a refused change was already reported).
    fn reload_logged(&self) -> Option<Result<(), String>> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let now = stamp(&self.files);
        if now == state.stamp || state.failed == Some(now) {
            return None;
        }
        match read_pair(&self.files, &self.provider) {
            Ok((key, stamp)) => {
                *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(key);
                state.stamp = stamp;
                state.failed = None;
                Some(Ok(()))
            }
            Err(e) => {
                state.failed = Some(now);
                Some(Err(e))
            }
        }
    }
}

impl ResolvesServerCert for Reloading {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(Arc::clone(
            &self.current.read().unwrap_or_else(|e| e.into_inner()),
        ))
    }
}

fn stamp(files: &TlsFiles) -> Stamp {
    let one = |path: &Path| match std::fs::metadata(path) {
        Ok(meta) => (meta.modified().ok(), meta.len()),
        Err(_) => (None, 0),
    };
    [one(&files.cert), one(&files.key)]
}

/// The certificate chain and key of `files`, checked to make a pair, with the files'
/// stamp as read (taken before reading, so that a write during the read shows as a
/// change at the next look).
fn read_pair(files: &TlsFiles, provider: &CryptoProvider) -> Result<(CertifiedKey, Stamp), String> {
    let stamp = stamp(files);
    let chain = read_certs(&files.cert)?;
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| {
        format!(
            "`{}` holds no readable private key: {e}",
            files.key.display()
        )
    })?;
    let signer = provider.key_provider.load_private_key(key).map_err(|e| {
        format!(
            "`{}` is not a private key rustls can sign with: {e}",
            files.key.display()
        )
    })?;
    let pair = CertifiedKey::new(chain, signer);
    pair.keys_match().map_err(|e| {
        format!(
            "the key `{}` is not the certificate `{}`'s: {e}",
            files.key.display(),
            files.cert.display()
        )
    })?;
    Ok((pair, stamp))
}

/// Every certificate of a PEM file, at least one; the error names the file.
pub fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let text = std::fs::read(path).map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
    certs_of_pem(&text).map_err(|e| format!("`{}`: {e}", path.display()))
}

/// Every certificate of a PEM text, at least one.
pub fn certs_of_pem(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("not a PEM certificate bundle: {e}"))?;
    if certs.is_empty() {
        return Err("holds no PEM certificate".into());
    }
    Ok(certs)
}

/// The roots a client of a zato environment trusts: the certificates of `ca` (the
/// environment's CA, `zato ca create`), and nothing else.
pub fn roots_of(ca: &[CertificateDer<'static>]) -> Result<rustls::RootCertStore, String> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in ca {
        roots
            .add(cert.clone())
            .map_err(|e| format!("a CA certificate rustls refuses: {e}"))?;
    }
    Ok(roots)
}

/// A client's TLS configuration trusting only `ca`'s certificates, offering `alpn`.
pub fn client_config(
    ca: &[CertificateDer<'static>],
    alpn: &[&[u8]],
) -> Result<rustls::ClientConfig, String> {
    let mut config = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(VERSIONS)
        .map_err(|e| format!("TLS: {e}"))?
        .with_root_certificates(roots_of(ca)?)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(config)
}

/// An HTTP client of zato's own listeners: trusting only the CA in `ca_pem` when one is
/// given (an environment made with `--tls`), the system's roots otherwise.
pub fn http_client(
    builder: reqwest::ClientBuilder,
    ca_pem: Option<&[u8]>,
) -> Result<reqwest::Client, String> {
    crate::install_crypto_provider();
    let builder = match ca_pem {
        Some(pem) => {
            let certs = reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| format!("the CA file is not a PEM certificate bundle: {e}"))?;
            if certs.is_empty() {
                return Err("the CA file holds no certificate".into());
            }
            builder.tls_certs_only(certs)
        }
        None => builder,
    };
    builder
        .build()
        .map_err(|e| format!("cannot build an HTTP client: {e}"))
}

/// Accepts whatever certificate a client offers, once the client has shown, by signing
/// the handshake, that it holds the certificate's key: which issuer and subject a
/// channel admits is its security definition's to say, with an HTTP answer.
#[derive(Debug)]
struct AnyClientCert {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for AnyClientCert {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A self-signed certificate for localhost and its key, as PEM.
    fn pair(name: &str) -> (String, String) {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        (params.self_signed(&key).unwrap().pem(), key.serialize_pem())
    }

    fn served(tls: &ServerTls) -> Vec<u8> {
        tls.cert.current.read().unwrap().cert[0].to_vec()
    }

    #[test]
    fn a_changed_pair_serves_once_it_matches_and_a_broken_one_keeps_the_last_good() {
        let dir = tempfile::tempdir().unwrap();
        let files = TlsFiles {
            cert: dir.path().join("cert.pem"),
            key: dir.path().join("key.pem"),
        };
        let (cert_a, key_a) = pair("a");
        std::fs::write(&files.cert, &cert_a).unwrap();
        std::fs::write(&files.key, &key_a).unwrap();
        let tls = ServerTls::load(files.clone(), false).unwrap();
        let a = served(&tls);
        assert_eq!(tls.reload(), Ok(false), "nothing changed");

        // Half a rotation: b's key beside a's certificate.
        let (cert_b, key_b) = pair("b");
        std::fs::write(&files.key, format!("{key_b}\n")).unwrap();
        let refused = tls.reload().unwrap_err();
        assert!(refused.contains("is not the certificate"), "{refused}");
        assert_eq!(served(&tls), a, "the last good pair still serves");
        assert_eq!(tls.reload(), Ok(false), "a refused change is reported once");

        // The rest of it.
        std::fs::write(&files.cert, &cert_b).unwrap();
        assert_eq!(tls.reload(), Ok(true));
        assert_ne!(served(&tls), a);
        assert_eq!(
            served(&tls),
            certs_of_pem(cert_b.as_bytes()).unwrap()[0].to_vec()
        );

        // A file cut short, or gone: refused, the pair before it serving.
        std::fs::write(&files.cert, &cert_a[..cert_a.len() / 2]).unwrap();
        assert!(tls.reload().is_err());
        std::fs::write(&files.cert, &cert_b).unwrap();
        std::fs::remove_file(&files.key).unwrap();
        assert!(tls.reload().unwrap_err().contains("key.pem"));
        assert_eq!(
            served(&tls),
            certs_of_pem(cert_b.as_bytes()).unwrap()[0].to_vec()
        );
    }

    #[test]
    fn a_missing_or_foreign_file_is_named_at_load() {
        let dir = tempfile::tempdir().unwrap();
        let files = TlsFiles {
            cert: dir.path().join("cert.pem"),
            key: dir.path().join("key.pem"),
        };
        let refused = ServerTls::load(files.clone(), false).unwrap_err();
        assert!(refused.contains("cert.pem"), "{refused}");
        let (cert, _) = pair("a");
        std::fs::write(&files.cert, &cert).unwrap();
        std::fs::write(&files.key, "not a key").unwrap();
        let refused = ServerTls::load(files, false).unwrap_err();
        assert!(refused.contains("key.pem"), "{refused}");
    }
}
