//! The deploy pipeline's check of a component (`Deployer::deploy`): any bytes are
//! refused as a bad component, or deployed (then deleted, so that the registry does not
//! grow), and the server never fails itself nor panics.
//!
//! Input: the bytes of a `.wasm` file. The seeds are the fuzz guest as a component and
//! as a core module (`wasm32-unknown-unknown`, wrapped at deploy) and small hand-made
//! components that stop at each check of the contract.

#![no_main]

use std::sync::{Arc, LazyLock};

use zato_host::deploy::Deployer;
use zato_host::odb::SqlOdb;
use zato_host::reload::Notifier;
use zato_host::runtime::Runtime;

struct Harness {
    tokio: tokio::runtime::Runtime,
    deployer: Deployer,
    _dir: tempfile::TempDir,
}

static HARNESS: LazyLock<Harness> = LazyLock::new(|| {
    zato_fuzz::abort_on_panic();
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let dir = zato_fuzz::temp_dir();
    let deployer = tokio.block_on(async {
        let runtime = Runtime::new(zato_fuzz::runtime_settings()).expect("the runtime starts");
        let url = format!("sqlite://{}/odb.sqlite", dir.path().display());
        let odb = SqlOdb::connect(&url).await.expect("the ODB opens");
        let (kvdb, broker) = zato_host::kvdb::open("memory", "fuzz")
            .await
            .expect("the KVDB opens");
        let notifier = Arc::new(Notifier::new(broker));
        Deployer::new(
            runtime,
            Arc::new(odb),
            kvdb,
            notifier,
            "fuzz".into(),
            Vec::new(),
            1,
        )
    });
    Harness {
        tokio,
        deployer,
        _dir: dir,
    }
});

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let harness = &*HARNESS;
    harness.tokio.block_on(async {
        match harness.deployer.deploy(data.to_vec(), "fuzz.wasm").await {
            Ok(deployed) => {
                harness
                    .deployer
                    .delete(&deployed.name)
                    .await
                    .expect("a service just deployed deletes");
            }
            Err(error) => assert!(
                error.is_bad_input(),
                "a component was refused for a reason of the server's: {error}"
            ),
        }
    });
});
