//! Opt-in warm instances: a service whose configuration sets `zato.instance_reuse = N`
//! (N >= 2) keeps a pool of instantiated stores, each serving one request at a time and
//! up to N requests in all. An instance that trapped, timed out or hit a limit is never
//! returned to the pool.
//!
//! The default stays a fresh instance per request, where nothing of one request is
//! visible to the next; a service that opts in accepts that its globals and memory live
//! on between requests (as in wasmCloud's warm pool or WASIp3 reuse in `wasmtime serve`).

use std::sync::Mutex;

use wasmtime::Store;
use wasmtime::component::Instance;

use super::Ctx;

/// The service configuration key that opts in; its value is the uses per instance.
pub const REUSE_KEY: &str = "zato.instance_reuse";

/// An instantiated service between two requests.
pub(crate) struct WarmInstance {
    pub(crate) store: Store<Ctx>,
    pub(crate) instance: Instance,
    /// Requests served so far.
    pub(crate) uses: u32,
}

/// The idle instances of one version of one service.
#[derive(Default)]
pub(crate) struct WarmPool {
    idle: Mutex<Vec<WarmInstance>>,
}

impl WarmPool {
    pub(crate) fn take(&self) -> Option<WarmInstance> {
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop()
    }

    /// How many instances wait in the pool.
    pub(crate) fn idle(&self) -> usize {
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Keeps `instance` for a later request unless it is used up or the pool is full.
    pub(crate) fn give_back(&self, instance: WarmInstance, max_uses: u32, max_idle: usize) {
        if instance.uses >= max_uses {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < max_idle {
            idle.push(instance);
        }
    }
}

/// The uses per instance a service's configuration asks for, if it opted in.
pub(crate) fn reuse_limit(config: &std::collections::BTreeMap<String, String>) -> Option<u32> {
    let value = config.get(REUSE_KEY)?;
    match value.trim().parse::<u32>() {
        Ok(n) if n >= 2 => Some(n),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn only_a_count_of_two_or_more_opts_in() {
        let config = |v: &str| BTreeMap::from([(REUSE_KEY.to_string(), v.to_string())]);
        assert_eq!(reuse_limit(&config("100")), Some(100));
        assert_eq!(reuse_limit(&config(" 2 ")), Some(2));
        assert_eq!(reuse_limit(&config("1")), None);
        assert_eq!(reuse_limit(&config("many")), None);
        assert_eq!(reuse_limit(&BTreeMap::new()), None);
    }
}
