//! Traces: a span for each call of a service, nested invokes' spans inside their
//! caller's, each carrying the call's cid, and exported with OpenTelemetry (OTLP over
//! HTTP) when an endpoint is configured (`[telemetry] otlp_endpoint`, or the standard
//! `OTEL_EXPORTER_OTLP_ENDPOINT`).
//!
//! The spans are `tracing` spans of the target [`TARGET`]; the OpenTelemetry layer is
//! the only one that sees them by default (the log shows them when `ZATO_LOG` names the
//! target), so a server that exports nothing pays nothing for them: with no layer
//! interested, `info_span!` is a disabled span.
//!
//! Propagation is W3C Trace Context: a call that comes in with a `traceparent` header
//! continues the caller's trace, and an outgoing HTTP connection's request carries the
//! `traceparent` of its own client span.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator as _};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{WithExportConfig as _, WithHttpConfig as _};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use serde::{Deserialize, Serialize};
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

/// The target of the call spans: `ZATO_LOG=info,zato::call=info` shows them in the log.
pub const TARGET: &str = "zato::call";

/// The longest `traceparent` read: version 00's is 55 characters.
const MAX_TRACEPARENT: usize = 128;
/// The longest `tracestate` kept, as the W3C recommends propagating at least.
const MAX_TRACESTATE: usize = 512;

/// Whether this process exports traces: spans are made and `traceparent` headers read
/// and written only then.
static ENABLED: AtomicBool = AtomicBool::new(false);

/// Whether traces are exported by this process.
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// `[telemetry]` in a server's configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TelemetrySettings {
    /// Where traces go, as OTLP over HTTP with protobuf: the collector's base URL
    /// (`http://127.0.0.1:4318`; `/v1/traces` is added unless the URL ends with it).
    /// None: the standard `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or
    /// `OTEL_EXPORTER_OTLP_ENDPOINT`, and with neither set, no export.
    pub otlp_endpoint: Option<String>,
    /// Headers sent with each export (a collector's API key, say).
    pub otlp_headers: BTreeMap<String, String>,
    /// The share of traces kept, from 0.0 to 1.0, for traces this server starts; a
    /// trace continued from a caller's `traceparent` follows the caller's choice.
    pub sample_ratio: f64,
    /// `service.name` of the exported resource.
    pub service_name: String,
    /// How long one export may take before it is given up, in ms.
    pub export_timeout_ms: u64,
    /// Spans waiting to be exported at most; beyond it, new spans are dropped (the
    /// request path never waits for the collector).
    pub max_queue_size: usize,
    /// How often waiting spans are sent, in ms, when fewer than a batch (512) wait.
    pub schedule_delay_ms: u64,
}

impl Default for TelemetrySettings {
    fn default() -> Self {
        Self {
            otlp_endpoint: None,
            otlp_headers: BTreeMap::new(),
            sample_ratio: 1.0,
            service_name: "zato-server".into(),
            export_timeout_ms: 10_000,
            max_queue_size: 16_384,
            schedule_delay_ms: 1_000,
        }
    }
}

impl TelemetrySettings {
    /// The traces endpoint, and where it comes from (the key or the environment
    /// variable), or None when nothing is to be exported.
    pub fn endpoint(&self) -> Option<(String, &'static str)> {
        let configured = self
            .otlp_endpoint
            .as_deref()
            .map(str::trim)
            .filter(|e| !e.is_empty());
        if let Some(base) = configured {
            let base = base.trim_end_matches('/');
            let url = if base.ends_with("/v1/traces") {
                base.to_owned()
            } else {
                format!("{base}/v1/traces")
            };
            return Some((url, "`telemetry.otlp_endpoint`"));
        }
        let env = |name| std::env::var(name).ok().filter(|v: &String| !v.is_empty());
        env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
            .map(|url| (url, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))
            .or_else(|| {
                env("OTEL_EXPORTER_OTLP_ENDPOINT").map(|base| {
                    (
                        format!("{}/v1/traces", base.trim_end_matches('/')),
                        "OTEL_EXPORTER_OTLP_ENDPOINT",
                    )
                })
            })
    }

    /// What is wrong with these settings, naming the key. The environment's endpoint
    /// is checked only when traces are set up ([`otlp_layer`]), so that a bad variable
    /// in a shell does not stop the CLI reading a server's configuration.
    pub fn check(&self) -> Result<(), String> {
        if !(0.0..=1.0).contains(&self.sample_ratio) {
            return Err(format!(
                "`telemetry.sample_ratio` is {}: it must be from 0.0 to 1.0",
                self.sample_ratio
            ));
        }
        if self
            .otlp_endpoint
            .as_deref()
            .is_some_and(|e| !e.trim().is_empty())
            && let Some((endpoint, source)) = self.endpoint()
        {
            check_endpoint(&endpoint, source)?;
        }
        for (name, value) in &self.otlp_headers {
            http::HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                format!(
                    "`telemetry.otlp_headers`: `{}` is not a header name",
                    name.escape_debug()
                )
            })?;
            http::HeaderValue::from_str(value).map_err(|_| {
                format!(
                    "`telemetry.otlp_headers`: the value of `{name}` cannot be sent in a header"
                )
            })?;
        }
        for (key, value) in [
            ("export_timeout_ms", self.export_timeout_ms),
            ("max_queue_size", self.max_queue_size as u64),
            ("schedule_delay_ms", self.schedule_delay_ms),
        ] {
            if value == 0 {
                return Err(format!("`telemetry.{key}` must be more than 0"));
            }
        }
        Ok(())
    }
}

/// What is wrong with `endpoint`, from `source`.
fn check_endpoint(endpoint: &str, source: &str) -> Result<(), String> {
    let url = reqwest::Url::parse(endpoint)
        .map_err(|e| format!("{source}: `{}` is not a URL: {e}", shown(endpoint)))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(format!(
            "{source}: `{}`: OTLP goes to an http:// or https:// address",
            shown(endpoint)
        ));
    }
    Ok(())
}

/// `endpoint` with any user and password taken out, to be shown.
fn shown(endpoint: &str) -> String {
    match reqwest::Url::parse(endpoint) {
        Ok(mut url) => {
            let _ = url.set_username("");
            let _ = url.set_password(None);
            url.to_string()
        }
        Err(_) => endpoint.to_owned(),
    }
}

/// Why traces cannot be exported as configured.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("{0}")]
    Settings(String),
    #[error("cannot build the OTLP exporter: {0}")]
    Exporter(#[from] opentelemetry_otlp::ExporterBuildError),
}

/// What this process exports traces with; dropping it sends what is left.
pub struct Exporting {
    provider: SdkTracerProvider,
    endpoint: String,
}

impl Exporting {
    /// Where the traces go (without any user or password in the URL).
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }
}

impl Drop for Exporting {
    fn drop(&mut self) {
        ENABLED.store(false, Ordering::Relaxed);
        // The export runs on the runtime's other workers while this one waits.
        let provider = &self.provider;
        let shutdown = || provider.shutdown();
        let done = match tokio::runtime::Handle::try_current() {
            Ok(runtime)
                if runtime.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread =>
            {
                tokio::task::block_in_place(shutdown)
            }
            _ => shutdown(),
        };
        if let Err(e) = done {
            eprintln!("the last traces were not exported: {e}");
        }
    }
}

/// The layer that exports this process's call spans, or None when no endpoint is
/// configured. `server` names the exporting instance (`service.instance.id`). Must be
/// called inside a tokio runtime: exports go through its reactor.
#[allow(clippy::type_complexity)]
pub fn otlp_layer<S>(
    settings: &TelemetrySettings,
    cluster: &str,
    server: &str,
) -> Result<
    Option<(
        tracing_opentelemetry::OpenTelemetryLayer<S, opentelemetry_sdk::trace::SdkTracer>,
        Exporting,
    )>,
    TelemetryError,
>
where
    S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
{
    settings.check().map_err(TelemetryError::Settings)?;
    let Some((endpoint, source)) = settings.endpoint() else {
        return Ok(None);
    };
    check_endpoint(&endpoint, source).map_err(TelemetryError::Settings)?;
    // The headers go on each request as given (the exporter's own would percent-decode
    // them).
    let mut headers = http::HeaderMap::new();
    for (name, value) in &settings.otlp_headers {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(name.as_bytes()),
            http::HeaderValue::from_str(value),
        ) {
            headers.insert(name, value);
        }
    }
    let client = ReactorClient::new(settings.export_timeout_ms, headers)?;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_http_client(client)
        .with_endpoint(endpoint.clone())
        .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
        .with_timeout(Duration::from_millis(settings.export_timeout_ms))
        .build()?;
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(settings.service_name.clone())
        .with_attributes([
            opentelemetry::KeyValue::new("service.instance.id", server.to_owned()),
            opentelemetry::KeyValue::new("service.namespace", cluster.to_owned()),
            opentelemetry::KeyValue::new("service.version", env!("CARGO_PKG_VERSION")),
        ])
        .build();
    let batches = opentelemetry_sdk::trace::BatchConfigBuilder::default()
        .with_max_queue_size(settings.max_queue_size)
        .with_scheduled_delay(Duration::from_millis(settings.schedule_delay_ms))
        .build();
    let processor = opentelemetry_sdk::trace::BatchSpanProcessor::builder(exporter)
        .with_batch_config(batches)
        .build();
    let provider = SdkTracerProvider::builder()
        .with_span_processor(processor)
        .with_sampler(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(
            settings.sample_ratio,
        ))))
        .with_resource(resource)
        .build();
    let tracer = provider.tracer("zato");
    ENABLED.store(true, Ordering::Relaxed);
    let layer = tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_tracked_inactivity(false)
        .with_threads(false)
        .with_location(false);
    Ok(Some((
        layer,
        Exporting {
            provider,
            endpoint: shown(&endpoint),
        },
    )))
}

/// The span of one call of `service` through the channel kind `channel` (`http`,
/// `invoke`, ...): a server span for a call that came through a channel (continuing the
/// trace of its `traceparent` header, if any), an internal one for an invoke, which the
/// caller's span holds, and a consumer one for an asynchronous invoke (its
/// `traceparent` is the producer span's, [`producer_span`]). A disabled span when
/// nothing exports.
pub fn call_span(
    service: &str,
    cid: &str,
    channel: &'static str,
    channel_name: &str,
    traceparent: Option<(&str, Option<&str>)>,
) -> Span {
    if !enabled() {
        return Span::none();
    }
    // An invoke runs inside its caller's span, unless it was queued (invoke-async): then
    // it carries the producer's traceparent and is that message's consumer.
    let kind = match (channel, &traceparent) {
        ("invoke", None) => "internal",
        ("invoke", Some(_)) => "consumer",
        _ => "server",
    };
    let span = tracing::info_span!(
        target: TARGET,
        "service",
        otel.name = service,
        otel.kind = kind,
        otel.status_code = tracing::field::Empty,
        otel.status_description = tracing::field::Empty,
        zato.cid = cid,
        zato.service = service,
        zato.channel = channel,
        zato.channel.name = channel_name,
        zato.error.kind = tracing::field::Empty,
    );
    // A caller's headers are untrusted: a traceparent longer than any version's is
    // ignored (the call starts a trace of its own), a tracestate over the W3C's 512
    // characters is dropped rather than copied into every span and request.
    if let Some((traceparent, tracestate)) =
        traceparent.filter(|(parent, _)| parent.len() <= MAX_TRACEPARENT)
    {
        let tracestate = tracestate.filter(|state| state.len() <= MAX_TRACESTATE);
        let carrier = Carrier::Incoming {
            traceparent,
            tracestate,
        };
        let parent = TraceContextPropagator::new().extract(&carrier);
        // A malformed header gives an empty context: the call starts a trace of its own.
        let _ = span.set_parent(parent);
    }
    span
}

/// Records how a call ended on its span: None for success, or the failure's message
/// and kind.
pub fn record_outcome(
    span: &Span,
    failure: Option<(&dyn std::fmt::Display, &dyn std::fmt::Debug)>,
) {
    if span.is_disabled() {
        return;
    }
    match failure {
        None => {
            span.record("otel.status_code", "OK");
        }
        Some((message, kind)) => {
            span.record("otel.status_code", "ERROR");
            span.record("otel.status_description", tracing::field::display(message));
            span.record("zato.error.kind", tracing::field::debug(kind));
        }
    }
}

/// Records an outgoing HTTP request's status (or its failure) on its client span: a
/// 5xx status, or no answer, is an error.
pub fn record_http_outcome<E>(span: &Span, status: Result<u16, E>) {
    if span.is_disabled() {
        return;
    }
    match status {
        Ok(status) => {
            span.record("http.response.status_code", i64::from(status));
            if status >= 500 {
                span.record("otel.status_code", "ERROR");
            }
        }
        Err(_) => {
            span.record("otel.status_code", "ERROR");
        }
    }
}

/// The client span of an outgoing HTTP request, and its `traceparent` (and
/// `tracestate`) to send; None when nothing exports.
pub fn client_span(
    method: &http::Method,
    url: &reqwest::Url,
) -> Option<(Span, Vec<(&'static str, String)>)> {
    if !enabled() {
        return None;
    }
    // Scheme, host, port and path: no query (tokens and personal data travel there)
    // and no user or password go to the collector.
    let without_query = format!(
        "{}://{}{}{}",
        url.scheme(),
        url.host_str().unwrap_or(""),
        url.port().map(|p| format!(":{p}")).unwrap_or_default(),
        url.path()
    );
    let span = tracing::info_span!(
        target: TARGET,
        "outgoing",
        otel.name = %format_args!("{method} {}", url.host_str().unwrap_or("")),
        otel.kind = "client",
        http.request.method = %method,
        server.address = url.host_str().unwrap_or(""),
        url.full = without_query,
        http.response.status_code = tracing::field::Empty,
        otel.status_code = tracing::field::Empty,
    );
    let headers = trace_headers(&span);
    Some((span, headers))
}

/// The producer span of an asynchronous invoke of `service` that the current call
/// queues, and the `traceparent` (and `tracestate`) the queued call carries, so that
/// its consumer span, on whichever server takes it, joins the caller's trace; None when
/// nothing exports.
pub fn producer_span(service: &str) -> Option<(Span, Vec<(&'static str, String)>)> {
    if !enabled() {
        return None;
    }
    let span = tracing::info_span!(
        target: TARGET,
        "invoke-async",
        otel.name = %format_args!("invoke-async {service}"),
        otel.kind = "producer",
        zato.service = service,
        otel.status_code = tracing::field::Empty,
        otel.status_description = tracing::field::Empty,
        zato.error.kind = tracing::field::Empty,
    );
    let headers = trace_headers(&span);
    Some((span, headers))
}

/// W3C Trace Context headers naming `span` as the parent.
fn trace_headers(span: &Span) -> Vec<(&'static str, String)> {
    let mut carrier = Carrier::Outgoing(Vec::new());
    TraceContextPropagator::new().inject_context(&span.context(), &mut carrier);
    let Carrier::Outgoing(headers) = carrier else {
        unreachable!("the carrier stays outgoing")
    };
    headers
}

/// W3C Trace Context headers, read from a request or written for one.
enum Carrier<'a> {
    Incoming {
        traceparent: &'a str,
        tracestate: Option<&'a str>,
    },
    Outgoing(Vec<(&'static str, String)>),
}

impl Extractor for Carrier<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        match (self, key) {
            (Self::Incoming { traceparent, .. }, "traceparent") => Some(traceparent),
            (Self::Incoming { tracestate, .. }, "tracestate") => *tracestate,
            _ => None,
        }
    }

    fn keys(&self) -> Vec<&str> {
        vec!["traceparent", "tracestate"]
    }
}

impl Injector for Carrier<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let Self::Outgoing(headers) = self {
            match key {
                "traceparent" => headers.push(("traceparent", value)),
                "tracestate" if !value.is_empty() => headers.push(("tracestate", value)),
                _ => {}
            }
        }
    }
}

/// The exporter's HTTP client: the server's reqwest, each export sent on the tokio
/// runtime that was current when the exporter was made (the batch processor exports
/// from a thread of its own, with no reactor of its own).
#[derive(Debug)]
struct ReactorClient {
    client: reqwest::Client,
    runtime: tokio::runtime::Handle,
    /// `telemetry.otlp_headers`.
    headers: http::HeaderMap,
}

impl ReactorClient {
    fn new(timeout_ms: u64, headers: http::HeaderMap) -> Result<Self, TelemetryError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
            TelemetryError::Settings("traces are exported from inside a tokio runtime".into())
        })?;
        let client = reqwest::Client::builder()
            .timeout(Duration::from_millis(timeout_ms))
            .no_proxy()
            .build()
            .map_err(|e| TelemetryError::Settings(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self {
            client,
            runtime,
            headers,
        })
    }
}

#[async_trait::async_trait]
impl opentelemetry_http::HttpClient for ReactorClient {
    async fn send_bytes(
        &self,
        request: http::Request<bytes::Bytes>,
    ) -> Result<http::Response<bytes::Bytes>, opentelemetry_http::HttpError> {
        let mut request = request;
        for (name, value) in &self.headers {
            request.headers_mut().insert(name, value.clone());
        }
        let request = reqwest::Request::try_from(request)?;
        let client = self.client.clone();
        let sent = self.runtime.spawn(async move {
            let response = client.execute(request).await?;
            let status = response.status();
            let headers = response.headers().clone();
            let body = response.bytes().await?;
            Ok::<_, reqwest::Error>((status, headers, body))
        });
        let (status, headers, body) = sent.await??;
        let mut response = http::Response::new(body);
        *response.status_mut() = status;
        *response.headers_mut() = headers;
        Ok(response)
    }
}

#[cfg(test)]
mod tests;
