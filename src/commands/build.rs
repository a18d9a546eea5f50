//! `zato build [PATH]`: builds a service into a component, for the right target, and
//! prints the component's path on the last line of its output.
//!
//! - a Rust project (a directory with `Cargo.toml`): `cargo build --release --target
//!   wasm32-wasip2`, the component cargo writes;
//! - a Python module (`NAME.py`, or the one module of a directory with `pyproject.toml`
//!   or `.py` files; `[tool.zato] module` in `pyproject.toml` names it among several):
//!   componentize-py (`pip install componentize-py==0.25.0`) with the `zato:service` WIT
//!   and the Python SDK this CLI carries (`sdk-python/`, so the SDK always matches the
//!   contract), into `NAME.wasm` beside the module;
//! - a JavaScript module (`NAME.js`, or the `main` of a directory's `package.json`):
//!   componentize-js (`npm install --save-dev @bytecodealliance/componentize-js@0.23.0`,
//!   found in the project's `node_modules`) with the WIT and the JavaScript SDK this CLI
//!   carries (`sdk-js/`), into `NAME.wasm` beside the module. StarlingMonkey resolves
//!   only relative imports, so the module and its neighbours are built from a copy in
//!   which `"zato-sdk"` names the carried SDK.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use serde::Serialize;

use crate::exit::{CliError, CliResult, ExitCode};
use crate::output::Output;

/// The contract every service is built against.
const WIT: &str = include_str!("../../wit/service.wit");
/// The Python SDK, file by file (`zato new` copies it too).
pub(crate) const PYTHON_SDK: [(&str, &str); 5] = [
    (
        "__init__.py",
        include_str!("../../sdk-python/zato_sdk/__init__.py"),
    ),
    (
        "_fields.py",
        include_str!("../../sdk-python/zato_sdk/_fields.py"),
    ),
    (
        "_host.py",
        include_str!("../../sdk-python/zato_sdk/_host.py"),
    ),
    (
        "_component.py",
        include_str!("../../sdk-python/zato_sdk/_component.py"),
    ),
    (
        "testing.py",
        include_str!("../../sdk-python/zato_sdk/testing.py"),
    ),
];
/// The JavaScript SDK, file by file (`zato new` copies it too): the module services
/// import, its test harness, the export's glue.
pub(crate) const JS_SDK: [(&str, &str); 4] = [
    ("package.json", include_str!("../../sdk-js/package.json")),
    ("index.js", include_str!("../../sdk-js/index.js")),
    ("testing.js", include_str!("../../sdk-js/testing.js")),
    ("component.js", include_str!("../../sdk-js/component.js")),
];

/// One file of the JavaScript SDK.
fn js_sdk(file: &str) -> &'static str {
    JS_SDK
        .iter()
        .find(|(name, _)| *name == file)
        .map_or("", |(_, text)| text)
}
/// Runs componentize-js: `node BUILD COMPONENTIZE ENTRY WIT OUT`.
const JS_BUILD: &str = r#"import { writeFile } from "node:fs/promises";
import { pathToFileURL } from "node:url";
const [, , tool, entry, wit, out] = process.argv;
const { componentize } = await import(pathToFileURL(tool));
const { component } = await componentize({ sourcePath: entry, witPath: wit, worldName: "zato-service" });
await writeFile(out, component);
"#;
/// The componentize-js release the JavaScript SDK is tested with.
const COMPONENTIZE_JS: &str = "@bytecodealliance/componentize-js@0.23.0";
/// The componentize-py release the Python SDK is tested with.
const COMPONENTIZE_PY: &str = "componentize-py==0.25.0";

/// Build a service into a WebAssembly component.
///
/// Rust projects (Cargo.toml) build for wasm32-wasip2 with cargo; Python modules with
/// componentize-py and zato's Python SDK; JavaScript modules with componentize-js and
/// zato's JavaScript SDK. The component's path is the last line printed.
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Build {
    /// A Python (`.py`) or JavaScript (`.js`) module, or a project directory [default:
    /// the current directory]
    path: Option<PathBuf>,
}

/// What was built.
#[derive(Debug, Serialize)]
struct Built {
    language: &'static str,
    source: PathBuf,
    component: PathBuf,
    size: u64,
}

/// A project's language, and what to build in it.
enum Project {
    Rust { dir: PathBuf },
    Python { module: PathBuf },
    JavaScript { module: PathBuf },
}

impl Build {
    pub async fn run(self, out: &Output) -> CliResult {
        let path = self.path.unwrap_or_else(|| PathBuf::from("."));
        let project = detect(&path)?;
        let (language, source, component) = match project {
            Project::Rust { dir } => ("rust", dir.clone(), build_rust(&dir, out).await?),
            Project::Python { module } => {
                let component = build_python(&module, out).await?;
                ("python", module, component)
            }
            Project::JavaScript { module } => {
                let component = build_js(&module, out).await?;
                ("javascript", module, component)
            }
        };
        let size = std::fs::metadata(&component).map(|m| m.len()).unwrap_or(0);
        let built = Built {
            language,
            source,
            component,
            size,
        };
        out.print(&built, || {
            format!(
                "built a {} service ({} KiB)\n{}",
                built.language,
                built.size / 1024,
                built.component.display()
            )
        });
        Ok(())
    }
}

fn failed(message: String) -> CliError {
    CliError::new(ExitCode::Failed, message)
}

/// What `path` holds: a Rust project, or a Python module.
fn detect(path: &Path) -> Result<Project, CliError> {
    if path.is_file() {
        return match path.extension().and_then(|e| e.to_str()) {
            Some("py") => Ok(Project::Python {
                module: path.to_owned(),
            }),
            Some("js" | "mjs") => Ok(Project::JavaScript {
                module: path.to_owned(),
            }),
            _ => Err(CliError::new(
                ExitCode::Usage,
                format!(
                    "`{}` is not a service zato can build: give a `.py` or `.js` module or a \
                     project directory (Cargo.toml, pyproject.toml, package.json)",
                    path.display()
                ),
            )),
        };
    }
    if !path.is_dir() {
        return Err(CliError::new(
            ExitCode::Usage,
            format!("`{}` does not exist", path.display()),
        ));
    }
    if path.join("Cargo.toml").is_file() {
        return Ok(Project::Rust {
            dir: path.to_owned(),
        });
    }
    let package = path.join("package.json");
    if package.is_file() {
        let text = std::fs::read_to_string(&package)
            .map_err(|e| failed(format!("cannot read `{}`: {e}", package.display())))?;
        let document: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| failed(format!("`{}` is not valid JSON: {e}", package.display())))?;
        let main = document["main"].as_str().unwrap_or("index.js");
        let module = path.join(main);
        if !module.is_file() {
            return Err(failed(format!(
                "`{}` names the module `{main}` (its `main`), which is not there",
                package.display()
            )));
        }
        return Ok(Project::JavaScript { module });
    }
    if let Some(module) = python_module(path)? {
        return Ok(Project::Python { module });
    }
    Err(CliError::new(
        ExitCode::Usage,
        format!(
            "`{}` holds no project zato can build: no Cargo.toml, package.json, pyproject.toml \
             or Python module",
            path.display()
        ),
    ))
}

/// The service module of a Python project directory: `[tool.zato] module` in its
/// `pyproject.toml`, else its one `.py` file that is not a test or `conftest.py`.
fn python_module(dir: &Path) -> Result<Option<PathBuf>, CliError> {
    let pyproject = dir.join("pyproject.toml");
    if let Ok(text) = std::fs::read_to_string(&pyproject) {
        let document: toml::Table = text
            .parse()
            .map_err(|e| failed(format!("`{}` is not valid TOML: {e}", pyproject.display())))?;
        if let Some(module) = document
            .get("tool")
            .and_then(|t| t.get("zato"))
            .and_then(|z| z.get("module"))
            .and_then(|m| m.as_str())
        {
            let file = dir.join(module);
            if !file.is_file() {
                return Err(failed(format!(
                    "`{}` names the module `{module}`, which is not there",
                    pyproject.display()
                )));
            }
            return Ok(Some(file));
        }
    }
    let mut modules: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| failed(format!("cannot read `{}`: {e}", dir.display())))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name.ends_with(".py")
                && !name.starts_with("test_")
                && !name.ends_with("_test.py")
                && name != "conftest.py"
                && p.is_file()
        })
        .collect();
    modules.sort();
    match modules.len() {
        0 => Ok(None),
        1 => Ok(modules.pop()),
        _ => Err(failed(format!(
            "`{}` holds several Python modules ({}): name the service's in pyproject.toml \
             (`[tool.zato] module = \"...\"`) or give it to `zato build`",
            dir.display(),
            modules
                .iter()
                .filter_map(|p| p.file_name()?.to_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// Runs `command`, its output going to stderr (stdout carries only the result); fails
/// with `what` and its stderr's last lines.
async fn run_tool(mut command: tokio::process::Command, what: &str, out: &Output) -> CliResult {
    let spinner = out.spinner(format!("{what}..."));
    let output = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .await;
    if let Some(s) = spinner {
        s.finish_and_clear();
    }
    let output = output.map_err(|e| failed(format!("{what}: cannot run it: {e}")))?;
    if !out.json {
        eprint!("{}", String::from_utf8_lossy(&output.stderr));
    }
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let tail: Vec<&str> = stderr
        .lines()
        .chain(stdout.lines())
        .rev()
        .take(12)
        .collect();
    Err(failed(format!(
        "{what} failed ({}):\n{}",
        output.status,
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    )))
}

/// `cargo build --release --target wasm32-wasip2` in `dir`; the component it wrote.
async fn build_rust(dir: &Path, out: &Output) -> Result<PathBuf, CliError> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let metadata = tokio::process::Command::new(&cargo)
        .args(["metadata", "--no-deps", "--format-version", "1"])
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|e| failed(format!("cannot run cargo: {e}")))?;
    if !metadata.status.success() {
        return Err(failed(format!(
            "`cargo metadata` in `{}` failed: {}",
            dir.display(),
            String::from_utf8_lossy(&metadata.stderr).trim()
        )));
    }
    let metadata: serde_json::Value = serde_json::from_slice(&metadata.stdout)
        .map_err(|e| failed(format!("`cargo metadata` printed no JSON: {e}")))?;
    let manifest = std::fs::canonicalize(dir.join("Cargo.toml")).unwrap_or_default();
    let package = metadata["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["manifest_path"].as_str().map(Path::new) == Some(manifest.as_path()))
        .ok_or_else(|| {
            failed(format!(
                "`{}` is not a package (a workspace? build a member's directory)",
                manifest.display()
            ))
        })?;
    let library = package["targets"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|t| {
            t["kind"]
                .as_array()
                .is_some_and(|k| k.iter().any(|k| k == "cdylib"))
        })
        .and_then(|t| t["name"].as_str())
        .ok_or_else(|| {
            failed(format!(
                "`{}` has no `cdylib` library: a service needs `[lib] crate-type = [\"cdylib\"]`",
                manifest.display()
            ))
        })?
        .replace('-', "_");
    let target_dir = metadata["target_directory"]
        .as_str()
        .map(PathBuf::from)
        .unwrap_or_else(|| dir.join("target"));
    let mut command = tokio::process::Command::new(&cargo);
    command
        .args(["build", "--release", "--target", "wasm32-wasip2"])
        .current_dir(dir);
    run_tool(command, "cargo build --target wasm32-wasip2", out).await?;
    let component = target_dir
        .join("wasm32-wasip2/release")
        .join(format!("{library}.wasm"));
    if !component.is_file() {
        return Err(failed(format!(
            "cargo built, but `{}` is not there",
            component.display()
        )));
    }
    Ok(component)
}

/// componentize-py on `module`, with the WIT and the SDK this CLI carries; the
/// component is `NAME.wasm` beside the module.
async fn build_python(module: &Path, out: &Output) -> Result<PathBuf, CliError> {
    let stem = module
        .file_stem()
        .and_then(|s| s.to_str())
        .filter(|s| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        .ok_or_else(|| {
            failed(format!(
                "`{}` is not an importable Python module name (letters, digits, `_`)",
                module.display()
            ))
        })?
        .to_owned();
    // Absolute, so that the path printed last is one from anywhere.
    let source_dir = std::path::absolute(module)
        .map_err(|e| failed(format!("`{}`: {e}", module.display())))?
        .parent()
        .map(Path::to_owned)
        .unwrap_or_default();
    let work = tempfile::tempdir().map_err(|e| failed(format!("no temporary directory: {e}")))?;
    let write = |path: PathBuf, text: &str| {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(path, text)
    };
    let prepared = (|| -> std::io::Result<()> {
        write(work.path().join("wit/service.wit"), WIT)?;
        for (file, text) in PYTHON_SDK {
            write(work.path().join("sdk/zato_sdk").join(file), text)?;
        }
        // componentize-py's app module: the user's, then the export.
        write(
            work.path().join("sdk/zato_component.py"),
            &format!(
                "import {stem}  # noqa: F401\nfrom zato_sdk._component import Service  # noqa: F401\n"
            ),
        )
    })();
    prepared.map_err(|e| failed(format!("cannot prepare the build: {e}")))?;
    let component = source_dir.join(format!("{stem}.wasm"));
    let tool = which("componentize-py").ok_or_else(|| {
        failed(format!(
            "componentize-py is not installed: `pip install {COMPONENTIZE_PY}` builds Python \
             services"
        ))
    })?;
    let mut command = tokio::process::Command::new(tool);
    command
        .arg("-d")
        .arg(work.path().join("wit"))
        .args(["-w", "zato-service", "componentize", "zato_component"])
        .arg("-p")
        .arg(work.path().join("sdk"))
        .arg("-p")
        .arg(&source_dir)
        .arg("-o")
        .arg(&component);
    run_tool(command, "componentize-py", out).await?;
    Ok(component)
}

/// componentize-js on `module`, from a copy of its directory's modules in which
/// `"zato-sdk"` is the SDK this CLI carries; the component is `NAME.wasm` beside it.
async fn build_js(module: &Path, out: &Output) -> Result<PathBuf, CliError> {
    let source_dir = std::path::absolute(module)
        .map_err(|e| failed(format!("`{}`: {e}", module.display())))?
        .parent()
        .map(Path::to_owned)
        .unwrap_or_default();
    let file = module
        .file_name()
        .and_then(|f| f.to_str())
        .ok_or_else(|| failed(format!("`{}` is not a module", module.display())))?
        .to_owned();
    let stem = module
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("service")
        .to_owned();
    // A project that was never installed (`zato new js`): installed first, as cargo
    // fetches a crate's dependencies.
    if componentize_js(&source_dir).is_none() && source_dir.join("package.json").is_file() {
        let mut npm = tokio::process::Command::new("npm");
        npm.args(["install", "--prefer-offline", "--no-audit", "--no-fund"])
            .current_dir(&source_dir);
        run_tool(npm, "npm install", out).await?;
    }
    let tool = componentize_js(&source_dir).ok_or_else(|| {
        failed(format!(
            "componentize-js is not installed in `{}` or above: `npm install --save-dev \
             {COMPONENTIZE_JS} @bytecodealliance/preview2-shim@0.25.0` builds JavaScript \
             services",
            source_dir.display()
        ))
    })?;
    let work = tempfile::tempdir().map_err(|e| failed(format!("no temporary directory: {e}")))?;
    let sdk_import = |text: &str| {
        text.replace("from \"zato-sdk\"", "from \"./zato-sdk.js\"")
            .replace("from 'zato-sdk'", "from './zato-sdk.js'")
    };
    let prepared = (|| -> std::io::Result<()> {
        for entry in std::fs::read_dir(&source_dir)? {
            let path = entry?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if path.is_file()
                && (name.ends_with(".js") || name.ends_with(".mjs"))
                && !name.contains(".test.")
            {
                let text = std::fs::read_to_string(&path)?;
                std::fs::write(work.path().join(name), sdk_import(&text))?;
            }
        }
        std::fs::write(work.path().join("zato-sdk.js"), js_sdk("index.js"))?;
        std::fs::write(
            work.path().join("zato-sdk-component.js"),
            js_sdk("component.js").replace("from \"./index.js\"", "from \"./zato-sdk.js\""),
        )?;
        std::fs::write(
            work.path().join("zato-entry.js"),
            format!(
                "import * as module from \"./{file}\";\nimport {{ exportService }} from \"./zato-sdk-component.js\";\nexport const service = exportService(module);\n"
            ),
        )?;
        std::fs::write(work.path().join("service.wit"), WIT)?;
        std::fs::write(work.path().join("build.mjs"), JS_BUILD)
    })();
    prepared.map_err(|e| failed(format!("cannot prepare the build: {e}")))?;
    let component = source_dir.join(format!("{stem}.wasm"));
    let mut command = tokio::process::Command::new("node");
    command
        .arg(work.path().join("build.mjs"))
        .arg(&tool)
        .arg(work.path().join("zato-entry.js"))
        .arg(work.path().join("service.wit"))
        .arg(&component);
    run_tool(command, "componentize-js", out).await?;
    Ok(component)
}

/// componentize-js's module, in the `node_modules` of `dir` or of a directory above.
fn componentize_js(dir: &Path) -> Option<PathBuf> {
    dir.ancestors().find_map(|dir| {
        let package = dir.join("node_modules/@bytecodealliance/componentize-js");
        let manifest: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(package.join("package.json")).ok()?)
                .ok()?;
        let entry = manifest["exports"]["import"]
            .as_str()
            .or_else(|| manifest["exports"]["."]["import"].as_str())
            .or_else(|| manifest["main"].as_str())?;
        Some(package.join(entry))
    })
}

/// `name` on the PATH.
fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    })
}
