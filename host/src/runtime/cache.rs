//! Compiled artifacts on disk, keyed by the component's sha256 and the engine's
//! compatibility hash, so a restart with many services skips Cranelift.

#![allow(unsafe_code)]

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::PathBuf;

use wasmtime::Engine;
use wasmtime::component::Component;

pub(crate) struct ArtifactCache {
    dir: Option<PathBuf>,
    engine_hash: String,
}

impl ArtifactCache {
    pub(crate) fn new(dir: Option<PathBuf>, engine: &Engine) -> Self {
        let mut hasher = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let engine_hash = format!("{:016x}", hasher.finish());
        if let Some(dir) = &dir
            && let Err(e) = std::fs::create_dir_all(dir)
        {
            tracing::warn!(
                "artifact cache disabled: cannot create `{}`: {e}",
                dir.display()
            );
            return Self {
                dir: None,
                engine_hash,
            };
        }
        Self { dir, engine_hash }
    }

    fn path(&self, sha256: &str) -> Option<PathBuf> {
        // The sha256 is hex computed by us; anything else would escape the directory.
        if sha256.is_empty() || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        Some(
            self.dir
                .as_ref()?
                .join(format!("{sha256}-{}.cwasm", self.engine_hash)),
        )
    }

    pub(crate) fn load(&self, engine: &Engine, sha256: &str) -> Option<Component> {
        let path = self.path(sha256)?;
        if !path.exists() {
            return None;
        }
        // SAFETY: the file was written by `store` below into the server's own cache
        // directory, under a name that includes the engine's compatibility hash, and is
        // renamed into place only once complete; wasmtime also checks its header.
        match unsafe { Component::deserialize_file(engine, &path) } {
            Ok(component) => Some(component),
            Err(e) => {
                tracing::warn!(
                    "dropping unusable cached artifact `{}`: {e:#}",
                    path.display()
                );
                let _ = std::fs::remove_file(&path);
                None
            }
        }
    }

    pub(crate) fn store(&self, sha256: &str, component: &Component) {
        let Some(path) = self.path(sha256) else {
            return;
        };
        let result = component
            .serialize()
            .map_err(anyhow::Error::from)
            .and_then(|bytes| {
                let tmp = path.with_extension(format!("tmp{}", std::process::id()));
                std::fs::write(&tmp, bytes)?;
                std::fs::rename(&tmp, &path)?;
                Ok(())
            });
        if let Err(e) = result {
            tracing::warn!("cannot cache compiled artifact `{}`: {e:#}", path.display());
        }
    }
}
