//! `demo.soap-hello`: one service, two kinds of client.
//!
//! Behind an HTTP channel it reads and answers JSON; behind a SOAP channel the host
//! hands it the SOAP body's element as XML (data format `xml`, channel kind `soap`)
//! and wraps its answer, one element, in the envelope. The service tells the two apart
//! by its request's data format. Its declared input and output fields make the SOAP
//! channel's WSDL describe a request element with a `name` and a response element
//! with a `message` and a `channel`.
//!
//! ```text
//! zato channel create http --env dev --name hello-rest --path /rest/hello --service demo.soap-hello
//! zato channel create soap --env dev --name hello-soap --path /soap/hello --service demo.soap-hello
//! curl -s localhost:17010/rest/hello -d '{"name": "Ada"}'
//! curl -s 'localhost:17010/soap/hello?wsdl'
//! ```
//!
//! An empty name is the request's fault: a 400 over REST, a Client (1.1) or Sender
//! (1.2) Fault over SOAP.
//!
//! Behind a channel with a security definition, the answer also names who called
//! (`caller`: the username, or an API key definition's name), which the service reads
//! from its request (contract 0.2.6):
//!
//! ```text
//! zato security create basic-auth --env dev --name partner --username acme --password 'correct horse'
//! zato channel edit soap hello-soap --env dev --security partner
//! curl -s -u acme:'correct horse' localhost:17010/soap/hello -H 'content-type: text/xml' -d @request.xml
//! ```

use zato_sdk::prelude::*;
use zato_sdk::xml;

/// Greets the `name` it is given, in JSON or in XML.
#[zato_sdk::service(
    name = "demo.soap-hello",
    description = "Greets the name it is given, over REST (JSON) or SOAP (XML)",
    input = "name: string",
    output = "message: string, channel: string, caller: string?"
)]
fn soap_hello(req: Request) -> Result<Response, Error> {
    if req.data_format() == DataFormat::Xml {
        let name = xml::request_field(&req, "name")?.unwrap_or_default();
        let message = greeting(&name)?;
        log::info!("greeted {name} over {}", req.channel_kind());
        let mut answer = xml::response_for(&req)?
            .field("message", &message)
            .field("channel", req.channel_kind().as_str());
        if let Some(caller) = req.caller() {
            answer = answer.field("caller", &caller.principal);
        }
        return Ok(Response::text(answer.to_string()));
    }
    let input = req.json_value()?;
    let name = input["name"].as_str().unwrap_or_default();
    let message = greeting(name)?;
    let mut answer = serde_json::json!({
        "message": message,
        "channel": req.channel_kind().as_str(),
    });
    if let Some(caller) = req.caller() {
        answer["caller"] = caller.principal.clone().into();
    }
    Response::json(&answer)
}

fn greeting(name: &str) -> Result<String, Error> {
    if name.trim().is_empty() {
        return Err(Error::bad_request("`name` must not be empty"));
    }
    Ok(format!("Hello, {name}!"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_soap_request_is_answered_in_xml_in_its_namespace() {
        let req = Request::builder()
            .channel(ChannelKind::Soap, "hello-soap")
            .data_format(DataFormat::Xml)
            .payload(
                r#"<t:demo.soap-hello xmlns:t="urn:x"><t:name>A &amp; B</t:name></t:demo.soap-hello>"#,
            )
            .build();
        let answer = String::from_utf8(soap_hello(req).unwrap().into_payload()).unwrap();
        assert_eq!(
            answer,
            r#"<demo.soap-helloResponse xmlns="urn:x"><message>Hello, A &amp; B!</message><channel>soap</channel></demo.soap-helloResponse>"#
        );
    }

    #[test]
    fn the_answer_names_who_called_when_a_security_definition_admitted_them() {
        let req = Request::builder()
            .channel(ChannelKind::Soap, "hello-soap")
            .caller("partner", "basic-auth", "acme")
            .data_format(DataFormat::Xml)
            .payload(
                r#"<t:demo.soap-hello xmlns:t="urn:x"><t:name>Ada</t:name></t:demo.soap-hello>"#,
            )
            .build();
        let answer = String::from_utf8(soap_hello(req).unwrap().into_payload()).unwrap();
        assert!(
            answer.ends_with(
                "<channel>soap</channel><caller>acme</caller></demo.soap-helloResponse>"
            ),
            "{answer}"
        );
    }

    #[test]
    fn a_rest_request_is_answered_in_json() {
        let req = Request::builder()
            .http("POST", "/rest/hello")
            .json(&serde_json::json!({ "name": "Ada" }))
            .build();
        let answer: serde_json::Value =
            serde_json::from_slice(soap_hello(req).unwrap().payload()).unwrap();
        assert_eq!(answer["message"], "Hello, Ada!");
        assert_eq!(answer["channel"], "http");
    }

    #[test]
    fn an_empty_name_is_the_requests_fault() {
        let req = Request::builder()
            .data_format(DataFormat::Xml)
            .payload("<hello><name/></hello>")
            .build();
        assert_eq!(soap_hello(req).unwrap_err().status(), 400);
    }
}
