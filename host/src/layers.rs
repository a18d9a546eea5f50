//! The order of the server's top-level modules, checked: each module uses only the
//! modules before it in [`LAYERS`], so there is no import cycle, and a new module has to
//! say where it sits. Read from the sources (their `crate::` paths, tests left out),
//! since Rust itself allows cycles between modules of one crate.

use std::collections::BTreeSet;
use std::path::Path;

/// Every top-level module, from the bottom up. Modules on one line are independent of
/// each other.
const LAYERS: &[&[&str]] = &[
    &["api", "telemetry"],
    &["config", "sio", "metrics", "security"],
    &["kvdb", "odb"],
    &[
        "reload",
        "wit",
        "singleton",
        "outconn",
        "dictionary",
        "rate_limit",
    ],
    &["capability", "stats"],
    &["runtime"],
    &["deploy", "http_response"],
    &["pickup", "channel"],
    &["scheduler", "invoke_async"],
    &["admin"],
    &["server"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

/// The top-level modules a module's sources name as `crate::NAME`, outside its tests.
fn uses(src: &Path, module: &str) -> BTreeSet<String> {
    let mut files = vec![src.join(format!("{module}.rs"))];
    let mut dirs = vec![src.join(module)];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    let mut used = BTreeSet::new();
    for file in files {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        let name = file.file_name().unwrap().to_string_lossy();
        if name == "tests.rs" || name == "suite.rs" {
            continue;
        }
        let code = text.split("#[cfg(test)]\nmod tests").next().unwrap_or("");
        for (at, _) in code.match_indices("crate::") {
            let rest = &code[at + "crate::".len()..];
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            let used_module = &rest[..end];
            if !used_module.is_empty() && used_module != module {
                used.insert(used_module.to_owned());
            }
        }
    }
    used
}

#[test]
fn each_module_uses_only_the_layers_below_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut modules = BTreeSet::new();
    for entry in std::fs::read_dir(&src).unwrap().flatten() {
        let path = entry.path();
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        if path.extension().is_some_and(|e| e == "rs") && !["lib", "layers"].contains(&&*stem) {
            modules.insert(stem);
        }
    }
    let mut wrong = Vec::new();
    for module in &modules {
        let Some(layer) = layer_of(module) else {
            wrong.push(format!("`{module}` is not in LAYERS: say where it sits"));
            continue;
        };
        for used in uses(&src, module) {
            match layer_of(&used) {
                Some(other) if other < layer => {}
                Some(_) => wrong.push(format!(
                    "`{module}` uses `{used}`, which is not below it in LAYERS"
                )),
                // `crate::Server` and the like: re-exports at the root.
                None => {}
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
