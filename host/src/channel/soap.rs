//! SOAP channels: SOAP 1.1 and 1.2 over the server's HTTP listener.
//!
//! A SOAP channel is a path in the listener's route table beside the HTTP channels
//! (`channel/http/router.rs` holds both kinds, so a path is one or the other). A POST
//! there is read as a SOAP envelope (`envelope.rs`: namespaces resolved, caps on depth,
//! attributes and elements, DTDs refused), the service is chosen (the SOAPAction when
//! the request has one, else the body element's local name when the channel has
//! several services), and the body's first element is handed to it as its payload,
//! XML text that stands alone, with data format `xml` and channel kind `soap`, through
//! [`call_service`] like every channel. Its answer (one element, or nothing) goes back
//! in an envelope of the request's version; every failure is a Fault (`fault.rs`: the
//! one place SOAP errors become responses). `GET path?wsdl` serves the channel's WSDL
//! 1.1 (`wsdl.rs`).
//!
//! The `detail` keys of a SOAP request (documented in `wit/service.wit`):
//! `soap-version` (`1.1` or `1.2`), `soap-action` (when the request sent a non-empty
//! one) and `operation` (the local name of the body's element, when it has one).

mod envelope;
mod fault;
mod wsdl;

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use hyper::body::Incoming;

pub use envelope::{Limits, SOAP11_NS, SOAP12_NS};
pub use wsdl::ncname;

use crate::api::rate_limit::LimitedKind;
use crate::api::{SoapChannel, SoapVersion};
use crate::channel::{Inbound, call_service, log_refusal};
use crate::config::HttpSettings;
use crate::http_response::{error_response, header_pairs, header_value, read_body_or_refusal};
use crate::runtime::{self, CallError, ChannelKind, ErrorKind, Runtime};
use crate::security::{Caller, Guard};
use envelope::{BodyElement, EnvelopeError, version_name};
use fault::Code;

/// Answers one request to the SOAP channel `channel`.
pub async fn serve(
    runtime: &Arc<Runtime>,
    settings: &HttpSettings,
    channel: Arc<SoapChannel>,
    guard: Option<Arc<Guard>>,
    req: Request<Incoming>,
    cid: &str,
    limit: crate::rate_limit::LimitCheck<'_>,
) -> Response<Body> {
    let (mut head, body) = req.into_parts();
    // Rate limits before the credentials (the service's, once the envelope names it).
    let objects = [
        guard.as_ref().map(|g| (LimitedKind::Security, g.name())),
        Some((LimitedKind::SoapChannel, channel.name.as_str())),
    ];
    if let Err(limited) = limit.check(objects.into_iter().flatten()).await {
        return limited_fault(&head.headers, &channel.name, limited, cid);
    }
    // First, for the WSDL too, and before the body is read. A refusal is a Fault (the
    // version the content type says, else 1.1) with the status and the challenge.
    let caller = match &guard {
        Some(guard) => match guard
            .admit(
                &mut head.headers,
                head.extensions.get::<zato_api::tls::TlsConnection>(),
                &channel.name,
            )
            .await
        {
            Ok(caller) => Some(caller),
            Err(refusal) => {
                log_refusal(cid, &channel.name, guard.name(), &refusal);
                let version = ContentType::of(&head.headers)
                    .ok()
                    .and_then(|c| c.version)
                    .unwrap_or(SoapVersion::V11);
                let mut response =
                    fault::fault(version, Code::Sender, false, &refusal.message, cid);
                *response.status_mut() = refusal.status;
                if let Some(challenge) = refusal.challenge {
                    response
                        .headers_mut()
                        .insert(header::WWW_AUTHENTICATE, challenge);
                }
                return response;
            }
        },
        None => None,
    };
    if head.method == Method::GET && asks_for_wsdl(head.uri.query()) {
        let tls = head
            .extensions
            .get::<zato_api::tls::TlsConnection>()
            .is_some();
        return wsdl_response(runtime, &channel, &head.headers, &head.uri, tls);
    }
    if head.method != Method::POST {
        let mut response = error_response(
            StatusCode::METHOD_NOT_ALLOWED,
            format!(
                "SOAP channel `{}` answers POST (and GET with `?wsdl`), not {}",
                channel.name, head.method
            ),
            Some(cid),
        );
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, POST"));
        return response;
    }
    let content_type = match ContentType::of(&head.headers) {
        Ok(content_type) => content_type,
        Err(message) => {
            let mut response = fault::fault(SoapVersion::V11, Code::Sender, true, &message, cid);
            *response.status_mut() = StatusCode::UNSUPPORTED_MEDIA_TYPE;
            return response;
        }
    };
    // Until the envelope says otherwise, a Fault speaks the content type's version.
    let version = content_type.version.unwrap_or(SoapVersion::V11);
    let stall = Duration::from_millis(settings.body_read_timeout_ms);
    // A body too large (413), stalled (408) or broken (400) is the client's: a Fault
    // with that status, as SOAP clients read one.
    let payload = match read_body_or_refusal(body, settings.max_body_bytes, stall).await {
        Ok(payload) => payload,
        Err((status, message)) => {
            let mut response = fault::fault(version, Code::Sender, true, &message, cid);
            *response.status_mut() = status;
            return response;
        }
    };
    let envelope = match envelope::parse(&payload, content_type.version, Limits::default()) {
        Ok(envelope) => envelope,
        Err(e) => {
            let (code, malformed) = match &e {
                EnvelopeError::Malformed(_) => (Code::Sender, true),
                EnvelopeError::VersionMismatch(_) => (Code::VersionMismatch, false),
                EnvelopeError::MustUnderstand(_) => (Code::MustUnderstand, false),
            };
            tracing::debug!(cid, channel = %channel.name, "SOAP request refused: {e}");
            return fault::fault(version, code, malformed, &e.to_string(), cid);
        }
    };
    let version = envelope.version;
    if !channel.accepts(version) {
        let message = format!(
            "SOAP channel `{}` does not accept SOAP {}",
            channel.name,
            version_name(version)
        );
        return fault::fault(version, Code::VersionMismatch, false, &message, cid);
    }
    let action = match version {
        SoapVersion::V11 => header_value(&head.headers, "soapaction").map(unquote),
        SoapVersion::V12 => content_type.action.clone(),
    }
    .filter(|a| !a.is_empty());
    let service = match select(&channel, action.as_deref(), envelope.body.as_ref()) {
        Ok(service) => service.to_owned(),
        Err(message) => return fault::fault(version, Code::Sender, false, &message, cid),
    };
    if let Err(limited) = limit
        .check([(LimitedKind::Service, service.as_str())])
        .await
    {
        return limited_fault(&head.headers, &channel.name, limited, cid);
    }
    let (operation, xml) = match envelope.body {
        Some(BodyElement {
            local_name, xml, ..
        }) => (Some(local_name), xml),
        None => (None, String::new()),
    };
    let timeout = match channel.timeout_ms {
        0 => None,
        ms => Some(Duration::from_millis(ms)),
    };
    let inbound = Inbound {
        cid,
        service: &service,
        channel: ChannelKind::Soap,
        payload: xml.as_bytes(),
        data_format: crate::api::DataFormat::Xml,
        details: Box::new(SoapDetails {
            channel: Arc::clone(&channel),
            head,
            version,
            action,
            caller,
            operation,
        }),
        timeout,
    };
    let result = call_service(runtime, inbound).await;
    answer(version, &service, result, cid)
}

/// A rate limit's or an allow list's refusal as a Sender Fault (the version the content
/// type says, else 1.1) with its status and `Retry-After`.
fn limited_fault(
    headers: &http::HeaderMap,
    channel: &str,
    limited: crate::rate_limit::Limited,
    cid: &str,
) -> Response<Body> {
    crate::channel::log_limited(cid, channel, &limited);
    let version = ContentType::of(headers)
        .ok()
        .and_then(|c| c.version)
        .unwrap_or(SoapVersion::V11);
    let mut response = fault::fault(version, Code::Sender, false, &limited.message, cid);
    *response.status_mut() = limited.status;
    if let Some(seconds) = limited.retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

/// The service's answer in an envelope, or its failure as a Fault.
fn answer(
    version: SoapVersion,
    service: &str,
    result: Result<runtime::Response, CallError>,
    cid: &str,
) -> Response<Body> {
    match result {
        Ok(answer) => match envelope::check_answer(&answer.payload, Limits::default()) {
            Ok(element) => fault::response(
                StatusCode::OK,
                version,
                fault::answer_xml(version, element),
                cid,
            ),
            Err(reason) => {
                let message =
                    format!("service `{service}` gave an answer SOAP cannot carry: {reason}");
                tracing::error!(cid, "{message}");
                fault::fault(version, Code::Receiver, false, &message, cid)
            }
        },
        Err(error) => {
            let code = match error.kind() {
                ErrorKind::BadRequest
                | ErrorKind::Unauthorized
                | ErrorKind::Forbidden
                | ErrorKind::NotFound
                | ErrorKind::Conflict => Code::Sender,
                ErrorKind::Retry
                | ErrorKind::Timeout
                | ErrorKind::LoopDetected
                | ErrorKind::Internal => Code::Receiver,
            };
            fault::fault(version, code, false, &error.to_string(), cid)
        }
    }
}

/// The service a request is for: the one the SOAPAction names when it names one (its
/// last `/` or `#` segment will do), else the channel's only service, else the one
/// the body's element is named after.
fn select<'c>(
    channel: &'c SoapChannel,
    action: Option<&str>,
    body: Option<&BodyElement>,
) -> Result<&'c str, String> {
    let services = || channel.services.join(", ");
    if let Some(action) = action {
        let tail = action.rsplit(['/', '#']).next().unwrap_or(action);
        return channel
            .services
            .iter()
            .find(|s| *s == action || *s == tail || ncname(s) == tail)
            .map(String::as_str)
            .ok_or_else(|| {
                format!(
                    "unknown SOAPAction `{action}`: SOAP channel `{}` serves {}",
                    channel.name,
                    services()
                )
            });
    }
    if let [only] = channel.services.as_slice() {
        return Ok(only);
    }
    let Some(body) = body else {
        return Err(format!(
            "the request names no operation: send a SOAPAction or a body element named \
             after one of {}",
            services()
        ));
    };
    channel
        .services
        .iter()
        .find(|s| **s == body.local_name || ncname(s) == body.local_name)
        .map(String::as_str)
        .ok_or_else(|| {
            format!(
                "unknown operation: the body element `{}` names none of the services of SOAP \
                 channel `{}` ({}), and the request sent no SOAPAction",
                body.local_name,
                channel.name,
                services()
            )
        })
}

/// `"urn:x"` -> `urn:x`: a SOAPAction is a quoted string, by SOAP 1.1.
fn unquote(value: &str) -> String {
    let value = value.trim();
    value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(value)
        .to_owned()
}

/// What a request's content type says of it.
#[derive(Debug, Default, PartialEq, Eq)]
struct ContentType {
    /// `text/xml`: 1.1, `application/soap+xml`: 1.2, none: the envelope will say.
    version: Option<SoapVersion>,
    /// SOAP 1.2's `action` parameter.
    action: Option<String>,
}

impl ContentType {
    fn of(headers: &http::HeaderMap) -> Result<Self, String> {
        let Some(value) = header_value(headers, "content-type") else {
            return Ok(Self::default());
        };
        let mut parts = value.split(';');
        let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let version = match media.as_str() {
            "text/xml" => SoapVersion::V11,
            "application/soap+xml" => SoapVersion::V12,
            _ => {
                return Err(format!(
                    "content type `{value}` is not SOAP's: `text/xml` (SOAP 1.1) or \
                     `application/soap+xml` (SOAP 1.2)"
                ));
            }
        };
        let action = parts
            .filter_map(|p| p.split_once('='))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("action"))
            .map(|(_, v)| unquote(v));
        Ok(Self {
            version: Some(version),
            action,
        })
    }
}

fn asks_for_wsdl(query: Option<&str>) -> bool {
    query.is_some_and(|q| {
        q.split('&').any(|pair| {
            pair.split('=')
                .next()
                .is_some_and(|k| k.eq_ignore_ascii_case("wsdl"))
        })
    })
}

/// The channel's WSDL, its address from the request's `Host`.
fn wsdl_response(
    runtime: &Runtime,
    channel: &SoapChannel,
    headers: &http::HeaderMap,
    uri: &http::Uri,
    tls: bool,
) -> Response<Body> {
    let host = uri
        .authority()
        .map(|a| a.as_str().to_owned())
        .or_else(|| header_value(headers, "host").map(str::to_owned))
        .unwrap_or_else(|| "localhost".into());
    // The scheme the client used: the load balancer's word for it, else this
    // connection's.
    let scheme = match header_value(headers, "x-forwarded-proto") {
        Some("https") => "https",
        Some("http") => "http",
        _ if tls => "https",
        _ => "http",
    };
    let address = format!("{scheme}://{host}{}", channel.path);
    let services: Vec<_> = channel
        .services
        .iter()
        .map(|s| (s.clone(), runtime.registry().get(s).map(|l| l.info.clone())))
        .collect();
    let mut response = Response::new(Body::from(wsdl::generate(channel, &services, &address)));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/xml; charset=utf-8"),
    );
    response
}

/// What a service reads of a SOAP request when it asks.
struct SoapDetails {
    channel: Arc<SoapChannel>,
    head: http::request::Parts,
    version: SoapVersion,
    action: Option<String>,
    operation: Option<String>,
    caller: Option<Caller>,
}

impl runtime::RequestDetails for SoapDetails {
    fn channel_name(&self) -> &str {
        &self.channel.name
    }

    fn caller(&self) -> Option<&Caller> {
        self.caller.as_ref()
    }

    /// The keys of a SOAP request in `wit/service.wit`, in order.
    fn details(&self) -> Vec<(&str, Cow<'_, str>)> {
        ["soap-version", "soap-action", "operation"]
            .into_iter()
            .filter_map(|key| Some((key, self.detail(key)?)))
            .collect()
    }

    fn detail(&self, key: &str) -> Option<Cow<'_, str>> {
        match key {
            "soap-version" => Some(Cow::Borrowed(version_name(self.version))),
            "soap-action" => self.action.as_deref().map(Cow::Borrowed),
            "operation" => self.operation.as_deref().map(Cow::Borrowed),
            _ => None,
        }
    }

    fn headers(&self) -> Vec<(&str, &str)> {
        header_pairs(&self.head.headers)
    }

    fn header(&self, name: &str) -> Option<&str> {
        header_value(&self.head.headers, name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn channel(services: &[&str]) -> SoapChannel {
        SoapChannel {
            name: "c".into(),
            path: "/soap/c".into(),
            services: services.iter().map(|s| s.to_string()).collect(),
            versions: Vec::new(),
            timeout_ms: 0,
            namespace: String::new(),
            security: None,
        }
    }

    fn body(local: &str) -> BodyElement {
        BodyElement {
            local_name: local.into(),
            namespace: None,
            xml: format!("<{local}/>"),
        }
    }

    #[test]
    fn the_soap_action_or_the_body_element_selects_the_service() {
        let one = channel(&["a.one"]);
        assert_eq!(select(&one, None, Some(&body("anything"))), Ok("a.one"));
        assert_eq!(select(&one, None, None), Ok("a.one"));
        assert_eq!(select(&one, Some("urn:x/a.one"), None), Ok("a.one"));
        let err = select(&one, Some("nope"), None).unwrap_err();
        assert!(err.contains("unknown SOAPAction `nope`"), "{err}");
        let two = channel(&["a.one", "1st"]);
        assert_eq!(
            select(&two, Some("a.one"), Some(&body("_1st"))),
            Ok("a.one")
        );
        assert_eq!(select(&two, None, Some(&body("_1st"))), Ok("1st"));
        assert_eq!(select(&two, Some("urn:x#1st"), None), Ok("1st"));
        let err = select(&two, None, Some(&body("other"))).unwrap_err();
        assert!(err.contains("body element `other`"), "{err}");
        assert!(
            select(&two, None, None)
                .unwrap_err()
                .contains("names no operation")
        );
    }

    #[test]
    fn the_content_type_says_the_version_and_the_action() {
        let mut headers = http::HeaderMap::new();
        assert_eq!(ContentType::of(&headers), Ok(ContentType::default()));
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("Text/XML; charset=utf-8"),
        );
        assert_eq!(
            ContentType::of(&headers).unwrap().version,
            Some(SoapVersion::V11)
        );
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/soap+xml;charset=utf-8; action=\"urn:a/b\""),
        );
        assert_eq!(
            ContentType::of(&headers),
            Ok(ContentType {
                version: Some(SoapVersion::V12),
                action: Some("urn:a/b".into())
            })
        );
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        assert!(
            ContentType::of(&headers)
                .unwrap_err()
                .contains("`application/json`")
        );
        assert!(asks_for_wsdl(Some("wsdl")) && asks_for_wsdl(Some("x=1&WSDL=")));
        assert!(!asks_for_wsdl(Some("wsdlx")) && !asks_for_wsdl(None));
        assert_eq!(unquote(" \"a\" "), "a");
    }
}
