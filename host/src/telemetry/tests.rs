use std::sync::{Arc, Mutex};

use opentelemetry::trace::TracerProvider as _;
use opentelemetry::trace::{SpanKind, Status, TraceId};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use tracing_subscriber::Layer as _;
use tracing_subscriber::layer::SubscriberExt as _;

use super::*;

/// Keeps what it is given, to be read back.
#[derive(Debug, Clone, Default)]
struct Kept(Arc<Mutex<Vec<SpanData>>>);

impl SpanExporter for Kept {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.0.lock().unwrap().extend(batch);
        Ok(())
    }
}

fn attribute(span: &SpanData, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.to_string())
}

#[test]
fn the_endpoint_is_the_base_url_with_the_traces_path() {
    let with = |endpoint: &str| TelemetrySettings {
        otlp_endpoint: Some(endpoint.into()),
        ..TelemetrySettings::default()
    };
    let url = |endpoint: &str| with(endpoint).endpoint().map(|(url, _)| url);
    assert_eq!(
        url("http://127.0.0.1:4318").as_deref(),
        Some("http://127.0.0.1:4318/v1/traces")
    );
    assert_eq!(
        url("http://collector:4318/").as_deref(),
        Some("http://collector:4318/v1/traces")
    );
    assert_eq!(
        url("https://c.example/otlp/v1/traces").as_deref(),
        Some("https://c.example/otlp/v1/traces")
    );
    assert!(with("http://a").check().is_ok());
}

#[test]
fn bad_settings_are_refused_naming_the_key() {
    let bad = TelemetrySettings {
        sample_ratio: 1.5,
        ..TelemetrySettings::default()
    };
    assert!(bad.check().unwrap_err().contains("telemetry.sample_ratio"));
    let bad = TelemetrySettings {
        otlp_endpoint: Some("grpc://127.0.0.1:4317".into()),
        ..TelemetrySettings::default()
    };
    assert!(bad.check().unwrap_err().contains("telemetry.otlp_endpoint"));
    let bad = TelemetrySettings {
        otlp_endpoint: Some("not a url".into()),
        ..TelemetrySettings::default()
    };
    assert!(bad.check().unwrap_err().contains("telemetry.otlp_endpoint"));
    let bad = TelemetrySettings {
        otlp_headers: [("x-key".to_owned(), "line\nbreak".to_owned())].into(),
        ..TelemetrySettings::default()
    };
    assert!(bad.check().unwrap_err().contains("telemetry.otlp_headers"));
    let bad = TelemetrySettings {
        otlp_headers: [("bad name".to_owned(), "v".to_owned())].into(),
        ..TelemetrySettings::default()
    };
    assert!(bad.check().unwrap_err().contains("bad name"));
    // A user and password in the endpoint are never shown.
    assert_eq!(
        shown("https://user:key@collector.example/v1/traces"),
        "https://collector.example/v1/traces"
    );
}

/// A call that came with a `traceparent` continues that trace; an invoke's span is its
/// caller's child, an outgoing request's the invoked service's, and the request
/// carries that client span's `traceparent`.
#[test]
fn a_call_continues_the_callers_trace_and_an_invoke_nests_inside_it() {
    let kept = Kept::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(kept.clone())
        .build();
    let layer = tracing_opentelemetry::layer()
        .with_tracer(provider.tracer("test"))
        .with_filter(
            tracing_subscriber::filter::Targets::new().with_target(TARGET, tracing::Level::INFO),
        );
    let subscriber = tracing_subscriber::registry().with(layer);
    // Nothing is made while nothing exports (the one test that changes `ENABLED`).
    let url = reqwest::Url::parse("http://backend.example/x").unwrap();
    assert!(call_span("a", "c", "http", "/a", None).is_disabled());
    assert!(client_span(&http::Method::GET, &url).is_none());
    ENABLED.store(true, Ordering::Relaxed);
    // Put back however the test ends, so no other test of this process sees spans.
    struct Disable;
    impl Drop for Disable {
        fn drop(&mut self) {
            ENABLED.store(false, Ordering::Relaxed);
        }
    }
    let _disable = Disable;
    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let remote_parent = "00f067aa0ba902b7";
    let traceparent = format!("00-{trace}-{remote_parent}-01");
    let sent = tracing::subscriber::with_default(subscriber, || {
        let outer = call_span(
            "demo.outer",
            "cid-1",
            "http",
            "/outer",
            Some((&traceparent, None)),
        );
        let _outer = outer.enter();
        let inner = call_span("demo.inner", "cid-1", "invoke", "demo.outer", None);
        let _inner = inner.enter();
        let with_query = reqwest::Url::parse("http://backend.example/x?token=s3cret").unwrap();
        let (client, headers) = client_span(&http::Method::GET, &with_query).unwrap();
        record_http_outcome::<()>(&client, Ok(502));
        drop(client);
        record_outcome(&inner, Some((&"service `x` is not deployed", &"NotFound")));
        drop(_inner);
        drop(_outer);
        // A malformed traceparent, or one longer than any version's: a trace of its own.
        for bad in [
            "00-zz-yy-01".to_owned(),
            format!("{traceparent}{}", "-".repeat(200)),
        ] {
            let span = call_span("demo.bad", "cid-2", "http", "/bad", Some((&bad, None)));
            drop(span.enter());
        }
        // A tracestate past 512 characters is not carried on.
        let long_state = format!("k={}", "v".repeat(600));
        let kept = call_span(
            "demo.state",
            "cid-3",
            "http",
            "/state",
            Some((&traceparent, Some(&long_state))),
        );
        drop(kept.enter());
        headers
    });
    provider.force_flush().unwrap();

    let spans = kept.0.lock().unwrap().clone();
    let by_name = |name: &str| {
        spans
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("no span `{name}` in {spans:#?}"))
    };
    let (outer, inner, client) = (
        by_name("demo.outer"),
        by_name("demo.inner"),
        by_name("GET backend.example"),
    );
    let trace_id = TraceId::from_hex(trace).unwrap();
    for span in [outer, inner, client] {
        assert_eq!(span.span_context.trace_id(), trace_id, "{span:#?}");
    }
    assert_eq!(format!("{}", outer.parent_span_id), remote_parent);
    assert_eq!(inner.parent_span_id, outer.span_context.span_id());
    assert_eq!(client.parent_span_id, inner.span_context.span_id());
    assert_eq!(outer.span_kind, SpanKind::Server);
    assert_eq!(inner.span_kind, SpanKind::Internal);
    assert_eq!(client.span_kind, SpanKind::Client);
    for span in [outer, inner] {
        assert_eq!(attribute(span, "zato.cid").as_deref(), Some("cid-1"));
    }
    assert_eq!(attribute(inner, "zato.channel").as_deref(), Some("invoke"));
    assert_eq!(
        attribute(outer, "zato.channel.name").as_deref(),
        Some("/outer")
    );
    assert!(
        matches!(&inner.status, Status::Error { description } if description.contains("`x`")),
        "{:?}",
        inner.status
    );
    assert_eq!(
        attribute(client, "http.response.status_code").as_deref(),
        Some("502")
    );
    assert!(matches!(client.status, Status::Error { .. }));

    for name in ["demo.bad"] {
        let roots: Vec<_> = spans.iter().filter(|s| s.name == name).collect();
        assert_eq!(roots.len(), 2, "{roots:#?}");
        for root in roots {
            assert_ne!(root.span_context.trace_id(), trace_id);
            assert_eq!(root.parent_span_id, opentelemetry::trace::SpanId::INVALID);
        }
    }
    let state = by_name("demo.state");
    assert_eq!(state.span_context.trace_id(), trace_id);
    assert!(state.span_context.trace_state().header().is_empty());
    assert_eq!(
        attribute(client, "url.full").as_deref(),
        Some("http://backend.example/x"),
        "no query string goes to the collector"
    );

    let (name, value) = &sent[0];
    assert_eq!(*name, "traceparent");
    assert_eq!(
        value,
        &format!("00-{trace}-{}-01", client.span_context.span_id())
    );
}
