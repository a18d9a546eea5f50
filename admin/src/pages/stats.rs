//! `/stats`: the services with the most calls, errors or the longest mean duration, and
//! `/stats/services/{name}`: one service's figures with charts (duration percentiles and
//! calls per point over the last hour, day or week), its slowest calls and its last call.
//!
//! The charts are SVG drawn here, on the server: no script, nothing fetched.

use std::fmt::Write as _;

use askama::Template;
use axum::extract::{Extension, Path, Query, State};
use axum::response::Response;
use serde::Deserialize;
use zato_api::{CallSample, ServiceStats, StatsOrder, StatsPoint, StatsRange};

use super::format_time;
use crate::app::{Chrome, PageError, Shared, render, seg};
use crate::auth::Session;

/// The spans the top list offers, as (value, label); "" is the whole history.
const SPANS: [(&str, &str); 5] = [
    ("", "all time"),
    ("1h", "last hour"),
    ("1d", "last day"),
    ("7d", "last week"),
    ("30d", "last 30 days"),
];

/// A row of figures, formatted.
struct Figures {
    name: String,
    link: String,
    count: u64,
    errors: u64,
    timeouts: u64,
    mean: String,
    p50: String,
    p95: String,
    p99: String,
    max: String,
}

fn ms(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| format!("{v:.3}"))
}

impl From<&ServiceStats> for Figures {
    fn from(s: &ServiceStats) -> Self {
        Self {
            name: s.service.clone(),
            link: seg(&s.service),
            count: s.count,
            errors: s.errors,
            timeouts: s.timeouts,
            mean: ms(s.mean_ms),
            p50: ms(s.p50_ms),
            p95: ms(s.p95_ms),
            p99: ms(s.p99_ms),
            max: ms(s.max_ms),
        }
    }
}

#[derive(Template)]
#[template(path = "stats.html")]
struct TopPage {
    chrome: Chrome,
    by: &'static str,
    last: String,
    spans: [(&'static str, &'static str); 5],
    rows: Vec<Figures>,
}

/// The top list's query.
#[derive(Debug, Default, Deserialize)]
pub struct TopQuery {
    #[serde(default)]
    by: Option<String>,
    #[serde(default)]
    last: Option<String>,
}

/// `GET /stats`.
pub async fn top(
    State(app): Shared,
    Extension(session): Extension<Session>,
    Query(query): Query<TopQuery>,
) -> Result<Response, PageError> {
    let by: StatsOrder = query
        .by
        .as_deref()
        .and_then(|b| b.parse().ok())
        .unwrap_or(StatsOrder::Count);
    let last = query
        .last
        .filter(|l| SPANS.iter().any(|(value, _)| value == l))
        .unwrap_or_default();
    let cluster = app.cluster(&session)?;
    let span = (!last.is_empty()).then_some(last.as_str());
    let top = app
        .clusters
        .call(&cluster, true, |c| async move {
            c.stats_top(by, span, 100).await
        })
        .await?;
    Ok(render(&TopPage {
        chrome: app.chrome(&session, "stats"),
        by: by.as_str(),
        last,
        spans: SPANS,
        rows: top.services.iter().map(Figures::from).collect(),
    }))
}

/// One slow call or sample, formatted.
struct CallRow {
    cid: String,
    at: String,
    duration: String,
    server: String,
    channel: String,
    status: u16,
    error: String,
    request: String,
    request_truncated: bool,
    request_headers: Vec<(String, String)>,
    response: String,
    response_truncated: bool,
    private: bool,
}

impl From<&CallSample> for CallRow {
    fn from(s: &CallSample) -> Self {
        Self {
            cid: s.cid.clone(),
            at: format_time(i64::try_from(s.at_ms).unwrap_or(0)),
            duration: format!("{:.3}", s.duration_ms),
            server: s.server.clone(),
            channel: format!("{} {}", s.channel, s.channel_name)
                .trim()
                .to_owned(),
            status: s.status,
            error: s.error.clone().unwrap_or_default(),
            request: s.request.clone(),
            request_truncated: s.request_truncated,
            request_headers: s
                .request_headers
                .iter()
                .map(|h| (h.name.clone(), h.value.clone()))
                .collect(),
            response: s.response.clone(),
            response_truncated: s.response_truncated,
            private: s.private,
        }
    }
}

#[derive(Template)]
#[template(path = "stats_service.html")]
struct ServicePage {
    chrome: Chrome,
    name: String,
    link: String,
    range: &'static str,
    whole: Figures,
    span: Figures,
    points: usize,
    durations_svg: String,
    counts_svg: String,
    slow: Vec<CallRow>,
    sample: Option<CallRow>,
}

/// The service page's query.
#[derive(Debug, Default, Deserialize)]
pub struct ServiceQuery {
    #[serde(default)]
    range: Option<String>,
}

/// `GET /stats/services/{name}`.
pub async fn service(
    State(app): Shared,
    Extension(session): Extension<Session>,
    Path(name): Path<String>,
    Query(query): Query<ServiceQuery>,
) -> Result<Response, PageError> {
    let range: StatsRange = query
        .range
        .as_deref()
        .and_then(|r| r.parse().ok())
        .unwrap_or(StatsRange::Hour);
    let span = match range {
        StatsRange::Hour => "1h",
        StatsRange::Day => "1d",
        StatsRange::Week => "7d",
    };
    let cluster = app.cluster(&session)?;
    let n = name.as_str();
    let (whole, recent, series, slow) = tokio::try_join!(
        app.clusters.call(
            &cluster,
            true,
            |c| async move { c.service_stats(n, None).await }
        ),
        app.clusters.call(&cluster, true, |c| async move {
            c.service_stats(n, Some(span)).await
        }),
        app.clusters.call(
            &cluster,
            true,
            |c| async move { c.stats_series(n, range).await }
        ),
        app.clusters
            .call(&cluster, true, |c| async move { c.service_slow(n).await }),
    )?;
    // None sampled yet (or samples off) is not a failure of the page.
    let sample = app
        .clusters
        .call(&cluster, true, |c| async move { c.service_sample(n).await })
        .await
        .ok();
    let label = range == StatsRange::Week;
    Ok(render(&ServicePage {
        chrome: app.chrome(&session, "stats"),
        link: seg(&name),
        range: range.as_str(),
        whole: Figures::from(&whole),
        span: Figures::from(&recent),
        points: series.points.len(),
        durations_svg: durations_chart(&series.points, label),
        counts_svg: counts_chart(&series.points, label),
        slow: slow.iter().map(CallRow::from).collect(),
        sample: sample.as_ref().map(CallRow::from),
        name,
    }))
}

const WIDTH: f64 = 760.0;
const HEIGHT: f64 = 220.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 28.0;

/// A point's time as the chart labels it (UTC).
fn time_label(at_ms: i64, with_date: bool) -> String {
    // `YYYY-MM-DD HH:MM:SS`
    let full = format_time(at_ms);
    let start = if with_date { 5 } else { 11 };
    full.get(start..16).unwrap_or(&full).to_owned()
}

/// A round upper bound for the y axis.
fn nice_max(max: f64) -> f64 {
    if max <= 0.0 {
        return 1.0;
    }
    let magnitude = 10f64.powf(max.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|m| *m >= max)
        .unwrap_or(max)
}

/// The frame of a chart: its svg element, grid lines with their values, and time
/// labels under the first, middle and last points.
fn frame(
    svg: &mut String,
    class: &str,
    label: &str,
    y_max: f64,
    unit: &str,
    points: &[StatsPoint],
    format: bool,
) {
    let _ = write!(
        svg,
        r#"<svg class="chart {class}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{label}" xmlns="http://www.w3.org/2000/svg">"#
    );
    for i in 0..=4 {
        let value = y_max * f64::from(i) / 4.0;
        let y = TOP + (HEIGHT - TOP - BOTTOM) * (1.0 - f64::from(i) / 4.0);
        let _ = write!(
            svg,
            r#"<line class="grid" x1="{LEFT}" x2="{}" y1="{y:.1}" y2="{y:.1}"/><text class="axis" x="{}" y="{:.1}" text-anchor="end">{}{unit}</text>"#,
            WIDTH - RIGHT,
            LEFT - 6.0,
            y + 4.0,
            trim_number(value)
        );
    }
    if let (Some(first), Some(last)) = (points.first(), points.last()) {
        let middle = &points[points.len() / 2];
        for (point, anchor, x) in [
            (first, "start", LEFT),
            (middle, "middle", LEFT + (WIDTH - LEFT - RIGHT) / 2.0),
            (last, "end", WIDTH - RIGHT),
        ] {
            let _ = write!(
                svg,
                r#"<text class="axis" x="{x:.1}" y="{}" text-anchor="{anchor}">{}</text>"#,
                HEIGHT - 8.0,
                time_label(point.at_ms, format)
            );
        }
    }
}

fn trim_number(value: f64) -> String {
    if value >= 100.0 || value.fract() == 0.0 {
        format!("{value:.0}")
    } else if value >= 1.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}

/// The x of point `i` of `n` (the middle of its slot).
fn x_of(i: usize, n: usize) -> f64 {
    let slot = (WIDTH - LEFT - RIGHT) / n.max(1) as f64;
    LEFT + slot * (i as f64 + 0.5)
}

fn y_of(value: f64, max: f64) -> f64 {
    TOP + (HEIGHT - TOP - BOTTOM) * (1.0 - value / max)
}

/// One figure of a point.
type Figure = fn(&StatsPoint) -> Option<f64>;

/// p50, p95 and p99 of durations as lines (a gap where there were no calls), each
/// point with a tooltip.
pub fn durations_chart(points: &[StatsPoint], format: bool) -> String {
    let max = points
        .iter()
        .filter_map(|p| p.p99_ms)
        .fold(0.0f64, f64::max);
    let y_max = nice_max(max);
    let mut svg = String::new();
    frame(
        &mut svg,
        "durations",
        "Duration percentiles in ms",
        y_max,
        " ms",
        points,
        format,
    );
    let lines: [(&str, Figure); 3] = [
        ("p50", |p| p.p50_ms),
        ("p95", |p| p.p95_ms),
        ("p99", |p| p.p99_ms),
    ];
    for (class, value) in lines {
        // One polyline per run of points with calls.
        let mut run: Vec<String> = Vec::new();
        let flush = |run: &mut Vec<String>, svg: &mut String| {
            if run.len() == 1 {
                let (x, y) = run[0].split_once(',').unwrap_or(("0", "0"));
                let _ = write!(
                    svg,
                    r#"<circle class="{class}" cx="{x}" cy="{y}" r="2.5"/>"#
                );
            } else if run.len() > 1 {
                let _ = write!(
                    svg,
                    r#"<polyline class="{class}" points="{}"/>"#,
                    run.join(" ")
                );
            }
            run.clear();
        };
        for (i, point) in points.iter().enumerate() {
            match value(point) {
                Some(v) => run.push(format!(
                    "{:.1},{:.1}",
                    x_of(i, points.len()),
                    y_of(v, y_max)
                )),
                None => flush(&mut run, &mut svg),
            }
        }
        flush(&mut run, &mut svg);
    }
    // Invisible hover targets with every figure of the point.
    for (i, point) in points.iter().enumerate().filter(|(_, p)| p.count > 0) {
        let slot = (WIDTH - LEFT - RIGHT) / points.len().max(1) as f64;
        let _ = write!(
            svg,
            r#"<rect class="hover" x="{:.1}" y="{TOP}" width="{slot:.1}" height="{:.1}"><title>{}: p50 {} ms, p95 {} ms, p99 {} ms, mean {} ms</title></rect>"#,
            x_of(i, points.len()) - slot / 2.0,
            HEIGHT - TOP - BOTTOM,
            time_label(point.at_ms, format),
            ms(point.p50_ms),
            ms(point.p95_ms),
            ms(point.p99_ms),
            ms(point.mean_ms),
        );
    }
    svg.push_str(r#"<g class="legend"><text class="p50" x="72" y="24">p50</text><text class="p95" x="110" y="24">p95</text><text class="p99" x="148" y="24">p99</text></g></svg>"#);
    svg
}

/// Calls per point as bars, their errors in red on top of them.
pub fn counts_chart(points: &[StatsPoint], format: bool) -> String {
    let max = points.iter().map(|p| p.count).max().unwrap_or(0) as f64;
    let y_max = nice_max(max);
    let mut svg = String::new();
    frame(
        &mut svg,
        "counts",
        "Calls per point",
        y_max,
        "",
        points,
        format,
    );
    let slot = (WIDTH - LEFT - RIGHT) / points.len().max(1) as f64;
    let width = (slot * 0.8).max(1.0);
    for (i, point) in points.iter().enumerate().filter(|(_, p)| p.count > 0) {
        let x = x_of(i, points.len()) - width / 2.0;
        let top = y_of(point.count as f64, y_max);
        let base = y_of(0.0, y_max);
        let _ = write!(
            svg,
            r#"<rect class="bar" data-count="{}" data-errors="{}" x="{x:.1}" y="{top:.1}" width="{width:.1}" height="{:.1}"><title>{}: {} calls, {} errors</title></rect>"#,
            point.count,
            point.errors,
            base - top,
            time_label(point.at_ms, format),
            point.count,
            point.errors
        );
        if point.errors > 0 {
            let error_top = y_of(point.errors as f64, y_max);
            let _ = write!(
                svg,
                r#"<rect class="errors" x="{x:.1}" y="{error_top:.1}" width="{width:.1}" height="{:.1}"/>"#,
                base - error_top
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(i: i64, count: u64, p99: Option<f64>) -> StatsPoint {
        StatsPoint {
            at_ms: 1_700_000_000_000 + i * 60_000,
            count,
            errors: count / 4,
            mean_ms: p99.map(|v| v / 2.0),
            p50_ms: p99.map(|v| v / 3.0),
            p95_ms: p99.map(|v| v * 0.9),
            p99_ms: p99,
        }
    }

    #[test]
    fn charts_draw_a_bar_per_point_with_calls_and_break_lines_where_there_were_none() {
        let points = vec![
            point(0, 4, Some(12.0)),
            point(1, 0, None),
            point(2, 8, Some(30.0)),
            point(3, 2, Some(18.0)),
        ];
        let counts = counts_chart(&points, false);
        assert_eq!(counts.matches(r#"class="bar""#).count(), 3);
        assert!(counts.contains(r#"data-count="8""#));
        assert_eq!(counts.matches(r#"class="errors""#).count(), 2, "{counts}");
        let durations = durations_chart(&points, false);
        // p99: a lone point before the gap, a line of two after it.
        assert_eq!(durations.matches(r#"<circle class="p99""#).count(), 1);
        assert_eq!(durations.matches(r#"<polyline class="p99""#).count(), 1);
        assert!(durations.contains("p99 30.000 ms"), "{durations}");
        assert!(durations.ends_with("</svg>"));
        // The axis goes to a round value above the highest p99.
        assert_eq!(nice_max(30.0), 50.0);
        assert_eq!(nice_max(0.0), 1.0);
        assert_eq!(nice_max(7.0), 10.0);
    }
}
