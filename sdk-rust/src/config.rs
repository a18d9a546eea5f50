//! The service's configuration: key/value pairs kept in the ODB and editable while the
//! server runs, so read them per request rather than caching them.
//!
//! ```
//! use zato_sdk::config;
//!
//! let greeting = config::get_or("greeting", "Hello");
//! # assert_eq!(greeting, "Hello");
//! ```
//!
//! Outside a zato host (in a native unit test) the configuration is what the test set
//! with [`testing::set_config`](crate::testing::set_config): nothing unless it did.

/// The value of `key`, if it is set.
pub fn get(key: &str) -> Option<String> {
    #[cfg(target_arch = "wasm32")]
    return crate::import(|| crate::bindings::zato::service::config::get(key));

    #[cfg(not(target_arch = "wasm32"))]
    crate::testing::config(key)
}

/// The value of `key`, or `default` if it is not set.
pub fn get_or(key: &str, default: &str) -> String {
    get(key).unwrap_or_else(|| default.to_owned())
}

/// Every key/value pair of the service's configuration.
pub fn get_all() -> Vec<(String, String)> {
    #[cfg(target_arch = "wasm32")]
    return crate::import(crate::bindings::zato::service::config::get_all);

    #[cfg(not(target_arch = "wasm32"))]
    crate::testing::config_all()
}
