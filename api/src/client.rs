//! [`AdminClient`]: one method per admin API route with a typed answer, and
//! [`AdminClient::send`] for a caller that needs an answer's status and headers.
//!
//! Every method fails with a [`ClientError`] that says what happened: the server could
//! not be reached (or its answer broke off), it refused the credentials, it answered
//! with an error, or it answered something that does not decode. A caller maps those to
//! what it needs (the CLI to its exit codes).

mod answer;
mod async_invoke;
mod dictionary;
mod error;
mod messaging;
mod outconn;
mod rate_limit;
mod scheduler;
mod security;
mod soap;
mod stats;
mod users;

use std::collections::BTreeMap;
use std::fmt;

use bytes::Bytes;
use serde::de::DeserializeOwned;

pub use answer::{Answer, Body};
pub use error::ClientError;
pub use reqwest::{Method, StatusCode};

use crate::{
    DeleteOutcome, DeletedHttpChannel, DeployOutcome, HttpChannel, Rollback, ServerInfo,
    ServerStatus, ServiceDetails, ServiceSummary, ServiceVersion, services::DataFormat,
};

/// The header that carries a request's correlation ID.
const CID_HEADER: &str = "x-zato-cid";

/// A client of one server's admin API, authenticated with HTTP basic auth.
#[derive(Clone)]
pub struct AdminClient {
    http: reqwest::Client,
    base: String,
    user: String,
    password: String,
}

impl fmt::Debug for AdminClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the password: a client ends up in logs and panic messages.
        f.debug_struct("AdminClient")
            .field("base", &self.base)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}
impl AdminClient {
    /// A client of the admin API at `base_url` (e.g. `http://127.0.0.1:17010`) with
    /// reqwest's default settings.
    pub fn new(
        base_url: impl Into<String>,
        user: impl Into<String>,
        password: impl Into<String>,
    ) -> Self {
        crate::install_crypto_provider();
        Self::with_client(reqwest::Client::new(), base_url, user, password)
    }

    /// As [`AdminClient::new`], over an HTTP client of the caller's (timeouts, proxies).
    pub fn with_client(
        http: reqwest::Client,
        base_url: impl Into<String>,
        user: impl Into<String>,
        password: impl Into<String>,
    ) -> Self {
        Self {
            http,
            base: base_url.into().trim_end_matches('/').to_owned(),
            user: user.into(),
            password: password.into(),
        }
    }

    /// The base URL, without a trailing `/`.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Sends a request (`path` starts with `/zato/api/`) and returns the answer whatever
    /// its status, except 401, which is [`ClientError::CredentialsRefused`].
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Body,
    ) -> Result<Answer, ClientError> {
        let url = format!("{}{path}", self.base);
        let mut request = self
            .http
            .request(method, &url)
            .basic_auth(&self.user, Some(&self.password));
        request = match body {
            Body::Empty => request,
            Body::Json(value) => request.json(&value),
            Body::Bytes(bytes) => request.body(bytes),
        };
        let response = match request.send().await {
            Ok(response) => response,
            Err(error) => {
                return Err(ClientError::Unreachable {
                    refused: error.is_connect(),
                    url,
                    error,
                });
            }
        };
        let status = response.status();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let cid = header(CID_HEADER);
        let content_type = header("content-type");
        let body = match response.bytes().await {
            Ok(body) => body,
            Err(error) => return Err(ClientError::Interrupted { url, error }),
        };
        if status == StatusCode::UNAUTHORIZED {
            return Err(ClientError::CredentialsRefused { url });
        }
        Ok(Answer {
            status,
            cid,
            content_type,
            body,
        })
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        self.send(Method::GET, path, Body::Empty).await?.json()
    }

    /// `GET /zato/api/server`: the status of the server answering.
    pub async fn server_status(&self) -> Result<ServerStatus, ClientError> {
        self.get("/zato/api/server").await
    }

    /// `GET /zato/api/servers`: the servers of the cluster and the versions they run.
    pub async fn servers(&self) -> Result<Vec<ServerInfo>, ClientError> {
        self.get("/zato/api/servers").await
    }

    /// `GET /zato/api/services`: the deployed services.
    pub async fn services(&self) -> Result<Vec<ServiceSummary>, ClientError> {
        self.get("/zato/api/services").await
    }

    /// `GET /zato/api/services/{name}`: one service's interface and configuration.
    pub async fn service(&self, name: &str) -> Result<ServiceDetails, ClientError> {
        self.get(&format!("/zato/api/services/{}", segment(name)))
            .await
    }

    /// `POST /zato/api/services`: deploys a component; `source` names it (a file name)
    /// in messages and in the ODB.
    pub async fn deploy(
        &self,
        component: impl Into<Bytes>,
        source: &str,
    ) -> Result<DeployOutcome, ClientError> {
        let path = format!("/zato/api/services?source={}", segment(source));
        self.send(Method::POST, &path, Body::Bytes(component.into()))
            .await?
            .json()
    }

    /// `GET /zato/api/services/{name}/versions`: the kept versions, newest first.
    pub async fn versions(&self, name: &str) -> Result<Vec<ServiceVersion>, ClientError> {
        self.get(&format!("/zato/api/services/{}/versions", segment(name)))
            .await
    }

    /// `GET /zato/api/services/{name}/component`: the bytes of the service's latest
    /// version, as they were deployed.
    pub async fn service_component(&self, name: &str) -> Result<Bytes, ClientError> {
        let path = format!("/zato/api/services/{}/component", segment(name));
        let answer = self.send(Method::GET, &path, Body::Empty).await?;
        if !answer.status.is_success() {
            return Err(answer.into_error());
        }
        Ok(answer.body)
    }

    /// `POST /zato/api/services/{name}/rollback`: deploys the bytes of kept version
    /// `to_version` again, as the service's next version.
    pub async fn rollback(
        &self,
        name: &str,
        to_version: i64,
    ) -> Result<DeployOutcome, ClientError> {
        let path = format!("/zato/api/services/{}/rollback", segment(name));
        let body = serde_json::to_value(Rollback { to_version }).expect("a rollback serialises");
        self.send(Method::POST, &path, Body::Json(body))
            .await?
            .json()
    }

    /// `DELETE /zato/api/services/{name}`: deletes a service from every server.
    pub async fn delete_service(&self, name: &str) -> Result<DeleteOutcome, ClientError> {
        let path = format!("/zato/api/services/{}", segment(name));
        self.send(Method::DELETE, &path, Body::Empty).await?.json()
    }

    /// `POST /zato/api/services/{name}/invoke`: invokes a service with `payload`. The
    /// answer is the service's own, error statuses included; `timeout_ms` overrides the
    /// server's default.
    pub async fn invoke(
        &self,
        name: &str,
        payload: impl Into<Bytes>,
        data_format: DataFormat,
        timeout_ms: Option<u64>,
    ) -> Result<Answer, ClientError> {
        self.invoke_as(name, payload, data_format.as_str(), timeout_ms)
            .await
    }

    /// As [`AdminClient::invoke`] with the data format by name, unchecked: the server
    /// refuses a format it does not know, and its answer says so.
    pub async fn invoke_as(
        &self,
        name: &str,
        payload: impl Into<Bytes>,
        data_format: &str,
        timeout_ms: Option<u64>,
    ) -> Result<Answer, ClientError> {
        let mut path = format!(
            "/zato/api/services/{}/invoke?data_format={}",
            segment(name),
            segment(data_format)
        );
        if let Some(ms) = timeout_ms {
            path.push_str(&format!("&timeout_ms={ms}"));
        }
        self.send(Method::POST, &path, Body::Bytes(payload.into()))
            .await
    }

    /// `GET /zato/api/services/{name}/config`: a service's configuration.
    pub async fn config(&self, name: &str) -> Result<BTreeMap<String, String>, ClientError> {
        self.get(&format!("/zato/api/services/{}/config", segment(name)))
            .await
    }

    /// `PUT /zato/api/services/{name}/config`: replaces a service's whole configuration;
    /// running servers see it at once. Returns the configuration stored. A service
    /// that is not deployed is refused (404); see [`AdminClient::set_config_ahead`].
    pub async fn set_config(
        &self,
        name: &str,
        config: &BTreeMap<String, String>,
    ) -> Result<BTreeMap<String, String>, ClientError> {
        self.put_config(name, config, false).await
    }

    /// `PUT /zato/api/services/{name}/config?ahead=true`: as
    /// [`AdminClient::set_config`], also for a service not deployed yet.
    pub async fn set_config_ahead(
        &self,
        name: &str,
        config: &BTreeMap<String, String>,
    ) -> Result<BTreeMap<String, String>, ClientError> {
        self.put_config(name, config, true).await
    }

    async fn put_config(
        &self,
        name: &str,
        config: &BTreeMap<String, String>,
        ahead: bool,
    ) -> Result<BTreeMap<String, String>, ClientError> {
        let mut path = format!("/zato/api/services/{}/config", segment(name));
        if ahead {
            path.push_str("?ahead=true");
        }
        let body = serde_json::to_value(config).expect("a map of strings serialises");
        self.send(Method::PUT, &path, Body::Json(body))
            .await?
            .json()
    }

    /// `GET /zato/api/channels/http`: the HTTP channels.
    pub async fn http_channels(&self) -> Result<Vec<HttpChannel>, ClientError> {
        self.get("/zato/api/channels/http").await
    }

    /// `POST /zato/api/channels/http`: creates an HTTP channel on every server; returns
    /// it as stored (methods upper case).
    pub async fn create_http_channel(
        &self,
        channel: &HttpChannel,
    ) -> Result<HttpChannel, ClientError> {
        let body = serde_json::to_value(channel).expect("a channel serialises");
        self.send(Method::POST, "/zato/api/channels/http", Body::Json(body))
            .await?
            .json()
    }

    /// `GET /zato/api/channels/http/{name}`: one HTTP channel.
    pub async fn http_channel(&self, name: &str) -> Result<HttpChannel, ClientError> {
        self.get(&format!("/zato/api/channels/http/{}", segment(name)))
            .await
    }

    /// `PUT /zato/api/channels/http/{name}`: replaces HTTP channel `name`'s path,
    /// methods, service, data format and timeout on every server (`channel.name` must
    /// be `name`: a channel is not renamed); returns it as stored (methods upper case).
    pub async fn update_http_channel(
        &self,
        name: &str,
        channel: &HttpChannel,
    ) -> Result<HttpChannel, ClientError> {
        let path = format!("/zato/api/channels/http/{}", segment(name));
        let body = serde_json::to_value(channel).expect("a channel serialises");
        self.send(Method::PUT, &path, Body::Json(body))
            .await?
            .json()
    }

    /// `GET /zato/api/openapi.json`: the admin API's OpenAPI 3.1 description (served
    /// without credentials; these are sent anyway).
    pub async fn openapi(&self) -> Result<serde_json::Value, ClientError> {
        self.get("/zato/api/openapi.json").await
    }

    /// `DELETE /zato/api/channels/http/{name}`: deletes an HTTP channel.
    pub async fn delete_http_channel(&self, name: &str) -> Result<DeletedHttpChannel, ClientError> {
        let path = format!("/zato/api/channels/http/{}", segment(name));
        self.send(Method::DELETE, &path, Body::Empty).await?.json()
    }
}

/// Percent-encodes one path segment or query value (service and channel names): only
/// ASCII letters, digits and `-._~` stay as they are.
pub fn segment(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_keep_only_unreserved_characters() {
        assert_eq!(segment("demo.hello-1_~"), "demo.hello-1_~");
        assert_eq!(segment("a/b c?d&e"), "a%2Fb%20c%3Fd%26e");
        assert_eq!(segment("caf\u{e9}"), "caf%C3%A9");
        assert_eq!(segment(""), "");
    }

    #[tokio::test]
    async fn a_closed_port_is_unreachable_and_refused() {
        // Bind, learn the port, close: nothing listens there any more.
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let client = AdminClient::new(format!("http://127.0.0.1:{port}/"), "u", "p");
        assert_eq!(client.base(), format!("http://127.0.0.1:{port}"));
        let error = client.servers().await.unwrap_err();
        assert!(
            matches!(&error, ClientError::Unreachable { refused: true, .. }),
            "{error:?}"
        );
        assert!(
            error.to_string().starts_with(&format!(
                "cannot reach http://127.0.0.1:{port}/zato/api/servers: is the server running? "
            )),
            "{error}"
        );
    }

    /// Answers one request on a fresh port with `response` (a whole HTTP/1.1 answer);
    /// gives the base URL and, once answered, the request's head.
    async fn serve_once(response: &'static str) -> (String, tokio::task::JoinHandle<String>) {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let served = tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut head = Vec::new();
            let mut buf = [0u8; 4096];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = stream.read(&mut buf).await.unwrap();
                assert!(n > 0, "the client closed before its request ended");
                head.extend_from_slice(&buf[..n]);
            }
            stream.write_all(response.as_bytes()).await.unwrap();
            stream.shutdown().await.unwrap();
            String::from_utf8(head).unwrap()
        });
        (base, served)
    }

    #[tokio::test]
    async fn a_typed_call_sends_credentials_and_decodes_the_answer() {
        let (base, served) = serve_once(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\
             content-length: 39\r\n\r\n{\"name\":\"a/b\",\"version\":7,\"extra\":true}",
        )
        .await;
        let client = AdminClient::new(base, "admin", "secret");
        let deleted = client.delete_service("a/b").await.unwrap();
        assert_eq!((deleted.name.as_str(), deleted.version), ("a/b", 7));
        let head = served.await.unwrap().to_ascii_lowercase();
        assert!(
            head.starts_with("delete /zato/api/services/a%2fb http/1.1"),
            "{head}"
        );
        // base64("admin:secret")
        assert!(
            head.contains("authorization: basic ywrtaw46c2vjcmv0"),
            "{head}"
        );
    }

    #[tokio::test]
    async fn a_401_is_refused_credentials() {
        let (base, served) = serve_once(
            "HTTP/1.1 401 Unauthorized\r\nconnection: close\r\ncontent-length: 0\r\n\r\n",
        )
        .await;
        let client = AdminClient::new(base.clone(), "admin", "wrong");
        let error = client.server_status().await.unwrap_err();
        served.await.unwrap();
        assert_eq!(
            error.to_string(),
            format!("{base}/zato/api/server: the admin credentials were refused")
        );
    }
}
