//! `zato:service/outgoing-soap`: SOAP calls through the named connections an
//! administrator configured (`crate::outconn::soap` wraps, sends and unwraps).
//!
//! This module checks the guest's arguments' sizes and maps the outcome to the guest's
//! `soap-error`, a SOAP Fault included. A hostile argument is an error value for the
//! guest, never a trap or a panic.

use std::sync::Arc;
use std::time::Instant;

use wasmtime::component::{HasData, Linker};

use super::outgoing_http::{check_name, outconns};
use crate::outconn::soap::{MAX_ACTION, MAX_BODY_XML, SoapCallError};
use crate::outconn::{OutconnError, Outconns};
use crate::wit::zato::service::outgoing_soap::{self, Host, SoapError, SoapFault};

/// What the `outgoing-soap` import reaches of a call: the server's connections and the
/// deadline of the request being handled.
pub struct OutgoingSoapView {
    /// `None` only while the server shuts down.
    pub outconns: Option<Arc<Outconns>>,
    pub deadline: Instant,
}

struct OutgoingSoap;

impl HasData for OutgoingSoap {
    type Data<'a> = OutgoingSoapView;
}

/// Links `outgoing-soap`, building each call's [`OutgoingSoapView`] with `get`.
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> OutgoingSoapView,
) -> wasmtime::Result<()> {
    outgoing_soap::add_to_linker::<T, OutgoingSoap>(linker, get)
}

impl From<OutconnError> for SoapError {
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

impl Host for OutgoingSoapView {
    async fn call(
        &mut self,
        connection: String,
        action: String,
        body: String,
    ) -> wasmtime::Result<Result<String, SoapError>> {
        let sizes = check_name(&connection).and_then(|()| {
            if action.len() > MAX_ACTION {
                Err(format!(
                    "SOAPAction of {} bytes refused: at most {MAX_ACTION}",
                    action.len()
                ))
            } else if body.len() > MAX_BODY_XML {
                Err(format!(
                    "body of {} bytes refused: at most {MAX_BODY_XML}",
                    body.len()
                ))
            } else {
                Ok(())
            }
        });
        if let Err(why) = sizes {
            return Ok(Err(SoapError::BadRequest(why)));
        }
        let conn = match outconns(&self.outconns).and_then(|o| o.soap(&connection)) {
            Ok(conn) => conn,
            Err(err) => return Ok(Err(err.into())),
        };
        Ok(match conn.call(&action, &body, self.deadline).await {
            Ok(xml) => Ok(xml),
            Err(SoapCallError::Fault(fault)) => Err(SoapError::Fault(SoapFault {
                code: fault.code,
                reason: fault.reason,
                detail: fault.detail,
            })),
            Err(SoapCallError::Call(err)) => {
                tracing::debug!(connection, error = %err, "outgoing SOAP call failed");
                Err(err.into())
            }
        })
    }
}
