//! The `handle` export of a service, found once per component and type-checked once.
//!
//! Every call, fresh or warm, finds `handle` through this. The generated bindings would
//! look up and type-check every export of the service interface on each instantiation
//! (`get_typed_func` walks the request and response records). The types of an export
//! belong to the component, not to one of its instances, so for a fresh instance per
//! request that check is the same work repeated: it is done on the first instance of
//! the component and skipped afterwards.

#![allow(unsafe_code)]

use std::sync::atomic::{AtomicBool, Ordering};

use wasmtime::AsContextMut;
use wasmtime::component::{Component, ComponentExportIndex, Instance, TypedFunc};

use super::CompileError;
use super::bindings::{Error as ServiceError, Response};
use super::request::Lowered;

/// The version of the `zato:service` package in `wit/service.wit`.
///
/// The contract grows by additive patch versions (see the header of the WIT): wasmtime
/// links a component's `zato:service/x@0.2.N` imports to this server's `@0.2.M`
/// definitions, and finds its `@0.2.N` exports when asked for `@0.2.M`, because its
/// name maps match versions of one semver line (`NameMap` in wasmtime-environ: for
/// 0.x the line is the minor). What it does not refuse is a newer patch: such a
/// component would fail to link only if it imports a function added after this
/// server's patch, so it is refused here, whatever it imports.
pub(crate) const CONTRACT_VERSION: &str = "0.2.6";
/// The WIT interface a service exports, as named in `wit/service.wit`, without its
/// version.
const INTERFACE: &str = "zato:service/service";

/// Refuses a component built against a `zato:service` this server cannot run: one of
/// another line (it would not link, and the reason to give is that it must be rebuilt,
/// not which import is missing) or of a newer patch (the server must be upgraded).
pub(crate) fn check_contract(component: &Component) -> Result<(), CompileError> {
    let engine = component.engine();
    let ty = component.component_type();
    let imports = ty.imports(engine).map(|(name, _)| name);
    let exports = ty.exports(engine).map(|(name, _)| name);
    for name in imports.chain(exports) {
        let Some((_, version)) = name
            .strip_prefix("zato:service/")
            .and_then(|rest| rest.split_once('@'))
        else {
            continue;
        };
        match compatibility(version) {
            Compatibility::Runs => {}
            Compatibility::Newer => {
                return Err(CompileError::NewerContract {
                    found: version.to_owned(),
                    expected: CONTRACT_VERSION,
                });
            }
            Compatibility::OtherLine => {
                return Err(CompileError::Contract {
                    found: version.to_owned(),
                    expected: CONTRACT_VERSION,
                });
            }
        }
    }
    Ok(())
}

/// Whether this server runs a component built against `zato:service@{version}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Compatibility {
    /// The same line, this server's patch or an older one.
    Runs,
    /// The same line, a newer patch.
    Newer,
    /// Another line (0.1, 0.3, 1.0, ...), a pre-release, or not a version.
    OtherLine,
}

fn compatibility(version: &str) -> Compatibility {
    let (Some(found), Some(ours)) = (parse(version), parse(CONTRACT_VERSION)) else {
        return Compatibility::OtherLine;
    };
    if found.0 != ours.0 || found.1 != ours.1 {
        Compatibility::OtherLine
    } else if found.2 > ours.2 {
        Compatibility::Newer
    } else {
        Compatibility::Runs
    }
}

/// `MAJOR.MINOR.PATCH`, nothing more: wasmtime matches a pre-release with no other
/// version, and zato publishes no version with build metadata, so a component built
/// against either is of a line of its own.
fn parse(version: &str) -> Option<(u64, u64, u64)> {
    let mut parts = version.split('.').map(|part| {
        let digits = !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
        digits.then(|| part.parse::<u64>().ok()).flatten()
    });
    let version = (parts.next()??, parts.next()??, parts.next()??);
    parts.next().is_none().then_some(version)
}

/// `handle: func(request: request) -> result<response, error>`.
pub(crate) type HandleFunc<'a> = TypedFunc<(Lowered<'a>,), (Result<Response, ServiceError>,)>;

pub(crate) struct HandleExport {
    index: ComponentExportIndex,
    /// Set once `get_typed_func` has accepted the export on an instance of this component.
    checked: AtomicBool,
}

impl HandleExport {
    /// Finds the export in `component`; `None` if it has none (the generated bindings
    /// refuse such a component first, with their own message). A component built
    /// against an older patch of the contract exports the interface under its own
    /// version, which wasmtime's lookup matches.
    pub(crate) fn find(component: &Component) -> Option<Self> {
        let interface = format!("{INTERFACE}@{CONTRACT_VERSION}");
        let interface = component.get_export_index(None, &interface)?;
        let index = component.get_export_index(Some(&interface), "handle")?;
        Some(Self {
            index,
            checked: AtomicBool::new(false),
        })
    }

    /// The `handle` function of `instance`, an instance of the component this export
    /// was found in.
    pub(crate) fn get<'a>(
        &self,
        mut store: impl AsContextMut,
        instance: &Instance,
    ) -> wasmtime::Result<HandleFunc<'a>> {
        if self.checked.load(Ordering::Acquire) {
            let func = instance
                .get_func(&mut store, self.index)
                .ok_or_else(|| wasmtime::format_err!("the service exports no `handle`"))?;
            // SAFETY: `checked` is set only after `get_typed_func` accepted this export
            // with exactly these types on an instance of the same component (see
            // `Compiled`, which keeps the export with the component it was found in),
            // and the type of a component's export does not change between instances.
            return Ok(unsafe { HandleFunc::new_unchecked(func) });
        }
        let func = instance.get_typed_func(&mut store, self.index)?;
        self.checked.store(true, Ordering::Release);
        Ok(func)
    }
}

#[cfg(test)]
mod tests {
    use wasm_encoder::{ComponentImportSection, ComponentTypeRef, ComponentTypeSection};

    use super::*;

    /// This server's contract, and `zato:service@{major}.{minor}.{patch}` as text.
    fn ours() -> (u64, u64, u64) {
        parse(CONTRACT_VERSION).expect("CONTRACT_VERSION is MAJOR.MINOR.PATCH")
    }

    fn version(major: u64, minor: u64, patch: u64) -> String {
        format!("{major}.{minor}.{patch}")
    }

    #[test]
    fn older_patches_of_the_line_run_newer_ones_and_other_lines_do_not() {
        let (major, minor, patch) = ours();
        for older in 0..=patch {
            assert_eq!(
                compatibility(&version(major, minor, older)),
                Compatibility::Runs
            );
        }
        assert_eq!(
            compatibility(&version(major, minor, patch + 1)),
            Compatibility::Newer
        );
        assert_eq!(
            compatibility(&version(major, minor, patch + 6)),
            Compatibility::Newer
        );
        for other in [
            version(major, minor + 1, 0),
            version(major, minor - 1, patch),
            version(major + 1, minor, patch),
            format!("{CONTRACT_VERSION}-rc.1"),
            format!("{CONTRACT_VERSION}+build"),
            format!("{major}.{minor}"),
            format!("{CONTRACT_VERSION}.0"),
            "0.2.x".to_owned(),
            String::new(),
        ] {
            assert_eq!(compatibility(&other), Compatibility::OtherLine, "{other}");
        }
    }

    /// A component importing `zato:service/log` at `version` (an instance with nothing
    /// in it: the version is all that is looked at before linking).
    fn importing_log(version: &str) -> Component {
        let mut types = ComponentTypeSection::new();
        types.instance(&wasm_encoder::InstanceType::new());
        let mut imports = ComponentImportSection::new();
        imports.import(
            format!("zato:service/log@{version}"),
            ComponentTypeRef::Instance(0),
        );
        let mut component = wasm_encoder::Component::new();
        component.section(&types).section(&imports);
        Component::new(&wasmtime::Engine::default(), component.finish()).unwrap()
    }

    #[test]
    fn a_service_of_an_older_patch_is_accepted() {
        let (major, minor, _) = ours();
        check_contract(&importing_log(&version(major, minor, 0))).unwrap();
        check_contract(&importing_log(CONTRACT_VERSION)).unwrap();
    }

    #[test]
    fn a_service_of_a_newer_patch_is_told_to_upgrade_the_server() {
        let (major, minor, _) = ours();
        let found = version(major, minor, 7);
        let error = check_contract(&importing_log(&found)).unwrap_err();
        assert!(
            matches!(&error, CompileError::NewerContract { found: f, .. } if *f == found),
            "{error:?}"
        );
        assert!(
            error.to_string().ends_with(&format!(
                "built against zato:service@{found}, newer than this server's \
                 {CONTRACT_VERSION}: upgrade the server"
            )),
            "{error}"
        );
    }

    #[test]
    fn a_service_of_another_line_is_told_to_rebuild() {
        let (major, minor, _) = ours();
        for found in [version(major, minor - 1, 0), version(major, minor + 1, 0)] {
            let error = check_contract(&importing_log(&found)).unwrap_err();
            assert!(
                matches!(&error, CompileError::Contract { found: f, .. } if *f == found),
                "{error:?}"
            );
            assert!(error.to_string().contains("rebuild it"), "{error}");
        }
    }
}
