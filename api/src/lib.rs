//! The zato admin API as its clients see it: the JSON types of every route under
//! `/zato/api/`, the one rule for service names, and [`AdminClient`], a typed client.
//!
//! The server (`zato-host`) builds its answers from these types and the CLI, the
//! end-to-end tests and the bench read them with [`AdminClient`], so there is one copy of
//! each wire type and one client. The crate is kept free of the server's heavy
//! dependencies (wasmtime, sqlx): a client builds it in seconds.
//!
//! - [`services`]: deployed services, deploys, deletes, payload formats.
//! - [`async_invoke`]: asynchronous invokes and their outcomes.
//! - [`channels`]: HTTP channels.
//! - [`servers`]: the server answering, and the servers of its cluster.
//! - [`scheduler`]: scheduler jobs, calendars, runs, and the singleton.
//! - [`outconn`]: outgoing connections (HTTP, SOAP, SQL, FTP) services reach systems by.
//! - [`soap`]: SOAP channels.
//! - [`messaging`]: AMQP and ZeroMQ channels and connection settings.
//! - [`dictionary`]: data dictionaries (entries and translations), their CSV and JSON
//!   forms.
//! - [`rate_limit`]: rate limits and IP allow lists.
//! - [`stats`]: usage statistics of services.
//! - [`users`]: admin API users.
//! - [`errors`]: the JSON body of every error answer.
//! - [`lb`]: the load balancer's statistics (`/zato-lb-stats`).
//! - [`names`]: what a service name may be.
//! - [`client`]: [`AdminClient`] and its [`ClientError`].
//! - [`enmasse`]: every definition of an environment as one document (`zato enmasse`):
//!   export, a checked plan, and its import.
//! - `serve` (feature `serve`): the accept loop of the server's HTTP channels and of
//!   the load balancer (connection cap, idle timer, graceful stop).
//! - `tls` (feature `serve`): TLS on those listeners and the web admin's, certificates
//!   reloaded when their files change; clients that trust an environment's CA.
//!
//! ```no_run
//! # async fn example() -> Result<(), zato_api::ClientError> {
//! let client = zato_api::AdminClient::new("http://127.0.0.1:17010", "admin", "secret");
//! for service in client.services().await? {
//!     println!("{} version {}", service.name, service.version);
//! }
//! # Ok(())
//! # }
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod async_invoke;
pub mod channels;
pub mod client;
pub mod dictionary;
pub mod enmasse;
pub mod errors;
pub mod lb;
pub mod messaging;
pub mod names;
pub mod outconn;
pub mod rate_limit;
pub mod scheduler;
pub mod security;
#[cfg(feature = "serve")]
pub mod serve;
pub mod servers;
pub mod services;
pub mod soap;
pub mod stats;
#[cfg(feature = "serve")]
pub mod tls;
pub mod users;

pub use async_invoke::{AsyncOutcome, AsyncQueued, AsyncState};
pub use channels::{DeletedHttpChannel, HttpChannel, MAX_TIMEOUT_MS};
pub use client::{AdminClient, Answer, Body, ClientError, segment};
pub use dictionary::{
    DictDeleted, DictEntry, DictExport, DictFormat, DictImport, DictImported, DictTranslated,
    DictTranslation, Dictionary,
};
pub use errors::ErrorBody;
pub use messaging::{
    AmqpChannelSettings, DeletedMsgChannel, MsgChannel, MsgChannelInfo, MsgChannelSettings,
    MsgChannelType, ZmqChannelSettings, ZmqChannelSocket,
};
pub use names::{MAX_SERVICE_NAME, NameError, check_service_name};
pub use outconn::{
    AmqpSettings, DeletedOutconn, FtpSettings, Header, HttpAuth, HttpSettings, Outconn,
    OutconnInfo, OutconnPing, OutconnSettings, OutconnType, SoapSettings, SoapVersion, SqlSettings,
    ZmqOutSocket, ZmqSettings,
};
pub use scheduler::{
    AfterLast, Calendar, Job, JobInfo, MAX_PREVIEW, MissedPolicy, Preview, Run, RunOutcome,
    RunQueued, RunTrigger, Schedule, SingletonInfo,
};
pub use security::{
    ApikeySettings, BasicAuthSettings, ClientCertSettings, DeletedSecurityDef, JwtAlgorithm,
    JwtLogIn, JwtSettings, JwtToken, SecretChange, SecurityDef, SecurityDefInfo, SecuritySettings,
    SecurityType,
};
pub use servers::{ServerInfo, ServerState, ServerStatus};

/// Installs rustls's ring provider as the process's default, once. In a workspace build
/// reqwest has rustls without a provider and panics when it builds a client without
/// one; whoever installs first wins, and every part of zato installs this same one.
/// [`AdminClient::new`] calls it; code that builds its own `reqwest::Client` calls it
/// first.
pub fn install_crypto_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    // rustls deprecates ring's provider for lacking post-quantum key exchange; the
    // project builds on ring only (aws-lc-rs needs cmake and takes long to build here).
    #[allow(deprecated)]
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}
pub use services::{
    DataFormat, DeleteOutcome, DeployOutcome, Field, FieldType, Rollback, ServiceDetails,
    ServiceInfo, ServiceSummary, ServiceVersion,
};
pub use soap::{DeletedSoapChannel, SoapChannel};
pub use stats::{
    CallSample, ServiceStats, StatsOrder, StatsPoint, StatsRange, StatsSeries, StatsTop,
};
