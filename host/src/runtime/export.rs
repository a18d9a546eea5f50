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

use super::bindings::{Error as ServiceError, Response};
use super::request::Lowered;

/// The version of the `zato:service` package in `wit/service.wit`.
pub(crate) const CONTRACT_VERSION: &str = "0.2.0";
/// The WIT interface a service exports, as named in `wit/service.wit`, without its
/// version.
const INTERFACE: &str = "zato:service/service";

/// The version of the `zato:service` contract `component` was built against, when it
/// is not this server's: such a component cannot link, and the reason to give is that
/// it must be rebuilt, not which import is missing.
pub(crate) fn other_contract(component: &Component) -> Option<String> {
    let engine = component.engine();
    let ty = component.component_type();
    let imports = ty.imports(engine).map(|(name, _)| name);
    let exports = ty.exports(engine).map(|(name, _)| name);
    imports.chain(exports).find_map(|name| {
        let (_, version) = name.strip_prefix("zato:service/")?.split_once('@')?;
        (version != CONTRACT_VERSION).then(|| version.to_owned())
    })
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
    /// refuse such a component first, with their own message).
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
