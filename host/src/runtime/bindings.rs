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

// The request is lowered from borrowed data instead: see `request.rs`.
pub use exports::zato::service::service::{Error, Response, ServiceInfo};
pub use zato::service::types::{ChannelKind, DataFormat, Field, FieldType};
