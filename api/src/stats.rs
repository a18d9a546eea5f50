//! Usage statistics of services: what `GET /zato/api/stats/...` answers.
//!
//! Every call of a service through a channel (HTTP, SOAP, the scheduler, AMQP, ZeroMQ,
//! the admin API's invoke, asynchronous invokes) is counted by the server that ran it
//! and written to the cluster's KVDB in per-minute aggregates, which the singleton rolls
//! up into hours and days. Durations are the server's: from the channel handing the call
//! to the runtime until the service answered. Percentiles come from histograms with a
//! relative error of at most 1%.

use serde::{Deserialize, Serialize};

use crate::outconn::Header;

/// The longest span `last` may name: 400 days.
pub const MAX_SPAN_MINUTES: u64 = 400 * 1440;

/// A service's figures over a span of time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ServiceStats {
    /// The service.
    pub service: String,
    /// Start of the span, ms since the Unix epoch (a whole minute; for the whole
    /// history, the start of the day of its first recorded call).
    pub from_ms: i64,
    /// End of the span (now), ms since the Unix epoch.
    pub to_ms: i64,
    /// Calls.
    pub count: u64,
    /// Calls that failed: the service trapped, returned an error, ran out of time or
    /// was refused its input.
    pub errors: u64,
    /// Of `errors`, the calls that ran out of time.
    pub timeouts: u64,
    /// The shortest call, in ms; none without calls.
    pub min_ms: Option<f64>,
    /// The longest call, in ms; none without calls.
    pub max_ms: Option<f64>,
    /// The mean duration, in ms; none without calls.
    pub mean_ms: Option<f64>,
    /// The median duration, in ms; none without calls.
    pub p50_ms: Option<f64>,
    /// The 95th percentile of durations, in ms; none without calls.
    pub p95_ms: Option<f64>,
    /// The 99th percentile of durations, in ms; none without calls.
    pub p99_ms: Option<f64>,
}

/// What `GET /zato/api/stats/top` orders services by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum StatsOrder {
    /// The mean duration, longest first.
    Mean,
    /// The number of calls, most first.
    Count,
    /// The number of failed calls, most first.
    Errors,
}

impl StatsOrder {
    /// The name used in URLs and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Mean => "mean",
            Self::Count => "count",
            Self::Errors => "errors",
        }
    }
}

impl std::str::FromStr for StatsOrder {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "mean" => Ok(Self::Mean),
            "count" => Ok(Self::Count),
            "errors" => Ok(Self::Errors),
            other => Err(format!(
                "cannot order by `{other}`: expected mean, count or errors"
            )),
        }
    }
}

/// A service's last call, or one of its slow ones (`GET
/// /zato/api/stats/services/{name}/sample` and `.../slow`). Headers that carry
/// credentials (Authorization, cookies, API keys, tokens) are never kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CallSample {
    /// The call's correlation id.
    pub cid: String,
    /// When it started, ms since the Unix epoch.
    pub at_ms: u64,
    /// How long it took, in ms.
    pub duration_ms: f64,
    /// The server that ran it.
    pub server: String,
    /// The channel kind it came through (`http`, `amqp`, `scheduler`, ...).
    pub channel: String,
    /// The channel's name (for an invoke, the calling service's).
    pub channel_name: String,
    /// The status it answered (the service's, or its error's).
    pub status: u16,
    /// The error, when it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The request's payload as text (invalid UTF-8 replaced), cut at the server's
    /// `[stats] sample_max_bytes`.
    pub request: String,
    /// Whether `request` was cut.
    pub request_truncated: bool,
    /// The request's headers (lowercase names), those with credentials left out.
    pub request_headers: Vec<Header>,
    /// The response's payload as text, cut like the request's.
    pub response: String,
    /// Whether `response` was cut.
    pub response_truncated: bool,
    /// The response's headers, those with credentials left out.
    pub response_headers: Vec<Header>,
    /// The service's configuration keeps its payloads private: none was kept.
    #[serde(default)]
    pub private: bool,
}

/// The services with the most calls, errors or the longest mean duration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StatsTop {
    /// What they are ordered by.
    pub by: StatsOrder,
    /// The services, first the one with the most (or longest); none without calls.
    pub services: Vec<ServiceStats>,
}

/// The span a chart of [`StatsSeries`] covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum StatsRange {
    /// The last hour, a point a minute.
    Hour,
    /// The last day, a point each 15 minutes.
    Day,
    /// The last week, a point an hour.
    Week,
}

impl StatsRange {
    /// The name used in URLs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hour => "hour",
            Self::Day => "day",
            Self::Week => "week",
        }
    }

    /// (points, minutes a point covers).
    pub fn points(self) -> (u64, u64) {
        match self {
            Self::Hour => (60, 1),
            Self::Day => (96, 15),
            Self::Week => (168, 60),
        }
    }
}

impl std::str::FromStr for StatsRange {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "hour" => Ok(Self::Hour),
            "day" => Ok(Self::Day),
            "week" => Ok(Self::Week),
            other => Err(format!(
                "unknown range `{other}`: expected hour, day or week"
            )),
        }
    }
}

/// One point of a chart: the calls that started in `[at_ms, at_ms + step)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StatsPoint {
    /// Start of the point's span, ms since the Unix epoch.
    pub at_ms: i64,
    /// Calls.
    pub count: u64,
    /// Failed calls.
    pub errors: u64,
    /// Mean duration in ms; none without calls.
    pub mean_ms: Option<f64>,
    /// Median duration in ms; none without calls.
    pub p50_ms: Option<f64>,
    /// 95th percentile in ms; none without calls.
    pub p95_ms: Option<f64>,
    /// 99th percentile in ms; none without calls.
    pub p99_ms: Option<f64>,
}

/// A service's figures over the last hour, day or week, point by point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StatsSeries {
    /// The service.
    pub service: String,
    /// The span covered.
    pub range: StatsRange,
    /// How long each point covers, in s.
    pub step_s: u64,
    /// The points, oldest first; the last one is the current (partial) one.
    pub points: Vec<StatsPoint>,
}

/// Parses a span such as `90s` (rounded up to whole minutes), `15m`, `1h`, `2d` or `1w`
/// into minutes.
pub fn parse_span(span: &str) -> Result<u64, String> {
    let wrong = || {
        format!(
            "cannot read the span `{span}`: expected a number and a unit, s, m, h, d or w \
             (e.g. 15m, 1h, 7d), at most 400 days"
        )
    };
    let split = span.find(|c: char| !c.is_ascii_digit()).ok_or_else(wrong)?;
    let (number, unit) = span.split_at(split);
    let number: u64 = number.parse().map_err(|_| wrong())?;
    let minutes = match unit {
        "s" => number.div_ceil(60),
        "m" => number,
        "h" => number.checked_mul(60).ok_or_else(wrong)?,
        "d" => number.checked_mul(1440).ok_or_else(wrong)?,
        "w" => number.checked_mul(7 * 1440).ok_or_else(wrong)?,
        _ => return Err(wrong()),
    };
    if minutes == 0 || minutes > MAX_SPAN_MINUTES {
        return Err(wrong());
    }
    Ok(minutes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_are_read_in_minutes_and_bad_ones_are_named() {
        assert_eq!(parse_span("1h"), Ok(60));
        assert_eq!(parse_span("15m"), Ok(15));
        assert_eq!(parse_span("90s"), Ok(2));
        assert_eq!(parse_span("2d"), Ok(2880));
        assert_eq!(parse_span("1w"), Ok(10080));
        for bad in [
            "",
            "h",
            "1",
            "0m",
            "1y",
            "-1h",
            "1.5h",
            "401d",
            "99999999999999999999m",
        ] {
            let err = parse_span(bad).unwrap_err();
            assert!(err.contains(&format!("`{bad}`")), "{bad}: {err}");
        }
    }

    #[test]
    fn orders_and_ranges_round_trip_through_their_names() {
        for by in [StatsOrder::Mean, StatsOrder::Count, StatsOrder::Errors] {
            assert_eq!(by.as_str().parse::<StatsOrder>(), Ok(by));
        }
        for range in [StatsRange::Hour, StatsRange::Day, StatsRange::Week] {
            assert_eq!(range.as_str().parse::<StatsRange>(), Ok(range));
        }
        assert!("p99".parse::<StatsOrder>().unwrap_err().contains("`p99`"));
    }
}
