//! HTTP responses as every HTTP door of the server builds them (the HTTP channel, the
//! admin API, `/zato/ping`): JSON bodies, the JSON error body, the cid header, and a
//! service's answer or failure.
//!
//! Invariant: this is the one place where errors become HTTP responses, and
//! [`status_of`] the one mapping of a failed call's [`ErrorKind`] to a status.

use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use http::{HeaderName, HeaderValue, Response, StatusCode, header};
use http_body_util::{BodyExt, Limited};
use hyper::body::Body as _;
use hyper::body::Incoming;

use crate::api::{DataFormat, ErrorBody};
use crate::runtime::{self, CallError, ErrorKind};

/// Header carrying the correlation id of a request in every response.
pub const CID_HEADER: HeaderName = HeaderName::from_static("x-zato-cid");

/// Headers a service may not set: the framing, which hyper writes from the body it is
/// given, and the connection's own (RFC 9110, 7.6.1). A service's `content-length: 0`
/// over a longer payload would make the rest of it read as the next response on a
/// keep-alive connection (a load balancer's pooled one: another client's).
const CONNECTION_HEADERS: [HeaderName; 8] = [
    header::CONNECTION,
    header::CONTENT_LENGTH,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

/// The HTTP status of a failed call.
pub fn status_of(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::BadRequest => StatusCode::BAD_REQUEST,
        ErrorKind::Unauthorized => StatusCode::UNAUTHORIZED,
        ErrorKind::Forbidden => StatusCode::FORBIDDEN,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::Conflict => StatusCode::CONFLICT,
        ErrorKind::Retry => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::Timeout => StatusCode::GATEWAY_TIMEOUT,
        ErrorKind::LoopDetected => StatusCode::LOOP_DETECTED,
        ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// Turns what a service call gave into an HTTP response.
pub fn service_response(
    result: Result<runtime::Response, CallError>,
    format: DataFormat,
    cid: &str,
) -> Response<Body> {
    match result {
        Ok(answer) => {
            let status =
                StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut response = Response::new(Body::from(answer.payload));
            *response.status_mut() = status;
            let headers = response.headers_mut();
            for (name, value) in &answer.headers {
                // A guest cannot make the host send a malformed header, nor one that
                // frames the message or speaks for the connection.
                if let (Ok(name), Ok(value)) = (
                    HeaderName::try_from(name.as_str()),
                    HeaderValue::try_from(value.as_str()),
                ) && !CONNECTION_HEADERS.contains(&name)
                {
                    headers.append(name, value);
                }
            }
            if !headers.contains_key(header::CONTENT_TYPE) {
                headers.insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static(content_type(format)),
                );
            }
            if let Ok(cid) = HeaderValue::from_str(cid) {
                headers.insert(CID_HEADER, cid);
            }
            response
        }
        Err(error) => {
            let mut response =
                error_response(status_of(error.kind()), error.to_string(), Some(cid));
            // Only a starting server knows it will answer in a moment.
            if matches!(error, CallError::NotLoaded(_)) {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            response
        }
    }
}

/// Reads a request body: 413 past `limit` bytes, 408 when nothing of it arrives for
/// `stall` (a client that announced more than it sends would hold the request, its
/// connection and its memory forever); the refusal is a JSON error.
pub async fn read_body(
    body: Incoming,
    limit: usize,
    stall: Duration,
    cid: &str,
) -> Result<Bytes, Response<Body>> {
    read_body_or_refusal(body, limit, stall)
        .await
        .map_err(|(status, message)| error_response(status, message, Some(cid)))
}

/// [`read_body`], its refusal as a status and a message for a channel that answers in
/// a shape of its own (a SOAP Fault).
pub async fn read_body_or_refusal(
    body: Incoming,
    limit: usize,
    stall: Duration,
) -> Result<Bytes, (StatusCode, String)> {
    let too_large = || {
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("request body is larger than {limit} bytes"),
        )
    };
    // A `Content-Length` past the limit is refused before a byte of the body is read.
    if body.size_hint().lower() > limit as u64 {
        return Err(too_large());
    }
    let mut body = Limited::new(body, limit);
    let mut chunks: Vec<Bytes> = Vec::new();
    loop {
        let frame = match tokio::time::timeout(stall, body.frame()).await {
            Ok(Some(Ok(frame))) => frame,
            Ok(None) => break,
            Ok(Some(Err(e))) if e.is::<http_body_util::LengthLimitError>() => {
                return Err(too_large());
            }
            Ok(Some(Err(e))) => {
                return Err((
                    StatusCode::BAD_REQUEST,
                    format!("cannot read request body: {e}"),
                ));
            }
            Err(_) => {
                return Err((
                    StatusCode::REQUEST_TIMEOUT,
                    format!(
                        "request body stalled: nothing of it arrived for {} ms",
                        stall.as_millis()
                    ),
                ));
            }
        };
        // Trailers carry nothing a service reads.
        if let Ok(data) = frame.into_data() {
            chunks.push(data);
        }
    }
    Ok(match chunks.len() {
        0 => Bytes::new(),
        1 => chunks.swap_remove(0),
        _ => chunks.concat().into(),
    })
}

/// A JSON error body `{"error": ..., "cid": ...}` with `status`.
pub fn error_response(status: StatusCode, error: String, cid: Option<&str>) -> Response<Body> {
    let mut response = json_response(
        status,
        &ErrorBody {
            error,
            cid: cid.map(str::to_owned),
        },
    );
    if let Some(cid) = cid.and_then(|c| HeaderValue::from_str(c).ok()) {
        response.headers_mut().insert(CID_HEADER, cid);
    }
    response
}

pub fn json_response<T: serde::Serialize>(status: StatusCode, value: &T) -> Response<Body> {
    let body = serde_json::to_vec(value).expect("response bodies serialise");
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

fn content_type(format: DataFormat) -> &'static str {
    match format {
        DataFormat::Json => "application/json",
        DataFormat::Xml => "application/xml",
        DataFormat::Raw => "application/octet-stream",
    }
}

/// Every header whose value is text, in order (names are lowercase in a `HeaderMap`).
pub fn header_pairs(headers: &http::HeaderMap) -> Vec<(&str, &str)> {
    headers
        .iter()
        .filter_map(|(key, value)| Some((key.as_str(), value.to_str().ok()?)))
        .collect()
}

/// The first text value of the header `name`, whatever its case.
pub fn header_value<'a>(headers: &'a http::HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(name)
        .iter()
        .find_map(|value| value.to_str().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_failure_kind_has_its_own_status() {
        let kinds = [
            (ErrorKind::BadRequest, 400),
            (ErrorKind::Unauthorized, 401),
            (ErrorKind::Forbidden, 403),
            (ErrorKind::NotFound, 404),
            (ErrorKind::Conflict, 409),
            (ErrorKind::Retry, 503),
            (ErrorKind::Timeout, 504),
            (ErrorKind::LoopDetected, 508),
            (ErrorKind::Internal, 500),
        ];
        for (kind, status) in kinds {
            assert_eq!(status_of(kind).as_u16(), status, "{kind:?}");
        }
    }

    #[test]
    fn a_service_cannot_frame_the_response_nor_speak_for_the_connection() {
        // Found by the `http_request` fuzz target: hyper wrote the service's
        // `content-length: 0` over a payload of 1 byte.
        let dropped = [
            ("Content-Length", "0"),
            ("transfer-encoding", "chunked"),
            ("connection", "close"),
            ("keep-alive", "timeout=1"),
            ("proxy-connection", "keep-alive"),
            ("te", "trailers"),
            ("trailer", "x-sum"),
            ("upgrade", "websocket"),
        ];
        let headers = dropped
            .iter()
            .chain(&[("x-kept", "yes")])
            .map(|&(name, value)| (name.to_owned(), value.to_owned()))
            .collect();
        let answer = runtime::Response {
            status: 200,
            headers,
            payload: b"x".to_vec(),
        };
        let response = service_response(Ok(answer), DataFormat::Raw, "c1");
        for (name, _) in dropped {
            let name = name.to_ascii_lowercase();
            assert!(!response.headers().contains_key(&name), "{name}");
        }
        assert_eq!(response.headers()["x-kept"], "yes");
    }

    #[test]
    fn a_starting_server_says_when_to_retry_and_a_busy_one_does_not() {
        let starting = service_response(
            Err(CallError::NotLoaded("a".into())),
            DataFormat::Json,
            "c1",
        );
        assert_eq!(starting.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(starting.headers()[header::RETRY_AFTER], "1");
        assert_eq!(starting.headers()[CID_HEADER], "c1");
        let busy = service_response(
            Err(CallError::Busy {
                service: "a".into(),
            }),
            DataFormat::Json,
            "c2",
        );
        assert_eq!(busy.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(!busy.headers().contains_key(header::RETRY_AFTER));
    }
}
