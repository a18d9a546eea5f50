//! Scenario 2: what one request's sandbox costs. zato's runtime in this process
//! instantiates a deployed service, calls it and drops the instance, in a loop, with the
//! pooling and the on-demand allocator.
//!
//! The configurations take turns in chunks (so a burst of noise from the machine's other
//! work falls on all of them), after a warm-up each; the figures are per call, measured
//! around `Runtime::call`, which is exactly what an HTTP channel runs per request.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use zato_host::config::RuntimeSettings;
use zato_host::deploy::sha256_hex;
use zato_host::runtime::{
    AllocatorKind, CallContext, ChannelKind, DataFormat, LoadedService, REUSE_KEY, Request,
    Runtime, StaticDetails,
};

use super::Ctx;
use crate::report::{Row, Section, thousands};
use crate::stats::{mean, median, quantile};

/// Calls one warm instance serves in the opt-in configuration.
const WARM_REUSE: u32 = 1000;
/// Calls per turn of one configuration.
const CHUNK: usize = 1000;

struct Config {
    label: String,
    service: &'static str,
    runtime: Arc<Runtime>,
    /// Makes the request of one call (its details are moved into the call).
    request: fn() -> Request<'static>,
    samples_us: Vec<f64>,
}

pub async fn run(ctx: &Ctx<'_>) -> anyhow::Result<Section> {
    let hello = std::fs::read(&ctx.artifacts.hello)?;
    let transform = std::fs::read(&ctx.artifacts.transform)?;
    let hello_lean = std::fs::read(&ctx.artifacts.hello_lean)?;
    let cache = ctx.work.join("sandbox-cache");
    let mut configs = Vec::new();
    type Case<'a> = (
        &'static str,
        &'a Vec<u8>,
        fn() -> Request<'static>,
        bool,
        bool,
    );
    let cases: [Case; 6] = [
        ("demo.hello", &hello, hello_request, true, false),
        ("demo.hello", &hello, hello_request, false, false),
        ("demo.hello", &hello, hello_request, true, true),
        // The same service as a lean build (wasm32-unknown-unknown, no WASI).
        ("demo.hello", &hello_lean, hello_request, true, false),
        ("demo.transform", &transform, transform_request, true, false),
        (
            "demo.transform",
            &transform,
            transform_request,
            false,
            false,
        ),
    ];
    for (service, bytes, request, pooling, warm) in cases {
        let runtime = Runtime::new(RuntimeSettings {
            pooling,
            cache_dir: Some(cache.clone()),
            ..RuntimeSettings::default()
        })?;
        let sha256 = sha256_hex(bytes);
        let compiled = runtime
            .compile_async(Arc::from(bytes.as_slice()), sha256.clone())
            .await?;
        let info = runtime.read_info(&compiled, service, service).await?;
        runtime
            .registry()
            .install(LoadedService::new(compiled, info, 1, sha256));
        let allocator = match runtime.allocator() {
            AllocatorKind::Pooling => "pooling",
            AllocatorKind::OnDemand => "on-demand",
        };
        if pooling && runtime.allocator() != AllocatorKind::Pooling {
            eprintln!("[bench] sandbox: the pooling allocator is unavailable here");
        }
        let mut label = format!("{service}, {allocator} allocator");
        if bytes.get(4..8) == Some(&[1, 0, 0, 0]) {
            // A core module: a lean build, wrapped into a component at deploy.
            label = format!("{service} (lean build), {allocator} allocator");
        }
        if warm {
            // The opt-in of the service's configuration: an instance serves many calls.
            let config = BTreeMap::from([(REUSE_KEY.to_owned(), WARM_REUSE.to_string())]);
            runtime
                .registry()
                .set_configs(HashMap::from([(service.to_owned(), config)]));
            label.push_str(&format!(
                ", warm instances (opt-in, {WARM_REUSE} calls each)"
            ));
        }
        configs.push(Config {
            label,
            service,
            runtime,
            request,
            samples_us: Vec::with_capacity(ctx.plan.calls),
        });
    }

    let warmup = (ctx.plan.calls / 10).max(200);
    for config in &mut configs {
        eprintln!("[bench] sandbox: warming up {}", config.label);
        for _ in 0..warmup {
            call(config).await?;
        }
    }
    eprintln!(
        "[bench] sandbox: {} timed calls per configuration, in turns of {CHUNK}",
        ctx.plan.calls
    );
    while configs.iter().any(|c| c.samples_us.len() < ctx.plan.calls) {
        for config in &mut configs {
            let n = CHUNK.min(ctx.plan.calls - config.samples_us.len());
            for _ in 0..n {
                let took = call(config).await?;
                config.samples_us.push(took.as_secs_f64() * 1e6);
            }
        }
    }

    let mut section = Section::new(
        format!(
            "2. Per-request sandbox cost: instantiate + call + drop ({} calls each, after {warmup} of warm-up)",
            ctx.plan.calls
        ),
        vec![
            "service, allocator",
            "p50",
            "p99",
            "mean",
            "calls/s (one task)",
        ],
    );
    for config in &configs {
        let p50 = median(&config.samples_us);
        let p99 = quantile(&config.samples_us, 0.99);
        let avg = mean(&config.samples_us);
        let mut row = Row::new("sandbox", &config.label)
            .extra("p50_us", p50)
            .extra("p99_us", p99)
            .extra("mean_us", avg)
            .extra("calls", config.samples_us.len())
            .cells(vec![
                config.label.clone(),
                format!("{p50:.1} µs"),
                format!("{p99:.1} µs"),
                format!("{avg:.1} µs"),
                thousands(1e6 / avg),
            ]);
        row.rps = Some(1e6 / avg);
        row.p50_ms = Some(p50 / 1000.0);
        row.p99_ms = Some(p99 / 1000.0);
        section.rows.push(row);
    }
    section.notes.push(
        "In-process, through `zato_host::runtime::Runtime::call` with the server's default settings (64 MiB memory limit, epoch interruption, WASI linked); one task on a multi-thread tokio runtime."
            .into(),
    );
    section.notes.push(
        "A lean build is the same service built for wasm32-unknown-unknown: a core module without WASI, which zato wraps into a component at deploy. Both builds of demo.hello use zato-sdk's arena allocator."
            .into(),
    );
    Ok(section)
}

async fn call(config: &Config) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let response = config
        .runtime
        .call(
            config.service,
            (config.request)(),
            CallContext::new(Duration::from_secs(30)),
        )
        .await
        .with_context(|| format!("{} failed", config.service))?;
    let took = started.elapsed();
    if response.status != 200 {
        bail!(
            "{} answered {}: {}",
            config.service,
            response.status,
            String::from_utf8_lossy(&response.payload)
        );
    }
    Ok(took)
}

/// What the HTTP channel gives `demo.hello` for `GET /demo/hello?name=bench`.
fn hello_request() -> Request<'static> {
    let http = &[("method", "GET"), ("path", "/demo/hello")];
    request(http, &[("name", "bench")], b"")
}

/// What the HTTP channel gives `demo.transform` for a POST of a customer record.
fn transform_request() -> Request<'static> {
    let body = br#"{"first_name":"Ada","last_name":"Lovelace","email":"ada@example.com","orders":[{"amount":10.5},{"amount":20}]}"#;
    let http = &[("method", "POST"), ("path", "/demo/transform")];
    request(http, &[], body)
}

fn request(
    details: &'static [(&'static str, &'static str)],
    query: &'static [(&'static str, &'static str)],
    payload: &'static [u8],
) -> Request<'static> {
    Request {
        cid: "0123456789abcdef0123456789abcdef",
        channel: ChannelKind::Http,
        payload,
        data_format: DataFormat::Json,
        details: Box::new(StaticDetails {
            channel_name: "bench",
            headers: &[("content-type", "application/json")],
            details,
            query,
            params: &[],
        }),
    }
}
