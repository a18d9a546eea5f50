//! Traces exported with OpenTelemetry: a server started by `zato start` with
//! `[telemetry] otlp_endpoint` sends its call spans as OTLP/HTTP protobuf to a
//! collector, here a Python one that decodes them with OpenTelemetry's own generated
//! protobuf classes (`opentelemetry-proto` from PyPI) and also plays a CRM for an
//! outgoing HTTP connection.

use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::io::AsyncBufReadExt as _;
use tokio::process::Command;
use zato_test_artifacts as wasm;

use crate::cli::{Running, address, start, text, zato};
use crate::harness::eventually;

/// The collector: prints `{"port": N}`, then a JSON line per span it is sent
/// (`"span"`) and per request the CRM part answers (`"crm"`).
const COLLECTOR: &str = r#"
import http.server, json, sys, threading
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

lock = threading.Lock()

def emit(line):
    # One whole line at a time: the server answers requests on several threads.
    with lock:
        sys.stdout.write(json.dumps(line) + "\n")
        sys.stdout.flush()

def value(v):
    kind = v.WhichOneof("value")
    return getattr(v, kind) if kind else None

class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.path != "/v1/traces" or self.headers["Content-Type"] != "application/x-protobuf":
            self.send_response(400); self.end_headers(); return
        request = trace_service_pb2.ExportTraceServiceRequest()
        request.ParseFromString(body)
        for resource_spans in request.resource_spans:
            resource = {a.key: value(a.value) for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for s in scope_spans.spans:
                    emit({"span": {
                        "name": s.name,
                        "trace_id": s.trace_id.hex(),
                        "span_id": s.span_id.hex(),
                        "parent_span_id": s.parent_span_id.hex(),
                        "kind": s.kind,
                        "status": s.status.code,
                        "status_message": s.status.message,
                        "attributes": {a.key: value(a.value) for a in s.attributes},
                        "resource": resource,
                        "duration_ns": s.end_time_unix_nano - s.start_time_unix_nano,
                        "key": self.headers["x-collector-key"],
                    }})
        answer = trace_service_pb2.ExportTraceServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def do_GET(self):
        emit({"crm": {"path": self.path, "traceparent": self.headers["traceparent"]}})
        answer = json.dumps({"id": 42, "first_name": "Ada", "last_name": "Lovelace",
                             "address": {"city": "London"}, "orders": []}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass

server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(json.dumps({"port": server.server_address[1]}), flush=True)
server.serve_forever()
"#;

/// OTLP's span kinds.
const INTERNAL: i64 = 1;
const SERVER: i64 = 2;
const CLIENT: i64 = 3;
const PRODUCER: i64 = 4;
const CONSUMER: i64 = 5;
/// OTLP's status codes.
const OK: i64 = 1;
const ERROR: i64 = 2;

/// The collector's port, and what it has printed so far.
async fn collector() -> (tokio::process::Child, u16, Arc<Mutex<Vec<Value>>>) {
    let mut child = Command::new("python3")
        .args(["-c", COLLECTOR])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("python3 runs");
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines
        .next_line()
        .await
        .unwrap()
        .expect("the collector prints its port (is opentelemetry-proto installed?)");
    let port = serde_json::from_str::<Value>(&first).unwrap()["port"]
        .as_u64()
        .unwrap() as u16;
    let seen = Arc::new(Mutex::new(Vec::new()));
    tokio::spawn({
        let seen = seen.clone();
        async move {
            while let Ok(Some(line)) = lines.next_line().await {
                seen.lock()
                    .unwrap()
                    .push(serde_json::from_str(&line).unwrap());
            }
        }
    });
    (child, port, seen)
}

/// Points `server.toml` at the collector.
fn configure(server_dir: &Path, port: u16) {
    let path = server_dir.join("server.toml");
    let mut config: toml::Table = toml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let telemetry = config
        .entry("telemetry")
        .or_insert_with(|| toml::Value::Table(Default::default()))
        .as_table_mut()
        .unwrap();
    telemetry.insert(
        "otlp_endpoint".into(),
        format!("http://127.0.0.1:{port}").into(),
    );
    let mut headers = toml::Table::new();
    headers.insert("x-collector-key".into(), "k-123".into());
    telemetry.insert("otlp_headers".into(), headers.into());
    std::fs::write(&path, toml::to_string(&config).unwrap()).unwrap();
}

async fn ok(args: &[&str]) {
    let out = zato(args).await;
    assert!(
        out.status.success(),
        "zato {args:?}: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

/// A request that comes with a `traceparent` continues that trace: the service's span
/// is a server span under the caller's, the service it invokes has an internal span
/// under it, both carry the cid the caller was given; an outgoing HTTP request is a
/// client span whose `traceparent` the remote system receives; a failed call's span
/// is an error naming it. A call queued with invoke-async joins its caller's trace: a
/// producer span under the caller's, the queued call's consumer span and its callback's
/// under that.
/// Every span reaches the collector with the server's resource and the configured
/// export header.
#[tokio::test]
async fn spans_of_a_call_and_its_nested_invoke_reach_an_otlp_collector() {
    let (_collector, port, seen) = collector().await;
    let dir = tempfile::tempdir().unwrap();
    let env = dir.path().join("env");
    let env_arg = env.to_str().unwrap();
    ok(&["quickstart", "create", env_arg, "--base-port", "0"]).await;
    configure(&env.join("server1"), port);
    let log = dir.path().join("server.log");
    let _server: Running = start(&env, &log).await;
    let base = address(&env.join("server1")).await;
    for wasm in [
        wasm::HELLO,
        wasm::INVOKER,
        wasm::OUTGOING_HTTP,
        wasm::TRAP,
        wasm::ASYNC_INVOKE,
    ] {
        ok(&["deploy", wasm, "--env", env_arg]).await;
    }
    for (name, path, service) in [
        ("invoker", "/invoker", "demo.invoker"),
        ("customer", "/customer", "demo.outgoing-http"),
        ("trap", "/trap", "test.trap"),
        ("async", "/async", "test.async"),
    ] {
        ok(&[
            "channel",
            "create",
            "http",
            "--env",
            env_arg,
            "--name",
            name,
            "--path",
            path,
            "--service",
            service,
        ])
        .await;
    }
    let crm = format!("http://127.0.0.1:{port}");
    ok(&[
        "outconn",
        "create",
        "http",
        "--env",
        env_arg,
        "--name",
        "crm",
        "--address",
        &crm,
    ])
    .await;

    let http = crate::harness::http_client();
    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let caller_span = "00f067aa0ba902b7";
    let invoked = http
        .post(format!("{base}/invoker"))
        .header("traceparent", format!("00-{trace}-{caller_span}-01"))
        .body(r#"{"name": "trace"}"#)
        .send()
        .await
        .unwrap();
    assert!(invoked.status().is_success(), "{:?}", invoked.status());
    let cid = invoked.headers()["x-zato-cid"].to_str().unwrap().to_owned();
    let customer = http
        .get(format!("{base}/customer?id=42"))
        .send()
        .await
        .unwrap();
    assert!(customer.status().is_success(), "{:?}", customer.status());
    let trapped = http.post(format!("{base}/trap")).send().await.unwrap();
    assert_eq!(trapped.status(), reqwest::StatusCode::INTERNAL_SERVER_ERROR);
    let async_trace = "0af7651916cd43dd8448eb211c80319c";
    let queued: Value = http
        .post(format!("{base}/async"))
        .header(
            "traceparent",
            format!("00-{async_trace}-b7ad6b7169203331-01"),
        )
        .body(r#"{"op": "queue", "service": "test.async", "payload": {"op": "sleep", "ms": 0}, "callback": "demo.hello"}"#)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let queued_cid = queued["cid"]
        .as_str()
        .unwrap_or_else(|| panic!("queued: {queued}"))
        .to_owned();

    let spans = eventually(
        Duration::from_secs(30),
        "the spans of the four services and of the outgoing request at the collector",
        || async {
            let seen = seen.lock().unwrap();
            let spans: Vec<Value> = seen.iter().filter_map(|l| l.get("span").cloned()).collect();
            let names = [
                "demo.invoker",
                "demo.hello",
                "demo.outgoing-http",
                "test.trap",
            ];
            (names.iter().all(|n| spans.iter().any(|s| s["name"] == *n))
                && spans.iter().any(|s| s["kind"] == CLIENT)
                && spans.iter().filter(|s| s["kind"] == CONSUMER).count() == 2)
                .then_some(spans)
        },
    )
    .await;
    let span = |name: &str| {
        spans
            .iter()
            .find(|s| s["name"] == name)
            .unwrap_or_else(|| panic!("no span `{name}` in {spans:#?}"))
            .clone()
    };
    let (outer, inner, fetch, trap) = (
        span("demo.invoker"),
        // The invoker's demo.hello, not the callback's (in the invoke-async trace).
        spans
            .iter()
            .find(|s| s["name"] == "demo.hello" && s["trace_id"] == trace)
            .unwrap_or_else(|| panic!("no demo.hello in trace {trace}: {spans:#?}"))
            .clone(),
        span("demo.outgoing-http"),
        span("test.trap"),
    );
    let client = spans.iter().find(|s| s["kind"] == CLIENT).unwrap().clone();

    assert_eq!(outer["trace_id"], trace, "{outer:#}");
    assert_eq!(outer["parent_span_id"], caller_span, "{outer:#}");
    assert_eq!(outer["kind"], SERVER, "{outer:#}");
    assert_eq!(outer["status"], OK, "{outer:#}");
    assert_eq!(inner["trace_id"], trace, "{inner:#}");
    assert_eq!(inner["parent_span_id"], outer["span_id"], "{inner:#}");
    assert_eq!(inner["kind"], INTERNAL, "{inner:#}");
    for s in [&outer, &inner] {
        assert_eq!(s["attributes"]["zato.cid"], cid.as_str(), "{s:#}");
    }
    assert_eq!(outer["attributes"]["zato.channel"], "http");
    assert_eq!(outer["attributes"]["zato.channel.name"], "invoker");
    assert_eq!(inner["attributes"]["zato.channel"], "invoke");
    assert!(
        outer["duration_ns"].as_i64().unwrap() >= inner["duration_ns"].as_i64().unwrap(),
        "the caller's span holds its invoke's: {outer:#} {inner:#}"
    );

    // A call with no traceparent starts a trace; its outgoing request is its child,
    // and the CRM was sent that child's traceparent.
    assert_ne!(fetch["trace_id"], trace);
    assert_eq!(fetch["parent_span_id"], "", "{fetch:#}");
    assert_eq!(client["trace_id"], fetch["trace_id"], "{client:#}");
    assert_eq!(client["parent_span_id"], fetch["span_id"], "{client:#}");
    assert_eq!(client["attributes"]["http.response.status_code"], 200);
    let crm_saw = seen
        .lock()
        .unwrap()
        .iter()
        .find_map(|l| l.get("crm").cloned())
        .expect("the CRM was called");
    assert_eq!(crm_saw["path"], "/customers/42");
    assert_eq!(
        crm_saw["traceparent"],
        format!(
            "00-{}-{}-01",
            client["trace_id"].as_str().unwrap(),
            client["span_id"].as_str().unwrap()
        )
    );

    // invoke-async: the caller's server span, its producer span, and the queued call's
    // consumer span, which the worker ran later, under the producer's.
    let in_async_trace = |kind: i64| {
        spans
            .iter()
            .find(|s| s["trace_id"] == async_trace && s["kind"] == kind)
            .unwrap_or_else(|| panic!("no span of kind {kind} in trace {async_trace}: {spans:#?}"))
            .clone()
    };
    let (queuing, producer) = (in_async_trace(SERVER), in_async_trace(PRODUCER));
    let consumer_named = |name: &str| {
        spans
            .iter()
            .find(|s| s["trace_id"] == async_trace && s["kind"] == CONSUMER && s["name"] == name)
            .unwrap_or_else(|| panic!("no consumer span {name} in trace {async_trace}: {spans:#?}"))
            .clone()
    };
    let (consumer, callback) = (consumer_named("test.async"), consumer_named("demo.hello"));
    assert_eq!(queuing["name"], "test.async", "{queuing:#}");
    assert_eq!(queuing["parent_span_id"], "b7ad6b7169203331", "{queuing:#}");
    assert_eq!(producer["name"], "invoke-async test.async", "{producer:#}");
    assert_eq!(
        producer["parent_span_id"], queuing["span_id"],
        "{producer:#}"
    );
    assert_eq!(producer["status"], OK, "{producer:#}");
    assert_eq!(consumer["name"], "test.async", "{consumer:#}");
    assert_eq!(
        consumer["parent_span_id"], producer["span_id"],
        "{consumer:#}"
    );
    assert_eq!(consumer["attributes"]["zato.cid"], queued_cid.as_str());
    assert_eq!(consumer["attributes"]["zato.channel"], "invoke");
    assert_eq!(consumer["status"], OK, "{consumer:#}");
    // The callback, told of the outcome, is a consumer of the same message.
    assert_eq!(
        callback["parent_span_id"], producer["span_id"],
        "{callback:#}"
    );
    assert_eq!(callback["attributes"]["zato.cid"], queued_cid.as_str());

    assert_eq!(trap["status"], ERROR, "{trap:#}");
    assert!(
        trap["status_message"]
            .as_str()
            .is_some_and(|m| m.contains("test.trap")),
        "{trap:#}"
    );
    for s in &spans {
        assert_eq!(s["resource"]["service.name"], "zato-server", "{s:#}");
        assert_eq!(s["resource"]["service.instance.id"], "server1", "{s:#}");
        assert_eq!(s["key"], "k-123", "{s:#}");
    }
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(
        log.contains("exporting traces with OTLP"),
        "the log says where traces go: {log}"
    );
}
