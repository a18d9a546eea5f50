//! Builds what the benchmark measures, in release mode, and finds the tools it runs.
//!
//! - `zato` and `zato-bench-hyper`: `cargo build --release -p zato -p zato-bench`
//!   (nothing to do when `cargo run --release -p zato-bench` has just built them);
//! - the examples (`demo.hello`, `demo.transform`), with the README's command, and the
//!   lean build of `demo.hello` (wasm32-unknown-unknown);
//! - `test.version` 1 and 2 from `tests/guests` (two small components that answer
//!   differently, so a deploy can be seen taking effect), and the wasi:http hello for
//!   `wasmtime serve` from `bench/guests`, into `target/bench-guests`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, bail};

use crate::process;

/// The wasm target guests build for: it produces components directly.
const WASM_TARGET: &str = "wasm32-wasip2";
/// The target of lean builds (core modules without WASI, wrapped at deploy).
const LEAN_TARGET: &str = "wasm32-unknown-unknown";

/// Variables `cargo run` may set for the host build that must not reach a wasm build.
const HOST_ONLY_ENV: [&str; 5] = [
    "RUSTFLAGS",
    "CARGO_ENCODED_RUSTFLAGS",
    "CARGO_BUILD_TARGET",
    "CARGO_BUILD_RUSTFLAGS",
    "RUSTC_WORKSPACE_WRAPPER",
];

/// Everything built or found.
#[derive(Debug, Clone)]
pub struct Artifacts {
    pub root: PathBuf,
    pub zato: PathBuf,
    pub hyper: PathBuf,
    /// `demo.hello`.
    pub hello: PathBuf,
    /// `demo.transform`.
    pub transform: PathBuf,
    /// `demo.hello` built for wasm32-unknown-unknown: a lean build (a core module).
    pub hello_lean: PathBuf,
    /// `test.version` answering `{"version": 1}` and `{"version": 2}`.
    pub version: [PathBuf; 2],
    /// The wasi:http hello for `wasmtime serve`.
    pub http_hello: PathBuf,
    /// `test.stats`: sleeps as long as its payload says (scenario 15's percentiles).
    pub timed: PathBuf,
    /// `wasmtime` on the PATH, and what `wasmtime --version` says.
    pub wasmtime: Option<(PathBuf, String)>,
}

/// The workspace root (this crate's parent directory).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("bench/ sits in the workspace")
        .to_path_buf()
}

/// Builds (unless `skip`) and locates every artifact.
pub fn build(skip: bool) -> anyhow::Result<Artifacts> {
    let root = workspace_root();
    // target/release/zato-bench -> target/release: the host binaries sit next to us.
    let exe = std::env::current_exe().context("cannot find the zato-bench executable")?;
    let release = exe
        .parent()
        .context("the executable has no directory")?
        .to_path_buf();
    let target = release
        .parent()
        .context("the executable is not in a target directory")?
        .to_path_buf();
    if release.file_name().is_none_or(|n| n != "release") {
        eprintln!(
            "[bench] warning: running a `{}` build; run `cargo run -p zato-bench --release` for figures that mean something",
            release.file_name().unwrap_or_default().to_string_lossy()
        );
    }
    let guests_target = target.join("bench-guests");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());

    if !skip {
        step("cargo build --release -p zato -p zato-bench");
        let mut cmd = Command::new(&cargo);
        cmd.current_dir(&root)
            .args(["build", "--release", "-p", "zato", "-p", "zato-bench"]);
        status("the release build of zato", &mut cmd)?;

        // rustup installs the toolchain's pinned targets only with the toolchain: where
        // that toolchain was installed before, the wasm targets may still be missing.
        step("rustup target add wasm32-wasip2 wasm32-unknown-unknown");
        let mut cmd = Command::new("rustup");
        cmd.current_dir(&root)
            .args(["target", "add", WASM_TARGET, LEAN_TARGET]);
        if let Err(e) = status("rustup target add", cmd.stderr(std::process::Stdio::null())) {
            eprintln!("[bench] warning: {e:#}; building the guests anyway");
        }

        step("cargo build --release --target wasm32-wasip2 --manifest-path examples/Cargo.toml");
        let mut cmd = wasm_build(&cargo, &root.join("examples/Cargo.toml"), WASM_TARGET);
        cmd.env_remove("CARGO_TARGET_DIR");
        status("the examples' build", &mut cmd)?;

        step(
            "cargo build --release --target wasm32-unknown-unknown --manifest-path examples/Cargo.toml -p hello",
        );
        let mut cmd = wasm_build(&cargo, &root.join("examples/Cargo.toml"), LEAN_TARGET);
        cmd.env_remove("CARGO_TARGET_DIR").args(["-p", "hello"]);
        status("the lean build of demo.hello", &mut cmd)?;

        step("test.version 1 and 2 and test.stats (tests/guests) into target/bench-guests");
        let mut cmd = wasm_build(&cargo, &root.join("tests/guests/Cargo.toml"), WASM_TARGET);
        cmd.args([
            "-p",
            "version1",
            "-p",
            "version2",
            "-p",
            "stats",
            "--target-dir",
        ])
        .arg(&guests_target);
        status("the build of test.version", &mut cmd)?;

        step("the wasi:http hello (bench/guests/http-hello) into target/bench-guests");
        let mut cmd = wasm_build(
            &cargo,
            &root.join("bench/guests/http-hello/Cargo.toml"),
            WASM_TARGET,
        );
        cmd.arg("--target-dir").arg(&guests_target);
        status("the build of the wasi:http hello", &mut cmd)?;
    }

    let examples = root
        .join("examples/target")
        .join(WASM_TARGET)
        .join("release");
    let guests = guests_target.join(WASM_TARGET).join("release");
    let wasmtime = process::which("wasmtime").map(|path| {
        let version = process::run("wasmtime --version", Command::new(&path).arg("--version"))
            .map(|v| v.trim().to_owned())
            .unwrap_or_else(|_| "wasmtime (version unknown)".into());
        (path, version)
    });
    let artifacts = Artifacts {
        zato: release.join("zato"),
        hyper: release.join("zato-bench-hyper"),
        hello: examples.join("hello.wasm"),
        transform: examples.join("transform.wasm"),
        hello_lean: root
            .join("examples/target")
            .join(LEAN_TARGET)
            .join("release/hello.wasm"),
        version: [guests.join("version1.wasm"), guests.join("version2.wasm")],
        http_hello: guests.join("http_hello.wasm"),
        timed: guests.join("stats.wasm"),
        wasmtime,
        root,
    };
    for path in [
        &artifacts.zato,
        &artifacts.hyper,
        &artifacts.hello,
        &artifacts.transform,
        &artifacts.hello_lean,
        &artifacts.version[0],
        &artifacts.version[1],
        &artifacts.http_hello,
        &artifacts.timed,
    ] {
        if !path.is_file() {
            bail!(
                "`{}` is missing{}",
                path.display(),
                if skip {
                    " (run without --no-build)"
                } else {
                    ""
                }
            );
        }
    }
    Ok(artifacts)
}

fn step(what: &str) {
    eprintln!("[bench] build: {what}");
}

/// `cargo build --release --target wasm32-wasip2 --manifest-path MANIFEST`, without the
/// host build's flags.
fn wasm_build(cargo: &std::ffi::OsStr, manifest: &Path, target: &str) -> Command {
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--release", "--target", target, "--manifest-path"])
        .arg(manifest);
    for var in HOST_ONLY_ENV {
        cmd.env_remove(var);
    }
    cmd
}

/// Runs a build with cargo's progress on our stderr.
fn status(what: &str, cmd: &mut Command) -> anyhow::Result<()> {
    let status = cmd
        .stdout(std::process::Stdio::null())
        .status()
        .with_context(|| format!("cannot run {what} ({cmd:?})"))?;
    if !status.success() {
        bail!(
            "{what} failed ({status}); is the wasm32-wasip2 target installed (`rustup target add wasm32-wasip2`)?"
        );
    }
    Ok(())
}
