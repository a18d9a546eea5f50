//! The wasmtime runtime: one engine per server, compiled services, one fresh
//! instance per call.
//!
//! Invariants:
//! - the runtime knows nothing about HTTP or any other channel (a `wasi:http` component
//!   is handed a request made of the channel-neutral details: [`wasi_http`]);
//! - nothing of one call is visible to the next: every call gets a new `Store` and a
//!   new instance from the service's `InstancePre`, dropped when the call ends;
//! - a guest's trap, timeout, memory bomb or stack overflow becomes a [`CallError`] for
//!   that call only.

// The generated bindings, as runtime code has always named them.
use crate::wit as bindings;
mod cache;
mod componentize;
mod engine;
mod error;
mod export;
mod invoke;
mod limits;
mod registry;
mod request;
mod warm;
mod wasi_http;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::{Duration, Instant};

use tracing::Instrument as _;
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Engine, Store, UpdateDeadline};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

pub use crate::capability::request::{RequestDetails, StaticDetails};
pub use bindings::{
    ChannelKind, DataFormat, Error as ServiceError, Field, FieldType, Response, ServiceInfo,
};
pub use engine::AllocatorKind;
pub use error::{CallError, CompileError, ErrorKind};
pub use registry::{LoadedService, Registry};
pub use request::Request;
pub use warm::REUSE_KEY;
pub use wasi_http::name_from_source;

use crate::capability::invoke_async::{AsyncHost, AsyncQueue};
use crate::capability::request::NoDetails;
use crate::capability::{
    self, config::ConfigView, invoke::InvokeView, log::LogView, request::RequestView,
};
use crate::config::RuntimeSettings;
use crate::kvdb::Kvdb;
use crate::outconn::Outconns;
use bindings::ZatoServicePre;
use cache::ArtifactCache;
use export::HandleExport;
use limits::Limiter;

/// A component compiled for this engine and linked against the host's imports, ready
/// to be instantiated once per call.
#[derive(Clone)]
pub struct Compiled {
    pub(crate) entry: Entry,
    /// Whether the artifact came from the on-disk cache rather than Cranelift.
    pub from_cache: bool,
}

/// The description of a `wasi:http` component, which has no `info()` to say one.
const WASI_HTTP_DESCRIPTION: &str = "a wasi:http component";

/// How a component is called.
#[derive(Clone)]
pub(crate) enum Entry {
    /// A zato service: its `handle` export, through which every call is made.
    Service {
        pre: ZatoServicePre<Ctx>,
        handle: Arc<HandleExport>,
    },
    /// A standard `wasi:http/proxy` component ([`wasi_http`]).
    WasiHttp(ProxyPre<Ctx>),
}

/// Where a call sits in a chain of `invoke`s; shared by a request and every service it
/// invokes, directly or not.
#[derive(Clone)]
pub struct CallContext {
    /// The whole chain must finish by then (it covers time spent in host calls too).
    pub deadline: Instant,
    /// How many `invoke`s deep this call is; 0 for the service a channel called.
    pub depth: u32,
    /// Set by the first `invoke` that hit the depth limit, so the chain's caller can
    /// report the loop instead of whatever the guests made of the error.
    pub(crate) depth_exceeded: Arc<OnceLock<String>>,
}

impl CallContext {
    /// A top-level call that must finish within `timeout`.
    pub fn new(timeout: Duration) -> Self {
        Self {
            deadline: Instant::now() + timeout,
            depth: 0,
            depth_exceeded: Arc::new(OnceLock::new()),
        }
    }
}

impl crate::metrics::Readings for Runtime {
    fn readings(&self) -> crate::metrics::ServerReadings {
        let services = self.registry.list();
        let (compiled, cache_hits) = self.compile_counts();
        crate::metrics::ServerReadings {
            services: services.len(),
            warm_instances: services.iter().map(|s| s.warm.idle()).sum(),
            compiled,
            cache_hits,
        }
    }
}

impl AsyncHost for Runtime {
    fn knows(&self, service: &str) -> bool {
        self.registry.get(service).is_some() || self.registry.is_pending(service)
    }

    fn async_queue(&self) -> Option<&Arc<AsyncQueue>> {
        self.async_queue.get()
    }
}

/// Per-call host state: what a guest's imports can reach.
pub struct Ctx {
    /// Built on the guest's first WASI call: most calls make none, and building one
    /// (its random generators are seeded) costs more than the rest of the store.
    wasi: Option<WasiCtx>,
    table: ResourceTable,
    limiter: Limiter,
    /// Weak: a warm instance's store lives in the registry, which the runtime owns.
    pub(crate) runtime: Weak<Runtime>,
    pub(crate) service: Arc<str>,
    pub(crate) cid: Arc<str>,
    /// What the service reads of its request through the `request` import; empty
    /// outside a call to `handle`.
    pub(crate) details: Box<dyn RequestDetails>,
    pub(crate) call: CallContext,
    /// The locks the call holds (`lock` import), released when it ends.
    pub(crate) locks: capability::lock::HeldLocks,
    /// What a `wasi:http` component's `wasi:http/types` reach (a field-size limit).
    http: WasiHttpCtx,
    http_hooks: wasi_http::Hooks,
}

impl WasiHttpView for Ctx {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.http_hooks,
        }
    }
}

impl WasiView for Ctx {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: self.wasi.get_or_insert_with(new_wasi_ctx),
            table: &mut self.table,
        }
    }
}

/// The engine, the linker with every host import, and the registry of services.
pub struct Runtime {
    engine: Engine,
    allocator: AllocatorKind,
    linker: Linker<Ctx>,
    cache: ArtifactCache,
    registry: Registry,
    /// The outgoing connections services call through.
    outconns: Arc<Outconns>,
    /// Where `invoke-async` queues calls; set once by the server.
    async_queue: OnceLock<Arc<AsyncQueue>>,
    /// What `kv` and `lock` reach; set once by the server.
    kvdb: OnceLock<Arc<dyn Kvdb>>,
    /// The data dictionary `dictionary` reads, installed by the server's reloads.
    dictionaries: Arc<crate::dictionary::Dictionaries>,
    /// This server's Prometheus metrics.
    metrics: crate::metrics::Metrics,
    /// This server's recorder of usage statistics; set once by the server (none: off).
    usage: OnceLock<Arc<crate::stats::Recorder>>,
    settings: RuntimeSettings,
    stats: CompileStats,
    /// sha256 -> the gate of a compilation in progress.
    compiling: std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    _ticker: engine::EpochTicker,
}

/// How often components were compiled by Cranelift and loaded from the artifact cache.
#[derive(Default)]
struct CompileStats {
    compiled: AtomicU64,
    cache_hits: AtomicU64,
}

impl Runtime {
    /// Builds the engine (pooling allocator when the machine allows it) and the linker.
    pub fn new(settings: RuntimeSettings) -> anyhow::Result<Arc<Self>> {
        let (engine, allocator) = engine::build(&settings)?;
        let mut linker = Linker::<Ctx>::new(&engine);
        // Services are built for wasm32-wasip2, whose std imports WASI (clocks, random,
        // stdio, and the filesystem types). The context below grants no preopened
        // directory and no network, so linking WASI gives them no way out.
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        // The `wasi:http` types a standard `wasi:http/proxy` component imports; its
        // outgoing requests are denied (`wasi_http::Hooks`).
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
        // zato's own imports, each from the part of the call's state it reaches.
        capability::types::add_to_linker(&mut linker)?;
        capability::log::add_to_linker(&mut linker, |ctx| LogView {
            service: &ctx.service,
            cid: &ctx.cid,
        })?;
        capability::config::add_to_linker(&mut linker, |ctx| ConfigView {
            config: ctx
                .runtime
                .upgrade()
                .and_then(|runtime| runtime.registry().config(&ctx.service)),
        })?;
        capability::invoke::add_to_linker(&mut linker, |ctx| InvokeView(ctx))?;
        capability::request::add_to_linker(&mut linker, |ctx| RequestView {
            cid: &ctx.cid,
            details: &*ctx.details,
        })?;
        capability::outgoing_http::add_to_linker(&mut linker, |ctx| {
            capability::outgoing_http::OutgoingHttpView {
                outconns: ctx.runtime.upgrade().map(|r| r.outconns().clone()),
                deadline: ctx.call.deadline,
            }
        })?;
        capability::outgoing_soap::add_to_linker(&mut linker, |ctx| {
            capability::outgoing_soap::OutgoingSoapView {
                outconns: ctx.runtime.upgrade().map(|r| r.outconns().clone()),
                deadline: ctx.call.deadline,
            }
        })?;
        capability::sql::add_to_linker(&mut linker, |ctx| capability::sql::SqlView {
            outconns: ctx.runtime.upgrade().map(|r| r.outconns().clone()),
            deadline: ctx.call.deadline,
        })?;
        capability::ftp::add_to_linker(&mut linker, |ctx| capability::ftp::FtpView {
            outconns: ctx.runtime.upgrade().map(|r| r.outconns().clone()),
            deadline: ctx.call.deadline,
        })?;
        capability::zeromq::add_to_linker(&mut linker, |ctx| capability::zeromq::ZeromqView {
            outconns: ctx.runtime.upgrade().map(|r| r.outconns().clone()),
            deadline: ctx.call.deadline,
        })?;
        capability::invoke_async::add_to_linker(&mut linker, |ctx| {
            capability::invoke_async::InvokeAsyncView {
                host: ctx
                    .runtime
                    .upgrade()
                    .map(|r| r as Arc<dyn capability::invoke_async::AsyncHost>),
                caller: ctx.service.clone(),
            }
        })?;
        capability::amqp::add_to_linker(&mut linker, |ctx| capability::amqp::AmqpView {
            outconns: ctx.runtime.upgrade().map(|r| r.outconns().clone()),
            deadline: ctx.call.deadline,
        })?;
        capability::kv::add_to_linker(&mut linker, |ctx| capability::kv::KvView {
            kvdb: ctx.runtime.upgrade().and_then(|r| r.kvdb()),
            service: ctx.service.clone(),
            deadline: ctx.call.deadline,
        })?;
        capability::lock::add_to_linker(&mut linker, |ctx| capability::lock::LockView {
            kvdb: ctx.runtime.upgrade().and_then(|r| r.kvdb()),
            held: &mut ctx.locks,
            deadline: ctx.call.deadline,
        })?;
        capability::dictionary::add_to_linker(&mut linker, |ctx| {
            capability::dictionary::DictionaryView {
                table: ctx.runtime.upgrade().map(|r| r.dictionaries().table()),
            }
        })?;
        let cache = ArtifactCache::new(settings.cache_dir.clone(), &engine);
        let ticker = engine::EpochTicker::start(&engine, settings.epoch_tick());
        Ok(Arc::new_cyclic(|runtime| Self {
            metrics: crate::metrics::Metrics::new(
                runtime.clone() as Weak<dyn crate::metrics::Readings>
            ),
            engine,
            allocator,
            linker,
            cache,
            registry: Registry::default(),
            outconns: Arc::default(),
            async_queue: OnceLock::new(),
            kvdb: OnceLock::new(),
            usage: OnceLock::new(),
            dictionaries: Arc::default(),
            settings,
            stats: CompileStats::default(),
            compiling: Default::default(),
            _ticker: ticker,
        }))
    }

    /// The services this server runs.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The outgoing connections services call through; `apply` them on a change.
    pub fn outconns(&self) -> &Arc<Outconns> {
        &self.outconns
    }

    /// The data dictionary services read; `install` a new one on a change.
    pub fn dictionaries(&self) -> &Arc<crate::dictionary::Dictionaries> {
        &self.dictionaries
    }

    /// Gives `invoke-async` its queue (once; a second call is ignored).
    pub fn set_async_queue(&self, queue: Arc<AsyncQueue>) {
        let _ = self.async_queue.set(queue);
    }

    /// Gives `kv` and `lock` the cluster's KVDB (once; a second call is ignored).
    pub fn set_kvdb(&self, kvdb: Arc<dyn Kvdb>) {
        let _ = self.kvdb.set(kvdb);
    }

    /// Gives the runtime's callers the statistics recorder (once; a second call is
    /// ignored).
    pub fn set_stats(&self, recorder: Arc<crate::stats::Recorder>) {
        let _ = self.usage.set(recorder);
    }

    /// The statistics recorder, unless statistics are off.
    pub fn stats(&self) -> Option<&Arc<crate::stats::Recorder>> {
        self.usage.get()
    }

    /// A service's threshold of a slow response as its `info()` declared it (0: the
    /// server's), and what its configuration says of its statistics.
    pub fn stats_policy(&self, service: &str) -> (u32, crate::stats::Policy) {
        let threshold = self
            .registry
            .get(service)
            .map_or(0, |s| s.info.slow_threshold_ms);
        (threshold, self.registry.stats_policy(service))
    }

    /// This server's Prometheus metrics.
    pub fn metrics(&self) -> &crate::metrics::Metrics {
        &self.metrics
    }

    fn kvdb(&self) -> Option<Arc<dyn Kvdb>> {
        self.kvdb.get().cloned()
    }

    pub fn settings(&self) -> &RuntimeSettings {
        &self.settings
    }

    pub fn allocator(&self) -> AllocatorKind {
        self.allocator
    }

    /// (components compiled by Cranelift, components loaded from the artifact cache)
    /// since the server started.
    pub fn compile_counts(&self) -> (u64, u64) {
        (
            self.stats.compiled.load(Ordering::Relaxed),
            self.stats.cache_hits.load(Ordering::Relaxed),
        )
    }

    /// Compiles (or loads from the artifact cache) and links a component. Blocking and
    /// CPU-heavy: call it from [`Runtime::compile_async`] unless already off the reactor.
    pub fn compile(&self, bytes: &[u8], sha256: &str) -> Result<Compiled, CompileError> {
        if bytes.len() > self.settings.max_component_bytes {
            return Err(CompileError::TooLarge {
                size: bytes.len(),
                limit: self.settings.max_component_bytes,
            });
        }
        let kind = check_header(bytes)?;
        let (component, from_cache) = match self.cache.load(&self.engine, sha256) {
            Some(component) => {
                self.stats.cache_hits.fetch_add(1, Ordering::Relaxed);
                (component, true)
            }
            None => {
                let wrapped;
                let bytes = match kind {
                    WasmKind::Component => bytes,
                    WasmKind::CoreModule => {
                        wrapped = componentize::componentize(bytes)?;
                        &wrapped[..]
                    }
                };
                let component = Component::from_binary(&self.engine, bytes)
                    .map_err(|e| CompileError::Invalid(format!("{e:#}")))?;
                self.stats.compiled.fetch_add(1, Ordering::Relaxed);
                self.cache.store(sha256, &component);
                (component, false)
            }
        };
        export::check_contract(&component)?;
        let pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(|e| CompileError::Link(format!("{e:#}")))?;
        let entry = if wasi_http::is_wasi_http(&component) {
            Entry::WasiHttp(
                ProxyPre::new(pre).map_err(|e| CompileError::NotAService(format!("{e:#}")))?,
            )
        } else {
            let pre = ZatoServicePre::new(pre)
                .map_err(|e| CompileError::NotAService(format!("{e:#}")))?;
            let handle = HandleExport::find(&component).ok_or_else(|| {
                CompileError::NotAService("the component exports no `handle` function".into())
            })?;
            Entry::Service {
                pre,
                handle: Arc::new(handle),
            }
        };
        Ok(Compiled { entry, from_cache })
    }

    /// Compiles off the reactor, within the configured compile timeout.
    pub async fn compile_async(
        self: &Arc<Self>,
        bytes: Arc<[u8]>,
        sha256: String,
    ) -> Result<Compiled, CompileError> {
        // One compilation per component at a time: a deploy and a broadcast of the same
        // bytes (or two deploys) arriving together must not both run Cranelift; the
        // second waits and loads the first one's artifact from the cache.
        let gate = {
            let mut compiling = self.compiling.lock().unwrap_or_else(|e| e.into_inner());
            compiling.retain(|_, gate| Arc::strong_count(gate) > 1);
            Arc::clone(compiling.entry(sha256.clone()).or_default())
        };
        let _turn = gate.lock().await;
        let this = Arc::clone(self);
        let task = tokio::task::spawn_blocking(move || this.compile(&bytes, &sha256));
        match tokio::time::timeout(self.settings.compile_timeout(), task).await {
            Ok(Ok(result)) => result,
            Ok(Err(join)) => Err(CompileError::Invalid(format!(
                "compiler task failed: {join}"
            ))),
            Err(_) => Err(CompileError::Timeout(self.settings.compile_timeout())),
        }
    }

    /// Instantiates a freshly compiled component and asks it for its `info()`. A
    /// `wasi:http` component has none: it is named `name`, given by the caller (the
    /// deploy: after its source, [`name_from_source`]; a server applying a stored
    /// version: the name it was stored under).
    pub async fn read_info(
        self: &Arc<Self>,
        compiled: &Compiled,
        what: &str,
        name: &str,
    ) -> Result<crate::api::ServiceInfo, CallError> {
        let pre = match &compiled.entry {
            Entry::Service { pre, .. } => pre,
            Entry::WasiHttp(_) => {
                return Ok(crate::api::ServiceInfo {
                    name: name.to_owned(),
                    description: WASI_HTTP_DESCRIPTION.to_owned(),
                    input: Vec::new(),
                    output: Vec::new(),
                    slow_threshold_ms: 0,
                });
            }
        };
        let call = CallContext::new(self.settings.info_timeout());
        let mut store = self.new_store(
            Arc::from(what),
            Arc::from("deploy"),
            Box::new(NoDetails),
            call.clone(),
        );
        let outcome = tokio::time::timeout(self.settings.info_timeout(), async {
            let instance = pre.instantiate_async(&mut store).await?;
            instance.zato_service_service().call_info(&mut store).await
        })
        .await;
        match outcome {
            Ok(Ok(info)) => Ok(info_to_api(info)),
            Ok(Err(e)) => Err(self.classify(what, e, &store, self.settings.info_timeout())),
            Err(_) => Err(CallError::Timeout {
                service: what.to_owned(),
                after: self.settings.info_timeout(),
            }),
        }
    }

    /// Calls the service `name` with `request` in a fresh instance (or a warm one), in
    /// a span of its own when traces are exported (`telemetry.rs`): an invoke's span
    /// is inside its caller's, as the invoke runs inside the caller's call.
    pub async fn call(
        self: &Arc<Self>,
        name: &str,
        request: Request<'_>,
        call: CallContext,
    ) -> Result<Response, CallError> {
        if !crate::telemetry::enabled() {
            return self.call_untraced(name, request, call).await;
        }
        let traceparent = request
            .details
            .header("traceparent")
            .map(|parent| (parent, request.details.header("tracestate")));
        let span = crate::telemetry::call_span(
            name,
            request.cid,
            channel_label(request.channel),
            request.details.channel_name(),
            traceparent,
        );
        let result = self
            .call_untraced(name, request, call)
            .instrument(span.clone())
            .await;
        match &result {
            Ok(_) => crate::telemetry::record_outcome(&span, None),
            Err(e) => crate::telemetry::record_outcome(&span, Some((e, &e.kind()))),
        }
        result
    }

    async fn call_untraced(
        self: &Arc<Self>,
        name: &str,
        request: Request<'_>,
        call: CallContext,
    ) -> Result<Response, CallError> {
        let service = self.registry.get(name).ok_or_else(|| {
            if self.registry.is_pending(name) {
                CallError::NotLoaded(name.to_owned())
            } else {
                CallError::NotDeployed(name.to_owned())
            }
        })?;
        if request.data_format == DataFormat::Json && !service.info.input.is_empty() {
            crate::sio::validate(request.payload, &service.info.input).map_err(|reason| {
                CallError::InvalidInput {
                    service: name.to_owned(),
                    reason,
                }
            })?;
        }
        let (pre, handle) = match &service.entry {
            Entry::Service { pre, handle } => (pre, handle),
            Entry::WasiHttp(pre) => return self.call_wasi_http(&service, pre, request, call).await,
        };
        let remaining = call.deadline.saturating_duration_since(Instant::now());
        // Whole milliseconds, rounded up, so messages say "1s" rather than "999.98ms".
        let budget = Duration::from_millis(remaining.as_micros().div_ceil(1000) as u64);
        let exceeded = Arc::clone(&call.depth_exceeded);
        let reuse = self.registry.instance_reuse(name);
        let lowered = request.lowered();
        let (mut store, warm_instance, uses) = match reuse.and_then(|_| service.warm.take()) {
            Some(mut warm) => {
                // A warm store starts each request like a new one: cid, details,
                // deadline, depth.
                let ctx = warm.store.data_mut();
                ctx.cid = Arc::from(request.cid);
                ctx.details = request.details;
                ctx.call = call;
                warm.store.set_epoch_deadline(1);
                (warm.store, Some(warm.instance), warm.uses)
            }
            None => (
                self.new_store(
                    Arc::clone(&service.name),
                    Arc::from(request.cid),
                    request.details,
                    call,
                ),
                None,
                0,
            ),
        };
        let outcome = tokio::time::timeout(remaining, async {
            let instance = match warm_instance {
                Some(instance) => instance,
                None => pre.instance_pre().instantiate_async(&mut store).await?,
            };
            let handle = handle.get(&mut store, &instance)?;
            let (answer,) = handle.call_async(&mut store, (lowered,)).await?;
            wasmtime::Result::Ok((instance, answer))
        })
        .await;
        // Whatever the outcome, the call's locks end with it.
        if !store.data().locks.is_empty() {
            let ctx = store.data_mut();
            let mut held = std::mem::take(&mut ctx.locks);
            held.release_all(name, &ctx.cid).await;
        }
        let outcome = match outcome {
            Ok(Ok((instance, answer))) => {
                if let Some(max_uses) = reuse {
                    // An idle instance holds nothing of the request it served (the next
                    // one brings its own details; these go now, with their buffers).
                    store.data_mut().details = Box::new(NoDetails);
                    let warm = warm::WarmInstance {
                        store,
                        instance,
                        uses: uses + 1,
                    };
                    service
                        .warm
                        .give_back(warm, max_uses, self.settings.warm_pool_max);
                }
                Ok(Ok(answer))
            }
            Ok(Err(trap)) => Ok(Err(self.classify(name, trap, &store, budget))),
            Err(elapsed) => Err(elapsed),
        };
        let result = match outcome {
            Ok(Ok(Ok(response))) => Ok(response),
            Ok(Ok(Err(error))) => Err(CallError::Service {
                service: name.to_owned(),
                error,
            }),
            Ok(Err(classified)) => Err(classified),
            Err(_) => Err(CallError::Timeout {
                service: name.to_owned(),
                after: budget,
            }),
        };
        // A loop found further down the chain explains the failure better than what
        // the guests on the way made of it.
        match (result, exceeded.get()) {
            (Err(_), Some(chain)) => Err(CallError::InvokeDepth {
                chain: chain.clone(),
            }),
            (result, _) => result,
        }
    }

    /// Calls a `wasi:http` component ([`wasi_http`]): a fresh instance, within the
    /// deadline and memory limit of any call; no warm instances.
    async fn call_wasi_http(
        self: &Arc<Self>,
        service: &LoadedService,
        pre: &ProxyPre<Ctx>,
        request: Request<'_>,
        call: CallContext,
    ) -> Result<Response, CallError> {
        let name = &*service.name;
        let remaining = call.deadline.saturating_duration_since(Instant::now());
        let budget = Duration::from_millis(remaining.as_micros().div_ceil(1000) as u64);
        let mut store = self.new_store(
            Arc::clone(&service.name),
            Arc::from(request.cid),
            request.details,
            call,
        );
        let max_body = self.settings.memory_limit_bytes();
        let outcome = tokio::time::timeout(
            remaining,
            wasi_http::call(pre, &mut store, request.payload, max_body),
        )
        .await;
        match outcome {
            Ok(Ok(wasi_http::Answer::Response(response))) => Ok(response),
            Ok(Ok(wasi_http::Answer::Failed(reason))) => Err(CallError::Service {
                service: name.to_owned(),
                error: ServiceError::Internal(reason),
            }),
            Ok(Err(trap)) => Err(self.classify(name, trap, &store, budget)),
            Err(_) => Err(CallError::Timeout {
                service: name.to_owned(),
                after: budget,
            }),
        }
    }

    fn new_store(
        self: &Arc<Self>,
        service: Arc<str>,
        cid: Arc<str>,
        details: Box<dyn RequestDetails>,
        call: CallContext,
    ) -> Store<Ctx> {
        let ctx = Ctx {
            wasi: None,
            table: ResourceTable::new(),
            limiter: Limiter::new(
                self.settings.memory_limit_bytes(),
                self.settings.table_elements_limit,
            ),
            runtime: Arc::downgrade(self),
            service,
            cid,
            details,
            call,
            locks: Default::default(),
            http: WasiHttpCtx::new(),
            http_hooks: wasi_http::Hooks,
        };
        let mut store = Store::new(&self.engine, ctx);
        store.limiter(|ctx| &mut ctx.limiter);
        // Each epoch tick lets other tasks run (a busy guest never holds a worker thread
        // for long) and ends the call once its deadline has passed.
        store.epoch_deadline_callback(|store| {
            if Instant::now() >= store.data().call.deadline {
                Ok(UpdateDeadline::Interrupt)
            } else {
                // tokio's own yield goes to the back of the run queue; a plain wake
                // from inside the poll would land in the LIFO slot and starve others.
                Ok(UpdateDeadline::YieldCustom(
                    1,
                    Box::pin(tokio::task::yield_now()),
                ))
            }
        });
        store.set_epoch_deadline(1);
        store
    }

    /// Turns a trap into the error a caller can act on.
    fn classify(
        &self,
        service: &str,
        error: wasmtime::Error,
        store: &Store<Ctx>,
        budget: Duration,
    ) -> CallError {
        let service = service.to_owned();
        if let Some(limit) = store.data().limiter.memory_exceeded() {
            return CallError::MemoryLimit { service, limit };
        }
        if let Some(trap) = error.downcast_ref::<wasmtime::Trap>() {
            match trap {
                wasmtime::Trap::Interrupt => {
                    return CallError::Timeout {
                        service,
                        after: budget,
                    };
                }
                wasmtime::Trap::StackOverflow => return CallError::StackOverflow { service },
                wasmtime::Trap::MemoryOutOfBounds if shadow_stack_overflow(&error) => {
                    return CallError::StackOverflow { service };
                }
                _ => {}
            }
        }
        if error
            .downcast_ref::<wasmtime::PoolConcurrencyLimitError>()
            .is_some()
        {
            return CallError::Busy { service };
        }
        CallError::Trap {
            service,
            message: trap_message(&error),
        }
    }
}

/// A guest's WASI context: no preopened directory, no environment, no network, closed
/// stdio, the host's clocks and random sources.
fn new_wasi_ctx() -> WasiCtx {
    let mut wasi = WasiCtx::builder();
    wasi.allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false);
    wasi.build()
}

fn info_to_api(info: ServiceInfo) -> crate::api::ServiceInfo {
    use crate::api::{Field as ApiField, FieldType as T};
    let fields = |fields: Vec<Field>| {
        fields
            .into_iter()
            .map(|f| ApiField {
                name: f.name,
                kind: match f.type_ {
                    FieldType::Any => T::Any,
                    FieldType::String => T::String,
                    FieldType::Integer => T::Integer,
                    FieldType::Number => T::Number,
                    FieldType::Boolean => T::Boolean,
                    FieldType::Object => T::Object,
                    FieldType::Array => T::Array,
                },
                required: f.required,
            })
            .collect()
    };
    crate::api::ServiceInfo {
        name: info.name,
        description: info.description,
        input: fields(info.input),
        output: fields(info.output),
        slow_threshold_ms: info.slow_threshold_ms,
    }
}

/// The first line of a trap's message, plus the guest's panic message when it printed one.
fn trap_message(error: &wasmtime::Error) -> String {
    // The chain is [backtrace header, ..., trap]: report the causes, innermost first.
    let mut causes: Vec<String> = error.chain().skip(1).map(|c| c.to_string()).collect();
    causes.reverse();
    match causes.split_first() {
        None => format!("{error}")
            .lines()
            .next()
            .unwrap_or("trap")
            .to_owned(),
        Some((trap, [])) => trap.clone(),
        Some((trap, details)) => format!("{trap} ({})", details.join(": ")),
    }
}

/// Whether an out-of-bounds access is a Rust guest's shadow stack (at the bottom of its
/// linear memory) growing below address 0, i.e. unbounded recursion.
fn shadow_stack_overflow(error: &wasmtime::Error) -> bool {
    const PREFIX: &str = "memory fault at wasm address 0x";
    error.chain().any(|cause| {
        let text = cause.to_string();
        text.strip_prefix(PREFIX)
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|hex| u64::from_str_radix(hex, 16).ok())
            .is_some_and(|address| (0xFFFF_0000..=0xFFFF_FFFF).contains(&address))
    })
}

/// What a `.wasm` file holds, from its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WasmKind {
    Component,
    /// Deployed when it carries zato's WIT world: see [`componentize`].
    CoreModule,
}

/// Tells a component from a core module, and refuses anything else before Cranelift
/// sees it.
pub(crate) fn check_header(bytes: &[u8]) -> Result<WasmKind, CompileError> {
    const MAGIC: &[u8; 4] = b"\0asm";
    if bytes.len() < 8 || &bytes[..4] != MAGIC {
        return Err(CompileError::NotWasm);
    }
    // Bytes 4..8: a core module is version 1 layer 0; a component has layer 1.
    match bytes[4..8] {
        [1, 0, 0, 0] => Ok(WasmKind::CoreModule),
        [_, _, 1, 0] => Ok(WasmKind::Component),
        _ => Err(CompileError::Invalid(format!(
            "unknown WebAssembly version/layer {:02x?}",
            &bytes[4..8]
        ))),
    }
}

/// The name of a channel kind in metrics, statistics and traces.
pub fn channel_label(kind: ChannelKind) -> &'static str {
    match kind {
        ChannelKind::Http => "http",
        ChannelKind::Invoke => "invoke",
        ChannelKind::Admin => "admin",
        ChannelKind::Scheduler => "scheduler",
        ChannelKind::Amqp => "amqp",
        ChannelKind::Zeromq => "zeromq",
        ChannelKind::Soap => "soap",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_check_tells_modules_from_components() {
        assert!(matches!(
            check_header(b"hello world"),
            Err(CompileError::NotWasm)
        ));
        assert!(matches!(
            check_header(b"\0asm\x01\0\0\0"),
            Ok(WasmKind::CoreModule)
        ));
        assert!(matches!(
            check_header(b"\0asm\x0d\0\x01\0"),
            Ok(WasmKind::Component)
        ));
        assert!(matches!(check_header(b"\0asm"), Err(CompileError::NotWasm)));
    }

    /// A component importing `zato:service/log` at `version` (an instance with nothing
    /// in it: the version is all that is looked at before linking).
    fn component_importing_log(version: &str) -> Vec<u8> {
        use wasm_encoder::{ComponentImportSection, ComponentTypeRef, ComponentTypeSection};
        let mut types = ComponentTypeSection::new();
        types.instance(&wasm_encoder::InstanceType::new());
        let mut imports = ComponentImportSection::new();
        imports.import(
            format!("zato:service/log@{version}"),
            ComponentTypeRef::Instance(0),
        );
        let mut component = wasm_encoder::Component::new();
        component.section(&types).section(&imports);
        component.finish()
    }

    #[test]
    fn a_service_built_against_another_contract_is_told_to_rebuild() {
        let runtime = Runtime::new(RuntimeSettings {
            pooling: false,
            ..RuntimeSettings::default()
        })
        .unwrap();
        let old = component_importing_log("0.1.0");
        let error = runtime.compile(&old, "old").err().expect("refused");
        assert!(
            matches!(&error, CompileError::Contract { found, .. } if found == "0.1.0"),
            "{error:?}"
        );
        assert!(error.to_string().contains("rebuild it"), "{error}");
        // The current version gets past that check (and is refused later: it exports
        // no service).
        let current = component_importing_log(export::CONTRACT_VERSION);
        let error = runtime.compile(&current, "current").err().expect("refused");
        assert!(matches!(error, CompileError::NotAService(_)), "{error:?}");
    }
}
