//! The rate-limit routes: definitions (list, create, read, replace, delete) and their
//! attachments.

use super::{AdminClient, Body, ClientError, Method, segment};
use crate::rate_limit::{
    DeletedRateLimit, LimitedKind, RateLimit, RateLimitAttach, RateLimitInfo, RateLimitUse,
};

const RATE_LIMITS: &str = "/zato/api/rate-limits";
const USES: &str = "/zato/api/rate-limit-uses";

fn path(name: &str) -> String {
    format!("{RATE_LIMITS}/{}", segment(name))
}

impl AdminClient {
    /// `GET /zato/api/rate-limits`: the definitions, by name.
    pub async fn rate_limits(&self) -> Result<Vec<RateLimitInfo>, ClientError> {
        self.get(RATE_LIMITS).await
    }

    /// `GET /zato/api/rate-limits/{name}`: one definition.
    pub async fn rate_limit(&self, name: &str) -> Result<RateLimitInfo, ClientError> {
        self.get(&path(name)).await
    }

    /// `POST /zato/api/rate-limits`: creates a definition.
    pub async fn create_rate_limit(&self, def: &RateLimit) -> Result<RateLimitInfo, ClientError> {
        let body = serde_json::to_value(def).expect("a definition serialises");
        self.send(Method::POST, RATE_LIMITS, Body::Json(body))
            .await?
            .json()
    }

    /// `PUT /zato/api/rate-limits/{name}`: replaces definition `name` (`def.name` must
    /// be `name`).
    pub async fn update_rate_limit(
        &self,
        name: &str,
        def: &RateLimit,
    ) -> Result<RateLimitInfo, ClientError> {
        let body = serde_json::to_value(def).expect("a definition serialises");
        self.send(Method::PUT, &path(name), Body::Json(body))
            .await?
            .json()
    }

    /// `DELETE /zato/api/rate-limits/{name}`: deletes a definition nothing is attached to.
    pub async fn delete_rate_limit(&self, name: &str) -> Result<DeletedRateLimit, ClientError> {
        self.send(Method::DELETE, &path(name), Body::Empty)
            .await?
            .json()
    }

    /// `GET /zato/api/rate-limit-uses`: what each definition is attached to.
    pub async fn rate_limit_uses(&self) -> Result<Vec<RateLimitUse>, ClientError> {
        self.get(USES).await
    }

    /// `PUT /zato/api/rate-limit-uses/{type}/{object}`: attaches `rate_limit` to the
    /// object, or detaches its definition (`None`).
    pub async fn attach_rate_limit(
        &self,
        kind: LimitedKind,
        object: &str,
        rate_limit: Option<&str>,
    ) -> Result<Option<RateLimitUse>, ClientError> {
        let body = serde_json::to_value(RateLimitAttach {
            rate_limit: rate_limit.map(str::to_owned),
        })
        .expect("an attachment serialises");
        self.send(
            Method::PUT,
            &format!("{USES}/{}/{}", kind.as_str(), segment(object)),
            Body::Json(body),
        )
        .await?
        .json()
    }
}
