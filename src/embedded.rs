//! The server embedded in the CLI: the one module of `zato` that depends on `zato-host`.
//!
//! `zato start` runs a server in this process, and `zato quickstart` (with the
//! development environment of `zato start`) writes server configurations and password
//! hashes the server reads. Every other command is a client of the admin API through
//! `zato-api` alone (but `apispec`, which prints the admin API's description the server's
//! code generates), so what the CLI needs of the server stays visible in this list.

/// A running server (`zato start`).
pub use zato_host::Server;
/// The argon2id hash of an admin password, as the server's configuration holds it.
pub use zato_host::admin::hash_password;
/// The admin API's OpenAPI description (`zato apispec`), generated from the server's code.
pub use zato_host::admin::openapi_json;
/// A server's configuration file (`server.toml`) and its default port.
pub use zato_host::config::{
    AdminConfig, DEFAULT_PORT, DeploySettings, HttpSettings, ServerConfig, TlsSettings,
};
