//! Core modules become components at deploy.
//!
//! A service built with zato-sdk for `wasm32-unknown-unknown` is a core module whose
//! WIT world wit-bindgen embedded in a `component-type` custom section. wit-component
//! wraps it into a component importing only the zato interfaces the service calls: no
//! WASI, no std wiring, so a fresh instance per request costs less than the same
//! service built for `wasm32-wasip2` (bench/RESULTS.md has the figures). The original bytes stay
//! what is deployed, hashed and stored; the wrapping is redone, deterministically, where
//! a server compiles them, and the artifact cache keeps the result.

use super::CompileError;

/// The custom sections wit-bindgen writes, one per `generate!` (`component-type:...`).
const METADATA_SECTION: &str = "component-type";
/// Modules of a wasm32-wasip1 build import these; they need an adapter zato does not
/// ship, and a service is better rebuilt for another target.
const WASI_P1_MODULES: [&str; 2] = ["wasi_snapshot_preview1", "wasi_unstable"];

/// Wraps a core module carrying zato's WIT world into a component.
pub fn componentize(module: &[u8]) -> Result<Vec<u8>, CompileError> {
    let refused = |reason: String| CompileError::CoreModule(reason);
    let mut has_metadata = false;
    for payload in wasmparser::Parser::new(0).parse_all(module) {
        let payload = payload.map_err(|e| CompileError::Invalid(format!("{e:#}")))?;
        match payload {
            wasmparser::Payload::CustomSection(section)
                if section.name().starts_with(METADATA_SECTION) =>
            {
                has_metadata = true;
            }
            wasmparser::Payload::ImportSection(imports) => {
                for import in imports.into_imports() {
                    let import = import.map_err(|e| CompileError::Invalid(format!("{e:#}")))?;
                    if WASI_P1_MODULES.contains(&import.module) {
                        return Err(refused(format!(
                            "it imports WASI preview 1 (`{}::{}`, a wasm32-wasip1 build): \
                             build it for wasm32-wasip2 or wasm32-unknown-unknown",
                            import.module, import.name
                        )));
                    }
                }
            }
            _ => {}
        }
    }
    if !has_metadata {
        return Err(refused(format!(
            "it has no `{METADATA_SECTION}` section (the WIT world wit-bindgen embeds): \
             build it with zato-sdk, for wasm32-wasip2 or wasm32-unknown-unknown"
        )));
    }
    wit_component::ComponentEncoder::default()
        .validate(true)
        .module(module)
        .and_then(|mut encoder| encoder.encode())
        .map_err(|e| {
            refused(format!(
                "wit-component cannot wrap it into a component: {e:#}"
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(module: &[u8]) -> String {
        match componentize(module) {
            Err(CompileError::CoreModule(reason)) => reason,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn a_module_without_wit_metadata_is_refused_with_what_to_do() {
        let empty = wasm_encoder::Module::new().finish();
        assert!(reason(&empty).contains("no `component-type` section"));
    }

    #[test]
    fn a_wasip1_module_is_refused_naming_the_import() {
        let mut types = wasm_encoder::TypeSection::new();
        types.ty().function([], []);
        let mut imports = wasm_encoder::ImportSection::new();
        imports.import(
            "wasi_snapshot_preview1",
            "fd_write",
            wasm_encoder::EntityType::Function(0),
        );
        let mut p1 = wasm_encoder::Module::new();
        p1.section(&types).section(&imports);
        let reason = reason(&p1.finish());
        assert!(
            reason.contains("wasi_snapshot_preview1::fd_write") && reason.contains("wasm32-wasip2"),
            "{reason}"
        );
    }
}
