//! `zato:service/invoke-async`: calls queued on the cluster's reliable work queue
//! ([`QUEUE`]) and run by any server's worker (the top-level `invoke_async` module), at
//! least once.
//!
//! This module holds what both ends of the queue share: the queued call
//! ([`AsyncCall`]) and its encoding, the checks a call passes before it is queued
//! ([`check`]), and [`AsyncQueue`], which queues calls and keeps their outcomes in the
//! KVDB. The admin API queues through the same [`AsyncQueue::submit`].
//!
//! A hostile argument is an error value for the guest, never a trap or a panic.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use thiserror::Error;
use wasmtime::component::{HasData, Linker};

use crate::api::{AsyncOutcome, AsyncState, DataFormat, check_service_name};
use crate::kvdb::{Kvdb, KvdbError, KvdbResult};
use crate::odb::now_ms;
use crate::wit::zato::service::invoke_async::{self, AsyncError, Host};
use crate::wit::zato::service::types::DataFormat as WitDataFormat;

/// The work queue of asynchronous calls.
pub const QUEUE: &str = "invoke.async";
/// Largest payload of a queued call.
pub const MAX_PAYLOAD_BYTES: usize = 16 * 1024 * 1024;
/// The KVDB key of a call's outcome, after its cid.
const OUTCOME_KEY: &str = "async.outcome.";
/// Longest cid looked up: a longer one was never handed out.
const MAX_CID_BYTES: usize = 64;

/// Why a call was not queued.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum SubmitError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unavailable(String),
}

impl From<SubmitError> for AsyncError {
    fn from(err: SubmitError) -> Self {
        match err {
            SubmitError::NotFound(m) => Self::NotFound(m),
            SubmitError::BadRequest(m) => Self::BadRequest(m),
            SubmitError::Unavailable(m) => Self::Unavailable(m),
        }
    }
}

/// One call on the queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AsyncCall {
    pub cid: String,
    pub service: String,
    pub data_format: DataFormat,
    /// The service told of the outcome.
    pub callback: Option<String>,
    /// The service that queued the call; `None` from the admin API.
    pub caller: Option<String>,
    /// In ms since the Unix epoch.
    pub queued_at: i64,
    /// The W3C `traceparent` of the producer span that queued it, when traces are
    /// exported: the call's span joins the caller's trace on whichever server runs it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traceparent: Option<String>,
    /// The W3C `tracestate` that goes with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracestate: Option<String>,
    /// Kept out of the JSON header: it may be 16 MiB of bytes.
    #[serde(skip)]
    pub payload: Vec<u8>,
}

impl AsyncCall {
    /// A new call with a new cid, queued now.
    pub fn new(
        service: String,
        payload: Vec<u8>,
        data_format: DataFormat,
        callback: Option<String>,
        caller: Option<String>,
    ) -> Self {
        Self {
            cid: new_cid(),
            service,
            data_format,
            callback,
            caller,
            queued_at: now_ms(),
            traceparent: None,
            tracestate: None,
            payload,
        }
    }

    /// Queues it as a message of the current trace, if traces are exported: `submit`
    /// runs inside a producer span, whose context the call carries.
    pub async fn submit_traced(&mut self, queue: &AsyncQueue) -> Result<(), SubmitError> {
        use tracing::Instrument as _;
        let Some((span, headers)) = crate::telemetry::producer_span(&self.service) else {
            return queue.submit(self).await;
        };
        for (name, value) in headers {
            match name {
                "traceparent" => self.traceparent = Some(value),
                "tracestate" => self.tracestate = Some(value),
                _ => {}
            }
        }
        let result = queue.submit(self).instrument(span.clone()).await;
        match &result {
            Ok(()) => crate::telemetry::record_outcome(&span, None),
            Err(e) => {
                crate::telemetry::record_outcome(&span, Some((e, &format_args!("Unavailable"))))
            }
        }
        result
    }

    /// The queue item: the header's length (4 bytes, big-endian), the header as JSON,
    /// then the payload as it is (no base64 on the way through the KVDB).
    pub fn encode(&self) -> Vec<u8> {
        let header = serde_json::to_vec(self).expect("a queued call serialises");
        let mut item = Vec::with_capacity(4 + header.len() + self.payload.len());
        item.extend_from_slice(&(header.len() as u32).to_be_bytes());
        item.extend_from_slice(&header);
        item.extend_from_slice(&self.payload);
        item
    }

    /// Reads back what [`AsyncCall::encode`] wrote.
    pub fn decode(item: &[u8]) -> Result<Self, String> {
        let (length, rest) = item
            .split_first_chunk::<4>()
            .ok_or_else(|| format!("a queued call of {} bytes is too short", item.len()))?;
        let length = u32::from_be_bytes(*length) as usize;
        if length > rest.len() {
            return Err(format!(
                "a queued call's header says {length} bytes, {} follow",
                rest.len()
            ));
        }
        let (header, payload) = rest.split_at(length);
        let mut call: Self = serde_json::from_slice(header)
            .map_err(|e| format!("a queued call's header does not parse: {e}"))?;
        call.payload = payload.to_vec();
        Ok(call)
    }

    /// Its outcome as a new call: queued, not taken yet.
    pub fn pending(&self) -> AsyncOutcome {
        AsyncOutcome {
            cid: self.cid.clone(),
            service: self.service.clone(),
            state: AsyncState::Pending,
            caller: self.caller.clone(),
            callback: self.callback.clone(),
            server: None,
            deliveries: 0,
            status: None,
            error: None,
            queued_at: self.queued_at,
            updated_at: self.queued_at,
        }
    }
}

/// A new cid, as `channel::new_cid` makes them: 32 hex digits of fresh randomness.
fn new_cid() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// The checks a call passes before it is queued, whoever queues it: the service's and
/// the callback's names, the payload's size.
pub fn check(service: &str, payload: &[u8], callback: Option<&str>) -> Result<(), SubmitError> {
    let name = |what: &str, name: &str| {
        check_service_name(name).map_err(|e| {
            let shown = if name.len() <= crate::api::MAX_SERVICE_NAME {
                format!("`{name}`")
            } else {
                format!("of {} bytes", name.len())
            };
            SubmitError::BadRequest(format!("invalid {what} name {shown}: {e}"))
        })
    };
    name("service", service)?;
    if let Some(callback) = callback {
        name("callback service", callback)?;
    }
    if payload.len() > MAX_PAYLOAD_BYTES {
        return Err(SubmitError::BadRequest(format!(
            "a payload of {} bytes is over the limit of {MAX_PAYLOAD_BYTES} bytes",
            payload.len()
        )));
    }
    Ok(())
}

/// Queues calls on the cluster's KVDB and keeps their outcomes there.
pub struct AsyncQueue {
    kvdb: Arc<dyn Kvdb>,
    /// How long an outcome is kept.
    keep: Duration,
}

impl AsyncQueue {
    pub fn new(kvdb: Arc<dyn Kvdb>, keep: Duration) -> Self {
        Self { kvdb, keep }
    }

    pub fn kvdb(&self) -> &Arc<dyn Kvdb> {
        &self.kvdb
    }

    /// Records the call as pending, then queues it: a worker that takes it at once
    /// finds its record already there.
    pub async fn submit(&self, call: &AsyncCall) -> Result<(), SubmitError> {
        let unavailable = |e: KvdbError| {
            SubmitError::Unavailable(format!("cannot queue the call of `{}`: {e}", call.service))
        };
        self.record(&call.pending()).await.map_err(unavailable)?;
        self.kvdb
            .enqueue(QUEUE, &call.encode())
            .await
            .map_err(unavailable)
    }

    /// Where the call `cid` stands, if its outcome is still kept.
    pub async fn outcome(&self, cid: &str) -> KvdbResult<Option<AsyncOutcome>> {
        if cid.is_empty() || cid.len() > MAX_CID_BYTES {
            return Ok(None);
        }
        let Some(bytes) = self.kvdb.get(&format!("{OUTCOME_KEY}{cid}")).await? else {
            return Ok(None);
        };
        Ok(serde_json::from_slice(&bytes).ok())
    }

    /// Replaces the call's outcome, kept for the configured time from now.
    pub async fn record(&self, outcome: &AsyncOutcome) -> KvdbResult<()> {
        let bytes = serde_json::to_vec(outcome).expect("an outcome serialises");
        self.kvdb
            .set(
                &format!("{OUTCOME_KEY}{}", outcome.cid),
                &bytes,
                Some(self.keep),
            )
            .await
    }
}

/// What `invoke-async` needs of the server: its services and its queue. The runtime
/// implements it.
pub trait AsyncHost: Send + Sync {
    /// Whether `service` is deployed here (or being loaded).
    fn knows(&self, service: &str) -> bool;
    /// The queue; `None` on a runtime without one (outside a server).
    fn async_queue(&self) -> Option<&Arc<AsyncQueue>>;
}

/// What the `invoke-async` import reaches of a call.
pub struct InvokeAsyncView {
    /// `None` only while the server shuts down.
    pub host: Option<Arc<dyn AsyncHost>>,
    /// The service making the call.
    pub caller: Arc<str>,
}

struct InvokeAsync;

impl HasData for InvokeAsync {
    type Data<'a> = InvokeAsyncView;
}

/// Links `invoke-async`, building each call's [`InvokeAsyncView`] with `get`.
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> InvokeAsyncView,
) -> wasmtime::Result<()> {
    invoke_async::add_to_linker::<T, InvokeAsync>(linker, get)
}

impl InvokeAsyncView {
    async fn queue(
        &self,
        service: String,
        payload: Vec<u8>,
        data_format: WitDataFormat,
        callback: Option<String>,
    ) -> Result<String, SubmitError> {
        check(&service, &payload, callback.as_deref())?;
        let Some(host) = self.host.as_ref() else {
            return Err(SubmitError::Unavailable(
                "the server is shutting down".into(),
            ));
        };
        for name in std::iter::once(&service).chain(&callback) {
            if !host.knows(name) {
                return Err(SubmitError::NotFound(format!(
                    "service `{name}` is not deployed"
                )));
            }
        }
        let Some(queue) = host.async_queue() else {
            return Err(SubmitError::Unavailable(
                "this server has no work queue for asynchronous invokes".into(),
            ));
        };
        let mut call = AsyncCall::new(
            service,
            payload,
            from_wit(data_format),
            callback,
            Some(self.caller.to_string()),
        );
        call.submit_traced(queue).await?;
        Ok(call.cid)
    }
}

impl Host for InvokeAsyncView {
    async fn invoke_async(
        &mut self,
        service: String,
        payload: Vec<u8>,
        data_format: WitDataFormat,
        callback: Option<String>,
    ) -> wasmtime::Result<Result<String, AsyncError>> {
        Ok(self
            .queue(service, payload, data_format, callback)
            .await
            .map_err(AsyncError::from))
    }
}

fn from_wit(format: WitDataFormat) -> DataFormat {
    match format {
        WitDataFormat::Json => DataFormat::Json,
        WitDataFormat::Xml => DataFormat::Xml,
        WitDataFormat::Raw => DataFormat::Raw,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kvdb::memory::MemoryKvdb;

    struct Known(Option<Arc<AsyncQueue>>);

    impl AsyncHost for Known {
        fn knows(&self, service: &str) -> bool {
            service.starts_with("known.")
        }
        fn async_queue(&self) -> Option<&Arc<AsyncQueue>> {
            self.0.as_ref()
        }
    }

    fn view(queue: Option<Arc<AsyncQueue>>) -> InvokeAsyncView {
        InvokeAsyncView {
            host: Some(Arc::new(Known(queue))),
            caller: Arc::from("known.caller"),
        }
    }

    fn queue() -> (Arc<AsyncQueue>, Arc<dyn Kvdb>) {
        let kvdb: Arc<dyn Kvdb> = Arc::new(MemoryKvdb::default());
        let queue = Arc::new(AsyncQueue::new(kvdb.clone(), Duration::from_secs(60)));
        (queue, kvdb)
    }

    async fn invoke(
        view: &mut InvokeAsyncView,
        service: &str,
        payload: Vec<u8>,
        callback: Option<&str>,
    ) -> Result<String, AsyncError> {
        view.invoke_async(
            service.to_owned(),
            payload,
            WitDataFormat::Raw,
            callback.map(str::to_owned),
        )
        .await
        .expect("never a trap")
    }

    #[test]
    fn a_call_reads_back_as_it_was_encoded() {
        let call = AsyncCall::new(
            "known.target".into(),
            vec![0, 0xff, b'{', 0],
            DataFormat::Xml,
            Some("known.callback".into()),
            None,
        );
        assert_eq!(AsyncCall::decode(&call.encode()).unwrap(), call);
        assert_eq!(call.cid.len(), 32);
        for broken in [&b""[..], b"\0\0\0\x09{}", b"\0\0\0\x02{]"] {
            assert!(AsyncCall::decode(broken).is_err(), "{broken:?}");
        }
    }

    #[tokio::test]
    async fn a_queued_call_is_pending_on_the_queue_with_its_caller() {
        let (queue, kvdb) = queue();
        let mut view = view(Some(queue.clone()));
        let cid = invoke(
            &mut view,
            "known.target",
            b"data".to_vec(),
            Some("known.cb"),
        )
        .await
        .unwrap();
        let outcome = queue.outcome(&cid).await.unwrap().expect("recorded");
        assert_eq!(outcome.state, AsyncState::Pending);
        assert_eq!(outcome.caller.as_deref(), Some("known.caller"));
        let taken = kvdb
            .take(QUEUE, "me", Duration::from_secs(5), Duration::ZERO)
            .await
            .unwrap()
            .expect("queued");
        let call = AsyncCall::decode(&taken.item).unwrap();
        assert_eq!(
            (call.cid.as_str(), call.service.as_str(), &call.payload[..]),
            (cid.as_str(), "known.target", &b"data"[..])
        );
        assert_eq!(call.callback.as_deref(), Some("known.cb"));
        assert_eq!(queue.outcome("unknown").await.unwrap(), None);
        assert_eq!(queue.outcome(&"x".repeat(65)).await.unwrap(), None);
    }

    #[tokio::test]
    async fn hostile_or_wrong_arguments_are_errors_for_the_guest() {
        let (queue, kvdb) = queue();
        let mut guest = view(Some(queue));
        // (service, payload, callback, what the error must be)
        type Case = (
            String,
            Vec<u8>,
            Option<&'static str>,
            fn(&AsyncError) -> bool,
        );
        let cases: [Case; 6] = [
            (String::new(), vec![], None, |e| {
                matches!(e, AsyncError::BadRequest(_))
            }),
            (
                "x".repeat(100_000),
                vec![],
                None,
                |e| matches!(e, AsyncError::BadRequest(m) if m.contains("of 100000 bytes")),
            ),
            (
                "known.x".into(),
                vec![],
                Some("bad name"),
                |e| matches!(e, AsyncError::BadRequest(m) if m.contains("`bad name`")),
            ),
            (
                "known.x".into(),
                vec![0; MAX_PAYLOAD_BYTES + 1],
                None,
                |e| matches!(e, AsyncError::BadRequest(m) if m.contains("over the limit")),
            ),
            (
                "other.x".into(),
                vec![],
                None,
                |e| matches!(e, AsyncError::NotFound(m) if m.contains("`other.x`")),
            ),
            (
                "known.x".into(),
                vec![],
                Some("other.cb"),
                |e| matches!(e, AsyncError::NotFound(m) if m.contains("`other.cb`")),
            ),
        ];
        for (service, payload, callback, expected) in cases {
            let err = invoke(&mut guest, &service, payload, callback)
                .await
                .expect_err("refused");
            assert!(expected(&err), "{err:?}");
        }
        assert_eq!(
            kvdb.take(QUEUE, "me", Duration::from_secs(5), Duration::ZERO)
                .await
                .unwrap(),
            None,
            "nothing refused was queued"
        );
        let mut stopping = InvokeAsyncView {
            host: None,
            caller: Arc::from("known.caller"),
        };
        let err = invoke(&mut stopping, "known.x", vec![], None).await;
        assert!(matches!(err, Err(AsyncError::Unavailable(_))), "{err:?}");
        let mut without_queue = view(None);
        let err = invoke(&mut without_queue, "known.x", vec![], None).await;
        assert!(matches!(err, Err(AsyncError::Unavailable(_))), "{err:?}");
    }
}
