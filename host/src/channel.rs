//! Channels: how requests reach services.
//!
//! Every channel kind (HTTP, the admin API's invoke, and SOAP, AMQP, ZeroMQ and the
//! scheduler next) calls a service through [`call_service`], which gives the call its
//! deadline and logs its failure alike for all of them, and maps the failure's
//! channel-neutral [`ErrorKind`] in one place of its own (HTTP: `http_response::status_of`).
//!
//! Adding a channel kind: a module here (its listener or consumer, its configuration as
//! a reloadable kind, its [`RequestDetails`] with the `detail` keys the WIT documents for
//! it), and one line in `server.rs` that starts it. The contract's `channel-kind` already
//! names http, invoke, admin, scheduler, amqp, zeromq and soap: an enum cannot grow in a
//! patch version without breaking the services built against the one before, so a kind
//! beyond those would wait for the contract's next line.
//!
//! [`ErrorKind`]: crate::runtime::ErrorKind
//! [`RequestDetails`]: crate::runtime::RequestDetails

pub mod amqp;
pub mod http;
pub mod soap;
pub mod zmq;

use std::sync::Arc;
use std::time::Duration;

use crate::api::DataFormat;
use crate::runtime::{
    self, CallContext, CallError, ChannelKind, ErrorKind, RequestDetails, Response, Runtime,
};
use crate::stats;

/// One request for a service, as a channel received it.
pub struct Inbound<'a> {
    /// Correlation id ([`new_cid`]), unique per incoming request.
    pub cid: &'a str,
    pub service: &'a str,
    pub channel: ChannelKind,
    pub payload: &'a [u8],
    pub data_format: DataFormat,
    /// What the service may read of the request beyond its payload.
    pub details: Box<dyn RequestDetails>,
    /// The channel's own timeout; `None`: the server's default.
    pub timeout: Option<Duration>,
}

/// Calls a service for a channel: within the channel's timeout (or the server's
/// default), with its input validated against the service's declared fields (by the
/// runtime, so that an `invoke` gets the same check), and its failure logged.
pub async fn call_service(
    runtime: &Arc<Runtime>,
    inbound: Inbound<'_>,
) -> Result<Response, CallError> {
    let timeout = inbound
        .timeout
        .unwrap_or_else(|| runtime.settings().default_timeout());
    // What the statistics need of the request, taken before the runtime owns it.
    let recorder = runtime.stats();
    let policy = recorder.map(|_| runtime.stats_policy(inbound.service));
    let payloads = recorder
        .zip(policy)
        .is_some_and(|(recorder, (_, policy))| recorder.wants_exchange(policy));
    let channel_name = match recorder {
        Some(_) => inbound.details.channel_name().to_owned(),
        None => String::new(),
    };
    // Only the sample keeps headers, and they go with the details: captured now.
    let request_headers = recorder
        .zip(policy)
        .filter(|(recorder, (_, policy))| recorder.wants_sample(inbound.service, *policy))
        .map(|_| stats::Headers::capture(inbound.details.headers()));
    let request = runtime::Request {
        cid: inbound.cid,
        channel: inbound.channel,
        payload: inbound.payload,
        data_format: to_wit_format(inbound.data_format),
        details: inbound.details,
    };
    let metrics = runtime.metrics();
    let running = metrics.call_started();
    let started = std::time::Instant::now();
    let result = runtime
        .call(inbound.service, request, CallContext::new(timeout))
        .await;
    let duration = started.elapsed();
    let status = status_of(&result);
    // A name no service goes by gets no series or key of its own: one per name tried
    // would grow without bound.
    let known = !matches!(
        result,
        Err(CallError::NotLoaded(_) | CallError::NotDeployed(_))
    );
    metrics.call_ended(
        if known {
            inbound.service
        } else {
            crate::metrics::NOT_DEPLOYED
        },
        crate::runtime::channel_label(inbound.channel),
        status,
        duration,
    );
    drop(running);
    if let (Some(recorder), Some((threshold_ms, policy))) = (recorder, policy)
        && known
    {
        let call = stats::Call {
            service: inbound.service,
            cid: inbound.cid,
            channel: crate::runtime::channel_label(inbound.channel),
            channel_name: &channel_name,
            duration,
            outcome: match &result {
                Ok(_) => stats::Outcome::Ok,
                Err(e) if e.kind() == ErrorKind::Timeout => stats::Outcome::Timeout,
                Err(_) => stats::Outcome::Error,
            },
            status,
            threshold_ms,
            policy,
        };
        let exchange = payloads.then(|| stats::Exchange {
            request: inbound.payload,
            request_headers,
            response: result.as_ref().map_or(&[][..], |r| &r.payload[..]),
            response_headers: result.as_ref().map_or(&[][..], |r| &r.headers[..]),
            error: result.as_ref().err().map(ToString::to_string),
        });
        recorder.record(&call, exchange);
    }
    if let Err(error) = &result {
        let cid = inbound.cid;
        match error.kind() {
            // A starting server answers this way on purpose, and the caller is told.
            _ if matches!(error, CallError::NotLoaded(_)) => tracing::debug!(cid, "{error}"),
            ErrorKind::Retry
            | ErrorKind::Timeout
            | ErrorKind::LoopDetected
            | ErrorKind::Internal => {
                tracing::error!(cid, "{error}")
            }
            _ => tracing::debug!(cid, "{error}"),
        }
    }
    result
}

/// Logs why a channel refused a caller (never the secret: a [`Refusal`]'s reason holds
/// none).
///
/// [`Refusal`]: crate::security::Refusal
pub fn log_refusal(cid: &str, channel: &str, security: &str, refusal: &crate::security::Refusal) {
    tracing::info!(
        cid,
        channel,
        security,
        status = refusal.status.as_u16(),
        "caller refused: {}",
        refusal.reason
    );
}

/// Logs a request that a rate limit or an allow list refused.
pub fn log_limited(cid: &str, channel: &str, limited: &crate::rate_limit::Limited) {
    tracing::info!(
        cid,
        channel,
        rate_limit = %limited.definition,
        status = limited.status.as_u16(),
        "caller refused: {}",
        limited.reason
    );
}

/// `status` of a call's outcome, as the channel answered it.
fn status_of(result: &Result<crate::runtime::Response, crate::runtime::CallError>) -> u16 {
    match result {
        Ok(response) => response.status,
        Err(e) => crate::http_response::status_of(e.kind()).as_u16(),
    }
}

/// A channel's data format as the WIT contract names it.
pub fn to_wit_format(format: DataFormat) -> runtime::DataFormat {
    match format {
        DataFormat::Json => runtime::DataFormat::Json,
        DataFormat::Xml => runtime::DataFormat::Xml,
        DataFormat::Raw => runtime::DataFormat::Raw,
    }
}

/// A new correlation id: 32 hex characters (128 random bits), unique per incoming
/// request. From the thread's CSPRNG, which the OS seeds, rather than a uuid v4, which
/// would ask the kernel on every request; written into a byte array and allocated once,
/// since this runs on every request.
pub fn new_cid() -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bits = rand::random::<u128>();
    let mut digits = [0u8; 32];
    for (i, digit) in digits.iter_mut().enumerate() {
        *digit = HEX[((bits >> (124 - 4 * i)) & 0xf) as usize];
    }
    String::from_utf8(digits.to_vec()).expect("hex digits are ASCII")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cid_is_32_lowercase_hex_digits_of_fresh_randomness() {
        let cids: Vec<String> = (0..64).map(|_| new_cid()).collect();
        for cid in &cids {
            assert_eq!(cid.len(), 32, "{cid}");
            assert!(
                cid.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')),
                "{cid}"
            );
        }
        let distinct: std::collections::HashSet<_> = cids.iter().collect();
        assert_eq!(distinct.len(), cids.len());
        // Every digit position is used: the value is not truncated or shifted.
        assert!((0..32).all(|i| cids.iter().any(|c| c.as_bytes()[i] != b'0')));
    }
}
