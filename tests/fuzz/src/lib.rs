//! zato-fuzz: what the fuzz targets in `fuzz_targets/` share. `tests/fuzz.sh` runs them.
//!
//! - [`Reader`]: the byte format of the structured inputs (`sio_validate`,
//!   `host_imports`), simple enough to write seeds by hand.
//! - [`guest`]: the `fuzz.imports` guest (`tests/fuzz/guest`), compiled and installed in
//!   a runtime of the fuzzing process.
//! - [`outconns`]: the outgoing connections the guest calls, all on this machine.
//! - [`server`]: one in-process server for `http_request`, and one exchange over TCP.
//!
//! A finding is a panic anywhere in the process, on the fuzzer's thread or on one of
//! the server's: [`abort_on_panic`] turns the second kind, which tokio would catch and
//! hyper would survive, into an abort that libFuzzer reports with the input being run.

#![forbid(unsafe_code)]

pub mod guest;
pub mod outconns;
pub mod server;

use std::path::PathBuf;

use zato_host::config::RuntimeSettings;

/// Makes every panic, on any thread, abort the process once it is printed.
pub fn abort_on_panic() {
    let print = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        print(info);
        std::process::abort();
    }));
}

/// The server's runtime settings, with limits that suit one fuzzing process: a call
/// (and every `invoke` it makes) gets 1 s and 16 MiB per instance, a component 10 s of
/// Cranelift, and nothing is cached on disk.
pub fn runtime_settings() -> RuntimeSettings {
    RuntimeSettings {
        memory_limit_mib: 16,
        default_timeout_ms: 1_000,
        max_component_bytes: 1 << 20,
        compile_timeout_ms: 10_000,
        max_instances: 64,
        cache_dir: None,
        ..RuntimeSettings::default()
    }
}

/// A temporary directory for a target's ODB, in memory when the machine has
/// `/dev/shm`: SQLite syncs every write, which would make disk the bottleneck.
pub fn temp_dir() -> tempfile::TempDir {
    let shm = PathBuf::from("/dev/shm");
    match shm.is_dir() {
        true => tempfile::tempdir_in(shm),
        false => tempfile::tempdir(),
    }
    .expect("a temporary directory")
}

/// Reads a structured input front to back; a missing byte reads as 0, so every input
/// means something.
pub struct Reader<'a>(pub &'a [u8]);

impl<'a> Reader<'a> {
    pub fn byte(&mut self) -> u8 {
        let (first, rest) = self.0.split_first().unwrap_or((&0, &[]));
        self.0 = rest;
        *first
    }

    /// A length byte, then that many bytes (fewer at the end of the input).
    pub fn bytes(&mut self) -> &'a [u8] {
        let len = usize::from(self.byte()).min(self.0.len());
        let (taken, rest) = self.0.split_at(len);
        self.0 = rest;
        taken
    }

    /// [`Reader::bytes`] as UTF-8, invalid sequences replaced.
    pub fn text(&mut self) -> String {
        String::from_utf8_lossy(self.bytes()).into_owned()
    }

    /// A count byte (modulo `max + 1`), then that many pairs of texts.
    pub fn pairs(&mut self, max: u8) -> Vec<(String, String)> {
        let count = self.byte() % (max + 1);
        (0..count).map(|_| (self.text(), self.text())).collect()
    }

    /// What is left.
    pub fn rest(self) -> &'a [u8] {
        self.0
    }
}
