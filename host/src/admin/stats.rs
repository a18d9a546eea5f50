//! Usage statistics, samples and slow responses of services, read from the KVDB (any
//! server answers for the whole cluster: every server writes there).

use axum::extract::State;
use axum::response::Response;
use http::StatusCode;
use serde::Deserialize;
use utoipa::IntoParams;

use super::extract::{Path, Query};
use super::{ApiError, Shared};
use crate::api::{
    CallSample, ErrorBody, ServiceStats, StatsOrder, StatsRange, StatsSeries, StatsTop,
    stats::parse_span,
};
use crate::http_response::json_response;
use crate::kvdb::KvdbError;
use crate::stats;

/// The most services `top` lists.
const MAX_TOP: usize = 1000;

impl From<KvdbError> for ApiError {
    fn from(e: KvdbError) -> Self {
        ApiError(StatusCode::SERVICE_UNAVAILABLE, e.to_string())
    }
}

fn bad(message: String) -> ApiError {
    ApiError(StatusCode::BAD_REQUEST, message)
}

fn span(last: Option<&str>) -> Result<Option<u64>, ApiError> {
    last.map(|last| parse_span(last).map_err(|e| bad(format!("last: {e}"))))
        .transpose()
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SpanQuery {
    /// Only the last span of time: a number and a unit, `s`, `m`, `h`, `d` or `w` (e.g.
    /// `15m`, `1h`, `7d`), at most 400 days; the whole history when absent.
    #[serde(default)]
    #[param(pattern = "^[0-9]{1,6}[smhdw]$", example = "1h")]
    last: Option<String>,
}

/// A service's usage statistics: calls, errors and durations, over its whole recorded
/// history or the last `last`. A deployed service never called has a count of 0.
#[utoipa::path(
    get,
    path = "/zato/api/stats/services/{name}",
    tag = "statistics",
    operation_id = "service_stats",
    params(("name" = String, Path, description = "the service", example = "demo.hello"),
        SpanQuery),
    responses(
        (status = 200, description = "the service's figures", body = ServiceStats),
        (status = 400, description = "a `last` that does not read as a span", body = ErrorBody),
        (status = 404, description = "no such service was ever recorded or is deployed",
            body = ErrorBody),
        (status = 503, description = "the KVDB cannot be reached", body = ErrorBody),
    ),
)]
pub async fn service(
    State(state): Shared,
    Path(name): Path<String>,
    Query(query): Query<SpanQuery>,
) -> Result<Response, ApiError> {
    let last = span(query.last.as_deref())?;
    let found = stats::summary(&*state.kvdb, &state.stats, &name, last).await?;
    let figures = match found {
        Some(figures) => figures,
        None if state.deployer.runtime().registry().get(&name).is_some() => {
            let now = stats::now_minute() + 1;
            ServiceStats {
                service: name,
                from_ms: now * 60_000,
                to_ms: now * 60_000,
                count: 0,
                errors: 0,
                timeouts: 0,
                min_ms: None,
                max_ms: None,
                mean_ms: None,
                p50_ms: None,
                p95_ms: None,
                p99_ms: None,
            }
        }
        None => {
            return Err(ApiError(
                StatusCode::NOT_FOUND,
                format!("no service `{name}` is deployed and none was ever recorded"),
            ));
        }
    };
    Ok(json_response(StatusCode::OK, &figures))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SeriesQuery {
    /// The span: `hour` (a point a minute), `day` (a point each 15 minutes) or `week`
    /// (a point an hour); `hour` when absent.
    #[serde(default)]
    #[param(inline)]
    range: Option<StatsRange>,
}

/// A service's figures point by point over the last hour, day or week (the web admin's
/// charts).
#[utoipa::path(
    get,
    path = "/zato/api/stats/services/{name}/series",
    tag = "statistics",
    operation_id = "service_stats_series",
    params(("name" = String, Path, description = "the service", example = "demo.hello"),
        SeriesQuery),
    responses(
        (status = 200, description = "the points, oldest first", body = StatsSeries),
        (status = 400, description = "an unknown `range`", body = ErrorBody),
        (status = 503, description = "the KVDB cannot be reached", body = ErrorBody),
    ),
)]
pub async fn series(
    State(state): Shared,
    Path(name): Path<String>,
    Query(query): Query<SeriesQuery>,
) -> Result<Response, ApiError> {
    let range = query.range.unwrap_or(StatsRange::Hour);
    let series = stats::series(&*state.kvdb, &name, range).await?;
    Ok(json_response(StatusCode::OK, &series))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct TopQuery {
    /// What to order by: `mean` (duration, longest first), `count` or `errors` (most
    /// first); `count` when absent.
    #[serde(default)]
    #[param(inline)]
    by: Option<StatsOrder>,
    /// Only the last span of time (as for a service's statistics).
    #[serde(default)]
    #[param(pattern = "^[0-9]{1,6}[smhdw]$", example = "1h")]
    last: Option<String>,
    /// How many services: 1 to 1000 (10 when absent).
    #[serde(default)]
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<usize>,
}

/// The services with the most calls, the most errors or the longest mean duration.
#[utoipa::path(
    get,
    path = "/zato/api/stats/top",
    tag = "statistics",
    operation_id = "stats_top",
    params(TopQuery),
    responses(
        (status = 200, description = "the services, first the one with the most", body = StatsTop),
        (status = 400, description = "an unknown `by`, a `last` that does not read as a \
            span, or a `limit` out of range", body = ErrorBody),
        (status = 503, description = "the KVDB cannot be reached", body = ErrorBody),
    ),
)]
pub async fn top(
    State(state): Shared,
    Query(query): Query<TopQuery>,
) -> Result<Response, ApiError> {
    let by = query.by.unwrap_or(StatsOrder::Count);
    let last = span(query.last.as_deref())?;
    let limit = query.limit.unwrap_or(10);
    if !(1..=MAX_TOP).contains(&limit) {
        return Err(bad(format!(
            "limit {limit} is out of range: 1 to {MAX_TOP}"
        )));
    }
    let services = stats::top(&*state.kvdb, &state.stats, by, last, limit).await?;
    Ok(json_response(StatusCode::OK, &StatsTop { by, services }))
}

/// A service's last call: its request and response (cut at the server's
/// `sample_max_bytes`), headers with credentials left out.
#[utoipa::path(
    get,
    path = "/zato/api/stats/services/{name}/sample",
    tag = "statistics",
    operation_id = "service_sample",
    params(("name" = String, Path, description = "the service", example = "demo.hello")),
    responses(
        (status = 200, description = "its last call", body = CallSample),
        (status = 404, description = "no call of it was sampled (samples off, or none yet)",
            body = ErrorBody),
        (status = 503, description = "the KVDB cannot be reached", body = ErrorBody),
    ),
)]
pub async fn sample(State(state): Shared, Path(name): Path<String>) -> Result<Response, ApiError> {
    match stats::sample(&*state.kvdb, &name).await? {
        Some(sample) => Ok(json_response(StatusCode::OK, &sample)),
        None => Err(ApiError(
            StatusCode::NOT_FOUND,
            format!("no call of `{name}` was sampled"),
        )),
    }
}

/// A service's slowest calls over its threshold (its `info()` value, its configuration's
/// `zato.stats.slow_threshold_ms`, or the server's default), at most 100, slowest
/// first, with their requests and responses.
#[utoipa::path(
    get,
    path = "/zato/api/stats/services/{name}/slow",
    tag = "statistics",
    operation_id = "service_slow",
    params(("name" = String, Path, description = "the service", example = "demo.hello")),
    responses(
        (status = 200, description = "its slow calls, slowest first (none: empty)",
            body = Vec<CallSample>),
        (status = 503, description = "the KVDB cannot be reached", body = ErrorBody),
    ),
)]
pub async fn slow(State(state): Shared, Path(name): Path<String>) -> Result<Response, ApiError> {
    let slow = stats::slow(&*state.kvdb, &name).await?;
    Ok(json_response(StatusCode::OK, &slow))
}
