//! Asynchronous invokes: queueing one, and where it stands.

use bytes::Bytes;

use super::{AdminClient, Body, ClientError, Method, segment};
use crate::async_invoke::{AsyncOutcome, AsyncQueued};
use crate::services::DataFormat;

impl AdminClient {
    /// `POST /zato/api/services/{name}/invoke?async=true`: queues a call of `name` with
    /// `payload` and returns its cid at once (202); `callback` names a service told of
    /// the outcome. A service that is not deployed is refused (404).
    pub async fn invoke_async(
        &self,
        name: &str,
        payload: impl Into<Bytes>,
        data_format: DataFormat,
        callback: Option<&str>,
    ) -> Result<AsyncQueued, ClientError> {
        let mut path = format!(
            "/zato/api/services/{}/invoke?async=true&data_format={}",
            segment(name),
            data_format.as_str()
        );
        if let Some(callback) = callback {
            path.push_str(&format!("&callback={}", segment(callback)));
        }
        self.send(Method::POST, &path, Body::Bytes(payload.into()))
            .await?
            .json()
    }

    /// `GET /zato/api/async/{cid}`: where an asynchronous call stands (404 for a cid
    /// never queued, or whose outcome is no longer kept).
    pub async fn async_outcome(&self, cid: &str) -> Result<AsyncOutcome, ClientError> {
        self.get(&format!("/zato/api/async/{}", segment(cid))).await
    }
}
