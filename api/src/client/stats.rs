//! Usage statistics of services.

use super::{AdminClient, ClientError, segment};
use crate::stats::{CallSample, ServiceStats, StatsOrder, StatsRange, StatsSeries, StatsTop};

impl AdminClient {
    /// `GET /zato/api/stats/services/{name}`: a service's figures over its whole
    /// recorded history, or over the last `last` (a span such as `15m`, `1h`, `7d`).
    pub async fn service_stats(
        &self,
        name: &str,
        last: Option<&str>,
    ) -> Result<ServiceStats, ClientError> {
        let mut path = format!("/zato/api/stats/services/{}", segment(name));
        if let Some(last) = last {
            path.push_str(&format!("?last={}", segment(last)));
        }
        self.get(&path).await
    }

    /// `GET /zato/api/stats/services/{name}/series`: a service's figures over the last
    /// hour, day or week, point by point (for charts).
    pub async fn stats_series(
        &self,
        name: &str,
        range: StatsRange,
    ) -> Result<StatsSeries, ClientError> {
        self.get(&format!(
            "/zato/api/stats/services/{}/series?range={}",
            segment(name),
            range.as_str()
        ))
        .await
    }

    /// `GET /zato/api/stats/top`: the `limit` services with the most calls, errors or
    /// the longest mean duration, over their whole history or the last `last`.
    pub async fn stats_top(
        &self,
        by: StatsOrder,
        last: Option<&str>,
        limit: usize,
    ) -> Result<StatsTop, ClientError> {
        let mut path = format!("/zato/api/stats/top?by={}&limit={limit}", by.as_str());
        if let Some(last) = last {
            path.push_str(&format!("&last={}", segment(last)));
        }
        self.get(&path).await
    }
}

impl AdminClient {
    /// `GET /zato/api/stats/services/{name}/sample`: a service's last call (404 when
    /// none was sampled).
    pub async fn service_sample(&self, name: &str) -> Result<CallSample, ClientError> {
        self.get(&format!(
            "/zato/api/stats/services/{}/sample",
            segment(name)
        ))
        .await
    }

    /// `GET /zato/api/stats/services/{name}/slow`: a service's slowest calls over its
    /// threshold, slowest first.
    pub async fn service_slow(&self, name: &str) -> Result<Vec<CallSample>, ClientError> {
        self.get(&format!("/zato/api/stats/services/{}/slow", segment(name)))
            .await
    }
}
