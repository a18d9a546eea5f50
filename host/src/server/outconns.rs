//! The outgoing connections as a reloadable kind: the ODB's definitions, secrets
//! included, applied to the runtime's live registry at start, on every `outconns`
//! notice and at every reconcile. The registry keeps the live connection of a
//! definition that did not change, so a reload that finds nothing new costs one query.

use std::sync::Arc;

use async_trait::async_trait;

use crate::odb::Odb;
use crate::reload::Reloadable;
use crate::runtime::Runtime;

pub(super) struct OutconnsReload {
    odb: Arc<dyn Odb>,
    runtime: Arc<Runtime>,
    /// One reload at a time: definitions read later are applied later, so a notice and
    /// a reconcile running at once cannot leave the older read in force.
    turn: tokio::sync::Mutex<()>,
}

impl OutconnsReload {
    pub(super) fn new(odb: Arc<dyn Odb>, runtime: Arc<Runtime>) -> Self {
        Self {
            odb,
            runtime,
            turn: tokio::sync::Mutex::new(()),
        }
    }
}

#[async_trait]
impl Reloadable for OutconnsReload {
    async fn reload(&self) -> anyhow::Result<()> {
        let _turn = self.turn.lock().await;
        let defs = self.odb.outconn_definitions().await?;
        self.runtime.outconns().apply(defs);
        Ok(())
    }
}
