//! `zato:service/outgoing-http`: HTTP/REST calls through the named connections an
//! administrator configured (`crate::outconn`).
//!
//! This module checks the guest's arguments (sizes first, before anything is copied
//! or parsed further) and maps [`OutconnError`] to the guest's `outgoing-error`; the
//! path rules, the client and the deadline are `outconn::http`'s. A hostile argument
//! is an error value for the guest, never a trap or a panic.

use std::sync::Arc;
use std::time::Instant;

use wasmtime::component::{HasData, Linker};

use crate::outconn::http::{HttpRequest as OutRequest, MAX_RESPONSE_BODY};
use crate::outconn::{OutconnError, Outconns};
use crate::wit::zato::service::outgoing_http::{
    self, Host, HttpRequest, HttpResponse, OutgoingError,
};

/// Longest connection name accepted: a longer one cannot be configured.
pub const MAX_NAME_BYTES: usize = crate::api::MAX_SERVICE_NAME;
/// Longest path (with its query) accepted.
pub const MAX_PATH_BYTES: usize = 8 * 1024;
/// Most headers a request may carry.
pub const MAX_HEADERS: usize = 100;
/// Longest header name or value accepted.
pub const MAX_HEADER_BYTES: usize = 8 * 1024;
/// Largest request body accepted.
pub const MAX_BODY_BYTES: usize = MAX_RESPONSE_BODY;

/// What the `outgoing-http` import reaches of a call: the server's connections and the
/// deadline of the request being handled.
pub struct OutgoingHttpView {
    /// `None` only while the server shuts down.
    pub outconns: Option<Arc<Outconns>>,
    pub deadline: Instant,
}

struct OutgoingHttp;

impl HasData for OutgoingHttp {
    type Data<'a> = OutgoingHttpView;
}

/// Links `outgoing-http`, building each call's [`OutgoingHttpView`] with `get`.
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> OutgoingHttpView,
) -> wasmtime::Result<()> {
    outgoing_http::add_to_linker::<T, OutgoingHttp>(linker, get)
}

/// Checks a connection name's size, shared with `outgoing-soap`.
pub(crate) fn check_name(connection: &str) -> Result<(), String> {
    if connection.is_empty() || connection.len() > MAX_NAME_BYTES {
        return Err(format!(
            "invalid connection name ({} bytes): must be 1 to {MAX_NAME_BYTES} bytes",
            connection.len()
        ));
    }
    Ok(())
}

fn check(request: &HttpRequest) -> Result<(), String> {
    if request.method.len() > 16 {
        return Err(format!("method of {} bytes refused", request.method.len()));
    }
    if request.path.len() > MAX_PATH_BYTES {
        return Err(format!(
            "path of {} bytes refused: at most {MAX_PATH_BYTES}",
            request.path.len()
        ));
    }
    if request.headers.len() > MAX_HEADERS {
        return Err(format!(
            "{} headers refused: at most {MAX_HEADERS}",
            request.headers.len()
        ));
    }
    if let Some((name, value)) = request
        .headers
        .iter()
        .find(|(name, value)| name.len() > MAX_HEADER_BYTES || value.len() > MAX_HEADER_BYTES)
    {
        return Err(format!(
            "header of {} + {} bytes refused: a name or value is at most {MAX_HEADER_BYTES}",
            name.len(),
            value.len()
        ));
    }
    if request.body.len() > MAX_BODY_BYTES {
        return Err(format!(
            "body of {} bytes refused: at most {MAX_BODY_BYTES}",
            request.body.len()
        ));
    }
    Ok(())
}

impl From<OutconnError> for OutgoingError {
    fn from(err: OutconnError) -> Self {
        let message = err.to_string();
        match err {
            OutconnError::NotFound(..) => Self::NotFound(message),
            OutconnError::Inactive(..) => Self::Inactive(message),
            OutconnError::Misconfigured(..) => Self::Misconfigured(message),
            OutconnError::BadRequest(_) => Self::BadRequest(message),
            OutconnError::Timeout(_) => Self::Timeout(message),
            OutconnError::Remote(_) => Self::Remote(message),
        }
    }
}

/// The connections, or the error a call gets while the server shuts down.
pub(crate) fn outconns(view: &Option<Arc<Outconns>>) -> Result<&Arc<Outconns>, OutconnError> {
    view.as_ref()
        .ok_or_else(|| OutconnError::Remote("the server is shutting down".into()))
}

impl Host for OutgoingHttpView {
    async fn send(
        &mut self,
        connection: String,
        request: HttpRequest,
    ) -> wasmtime::Result<Result<HttpResponse, OutgoingError>> {
        if let Err(why) = check_name(&connection).and_then(|()| check(&request)) {
            return Ok(Err(OutgoingError::BadRequest(why)));
        }
        let conn = match outconns(&self.outconns).and_then(|o| o.http(&connection)) {
            Ok(conn) => conn,
            Err(err) => return Ok(Err(err.into())),
        };
        let sent = conn
            .send(
                OutRequest {
                    method: request.method,
                    path: request.path,
                    headers: request.headers,
                    body: request.body,
                },
                self.deadline,
            )
            .await;
        Ok(match sent {
            Ok(answer) => Ok(HttpResponse {
                status: answer.status,
                headers: answer.headers,
                body: answer.body,
            }),
            Err(err) => {
                tracing::debug!(connection, error = %err, "outgoing HTTP call failed");
                Err(err.into())
            }
        })
    }
}
