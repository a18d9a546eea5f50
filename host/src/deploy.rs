//! The deploy pipeline: one path for every door (pickup directory, admin API).
//!
//! 1. receive bytes: size, component header, sha256;
//! 2. take the deploy lock for these bytes in the KVDB (it only avoids duplicate work);
//! 3. compile and read `info()`: a bad component is refused and the running version of
//!    the service keeps serving;
//! 4. store a new version in the ODB: `version = latest + 1` by a conditional insert, so
//!    the version is the fencing token;
//! 5. publish `{name, version, sha256}` on the broker;
//! 6. every server applies versions newer than the one it runs (idempotent);
//! 7. every server also reconciles with the ODB at start and periodically, because
//!    pub/sub loses messages.
//!
//! Invariant: a server never replaces a version with an older one ([`Registry::install`]).
//!
//! [`Registry::install`]: crate::runtime::Registry::install

mod load;
mod lock;

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::api::check_service_name;
use crate::api::{DeleteOutcome, DeployOutcome, ServiceInfo};
use crate::kvdb::{Kvdb, KvdbError};
use crate::odb::{NewVersion, Odb, OdbError, VersionRef};
use crate::reload::{Notice, Notifier, Reloadable};
use crate::runtime::{CallError, CompileError, Compiled, LoadedService, Runtime};
pub use load::{LoadProgress, Progress};

#[derive(Debug, Error)]
pub enum DeployError {
    #[error("refused `{source_name}`: {error}")]
    Refused {
        source_name: String,
        error: CompileError,
    },
    #[error("refused `{source_name}`: its info() failed: {error}")]
    InfoFailed {
        source_name: String,
        error: CallError,
    },
    #[error("refused `{source_name}`: invalid service name `{name}`: {reason}")]
    InvalidName {
        source_name: String,
        name: String,
        reason: &'static str,
    },
    #[error("service `{0}` is not deployed")]
    NotDeployed(String),
    #[error("version {version} of `{name}` is not kept (kept: {kept})")]
    NotKept {
        name: String,
        version: i64,
        kept: String,
    },
    #[error("another deploy of the same bytes did not finish within {0:?}")]
    LockTimeout(std::time::Duration),
    #[error(transparent)]
    Odb(#[from] OdbError),
    #[error(transparent)]
    Kvdb(#[from] KvdbError),
    /// What a [`DeployHook`] could not do (the version is deployed all the same).
    #[error("{0:#}")]
    Hook(anyhow::Error),
}

impl DeployError {
    /// Whether the component itself is at fault (as opposed to the server).
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            Self::Refused { .. } | Self::InfoFailed { .. } | Self::InvalidName { .. }
        )
    }
}

/// Something to do once this server's pipeline has deployed a service (a deploy that
/// came in through one of its doors, not one applied from another server's notice): the
/// development environment's automatic HTTP channel, say. Lets `deploy` call what it
/// knows nothing about.
#[async_trait]
pub trait DeployHook: Send + Sync {
    async fn deployed(&self, service: &str) -> anyhow::Result<()>;
}

pub struct Deployer {
    runtime: Arc<Runtime>,
    odb: Arc<dyn Odb>,
    kvdb: Arc<dyn Kvdb>,
    notifier: Arc<Notifier>,
    server: String,
    hooks: Vec<Arc<dyn DeployHook>>,
    /// See `DeploySettings::keep_versions`.
    keep_versions: usize,
    /// Serialises applying versions on this server: a broadcast and a reconcile of the
    /// same version must not both compile it.
    apply_lock: tokio::sync::Mutex<()>,
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

impl Deployer {
    pub fn new(
        runtime: Arc<Runtime>,
        odb: Arc<dyn Odb>,
        kvdb: Arc<dyn Kvdb>,
        notifier: Arc<Notifier>,
        server: String,
        hooks: Vec<Arc<dyn DeployHook>>,
        keep_versions: usize,
    ) -> Self {
        Self {
            runtime,
            odb,
            kvdb,
            notifier,
            server,
            hooks,
            keep_versions,
            apply_lock: tokio::sync::Mutex::new(()),
        }
    }

    pub fn runtime(&self) -> &Arc<Runtime> {
        &self.runtime
    }

    /// Deploys `bytes`; `source` names where they came from (a file, an upload) for
    /// messages and the ODB. Returns once this server runs the new version.
    pub async fn deploy(&self, bytes: Vec<u8>, source: &str) -> Result<DeployOutcome, DeployError> {
        let result = self.deploy_counted(bytes, source).await;
        self.runtime.metrics().deployed(match &result {
            Ok(_) => "ok",
            Err(e) if e.is_bad_input() => "refused",
            Err(_) => "failed",
        });
        result
    }

    async fn deploy_counted(
        &self,
        bytes: Vec<u8>,
        source: &str,
    ) -> Result<DeployOutcome, DeployError> {
        let started = Instant::now();
        let refused = |error| DeployError::Refused {
            source_name: source.to_owned(),
            error,
        };
        let limit = self.runtime.settings().max_component_bytes;
        if bytes.len() > limit {
            return Err(refused(CompileError::TooLarge {
                size: bytes.len(),
                limit,
            }));
        }
        crate::runtime::check_header(&bytes).map_err(refused)?;
        let sha256 = sha256_hex(&bytes);

        // Someone else deploying these exact bytes (another server watching the same
        // pickup directory, most often) holds the lock: wait for them. Once it is free,
        // the ODB has their version and `deploy_locked` finds it unchanged, so this server
        // only compiles the component for itself (from its artifact cache, if it has it).
        let settings = self.runtime.settings();
        let longest = settings.compile_timeout() + settings.info_timeout() + lock::TTL;
        let lock = lock::DeployLock::acquire(
            &self.kvdb,
            format!("deploy-lock:{sha256}"),
            lock::TTL,
            longest,
        )
        .await?;
        let result = self.deploy_locked(bytes, source, sha256, started).await;
        lock.release().await;
        result
    }

    async fn deploy_locked(
        &self,
        bytes: Vec<u8>,
        source: &str,
        sha256: String,
        started: Instant,
    ) -> Result<DeployOutcome, DeployError> {
        let bytes: Arc<[u8]> = bytes.into();
        let compiled = self
            .runtime
            .compile_async(Arc::clone(&bytes), sha256.clone())
            .await
            .map_err(|error| DeployError::Refused {
                source_name: source.to_owned(),
                error,
            })?;
        let info = self
            .runtime
            .read_info(&compiled, source, crate::runtime::name_from_source(source))
            .await
            .map_err(|error| DeployError::InfoFailed {
                source_name: source.to_owned(),
                error,
            })?;
        // Service names are what channels and `invoke` refer to: one rule, in zato-api.
        check_service_name(&info.name).map_err(|e| DeployError::InvalidName {
            source_name: source.to_owned(),
            name: info.name.clone(),
            reason: e.as_str(),
        })?;

        let latest = self.odb.latest_version(&info.name).await?;
        let unchanged = latest
            .as_ref()
            .is_some_and(|l| !l.deleted && l.sha256 == sha256);
        let version = match latest {
            Some(l) if unchanged => l.version,
            _ => {
                self.odb
                    .insert_version(NewVersion {
                        name: info.name.clone(),
                        sha256: sha256.clone(),
                        bytes: Some(bytes.to_vec()),
                        description: info.description.clone(),
                        info: serde_json::to_string(&info).expect("service info serialises"),
                        source: source.to_owned(),
                        deployed_by: self.server.clone(),
                    })
                    .await?
            }
        };
        let from_cache = compiled.from_cache;
        let name = info.name.clone();
        {
            let _apply = self.apply_lock.lock().await;
            self.install(compiled, info, version, sha256.clone()).await;
        }
        self.notifier
            .publish(&Notice::Service {
                name: name.clone(),
                version,
                sha256: sha256.clone(),
                deleted: false,
            })
            .await;
        for hook in &self.hooks {
            hook.deployed(&name).await.map_err(DeployError::Hook)?;
        }
        if !unchanged {
            self.prune(&name).await;
        }
        tracing::info!(
            service = %name,
            version,
            "deployed from `{source}` in {} ms{}",
            started.elapsed().as_millis(),
            if unchanged { " (unchanged)" } else { "" }
        );
        Ok(DeployOutcome {
            name,
            version,
            sha256,
            unchanged,
            from_cache,
            elapsed_ms: started.elapsed().as_millis() as u64,
        })
    }

    /// Keeps the newest `keep_versions` versions of `name` (and the running ones).
    /// A failure only leaves more versions than asked: logged, tried again next deploy.
    async fn prune(&self, name: &str) {
        match self.odb.prune_versions(name, self.keep_versions).await {
            Ok(0) => {}
            Ok(gone) => tracing::info!(service = %name, "removed {gone} old versions"),
            Err(e) => tracing::warn!(service = %name, "cannot remove old versions: {e}"),
        }
    }

    /// Deploys the bytes of a kept version of `name` again, as its next version,
    /// through the whole pipeline.
    pub async fn rollback(&self, name: &str, to: i64) -> Result<DeployOutcome, DeployError> {
        let kept = self.odb.versions(name).await?;
        if kept.is_empty() {
            return Err(DeployError::NotDeployed(name.to_owned()));
        }
        let Some(target) = kept.iter().find(|v| v.version == to) else {
            let versions: Vec<String> = kept
                .iter()
                .filter(|v| !v.deleted)
                .map(|v| v.version.to_string())
                .collect();
            return Err(DeployError::NotKept {
                name: name.to_owned(),
                version: to,
                kept: versions.join(", "),
            });
        };
        if target.deleted {
            return Err(DeployError::NotKept {
                name: name.to_owned(),
                version: to,
                kept: "a deletion, not a version with bytes".into(),
            });
        }
        let bytes =
            self.odb
                .version_bytes(name, to)
                .await?
                .ok_or_else(|| DeployError::NotKept {
                    name: name.to_owned(),
                    version: to,
                    kept: "removed meanwhile".into(),
                })?;
        self.deploy(bytes, &format!("rollback:{name}@{to}")).await
    }

    /// Deletes a service: its deletion is stored as a new version.
    pub async fn delete(&self, name: &str) -> Result<DeleteOutcome, DeployError> {
        match self.odb.latest_version(name).await? {
            Some(latest) if !latest.deleted => {}
            _ => return Err(DeployError::NotDeployed(name.to_owned())),
        }
        let version = self
            .odb
            .insert_version(NewVersion {
                name: name.to_owned(),
                sha256: String::new(),
                bytes: None,
                description: String::new(),
                info: "{}".into(),
                source: "delete".into(),
                deployed_by: self.server.clone(),
            })
            .await?;
        let target = VersionRef {
            name: name.to_owned(),
            version,
            sha256: String::new(),
            deleted: true,
        };
        self.apply(&target).await;
        self.notifier
            .publish(&Notice::Service {
                name: name.to_owned(),
                version,
                sha256: String::new(),
                deleted: true,
            })
            .await;
        tracing::info!(service = %name, version, "deleted");
        Ok(DeleteOutcome {
            name: name.to_owned(),
            version,
        })
    }

    /// Makes this server run `target` if it is newer than what it runs. Idempotent;
    /// failures are logged (the next reconcile tries again).
    pub async fn apply(&self, target: &VersionRef) {
        if let Err(e) = self.try_apply(target).await {
            tracing::error!(service = %target.name, version = target.version, "cannot apply: {e}");
        }
    }

    async fn try_apply(&self, target: &VersionRef) -> anyhow::Result<()> {
        let _apply = self.apply_lock.lock().await;
        if self.runs(target) {
            return Ok(());
        }
        if target.deleted {
            self.runtime.registry().remove(&target.name, target.version);
            self.odb
                .set_running_version(&self.server, &target.name, None)
                .await?;
            return Ok(());
        }
        let (compiled, info) = self.prepare(target).await?;
        self.install(compiled, info, target.version, target.sha256.clone())
            .await;
        Ok(())
    }

    /// Whether this server runs `target`'s version of its service, or a newer one.
    fn runs(&self, target: &VersionRef) -> bool {
        self.runtime
            .registry()
            .known_version(&target.name)
            .is_some_and(|v| v >= target.version)
    }

    /// Fetches a version's component from the ODB, compiles it (or loads it from the
    /// artifact cache) and reads its `info()`.
    async fn prepare(&self, target: &VersionRef) -> anyhow::Result<(Compiled, ServiceInfo)> {
        let bytes = self
            .odb
            .version_bytes(&target.name, target.version)
            .await?
            .ok_or_else(|| anyhow::anyhow!("version {} is not in the ODB", target.version))?;
        let compiled = self
            .runtime
            .compile_async(bytes.into(), target.sha256.clone())
            .await?;
        let info = self
            .runtime
            .read_info(&compiled, &target.name, &target.name)
            .await?;
        Ok((compiled, info))
    }

    /// Installs a compiled version (the caller holds `apply_lock`) and records it.
    async fn install(&self, compiled: Compiled, info: ServiceInfo, version: i64, sha256: String) {
        let name = info.name.clone();
        if self
            .runtime
            .registry()
            .install(LoadedService::new(compiled, info, version, sha256))
            && let Err(e) = self
                .odb
                .set_running_version(&self.server, &name, Some(version))
                .await
        {
            tracing::warn!(service = %name, version, "cannot record the running version: {e}");
        }
    }

    /// Brings this server in line with the ODB: every service's latest version. Service
    /// configurations are a kind of their own, reloaded before this one (`server.rs`
    /// registers them first), so that a service installed here never runs without its
    /// configuration.
    pub async fn reconcile(&self) -> Result<(), DeployError> {
        let latest = self.odb.latest_versions().await?;
        for target in &latest {
            let known = self.runtime.registry().known_version(&target.name);
            if known.is_none_or(|v| v < target.version) {
                self.apply(target).await;
            }
        }
        Ok(())
    }

    pub async fn reload_configs(&self) -> Result<(), DeployError> {
        self.runtime
            .registry()
            .set_configs(self.odb.service_configs().await?);
        Ok(())
    }
}

/// The deployed services as a reloadable kind: [`Deployer::reconcile`].
pub struct ServicesReload(pub Arc<Deployer>);

#[async_trait]
impl Reloadable for ServicesReload {
    async fn reload(&self) -> anyhow::Result<()> {
        Ok(self.0.reconcile().await?)
    }
}

/// Service configurations as a reloadable kind: [`Deployer::reload_configs`].
pub struct ConfigsReload(pub Arc<Deployer>);

#[async_trait]
impl Reloadable for ConfigsReload {
    async fn reload(&self) -> anyhow::Result<()> {
        Ok(self.0.reload_configs().await?)
    }
}
