//! Host-side bindings generated from `wit/service.wit`.
//!
//! Imports are trappable: a host import returns `wasmtime::Result<T>` where the outer
//! error traps the guest and a WIT `result` inside it is an error the guest handles.
//! They are async, except `request`'s and `dictionary`'s, which only read what the
//! store or the server holds in memory and so skip the cost of a future per call.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "zato-service",
    imports: {
        "zato:service/request": trappable,
        "zato:service/dictionary": trappable,
        default: async | trappable,
    },
    exports: { default: async },
});

// The request record is lowered from borrowed data instead: see `request.rs`.
pub use exports::zato::service::service::{Error, Response, ServiceInfo};
pub use zato::service::types::{ChannelKind, DataFormat, Field, FieldType};
