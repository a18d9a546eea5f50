//! Scenario 12: a service that makes one outgoing HTTP call, against hyper making the
//! same call directly, in the same run.
//!
//! The backend is a small CRM on hyper in this process (`GET /api/customers/{id}`: a
//! customer as JSON, about 200 bytes). The service is the `demo.outgoing-http` example
//! behind an HTTP channel (`GET /demo/outgoing-http?id=N`: one GET through the outgoing
//! connection `crm`, then the answer reshaped), loaded by 16 concurrent clients; the
//! baseline is hyper-util's pooled client calling the backend from 16 concurrent tasks
//! in this process. Both run for the same time (10 s; 3 s with --quick) after a short
//! warm-up; the ratios say what the HTTP request in, the fresh instance, the
//! `outgoing-http` import and the JSON work cost on top of the call itself.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::bail;
use bytes::Bytes;
use http_body_util::{BodyExt as _, Empty, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::json;
use tokio::net::TcpListener;
use zato_api::{HttpAuth, HttpSettings, Outconn, OutconnSettings};

use super::Ctx;
use super::deploy::{start_all, stop_all};
use super::sql::{CONCURRENCY, deploy_example, load, load_http, ratio_row};
use crate::report::Section;
use crate::zato::{Env, EnvOptions};

pub async fn run(ctx: &Ctx<'_>) -> anyhow::Result<Section> {
    let duration = if ctx.plan.quick {
        Duration::from_secs(3)
    } else {
        Duration::from_secs(10)
    };
    let warmup = Duration::from_secs(1);
    let mut section = Section::new(
        "12. Outgoing HTTP: a service making one call vs hyper directly",
        vec![
            "target",
            "req/s",
            "p50",
            "p99",
            "ratio (req/s)",
            "ratio (p50)",
        ],
    )
    .text_columns(1);
    section.notes.push(format!(
        "A hyper backend in the bench's process answers `GET /api/customers/{{id}}` with a customer as JSON; {CONCURRENCY} concurrent clients, {} s each after {} s of warm-up. The baseline is hyper-util's pooled client calling it directly; the service's figures include its own HTTP request, the call through the connection `crm` and its JSON answer. The load generator and the backend share the bench's process in both runs. ratio = zato / hyper (throughput) and zato / hyper (p50 latency). Servers are not pinned.",
        duration.as_secs(),
        warmup.as_secs()
    ));

    let backend = crm().await?;
    eprintln!("[bench] http-out: hyper directly");
    let direct = {
        let hyper_client: hyper_util::client::legacy::Client<_, Empty<Bytes>> =
            hyper_util::client::legacy::Client::builder(TokioExecutor::new())
                .pool_max_idle_per_host(CONCURRENCY)
                .build_http();
        load(duration, warmup, move |id| {
            let request = hyper_client.get(
                format!("http://{backend}/api/customers/{id}")
                    .parse()
                    .expect("a valid URI"),
            );
            async move {
                let response = request.await?;
                let status = response.status();
                let body = response.into_body().collect().await?.to_bytes();
                if status != StatusCode::OK || body.is_empty() {
                    bail!("customer {id}: {status}");
                }
                Ok(())
            }
        })
        .await?
    };

    eprintln!("[bench] http-out: demo.outgoing-http on one server");
    let env = Env::create(
        &ctx.artifacts.zato,
        &ctx.work.join("http-out-env"),
        &EnvOptions::one_server("bench-http-out"),
    )?;
    let procs = start_all(&env, 1, ctx).await?;
    let served = async {
        let http = HttpSettings {
            address: format!("http://{backend}/api"),
            timeout_ms: 0,
            pool_size: 0,
            tls_verify: true,
            ca_pem: None,
            auth: HttpAuth::None,
            headers: Vec::new(),
            retries: 0,
            ping_method: "HEAD".into(),
        };
        deploy_example(
            ctx,
            &env,
            &Outconn {
                name: "crm".into(),
                active: true,
                settings: OutconnSettings::Http(http),
                secret: None,
            },
            ("outgoing_http.wasm", "demo.outgoing-http"),
            None,
            "/demo/outgoing-http",
        )
        .await?;
        let base = env.base(0);
        load_http(duration, warmup, move |id| {
            format!("{base}/demo/outgoing-http?id={id}")
        })
        .await
    }
    .await;
    stop_all(procs);
    let served = served?;

    section
        .rows
        .push(ratio_row("http-out", "hyper directly", &direct, None));
    section.rows.push(ratio_row(
        "http-out",
        "zato: demo.outgoing-http over HTTP",
        &served,
        Some(&direct),
    ));
    Ok(section)
}

/// Starts the CRM backend on a port the system picks; it serves until the process ends.
async fn crm() -> anyhow::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), hyper::service::service_fn(customer))
                    .await;
            });
        }
    });
    Ok(addr)
}

/// `GET /api/customers/{id}`: the customer, as the example's CRM describes one.
async fn customer(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let Some(id) = req.uri().path().strip_prefix("/api/customers/") else {
        let mut response = Response::new(Full::new(Bytes::new()));
        *response.status_mut() = StatusCode::NOT_FOUND;
        return Ok(response);
    };
    let body = json!({
        "id": id,
        "first_name": "Ada",
        "last_name": "Lovelace",
        "address": {"city": "London", "street": "12 St James's Square"},
        "orders": [{"id": 1, "total": 12.5}, {"id": 2, "total": 7.25}],
    });
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    Ok(response)
}
