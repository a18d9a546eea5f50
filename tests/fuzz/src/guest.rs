//! The `fuzz.imports` guest (`tests/fuzz/guest`): its component, and a runtime that
//! runs it the way a server does, with the outgoing connections it calls
//! ([`crate::outconns`]).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use zato_host::api::ServiceInfo;
use zato_host::runtime::{Compiled, LoadedService, REUSE_KEY, Runtime};

use crate::outconns::Outconns;

/// The guest's service name.
pub const NAME: &str = "fuzz.imports";

/// The variable naming the guest's component; `tests/fuzz.sh` builds it and sets this.
pub const ENV: &str = "ZATO_FUZZ_GUEST";

/// The guest's component. Exits (rather than panics, which would count as a finding)
/// when it cannot be read.
pub fn component() -> Vec<u8> {
    let Some(path) = std::env::var_os(ENV) else {
        eprintln!("{ENV} must name the fuzz guest's component: run tests/fuzz.sh");
        std::process::exit(2);
    };
    std::fs::read(&path).unwrap_or_else(|e| {
        eprintln!("cannot read the fuzz guest `{}`: {e}", path.display());
        std::process::exit(2);
    })
}

/// A runtime running the guest, as a server runs a deployed service.
pub struct Installed {
    pub runtime: Arc<Runtime>,
    compiled: Compiled,
    info: ServiceInfo,
    sha256: String,
    version: AtomicI64,
    outconns: Outconns,
}

impl Installed {
    pub async fn new() -> Self {
        let runtime = Runtime::new(crate::runtime_settings()).expect("the runtime starts");
        let bytes = component();
        let sha256 = zato_host::deploy::sha256_hex(&bytes);
        let compiled = runtime
            .compile(&bytes, &sha256)
            .expect("the fuzz guest compiles");
        let info = runtime
            .read_info(&compiled, NAME, NAME)
            .await
            .expect("the fuzz guest answers info()");
        assert_eq!(info.name, NAME, "the fuzz guest's name");
        let installed = Self {
            runtime,
            compiled,
            info,
            sha256,
            version: AtomicI64::new(0),
            outconns: Outconns::start(),
        };
        installed.reinstall(false);
        installed
    }

    /// Installs the guest as a new version, with or without warm instances (reused
    /// twice), and renews its outgoing connections. A new version starts with no warm
    /// instance and a new SQL database, so what one input leaves in the pool or in the
    /// database never reaches the next. Called within a tokio runtime: a new SQL
    /// connection's pool starts its upkeep on it.
    pub fn reinstall(&self, reuse: bool) {
        self.runtime.outconns().apply(self.outconns.renew());
        let mut config = BTreeMap::from([
            ("greeting".to_owned(), "hello".to_owned()),
            ("empty".to_owned(), String::new()),
        ]);
        if reuse {
            config.insert(REUSE_KEY.to_owned(), "2".to_owned());
        }
        let registry = self.runtime.registry();
        registry.set_configs(HashMap::from([(NAME.to_owned(), config)]));
        let version = self.version.fetch_add(1, Ordering::Relaxed) + 1;
        registry.install(LoadedService::new(
            self.compiled.clone(),
            self.info.clone(),
            version,
            self.sha256.clone(),
        ));
    }
}
