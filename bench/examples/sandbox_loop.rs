//! A profiling aid: instantiate + call + drop of `demo.hello` in a tight loop for a
//! given number of seconds, to run under `perf record` or `valgrind --tool=callgrind`.
//!
//!     cargo build -p zato-bench --release --example sandbox_loop
//!     perf record -e cpu-clock -g target/release/examples/sandbox_loop examples/target/wasm32-wasip2/release/hello.wasm 10
//!
//! Arguments: `[WASM] [SECONDS] [CALLS]`. With `ZATO_ARTIFACT_CACHE=DIR` the compiled
//! component is kept in (and loaded from) DIR between runs. Under valgrind the engine
//! sees other CPU features and compiles again; count only the loop there with
//! `--toggle-collect='sandbox_loop::main::{{closure}}'` (`Runtime::call` is inlined).

use std::sync::Arc;
use std::time::{Duration, Instant};

use zato_host::config::RuntimeSettings;
use zato_host::deploy::sha256_hex;
use zato_host::runtime::{
    CallContext, ChannelKind, DataFormat, LoadedService, Request, Runtime, StaticDetails,
};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .unwrap_or_else(|| "examples/target/wasm32-wasip2/release/hello.wasm".into());
    let seconds: f64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(5.0);
    let calls: Option<u64> = args.next().map(|s| s.parse()).transpose()?;
    let bytes = std::fs::read(&path)?;
    let settings = RuntimeSettings {
        cache_dir: std::env::var_os("ZATO_ARTIFACT_CACHE").map(Into::into),
        ..RuntimeSettings::default()
    };
    let runtime = Runtime::new(settings)?;
    let sha = sha256_hex(&bytes);
    let compiled = runtime
        .compile_async(Arc::from(bytes.as_slice()), sha.clone())
        .await?;
    let info = runtime.read_info(&compiled, "profiled").await?;
    let name = info.name.clone();
    runtime
        .registry()
        .install(LoadedService::new(compiled, info, 1, sha));
    // What the HTTP channel gives `demo.hello` for `GET /demo/hello?name=bench`.
    let request = || Request {
        cid: "0123456789abcdef0123456789abcdef",
        channel: ChannelKind::Http,
        payload: b"",
        data_format: DataFormat::Json,
        details: Box::new(StaticDetails {
            channel_name: "profile",
            headers: &[("content-type", "application/json")],
            details: &[("method", "GET"), ("path", "/demo/hello")],
            query: &[("name", "bench")],
            params: &[],
        }),
    };
    let started = Instant::now();
    let mut n = 0u64;
    while started.elapsed() < Duration::from_secs_f64(seconds) && calls.is_none_or(|c| n < c) {
        let response = runtime
            .call(&name, request(), CallContext::new(Duration::from_secs(30)))
            .await?;
        assert_eq!(response.status, 200);
        n += 1;
    }
    let took = started.elapsed();
    println!(
        "{n} calls, {:.2} µs each",
        took.as_secs_f64() * 1e6 / n as f64
    );
    Ok(())
}
