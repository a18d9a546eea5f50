//! `zato:service/config`: the calling service's key/values, as stored in the ODB and
//! kept by the server (changed at run time without a redeploy).

use std::collections::BTreeMap;
use std::sync::Arc;

use wasmtime::component::{HasData, Linker};

use crate::wit::zato::service::config::{self, Host};

/// What the `config` import reaches of a call: the calling service's configuration, as
/// it stood when the import was called.
pub struct ConfigView {
    pub config: Option<Arc<BTreeMap<String, String>>>,
}

struct Config;

impl HasData for Config {
    type Data<'a> = ConfigView;
}

/// Links `config`, building each call's [`ConfigView`] from the store's data with `get`.
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> ConfigView,
) -> wasmtime::Result<()> {
    config::add_to_linker::<T, Config>(linker, get)
}

impl Host for ConfigView {
    async fn get(&mut self, key: String) -> wasmtime::Result<Option<String>> {
        Ok(self.config.as_ref().and_then(|c| c.get(&key).cloned()))
    }

    async fn get_all(&mut self) -> wasmtime::Result<Vec<(String, String)>> {
        Ok(self
            .config
            .as_ref()
            .map(|c| c.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default())
    }
}
