//! Asynchronous invokes: where a call queued with `?async=true` (or by a service's
//! `invoke-async`) stands. Queueing one is the invoke route's (`services::invoke`).

use axum::extract::State;
use axum::response::Response;
use http::StatusCode;

use super::extract::Path;
use super::{ApiError, Shared};
use crate::api::{AsyncOutcome, ErrorBody};
use crate::capability::invoke_async::AsyncHost as _;
use crate::http_response::json_response;

/// Where an asynchronous call stands: `pending` (queued), `running` (on `server`, taken
/// `deliveries` times), `done` or `failed` (with the status and error).
#[utoipa::path(
    get,
    path = "/zato/api/async/{cid}",
    tag = "services",
    operation_id = "async_outcome",
    params(("cid" = String, Path, description = "the cid the asynchronous invoke answered")),
    responses(
        (status = 200, description = "where the call stands", body = AsyncOutcome),
        (status = 404, description = "no call of that cid, or its outcome is no longer \
            kept", body = ErrorBody),
        (status = 503, description = "the KVDB cannot be reached", body = ErrorBody),
    ),
)]
pub async fn outcome(State(state): Shared, Path(cid): Path<String>) -> Result<Response, ApiError> {
    let unavailable = |m: String| ApiError(StatusCode::SERVICE_UNAVAILABLE, m);
    let queue = state.deployer.runtime().async_queue().ok_or_else(|| {
        unavailable("this server has no work queue for asynchronous invokes".into())
    })?;
    match queue.outcome(&cid).await {
        Ok(Some(outcome)) => Ok(json_response(StatusCode::OK, &outcome)),
        Ok(None) => Err(ApiError(
            StatusCode::NOT_FOUND,
            format!(
                "no asynchronous call of cid `{}` is known (or its outcome is no longer kept)",
                cid.chars().take(64).collect::<String>()
            ),
        )),
        Err(e) => Err(unavailable(e.to_string())),
    }
}
