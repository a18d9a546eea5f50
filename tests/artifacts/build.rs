//! Builds the guest workspaces (`examples/` and `tests/guests/`) for `wasm32-wasip2`,
//! and `examples/` once more for `wasm32-unknown-unknown` (lean builds: core modules the
//! server wraps into components at deploy), and writes the path of every artifact into
//! `$OUT_DIR/artifacts.rs`.
//!
//! Each workspace is built with one nested `cargo build`, not one per test, so the
//! host's tests only ever wait for the guests once; cargo reruns this script only when
//! the WIT contract, the SDK or a guest's sources change.

use std::env;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

/// The target guests are built for: it produces components directly.
const WASM_TARGET: &str = "wasm32-wasip2";
/// The target of lean builds: core modules without WASI.
const LEAN_TARGET: &str = "wasm32-unknown-unknown";

/// Variables the outer build may set that must not reach the nested one: flags meant
/// for the host target (or for clippy, through the wrapper) would break or slow down a
/// wasm build, and a forced target would override ours.
const ENV_TO_REMOVE: [&str; 5] = [
    "RUSTFLAGS",
    "CARGO_ENCODED_RUSTFLAGS",
    "CARGO_BUILD_TARGET",
    "CARGO_BUILD_RUSTFLAGS",
    "RUSTC_WORKSPACE_WRAPPER",
];

/// One component, exposed as a constant.
struct Artifact {
    /// The constant's name.
    constant: &'static str,
    /// The component's file name without `.wasm`, as cargo names the crate's library.
    file: &'static str,
    /// The constant's documentation.
    doc: &'static str,
}

/// A guest workspace and the components it produces.
struct Workspace {
    /// The workspace's directory, relative to the repository root.
    dir: &'static str,
    /// The target it is built for.
    target: &'static str,
    artifacts: &'static [Artifact],
}

const EXAMPLES: Workspace = Workspace {
    dir: "examples",
    target: WASM_TARGET,
    artifacts: &[
        Artifact {
            constant: "HELLO",
            file: "hello",
            doc: "`demo.hello` (`examples/hello`): greets the `name` from the path, query or JSON payload.",
        },
        Artifact {
            constant: "TRANSFORM",
            file: "transform",
            doc: "`demo.transform` (`examples/transform`): validates a customer record and summarises it.",
        },
        Artifact {
            constant: "INVOKER",
            file: "invoker",
            doc: "`demo.invoker` (`examples/invoker`): invokes `demo.hello` and wraps its answer.",
        },
        Artifact {
            constant: "CONFIGURED",
            file: "configured",
            doc: "`demo.configured` (`examples/configured`): greets with its `greeting` and `target` config keys.",
        },
        Artifact {
            constant: "SCHEDULED",
            file: "scheduled",
            doc: "`demo.scheduled` (`examples/scheduled`): answers the scheduler job and fire time it was called for; refuses other channels.",
        },
        Artifact {
            constant: "SQL_TABLE",
            file: "sql_table",
            doc: "`demo.sql-table` (`examples/sql-table`): reads and writes a customers table through the SQL connection `customers`, one operation per HTTP method.",
        },
        Artifact {
            constant: "FTP_FETCH",
            file: "ftp_fetch",
            doc: "`demo.ftp-fetch` (`examples/ftp-fetch`): fetches (and stores, lists, renames, deletes) files through the FTP connection `files`.",
        },
        Artifact {
            constant: "AMQP_TRANSFORM",
            file: "amqp_transform",
            doc: "`demo.amqp-transform` (`examples/amqp-transform`): summarises an order from an AMQP channel and publishes the summary through the AMQP connection `amqp-out`.",
        },
        Artifact {
            constant: "ZMQ_RELAY",
            file: "zmq_relay",
            doc: "`demo.zmq-relay` (`examples/zmq-relay`): pushes each message of a ZeroMQ channel on through the ZeroMQ connection `zmq-out` (config `connection`; `envelope = json` describes where it came from).",
        },
        Artifact {
            constant: "INVENTORY",
            file: "inventory",
            doc: "`demo.inventory` (`examples/inventory`): reserves and restocks items in the KVDB's shared namespace `stock`, each change under the cluster-wide lock `stock:{sku}`.",
        },
        Artifact {
            constant: "CURRENCY",
            file: "currency",
            doc: "`demo.currency` (`examples/currency`): translates a currency code between the systems `crm` and `accounting` (key `currency`) through the data dictionary.",
        },
        Artifact {
            constant: "SOAP_HELLO",
            file: "soap_hello",
            doc: "`demo.soap-hello` (`examples/soap-hello`): greets the `name` it is given in JSON over REST or in XML over SOAP.",
        },
        Artifact {
            constant: "OUTGOING_HTTP",
            file: "outgoing_http",
            doc: "`demo.outgoing-http` (`examples/outgoing-http`): reads a customer through the outgoing HTTP connection `crm` (config `connection`, `path`) and reshapes it.",
        },
        Artifact {
            constant: "SOAP_CLIENT",
            file: "soap_client",
            doc: "`demo.soap-client` (`examples/soap-client`): reads an invoice through the outgoing SOAP connection `billing` (config `connection`).",
        },
    ],
};

/// The examples again, as lean builds.
const LEAN_EXAMPLES: Workspace = Workspace {
    dir: "examples",
    target: LEAN_TARGET,
    artifacts: &[
        Artifact {
            constant: "HELLO_LEAN",
            file: "hello",
            doc: "`demo.hello` built for wasm32-unknown-unknown: a core module.",
        },
        Artifact {
            constant: "TRANSFORM_LEAN",
            file: "transform",
            doc: "`demo.transform` built for wasm32-unknown-unknown: a core module.",
        },
        Artifact {
            constant: "INVOKER_LEAN",
            file: "invoker",
            doc: "`demo.invoker` built for wasm32-unknown-unknown: a core module.",
        },
        Artifact {
            constant: "CONFIGURED_LEAN",
            file: "configured",
            doc: "`demo.configured` built for wasm32-unknown-unknown: a core module.",
        },
        Artifact {
            constant: "SCHEDULED_LEAN",
            file: "scheduled",
            doc: "`demo.scheduled` built for wasm32-unknown-unknown: a core module.",
        },
    ],
};

const TEST_GUESTS: Workspace = Workspace {
    dir: "tests/guests",
    target: WASM_TARGET,
    artifacts: &[
        Artifact {
            constant: "TRAP",
            file: "trap",
            doc: "`test.trap`: panics in `handle`, so the instance traps.",
        },
        Artifact {
            constant: "SPIN",
            file: "spin",
            doc: "`test.loop`: loops forever.",
        },
        Artifact {
            constant: "MEMBOMB",
            file: "membomb",
            doc: "`test.memory`: allocates and touches memory without bound.",
        },
        Artifact {
            constant: "RECURSE",
            file: "recurse",
            doc: "`test.recurse`: recurses without bound.",
        },
        Artifact {
            constant: "CYCLE_A",
            file: "cycle_a",
            doc: "`test.cycle-a`: invokes `test.cycle-b` and propagates its error.",
        },
        Artifact {
            constant: "CYCLE_B",
            file: "cycle_b",
            doc: "`test.cycle-b`: invokes `test.cycle-a` and propagates its error.",
        },
        Artifact {
            constant: "VERSION1",
            file: "version1",
            doc: "`test.version`, first version: answers `{\"version\": 1}`.",
        },
        Artifact {
            constant: "VERSION2",
            file: "version2",
            doc: "`test.version`, second version: answers `{\"version\": 2}`.",
        },
        Artifact {
            constant: "ECHO",
            file: "echo",
            doc: "`test.echo`: answers a JSON description of the request and its config.",
        },
        Artifact {
            constant: "HOSTILE_INVOKE",
            file: "hostile_invoke",
            doc: "`test.hostile`: invokes with an empty, a 1 MiB and an unknown service name; answers the errors.",
        },
        Artifact {
            constant: "COUNTER",
            file: "counter",
            doc: "`test.counter` (`tests/guests/counter`): counts the requests its instance served; traps on the payload `trap`.",
        },
        Artifact {
            constant: "ENTROPY",
            file: "entropy",
            doc: "`test.entropy` (`tests/guests/entropy`): reads random bytes through wasi-libc's `getentropy`.",
        },
        Artifact {
            constant: "CONTRACT_0_2_0",
            file: "contract_0_2_0",
            doc: "`test.contract020` (`tests/guests/contract-0-2-0`): built with wit-bindgen against a frozen zato:service@0.2.0; answers what it read of its request.",
        },
        Artifact {
            constant: "SQL_CALL",
            file: "sql_call",
            doc: "`test.sql-call` (`tests/guests/sql-call`): runs the SQL query, statement or transaction its JSON payload describes; answers tagged values or the error's kind.",
        },
        Artifact {
            constant: "ASYNC_INVOKE",
            file: "async_invoke",
            doc: "`test.async` (`tests/guests/async-invoke`): queues an asynchronous invoke, sleeps the ms asked (answering its `async` and `delivery` details), or posts an outcome it is told of to the HTTP connection `async-sink`, as its JSON payload says.",
        },
        Artifact {
            constant: "AMQP_PROBE",
            file: "amqp_probe",
            doc: "`test.amqp-probe` (`tests/guests/amqp-probe`): reports each call through the AMQP connection `probe`, then succeeds, traps, fails or asks to retry as its payload says.",
        },
        Artifact {
            constant: "KV_LOCK",
            file: "kv_lock",
            doc: "`test.kv-lock` (`tests/guests/kv-lock`): sets, gets, deletes and increments keys of the `kv` import, and acquires, holds (then traps or fails) and releases locks of the `lock` import, as its JSON payload says.",
        },
        Artifact {
            constant: "STATS",
            file: "stats",
            doc: "`test.stats` (`tests/guests/stats`): sleeps the `ms` of its JSON payload, then answers or fails with the error its `fail` names; slow threshold 50 ms.",
        },
    ],
};

/// A standard `wasi:http/proxy` component that knows nothing of zato: the one the
/// benchmark runs under `wasmtime serve`, served unchanged by zato's HTTP channels.
const WASI_HTTP: Workspace = Workspace {
    dir: "bench/guests/http-hello",
    target: WASM_TARGET,
    artifacts: &[Artifact {
        constant: "HTTP_HELLO",
        file: "http_hello",
        doc: "`http_hello` (`bench/guests/http-hello`): a `wasi:http/proxy` hello built with the `wasip2` crate for `wasmtime serve`; `GET /?name=NAME` answers `{\"message\": \"Hello, NAME!\"}`.",
    }],
};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // Cargo shows a failed build script's stderr.
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let manifest_dir = PathBuf::from(env_var("CARGO_MANIFEST_DIR")?);
    let out_dir = PathBuf::from(env_var("OUT_DIR")?);
    let repo = manifest_dir.ancestors().nth(2).ok_or_else(|| {
        format!(
            "`{}` is not `<repo>/tests/artifacts`",
            manifest_dir.display()
        )
    })?;
    let target_dir = guest_target_dir(&out_dir);

    println!("cargo::rerun-if-changed=build.rs");
    // Set by .cargo/config.toml to this clone's directory: cargo keeps the watched paths
    // below as they were, so another clone using the same target directory must make
    // this script run again rather than reuse guests built from the first clone.
    println!("cargo::rerun-if-env-changed=ZATO_REPO_DIR");
    for path in ["wit", "sdk-rust", "rust-toolchain.toml"] {
        rerun_if_changed(&repo.join(path));
    }

    let mut constants =
        String::from("// @generated by tests/artifacts/build.rs: the guest components it built.\n");
    for workspace in [&EXAMPLES, &LEAN_EXAMPLES, &TEST_GUESTS, &WASI_HTTP] {
        let dir = repo.join(workspace.dir);
        watch_workspace(&dir)?;
        build(&dir, workspace.target, &target_dir)?;
        for artifact in workspace.artifacts {
            let path = target_dir
                .join(workspace.target)
                .join("release")
                .join(format!("{}.wasm", artifact.file));
            if !path.is_file() {
                return Err(format!(
                    "`{}` built but did not produce `{}`: does a member's `[lib]` still \
                     produce `{}`?",
                    workspace.dir,
                    path.display(),
                    artifact.file
                ));
            }
            let path = path
                .to_str()
                .ok_or_else(|| format!("`{}` is not UTF-8", path.display()))?;
            let _ = writeln!(
                constants,
                "\n/// {}\npub const {}: &str = {path:?};",
                artifact.doc, artifact.constant
            );
        }
    }
    let examples: Vec<&str> = EXAMPLES.artifacts.iter().map(|a| a.constant).collect();
    let _ = writeln!(
        constants,
        "\n/// Every example component, in the order of `examples/Cargo.toml`.\n\
         pub const EXAMPLES: &[&str] = &[{}];",
        examples.join(", ")
    );

    let generated = out_dir.join("artifacts.rs");
    fs::write(&generated, constants)
        .map_err(|err| format!("failed to write `{}`: {err}", generated.display()))
}

/// Runs `cargo build --release --target TARGET` for the workspace in `dir`.
fn build(dir: &Path, target: &str, target_dir: &Path) -> Result<(), String> {
    let manifest = dir.join("Cargo.toml");
    // `CARGO` is the cargo running this script: the same toolchain builds the guests.
    let cargo = env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let mut command = Command::new(cargo);
    command
        .args(["build", "--release", "--locked", "--target", target])
        .arg("--manifest-path")
        .arg(&manifest)
        // The workspace's own directory, so a `rust-toolchain.toml` above it applies.
        .current_dir(dir)
        // Never the outer build's target directory: cargo holds its lock while this
        // script runs.
        .env("CARGO_TARGET_DIR", target_dir);
    for name in ENV_TO_REMOVE {
        command.env_remove(name);
    }

    let output = command
        .output()
        .map_err(|err| format!("failed to run cargo for `{}`: {err}", manifest.display()))?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    // The lock files are committed and the build is `--locked`, so that every machine
    // builds the same guests: a dependency change must update them on purpose.
    let hint = if stderr.contains("--locked") {
        format!(
            "\nhint: the SDK's or a guest's dependencies changed; update the lock file with \
             `cargo update --workspace --manifest-path {}` and commit it",
            manifest.display()
        )
    } else {
        String::new()
    };
    Err(format!(
        "failed to build the guests of `{}` for {target} ({}); cargo said:\n{}{hint}",
        manifest.display(),
        output.status,
        stderr.trim_end()
    ))
}

/// Where the nested builds put their output: `wasm-guests/` inside the outer build's
/// target directory, found as the nearest ancestor of `OUT_DIR` that cargo tagged with
/// `CACHEDIR.TAG` (so it works with `--target`, custom profiles and `CARGO_TARGET_DIR`).
/// Both workspaces share it, which lets them share the compiled SDK.
fn guest_target_dir(out_dir: &Path) -> PathBuf {
    out_dir
        .ancestors()
        .find(|dir| dir.join("CACHEDIR.TAG").is_file())
        .unwrap_or(out_dir)
        .join("wasm-guests")
}

/// Watches a guest workspace's manifest, lock file and member directories, but not its
/// `target/`: cargo compares the modification times of everything under a watched
/// directory, and a build of the workspace by hand must not trigger this script.
fn watch_workspace(dir: &Path) -> Result<(), String> {
    rerun_if_changed(&dir.join("Cargo.toml"));
    rerun_if_changed(&dir.join("Cargo.lock"));
    let read_error = |err| format!("failed to read `{}`: {err}", dir.display());
    let mut members = fs::read_dir(dir)
        .map_err(read_error)?
        .map(|entry| entry.map(|entry| entry.path()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(read_error)?;
    members.retain(|path| path.join("Cargo.toml").is_file());
    members.sort();
    for member in members {
        rerun_if_changed(&member);
    }
    Ok(())
}

fn rerun_if_changed(path: &Path) {
    println!("cargo::rerun-if-changed={}", path.display());
}

fn env_var(name: &str) -> Result<OsString, String> {
    env::var_os(name).ok_or_else(|| format!("cargo did not set `{name}`"))
}
