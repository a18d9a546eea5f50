//! SOAP responses: an answer in its envelope, or a Fault, each in the request's
//! version with its content type and HTTP status.
//!
//! Statuses follow the specifications: SOAP 1.1 answers every Fault with 500 (WS-I
//! Basic Profile R1126) except a request that is not a well-formed SOAP message at
//! all, which gets 400 (R1113); SOAP 1.2 answers a `Sender` Fault with 400 and every
//! other Fault with 500 (SOAP 1.2 part 2, 7.5.2.2).

use axum::body::Body;
use http::{HeaderValue, Response, StatusCode, header};
use quick_xml::escape::escape;

use super::envelope::{SOAP11_NS, SOAP12_NS};
use crate::api::SoapVersion;
use crate::http_response::CID_HEADER;

/// Whose fault a Fault is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// The request's (1.1 `Client`, 1.2 `Sender`).
    Sender,
    /// The server's or the service's (1.1 `Server`, 1.2 `Receiver`).
    Receiver,
    /// An envelope of a version not accepted here.
    VersionMismatch,
    /// A header block that had to be understood.
    MustUnderstand,
}

/// The content type of a SOAP message of `version`.
pub fn content_type(version: SoapVersion) -> &'static str {
    match version {
        SoapVersion::V11 => "text/xml; charset=utf-8",
        SoapVersion::V12 => "application/soap+xml; charset=utf-8",
    }
}

/// The HTTP status of a Fault; `malformed`: the request was not a well-formed SOAP
/// message.
pub fn status(version: SoapVersion, code: Code, malformed: bool) -> StatusCode {
    match (version, code) {
        _ if malformed => StatusCode::BAD_REQUEST,
        (SoapVersion::V12, Code::Sender) => StatusCode::BAD_REQUEST,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// A Fault envelope.
pub fn fault_xml(version: SoapVersion, code: Code, reason: &str) -> String {
    let reason = escape(reason);
    match version {
        SoapVersion::V11 => {
            let code = match code {
                Code::Sender => "Client",
                Code::Receiver => "Server",
                Code::VersionMismatch => "VersionMismatch",
                Code::MustUnderstand => "MustUnderstand",
            };
            format!(
                "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<soap:Envelope \
                 xmlns:soap=\"{SOAP11_NS}\"><soap:Body><soap:Fault><faultcode>soap:{code}\
                 </faultcode><faultstring>{reason}</faultstring></soap:Fault></soap:Body>\
                 </soap:Envelope>\n"
            )
        }
        SoapVersion::V12 => {
            let code = match code {
                Code::Sender => "Sender",
                Code::Receiver => "Receiver",
                Code::VersionMismatch => "VersionMismatch",
                Code::MustUnderstand => "MustUnderstand",
            };
            format!(
                "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<soap:Envelope \
                 xmlns:soap=\"{SOAP12_NS}\"><soap:Body><soap:Fault><soap:Code><soap:Value>\
                 soap:{code}</soap:Value></soap:Code><soap:Reason><soap:Text xml:lang=\"en\">\
                 {reason}</soap:Text></soap:Reason></soap:Fault></soap:Body></soap:Envelope>\n"
            )
        }
    }
}

/// An answer's element (already checked to be one element, or empty) in an envelope.
pub fn answer_xml(version: SoapVersion, element: &str) -> String {
    let ns = match version {
        SoapVersion::V11 => SOAP11_NS,
        SoapVersion::V12 => SOAP12_NS,
    };
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<soap:Envelope xmlns:soap=\"{ns}\">\
         <soap:Body>{element}</soap:Body></soap:Envelope>\n"
    )
}

/// A Fault as an HTTP response.
pub fn fault(
    version: SoapVersion,
    code: Code,
    malformed: bool,
    reason: &str,
    cid: &str,
) -> Response<Body> {
    response(
        status(version, code, malformed),
        version,
        fault_xml(version, code, reason),
        cid,
    )
}

/// A SOAP message as an HTTP response.
pub fn response(
    status: StatusCode,
    version: SoapVersion,
    xml: String,
    cid: &str,
) -> Response<Body> {
    let mut response = Response::new(Body::from(xml));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(version)),
    );
    if let Ok(cid) = HeaderValue::from_str(cid) {
        headers.insert(CID_HEADER, cid);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::soap::envelope::{Limits, check_answer};

    #[test]
    fn faults_carry_each_versions_codes_and_statuses() {
        let v11 = fault_xml(SoapVersion::V11, Code::Sender, "no <operation> `x`");
        assert!(v11.contains("<faultcode>soap:Client</faultcode>"), "{v11}");
        assert!(v11.contains("no &lt;operation&gt; `x`"), "{v11}");
        let v12 = fault_xml(SoapVersion::V12, Code::Receiver, "boom");
        assert!(
            v12.contains("<soap:Value>soap:Receiver</soap:Value>"),
            "{v12}"
        );
        assert!(v12.contains(SOAP12_NS));
        // Both are well-formed documents.
        for xml in [&v11, &v12] {
            check_answer(xml.as_bytes(), Limits::default()).unwrap();
        }
        assert_eq!(status(SoapVersion::V11, Code::Sender, false), 500);
        assert_eq!(status(SoapVersion::V11, Code::Sender, true), 400);
        assert_eq!(status(SoapVersion::V12, Code::Sender, false), 400);
        assert_eq!(status(SoapVersion::V12, Code::Receiver, false), 500);
        assert_eq!(status(SoapVersion::V12, Code::MustUnderstand, false), 500);
    }
}
