//! The WSDL 1.1 of a SOAP channel, generated from its services' declared Simple IO
//! fields: document/literal wrapped, one operation per service.
//!
//! Each operation is named after its service, which is also its SOAPAction and the
//! name of its request element (`{service}Response` for its response's), in the
//! channel's target namespace with qualified child elements. Field types map to XML
//! Schema as string -> `xsd:string`, integer -> `xsd:long`, number -> `xsd:double`,
//! boolean -> `xsd:boolean`, object, array and any -> `xsd:anyType`; an optional
//! field has `minOccurs="0"`. A service that declares no fields (or is not loaded on
//! this server) gets an open element (`xsd:any`). There is a SOAP 1.1 and a SOAP 1.2
//! binding and port, for the versions the channel accepts.

use std::fmt::Write as _;

use quick_xml::escape::escape;

use crate::api::{Field, FieldType, ServiceInfo, SoapChannel, SoapVersion};

/// `name` as an XML NCName (what WSDL and XML Schema names must be): letters, digits,
/// `.`, `-` and `_`, not starting with a digit, `.` or `-`; other characters become `_`.
pub fn ncname(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if !out.starts_with(|c: char| c.is_alphabetic() || c == '_') {
        out.insert(0, '_');
    }
    out
}

fn xsd_type(kind: FieldType) -> &'static str {
    match kind {
        FieldType::String => "xsd:string",
        FieldType::Integer => "xsd:long",
        FieldType::Number => "xsd:double",
        FieldType::Boolean => "xsd:boolean",
        FieldType::Object | FieldType::Array | FieldType::Any => "xsd:anyType",
    }
}

/// One wrapper element with `fields` as its children.
fn element(out: &mut String, name: &str, fields: Option<&[Field]>) {
    let _ = write!(
        out,
        "<xsd:element name=\"{}\"><xsd:complexType><xsd:sequence>",
        escape(name)
    );
    match fields {
        Some(fields) if !fields.is_empty() => {
            for field in fields {
                let _ = write!(
                    out,
                    "<xsd:element name=\"{}\" type=\"{}\" minOccurs=\"{}\"/>",
                    escape(ncname(&field.name)),
                    xsd_type(field.kind),
                    u8::from(field.required)
                );
            }
        }
        _ => out
            .push_str("<xsd:any minOccurs=\"0\" maxOccurs=\"unbounded\" processContents=\"lax\"/>"),
    }
    out.push_str("</xsd:sequence></xsd:complexType></xsd:element>");
}

/// The WSDL of `channel`, whose services are `services` (the info of each that this
/// server has loaded), served at `address`.
pub fn generate(
    channel: &SoapChannel,
    services: &[(String, Option<ServiceInfo>)],
    address: &str,
) -> String {
    let tns = escape(channel.target_namespace()).into_owned();
    let name = ncname(&channel.name);
    let address = escape(address);
    let mut out = String::with_capacity(4096);
    let _ = write!(
        out,
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<wsdl:definitions name=\"{name}\" \
         targetNamespace=\"{tns}\" xmlns:wsdl=\"http://schemas.xmlsoap.org/wsdl/\" \
         xmlns:soap=\"http://schemas.xmlsoap.org/wsdl/soap/\" \
         xmlns:soap12=\"http://schemas.xmlsoap.org/wsdl/soap12/\" \
         xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" xmlns:tns=\"{tns}\">\n"
    );
    let _ = write!(
        out,
        "<wsdl:types><xsd:schema targetNamespace=\"{tns}\" elementFormDefault=\"qualified\">"
    );
    for (service, info) in services {
        let op = ncname(service);
        element(&mut out, &op, info.as_ref().map(|i| i.input.as_slice()));
        element(
            &mut out,
            &format!("{op}Response"),
            info.as_ref().map(|i| i.output.as_slice()),
        );
    }
    out.push_str("</xsd:schema></wsdl:types>\n");
    for (service, _) in services {
        let op = ncname(service);
        let _ = write!(
            out,
            "<wsdl:message name=\"{op}Request\"><wsdl:part name=\"parameters\" \
             element=\"tns:{op}\"/></wsdl:message>\n<wsdl:message name=\"{op}Response\">\
             <wsdl:part name=\"parameters\" element=\"tns:{op}Response\"/></wsdl:message>\n"
        );
    }
    let _ = write!(out, "<wsdl:portType name=\"{name}PortType\">");
    for (service, info) in services {
        let op = ncname(service);
        let _ = write!(out, "<wsdl:operation name=\"{op}\">");
        if let Some(info) = info.as_ref().filter(|i| !i.description.is_empty()) {
            let _ = write!(
                out,
                "<wsdl:documentation>{}</wsdl:documentation>",
                escape(&info.description)
            );
        }
        let _ = write!(
            out,
            "<wsdl:input message=\"tns:{op}Request\"/><wsdl:output \
             message=\"tns:{op}Response\"/></wsdl:operation>"
        );
    }
    out.push_str("</wsdl:portType>\n");
    let versions: Vec<SoapVersion> = [SoapVersion::V11, SoapVersion::V12]
        .into_iter()
        .filter(|v| channel.accepts(*v))
        .collect();
    for version in &versions {
        let (prefix, suffix) = binding_names(*version);
        let _ = write!(
            out,
            "<wsdl:binding name=\"{name}{suffix}\" type=\"tns:{name}PortType\">\
             <{prefix}:binding style=\"document\" \
             transport=\"http://schemas.xmlsoap.org/soap/http\"/>"
        );
        for (service, _) in services {
            let op = ncname(service);
            let _ = write!(
                out,
                "<wsdl:operation name=\"{op}\"><{prefix}:operation soapAction=\"{}\" \
                 style=\"document\"/><wsdl:input><{prefix}:body use=\"literal\"/>\
                 </wsdl:input><wsdl:output><{prefix}:body use=\"literal\"/></wsdl:output>\
                 </wsdl:operation>",
                escape(service)
            );
        }
        out.push_str("</wsdl:binding>\n");
    }
    let _ = write!(out, "<wsdl:service name=\"{name}\">");
    for version in &versions {
        let (prefix, suffix) = binding_names(*version);
        let _ = write!(
            out,
            "<wsdl:port name=\"{name}{suffix}\" binding=\"tns:{name}{suffix}\">\
             <{prefix}:address location=\"{address}\"/></wsdl:port>"
        );
    }
    out.push_str("</wsdl:service>\n</wsdl:definitions>\n");
    out
}

fn binding_names(version: SoapVersion) -> (&'static str, &'static str) {
    match version {
        SoapVersion::V11 => ("soap", "Soap11"),
        SoapVersion::V12 => ("soap12", "Soap12"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::soap::envelope::{Limits, check_answer};

    fn field(name: &str, kind: FieldType, required: bool) -> Field {
        Field {
            name: name.into(),
            kind,
            required,
        }
    }

    #[test]
    fn names_become_ncnames() {
        assert_eq!(ncname("demo.hello"), "demo.hello");
        assert_eq!(ncname("bill ing"), "bill_ing");
        assert_eq!(ncname("1st"), "_1st");
        assert_eq!(ncname("-x"), "_-x");
    }

    #[test]
    fn the_wsdl_types_declared_fields_and_binds_the_accepted_versions() {
        let channel = SoapChannel {
            name: "billing".into(),
            path: "/soap/billing".into(),
            services: vec!["billing.get".into(), "billing.other".into()],
            versions: vec![SoapVersion::V12],
            timeout_ms: 0,
            namespace: "urn:example:billing".into(),
            security: None,
        };
        let info = ServiceInfo {
            name: "billing.get".into(),
            description: "Gets an <invoice>".into(),
            input: vec![field("id", FieldType::Integer, true)],
            output: vec![
                field("total", FieldType::Number, true),
                field("paid", FieldType::Boolean, false),
                field("lines", FieldType::Array, false),
                field("customer", FieldType::String, true),
            ],
            slow_threshold_ms: 0,
        };
        let wsdl = generate(
            &channel,
            &[
                ("billing.get".into(), Some(info)),
                ("billing.other".into(), None),
            ],
            "http://127.0.0.1:1/soap/billing?a&b",
        );
        check_answer(wsdl.as_bytes(), Limits::default()).unwrap();
        for expected in [
            r#"targetNamespace="urn:example:billing""#,
            r#"<xsd:element name="billing.get"><xsd:complexType><xsd:sequence><xsd:element name="id" type="xsd:long" minOccurs="1"/>"#,
            r#"<xsd:element name="total" type="xsd:double" minOccurs="1"/>"#,
            r#"<xsd:element name="paid" type="xsd:boolean" minOccurs="0"/>"#,
            r#"<xsd:element name="lines" type="xsd:anyType" minOccurs="0"/>"#,
            r#"<xsd:element name="customer" type="xsd:string" minOccurs="1"/>"#,
            r#"<xsd:element name="billing.otherResponse"><xsd:complexType><xsd:sequence><xsd:any"#,
            r#"<wsdl:documentation>Gets an &lt;invoice&gt;</wsdl:documentation>"#,
            r#"<soap12:operation soapAction="billing.get" style="document"/>"#,
            r#"<soap12:address location="http://127.0.0.1:1/soap/billing?a&amp;b"/>"#,
        ] {
            assert!(wsdl.contains(expected), "{expected} not in {wsdl}");
        }
        assert!(
            !wsdl.contains("<soap:binding"),
            "SOAP 1.1 is not accepted: {wsdl}"
        );
    }
}
