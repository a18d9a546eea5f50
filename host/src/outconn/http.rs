//! Outgoing HTTP/REST connections: one `reqwest::Client` (its own pool, timeouts, TLS
//! settings) per live connection, and the rules that keep a service's request under
//! the connection's base URL.
//!
//! Invariants:
//! - a service gives a path, never a URL: [`HttpConn::url_of`] refuses anything that
//!   could leave the base (an absolute or scheme-relative URL, `..` segments, plain or
//!   percent-encoded, backslashes, `@`, control characters) and checks the joined URL's
//!   scheme, host, port and path prefix once more after joining;
//! - redirects are not followed (a `Location` could name any host): the service gets
//!   the 3xx;
//! - a call ends by `min(connection timeout, request deadline)`, retries included, and
//!   only a call that got no answer at all is retried, and only for idempotent methods;
//! - an answer's body is read up to [`MAX_RESPONSE_BODY`] and refused past it.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use percent_encoding::percent_decode_str;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, Url};
use tracing::Instrument as _;

use super::OutconnError;
use crate::api::{HttpAuth, HttpSettings};

/// The timeout of a connection whose `timeout_ms` is 0.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Idle connections kept per host when `pool_size` is 0.
pub const DEFAULT_POOL_SIZE: usize = 20;
/// The most retries a connection may ask for.
pub const MAX_RETRIES: u32 = 5;
/// The largest answer body a call reads; a larger one fails the call.
pub const MAX_RESPONSE_BODY: usize = 16 * 1024 * 1024;
/// The pause before the first retry; each next one waits one more of these.
const RETRY_PAUSE: Duration = Duration::from_millis(50);

/// The methods a service may send. CONNECT (a tunnel) and TRACE are not among them.
const METHODS: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

/// Headers a service may not set: they belong to the connection (hop-by-hop headers,
/// framing, the target host, proxies) and would let a request be smuggled or
/// redirected.
const FORBIDDEN_HEADERS: [&str; 12] = [
    "host",
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authorization",
    "proxy-authenticate",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",
    "http2-settings",
];

/// Installs rustls's ring provider as the process's default, once: reqwest built with
/// `rustls-no-provider` panics when it builds a client without one.
pub use zato_api::install_crypto_provider;

/// A request a service sends through a connection.
#[derive(Debug, Clone, Default)]
pub struct HttpRequest {
    /// `GET`, `POST`, ... (one of [`METHODS`], any case).
    pub method: String,
    /// The path and query under the base URL, e.g. `/customers/42?full=1`.
    pub path: String,
    /// Headers; a name the connection sets by default is replaced by the service's.
    pub headers: Vec<(String, String)>,
    /// The body; empty for none.
    pub body: Vec<u8>,
}

/// What the other side answered.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    /// The HTTP status.
    pub status: u16,
    /// Headers in the order received, names lowercase; a value that is not UTF-8 is
    /// read lossily.
    pub headers: Vec<(String, String)>,
    /// The whole body (at most [`MAX_RESPONSE_BODY`]).
    pub body: Vec<u8>,
}

/// A live HTTP connection.
pub struct HttpConn {
    client: reqwest::Client,
    base: Url,
    /// The base URL's path without its trailing `/`: every joined path starts with it.
    prefix: String,
    timeout: Duration,
    retries: u32,
    /// The connection's default headers, which a service's own header of the same
    /// name replaces.
    defaults: HeaderMap,
    /// The credentials' header, which always wins over a service's.
    auth: Option<(HeaderName, HeaderValue)>,
}

impl HttpConn {
    /// Builds the live connection of a definition, or says why it cannot be built.
    pub fn new(settings: &HttpSettings, secret: Option<&str>) -> Result<Self, String> {
        install_crypto_provider();
        let base = base_url(&settings.address)?;
        let prefix = base.path().trim_end_matches('/').to_owned();
        let timeout = match settings.timeout_ms {
            0 => DEFAULT_TIMEOUT,
            ms => Duration::from_millis(ms),
        };
        if settings.retries > MAX_RETRIES {
            return Err(format!(
                "`retries` is {}: at most {MAX_RETRIES}",
                settings.retries
            ));
        }
        let mut defaults = HeaderMap::new();
        for header in &settings.headers {
            let (name, value) = header_pair(&header.name, &header.value)
                .map_err(|why| format!("default header: {why}"))?;
            defaults.append(name, value);
        }
        let auth = auth_header(&settings.auth, secret)?;
        let pool_size = match settings.pool_size {
            0 => DEFAULT_POOL_SIZE,
            n => n as usize,
        };
        let mut builder = reqwest::Client::builder()
            .pool_max_idle_per_host(pool_size)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .retry(reqwest::retry::never())
            .no_proxy()
            .tls_danger_accept_invalid_certs(!settings.tls_verify);
        if let Some(pem) = settings
            .ca_pem
            .as_deref()
            .filter(|pem| !pem.trim().is_empty())
        {
            let certs = reqwest::Certificate::from_pem_bundle(pem.as_bytes()).map_err(|err| {
                format!("`ca_pem` is not a PEM certificate bundle: {}", chain(&err))
            })?;
            if certs.is_empty() {
                return Err("`ca_pem` holds no certificate".into());
            }
            builder = builder.tls_certs_merge(certs);
        }
        let client = builder
            .build()
            .map_err(|err| format!("cannot build the HTTP client: {}", chain(&err)))?;
        Ok(Self {
            client,
            base,
            prefix,
            timeout,
            retries: settings.retries,
            defaults,
            auth,
        })
    }

    /// The base URL every path is joined under.
    pub fn base(&self) -> &Url {
        &self.base
    }

    /// The URL a service's `path` (with its query) names under the base URL, or why it
    /// is refused.
    pub fn url_of(&self, path: &str) -> Result<Url, String> {
        join(&self.base, &self.prefix, path)
    }

    /// Sends `request`, finishing by `deadline` or the connection's timeout, whichever
    /// comes first.
    pub async fn send(
        &self,
        request: HttpRequest,
        deadline: Instant,
    ) -> Result<HttpResponse, OutconnError> {
        let method = method_of(&request.method).map_err(OutconnError::BadRequest)?;
        let url = self
            .url_of(&request.path)
            .map_err(OutconnError::BadRequest)?;
        let mut headers = self.defaults.clone();
        // A service's header replaces a default of the same name; several values of
        // one name from the service are all sent.
        let mut own = HeaderMap::new();
        for (name, value) in &request.headers {
            let (name, value) = header_pair(name, value).map_err(OutconnError::BadRequest)?;
            own.append(name, value);
        }
        for name in own.keys() {
            headers.remove(name);
        }
        headers.extend(own);
        if let Some((name, value)) = &self.auth {
            headers.insert(name.clone(), value.clone());
        }
        self.send_prepared(method, url, headers, request.body.into(), deadline)
            .await
    }

    /// Sends a request already checked and joined.
    pub(crate) async fn send_prepared(
        &self,
        method: Method,
        url: Url,
        headers: HeaderMap,
        body: bytes::Bytes,
        deadline: Instant,
    ) -> Result<HttpResponse, OutconnError> {
        let started = Instant::now();
        let limit = deadline.min(started + self.timeout);
        // A client span of the calling service's, whose `traceparent` the request
        // carries, when traces are exported.
        let (span, headers) = match crate::telemetry::client_span(&method, &url) {
            Some((span, trace_headers)) => {
                let mut headers = headers;
                for (name, value) in trace_headers {
                    if let Ok(value) = HeaderValue::from_str(&value) {
                        headers.insert(name, value);
                    }
                }
                (span, headers)
            }
            None => (tracing::Span::none(), headers),
        };
        let what = format!("{method} {}", redact(&url));
        let call = async {
            let idempotent = matches!(
                method,
                Method::GET | Method::HEAD | Method::OPTIONS | Method::PUT | Method::DELETE
            );
            let mut attempt = 0;
            loop {
                let sent = self
                    .client
                    .request(method.clone(), url.clone())
                    .headers(headers.clone())
                    .body(body.clone())
                    .send()
                    .await;
                match sent {
                    Ok(response) => return read_response(response, &what).await,
                    // Only a request that got no answer may be sent again: a connection
                    // refused or reset before any status came back.
                    Err(err)
                        if idempotent
                            && attempt < self.retries
                            && (err.is_connect() || err.is_request()) =>
                    {
                        attempt += 1;
                        tracing::debug!(%what, attempt, error = %chain(&err), "retrying");
                        tokio::time::sleep(RETRY_PAUSE * attempt).await;
                    }
                    Err(err) => {
                        let tries = if attempt > 0 {
                            format!(" (after {} tries)", attempt + 1)
                        } else {
                            String::new()
                        };
                        return Err(OutconnError::Remote(format!(
                            "{what} failed{tries}: {}",
                            chain(&err)
                        )));
                    }
                }
            }
        };
        let result = match tokio::time::timeout_at(limit.into(), call)
            .instrument(span.clone())
            .await
        {
            Ok(result) => result,
            Err(_) => {
                let by = if limit == deadline {
                    "the request's deadline"
                } else {
                    "the connection's timeout"
                };
                Err(OutconnError::Timeout(format!(
                    "{what} got no answer within {} ms ({by})",
                    limit.saturating_duration_since(started).as_millis()
                )))
            }
        };
        crate::telemetry::record_http_outcome(&span, result.as_ref().map(|r| r.status));
        result
    }

    /// The headers every request of this connection carries before a service's own:
    /// the defaults and the credentials.
    pub(crate) fn base_headers(&self) -> HeaderMap {
        let mut headers = self.defaults.clone();
        if let Some((name, value)) = &self.auth {
            headers.insert(name.clone(), value.clone());
        }
        headers
    }
}

/// Reads an answer's body up to [`MAX_RESPONSE_BODY`].
async fn read_response(
    mut response: reqwest::Response,
    what: &str,
) -> Result<HttpResponse, OutconnError> {
    let too_large = || {
        OutconnError::Remote(format!(
            "{what}: the answer's body is larger than {} MiB, the most a call reads",
            MAX_RESPONSE_BODY >> 20
        ))
    };
    if response
        .content_length()
        .is_some_and(|len| len > MAX_RESPONSE_BODY as u64)
    {
        return Err(too_large());
    }
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect();
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > MAX_RESPONSE_BODY {
                    return Err(too_large());
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => break,
            Err(err) => {
                return Err(OutconnError::Remote(format!(
                    "{what}: the answer's body could not be read: {}",
                    chain(&err)
                )));
            }
        }
    }
    Ok(HttpResponse {
        status,
        headers,
        body,
    })
}

/// Checks that the other side answers; says what answered.
pub async fn ping(
    settings: &HttpSettings,
    secret: Option<&str>,
    deadline: Instant,
) -> Result<String, OutconnError> {
    let conn = HttpConn::new(settings, secret).map_err(OutconnError::BadRequest)?;
    let method = method_of(&settings.ping_method).map_err(OutconnError::BadRequest)?;
    let url = conn.base.clone();
    let headers = conn.base_headers();
    let answer = conn
        .send_prepared(method, url, headers, bytes::Bytes::new(), deadline)
        .await?;
    Ok(format!("HTTP {}", answer.status))
}

/// Parses and checks a connection's base URL.
fn base_url(address: &str) -> Result<Url, String> {
    let url = Url::parse(address.trim())
        .map_err(|err| format!("`address` `{address}` is not a URL: {err}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "`address` `{address}` must be an http or https URL"
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("`address` `{address}` has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!(
            "`address` `{}` carries credentials: put them in the connection's auth and secret",
            redact(&url)
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!(
            "`address` `{address}` has a query or a fragment: a base URL is a scheme, host, port and path"
        ));
    }
    Ok(url)
}

/// Joins a service's `path` under `base` (whose path without its trailing `/` is
/// `prefix`); see the module's invariants.
fn join(base: &Url, prefix: &str, path: &str) -> Result<Url, String> {
    let refuse = |why: &str| Err(format!("path `{}` refused: {why}", shown(path)));
    if let Some(c) = path.chars().find(|c| c.is_control()) {
        return refuse(&format!(
            "it holds the control character U+{:04X}",
            c as u32
        ));
    }
    if !(path.is_empty() || path.starts_with('/') || path.starts_with('?')) {
        return refuse(
            "a path starts with `/` (or `?`): a service names a path under its connection's base URL, never a URL",
        );
    }
    if path.starts_with("//") {
        return refuse("`//` would name another host");
    }
    for (c, name) in [
        ('\\', "a backslash"),
        ('@', "`@`"),
        ('#', "a fragment (`#`)"),
        (' ', "a space"),
    ] {
        if path.contains(c) {
            return refuse(&format!("it holds {name}"));
        }
    }
    let (path_part, query) = match path.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path, None),
    };
    for segment in path_part.split('/') {
        let decoded = percent_decode_str(segment).decode_utf8_lossy();
        // `..;x` is `..` to some servers, an encoded `/` or `\` splits a segment to
        // others: every piece of every reading must be a plain name.
        if decoded
            .split(['/', '\\', ';'])
            .any(|piece| piece == ".." || piece == ".")
        {
            return refuse(
                "`.` and `..` segments (plain or percent-encoded) would leave the base path",
            );
        }
        if decoded.chars().any(|c| c.is_control()) {
            return refuse("it holds a percent-encoded control character");
        }
    }
    let mut url = base.clone();
    let joined = if path_part.is_empty() {
        base.path().to_owned()
    } else {
        format!("{prefix}{path_part}")
    };
    url.set_path(&joined);
    url.set_query(query);
    let prefix_holds = url.path() == base.path()
        || prefix.is_empty()
        || url
            .path()
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('/'));
    if url.scheme() != base.scheme()
        || url.host() != base.host()
        || url.port_or_known_default() != base.port_or_known_default()
        || !prefix_holds
        || !url.username().is_empty()
        || url.password().is_some()
    {
        return refuse(&format!(
            "it leaves the base URL `{}` (it would be `{}`)",
            redact(base),
            redact(&url)
        ));
    }
    Ok(url)
}

/// A path as an error message shows it: control characters escaped, long ones cut.
fn shown(path: &str) -> String {
    let mut out = String::new();
    for (i, c) in path.chars().enumerate() {
        if i == 200 {
            out.push_str("...");
            break;
        }
        if c.is_control() {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        } else {
            out.push(c);
        }
    }
    out
}

/// A URL without any credentials, for messages.
fn redact(url: &Url) -> String {
    let mut url = url.clone();
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.to_string()
}

/// Checks a service's method.
pub(crate) fn method_of(method: &str) -> Result<Method, String> {
    let upper = method.to_ascii_uppercase();
    if !METHODS.contains(&upper.as_str()) {
        return Err(format!(
            "method `{}` refused: one of {}",
            shown(method),
            METHODS.join(", ")
        ));
    }
    Method::from_bytes(upper.as_bytes()).map_err(|err| format!("method `{method}`: {err}"))
}

/// Checks one header a service or a definition gives.
pub(crate) fn header_pair(name: &str, value: &str) -> Result<(HeaderName, HeaderValue), String> {
    let header = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
        format!(
            "header name `{}` is not a valid HTTP header name",
            shown(name)
        )
    })?;
    if FORBIDDEN_HEADERS.contains(&header.as_str()) {
        return Err(format!(
            "header `{name}` refused: the connection sets it (hop-by-hop, framing or target headers cannot be set by a service)"
        ));
    }
    let value = HeaderValue::from_str(value).map_err(|_| {
        format!("the value of header `{name}` holds a character a header cannot carry")
    })?;
    Ok((header, value))
}

/// The header a connection's credentials make.
fn auth_header(
    auth: &HttpAuth,
    secret: Option<&str>,
) -> Result<Option<(HeaderName, HeaderValue)>, String> {
    use base64::Engine as _;

    let need = |what: &str| -> Result<&str, String> {
        secret.ok_or_else(|| format!("{what} auth needs a secret, and none is set"))
    };
    let (name, value) = match auth {
        HttpAuth::None => return Ok(None),
        HttpAuth::Basic { username } => {
            if username.contains(':') {
                return Err(format!(
                    "basic auth user name `{username}` cannot contain `:`"
                ));
            }
            let token = base64::engine::general_purpose::STANDARD
                .encode(format!("{username}:{}", need("basic")?));
            (reqwest::header::AUTHORIZATION, format!("Basic {token}"))
        }
        HttpAuth::Bearer => (
            reqwest::header::AUTHORIZATION,
            format!("Bearer {}", need("bearer")?),
        ),
        HttpAuth::ApiKey { header } => {
            let name = HeaderName::from_bytes(header.as_bytes())
                .map_err(|_| format!("API key header `{header}` is not a valid header name"))?;
            if FORBIDDEN_HEADERS.contains(&name.as_str()) {
                return Err(format!("API key header `{header}` cannot be used"));
            }
            (name, need("API key")?.to_owned())
        }
    };
    let mut value = HeaderValue::from_str(&value)
        .map_err(|_| "the secret holds a character a header cannot carry".to_owned())?;
    value.set_sensitive(true);
    Ok(Some((name, value)))
}

/// An error with its sources, which say what actually went wrong (reqwest's own
/// message is only "error sending request").
pub(crate) fn chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(err) = source {
        let text = err.to_string();
        if !out.contains(&text) {
            let _ = write!(out, ": {text}");
        }
        source = err.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn joined(base: &str, path: &str) -> Result<String, String> {
        let base = base_url(base).unwrap();
        let prefix = base.path().trim_end_matches('/').to_owned();
        join(&base, &prefix, path).map(|url| url.to_string())
    }

    #[test]
    fn a_path_and_query_join_under_the_base_path() {
        let base = "http://127.0.0.1:8080/api";
        assert_eq!(
            joined(base, "/customers/42?full=1").unwrap(),
            "http://127.0.0.1:8080/api/customers/42?full=1"
        );
        assert_eq!(
            joined("http://127.0.0.1:8080/api/", "/x").unwrap(),
            "http://127.0.0.1:8080/api/x"
        );
        assert_eq!(joined(base, "").unwrap(), "http://127.0.0.1:8080/api");
        assert_eq!(
            joined(base, "?q=1").unwrap(),
            "http://127.0.0.1:8080/api?q=1"
        );
        assert_eq!(
            joined("https://h.example", "/a/b").unwrap(),
            "https://h.example/a/b"
        );
        // Encoded characters stay as the service wrote them.
        assert_eq!(
            joined(base, "/a%20b/c%2Fd").unwrap(),
            "http://127.0.0.1:8080/api/a%20b/c%2Fd"
        );
        // A name merely containing dots is a name.
        assert_eq!(
            joined(base, "/v1.2/..x/x..").unwrap(),
            "http://127.0.0.1:8080/api/v1.2/..x/x.."
        );
    }

    #[test]
    fn a_path_that_could_leave_the_base_is_refused_and_named() {
        let base = "http://127.0.0.1:8080/api";
        for path in [
            "http://other/x",
            "https://127.0.0.1:8080/api/x",
            "//evil/x",
            "//127.0.0.1:8080/api",
            "/../secret",
            "/a/../../b",
            "/..",
            "/%2e%2e/secret",
            "/%2E%2e/secret",
            "/.%2e/x",
            "/a/%2e%2e%2f..%2fsecret",
            "/..;/secret",
            "/.",
            "/a/./b",
            "/a\\..\\b",
            "/x@evil",
            "/x\r\nHost: evil",
            "/x\0",
            "/x%00",
            "customers",
            "evil.example/x",
            "/x#frag",
            "/a b",
        ] {
            let err = joined(base, path).expect_err(path);
            assert!(err.starts_with("path `"), "{path}: {err}");
            assert!(err.contains("refused"), "{path}: {err}");
            if !path.chars().any(char::is_control) {
                assert!(err.contains(path), "{path}: {err}");
            }
        }
    }

    #[test]
    fn a_base_url_must_be_plain_http() {
        assert!(base_url("ftp://h/x").unwrap_err().contains("http or https"));
        assert!(base_url("not a url").unwrap_err().contains("not a URL"));
        assert!(
            base_url("http://u:p@h/")
                .unwrap_err()
                .contains("credentials")
        );
        assert!(!base_url("http://u:p@h/").unwrap_err().contains(":p@"));
        assert!(base_url("http://h/x?k=1").unwrap_err().contains("query"));
    }

    #[test]
    fn forbidden_and_malformed_headers_are_refused() {
        for name in [
            "Host",
            "connection",
            "Content-Length",
            "Transfer-Encoding",
            "TE",
            "Upgrade",
        ] {
            let err = header_pair(name, "x").unwrap_err();
            assert!(err.contains(name), "{err}");
        }
        assert!(
            header_pair("bad name", "x")
                .unwrap_err()
                .contains("`bad name`")
        );
        assert!(header_pair("x-a", "a\r\nb").unwrap_err().contains("`x-a`"));
        assert!(header_pair("X-Client", "zato").is_ok());
    }

    #[test]
    fn only_plain_methods_are_sent() {
        assert_eq!(method_of("get").unwrap(), Method::GET);
        assert_eq!(method_of("PATCH").unwrap(), Method::PATCH);
        for bad in ["CONNECT", "TRACE", "FOO", ""] {
            assert!(method_of(bad).unwrap_err().contains("refused"), "{bad}");
        }
    }

    #[test]
    fn credentials_become_one_sensitive_header() {
        let basic = auth_header(
            &HttpAuth::Basic {
                username: "ada".into(),
            },
            Some("pw"),
        )
        .unwrap()
        .unwrap();
        assert_eq!(basic.0, reqwest::header::AUTHORIZATION);
        assert_eq!(basic.1, "Basic YWRhOnB3");
        assert!(basic.1.is_sensitive());
        let bearer = auth_header(&HttpAuth::Bearer, Some("t0k"))
            .unwrap()
            .unwrap();
        assert_eq!(bearer.1, "Bearer t0k");
        let key = auth_header(
            &HttpAuth::ApiKey {
                header: "X-API-Key".into(),
            },
            Some("k"),
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            (key.0.as_str(), key.1.to_str().unwrap()),
            ("x-api-key", "k")
        );
        assert!(
            auth_header(&HttpAuth::Bearer, None)
                .unwrap_err()
                .contains("secret")
        );
        assert!(auth_header(&HttpAuth::None, Some("x")).unwrap().is_none());
    }

    /// A connection to `address` with `retries` and a timeout of `timeout_ms`.
    fn conn_to(address: &str, retries: u32, timeout_ms: u64) -> HttpConn {
        let settings = HttpSettings {
            address: address.into(),
            timeout_ms,
            pool_size: 0,
            tls_verify: true,
            ca_pem: None,
            auth: HttpAuth::None,
            headers: Vec::new(),
            retries,
            ping_method: "HEAD".into(),
        };
        HttpConn::new(&settings, None).unwrap()
    }

    fn request(method: &str, path: &str) -> HttpRequest {
        HttpRequest {
            method: method.into(),
            path: path.into(),
            ..HttpRequest::default()
        }
    }

    /// A listener that resets each connection once a request arrived; counts them.
    async fn resetter() -> (std::net::SocketAddr, std::sync::Arc<std::sync::Mutex<u32>>) {
        use tokio::io::AsyncReadExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let count = std::sync::Arc::new(std::sync::Mutex::new(0));
        let counted = count.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                *counted.lock().unwrap() += 1;
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf).await;
                let _ = stream.set_zero_linger();
                drop(stream);
            }
        });
        (addr, count)
    }

    /// A listener that answers every request with `answer` (a whole HTTP/1.1 response),
    /// or never when it is empty; counts connections.
    async fn answering(
        answer: String,
    ) -> (std::net::SocketAddr, std::sync::Arc<std::sync::Mutex<u32>>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let count = std::sync::Arc::new(std::sync::Mutex::new(0));
        let counted = count.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                *counted.lock().unwrap() += 1;
                let answer = answer.clone();
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    let _ = stream.read(&mut buf).await;
                    if answer.is_empty() {
                        std::future::pending::<()>().await;
                    }
                    let _ = stream.write_all(answer.as_bytes()).await;
                });
            }
        });
        (addr, count)
    }

    #[tokio::test]
    async fn only_an_idempotent_call_that_got_no_answer_is_sent_again() {
        let (addr, count) = resetter().await;
        let conn = conn_to(&format!("http://{addr}/"), 2, 0);
        let deadline = Instant::now() + Duration::from_secs(10);
        let err = conn.send(request("GET", "/x"), deadline).await.unwrap_err();
        assert!(
            matches!(err, OutconnError::Remote(ref m) if m.contains("after 3 tries")),
            "{err:?}"
        );
        assert_eq!(*count.lock().unwrap(), 3, "a GET: sent, then retried twice");
        *count.lock().unwrap() = 0;
        for method in ["POST", "PATCH"] {
            let err = conn
                .send(request(method, "/x"), deadline)
                .await
                .unwrap_err();
            assert!(matches!(err, OutconnError::Remote(_)), "{method}: {err:?}");
            assert!(!err.to_string().contains("tries"), "{method}: {err:?}");
        }
        assert_eq!(
            *count.lock().unwrap(),
            2,
            "a POST and a PATCH: sent once each"
        );
    }

    #[tokio::test]
    async fn a_redirect_is_the_callers_to_read_not_followed() {
        let (elsewhere, reached) =
            answering("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n".into()).await;
        let (addr, _) = answering(format!(
            "HTTP/1.1 302 Found\r\nlocation: http://{elsewhere}/stolen\r\ncontent-length: 0\r\n\r\n"
        ))
        .await;
        let conn = conn_to(&format!("http://{addr}/"), 0, 0);
        let response = conn
            .send(
                request("GET", "/x"),
                Instant::now() + Duration::from_secs(10),
            )
            .await
            .unwrap();
        assert_eq!(response.status, 302);
        assert!(
            response
                .headers
                .iter()
                .any(|(k, v)| k == "location" && v.contains("/stolen"))
        );
        assert_eq!(*reached.lock().unwrap(), 0, "the Location is never called");
    }

    #[tokio::test]
    async fn the_connections_timeout_ends_a_call_before_a_later_deadline() {
        let (addr, _) = answering(String::new()).await;
        let conn = conn_to(&format!("http://{addr}/"), 0, 200);
        let err = conn
            .send(
                request("GET", "/x"),
                Instant::now() + Duration::from_secs(30),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(err, OutconnError::Timeout(ref m) if m.contains("the connection's timeout")),
            "{err:?}"
        );
        let err = conn_to(&format!("http://{addr}/"), 0, 30_000)
            .send(
                request("GET", "/x"),
                Instant::now() + Duration::from_millis(200),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(err, OutconnError::Timeout(ref m) if m.contains("the request's deadline")),
            "{err:?}"
        );
    }
}
