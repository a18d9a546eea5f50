//! The pickup directory: `.wasm` files dropped there are hot-deployed.
//!
//! The watcher debounces events, ignores hidden, temporary and partial files, waits for
//! a file to stop changing, never follows a link out of the directory, and deletes what
//! it deployed (the ODB keeps the bytes). A file that fails stays where it is, with a log
//! line naming it and saying why; the running version of its service keeps serving.
//! Several servers may watch one directory: the deploy lock makes one of them deploy.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify::RecursiveMode;
use notify_debouncer_full::{DebounceEventResult, new_debouncer};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::deploy::{Deployer, sha256_hex};

/// How long a file must keep the same size and mtime to count as complete.
const STABLE_FOR: Duration = Duration::from_millis(50);
/// How many times a still-changing file is looked at again before giving up until its
/// next event.
const STABLE_TRIES: usize = 100;

/// Starts watching `dir` (created if missing); existing files are picked up at once.
pub fn spawn(
    dir: &Path,
    deployer: Arc<Deployer>,
    debounce: Duration,
    delete_deployed: bool,
    shutdown: CancellationToken,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    use anyhow::Context as _;
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create pickup directory `{}`", dir.display()))?;
    let dir = dir
        .canonicalize()
        .with_context(|| format!("cannot resolve pickup directory `{}`", dir.display()))?;
    let (tx, mut rx) = mpsc::unbounded_channel::<PathBuf>();
    let events = tx.clone();
    // notify calls this on its own thread: hand paths over without blocking it.
    let mut debouncer =
        new_debouncer(
            debounce,
            None,
            move |result: DebounceEventResult| match result {
                Ok(batch) => {
                    for event in batch {
                        for path in &event.paths {
                            let _ = events.send(path.clone());
                        }
                    }
                }
                Err(errors) => {
                    for e in errors {
                        tracing::warn!("pickup watcher error: {e}");
                    }
                }
            },
        )?;
    debouncer
        .watch(&dir, RecursiveMode::NonRecursive)
        .with_context(|| format!("cannot watch pickup directory `{}`", dir.display()))?;
    for entry in std::fs::read_dir(&dir)?.flatten() {
        let _ = tx.send(entry.path());
    }
    tracing::info!("watching pickup directory `{}`", dir.display());
    let mut watcher = Watcher {
        dir,
        deployer,
        delete_deployed,
        handled: HashMap::new(),
    };
    Ok(tokio::spawn(async move {
        let _debouncer = debouncer; // dropping it stops the watch
        loop {
            let first = tokio::select! {
                _ = shutdown.cancelled() => break,
                path = rx.recv() => match path {
                    Some(path) => path,
                    None => break,
                },
            };
            // One copy makes several events: handle each path of a burst once.
            let mut batch = vec![first];
            while let Ok(path) = rx.try_recv() {
                if !batch.contains(&path) {
                    batch.push(path);
                }
            }
            for path in batch {
                watcher.handle(&path).await;
            }
        }
    }))
}

/// A file's size and modification time: what tells one version of it from the next.
type Stamp = (u64, Option<std::time::SystemTime>);

fn stamp(path: &Path) -> Option<Stamp> {
    std::fs::metadata(path)
        .ok()
        .map(|m| (m.len(), m.modified().ok()))
}

struct Watcher {
    dir: PathBuf,
    deployer: Arc<Deployer>,
    delete_deployed: bool,
    /// Files already handled as they are now (a failed one stays in the directory and
    /// is not retried until it changes).
    handled: HashMap<PathBuf, Stamp>,
}

/// Whether a file name is one the watcher deploys.
pub fn is_candidate(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    !name.starts_with('.')
        && !name.starts_with('#')
        && lower.ends_with(".wasm")
        && lower.len() > ".wasm".len()
        && !lower.contains(".tmp")
        && !lower.contains(".part")
}

impl Watcher {
    async fn handle(&mut self, path: &Path) {
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            return;
        };
        // Only direct children of the directory: never anything a path leads to elsewhere.
        if path.parent() != Some(self.dir.as_path()) || !is_candidate(name) {
            return;
        }
        let Some(real) = self.resolve(path, name) else {
            return;
        };
        if stamp(&real).is_some_and(|now| self.handled.get(path) == Some(&now)) {
            return;
        }
        let Some((bytes, read_stamp)) = read_when_stable(&real).await else {
            return;
        };
        self.handled.retain(|p, _| p.exists());
        self.handled.insert(path.to_path_buf(), read_stamp);
        let sha256 = sha256_hex(&bytes);
        match self.deployer.deploy(bytes, &format!("pickup:{name}")).await {
            Ok(outcome) => {
                tracing::info!(
                    "pickup: `{name}` deployed as `{}` version {}{}",
                    outcome.name,
                    outcome.version,
                    if outcome.unchanged {
                        " (unchanged)"
                    } else {
                        ""
                    }
                );
                if self.delete_deployed {
                    self.remove_if_same(path, &sha256).await;
                }
            }
            Err(e) => tracing::error!("pickup: cannot deploy `{}`: {e}", path.display()),
        }
    }

    /// The file to read for `path`: itself, or the target of a link that stays inside the
    /// directory. Logs and returns `None` for anything else.
    fn resolve(&self, path: &Path, name: &str) -> Option<PathBuf> {
        let meta = std::fs::symlink_metadata(path).ok()?; // gone already: nothing to do
        if meta.file_type().is_symlink() {
            match path.canonicalize() {
                Ok(target) if target.parent() == Some(self.dir.as_path()) && target.is_file() => {
                    Some(target)
                }
                Ok(target) => {
                    tracing::warn!(
                        "pickup: ignoring `{name}`: it links to `{}`, outside the pickup directory",
                        target.display()
                    );
                    None
                }
                Err(e) => {
                    tracing::warn!("pickup: ignoring `{name}`: broken link ({e})");
                    None
                }
            }
        } else if meta.is_file() {
            Some(path.to_path_buf())
        } else {
            None
        }
    }

    /// Deletes a deployed file, unless it was replaced in the meantime (then its own
    /// event deploys the new content).
    async fn remove_if_same(&self, path: &Path, sha256: &str) {
        match tokio::fs::read(path).await {
            Ok(now) if sha256_hex(&now) == sha256 => {
                if let Err(e) = tokio::fs::remove_file(path).await
                    && e.kind() != std::io::ErrorKind::NotFound
                {
                    tracing::warn!(
                        "pickup: deployed `{}` but cannot delete it: {e}",
                        path.display()
                    );
                }
            }
            _ => {}
        }
    }
}

/// Reads a file once its size and mtime stop changing (a copy may still be running).
async fn read_when_stable(path: &Path) -> Option<(Vec<u8>, Stamp)> {
    let mut last = stamp(path)?;
    for _ in 0..STABLE_TRIES {
        tokio::time::sleep(STABLE_FOR).await;
        let now = stamp(path)?;
        if now == last && now.0 > 0 {
            return match tokio::fs::read(path).await {
                Ok(bytes) if stamp(path) == Some(now) => Some((bytes, now)),
                Ok(_) => None, // changed while reading: its next event brings it back
                Err(e) => {
                    tracing::warn!("pickup: cannot read `{}`: {e}", path.display());
                    None
                }
            };
        }
        last = now;
    }
    tracing::warn!(
        "pickup: `{}` kept changing; waiting for its next change",
        path.display()
    );
    None
}

#[cfg(test)]
mod tests {
    use super::is_candidate;

    #[test]
    fn only_complete_visible_wasm_files_are_candidates() {
        assert!(is_candidate("hello.wasm"));
        assert!(is_candidate("HELLO.WASM"));
        assert!(!is_candidate(".hello.wasm"));
        assert!(!is_candidate("hello.wasm.tmp"));
        assert!(!is_candidate("hello.tmp.wasm"));
        assert!(!is_candidate("hello.wasm.part"));
        assert!(!is_candidate("hello.wasm~"));
        assert!(!is_candidate("#hello.wasm#"));
        assert!(!is_candidate("hello.txt"));
        assert!(!is_candidate(".wasm"));
    }
}
