//! Building the one engine of a server and its epoch ticker.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use crate::config::RuntimeSettings;

/// Which instance allocator the engine ended up with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AllocatorKind {
    Pooling,
    OnDemand,
}

fn base_config(settings: &RuntimeSettings) -> Config {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    config.max_wasm_stack(settings.max_wasm_stack_bytes);
    // WASIp3 is not used: concurrency support only makes every instantiation slower.
    config.concurrency_support(false);
    config
}

/// The engine, with the pooling allocator when the machine can reserve its address
/// space, and the on-demand allocator (with a warning) when it cannot.
pub(crate) fn build(settings: &RuntimeSettings) -> anyhow::Result<(Engine, AllocatorKind)> {
    if settings.pooling {
        let mut config = base_config(settings);
        let n = settings.max_instances;
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(n)
            // A Rust component is one main module plus small shim modules.
            .total_core_instances(n.saturating_mul(4))
            .total_memories(n.saturating_mul(2))
            .total_tables(n.saturating_mul(4))
            .total_stacks(n)
            .max_memory_size(settings.memory_limit_bytes())
            // Keep the first pages resident and reset only the dirty ones: the cheapest
            // way to give each call a clean instance.
            .linear_memory_keep_resident(1 << 20)
            .table_keep_resident(1 << 16)
            .pagemap_scan(Enabled::Auto);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        match Engine::new(&config) {
            Ok(engine) => return Ok((engine, AllocatorKind::Pooling)),
            Err(e) => tracing::warn!(
                "pooling allocator unavailable ({e:#}); falling back to the on-demand allocator, \
                 which is slower per request"
            ),
        }
    }
    let engine = Engine::new(&base_config(settings))?;
    Ok((engine, AllocatorKind::OnDemand))
}

/// Advances the engine's epoch at a fixed interval, on its own thread, until dropped.
pub(crate) struct EpochTicker {
    stop: Arc<AtomicBool>,
}

impl EpochTicker {
    pub(crate) fn start(engine: &Engine, tick: Duration) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let weak = engine.weak();
        let flag = Arc::clone(&stop);
        std::thread::Builder::new()
            .name("zato-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(tick);
                    match weak.upgrade() {
                        Some(engine) => engine.increment_epoch(),
                        None => break,
                    }
                }
            })
            .expect("failed to spawn the epoch ticker thread");
        Self { stop }
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
