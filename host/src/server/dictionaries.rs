//! The data dictionary as a reloadable kind: read whole from the ODB and installed in
//! the runtime's copy, which `translate` reads, at start, on every `dictionaries`
//! notice and at every reconcile.

use std::sync::Arc;

use async_trait::async_trait;

use crate::odb::Odb;
use crate::reload::Reloadable;
use crate::runtime::Runtime;

pub(super) struct DictionariesReload {
    odb: Arc<dyn Odb>,
    runtime: Arc<Runtime>,
}

impl DictionariesReload {
    pub(super) fn new(odb: Arc<dyn Odb>, runtime: Arc<Runtime>) -> Self {
        Self { odb, runtime }
    }
}

#[async_trait]
impl Reloadable for DictionariesReload {
    async fn reload(&self) -> anyhow::Result<()> {
        // The `Reloader` runs one reload of a kind at a time, so an older read is never
        // installed over a newer one.
        let dict = self.odb.dictionary().await?;
        self.runtime.dictionaries().install(&dict);
        Ok(())
    }
}
