//! The `zato:service` contract grows without breaking deployed services: a service
//! built against an older patch of the contract deploys and runs on the current
//! server, and a current one reads what the newer patch added.

use serde_json::json;
use zato_test_artifacts as wasm;

use crate::harness::{TestServer, echoed};

#[tokio::test]
async fn a_0_2_0_service_deploys_on_the_grown_contract() {
    // The guest must really be a 0.2.0 one, or this test would prove nothing.
    let bytes = std::fs::read(wasm::CONTRACT_0_2_0).unwrap();
    for name in ["zato:service/request@0.2.0", "zato:service/service@0.2.0"] {
        assert!(
            bytes.windows(name.len()).any(|w| w == name.as_bytes()),
            "the guest names no `{name}`"
        );
    }
    let server = TestServer::start().await;
    server.deploy(wasm::CONTRACT_0_2_0).await;
    server
        .set_config("test.contract020", &json!({ "greeting": "hello" }))
        .await;
    server
        .channel("c", "/contract/{id}", "test.contract020", 0)
        .await;
    let response = server
        .http
        .post(format!("{}/contract/7?x=1", server.base))
        .header("X-Custom", "yes")
        .body("a body")
        .send()
        .await
        .unwrap();
    let body = echoed(response).await;
    assert_eq!(
        body,
        json!({
            "cid": body["cid"],
            "channel": "http",
            "channel_name": "c",
            "method": "POST",
            "path": "/contract/7",
            "header": "yes",
            "path_param": "7",
            "greeting": "hello",
            "payload": "a body",
        })
    );
}

#[tokio::test]
async fn a_current_service_reads_the_details_and_params_of_a_request() {
    let server = TestServer::start().await;
    server.deploy(wasm::ECHO).await;
    server.channel("c", "/c/{id}", "test.echo", 0).await;
    let response = server
        .http
        .get(format!("{}/c/7?a=1&b=two%20words", server.base))
        .header("X-Detail", "query-string")
        .send()
        .await
        .unwrap();
    let body = echoed(response).await;
    assert_eq!(
        body["details"],
        json!([
            ["method", "GET"],
            ["path", "/c/7"],
            ["query-string", "a=1&b=two%20words"]
        ]),
        "{body}"
    );
    assert_eq!(body["params"], json!({ "id": "7" }), "{body}");
    // By name before any list was read (one value from the host), then from the lists.
    assert_eq!(body["looked_up"]["detail"], "a=1&b=two%20words", "{body}");
    assert_eq!(body["looked_up"]["param"], "7", "{body}");
    assert_eq!(body["looked_up_again"], body["looked_up"], "{body}");

    // Without a query string, an HTTP request has no `query-string` detail.
    let body = echoed(
        server
            .http
            .get(format!("{}/c/8", server.base))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        body["details"],
        json!([["method", "GET"], ["path", "/c/8"]]),
        "{body}"
    );

    // A request from another kind of channel has none of the HTTP ones.
    let response = server
        .admin(reqwest::Method::POST, "/zato/api/services/test.echo/invoke")
        .header("X-Detail", "method")
        .send()
        .await
        .unwrap();
    let body = echoed(response).await;
    assert_eq!(body["details"], json!([]), "{body}");
    assert_eq!(body["params"], json!({}), "{body}");
    assert_eq!(body["looked_up"]["detail"], json!(null), "{body}");
}

/// Every import name in `component` (nested components' included).
fn imports_of(component: &str) -> Vec<String> {
    let bytes = std::fs::read(component).unwrap();
    let mut names = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(&bytes) {
        if let wasmparser::Payload::ComponentImportSection(reader) = payload.unwrap() {
            for import in reader {
                names.push(import.unwrap().name.name.to_owned());
            }
        }
    }
    names
}

/// A service imports only the connection interfaces it uses, so the runtime links only
/// those for it (one `InstancePre` per component): demo.hello, built before they
/// existed or not, pays nothing for them.
#[test]
fn a_service_imports_only_the_connection_interfaces_it_uses() {
    const INTERFACES: [&str; 4] = [
        "zato:service/outgoing-http@",
        "zato:service/outgoing-soap@",
        "zato:service/sql@",
        "zato:service/ftp@",
    ];
    for (component, uses) in [
        (wasm::HELLO, &[][..]),
        (wasm::OUTGOING_HTTP, &["zato:service/outgoing-http@"][..]),
        (wasm::SQL_TABLE, &["zato:service/sql@"][..]),
        (wasm::FTP_FETCH, &["zato:service/ftp@"][..]),
        (wasm::SOAP_CLIENT, &["zato:service/outgoing-soap@"][..]),
    ] {
        let imports = imports_of(component);
        assert!(
            imports
                .iter()
                .any(|i| i.starts_with("zato:service/request@")),
            "{component}: {imports:?}"
        );
        for interface in INTERFACES {
            assert_eq!(
                imports.iter().any(|i| i.starts_with(interface)),
                uses.contains(&interface),
                "{component} and {interface}: {imports:?}"
            );
        }
    }
}
