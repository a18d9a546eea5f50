//! An OTLP/HTTP collector that only counts: scenario 15's servers export their traces
//! to it. Each export is decoded with OpenTelemetry's own protobuf messages
//! (`opentelemetry-proto`), so the spans counted are spans a collector would have read.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message as _;
use tokio::net::TcpListener;

/// What the sink has been sent.
#[derive(Default)]
pub struct Counts {
    pub exports: AtomicU64,
    pub spans: AtomicU64,
    pub bytes: AtomicU64,
    /// Exports that were not an `ExportTraceServiceRequest`.
    pub refused: AtomicU64,
}

/// A running sink; it stops when dropped.
pub struct Sink {
    pub addr: SocketAddr,
    pub counts: Arc<Counts>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Sink {
    pub async fn start() -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let counts = Arc::new(Counts::default());
        let task = tokio::spawn({
            let counts = counts.clone();
            async move {
                let builder = auto::Builder::new(TokioExecutor::new());
                while let Ok((stream, _)) = listener.accept().await {
                    let counts = counts.clone();
                    let service = hyper::service::service_fn(move |req| {
                        let counts = counts.clone();
                        async move { Ok::<_, Infallible>(export(req, &counts).await) }
                    });
                    let conn = builder
                        .serve_connection(TokioIo::new(stream), service)
                        .into_owned();
                    tokio::spawn(async move {
                        let _ = conn.await;
                    });
                }
            }
        });
        Ok(Self { addr, counts, task })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn spans(&self) -> u64 {
        self.counts.spans.load(Ordering::Relaxed)
    }
}

async fn export(req: Request<Incoming>, counts: &Counts) -> Response<Full<Bytes>> {
    let answer = |status, body: Vec<u8>| {
        let mut response = Response::new(Full::new(Bytes::from(body)));
        *response.status_mut() = status;
        response
    };
    if req.uri().path() != "/v1/traces" {
        counts.refused.fetch_add(1, Ordering::Relaxed);
        return answer(StatusCode::NOT_FOUND, Vec::new());
    }
    let Ok(body) = req.into_body().collect().await.map(|b| b.to_bytes()) else {
        counts.refused.fetch_add(1, Ordering::Relaxed);
        return answer(StatusCode::BAD_REQUEST, Vec::new());
    };
    let Ok(request) = ExportTraceServiceRequest::decode(body.clone()) else {
        counts.refused.fetch_add(1, Ordering::Relaxed);
        return answer(StatusCode::BAD_REQUEST, Vec::new());
    };
    let spans: usize = request
        .resource_spans
        .iter()
        .flat_map(|r| &r.scope_spans)
        .map(|s| s.spans.len())
        .sum();
    counts.exports.fetch_add(1, Ordering::Relaxed);
    counts.spans.fetch_add(spans as u64, Ordering::Relaxed);
    counts.bytes.fetch_add(body.len() as u64, Ordering::Relaxed);
    answer(
        StatusCode::OK,
        ExportTraceServiceResponse::default().encode_to_vec(),
    )
}
