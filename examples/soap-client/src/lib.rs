//! `demo.soap-client`: reads an invoice from a SOAP billing backend through the
//! outgoing SOAP connection `billing`, and answers it as JSON.
//!
//! `GET /demo/soap-client?id=7` sends
//! `<GetInvoice xmlns="urn:zato:billing"><id>7</id></GetInvoice>` with the SOAPAction
//! `urn:zato:billing#GetInvoice`; the host wraps it in the connection's SOAP version's
//! envelope and unwraps the answer, whose `total` and `currency` fields become
//! `{"id": "7", "total": "12.50", "currency": "EUR"}`. A SOAP Fault becomes a 404 when
//! its code is the sender's/client's (an unknown invoice) and a 500 otherwise, its
//! reason and detail in the message.
//!
//! Behind a SOAP channel it is a SOAP service itself: the request's element holds `id`
//! (`<demo.soap-client xmlns="urn:x"><id>7</id></demo.soap-client>`) and the answer is
//! `<demo.soap-clientResponse xmlns="urn:x"><id>7</id><total>12.50</total>
//! <currency>EUR</currency></demo.soap-clientResponse>`; a backend's Fault becomes this
//! channel's Fault.
//!
//! Its configuration may name another connection (`connection`).

use zato_sdk::outgoing::{self, SoapError};
use zato_sdk::prelude::*;
use zato_sdk::xml::{self, Element};

/// The connection used when the `connection` key is not set.
const DEFAULT_CONNECTION: &str = "billing";
/// The namespace of the billing service's messages.
const NS: &str = "urn:zato:billing";

/// Reads an invoice through SOAP.
#[zato_sdk::service(
    name = "demo.soap-client",
    description = "Reads an invoice from the SOAP connection `billing`",
    output = "id: string, total: string, currency: string"
)]
fn invoice(req: Request) -> Result<Response, Error> {
    let soap = req.data_format() == DataFormat::Xml;
    let id = if soap {
        xml::request_field(&req, "id")?
    } else {
        req.query("id")
            .or_else(|| req.param("id"))
            .map(str::to_owned)
    };
    let Some(id) = id.filter(|id| !id.trim().is_empty()) else {
        return Err(Error::bad_request(
            "`id` is required, e.g. `?id=7` (or `<id>7</id>` over SOAP)",
        ));
    };
    let id = id.as_str();
    let connection = config::get_or("connection", DEFAULT_CONNECTION);
    let body = Element::new("GetInvoice")
        .ns(NS)
        .field("id", id)
        .to_string();
    let answer = match outgoing::soap(&connection).call(&format!("{NS}#GetInvoice"), &body) {
        Ok(answer) => answer,
        Err(SoapError::Fault(fault)) => {
            let detail = fault.detail.as_deref().unwrap_or("");
            let message = format!(
                "`{connection}` answered a SOAP Fault {}: {} {detail}",
                fault.code, fault.reason
            );
            let local = fault.code.rsplit(':').next().unwrap_or_default();
            return Err(if matches!(local, "Client" | "Sender") {
                Error::not_found(message)
            } else {
                Error::internal(message)
            });
        }
        Err(other) => return Err(other.into()),
    };
    let field = |name: &str| -> Result<String, Error> {
        xml::field(&answer, name)?.ok_or_else(|| {
            Error::internal(format!(
                "`{connection}` answered without `{name}`: {answer}"
            ))
        })
    };
    let (total, currency) = (field("total")?, field("currency")?);
    if soap {
        let answer = xml::response_for(&req)?
            .field("id", id)
            .field("total", &total)
            .field("currency", &currency);
        return Ok(Response::text(answer.to_string()));
    }
    Response::json(&serde_json::json!({
        "id": id,
        "total": total,
        "currency": currency,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn over_soap_the_id_is_read_from_the_request_element() {
        let req = Request::builder()
            .channel(ChannelKind::Soap, "invoices")
            .data_format(DataFormat::Xml)
            .payload(r#"<x:demo.soap-client xmlns:x="urn:x"><x:id> </x:id></x:demo.soap-client>"#)
            .build();
        let err = invoice(req).unwrap_err();
        assert_eq!(err.status(), 400, "{err}");
        let req = Request::builder()
            .channel(ChannelKind::Soap, "invoices")
            .data_format(DataFormat::Xml)
            .payload(r#"<x:demo.soap-client xmlns:x="urn:x"><x:id>7</x:id></x:demo.soap-client>"#)
            .build();
        // Natively no connection is configured: the error names the one it looked for.
        assert!(invoice(req).unwrap_err().message().contains("`billing`"));
    }

    #[test]
    fn an_id_is_required() {
        assert_eq!(
            invoice(Request::builder().build()).unwrap_err().status(),
            400
        );
    }

    #[test]
    fn natively_no_connection_is_configured() {
        let err = invoice(Request::builder().query("id", "7").build()).unwrap_err();
        assert!(err.message().contains("`billing`"), "{err}");
    }
}
