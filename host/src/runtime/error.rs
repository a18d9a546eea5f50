//! Errors of compiling and calling services, and the channel-neutral kind of a failed
//! call ([`ErrorKind`]) that each channel maps in its own terms.

use std::time::Duration;

use thiserror::Error;

use super::ServiceError;

/// Why a component cannot be deployed.
#[derive(Debug, Error)]
pub enum CompileError {
    #[error("not a WebAssembly file (no `\\0asm` header)")]
    NotWasm,
    /// A core module zato cannot wrap into a component (one it can is deployed).
    #[error("a core WebAssembly module that is not a zato service: {0}")]
    CoreModule(String),
    #[error("{size} bytes is over the component size limit of {limit} bytes")]
    TooLarge { size: usize, limit: usize },
    #[error("invalid component: {0}")]
    Invalid(String),
    #[error("component needs imports this server does not provide: {0}")]
    Link(String),
    #[error(
        "the service was built against zato:service@{found}, and this server speaks \
         zato:service@{expected}: rebuild it with the current zato-sdk (or wit/service.wit)"
    )]
    Contract {
        found: String,
        expected: &'static str,
    },
    #[error(
        "the service was built against zato:service@{found}, newer than this server's \
         {expected}: upgrade the server"
    )]
    NewerContract {
        found: String,
        expected: &'static str,
    },
    #[error("component does not export the zato:service/service interface: {0}")]
    NotAService(String),
    #[error("compilation took longer than {0:?}")]
    Timeout(Duration),
}

/// Why a call to a service failed.
#[derive(Debug, Error)]
pub enum CallError {
    #[error("service `{0}` is not deployed")]
    NotDeployed(String),
    #[error("service `{0}` is not loaded yet: the server is starting (retry shortly)")]
    NotLoaded(String),
    #[error("invalid input for service `{service}`: {reason}")]
    InvalidInput { service: String, reason: String },
    #[error("service `{service}` returned an error: {}", describe(error))]
    Service {
        service: String,
        error: ServiceError,
    },
    #[error("service `{service}` trapped: {message}")]
    Trap { service: String, message: String },
    #[error("service `{service}` exceeded its memory limit of {limit} bytes")]
    MemoryLimit { service: String, limit: usize },
    #[error("service `{service}` overflowed its stack (unbounded recursion?)")]
    StackOverflow { service: String },
    #[error("service `{service}` timed out after {after:?}")]
    Timeout { service: String, after: Duration },
    #[error("invoke depth limit exceeded: {chain}")]
    InvokeDepth { chain: String },
    #[error("service `{service}` is busy: the server's instance pool is exhausted")]
    Busy { service: String },
}

/// What kind of failure a call ended in, for every channel to map in its own terms
/// (an HTTP status, a SOAP fault, an AMQP ack, nack or requeue), each in one place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The request is at fault (invalid input, or the service said so): not worth
    /// sending again as it is.
    BadRequest,
    Unauthorized,
    Forbidden,
    /// No such service, or the service found nothing.
    NotFound,
    Conflict,
    /// Worth trying again shortly: the server is starting or busy, or the service asked.
    Retry,
    /// The service did not answer within its deadline.
    Timeout,
    /// A chain of invokes went deeper than allowed (a cycle, most often).
    LoopDetected,
    /// The service failed: a trap, its memory or stack limit, or its own internal error.
    Internal,
}

impl CallError {
    /// What kind of failure this is, for the channel to map.
    pub fn kind(&self) -> ErrorKind {
        match self {
            CallError::NotDeployed(_) => ErrorKind::NotFound,
            CallError::NotLoaded(_) | CallError::Busy { .. } => ErrorKind::Retry,
            CallError::InvalidInput { .. } => ErrorKind::BadRequest,
            CallError::Service { error, .. } => match error {
                ServiceError::BadRequest(_) => ErrorKind::BadRequest,
                ServiceError::Unauthorized(_) => ErrorKind::Unauthorized,
                ServiceError::Forbidden(_) => ErrorKind::Forbidden,
                ServiceError::NotFound(_) => ErrorKind::NotFound,
                ServiceError::Conflict(_) => ErrorKind::Conflict,
                ServiceError::Retry(_) => ErrorKind::Retry,
                ServiceError::Internal(_) => ErrorKind::Internal,
            },
            CallError::Trap { .. }
            | CallError::MemoryLimit { .. }
            | CallError::StackOverflow { .. } => ErrorKind::Internal,
            CallError::Timeout { .. } => ErrorKind::Timeout,
            CallError::InvokeDepth { .. } => ErrorKind::LoopDetected,
        }
    }

    /// A guest-visible error for a failed `invoke`, so the caller can handle it.
    pub fn to_service_error(&self) -> ServiceError {
        match self {
            CallError::NotDeployed(_) => ServiceError::NotFound(self.to_string()),
            CallError::Service { error, .. } => error.clone(),
            CallError::InvalidInput { .. } => ServiceError::BadRequest(self.to_string()),
            CallError::Busy { .. } => ServiceError::Retry(self.to_string()),
            _ => ServiceError::Internal(self.to_string()),
        }
    }
}

fn describe(error: &ServiceError) -> String {
    let (kind, message) = match error {
        ServiceError::BadRequest(m) => ("bad request", m),
        ServiceError::Unauthorized(m) => ("unauthorized", m),
        ServiceError::Forbidden(m) => ("forbidden", m),
        ServiceError::NotFound(m) => ("not found", m),
        ServiceError::Conflict(m) => ("conflict", m),
        ServiceError::Retry(m) => ("retry", m),
        ServiceError::Internal(m) => ("internal", m),
    };
    format!("{kind}: {message}")
}
