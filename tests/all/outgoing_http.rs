//! Outgoing HTTP and SOAP connections, end to end: the examples `demo.outgoing-http`
//! and `demo.soap-client` deployed on a server call real backends started here on
//! 127.0.0.1 (hyper), through connections created and edited with the admin API.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use reqwest::StatusCode;
use serde_json::{Value, json};
use zato_api::outconn::{
    Header, HttpAuth, HttpSettings, Outconn, OutconnSettings, SoapSettings, SoapVersion,
};
use zato_test_artifacts as wasm;

use crate::harness::{TestServer, eventually};

/// A request a backend received.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    uri: String,
    headers: hyper::HeaderMap,
    body: String,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// What a backend does with a request.
enum Reply {
    Answer(u16, &'static str, String),
    /// Never answers (the connection stays open).
    Stall,
    /// Answers as [`Reply::Answer`] after a while.
    Later(Duration, Box<Reply>),
}

type Log = Arc<Mutex<Vec<Seen>>>;

/// An HTTP/1.1 backend on 127.0.0.1:0 answering with `handler`; every request it
/// receives is logged.
async fn backend(handler: fn(&Seen) -> Reply) -> (SocketAddr, Log) {
    backend_over(handler, None).await
}

/// [`backend`] over TLS with `tls` when given (HTTPS).
async fn backend_over(
    handler: fn(&Seen) -> Reply,
    tls: Option<tokio_rustls::TlsAcceptor>,
) -> (SocketAddr, Log) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let log: Log = Arc::default();
    let seen = log.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let log = seen.clone();
            match &tls {
                None => tokio::spawn(serve(stream, log, handler)),
                Some(tls) => {
                    let tls = tls.clone();
                    tokio::spawn(async move {
                        // A client that refuses the certificate ends the handshake.
                        if let Ok(stream) = tls.accept(stream).await {
                            serve(stream, log, handler).await;
                        }
                    })
                }
            };
        }
    });
    (addr, log)
}

/// Serves one connection of a [`backend`].
async fn serve<S>(stream: S, log: Log, handler: fn(&Seen) -> Reply)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
        let log = log.clone();
        async move {
            let (parts, body) = req.into_parts();
            let body = body
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            let seen = Seen {
                method: parts.method.to_string(),
                uri: parts.uri.to_string(),
                headers: parts.headers,
                body: String::from_utf8_lossy(&body).into_owned(),
            };
            log.lock().unwrap().push(seen.clone());
            match handler(&seen) {
                Reply::Answer(status, content_type, body) => Ok::<_, std::convert::Infallible>(
                    hyper::Response::builder()
                        .status(status)
                        .header("content-type", content_type)
                        .body(Full::new(Bytes::from(body)))
                        .unwrap(),
                ),
                Reply::Stall => std::future::pending().await,
                Reply::Later(wait, reply) => {
                    tokio::time::sleep(wait).await;
                    match *reply {
                        Reply::Answer(status, content_type, body) => Ok(hyper::Response::builder()
                            .status(status)
                            .header("content-type", content_type)
                            .body(Full::new(Bytes::from(body)))
                            .unwrap()),
                        _ => std::future::pending().await,
                    }
                }
            }
        }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(stream), service)
        .await;
}

/// A listener that resets every connection once the request has arrived; counts them.
async fn resetter() -> (SocketAddr, Arc<Mutex<u32>>) {
    use tokio::io::AsyncReadExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let count = Arc::new(Mutex::new(0));
    let counted = count.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            *counted.lock().unwrap() += 1;
            let mut buf = [0u8; 1024];
            let _ = stream.read(&mut buf).await;
            // A zero linger makes the close a reset (RST), not a clean FIN.
            let _ = stream.set_zero_linger();
            drop(stream);
        }
    });
    (addr, count)
}

/// The CRM: customers under `/api/customers/{id}`; `404` is unknown, `500` fails.
fn crm(seen: &Seen) -> Reply {
    let Some(id) = seen.uri.strip_prefix("/api/customers/") else {
        return Reply::Answer(400, "text/plain", format!("not under /api: {}", seen.uri));
    };
    match id {
        "404" => Reply::Answer(
            404,
            "application/json",
            r#"{"error":"no such customer"}"#.into(),
        ),
        "500" => Reply::Answer(500, "text/plain", "database on fire".into()),
        "stall" => Reply::Stall,
        // Ada, a second late.
        "slow" => Reply::Later(
            Duration::from_secs(1),
            Box::new(crm(&Seen {
                uri: "/api/customers/1".into(),
                ..seen.clone()
            })),
        ),
        id => Reply::Answer(
            200,
            "application/json",
            json!({
                "id": id.parse::<u64>().map(Value::from).unwrap_or(Value::from(id)),
                "first_name": "Ada",
                "last_name": "Lovelace",
                "address": {"city": "London", "country": "UK"},
                "orders": [{"n": 1}, {"n": 2}],
                "internal": "not passed on",
            })
            .to_string(),
        ),
    }
}

/// Another backend, which must never be reached through the CRM's connection.
fn other(seen: &Seen) -> Reply {
    Reply::Answer(
        200,
        "application/json",
        json!({"id": 1, "first_name": "Eve", "last_name": "Other", "seen": seen.uri}).to_string(),
    )
}

fn http_settings(address: &str) -> HttpSettings {
    HttpSettings {
        address: address.into(),
        timeout_ms: 0,
        pool_size: 0,
        tls_verify: true,
        ca_pem: None,
        auth: HttpAuth::None,
        headers: Vec::new(),
        retries: 0,
        ping_method: "HEAD".into(),
    }
}

fn http_conn(name: &str, settings: HttpSettings, secret: Option<&str>) -> Outconn {
    Outconn {
        name: name.into(),
        active: true,
        settings: OutconnSettings::Http(settings),
        secret: secret.map(str::to_owned),
    }
}

/// A server running `demo.outgoing-http` behind `/crm/customer` (channel timeout
/// `timeout_ms`).
async fn server_with_example(timeout_ms: u64) -> TestServer {
    let server = TestServer::start().await;
    server.deploy(wasm::OUTGOING_HTTP).await;
    server
        .channel(
            "crm-customer",
            "/crm/customer",
            "demo.outgoing-http",
            timeout_ms,
        )
        .await;
    server
}

/// The message of an error answer (`{"error": ...}`), or the whole body.
fn text_of(body: &Value) -> String {
    match body.get("error").unwrap_or(body) {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_service_reads_a_rest_api_through_a_connection_and_reshapes_its_answer() {
    let (crm_addr, crm_log) = backend(crm).await;
    let (reset_addr, resets) = resetter().await;
    let server = server_with_example(10_000).await;
    let mut settings = http_settings(&format!("http://{crm_addr}/api"));
    settings.headers = vec![
        Header {
            name: "X-Client".into(),
            value: "zato".into(),
        },
        Header {
            name: "Accept".into(),
            value: "text/plain".into(),
        },
    ];
    server
        .api
        .create_outconn(&http_conn("crm", settings, None))
        .await
        .unwrap();

    let (status, body) = server.get("/crm/customer?id=42").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({"id": "42", "name": "Ada Lovelace", "city": "London", "orders": 2})
    );
    let seen = crm_log.lock().unwrap().last().cloned().unwrap();
    assert_eq!(
        (seen.method.as_str(), seen.uri.as_str()),
        ("GET", "/api/customers/42")
    );
    // A default header is sent; the service's own header of the same name wins.
    assert_eq!(seen.header("x-client"), Some("zato"));
    assert_eq!(seen.header("accept"), Some("application/json"));
    assert!(seen.header("x-zato-cid").is_some_and(|cid| !cid.is_empty()));

    // A status is an answer: the service decides what it means.
    let (status, body) = server.get("/crm/customer?id=404").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert!(text_of(&body).contains("customer `404`"), "{body}");
    let (status, body) = server.get("/crm/customer?id=500").await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
    assert!(text_of(&body).contains("HTTP 500"), "{body}");

    // A connection reset reaches the service as an error naming it; an idempotent GET
    // that got no answer is retried as often as the connection says.
    let mut flaky = http_settings(&format!("http://{reset_addr}/api"));
    flaky.retries = 2;
    server
        .api
        .create_outconn(&http_conn("flaky", flaky, None))
        .await
        .unwrap();
    server
        .set_config("demo.outgoing-http", &json!({"connection": "flaky"}))
        .await;
    let (status, body) = server.get("/crm/customer?id=1").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(
        text_of(&body).contains(&format!(
            "GET http://{reset_addr}/api/customers/1 failed (after 3 tries)"
        )),
        "{body}"
    );
    assert_eq!(*resets.lock().unwrap(), 3);

    // A connection nobody configured is named.
    server
        .set_config("demo.outgoing-http", &json!({"connection": "nope"}))
        .await;
    let (status, body) = server.get("/crm/customer?id=1").await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
    assert!(
        text_of(&body).contains("no http connection named `nope` is configured"),
        "{body}"
    );

    // An inactive one says so.
    let mut inactive = http_conn(
        "crm",
        http_settings(&format!("http://{crm_addr}/api")),
        None,
    );
    inactive.active = false;
    server.api.update_outconn("crm", &inactive).await.unwrap();
    server.set_config("demo.outgoing-http", &json!({})).await;
    let (status, body) = server.get("/crm/customer?id=1").await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
    assert!(
        text_of(&body).contains("the http connection `crm` is inactive"),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_path_leaving_the_base_url_is_refused_and_reaches_no_listener() {
    let (crm_addr, crm_log) = backend(crm).await;
    let (other_addr, other_log) = backend(other).await;
    let server = server_with_example(10_000).await;
    let settings = http_settings(&format!("http://{crm_addr}/api"));
    server
        .api
        .create_outconn(&http_conn("crm", settings, None))
        .await
        .unwrap();

    // Through the id: the client's mistake, a 400 naming it; nothing is sent.
    let (status, body) = server.get("/crm/customer?id=..%2F..%2Fadmin").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        text_of(&body).contains("`id` `../../admin` is not a customer id"),
        "{body}"
    );

    // Through the path the service builds (its configuration here).
    for path in [
        "/../../{id}".to_owned(),
        "/customers/%2e%2e/%2e%2e/{id}".to_owned(),
        format!("//{other_addr}/{{id}}"),
        format!("http://{other_addr}/{{id}}"),
        format!("/x@{other_addr}/{{id}}"),
        "/a\\..\\{id}".to_owned(),
    ] {
        server
            .set_config("demo.outgoing-http", &json!({"path": path}))
            .await;
        let (status, body) = server.get("/crm/customer?id=1").await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{path}: {body}");
        let named = path.replace("{id}", "1");
        let text = text_of(&body);
        assert!(
            text.contains(&format!("path `{named}` refused")),
            "{path}: {body}"
        );
    }
    assert!(
        other_log.lock().unwrap().is_empty(),
        "{:?}",
        other_log.lock().unwrap()
    );
    assert!(
        crm_log.lock().unwrap().is_empty(),
        "{:?}",
        crm_log.lock().unwrap()
    );

    // The server goes on serving, through the same connection.
    server.set_config("demo.outgoing-http", &json!({})).await;
    let (status, body) = server.get("/crm/customer?id=7").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(crm_log.lock().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_backend_that_never_answers_fails_the_call_at_the_request_deadline() {
    let (crm_addr, crm_log) = backend(crm).await;
    let server = server_with_example(1_500).await;
    server.deploy(wasm::HELLO).await;
    server
        .channel("hello", "/hello", "demo.hello", 10_000)
        .await;
    // The connection would wait 60 s: the request's deadline is what ends the call.
    let mut settings = http_settings(&format!("http://{crm_addr}/api"));
    settings.timeout_ms = 60_000;
    server
        .api
        .create_outconn(&http_conn("crm", settings, None))
        .await
        .unwrap();

    let base = server.base.clone();
    let client = server.http.clone();
    let started = Instant::now();
    let stalled = tokio::spawn(async move {
        let response = client
            .get(format!("{base}/crm/customer?id=stall"))
            .send()
            .await
            .unwrap();
        (
            response.status(),
            started.elapsed(),
            response.text().await.unwrap(),
        )
    });
    eventually(
        Duration::from_secs(10),
        "the stalled request at the backend",
        || async {
            crm_log
                .lock()
                .unwrap()
                .iter()
                .any(|s| s.uri.ends_with("/stall"))
                .then_some(())
        },
    )
    .await;
    // Meanwhile the server serves other requests.
    let (status, _) = server.get("/hello?name=meanwhile").await;
    assert_eq!(status, StatusCode::OK);
    assert!(!stalled.is_finished());

    let (status, took, body) = stalled.await.unwrap();
    assert!(
        status == StatusCode::GATEWAY_TIMEOUT || status == StatusCode::SERVICE_UNAVAILABLE,
        "{status}: {body}"
    );
    assert!(took >= Duration::from_millis(1_400), "{took:?}");
    assert!(took < Duration::from_millis(5_000), "{took:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_connection_edited_at_run_time_is_used_by_the_next_call_with_its_credentials() {
    let (first_addr, first_log) = backend(crm).await;
    let (second_addr, second_log) = backend(crm).await;
    let server = server_with_example(10_000).await;
    let settings = http_settings(&format!("http://{first_addr}/api"));
    server
        .api
        .create_outconn(&http_conn("crm", settings, None))
        .await
        .unwrap();
    let (status, body) = server.get("/crm/customer?id=1").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(first_log.lock().unwrap().len(), 1);
    assert!(
        first_log.lock().unwrap()[0]
            .header("authorization")
            .is_none()
    );

    let cases = [
        (
            HttpAuth::Basic {
                username: "ada".into(),
            },
            "s3cret",
            "authorization",
            "Basic YWRhOnMzY3JldA==",
        ),
        (HttpAuth::Bearer, "t0ken", "authorization", "Bearer t0ken"),
        (
            HttpAuth::ApiKey {
                header: "X-API-Key".into(),
            },
            "k3y",
            "x-api-key",
            "k3y",
        ),
    ];
    for (i, (auth, secret, header, expected)) in cases.into_iter().enumerate() {
        let mut settings = http_settings(&format!("http://{second_addr}/api"));
        settings.auth = auth;
        server
            .api
            .update_outconn("crm", &http_conn("crm", settings, Some(secret)))
            .await
            .unwrap();
        let (status, body) = server.get(&format!("/crm/customer?id={}", 10 + i)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let seen = second_log.lock().unwrap().last().cloned().unwrap();
        assert_eq!(seen.uri, format!("/api/customers/{}", 10 + i));
        assert_eq!(seen.header(header), Some(expected), "{seen:?}");
    }
    assert_eq!(
        first_log.lock().unwrap().len(),
        1,
        "the old address got no more calls"
    );
    // The stored secret is never read back.
    let info = server
        .api
        .outconn(zato_api::outconn::OutconnType::Http, "crm")
        .await
        .unwrap();
    assert!(info.secret_set);
    assert!(!serde_json::to_string(&info).unwrap().contains("k3y"));

    // Deleted: the next call says the connection is gone and nothing more is sent.
    let second_calls = second_log.lock().unwrap().len();
    server
        .api
        .delete_outconn(zato_api::outconn::OutconnType::Http, "crm")
        .await
        .unwrap();
    let (status, body) = server.get("/crm/customer?id=9").await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
    assert!(
        text_of(&body).contains("no http connection named `crm` is configured"),
        "{body}"
    );
    assert_eq!(first_log.lock().unwrap().len(), 1);
    assert_eq!(second_log.lock().unwrap().len(), second_calls);
}

/// The billing backend: `GetInvoice` in SOAP 1.1 or 1.2 (answered in the version asked,
/// with prefixes of its own); invoice `404` is a Fault.
fn billing(seen: &Seen) -> Reply {
    let v12 = seen
        .header("content-type")
        .is_some_and(|c| c.starts_with("application/soap+xml"));
    let action = if v12 {
        seen.header("content-type")
            .unwrap()
            .contains("action=\"urn:zato:billing#GetInvoice\"")
    } else {
        seen.header("soapaction") == Some("\"urn:zato:billing#GetInvoice\"")
    };
    if !action
        || !seen
            .body
            .contains(r#"<GetInvoice xmlns="urn:zato:billing"><id>"#)
    {
        return Reply::Answer(400, "text/plain", format!("unexpected call: {seen:?}"));
    }
    let id = seen
        .body
        .split("<id>")
        .nth(1)
        .and_then(|s| s.split("</id>").next())
        .unwrap_or("");
    let (ns, content_type) = if v12 {
        (
            "http://www.w3.org/2003/05/soap-envelope",
            "application/soap+xml",
        )
    } else {
        ("http://schemas.xmlsoap.org/soap/envelope/", "text/xml")
    };
    if id == "404" {
        let fault = if v12 {
            "<E:Fault><E:Code><E:Value>E:Sender</E:Value></E:Code><E:Reason><E:Text xml:lang=\"en\">no invoice 404</E:Text></E:Reason><E:Detail><b:id xmlns:b=\"urn:zato:billing\">404</b:id></E:Detail></E:Fault>"
        } else {
            "<E:Fault><faultcode>E:Client</faultcode><faultstring>no invoice 404</faultstring><detail><b:id xmlns:b=\"urn:zato:billing\">404</b:id></detail></E:Fault>"
        };
        return Reply::Answer(
            500,
            content_type,
            format!("<E:Envelope xmlns:E=\"{ns}\"><E:Body>{fault}</E:Body></E:Envelope>"),
        );
    }
    Reply::Answer(
        200,
        content_type,
        format!(
            "<?xml version=\"1.0\"?><E:Envelope xmlns:E=\"{ns}\" xmlns:b=\"urn:zato:billing\"><E:Header/><E:Body>\
             <b:GetInvoiceResponse><b:id>{id}</b:id><b:total>12.50</b:total><b:currency>EUR</b:currency></b:GetInvoiceResponse>\
             </E:Body></E:Envelope>"
        ),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_soap_backend_is_called_in_both_versions_and_its_fault_is_readable() {
    let (addr, log) = backend(billing).await;
    let server = TestServer::start().await;
    server.deploy(wasm::SOAP_CLIENT).await;
    server
        .channel("invoice", "/billing/invoice", "demo.soap-client", 10_000)
        .await;
    for version in [SoapVersion::V11, SoapVersion::V12] {
        let conn = Outconn {
            name: "billing".into(),
            active: true,
            settings: OutconnSettings::Soap(SoapSettings {
                http: http_settings(&format!("http://{addr}/billing")),
                version,
                soap_action: String::new(),
            }),
            secret: None,
        };
        if version == SoapVersion::V11 {
            server.api.create_outconn(&conn).await.unwrap();
        } else {
            server.api.update_outconn("billing", &conn).await.unwrap();
        }
        let (status, body) = server.get("/billing/invoice?id=7").await;
        assert_eq!(
            status,
            StatusCode::OK,
            "{version:?}: {body} {:?}",
            log.lock().unwrap().last()
        );
        assert_eq!(
            body,
            json!({"id": "7", "total": "12.50", "currency": "EUR"})
        );
        let seen = log.lock().unwrap().last().cloned().unwrap();
        assert_eq!(
            (seen.method.as_str(), seen.uri.as_str()),
            ("POST", "/billing")
        );

        let (status, body) = server.get("/billing/invoice?id=404").await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{version:?}: {body}");
        let text = text_of(&body);
        assert!(text.contains("SOAP Fault E:"), "{text}");
        assert!(text.contains("no invoice 404"), "{text}");
        assert!(
            text.contains(r#"<b:id xmlns:b="urn:zato:billing">404</b:id>"#),
            "{text}"
        );
    }

    // Behind a SOAP channel of its own: SOAP in, SOAP to the backend, SOAP out.
    let channel = zato_api::soap::SoapChannel {
        name: "invoices".into(),
        path: "/soap/invoices".into(),
        services: vec!["demo.soap-client".into()],
        versions: Vec::new(),
        timeout_ms: 10_000,
        namespace: "urn:example:invoices".into(),
        security: None,
    };
    let created = server
        .admin(reqwest::Method::POST, "/zato/api/channels/soap")
        .json(&channel)
        .send()
        .await
        .unwrap();
    assert!(
        created.status().is_success(),
        "{}",
        created.text().await.unwrap()
    );
    let ask = |id: &str| {
        format!(
            r#"<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><i:demo.soap-client xmlns:i="urn:example:invoices"><i:id>{id}</i:id></i:demo.soap-client></s:Body></s:Envelope>"#
        )
    };
    let call = |id: &str| {
        server
            .http
            .post(format!("{}/soap/invoices", server.base))
            .header("content-type", "text/xml; charset=utf-8")
            .header("soapaction", "\"demo.soap-client\"")
            .body(ask(id))
            .send()
    };
    let answer = call("7").await.unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    let answer = answer.text().await.unwrap();
    assert!(
        answer.contains(
            r#"<demo.soap-clientResponse xmlns="urn:example:invoices"><id>7</id><total>12.50</total><currency>EUR</currency></demo.soap-clientResponse>"#
        ),
        "{answer}"
    );
    // The backend's Fault for an unknown invoice is this channel's Fault.
    let answer = call("404").await.unwrap();
    assert_eq!(answer.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let answer = answer.text().await.unwrap();
    assert!(
        answer.contains("<faultcode>soap:Client</faultcode>"),
        "{answer}"
    );
    assert!(answer.contains("no invoice 404"), "{answer}");
}

/// A TLS acceptor presenting `cert_pem` with `key_pem`.
fn acceptor(cert_pem: &str, key_pem: &str) -> tokio_rustls::TlsAcceptor {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    zato_api::install_crypto_provider();
    let certs = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).unwrap();
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    tokio_rustls::TlsAcceptor::from(Arc::new(config))
}

#[tokio::test(flavor = "multi_thread")]
async fn an_https_backend_is_trusted_through_its_ca_and_refused_without_it() {
    let pki = tempfile::tempdir().unwrap();
    let (ca, cert, key) = crate::harness::test_pki(pki.path());
    let (crm_addr, crm_log) = backend_over(crm, Some(acceptor(&cert, &key))).await;
    let server = server_with_example(10_000).await;
    let address = format!("https://127.0.0.1:{}/api", crm_addr.port());

    // Its CA given: the call goes through TLS and the answer is read.
    let mut settings = http_settings(&address);
    settings.ca_pem = Some(ca.clone());
    server
        .api
        .create_outconn(&http_conn("crm", settings.clone(), None))
        .await
        .unwrap();
    let (status, body) = server.get("/crm/customer?id=42").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["name"], "Ada Lovelace", "{body}");
    assert_eq!(crm_log.lock().unwrap().len(), 1);

    // Without it the certificate is not trusted: the call fails naming why, and no
    // request reaches the backend.
    settings.ca_pem = None;
    server
        .api
        .update_outconn("crm", &http_conn("crm", settings.clone(), None))
        .await
        .unwrap();
    let (status, body) = server.get("/crm/customer?id=43").await;
    assert!(status.is_server_error(), "{status}: {body}");
    assert!(
        text_of(&body).contains("certificate"),
        "the reason names the certificate: {body}"
    );
    assert_eq!(crm_log.lock().unwrap().len(), 1);

    // Verification turned off (a choice the definition spells out): it goes through.
    settings.tls_verify = false;
    server
        .api
        .update_outconn("crm", &http_conn("crm", settings, None))
        .await
        .unwrap();
    let (status, body) = server.get("/crm/customer?id=44").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(crm_log.lock().unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_call_in_flight_finishes_on_the_connection_it_started_with() {
    let (crm_addr, crm_log) = backend(crm).await;
    let (other_addr, other_log) = backend(other).await;
    let server = server_with_example(10_000).await;
    server
        .api
        .create_outconn(&http_conn(
            "crm",
            http_settings(&format!("http://{crm_addr}/api")),
            None,
        ))
        .await
        .unwrap();
    // A call the CRM answers a second late, in flight while the connection is edited.
    let in_flight = tokio::spawn({
        let http = server.http.clone();
        let url = format!("{}/crm/customer?id=slow", server.base);
        async move {
            let response = http.get(url).send().await.unwrap();
            (response.status(), response.json::<Value>().await.unwrap())
        }
    });
    eventually(
        Duration::from_secs(10),
        "the slow call reached the CRM",
        || async { (!crm_log.lock().unwrap().is_empty()).then_some(()) },
    )
    .await;
    server
        .api
        .update_outconn(
            "crm",
            &http_conn(
                "crm",
                http_settings(&format!("http://{other_addr}/api")),
                None,
            ),
        )
        .await
        .unwrap();
    // The next call uses the new address at once...
    let (status, body) = server.get("/crm/customer?id=2").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["name"], "Eve Other", "{body}");
    assert_eq!(other_log.lock().unwrap().len(), 1);
    // ... and the one in flight ends on the old one with its answer.
    let (status, body) = in_flight.await.unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["name"], "Ada Lovelace", "{body}");
    assert_eq!(crm_log.lock().unwrap().len(), 1);
}
