//! Host-side bindings generated from `wit/service.wit`.
//!
//! Imports are async and trappable: a host import returns `wasmtime::Result<T>` where
//! the outer error traps the guest and a WIT `result` inside it is an error the guest
//! handles.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "zato-service",
    imports: { default: async | trappable },
    exports: { default: async },
});

pub use exports::zato::service::service::{Error, Request, Response, ServiceInfo};
pub use zato::service::types::{Channel, ChannelKind, DataFormat, Field, FieldType, HttpRequest};
