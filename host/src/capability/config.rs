//! `zato:service/config`: the calling service's key/values, as stored in the ODB and
//! cached by the registry (changed at run time without a redeploy).

use crate::runtime::Ctx;
use crate::runtime::bindings::zato::service::config::Host;

impl Host for Ctx {
    async fn get(&mut self, key: String) -> wasmtime::Result<Option<String>> {
        let config = self
            .runtime
            .upgrade()
            .and_then(|r| r.registry().config(&self.service));
        Ok(config.and_then(|c| c.get(&key).cloned()))
    }

    async fn get_all(&mut self) -> wasmtime::Result<Vec<(String, String)>> {
        let config = self
            .runtime
            .upgrade()
            .and_then(|r| r.registry().config(&self.service));
        Ok(config
            .map(|c| c.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default())
    }
}
