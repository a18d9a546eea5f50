//! The pickup directory: `.wasm` files dropped there are hot-deployed.
//!
//! The watcher debounces events, ignores hidden, temporary and partial files, waits for
//! a file to stop changing and to hold a whole module or component (a copy still under
//! way is waited for, not deployed), never follows a link out of the directory, and
//! deletes what it deployed (the ODB keeps the bytes). Every entry it ignores gets one
//! log line naming it and saying why; a file that fails stays where it is, with a log
//! line naming it and saying why, and the running version of its service keeps serving.
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
        told: HashMap::new(),
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
    /// Entries already logged as ignored, with why: said once, not on every event.
    told: HashMap<PathBuf, Ignored>,
}

/// Why the watcher leaves an entry alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ignored {
    Hidden,
    Temporary,
    NotWasm,
    Directory,
    NotAFile,
    Empty,
    Incomplete,
}

impl Ignored {
    fn reason(self) -> &'static str {
        match self {
            Ignored::Hidden => "a hidden file",
            Ignored::Temporary => "a temporary or partial file (`.tmp`, `.part`, `#...`)",
            Ignored::NotWasm => "not a `.wasm` file",
            Ignored::Directory => "a directory, not a file",
            Ignored::NotAFile => "not a regular file (a FIFO, a socket or a device)",
            Ignored::Empty => "empty; waiting for its content",
            Ignored::Incomplete => "incomplete (still being written?); waiting for the rest",
        }
    }
}

/// Whether a file name is one the watcher deploys.
pub fn is_candidate(name: &str) -> bool {
    name_verdict(name).is_none()
}

/// Why a file name is not one the watcher deploys, if it is not.
fn name_verdict(name: &str) -> Option<Ignored> {
    let lower = name.to_ascii_lowercase();
    if name.starts_with('.') {
        Some(Ignored::Hidden)
    } else if name.starts_with('#') || lower.contains(".tmp") || lower.contains(".part") {
        Some(Ignored::Temporary)
    } else if !lower.ends_with(".wasm") || lower.len() == ".wasm".len() {
        Some(Ignored::NotWasm)
    } else {
        None
    }
}

impl Watcher {
    async fn handle(&mut self, path: &Path) {
        // Only direct children of the directory: never anything a path leads to elsewhere.
        if path.parent() != Some(self.dir.as_path()) {
            return;
        }
        let Some(os_name) = path.file_name() else {
            return;
        };
        // A name that is not UTF-8 is shown as well as it can be, and deployed all the same.
        let name = os_name.to_string_lossy().into_owned();
        if let Some(why) = name_verdict(&name) {
            self.ignore(path, &name, why);
            return;
        }
        let Some(real) = self.resolve(path, &name) else {
            return;
        };
        if stamp(&real).is_some_and(|now| self.handled.get(path) == Some(&now)) {
            return;
        }
        let (bytes, read_stamp) = match read_when_stable(&real).await {
            Ok(read) => read,
            Err(Some(why)) => {
                self.ignore(path, &name, why);
                return;
            }
            Err(None) => return,
        };
        self.handled.retain(|p, _| p.exists());
        self.told.retain(|p, _| p.exists());
        self.handled.insert(path.to_path_buf(), read_stamp);
        // Whatever it said of this file before no longer holds.
        self.told.remove(path);
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

    /// Logs once per entry and reason that the watcher leaves it alone.
    fn ignore(&mut self, path: &Path, name: &str, why: Ignored) {
        if self.told.get(path) == Some(&why) {
            return;
        }
        self.told.insert(path.to_path_buf(), why);
        match why {
            // What editors and copies leave behind, expected in any watched directory.
            Ignored::Hidden | Ignored::Temporary => {
                tracing::debug!("pickup: ignoring `{name}`: {}", why.reason())
            }
            Ignored::Empty | Ignored::Incomplete => {
                tracing::info!("pickup: `{name}` is {}", why.reason())
            }
            _ => tracing::warn!("pickup: ignoring `{name}`: {}", why.reason()),
        }
    }

    /// The file to read for `path`: itself, or the target of a link that stays inside the
    /// directory. Logs and returns `None` for anything else.
    fn resolve(&mut self, path: &Path, name: &str) -> Option<PathBuf> {
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
            let why = if meta.is_dir() {
                Ignored::Directory
            } else {
                Ignored::NotAFile
            };
            self.ignore(path, name, why);
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

/// Reads a file once its size and mtime stop changing (a copy may still be running)
/// and it holds a whole module or component. `Err(Some(why))`: not yet, say why once;
/// `Err(None)`: gone, unreadable (logged) or still changing (its next event brings it
/// back).
async fn read_when_stable(path: &Path) -> Result<(Vec<u8>, Stamp), Option<Ignored>> {
    let mut last = stamp(path).ok_or(None)?;
    for _ in 0..STABLE_TRIES {
        tokio::time::sleep(STABLE_FOR).await;
        let now = stamp(path).ok_or(None)?;
        if now != last {
            last = now;
            continue;
        }
        if now.0 == 0 {
            return Err(Some(Ignored::Empty));
        }
        return match tokio::fs::read(path).await {
            Ok(bytes) if stamp(path) == Some(now) => match framing(&bytes) {
                Framing::Incomplete => Err(Some(Ignored::Incomplete)),
                Framing::Complete | Framing::NotWasm => Ok((bytes, now)),
            },
            Ok(_) => Err(None), // changed while reading
            Err(e) => {
                tracing::warn!("pickup: cannot read `{}`: {e}", path.display());
                Err(None)
            }
        };
    }
    tracing::warn!(
        "pickup: `{}` kept changing; waiting for its next change",
        path.display()
    );
    Err(None)
}

/// What the bytes of a file in the pickup directory look like from their framing alone.
#[derive(Debug, PartialEq, Eq)]
enum Framing {
    /// A WebAssembly header and top-level sections that end where the file ends.
    Complete,
    /// The start of a module or component that stops inside its header, a section's
    /// header or a section: a copy still under way, most likely.
    Incomplete,
    /// Not WebAssembly at all: the deploy pipeline refuses it with a message.
    NotWasm,
}

/// Walks the top-level sections (an id byte, a LEB128 size, that many bytes) without
/// parsing them, so that a file still being written is not handed to the compiler.
fn framing(bytes: &[u8]) -> Framing {
    const MAGIC: &[u8; 4] = b"\0asm";
    const HEADER: usize = 8;
    if bytes.len() < HEADER {
        let head = &bytes[..bytes.len().min(MAGIC.len())];
        return if MAGIC.starts_with(head) {
            Framing::Incomplete
        } else {
            Framing::NotWasm
        };
    }
    if &bytes[..4] != MAGIC {
        return Framing::NotWasm;
    }
    let mut reader = wasmparser::BinaryReader::new(&bytes[HEADER..], HEADER);
    while !reader.eof() {
        let remaining = reader.bytes_remaining();
        let size = reader
            .read_u8()
            .and_then(|_id| reader.read_var_u32())
            .map(|size| size as usize);
        match size {
            Ok(size) if size <= reader.bytes_remaining() => {
                let _ = reader.skip(|r| r.read_bytes(size).map(|_| ()));
            }
            Ok(_) => return Framing::Incomplete,
            // A LEB128 size cut short by the end of the file (at most 5 bytes long);
            // a malformed one further in is the compiler's to refuse.
            Err(_) if remaining <= 6 => return Framing::Incomplete,
            Err(_) => return Framing::Complete,
        }
    }
    Framing::Complete
}

#[cfg(test)]
mod tests {
    use super::{Framing, framing, is_candidate};

    /// A module with a type section of one empty function type and a custom section.
    fn module() -> Vec<u8> {
        let mut bytes = b"\0asm\x01\0\0\0".to_vec();
        bytes.extend([1, 4, 1, 0x60, 0, 0]); // type section: 1 type, () -> ()
        bytes.extend([0, 5, 4, b'n', b'a', b'm', b'e']); // custom section "name"
        bytes
    }

    #[test]
    fn a_file_cut_anywhere_inside_is_incomplete_and_a_whole_one_complete() {
        let whole = module();
        assert_eq!(framing(&whole), Framing::Complete);
        // Cut at a section boundary, the framing cannot tell: the compiler refuses it.
        let boundaries = [8, 14];
        for cut in 1..whole.len() {
            let expected = if boundaries.contains(&cut) {
                Framing::Complete
            } else {
                Framing::Incomplete
            };
            assert_eq!(framing(&whole[..cut]), expected, "cut at {cut}");
        }
    }

    #[test]
    fn what_is_not_webassembly_goes_to_the_pipeline_to_be_refused() {
        assert_eq!(framing(b"not wasm at all"), Framing::NotWasm);
        assert_eq!(framing(b"nope"), Framing::NotWasm);
        // A section size far beyond the file: cut short, or a lie; either way not ready.
        let mut lying = b"\0asm\x01\0\0\0".to_vec();
        lying.extend([1, 0xff, 0xff, 0xff, 0x0f, 0]);
        assert_eq!(framing(&lying), Framing::Incomplete);
    }

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
