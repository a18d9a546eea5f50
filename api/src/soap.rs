//! SOAP channels: a URL path on the server's HTTP listener where SOAP 1.1 and 1.2
//! clients call services, with a WSDL 1.1 at the path's `?wsdl`.
//!
//! A channel exposes one service or several. With one, every request goes to it; with
//! several, the request's SOAPAction (SOAP 1.1's `SOAPAction` header, SOAP 1.2's
//! `action` content-type parameter) selects the service when it is not empty, and the
//! local name of the body's element otherwise. The WSDL names one operation per
//! service, the service's own name, with that name as its SOAPAction and as the local
//! name of its request element (`{service}Response` for its answer's), in the channel's
//! target namespace.

use serde::{Deserialize, Serialize};

pub use crate::outconn::SoapVersion;

/// A SOAP channel: a URL path routed to one or more services.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SoapChannel {
    /// Unique name of the channel.
    #[cfg_attr(feature = "openapi", schema(example = "billing"))]
    pub name: String,
    /// The URL path, exact (no `{params}`), e.g. `/soap/billing`; taken by no HTTP
    /// channel.
    #[cfg_attr(feature = "openapi", schema(example = "/soap/billing"))]
    pub path: String,
    /// The services the channel exposes, one operation each, at least one; with
    /// several, the SOAPAction or the body element's local name selects one.
    #[cfg_attr(feature = "openapi", schema(example = json!(["billing.get-invoice"])))]
    pub services: Vec<String>,
    /// The SOAP versions accepted; empty means both 1.1 and 1.2.
    #[serde(default)]
    pub versions: Vec<SoapVersion>,
    /// Per-request timeout; 0 means the server default. At most
    /// [`MAX_TIMEOUT_MS`](crate::MAX_TIMEOUT_MS).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(maximum = 9_223_372_036_854_775_807_u64))]
    pub timeout_ms: u64,
    /// The WSDL's target namespace, the namespace of the request and response
    /// elements; empty means `urn:zato:soap:` + the channel's name.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(example = "urn:example:billing"))]
    pub namespace: String,
    /// The security definition a caller must satisfy (its name), for the WSDL too;
    /// none: anyone who reaches the port may call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(example = "billing-key"))]
    pub security: Option<String>,
}

impl SoapChannel {
    /// The WSDL's target namespace: [`SoapChannel::namespace`], or
    /// `urn:zato:soap:` + the channel's name (percent-encoded) when it is empty.
    pub fn target_namespace(&self) -> String {
        if self.namespace.is_empty() {
            format!("urn:zato:soap:{}", crate::client::segment(&self.name))
        } else {
            self.namespace.clone()
        }
    }

    /// Whether the channel accepts requests of `version`.
    pub fn accepts(&self, version: SoapVersion) -> bool {
        self.versions.is_empty() || self.versions.contains(&version)
    }
}

/// The answer to the delete of a SOAP channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeletedSoapChannel {
    /// The deleted channel's name.
    pub name: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_channel_reads_with_its_defaults_and_names_its_namespace() {
        let channel: SoapChannel =
            serde_json::from_str(r#"{"name":"bill ing","path":"/soap/b","services":["a.b"]}"#)
                .unwrap();
        assert!(channel.accepts(SoapVersion::V11) && channel.accepts(SoapVersion::V12));
        assert_eq!(channel.target_namespace(), "urn:zato:soap:bill%20ing");
        let channel: SoapChannel = serde_json::from_str(
            r#"{"name":"b","path":"/soap/b","services":["a.b"],"versions":["1.2"],"namespace":"urn:x"}"#,
        )
        .unwrap();
        assert!(!channel.accepts(SoapVersion::V11) && channel.accepts(SoapVersion::V12));
        assert_eq!(channel.target_namespace(), "urn:x");
    }
}
