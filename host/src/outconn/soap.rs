//! Outgoing SOAP connections: an HTTP connection that wraps a service's body element in
//! a SOAP 1.1 or 1.2 envelope, posts it, and unwraps the answer: the body's first child
//! as XML text, or a SOAP Fault as a [`SoapFault`] the service reads.
//!
//! Invariants: the body a service gives is checked to be one well-formed element
//! (no DTD, no processing instruction, at most [`MAX_DEPTH`] deep) before anything is
//! sent; an answer is parsed with quick-xml's `NsReader`, which never expands a DTD's
//! entities, and is refused if it declares a DTD, is nested deeper than [`MAX_DEPTH`] or
//! is larger than [`http::MAX_RESPONSE_BODY`](super::http::MAX_RESPONSE_BODY).

use std::time::Instant;

use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;
use reqwest::Method;
use reqwest::header::{CONTENT_TYPE, HeaderValue};

use super::OutconnError;
use super::http::HttpConn;
use crate::api::{SoapSettings, SoapVersion};

/// SOAP 1.1's envelope namespace.
pub const SOAP11_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";
/// SOAP 1.2's envelope namespace.
pub const SOAP12_NS: &str = "http://www.w3.org/2003/05/soap-envelope";
/// The deepest nesting of elements accepted, in a body sent or an answer received.
pub const MAX_DEPTH: usize = 64;
/// The largest body element a service may send.
pub const MAX_BODY_XML: usize = 4 * 1024 * 1024;
/// The longest SOAPAction accepted.
pub const MAX_ACTION: usize = 1024;

/// A SOAP Fault, in the terms of both versions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SoapFault {
    /// 1.1's `faultcode`, 1.2's `Code/Value`, as written (e.g. `soap:Server`).
    pub code: String,
    /// 1.1's `faultstring`, 1.2's first `Reason/Text`.
    pub reason: String,
    /// The inner XML of 1.1's `detail` or 1.2's `Detail`, if there is one.
    pub detail: Option<String>,
}

/// Why a SOAP call did not produce an answer element.
#[derive(Debug, Clone)]
pub enum SoapCallError {
    /// The call failed before or without a SOAP answer.
    Call(OutconnError),
    /// The other side answered with a SOAP Fault.
    Fault(SoapFault),
}

impl From<OutconnError> for SoapCallError {
    fn from(err: OutconnError) -> Self {
        Self::Call(err)
    }
}

/// A live SOAP connection.
pub struct SoapConn {
    http: HttpConn,
    version: SoapVersion,
    soap_action: String,
}

impl SoapConn {
    /// Builds the live connection of a definition, or says why it cannot be built.
    pub fn new(settings: &SoapSettings, secret: Option<&str>) -> Result<Self, String> {
        check_action(&settings.soap_action).map_err(|why| format!("`soap_action`: {why}"))?;
        Ok(Self {
            http: HttpConn::new(&settings.http, secret)?,
            version: settings.version,
            soap_action: settings.soap_action.clone(),
        })
    }

    /// Calls the endpoint with `body` (one XML element) as the envelope's body and
    /// `action` as the SOAPAction (the connection's default when empty). Answers the
    /// body's first child element as XML text (empty for an empty body).
    pub async fn call(
        &self,
        action: &str,
        body: &str,
        deadline: Instant,
    ) -> Result<String, SoapCallError> {
        check_action(action)
            .map_err(|why| OutconnError::BadRequest(format!("SOAPAction: {why}")))?;
        check_body(body).map_err(OutconnError::BadRequest)?;
        let action = if action.is_empty() {
            &self.soap_action
        } else {
            action
        };
        let envelope = wrap(self.version, body);
        let mut headers = self.http.base_headers();
        let quoted = format!("\"{action}\"");
        let content_type = match self.version {
            SoapVersion::V11 => {
                headers.insert(
                    "soapaction",
                    HeaderValue::from_str(&quoted).map_err(|_| bad_action())?,
                );
                "text/xml; charset=utf-8".to_owned()
            }
            SoapVersion::V12 if action.is_empty() => "application/soap+xml; charset=utf-8".into(),
            SoapVersion::V12 => format!("application/soap+xml; charset=utf-8; action={quoted}"),
        };
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_str(&content_type).map_err(|_| bad_action())?,
        );
        let url = self.http.base().clone();
        let answer = self
            .http
            .send_prepared(Method::POST, url, headers, envelope.into(), deadline)
            .await?;
        let text = std::str::from_utf8(&answer.body).map_err(|_| {
            OutconnError::Remote(format!(
                "the SOAP answer (HTTP {}) is not UTF-8 text",
                answer.status
            ))
        })?;
        match unwrap(text) {
            Ok(Unwrapped::Body(xml)) => Ok(xml),
            Ok(Unwrapped::Fault(fault)) => Err(SoapCallError::Fault(fault)),
            Err(why) => Err(OutconnError::Remote(format!(
                "the answer (HTTP {}) is not a SOAP envelope: {why}",
                answer.status
            ))
            .into()),
        }
    }
}

fn bad_action() -> OutconnError {
    OutconnError::BadRequest("SOAPAction holds a character a header cannot carry".into())
}

/// Checks that the other side answers; says what answered.
pub async fn ping(
    settings: &SoapSettings,
    secret: Option<&str>,
    deadline: Instant,
) -> Result<String, OutconnError> {
    super::http::ping(&settings.http, secret, deadline).await
}

fn check_action(action: &str) -> Result<(), String> {
    if action.len() > MAX_ACTION {
        return Err(format!("{} bytes, at most {MAX_ACTION}", action.len()));
    }
    if action.chars().any(|c| c.is_control() || c == '"') {
        return Err(format!(
            "`{}` holds a control character or `\"`",
            action.escape_debug()
        ));
    }
    Ok(())
}

/// The envelope around `body` (already checked by [`check_body`]).
pub fn wrap(version: SoapVersion, body: &str) -> String {
    let ns = match version {
        SoapVersion::V11 => SOAP11_NS,
        SoapVersion::V12 => SOAP12_NS,
    };
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\
         <soap:Envelope xmlns:soap=\"{ns}\"><soap:Body>{body}</soap:Body></soap:Envelope>"
    )
}

/// A reader that refuses what SOAP does not allow and checks end names.
fn reader(xml: &str) -> NsReader<&[u8]> {
    let mut reader = NsReader::from_reader(xml.as_bytes());
    let config = reader.config_mut();
    config.check_end_names = true;
    config.expand_empty_elements = false;
    reader
}

/// Checks that `body` is exactly one well-formed element (comments and whitespace
/// around it allowed), with no DTD or processing instruction, at most [`MAX_DEPTH`]
/// deep.
pub fn check_body(body: &str) -> Result<(), String> {
    if body.len() > MAX_BODY_XML {
        return Err(format!(
            "the body element is {} bytes, at most {MAX_BODY_XML}",
            body.len()
        ));
    }
    let mut reader = reader(body);
    let mut depth = 0usize;
    let mut roots = 0;
    loop {
        let event = reader.read_event().map_err(|err| {
            format!(
                "the body is not well-formed XML: {err} (at byte {})",
                reader.error_position()
            )
        })?;
        match event {
            Event::Start(_) => {
                if depth == 0 {
                    roots += 1;
                }
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(format!(
                        "the body is nested deeper than {MAX_DEPTH} elements"
                    ));
                }
            }
            Event::Empty(_) if depth == 0 => roots += 1,
            Event::End(_) => depth -= 1,
            Event::DocType(_) => return Err("the body declares a DTD: refused".into()),
            Event::Decl(_) | Event::PI(_) => {
                return Err("the body holds an XML declaration or a processing instruction".into());
            }
            Event::Text(text) if depth == 0 && !text.xml10_content().trim().is_empty() => {
                return Err("the body has text outside its element".into());
            }
            Event::CData(_) | Event::GeneralRef(_) if depth == 0 => {
                return Err("the body has text outside its element".into());
            }
            Event::Eof => break,
            _ => {}
        }
        if roots > 1 {
            return Err("the body holds more than one element: give one element".into());
        }
    }
    if depth != 0 {
        return Err("the body is not well-formed XML: an element is not closed".into());
    }
    if roots == 0 {
        return Err("the body holds no element".into());
    }
    Ok(())
}

/// What an answer's envelope carries.
#[derive(Debug, PartialEq, Eq)]
pub enum Unwrapped {
    /// The body's first child element as XML text, with the namespace declarations
    /// of the envelope and body it relies on copied onto it; empty for an empty body.
    Body(String),
    /// A SOAP Fault.
    Fault(SoapFault),
}

/// The namespace of a resolved name, if bound.
fn ns_of(resolved: &ResolveResult<'_>) -> Option<String> {
    match resolved {
        ResolveResult::Bound(ns) => Some(ns.0.to_owned()),
        _ => None,
    }
}

/// The `xmlns` and `xmlns:p` declarations of a start tag, raw.
fn declarations(start: &BytesStart<'_>) -> Vec<(String, String)> {
    start
        .attributes()
        .flatten()
        .filter_map(|attr| {
            let key = attr.key.0.to_owned();
            (key == "xmlns" || key.starts_with("xmlns:"))
                .then(|| (key, attr.value.replace('"', "&quot;")))
        })
        .collect()
}

/// Parses a SOAP 1.1 or 1.2 answer (the version is the envelope's namespace).
pub fn unwrap(xml: &str) -> Result<Unwrapped, String> {
    let mut reader = reader(xml);
    // (namespace, local name) of each open element.
    let mut path: Vec<(Option<String>, String)> = Vec::new();
    let mut env_ns: Option<String> = None;
    // Declarations on the envelope and the body, copied onto the answer element.
    let mut in_scope: Vec<(String, String)> = Vec::new();
    let mut body_seen = false;
    let mut child: Option<(usize, String)> = None; // (start offset, its qname)
    let mut answer: Option<Unwrapped> = None;
    let mut fault: Option<SoapFault> = None;
    // The text being collected for a fault field, and where a detail's content starts.
    let mut text = String::new();
    let mut detail_start = 0usize;
    loop {
        let before = reader.buffer_position() as usize;
        let (ns, event) = match reader.read_resolved_event() {
            Ok((resolved, event)) => (ns_of(&resolved), event),
            Err(err) => {
                return Err(format!(
                    "not well-formed XML: {err} (at byte {})",
                    reader.error_position()
                ));
            }
        };
        let after = reader.buffer_position() as usize;
        match event {
            Event::DocType(_) => return Err("it declares a DTD: refused".into()),
            Event::Start(ref start) | Event::Empty(ref start) => {
                let empty = matches!(event, Event::Empty(_));
                let local = start.local_name().into_inner().to_owned();
                let depth = path.len();
                if depth + 1 > MAX_DEPTH {
                    return Err(format!("it is nested deeper than {MAX_DEPTH} elements"));
                }
                match depth {
                    0 => {
                        let is_env = local == "Envelope"
                            && matches!(ns.as_deref(), Some(SOAP11_NS | SOAP12_NS));
                        if !is_env {
                            return Err(format!(
                                "its root element is `{}`, not a SOAP 1.1 or 1.2 `Envelope`",
                                start.name().0
                            ));
                        }
                        env_ns = ns.clone();
                        in_scope.extend(declarations(start));
                    }
                    1 if ns == env_ns && local == "Body" => {
                        body_seen = true;
                        for decl in declarations(start) {
                            in_scope.retain(|(key, _)| *key != decl.0);
                            in_scope.push(decl);
                        }
                    }
                    2 if path[1].1 == "Body"
                        && answer.is_none()
                        && child.is_none()
                        && fault.is_none() =>
                    {
                        if ns == env_ns && local == "Fault" {
                            fault = Some(SoapFault {
                                code: String::new(),
                                reason: String::new(),
                                detail: None,
                            });
                        } else {
                            let qname = start.name().0.to_owned();
                            if empty {
                                answer = Some(Unwrapped::Body(with_scope(
                                    &xml[before..after],
                                    &qname,
                                    start,
                                    &in_scope,
                                    env_ns.as_deref(),
                                )));
                            } else {
                                child = Some((before, qname));
                            }
                        }
                    }
                    _ => {}
                }
                if let Some(fault) = fault.as_mut().filter(|_| depth >= 3) {
                    text.clear();
                    if is_detail(&path, &local, depth) {
                        detail_start = after;
                        if empty {
                            fault.detail = Some(String::new());
                        }
                    }
                }
                if !empty {
                    path.push((ns, local));
                }
            }
            Event::End(_) => {
                let (_, local) = path.pop().ok_or("an end tag without a start")?;
                let depth = path.len();
                if depth == 2
                    && path[1].1 == "Body"
                    && let Some((start, qname)) = child.take()
                {
                    let element = &xml[start..after];
                    let start_tag = reader_start_tag(element);
                    answer = Some(Unwrapped::Body(with_scope_raw(
                        element,
                        &qname,
                        start_tag,
                        &in_scope,
                        env_ns.as_deref(),
                    )));
                }
                if let Some(fault) = fault.as_mut().filter(|_| path.len() >= 3) {
                    let field = &path[3..];
                    let v12 = env_ns.as_deref() == Some(SOAP12_NS);
                    let trimmed = text.trim().to_owned();
                    match (
                        v12,
                        field
                            .iter()
                            .map(|(_, l)| l.as_str())
                            .collect::<Vec<_>>()
                            .as_slice(),
                        local.as_str(),
                    ) {
                        (false, [], "faultcode") => fault.code = trimmed,
                        (false, [], "faultstring") => fault.reason = trimmed,
                        (true, ["Code"], "Value") if fault.code.is_empty() => fault.code = trimmed,
                        (true, ["Reason"], "Text") if fault.reason.is_empty() => {
                            fault.reason = trimmed
                        }
                        _ => {}
                    }
                    if is_detail(&path, &local, depth) {
                        fault.detail = Some(xml[detail_start..before].trim().to_owned());
                    }
                    if depth == 3 {
                        text.clear();
                    }
                }
            }
            Event::Text(ref t) if fault.is_some() => text.push_str(&t.xml10_content()),
            Event::CData(ref t) if fault.is_some() => text.push_str(&t.xml10_content()),
            Event::GeneralRef(ref r) if fault.is_some() => {
                let name = r.xml10_content();
                if let Some(c) = r.resolve_char_ref().map_err(|err| err.to_string())? {
                    text.push(c);
                } else if let Some(s) = quick_xml::escape::resolve_predefined_entity(&name) {
                    text.push_str(s);
                } else {
                    return Err(format!("it refers to the undeclared entity `&{name};`"));
                }
            }
            Event::GeneralRef(ref r) => {
                let name = r.xml10_content();
                if !r.is_char_ref() && quick_xml::escape::resolve_predefined_entity(&name).is_none()
                {
                    return Err(format!("it refers to the undeclared entity `&{name};`"));
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !path.is_empty() {
        return Err("an element is not closed".into());
    }
    if env_ns.is_none() {
        return Err("it is empty".into());
    }
    if !body_seen {
        return Err("its envelope has no `Body`".into());
    }
    if let Some(fault) = fault {
        return Ok(Unwrapped::Fault(fault));
    }
    Ok(answer.unwrap_or(Unwrapped::Body(String::new())))
}

/// Whether the element `local` opened or closed at `depth` (under `path`) is a fault's
/// detail: 1.1's unqualified `detail` or 1.2's `Detail`, a child of `Fault`.
fn is_detail(path: &[(Option<String>, String)], local: &str, depth: usize) -> bool {
    depth == 3
        && path.get(2).is_some_and(|(_, l)| l == "Fault")
        && (local == "detail" || local == "Detail")
}

/// The start tag at the head of `element` (up to its first `>` outside quotes).
fn reader_start_tag(element: &str) -> usize {
    let mut quote = None;
    for (i, c) in element.char_indices() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '>') => return i + 1,
            _ => {}
        }
    }
    element.len()
}

/// `element` with the declarations in scope that its own start tag does not make
/// inserted after its name (the envelope's own namespace left out).
fn with_scope(
    element: &str,
    qname: &str,
    start: &BytesStart<'_>,
    in_scope: &[(String, String)],
    env_ns: Option<&str>,
) -> String {
    let own = declarations(start);
    insert_decls(element, qname, &own, in_scope, env_ns)
}

fn with_scope_raw(
    element: &str,
    qname: &str,
    start_tag_len: usize,
    in_scope: &[(String, String)],
    env_ns: Option<&str>,
) -> String {
    // Re-read the start tag to learn its own declarations.
    let tag = &element[..start_tag_len];
    let mut reader = NsReader::from_reader(tag.as_bytes());
    let own = match reader.read_event() {
        Ok(Event::Start(start) | Event::Empty(start)) => declarations(&start),
        _ => Vec::new(),
    };
    insert_decls(element, qname, &own, in_scope, env_ns)
}

fn insert_decls(
    element: &str,
    qname: &str,
    own: &[(String, String)],
    in_scope: &[(String, String)],
    env_ns: Option<&str>,
) -> String {
    let mut extra = String::new();
    for (key, value) in in_scope {
        if own.iter().any(|(k, _)| k == key) || Some(value.as_str()) == env_ns {
            continue;
        }
        extra.push_str(&format!(" {key}=\"{value}\""));
    }
    let at = 1 + qname.len();
    if extra.is_empty() || element.len() < at {
        return element.to_owned();
    }
    format!("{}{extra}{}", &element[..at], &element[at..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_is_wrapped_in_the_version_s_envelope() {
        let body = r#"<GetInvoice xmlns="urn:x"><id>1</id></GetInvoice>"#;
        let v11 = wrap(SoapVersion::V11, body);
        assert!(v11.contains(SOAP11_NS) && v11.contains(body));
        let v12 = wrap(SoapVersion::V12, body);
        assert!(v12.contains(SOAP12_NS) && v12.contains(body));
        // What is wrapped unwraps to itself.
        assert_eq!(unwrap(&v11).unwrap(), Unwrapped::Body(body.into()));
        assert_eq!(unwrap(&v12).unwrap(), Unwrapped::Body(body.into()));
    }

    #[test]
    fn a_body_must_be_one_well_formed_element() {
        assert!(check_body("<a><b/></a>").is_ok());
        assert!(check_body("  <!-- c --><a xmlns='urn:x'>t &amp; u</a>\n").is_ok());
        for (bad, says) in [
            ("", "no element"),
            ("text", "outside"),
            ("<a/><b/>", "more than one"),
            ("<a>", "not closed"),
            ("<a></b>", "not well-formed"),
            ("<!DOCTYPE a [<!ENTITY x 'y'>]><a>&x;</a>", "DTD"),
            ("<?xml version='1.0'?><a/>", "declaration"),
            ("<a/>tail", "outside"),
        ] {
            let err = check_body(bad).unwrap_err();
            assert!(err.contains(says), "{bad}: {err}");
        }
        let deep = "<a>".repeat(MAX_DEPTH + 1) + &"</a>".repeat(MAX_DEPTH + 1);
        assert!(check_body(&deep).unwrap_err().contains("deeper"));
    }

    #[test]
    fn the_answer_keeps_the_namespaces_it_relies_on_whatever_the_prefix() {
        let answer = r#"<?xml version="1.0"?>
<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/" xmlns:m="urn:billing">
  <S:Header><m:Trace>1</m:Trace></S:Header>
  <S:Body>
    <m:GetInvoiceResponse><m:total>12.50</m:total></m:GetInvoiceResponse>
  </S:Body>
</S:Envelope>"#;
        assert_eq!(
            unwrap(answer).unwrap(),
            Unwrapped::Body(
                r#"<m:GetInvoiceResponse xmlns:m="urn:billing"><m:total>12.50</m:total></m:GetInvoiceResponse>"#
                    .into()
            )
        );
        let v12 = r#"<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Body><r xmlns="urn:r"/></env:Body></env:Envelope>"#;
        assert_eq!(
            unwrap(v12).unwrap(),
            Unwrapped::Body(r#"<r xmlns="urn:r"/>"#.into())
        );
        let empty = r#"<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/"><e:Body/></e:Envelope>"#;
        assert_eq!(unwrap(empty).unwrap(), Unwrapped::Body(String::new()));
    }

    #[test]
    fn a_fault_is_read_in_both_versions() {
        let v11 = r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">
<soapenv:Body><soapenv:Fault>
  <faultcode>soapenv:Client</faultcode>
  <faultstring>Invoice &lt;7&gt; not found</faultstring>
  <detail><e:code xmlns:e="urn:e">NF-7</e:code></detail>
</soapenv:Fault></soapenv:Body></soapenv:Envelope>"#;
        assert_eq!(
            unwrap(v11).unwrap(),
            Unwrapped::Fault(SoapFault {
                code: "soapenv:Client".into(),
                reason: "Invoice <7> not found".into(),
                detail: Some(r#"<e:code xmlns:e="urn:e">NF-7</e:code>"#.into()),
            })
        );
        let v12 = r#"<x:Envelope xmlns:x="http://www.w3.org/2003/05/soap-envelope"><x:Body><x:Fault>
<x:Code><x:Value>x:Sender</x:Value><x:Subcode><x:Value>m:Bad</x:Value></x:Subcode></x:Code>
<x:Reason><x:Text xml:lang="en">bad id</x:Text><x:Text xml:lang="fr">mauvais</x:Text></x:Reason>
</x:Fault></x:Body></x:Envelope>"#;
        assert_eq!(
            unwrap(v12).unwrap(),
            Unwrapped::Fault(SoapFault {
                code: "x:Sender".into(),
                reason: "bad id".into(),
                detail: None,
            })
        );
    }

    #[test]
    fn what_is_not_a_safe_envelope_is_refused() {
        let bomb = r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><a>&lol2;</a></soap:Body></soap:Envelope>"#;
        assert!(unwrap(bomb).unwrap_err().contains("DTD"));
        let entity = r#"<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><a>&ext;</a></soap:Body></soap:Envelope>"#;
        assert!(unwrap(entity).unwrap_err().contains("&ext;"));
        let deep = format!(
            r#"<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>{}{}</soap:Body></soap:Envelope>"#,
            "<a>".repeat(10_000),
            "</a>".repeat(10_000)
        );
        assert!(unwrap(&deep).unwrap_err().contains("deeper"));
        assert!(
            unwrap("<html><body>oops</body></html>")
                .unwrap_err()
                .contains("`html`")
        );
        // The right local name in the wrong namespace is not an envelope.
        assert!(unwrap(r#"<Envelope xmlns="urn:other"><Body/></Envelope>"#).is_err());
        assert!(
            unwrap(r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"/>"#)
                .unwrap_err()
                .contains("no `Body`")
        );
        assert!(unwrap("").unwrap_err().contains("empty"));
        assert!(
            unwrap(r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>"#)
                .is_err()
        );
    }

    /// A listener that answers each request with an empty SOAP body and keeps the heads
    /// it received.
    async fn recording() -> (
        std::net::SocketAddr,
        std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    ) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let heads = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = heads.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let seen = seen.clone();
                tokio::spawn(async move {
                    // Up to the end of the head, however the client splits its writes.
                    let mut got = Vec::new();
                    let mut buf = [0u8; 4096];
                    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => got.extend_from_slice(&buf[..n]),
                        }
                    }
                    let text = String::from_utf8_lossy(&got).into_owned();
                    let head = text.split("\r\n\r\n").next().unwrap_or_default();
                    seen.lock().unwrap().push(head.to_ascii_lowercase());
                    let body = r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><ok/></s:Body></s:Envelope>"#;
                    let answer = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: text/xml\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = stream.write_all(answer.as_bytes()).await;
                });
            }
        });
        (addr, heads)
    }

    #[tokio::test]
    async fn an_empty_action_sends_the_connections_default_soapaction() {
        let (addr, heads) = recording().await;
        for version in [SoapVersion::V11, SoapVersion::V12] {
            let settings = SoapSettings {
                http: crate::api::HttpSettings {
                    address: format!("http://{addr}/billing"),
                    timeout_ms: 0,
                    pool_size: 0,
                    tls_verify: true,
                    ca_pem: None,
                    auth: crate::api::HttpAuth::None,
                    headers: Vec::new(),
                    retries: 0,
                    ping_method: "HEAD".into(),
                },
                version,
                soap_action: "urn:billing#Default".into(),
            };
            let conn = SoapConn::new(&settings, None).unwrap();
            let deadline = Instant::now() + std::time::Duration::from_secs(10);
            assert_eq!(conn.call("", "<a/>", deadline).await.unwrap(), "<ok/>");
            conn.call("urn:billing#Own", "<a/>", deadline)
                .await
                .unwrap();
        }
        let heads = heads.lock().unwrap().clone();
        assert_eq!(heads.len(), 4, "{heads:?}");
        assert!(
            heads[0].contains("soapaction: \"urn:billing#default\""),
            "{}",
            heads[0]
        );
        assert!(
            heads[1].contains("soapaction: \"urn:billing#own\""),
            "{}",
            heads[1]
        );
        assert!(
            heads[2].contains("action=\"urn:billing#default\"") && !heads[2].contains("soapaction"),
            "{}",
            heads[2]
        );
        assert!(
            heads[3].contains("action=\"urn:billing#own\""),
            "{}",
            heads[3]
        );
    }
}
