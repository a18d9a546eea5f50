//! TLS client-certificate definitions: a caller is admitted when the certificate it
//! offered in the handshake (its possession of the key checked there, see
//! `zato_api::tls`) chains to the definition's CA, is valid now and is meant for client
//! authentication (webpki's checks, through rustls's own client verifier), and its
//! subject has each field the definition names with the value it names.

use std::sync::Arc;

use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::ClientCertVerifier;
use x509_parser::x509::X509Name;

use crate::api::ClientCertSettings;

/// The check of one definition.
pub struct ClientCert {
    verifier: Arc<dyn ClientCertVerifier>,
    subject: Vec<(String, String)>,
}

impl ClientCert {
    /// The check `settings` describe; the error says what in them is unusable.
    pub fn new(settings: &ClientCertSettings) -> Result<Self, String> {
        let ca = zato_api::tls::certs_of_pem(settings.ca_pem.as_bytes())
            .map_err(|e| format!("`ca_pem`: {e}"))?;
        if ca.is_empty() {
            return Err("`ca_pem` holds no certificate".into());
        }
        let roots = zato_api::tls::roots_of(&ca).map_err(|e| format!("`ca_pem`: {e}"))?;
        let verifier =
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots), zato_api::tls::provider())
                .build()
                .map_err(|e| format!("`ca_pem`: {e}"))?;
        Ok(Self {
            verifier,
            subject: settings
                .subject
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        })
    }

    /// Who `chain` (the client's certificate first) says the caller is, its common name
    /// (else its whole subject), if the definition admits it; else why not.
    pub fn check(&self, chain: &[CertificateDer<'static>]) -> Result<String, String> {
        let Some((leaf, intermediates)) = chain.split_first() else {
            return Err("no client certificate".into());
        };
        self.verifier
            .verify_client_cert(leaf, intermediates, UnixTime::now())
            .map_err(|e| format!("a client certificate the definition does not trust: {e}"))?;
        let (_, cert) = x509_parser::parse_x509_certificate(leaf)
            .map_err(|e| format!("a client certificate that does not parse: {e}"))?;
        let subject = cert.subject();
        for (field, wanted) in &self.subject {
            let values = values_of(subject, field);
            if !values.iter().any(|v| v == wanted) {
                return Err(format!(
                    "a client certificate whose subject `{}` has no {field}={}",
                    printable(&subject.to_string()),
                    printable(wanted)
                ));
            }
        }
        Ok(values_of(subject, "CN")
            .into_iter()
            .next()
            .unwrap_or_else(|| subject.to_string()))
    }
}

/// The values of the subject field `field` (one of `SUBJECT_FIELDS`) in `name`.
fn values_of(name: &X509Name<'_>, field: &str) -> Vec<String> {
    let attributes: Vec<_> = match field {
        "CN" => name.iter_common_name().collect(),
        "O" => name.iter_organization().collect(),
        "OU" => name.iter_organizational_unit().collect(),
        "C" => name.iter_country().collect(),
        "ST" => name.iter_state_or_province().collect(),
        "L" => name.iter_locality().collect(),
        _ => Vec::new(),
    };
    attributes
        .into_iter()
        .filter_map(|a| a.as_str().ok().map(str::to_owned))
        .collect()
}

/// Text from a certificate as a log line may hold it.
fn printable(text: &str) -> String {
    text.chars()
        .take(200)
        .flat_map(char::escape_debug)
        .collect()
}
