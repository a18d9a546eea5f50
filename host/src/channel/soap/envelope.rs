//! Reading SOAP 1.1 and 1.2 envelopes, and checking a service's XML answer, with caps.
//!
//! One pass of quick-xml's `NsReader` over the whole request: namespaces are resolved
//! whatever the prefixes, and the caps (depth, attributes per element, elements in all)
//! are checked as the reader goes, so a hostile document is refused at the first
//! element past a cap, not after it has been read whole. A DTD is refused where it
//! starts (`<!DOCTYPE`), which SOAP forbids anyway, and so is any entity reference but
//! XML's five and character references: with no DTD, no entity can be defined, so an
//! entity bomb fails at its first byte of markup.

use std::borrow::Cow;

use quick_xml::NsReader;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::{PrefixDeclaration, ResolveResult};

use crate::api::SoapVersion;

/// SOAP messages are XML 1.0 (SOAP 1.2 part 1, 5; SOAP 1.1 by its schema).
const XML_1_0: quick_xml::XmlVersion = quick_xml::XmlVersion::Implicit1_0;

/// The namespace of SOAP 1.1 envelopes.
pub const SOAP11_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";
/// The namespace of SOAP 1.2 envelopes.
pub const SOAP12_NS: &str = "http://www.w3.org/2003/05/soap-envelope";

/// How much of a document the reader accepts.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The deepest nesting of elements, the envelope's own counted.
    pub max_depth: usize,
    /// The most attributes (namespace declarations included) on one element.
    pub max_attributes: usize,
    /// The most elements in the whole document.
    pub max_elements: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_depth: 64,
            max_attributes: 64,
            max_elements: 100_000,
        }
    }
}

/// Why a request is not one the channel can process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvelopeError {
    /// Not a well-formed SOAP message (XML errors, a DTD, a cap, no envelope or body):
    /// the sender's fault, and an HTTP 400 (WS-I Basic Profile R1113 for 1.1).
    Malformed(String),
    /// An envelope of another SOAP version than the request's content type says, or
    /// one the channel does not accept.
    VersionMismatch(String),
    /// A header block marked `mustUnderstand`: this channel processes none.
    MustUnderstand(String),
}

impl std::fmt::Display for EnvelopeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Malformed(m) | Self::VersionMismatch(m) | Self::MustUnderstand(m) => {
                f.write_str(m)
            }
        }
    }
}

/// A request envelope, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub version: SoapVersion,
    /// The body's first element, if the body has one.
    pub body: Option<BodyElement>,
}

/// The body's first element: what the service gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyElement {
    /// Its local name (the operation, in document/literal wrapped style).
    pub local_name: String,
    /// Its namespace, if it has one.
    pub namespace: Option<String>,
    /// The element as XML text that stands alone: the namespace declarations in scope
    /// where it was are carried onto its start tag.
    pub xml: String,
}

fn malformed(message: impl Into<String>) -> EnvelopeError {
    EnvelopeError::Malformed(message.into())
}

/// Where the reader is in the envelope's structure.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    Header,
    Body,
}

/// Reads a SOAP request. `expected` is the version the content type said, if it said
/// one: an envelope of the other version is a version mismatch.
pub fn parse(
    body: &[u8],
    expected: Option<SoapVersion>,
    limits: Limits,
) -> Result<Envelope, EnvelopeError> {
    let text = std::str::from_utf8(body)
        .map_err(|e| malformed(format!("the request is not UTF-8: {e}")))?;
    let mut reader = NsReader::from_str(text);
    let mut scan = Scan::new(limits);
    let mut version = None;
    let mut part = None;
    let mut seen_body = false;
    let mut body_element: Option<BodyElement> = None;
    // The capture of the body's first element: its start offset and the text of the
    // namespace declarations to add to its start tag; closed at its end tag.
    let mut capture: Option<(usize, usize, String)> = None;
    loop {
        let before = reader.buffer_position() as usize;
        let event = reader.read_event().map_err(|e| {
            malformed(format!(
                "the request is not well-formed XML (at byte {}): {e}",
                reader.error_position()
            ))
        })?;
        let (start, empty) = match &event {
            Event::Start(e) => (Some(e), false),
            Event::Empty(e) => (Some(e), true),
            _ => (None, false),
        };
        if let Some(e) = start {
            scan.element(e, empty)?;
            let depth = scan.depth + usize::from(empty);
            let (ns, local) = reader.resolver().resolve_element(e.name());
            let ns = match ns {
                ResolveResult::Bound(ns) => Some(ns.into_inner()),
                ResolveResult::Unbound => None,
                ResolveResult::Unknown(prefix) => {
                    return Err(malformed(format!(
                        "element `{}` has the undeclared namespace prefix `{prefix}`",
                        e.name().as_ref()
                    )));
                }
            };
            let local = local.into_inner();
            let envelope_ns = version.map(namespace_of);
            match depth {
                1 => {
                    version = Some(envelope_version(ns, local, expected)?);
                }
                2 => {
                    let ours = ns == envelope_ns;
                    part = match local {
                        "Header" if ours && !seen_body && part.is_none() => Some(Part::Header),
                        "Body" if ours && !seen_body => {
                            seen_body = true;
                            Some(Part::Body)
                        }
                        _ => {
                            return Err(malformed(format!(
                                "unexpected element `{local}` in the SOAP Envelope: it holds an \
                                 optional Header and then a Body"
                            )));
                        }
                    };
                    if empty {
                        part = None;
                    }
                }
                3 if part == Some(Part::Header) => {
                    let must = e.attributes().flatten().any(|a| {
                        let (ans, alocal) = reader.resolver().resolve_attribute(a.key);
                        matches!(ans, ResolveResult::Bound(n) if Some(n.into_inner()) == envelope_ns)
                            && alocal.into_inner() == "mustUnderstand"
                            && matches!(a.normalized_value(XML_1_0).as_deref(), Ok("1") | Ok("true"))
                    });
                    if must {
                        return Err(EnvelopeError::MustUnderstand(format!(
                            "header `{local}` must be understood and this channel processes no \
                             header"
                        )));
                    }
                }
                3 if part == Some(Part::Body) && body_element.is_none() && capture.is_none() => {
                    let declarations = carried_declarations(&reader, e);
                    let name_end = before + 1 + e.name().as_ref().len();
                    let element = BodyElement {
                        local_name: local.to_owned(),
                        namespace: ns.map(str::to_owned),
                        xml: String::new(),
                    };
                    if empty {
                        let end = reader.buffer_position() as usize;
                        body_element = Some(BodyElement {
                            xml: splice(text, before, name_end, end, &declarations),
                            ..element
                        });
                    } else {
                        capture = Some((before, name_end, declarations));
                        body_element = Some(element);
                    }
                }
                _ => {}
            }
            continue;
        }
        match event {
            Event::End(_) => {
                if scan.depth == 3
                    && let Some((from, name_end, declarations)) = capture.take()
                {
                    let end = reader.buffer_position() as usize;
                    if let Some(element) = &mut body_element {
                        element.xml = splice(text, from, name_end, end, &declarations);
                    }
                }
                if scan.depth == 2 {
                    part = None;
                }
                scan.depth -= 1;
            }
            Event::Eof => {
                scan.eof()?;
                break;
            }
            other => scan.other(other)?,
        }
    }
    let Some(version) = version else {
        return Err(malformed("the request holds no SOAP Envelope"));
    };
    if !seen_body {
        return Err(malformed("the SOAP Envelope holds no Body"));
    }
    Ok(Envelope {
        version,
        body: body_element,
    })
}

/// Checks a service's answer: one element (after an optional XML declaration), within
/// the caps, no DTD. Returns the element's text without the declaration; an empty or
/// blank answer is an empty body.
pub fn check_answer(answer: &[u8], limits: Limits) -> Result<&str, String> {
    let text = std::str::from_utf8(answer).map_err(|e| format!("the answer is not UTF-8: {e}"))?;
    let mut reader = NsReader::from_str(text);
    let mut scan = Scan::new(limits);
    let mut first: Option<usize> = None;
    let mut roots = 0;
    loop {
        let before = reader.buffer_position() as usize;
        let event = reader
            .read_event()
            .map_err(|e| format!("the answer is not well-formed XML: {e}"))?;
        match &event {
            Event::Start(e) | Event::Empty(e) => {
                let empty = matches!(event, Event::Empty(_));
                scan.element(e, empty).map_err(|e| e.to_string())?;
                if scan.depth + usize::from(empty) == 1 {
                    roots += 1;
                    first.get_or_insert(before);
                }
                // An undeclared prefix would break the envelope it goes into.
                if let ResolveResult::Unknown(prefix) =
                    reader.resolver().resolve_element(e.name()).0
                {
                    return Err(format!(
                        "the answer uses the undeclared namespace prefix `{prefix}`"
                    ));
                }
            }
            Event::End(_) => scan.depth -= 1,
            Event::Eof => {
                scan.eof().map_err(|e| e.to_string())?;
                break;
            }
            Event::Decl(_) => {}
            _ => scan.other(event).map_err(|e| e.to_string())?,
        }
    }
    match (roots, first) {
        (0, _) if text.trim().is_empty() => Ok(""),
        (1, Some(from)) => Ok(text[from..].trim_end()),
        (0, _) => Err("the answer holds no XML element".into()),
        (n, _) => Err(format!("the answer holds {n} elements, not one")),
    }
}

/// The caps and the refusals every document gets.
struct Scan {
    limits: Limits,
    depth: usize,
    elements: usize,
}

impl Scan {
    fn new(limits: Limits) -> Self {
        Self {
            limits,
            depth: 0,
            elements: 0,
        }
    }

    /// A start or empty tag: counted, its depth and attributes checked.
    fn element(&mut self, e: &BytesStart, empty: bool) -> Result<(), EnvelopeError> {
        self.elements += 1;
        if self.elements > self.limits.max_elements {
            return Err(malformed(format!(
                "the document has more than {} elements",
                self.limits.max_elements
            )));
        }
        let depth = self.depth + 1;
        if depth > self.limits.max_depth {
            return Err(malformed(format!(
                "the document nests elements deeper than {} levels",
                self.limits.max_depth
            )));
        }
        let mut count = 0;
        for attribute in e.attributes() {
            let attribute = attribute.map_err(|err| {
                malformed(format!(
                    "element `{}` has a malformed attribute: {err}",
                    e.name().as_ref()
                ))
            })?;
            count += 1;
            if count > self.limits.max_attributes {
                return Err(malformed(format!(
                    "element `{}` has more than {} attributes",
                    e.name().as_ref(),
                    self.limits.max_attributes
                )));
            }
            attribute.normalized_value(XML_1_0).map_err(|err| {
                malformed(format!(
                    "attribute `{}` has a value that does not read: {err}",
                    attribute.key.as_ref()
                ))
            })?;
        }
        if !empty {
            self.depth = depth;
        }
        Ok(())
    }

    /// The end of the document, which must not be inside an element.
    fn eof(&self) -> Result<(), EnvelopeError> {
        if self.depth > 0 {
            return Err(malformed(format!(
                "the document is not well-formed: it ends inside {} open element(s)",
                self.depth
            )));
        }
        Ok(())
    }

    /// Anything but a tag.
    fn other(&mut self, event: Event) -> Result<(), EnvelopeError> {
        match event {
            Event::DocType(_) => Err(malformed(
                "a DTD (`<!DOCTYPE`) is not allowed in a SOAP message",
            )),
            Event::PI(_) => Err(malformed(
                "a processing instruction is not allowed in a SOAP message",
            )),
            Event::GeneralRef(r) => {
                if r.is_char_ref() {
                    match r.resolve_char_ref() {
                        Ok(Some(_)) => Ok(()),
                        _ => Err(malformed(format!(
                            "`&{};` is not a valid character reference",
                            r.as_ref()
                        ))),
                    }
                } else if quick_xml::escape::resolve_xml_entity(r.as_ref()).is_some() {
                    Ok(())
                } else {
                    Err(malformed(format!(
                        "the entity `&{};` is not defined (a SOAP message has no DTD to \
                         define one)",
                        r.as_ref()
                    )))
                }
            }
            Event::Text(t) if self.depth == 0 && !t.as_ref().trim_ascii().is_empty() => {
                Err(malformed("text outside the document's element"))
            }
            _ => Ok(()),
        }
    }
}

fn namespace_of(version: SoapVersion) -> &'static str {
    match version {
        SoapVersion::V11 => SOAP11_NS,
        SoapVersion::V12 => SOAP12_NS,
    }
}

/// The version of the document's root element, which must be a SOAP Envelope.
fn envelope_version(
    ns: Option<&str>,
    local: &str,
    expected: Option<SoapVersion>,
) -> Result<SoapVersion, EnvelopeError> {
    let version = match ns {
        Some(SOAP11_NS) if local == "Envelope" => SoapVersion::V11,
        Some(SOAP12_NS) if local == "Envelope" => SoapVersion::V12,
        _ if local == "Envelope" => {
            return Err(EnvelopeError::VersionMismatch(format!(
                "the Envelope's namespace `{}` is neither SOAP 1.1's `{SOAP11_NS}` nor SOAP \
                 1.2's `{SOAP12_NS}`",
                ns.unwrap_or("")
            )));
        }
        _ => {
            return Err(malformed(format!(
                "the document's element is `{local}`, not a SOAP Envelope"
            )));
        }
    };
    match expected {
        Some(expected) if expected != version => Err(EnvelopeError::VersionMismatch(format!(
            "the content type says SOAP {} but the Envelope is SOAP {}",
            version_name(expected),
            version_name(version)
        ))),
        _ => Ok(version),
    }
}

/// `1.1` or `1.2`.
pub fn version_name(version: SoapVersion) -> &'static str {
    match version {
        SoapVersion::V11 => "1.1",
        SoapVersion::V12 => "1.2",
    }
}

/// The namespace declarations in scope at `e` that `e` does not make itself, as
/// attribute text to add to its start tag (` xmlns:p="..."`).
fn carried_declarations(reader: &NsReader<&[u8]>, e: &BytesStart) -> String {
    let own: Vec<String> = e
        .attributes()
        .flatten()
        .filter(|a| a.key.as_namespace_binding().is_some())
        .map(|a| a.key.as_ref().to_owned())
        .collect();
    let mut out = String::new();
    for (prefix, namespace) in reader.resolver().bindings() {
        let attribute: Cow<str> = match prefix {
            PrefixDeclaration::Default => "xmlns".into(),
            PrefixDeclaration::Named(p) => format!("xmlns:{p}").into(),
        };
        if own.iter().any(|o| *o == *attribute) {
            continue;
        }
        // The value as written (already escaped), but for quotes: it may have been
        // delimited by apostrophes.
        let value = namespace.into_inner().replace('"', "&quot;");
        out.push_str(&format!(" {attribute}=\"{value}\""));
    }
    out
}

/// `text[from..end]` with `declarations` inserted at `name_end` (just after the
/// element's name in its start tag).
fn splice(text: &str, from: usize, name_end: usize, end: usize, declarations: &str) -> String {
    let mut out = String::with_capacity(end - from + declarations.len());
    out.push_str(&text[from..name_end]);
    out.push_str(declarations);
    out.push_str(&text[name_end..end]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(xml: &str) -> Envelope {
        parse(xml.as_bytes(), None, Limits::default()).unwrap_or_else(|e| panic!("{e}: {xml}"))
    }

    fn refused(xml: &str) -> String {
        match parse(xml.as_bytes(), None, Limits::default()) {
            Err(EnvelopeError::Malformed(m)) => m,
            other => panic!("{xml}: expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn both_versions_read_whatever_their_prefixes() {
        let e = parse_ok(
            r#"<?xml version="1.0" encoding="utf-8"?>
            <s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:t="urn:t">
              <s:Header><t:trace>1</t:trace></s:Header>
              <s:Body><t:getInvoice><t:id>42</t:id></t:getInvoice></s:Body>
            </s:Envelope>"#,
        );
        assert_eq!(e.version, SoapVersion::V11);
        let body = e.body.unwrap();
        assert_eq!(body.local_name, "getInvoice");
        assert_eq!(body.namespace.as_deref(), Some("urn:t"));
        assert_eq!(
            body.xml,
            r#"<t:getInvoice xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:t="urn:t"><t:id>42</t:id></t:getInvoice>"#
        );
        // SOAP 1.2, the envelope's namespace the default one, the element's its own.
        let e = parse_ok(
            r#"<Envelope xmlns="http://www.w3.org/2003/05/soap-envelope"><Body><op xmlns="urn:x" a='q"'/></Body></Envelope>"#,
        );
        assert_eq!(e.version, SoapVersion::V12);
        let body = e.body.unwrap();
        assert_eq!(body.local_name, "op");
        assert_eq!(body.namespace.as_deref(), Some("urn:x"));
        assert_eq!(body.xml, r#"<op xmlns="urn:x" a='q"'/>"#);
        // An empty body reads, with no element.
        let e = parse_ok(
            r#"<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body/></e:Envelope>"#,
        );
        assert_eq!(e.body, None);
    }

    #[test]
    fn a_carried_namespace_keeps_its_value_whatever_its_quotes() {
        let e = parse_ok(
            r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:a='urn:"q"&amp;'><s:Body><a:x/></s:Body></s:Envelope>"#,
        );
        let xml = e.body.unwrap().xml;
        assert!(xml.contains(r#"xmlns:a="urn:&quot;q&quot;&amp;""#), "{xml}");
        // What was carried reads again as the same namespace.
        let mut reader = NsReader::from_str(&xml);
        let (ns, _) = reader
            .read_resolved_event()
            .map(|(ns, _)| (format!("{ns:?}"), ()))
            .unwrap();
        assert!(ns.contains("urn:"), "{ns}");
    }

    #[test]
    fn what_is_not_a_soap_envelope_is_refused_naming_why() {
        assert!(refused("<a/>").contains("`a`, not a SOAP Envelope"));
        assert!(refused("").contains("no SOAP Envelope"));
        assert!(
            refused(r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>"#)
                .contains("ends inside 2 open")
        );
        assert!(
            refused(r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"/>"#)
                .contains("no Body")
        );
        assert!(
            refused(r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body></s:Envelope>"#)
                .contains("not well-formed")
        );
        assert!(
            refused(r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><x:y/></s:Body></s:Envelope>"#)
                .contains("undeclared namespace prefix `x`")
        );
        assert!(
            refused(r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body/><s:Body/></s:Envelope>"#)
                .contains("unexpected element `Body`")
        );
        match parse(b"\xff", None, Limits::default()) {
            Err(EnvelopeError::Malformed(m)) => assert!(m.contains("not UTF-8"), "{m}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn dtds_and_undefined_entities_are_refused() {
        let bomb = r#"<?xml version="1.0"?>
            <!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>
            <s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><x>&lol2;</x></s:Body></s:Envelope>"#;
        assert!(refused(bomb).contains("DTD"));
        let undefined = r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><x>&lol;</x></s:Body></s:Envelope>"#;
        assert!(refused(undefined).contains("`&lol;` is not defined"));
        let in_attribute = r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><x a="&lol;"/></s:Body></s:Envelope>"#;
        assert!(refused(in_attribute).contains("attribute `a`"));
        // XML's own entities and character references read.
        parse_ok(
            r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><x a="&lt;">&amp;&#233;&#x41;</x></s:Body></s:Envelope>"#,
        );
        assert!(refused(r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><x>&#0;</x></s:Body></s:Envelope>"#).contains("character reference"));
        assert!(refused(r#"<?pi x?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body/></s:Envelope>"#).contains("processing instruction"));
    }

    #[test]
    fn caps_refuse_deep_wide_and_large_documents_at_once() {
        let open = r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>"#;
        let deep = format!("{open}{}", "<a>".repeat(10_000));
        let started = std::time::Instant::now();
        assert!(refused(&deep).contains("deeper than 64 levels"));
        assert!(started.elapsed() < std::time::Duration::from_millis(100));
        let ok_depth = format!(
            "{open}{}{}</s:Body></s:Envelope>",
            "<a>".repeat(62),
            "</a>".repeat(62)
        );
        parse_ok(&ok_depth);
        let attributes: String = (0..65).map(|i| format!(" a{i}=\"1\"")).collect();
        assert!(
            refused(&format!("{open}<x{attributes}/></s:Body></s:Envelope>"))
                .contains("more than 64 attributes")
        );
        let limits = Limits {
            max_elements: 10,
            ..Limits::default()
        };
        let many = format!("{open}{}</s:Body></s:Envelope>", "<a/>".repeat(9));
        assert!(
            matches!(parse(many.as_bytes(), None, limits), Err(EnvelopeError::Malformed(m)) if m.contains("more than 10 elements"))
        );
    }

    #[test]
    fn versions_and_must_understand_headers_are_checked() {
        let v11 = r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body/></s:Envelope>"#;
        assert!(matches!(
            parse(v11.as_bytes(), Some(SoapVersion::V12), Limits::default()),
            Err(EnvelopeError::VersionMismatch(m)) if m.contains("says SOAP 1.2 but the Envelope is SOAP 1.1")
        ));
        assert!(matches!(
            parse(
                br#"<Envelope xmlns="urn:other"><Body/></Envelope>"#,
                None,
                Limits::default()
            ),
            Err(EnvelopeError::VersionMismatch(_))
        ));
        let must = r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Header><h:auth xmlns:h="urn:h" s:mustUnderstand="true"/></s:Header><s:Body/></s:Envelope>"#;
        assert!(matches!(
            parse(must.as_bytes(), None, Limits::default()),
            Err(EnvelopeError::MustUnderstand(m)) if m.contains("`auth`")
        ));
        // Another namespace's `mustUnderstand` is not SOAP's.
        let other = r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Header><h:auth xmlns:h="urn:h" h:mustUnderstand="1"/></s:Header><s:Body/></s:Envelope>"#;
        parse_ok(other);
    }

    #[test]
    fn an_answer_is_one_element() {
        let limits = Limits::default();
        assert_eq!(
            check_answer(b"<?xml version=\"1.0\"?>\n<a><b/></a>\n", limits).unwrap(),
            "<a><b/></a>"
        );
        assert_eq!(check_answer(b"  ", limits).unwrap(), "");
        assert!(
            check_answer(b"<a/><b/>", limits)
                .unwrap_err()
                .contains("2 elements")
        );
        assert!(
            check_answer(b"hello", limits)
                .unwrap_err()
                .contains("outside")
        );
        assert!(
            check_answer(b"<!-- only -->", limits)
                .unwrap_err()
                .contains("no XML element")
        );
        assert!(
            check_answer(b"<a>", limits)
                .unwrap_err()
                .contains("not well-formed")
        );
        assert!(
            check_answer(b"<!DOCTYPE a><a/>", limits)
                .unwrap_err()
                .contains("DTD")
        );
        assert!(
            check_answer(b"<p:a/>", limits)
                .unwrap_err()
                .contains("undeclared")
        );
    }
}
