//! An environment's own certificate authority: `zato ca create DIR` makes one, `zato ca
//! issue` and `zato quickstart create --tls` have it sign certificates for servers, the
//! load balancer, the web admin and clients (rcgen, ECDSA P-256 keys).
//!
//! ```text
//! CA_DIR/ca.pem       the CA's certificate: what clients (curl --cacert) trust
//! CA_DIR/ca-key.pem   its private key (mode 0600): keep it where servers are not
//! OUT/cert.pem        a certificate it signed
//! OUT/key.pem         that certificate's private key (mode 0600)
//! ```

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use time::{Duration, OffsetDateTime};

/// The CA's certificate in its directory.
pub const CA_CERT: &str = "ca.pem";
/// The CA's private key in its directory.
pub const CA_KEY: &str = "ca-key.pem";
/// A signed certificate in its directory.
pub const CERT: &str = "cert.pem";
/// That certificate's private key in its directory.
pub const KEY: &str = "key.pem";
/// How long a CA is valid.
const CA_DAYS: i64 = 3650;
/// How long a certificate it signs is valid (what browsers still accept).
const LEAF_DAYS: i64 = 825;
/// The hosts every certificate of a local environment names.
pub const LOCAL_HOSTS: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// A CA able to sign.
pub struct Ca {
    issuer: Issuer<'static, KeyPair>,
    dir: PathBuf,
}

/// What a signed certificate is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Usage {
    /// A listener (a server, the load balancer, the web admin); it may also present it
    /// as a client.
    Server,
    /// A client presenting it to a channel whose security definition asks for one.
    Client,
}

/// Where a signed certificate was written.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Issued {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl Ca {
    /// Makes a CA named `name` in `dir` (created if missing); refuses to replace one.
    pub fn create(dir: &Path, name: &str) -> anyhow::Result<Self> {
        let (cert_path, key_path) = (dir.join(CA_CERT), dir.join(CA_KEY));
        for path in [&cert_path, &key_path] {
            if path.exists() {
                bail!(
                    "`{}` exists: a CA is there already (certificates it signed would stop \
                     verifying if it were replaced); choose another directory",
                    path.display()
                );
            }
        }
        let name = name.trim();
        if name.is_empty() {
            bail!("the CA's name is empty");
        }
        let mut params = CertificateParams::default();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let (not_before, not_after) = validity(CA_DAYS);
        params.not_before = not_before;
        params.not_after = not_after;
        let key = KeyPair::generate().context("cannot make the CA's key")?;
        let cert = params
            .self_signed(&key)
            .context("cannot sign the CA's certificate")?;
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create `{}`", dir.display()))?;
        write_secret(&key_path, &key.serialize_pem())?;
        write(&cert_path, &cert.pem())?;
        Ok(Self {
            issuer: Issuer::new(params, key),
            dir: dir.to_path_buf(),
        })
    }

    /// The CA in `dir` (`ca.pem` and `ca-key.pem`).
    pub fn load(dir: &Path) -> anyhow::Result<Self> {
        let (cert_path, key_path) = (dir.join(CA_CERT), dir.join(CA_KEY));
        let cert = std::fs::read_to_string(&cert_path).with_context(|| {
            format!(
                "cannot read the CA's certificate `{}` (make a CA with `zato ca create {}`)",
                cert_path.display(),
                dir.display()
            )
        })?;
        let key = std::fs::read_to_string(&key_path)
            .with_context(|| format!("cannot read the CA's key `{}`", key_path.display()))?;
        let key = KeyPair::from_pem(&key)
            .with_context(|| format!("`{}` is not a private key", key_path.display()))?;
        let issuer = Issuer::from_ca_cert_pem(&cert, key)
            .with_context(|| format!("`{}` is not a CA certificate", cert_path.display()))?;
        Ok(Self {
            issuer,
            dir: dir.to_path_buf(),
        })
    }

    /// The CA's certificate file.
    pub fn cert_path(&self) -> PathBuf {
        self.dir.join(CA_CERT)
    }

    /// Signs a new key's certificate for `common_name`, naming `hosts` (DNS names or IP
    /// addresses) for a listener, and writes both to `out` (created if missing).
    pub fn issue(
        &self,
        out: &Path,
        common_name: &str,
        hosts: &[String],
        usage: Usage,
    ) -> anyhow::Result<Issued> {
        let common_name = common_name.trim();
        if common_name.is_empty() {
            bail!("the certificate's name (its common name) is empty");
        }
        let mut params = CertificateParams::new(hosts.to_vec())
            .context("a host is neither a DNS name nor an IP address")?;
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.is_ca = IsCa::ExplicitNoCa;
        params.use_authority_key_identifier_extension = true;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = match usage {
            Usage::Server => vec![
                ExtendedKeyUsagePurpose::ServerAuth,
                ExtendedKeyUsagePurpose::ClientAuth,
            ],
            Usage::Client => vec![ExtendedKeyUsagePurpose::ClientAuth],
        };
        let (not_before, not_after) = validity(LEAF_DAYS);
        params.not_before = not_before;
        params.not_after = not_after;
        let key = KeyPair::generate().context("cannot make the certificate's key")?;
        let cert = params
            .signed_by(&key, &self.issuer)
            .context("cannot sign the certificate")?;
        std::fs::create_dir_all(out)
            .with_context(|| format!("cannot create `{}`", out.display()))?;
        let issued = Issued {
            cert: out.join(CERT),
            key: out.join(KEY),
        };
        // The key first: a watcher that sees the new certificate finds its key there.
        write_secret(&issued.key, &key.serialize_pem())?;
        write(&issued.cert, &cert.pem())?;
        Ok(issued)
    }
}

/// From an hour ago (clocks differ a little) to `days` from now.
fn validity(days: i64) -> (OffsetDateTime, OffsetDateTime) {
    let now = OffsetDateTime::now_utc();
    (now - Duration::hours(1), now + Duration::days(days))
}

/// Writes `text` to `path` by a rename, so that a reader (a listener reloading its
/// certificate) never sees half of it.
fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    write_mode(path, text, 0o644)
}

/// As [`write`], readable by its owner only.
fn write_secret(path: &Path, text: &str) -> anyhow::Result<()> {
    write_mode(path, text, 0o600)
}

fn write_mode(path: &Path, text: &str, mode: u32) -> anyhow::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let name = path
        .file_name()
        .with_context(|| format!("`{}` is not a file path", path.display()))?;
    let partial = path.with_file_name(format!(".{}.part", name.to_string_lossy()));
    let _ = std::fs::remove_file(&partial);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&partial)
        .with_context(|| format!("cannot write `{}`", partial.display()))?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write `{}`", partial.display()))?;
    std::fs::rename(&partial, path).with_context(|| format!("cannot write `{}`", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ca_signs_certificates_that_rustls_verifies_for_their_hosts_only() {
        let tmp = tempfile::tempdir().unwrap();
        let ca = Ca::create(&tmp.path().join("ca"), "test CA").unwrap();
        let again = Ca::create(&tmp.path().join("ca"), "test CA");
        assert!(again.err().unwrap().to_string().contains("exists"));
        let hosts: Vec<String> = LOCAL_HOSTS.iter().map(|h| h.to_string()).collect();
        let issued = Ca::load(&tmp.path().join("ca"))
            .unwrap()
            .issue(&tmp.path().join("s1"), "server1", &hosts, Usage::Server)
            .unwrap();
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&issued.key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "a key is its owner's only");
        let roots =
            zato_api::tls::roots_of(&zato_api::tls::read_certs(&ca.cert_path()).unwrap()).unwrap();
        let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
            std::sync::Arc::new(roots),
            zato_api::tls::provider(),
        )
        .build()
        .unwrap();
        let cert = zato_api::tls::read_certs(&issued.cert).unwrap();
        let now = rustls::pki_types::UnixTime::now();
        use rustls::client::danger::ServerCertVerifier as _;
        for host in ["localhost", "127.0.0.1", "::1"] {
            let name = rustls::pki_types::ServerName::try_from(host).unwrap();
            verifier
                .verify_server_cert(&cert[0], &[], &name, &[], now)
                .unwrap_or_else(|e| panic!("{host}: {e}"));
        }
        let other = rustls::pki_types::ServerName::try_from("example.com").unwrap();
        assert!(
            verifier
                .verify_server_cert(&cert[0], &[], &other, &[], now)
                .is_err()
        );
    }
}
