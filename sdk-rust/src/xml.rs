//! Small XML helpers for SOAP bodies, both ways: [`Element`] builds an element with
//! escaped text and attributes, [`field`] and [`fields`] read the text of elements by
//! their local name (whatever their namespace prefix).
//!
//! ```
//! use zato_sdk::xml::{self, Element};
//!
//! let body = Element::new("GetInvoice")
//!     .ns("urn:billing")
//!     .child(Element::new("id").text("7 & 8"))
//!     .to_string();
//! assert_eq!(body, r#"<GetInvoice xmlns="urn:billing"><id>7 &amp; 8</id></GetInvoice>"#);
//!
//! let answer = r#"<b:GetInvoiceResponse xmlns:b="urn:billing"><b:total>12.50</b:total></b:GetInvoiceResponse>"#;
//! assert_eq!(xml::field(answer, "total")?.as_deref(), Some("12.50"));
//! # Ok::<(), zato_sdk::Error>(())
//! ```
//!
//! The reader refuses a DTD and undeclared entities, so a hostile document cannot
//! make it expand anything.

use std::fmt;

use quick_xml::events::Event;
use quick_xml::reader::Reader;

use crate::Error;

/// An XML element to build: a name, attributes, text and children.
#[derive(Debug, Clone, Default)]
pub struct Element {
    name: String,
    attributes: Vec<(String, String)>,
    content: Vec<Node>,
}

#[derive(Debug, Clone)]
enum Node {
    Text(String),
    Element(Element),
}

impl Element {
    /// An element called `name` (with its prefix, if any, e.g. `b:GetInvoice`).
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            ..Self::default()
        }
    }

    /// Declares `uri` as the default namespace (`xmlns="uri"`).
    pub fn ns(self, uri: &str) -> Self {
        self.attr("xmlns", uri)
    }

    /// Adds the attribute `name="value"` (the value is escaped).
    pub fn attr(mut self, name: &str, value: &str) -> Self {
        self.attributes.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Adds text (escaped).
    pub fn text(mut self, text: &str) -> Self {
        self.content.push(Node::Text(text.to_owned()));
        self
    }

    /// Adds a child element.
    pub fn child(mut self, child: Element) -> Self {
        self.content.push(Node::Element(child));
        self
    }

    /// Adds the child `<name>text</name>`.
    pub fn field(self, name: &str, text: &str) -> Self {
        self.child(Element::new(name).text(text))
    }
}

impl fmt::Display for Element {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{}", self.name)?;
        for (name, value) in &self.attributes {
            write!(
                f,
                " {name}=\"{}\"",
                quick_xml::escape::escape(value.as_str())
            )?;
        }
        if self.content.is_empty() {
            return f.write_str("/>");
        }
        f.write_str(">")?;
        for node in &self.content {
            match node {
                Node::Text(text) => f.write_str(&quick_xml::escape::escape(text.as_str()))?,
                Node::Element(element) => element.fmt(f)?,
            }
        }
        write!(f, "</{}>", self.name)
    }
}

/// The text of the first element called `local_name` (any prefix) in `xml`, or `None`
/// if there is none. An element with children answers the text directly inside it.
///
/// # Errors
///
/// [`Error::Internal`] if `xml` is not well-formed, declares a DTD or refers to an
/// undeclared entity: a document from another system is not the caller's fault.
pub fn field(xml: &str, local_name: &str) -> Result<Option<String>, Error> {
    Ok(fields(xml)?
        .into_iter()
        .find(|(name, _)| name == local_name)
        .map(|(_, text)| text))
}

/// Every element of `xml` that holds text and no child element, in document order, as
/// (local name, text) pairs; text is unescaped and trimmed.
///
/// # Errors
///
/// As [`field`].
pub fn fields(xml: &str) -> Result<Vec<(String, String)>, Error> {
    let bad = |why: String| Error::internal(format!("unreadable XML: {why}"));
    let mut reader = Reader::from_str(xml);
    reader.config_mut().check_end_names = true;
    let mut out = Vec::new();
    // (local name, text so far, whether it had a child) of each open element.
    let mut open: Vec<(String, String, bool)> = Vec::new();
    loop {
        match reader.read_event().map_err(|err| bad(err.to_string()))? {
            Event::Start(start) => {
                if let Some(parent) = open.last_mut() {
                    parent.2 = true;
                }
                if open.len() >= 64 {
                    return Err(bad("nested deeper than 64 elements".into()));
                }
                open.push((
                    start.local_name().into_inner().to_owned(),
                    String::new(),
                    false,
                ));
            }
            Event::Empty(start) => {
                if let Some(parent) = open.last_mut() {
                    parent.2 = true;
                }
                out.push((start.local_name().into_inner().to_owned(), String::new()));
            }
            Event::End(_) => {
                if let Some((name, text, had_child)) = open.pop()
                    && !had_child
                {
                    out.push((name, text.trim().to_owned()));
                }
            }
            Event::Text(text) => {
                if let Some(current) = open.last_mut() {
                    current.1.push_str(&text.xml10_content());
                }
            }
            Event::CData(text) => {
                if let Some(current) = open.last_mut() {
                    current.1.push_str(&text.xml10_content());
                }
            }
            Event::GeneralRef(reference) => {
                let name = reference.xml10_content();
                let resolved = match reference
                    .resolve_char_ref()
                    .map_err(|err| bad(err.to_string()))?
                {
                    Some(c) => c.to_string(),
                    None => quick_xml::escape::resolve_predefined_entity(&name)
                        .ok_or_else(|| bad(format!("undeclared entity `&{name};`")))?
                        .to_owned(),
                };
                if let Some(current) = open.last_mut() {
                    current.1.push_str(&resolved);
                }
            }
            Event::DocType(_) => return Err(bad("a DTD is refused".into())),
            Event::Eof => break,
            _ => {}
        }
    }
    if !open.is_empty() {
        return Err(bad("an element is not closed".into()));
    }
    Ok(out)
}

/// The local name and namespace of the document element of `xml`: for a SOAP
/// request's payload, its operation and the namespace its answer goes in.
///
/// # Errors
///
/// [`Error::BadRequest`](crate::Error) if `xml` holds no element or does not read.
pub fn root(xml: &str) -> Result<(String, Option<String>), Error> {
    let bad = |why: String| Error::bad_request(format!("unreadable XML request: {why}"));
    let mut reader = quick_xml::reader::NsReader::from_str(xml);
    loop {
        match reader.read_event().map_err(|err| bad(err.to_string()))? {
            Event::Start(start) | Event::Empty(start) => {
                let (ns, local) = reader.resolver().resolve_element(start.name());
                let ns = match ns {
                    quick_xml::name::ResolveResult::Bound(ns) => Some(ns.into_inner().to_owned()),
                    _ => None,
                };
                return Ok((local.into_inner().to_owned(), ns));
            }
            Event::DocType(_) => return Err(bad("a DTD is refused".into())),
            Event::Eof => return Err(bad("no element".into())),
            _ => {}
        }
    }
}

/// The text of the field `local_name` of a SOAP (or any XML) request's payload: what a
/// service behind a SOAP channel reads its input with.
///
/// ```
/// use zato_sdk::prelude::*;
///
/// let req = Request::builder()
///     .payload(r#"<h:hello xmlns:h="urn:x"><h:name>Ada</h:name></h:hello>"#)
///     .data_format(DataFormat::Xml)
///     .build();
/// assert_eq!(zato_sdk::xml::request_field(&req, "name")?.as_deref(), Some("Ada"));
/// # Ok::<(), Error>(())
/// ```
///
/// # Errors
///
/// [`Error::BadRequest`](crate::Error) if the payload is not UTF-8 or not readable
/// XML: the request is at fault.
pub fn request_field(req: &crate::Request, local_name: &str) -> Result<Option<String>, Error> {
    let text = std::str::from_utf8(req.payload())
        .map_err(|_| Error::bad_request("the XML request is not UTF-8"))?;
    field(text, local_name).map_err(|e| Error::bad_request(e.message().to_owned()))
}

/// The answer element to a SOAP request in document/literal wrapped style: named after
/// the request's element with `Response` appended, in its namespace (declared as the
/// default one, so that the fields added with [`Element::field`] are in it too), as the
/// WSDL of a zato SOAP channel describes it.
///
/// ```
/// use zato_sdk::prelude::*;
///
/// let req = Request::builder()
///     .payload(r#"<h:hello xmlns:h="urn:x"><h:name>Ada</h:name></h:hello>"#)
///     .build();
/// let answer = zato_sdk::xml::response_for(&req)?.field("message", "Hello, Ada!");
/// assert_eq!(
///     answer.to_string(),
///     r#"<helloResponse xmlns="urn:x"><message>Hello, Ada!</message></helloResponse>"#
/// );
/// # Ok::<(), Error>(())
/// ```
///
/// # Errors
///
/// As [`root`].
pub fn response_for(req: &crate::Request) -> Result<Element, Error> {
    let text = std::str::from_utf8(req.payload())
        .map_err(|_| Error::bad_request("the XML request is not UTF-8"))?;
    let (local, ns) = root(text)?;
    let element = Element::new(&format!("{local}Response"));
    Ok(match ns {
        Some(ns) => element.ns(&ns),
        None => element,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_element_escapes_what_it_holds() {
        let element = Element::new("a")
            .attr("q", "\"<&>")
            .field("b", "x<y")
            .child(Element::new("c"));
        assert_eq!(
            element.to_string(),
            r#"<a q="&quot;&lt;&amp;&gt;"><b>x&lt;y</b><c/></a>"#
        );
    }

    #[test]
    fn fields_are_read_by_local_name_whatever_the_prefix() {
        let xml = r#"<p:r xmlns:p="urn:x"><p:id> 7 </p:id><p:note>a &amp; b &#x41;</p:note><p:empty/><p:nested><p:deep>d</p:deep></p:nested></p:r>"#;
        assert_eq!(field(xml, "id").unwrap().as_deref(), Some("7"));
        assert_eq!(field(xml, "note").unwrap().as_deref(), Some("a & b A"));
        assert_eq!(field(xml, "empty").unwrap().as_deref(), Some(""));
        assert_eq!(field(xml, "deep").unwrap().as_deref(), Some("d"));
        assert_eq!(field(xml, "missing").unwrap(), None);
        // An element with children is not a field.
        assert_eq!(field(xml, "nested").unwrap(), None);
    }

    #[test]
    fn hostile_xml_is_refused() {
        assert!(field("<!DOCTYPE a [<!ENTITY x 'y'>]><a>&x;</a>", "a").is_err());
        assert!(
            field("<a>&x;</a>", "a")
                .unwrap_err()
                .message()
                .contains("&x;")
        );
        assert!(field("<a><b></a>", "a").is_err());
        assert!(field(&"<a>".repeat(100), "a").is_err());
    }
}
