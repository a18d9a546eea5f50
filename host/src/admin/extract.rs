//! axum's extractors with the admin API's refusals: axum answers a body, query or path
//! it cannot read with a plain-text 400, 415 or 422, which is neither the JSON error
//! body every other refusal has nor a status the OpenAPI description names. These
//! wrappers answer 400 with an [`ErrorBody`](crate::api::ErrorBody) naming what was
//! wrong (413 for a body over the limit).

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use http::StatusCode;
use http::request::Parts;
use serde::de::DeserializeOwned;

use super::ApiError;

/// A JSON request body (`content-type: application/json`).
pub struct Json<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(Json(value)),
            Err(rejection) => Err(json_refusal(&rejection)),
        }
    }
}

fn json_refusal(rejection: &JsonRejection) -> ApiError {
    let status = rejection.status();
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError(status, "request body is over the size limit".into());
    }
    let message = match rejection {
        JsonRejection::MissingJsonContentType(_) => {
            "send the body as JSON, with `content-type: application/json`".to_owned()
        }
        other => format!("invalid JSON body: {}", other.body_text()),
    };
    ApiError(StatusCode::BAD_REQUEST, message)
}

/// Query string parameters.
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Query(value)),
            Err(rejection) => Err(query_refusal(&rejection)),
        }
    }
}

fn query_refusal(rejection: &QueryRejection) -> ApiError {
    ApiError(
        StatusCode::BAD_REQUEST,
        format!("invalid query string: {}", rejection.body_text()),
    )
}

/// Path parameters (`{name}`), percent-decoded.
pub struct Path<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Path(value)),
            Err(rejection) => Err(path_refusal(&rejection)),
        }
    }
}

fn path_refusal(rejection: &PathRejection) -> ApiError {
    ApiError(
        StatusCode::BAD_REQUEST,
        format!("invalid path parameter: {}", rejection.body_text()),
    )
}
