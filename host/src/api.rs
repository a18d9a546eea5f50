//! Types of the admin API: they live in `zato-api`, which clients (the CLI, the tests,
//! the bench) use without the server; the server's modules name them from here.

pub use zato_api::async_invoke::{AsyncOutcome, AsyncQueued, AsyncState};
pub use zato_api::dictionary::{
    self, DictDeleted, DictEntry, DictExport, DictFormat, DictImport, DictImported, DictTranslated,
    DictTranslation, Dictionary,
};
pub use zato_api::messaging::{
    self, AmqpChannelSettings, AmqpSettings, DeletedMsgChannel, MsgChannel, MsgChannelInfo,
    MsgChannelSettings, MsgChannelType, ZmqChannelSettings, ZmqChannelSocket, ZmqOutSocket,
    ZmqSettings,
};
pub use zato_api::outconn::{
    self, DeletedOutconn, FtpSettings, Header, HttpAuth, HttpSettings, Outconn, OutconnInfo,
    OutconnPing, OutconnSettings, OutconnType, SoapSettings, SoapVersion, SqlSettings,
};
pub use zato_api::rate_limit;
pub use zato_api::scheduler::{
    self, AfterLast, Calendar, Job, JobInfo, MAX_PREVIEW, MissedPolicy, Preview, Run, RunOutcome,
    RunQueued, RunTrigger, Schedule, SingletonInfo,
};
pub use zato_api::security::{
    self, ApikeySettings, BasicAuthSettings, ClientCertSettings, DeletedSecurityDef, JwtAlgorithm,
    JwtLogIn, JwtSettings, JwtToken, MAX_JWT_TTL_S, SecretChange, SecurityDef, SecurityDefInfo,
    SecuritySettings, SecurityType,
};
pub use zato_api::soap::{DeletedSoapChannel, SoapChannel};
pub use zato_api::stats::{
    self, CallSample, ServiceStats, StatsOrder, StatsPoint, StatsRange, StatsSeries, StatsTop,
};
pub use zato_api::users;
pub use zato_api::{
    DataFormat, DeleteOutcome, DeletedHttpChannel, DeployOutcome, ErrorBody, Field, FieldType,
    HttpChannel, MAX_SERVICE_NAME, MAX_TIMEOUT_MS, Rollback, ServerInfo, ServerState, ServerStatus,
    ServiceDetails, ServiceInfo, ServiceSummary, ServiceVersion, check_service_name,
};
