//! Asynchronous invokes: the worker every server runs on the cluster's work queue
//! ([`QUEUE`]), which a service's `invoke-async` and the admin API's `?async=true` feed
//! (through [`AsyncQueue::submit`], in `capability::invoke_async`).
//!
//! Each server's worker (started once the server loaded its services, with at most
//! `[async_invoke] workers` calls at once) takes calls as the consumer named after the
//! server, and for each: records it `running`, calls the service through the `invoke`
//! channel kind (details `async` and `delivery`), touching the item while the call runs,
//! records the outcome (`done` or `failed`, kept `keep_outcomes_s`), invokes the
//! callback service if there is one, and only then acknowledges the item.
//!
//! *Invariant*: a call is acknowledged only after it ended and its callback was told, so
//! a server killed at any point before leaves the item to another server, which takes
//! it over once it has not been touched for `visibility_ms` (at least once: a call may
//! run twice, never zero times). A call taken more than `max_deliveries` times is given
//! up with an error log and a `failed` outcome (its callback is told too).
//! `async_invoke::a_killed_server_s_calls_run_to_completion_elsewhere` checks it.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

pub use crate::capability::invoke_async::{
    AsyncCall, AsyncQueue, MAX_PAYLOAD_BYTES, QUEUE, SubmitError, check,
};

use crate::api::{AsyncOutcome, AsyncState, DataFormat};
use crate::channel::{Inbound, call_service};
use crate::config::AsyncInvokeSettings;
use crate::http_response::status_of;
use crate::kvdb::Taken;
use crate::odb::now_ms;
use crate::runtime::{ChannelKind, RequestDetails, Response, Runtime};

/// How long one take waits for a call before the worker looks at its shutdown again.
const TAKE_WAIT: Duration = Duration::from_secs(1);
/// How long the worker waits before it tries a failing KVDB again.
const RETRY_AFTER: Duration = Duration::from_millis(500);

/// The worker of one server.
pub struct AsyncWorker {
    runtime: Arc<Runtime>,
    queue: Arc<AsyncQueue>,
    /// The consumer it takes calls as.
    server: String,
    settings: AsyncInvokeSettings,
}

impl AsyncWorker {
    pub fn new(
        runtime: Arc<Runtime>,
        queue: Arc<AsyncQueue>,
        server: String,
        settings: AsyncInvokeSettings,
    ) -> Arc<Self> {
        Arc::new(Self {
            runtime,
            queue,
            server,
            settings,
        })
    }

    fn visibility(&self) -> Duration {
        Duration::from_millis(self.settings.visibility_ms.max(100))
    }

    /// Starts the worker; it takes calls once `ready` resolves (the server's first load
    /// of services) and stops with `shutdown`, after the calls it runs have ended.
    pub fn spawn(
        self: Arc<Self>,
        ready: impl std::future::Future<Output = ()> + Send + 'static,
        shutdown: CancellationToken,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = ready => {}
            }
            self.work(shutdown).await;
        })
    }

    async fn work(self: Arc<Self>, shutdown: CancellationToken) {
        let slots = Arc::new(Semaphore::new(self.settings.workers.max(1)));
        let mut running = JoinSet::new();
        loop {
            let permit = tokio::select! {
                _ = shutdown.cancelled() => break,
                permit = slots.clone().acquire_owned() => permit.expect("never closed"),
            };
            let taken = tokio::select! {
                _ = shutdown.cancelled() => break,
                taken = self.queue.kvdb().take(QUEUE, &self.server, self.visibility(), TAKE_WAIT) => taken,
            };
            match taken {
                Ok(Some(taken)) => {
                    let this = self.clone();
                    running.spawn(async move {
                        this.run(taken).await;
                        drop(permit);
                    });
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(
                        "cannot take asynchronous calls off the queue (trying again): {e}"
                    );
                    tokio::select! {
                        _ = shutdown.cancelled() => break,
                        _ = tokio::time::sleep(RETRY_AFTER) => {}
                    }
                }
            }
            while running.try_join_next().is_some() {}
        }
        // The calls in progress end, and are acknowledged; what was not taken stays on
        // the queue for the other servers (or this one's next start).
        while running.join_next().await.is_some() {}
    }

    /// Runs one call taken off the queue, then acknowledges it.
    async fn run(&self, taken: Taken) {
        let call = match AsyncCall::decode(&taken.item) {
            Ok(call) => call,
            Err(e) => {
                tracing::error!("dropping an unreadable item of the queue `{QUEUE}`: {e}");
                self.ack(&taken.id, "?").await;
                return;
            }
        };
        let cid = call.cid.as_str();
        let mut outcome = AsyncOutcome {
            state: AsyncState::Running,
            server: Some(self.server.clone()),
            deliveries: taken.deliveries,
            updated_at: now_ms(),
            ..call.pending()
        };
        let answer = if taken.deliveries > self.settings.max_deliveries {
            let why = format!(
                "given up after {} deliveries: each server that took the call stopped \
                 before it ended",
                taken.deliveries - 1
            );
            tracing::error!(cid, "the asynchronous call of `{}` is {why}", call.service);
            Err((500, why))
        } else {
            self.record(&outcome).await;
            self.call(&call, &taken).await
        };
        outcome.updated_at = now_ms();
        match &answer {
            Ok(response) => {
                outcome.state = AsyncState::Done;
                outcome.status = Some(response.status);
            }
            Err((status, error)) => {
                outcome.state = AsyncState::Failed;
                outcome.status = Some(*status);
                outcome.error = Some(error.clone());
            }
        }
        self.record(&outcome).await;
        if let Some(callback) = &call.callback {
            self.tell(callback, &call, &answer, taken.deliveries).await;
        }
        self.ack(&taken.id, cid).await;
    }

    /// Calls the service, touching the item while it runs.
    async fn call(&self, call: &AsyncCall, taken: &Taken) -> Result<Response, (u16, String)> {
        let inbound = Inbound {
            cid: &call.cid,
            service: &call.service,
            channel: ChannelKind::Invoke,
            payload: &call.payload,
            data_format: call.data_format,
            details: Box::new(AsyncDetails::new(
                call.caller.clone().unwrap_or_default(),
                taken.deliveries,
                call,
            )),
            timeout: None,
        };
        let result = tokio::select! {
            result = call_service(&self.runtime, inbound) => result,
            never = self.keep_touching(&taken.id, &call.cid) => match never {},
        };
        result.map_err(|e| (status_of(e.kind()).as_u16(), e.to_string()))
    }

    /// Touches the item every third of the visibility, for as long as it is polled.
    async fn keep_touching(&self, id: &str, cid: &str) -> std::convert::Infallible {
        let every = self.visibility() / 3;
        loop {
            tokio::time::sleep(every).await;
            match self.queue.kvdb().touch(QUEUE, &self.server, id).await {
                Ok(true) => {}
                Ok(false) => {
                    // This server stalled past the visibility: another one runs the call
                    // too (at least once). This one finishes all the same.
                    tracing::warn!(
                        cid,
                        "an asynchronous call was taken over by another server while it ran here"
                    );
                    return std::future::pending().await;
                }
                Err(e) => tracing::warn!(
                    cid,
                    "cannot touch an asynchronous call in progress (trying again): {e}"
                ),
            }
        }
    }

    /// Invokes the callback with the call's outcome.
    async fn tell(
        &self,
        callback: &str,
        call: &AsyncCall,
        answer: &Result<Response, (u16, String)>,
        deliveries: u32,
    ) {
        let payload = callback_payload(call, answer);
        let inbound = Inbound {
            cid: &call.cid,
            service: callback,
            channel: ChannelKind::Invoke,
            payload: &payload,
            data_format: DataFormat::Json,
            details: Box::new(AsyncDetails::new(call.service.clone(), deliveries, call)),
            timeout: None,
        };
        if let Err(e) = call_service(&self.runtime, inbound).await {
            tracing::warn!(
                cid = %call.cid,
                "the callback `{callback}` of the asynchronous call of `{}` failed: {e}",
                call.service
            );
        }
    }

    async fn record(&self, outcome: &AsyncOutcome) {
        if let Err(e) = self.queue.record(outcome).await {
            tracing::warn!(cid = %outcome.cid, "cannot record the state of an asynchronous call: {e}");
        }
    }

    async fn ack(&self, id: &str, cid: &str) {
        // Not acknowledged, the call runs again elsewhere after its visibility: at least
        // once still holds.
        if let Err(e) = self.queue.kvdb().ack(QUEUE, id).await {
            tracing::warn!(
                cid,
                "cannot acknowledge an asynchronous call that ended (it may run again): {e}"
            );
        }
    }
}

/// What the callback receives, as the WIT describes it: `cid`, `service`, `ok`,
/// `status`, `payload` (UTF-8) or `payload-base64`, and `error`.
fn callback_payload(call: &AsyncCall, answer: &Result<Response, (u16, String)>) -> Vec<u8> {
    let mut outcome = serde_json::json!({
        "cid": call.cid,
        "service": call.service,
        "ok": answer.is_ok(),
    });
    match answer {
        Ok(response) => {
            outcome["status"] = response.status.into();
            match std::str::from_utf8(&response.payload) {
                Ok(text) => outcome["payload"] = text.into(),
                Err(_) => {
                    outcome["payload-base64"] = base64::engine::general_purpose::STANDARD
                        .encode(&response.payload)
                        .into()
                }
            }
        }
        Err((status, error)) => {
            outcome["status"] = (*status).into();
            outcome["error"] = error.as_str().into();
        }
    }
    serde_json::to_vec(&outcome).expect("JSON serialises")
}

/// What a service called asynchronously (or told of a call's outcome) reads of its
/// request: the calling service as the channel's name (empty from the admin API),
/// details `async` (`true`) and `delivery`, and the trace context the call was queued
/// with (as headers `traceparent` and `tracestate`, which its span continues).
struct AsyncDetails {
    caller: String,
    delivery: String,
    traceparent: Option<String>,
    tracestate: Option<String>,
}

impl AsyncDetails {
    fn new(caller: String, delivery: u32, call: &AsyncCall) -> Self {
        Self {
            caller,
            delivery: delivery.to_string(),
            traceparent: call.traceparent.clone(),
            tracestate: call.tracestate.clone(),
        }
    }
}

impl RequestDetails for AsyncDetails {
    fn channel_name(&self) -> &str {
        &self.caller
    }

    fn headers(&self) -> Vec<(&str, &str)> {
        [
            ("traceparent", self.traceparent.as_deref()),
            ("tracestate", self.tracestate.as_deref()),
        ]
        .into_iter()
        .filter_map(|(name, value)| Some((name, value?)))
        .collect()
    }

    fn details(&self) -> Vec<(&str, Cow<'_, str>)> {
        vec![
            ("async", Cow::Borrowed("true")),
            ("delivery", Cow::Borrowed(self.delivery.as_str())),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call() -> AsyncCall {
        AsyncCall::new("a.b".into(), vec![], DataFormat::Json, None, None)
    }

    fn response(payload: &[u8]) -> Response {
        Response {
            status: 201,
            headers: vec![],
            payload: payload.to_vec(),
        }
    }

    #[test]
    fn the_callback_reads_the_outcome_as_the_wit_says() {
        let call = call();
        let parse = |answer| -> serde_json::Value {
            serde_json::from_slice(&callback_payload(&call, &answer)).unwrap()
        };
        assert_eq!(
            parse(Ok(response(b"{\"x\":1}"))),
            serde_json::json!({"cid": call.cid, "service": "a.b", "ok": true, "status": 201,
                "payload": "{\"x\":1}"})
        );
        assert_eq!(
            parse(Ok(response(&[0xff, 0]))),
            serde_json::json!({"cid": call.cid, "service": "a.b", "ok": true, "status": 201,
                "payload-base64": "/wA="})
        );
        assert_eq!(
            parse(Err((504, "timed out".into()))),
            serde_json::json!({"cid": call.cid, "service": "a.b", "ok": false, "status": 504,
                "error": "timed out"})
        );
    }

    #[test]
    fn an_async_call_says_so_and_counts_its_deliveries() {
        let details = AsyncDetails::new("caller.svc".into(), 2, &call());
        assert_eq!(details.channel_name(), "caller.svc");
        assert_eq!(details.detail("async").as_deref(), Some("true"));
        assert_eq!(details.detail("delivery").as_deref(), Some("2"));
        assert_eq!(details.detail("job"), None);
        assert_eq!(details.header("traceparent"), None);
    }

    #[test]
    fn an_async_call_carries_the_trace_it_was_queued_in() {
        let mut queued = call();
        let parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        queued.traceparent = Some(parent.into());
        queued.tracestate = Some("k=v".into());
        let taken = AsyncCall::decode(&queued.encode()).unwrap();
        let details = AsyncDetails::new("caller.svc".into(), 1, &taken);
        assert_eq!(details.header("TraceParent"), Some(parent));
        assert_eq!(details.header("tracestate"), Some("k=v"));
        // An item queued before calls carried a trace still reads.
        let old = br#"{"cid":"c","service":"a.b","data_format":"json","callback":null,"caller":null,"queued_at":1}"#;
        let mut item = (old.len() as u32).to_be_bytes().to_vec();
        item.extend_from_slice(old);
        assert_eq!(AsyncCall::decode(&item).unwrap().traceparent, None);
    }
}
