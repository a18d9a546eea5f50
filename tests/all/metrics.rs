//! `GET /metrics`: a server's Prometheus metrics, read after a known sequence of calls
//! and deploys, and parsed by Prometheus's own Python client (its OpenMetrics parser),
//! so we know a Prometheus scrapes what we serve.

use std::collections::BTreeMap;

use reqwest::StatusCode;
use serde_json::Value;
use tokio::process::Command;
use zato_test_artifacts as wasm;

use crate::harness::{TestServer, http_channel};

/// Parses `text` with `prometheus_client.openmetrics.parser`: every sample as
/// `name{label=value,...}` (labels sorted) -> value. Panics with the parser's message
/// when it refuses the text.
pub(crate) async fn parse(text: &str) -> BTreeMap<String, f64> {
    const PARSE: &str = r#"
import json, sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families
samples = {}
for family in text_string_to_metric_families(sys.stdin.read()):
    for s in family.samples:
        labels = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()))
        samples[f"{s.name}{{{labels}}}"] = s.value
print(json.dumps(samples))
"#;
    let mut child = Command::new("python3")
        .args(["-c", PARSE])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs (tests/run.sh installs prometheus-client)");
    {
        use tokio::io::AsyncWriteExt as _;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(text.as_bytes()).await.unwrap();
    }
    let out = child.wait_with_output().await.unwrap();
    assert!(
        out.status.success(),
        "the OpenMetrics parser refused /metrics: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    let samples: BTreeMap<String, Value> = serde_json::from_slice(&out.stdout).unwrap();
    samples
        .into_iter()
        .map(|(k, v)| (k, v.as_f64().unwrap()))
        .collect()
}

async fn scrape(server: &TestServer) -> (String, BTreeMap<String, f64>) {
    let response = server
        .http
        .get(format!("{}/metrics", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "no credentials needed");
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    let text = response.text().await.unwrap();
    let samples = parse(&text).await;
    (text, samples)
}

fn sample(samples: &BTreeMap<String, f64>, key: &str) -> f64 {
    *samples
        .get(key)
        .unwrap_or_else(|| panic!("no sample {key} in {samples:#?}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_count_each_call_by_service_channel_and_status_and_parse_as_openmetrics() {
    let server = TestServer::start().await;
    server.deploy(wasm::HELLO).await;
    server.deploy(wasm::TRAP).await;
    let (status, _) = server.try_deploy(b"not a component".to_vec()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    server
        .api
        .create_http_channel(&http_channel("hello", "/hello", "demo.hello"))
        .await
        .unwrap();

    const HELLOS: usize = 7;
    for _ in 0..HELLOS {
        let response = server
            .http
            .get(format!("{}/hello?name=Ada", server.base))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
    for _ in 0..2 {
        let (status, _) = server.invoke("test.trap", "{}").await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    }
    // Names no service goes by share one series, not one each.
    for name in ["no.such-1", "no.such-2"] {
        let (status, _) = server.invoke(name, "{}").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }

    let (text, samples) = scrape(&server).await;
    let hello = "channel=http,service=demo.hello";
    assert_eq!(
        sample(
            &samples,
            &format!("zato_requests_total{{{hello},status=200}}")
        ),
        HELLOS as f64,
        "{text}"
    );
    assert_eq!(
        sample(
            &samples,
            "zato_requests_total{channel=admin,service=test.trap,status=500}"
        ),
        2.0
    );
    assert_eq!(
        sample(
            &samples,
            "zato_requests_total{channel=admin,service=(not deployed),status=404}"
        ),
        2.0,
        "{text}"
    );
    assert!(!text.contains("no.such"), "{text}");
    assert_eq!(
        sample(
            &samples,
            &format!("zato_request_duration_seconds_count{{{hello}}}")
        ),
        HELLOS as f64
    );
    assert_eq!(
        sample(
            &samples,
            "zato_request_duration_seconds_bucket{channel=http,le=+Inf,service=demo.hello}"
        ),
        HELLOS as f64,
        "every call falls in the last bucket"
    );
    assert!(
        sample(
            &samples,
            &format!("zato_request_duration_seconds_sum{{{hello}}}")
        ) > 0.0
    );
    assert_eq!(sample(&samples, "zato_deploys_total{outcome=ok}"), 2.0);
    assert_eq!(sample(&samples, "zato_deploys_total{outcome=refused}"), 1.0);
    assert_eq!(sample(&samples, "zato_services{}"), 2.0);
    assert_eq!(sample(&samples, "zato_requests_in_flight{}"), 0.0);
    assert_eq!(sample(&samples, "zato_odb_errors_total{}").fract(), 0.0);

    // The path is the server's: no channel takes it, and other methods are refused.
    let refused = server
        .api
        .create_http_channel(&http_channel("steal", "/metrics", "demo.hello"))
        .await
        .unwrap_err();
    assert!(
        refused.to_string().contains("`/metrics` is reserved"),
        "{refused}"
    );
    let post = server
        .http
        .post(format!("{}/metrics", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), StatusCode::METHOD_NOT_ALLOWED);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_can_be_turned_off() {
    let server = TestServer::start_with(|c| c.http.metrics = false).await;
    let response = server
        .http
        .get(format!("{}/metrics", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    server.stop().await;
}
