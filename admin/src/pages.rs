//! The pages, one module per area, and the small formatting helpers their templates
//! share.

pub mod channels;
pub mod dashboard;
pub mod dictionaries;
pub mod enmasse;
pub mod invoke;
pub mod login;
pub mod msg_channels;
pub mod outconn;
pub mod rate_limits;
pub mod scheduler;
pub mod security;
pub mod services;
pub mod settings;
pub mod soap_channels;
pub mod stats;
pub mod upload;
pub mod users;

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use zato_api::{AdminClient, ClientError};

use crate::app::{App, PageError, render, see_other, seg};
use crate::auth::Session;

/// A list page's query: `?q=` filters by a substring of the name (and a few fields).
#[derive(Debug, Default, Deserialize)]
pub struct Search {
    /// The text to look for, case-insensitive.
    #[serde(default)]
    pub q: String,
}

impl Search {
    /// Whether any of `fields` contains the search text (or there is none).
    pub fn matches(&self, fields: &[&str]) -> bool {
        let q = self.q.trim().to_lowercase();
        q.is_empty() || fields.iter().any(|f| f.to_lowercase().contains(&q))
    }
}

/// A form's failures: by field, and at the top for those no field explains.
#[derive(Debug, Default, Clone)]
pub struct FormErrors {
    /// Messages shown above the form.
    pub top: Vec<String>,
    /// Field name -> its message.
    pub fields: BTreeMap<&'static str, String>,
}

impl FormErrors {
    /// The message of `field`, if any (templates call it).
    pub fn field(&self, field: &str) -> Option<&str> {
        self.fields.get(field).map(String::as_str)
    }

    /// Whether there is any failure.
    pub fn any(&self) -> bool {
        !self.top.is_empty() || !self.fields.is_empty()
    }

    /// Sets `field`'s message.
    pub fn set(&mut self, field: &'static str, message: impl Into<String>) {
        self.fields.insert(field, message.into());
    }
}

/// A delete that asks first: its confirmation page, and the delete itself, which goes
/// on to where `done` says with a notice or, refused by the cluster, shows the page
/// again with why, in the refusal's status.
pub struct Deletion {
    /// The nav section the page belongs to.
    pub section: &'static str,
    pub title: String,
    /// What is about to happen.
    pub question: String,
    /// Where the confirmation posts.
    pub action: String,
    /// Where "Cancel" goes.
    pub cancel: String,
}

impl Deletion {
    /// The confirmation page, with why an earlier try failed.
    pub fn page(&self, app: &App, session: &Session, errors: Vec<String>) -> Response {
        render(&services::ConfirmPage {
            chrome: app.chrome(session, self.section),
            title: self.title.clone(),
            question: self.question.clone(),
            action: self.action.clone(),
            button: "Delete".into(),
            cancel: self.cancel.clone(),
            errors,
        })
    }

    /// Runs the delete `call` against the session's cluster; on success, a redirect to
    /// the page and notice `done` makes of its answer: `(path, notice)`.
    pub async fn run<T, F, Fut>(
        &self,
        app: &App,
        session: &Session,
        call: F,
        done: impl FnOnce(T) -> (String, String),
    ) -> Result<Response, PageError>
    where
        F: Fn(AdminClient) -> Fut,
        Fut: Future<Output = Result<T, ClientError>>,
    {
        let cluster = app.cluster(session)?;
        match app.clusters.call(&cluster, false, call).await {
            Ok(deleted) => {
                let (to, notice) = done(deleted);
                Ok(see_other(&format!("{to}?done={}", seg(&notice))))
            }
            Err(e) => match e.refusal() {
                Some((status, message)) => {
                    let mut page = self.page(app, session, vec![message.to_owned()]);
                    if let Ok(status) = StatusCode::from_u16(status) {
                        *page.status_mut() = status;
                    }
                    Ok(page)
                }
                None => Err(e.into()),
            },
        }
    }
}

/// Milliseconds since the Unix epoch now.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// A time in ms since the Unix epoch as `YYYY-MM-DD HH:MM:SS` (UTC).
pub fn format_time(ms: i64) -> String {
    if ms <= 0 {
        return "-".into();
    }
    let secs = ms.div_euclid(1000);
    let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// How long ago a time in ms since the Unix epoch was, e.g. `3 s ago`.
pub fn format_ago(ms: i64) -> String {
    if ms <= 0 {
        return "never".into();
    }
    let s = (now_ms() - ms).max(0) / 1000;
    match s {
        0..120 => format!("{s} s ago"),
        120..7200 => format!("{} min ago", s / 60),
        7200..172_800 => format!("{} h ago", s / 3600),
        _ => format!("{} days ago", s / 86_400),
    }
}

/// A size in bytes for people: `812 B`, `1.4 KiB`, `2.0 MiB`.
pub fn format_size(bytes: i64) -> String {
    let b = bytes as f64;
    if bytes < 1024 {
        format!("{bytes} B")
    } else if b < 1024.0 * 1024.0 {
        format!("{:.1} KiB", b / 1024.0)
    } else {
        format!("{:.1} MiB", b / (1024.0 * 1024.0))
    }
}

/// The first 12 hex characters of a sha256.
pub fn short_sha(sha: &str) -> &str {
    &sha[..sha.len().min(12)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_sizes_read_as_people_write_them() {
        assert_eq!(format_time(0), "-");
        assert_eq!(format_time(1_700_000_000_000), "2023-11-14 22:13:20");
        assert_eq!(format_time(951_782_400_000), "2000-02-29 00:00:00");
        assert_eq!(format_size(812), "812 B");
        assert_eq!(format_size(1536), "1.5 KiB");
        assert_eq!(format_size(3 << 20), "3.0 MiB");
        assert_eq!(short_sha("abc"), "abc");
        assert!(format_ago(now_ms() - 5_000).ends_with("s ago"));
    }

    #[test]
    fn a_search_matches_any_field_case_insensitively() {
        let search = Search {
            q: " HeLLo ".into(),
        };
        assert!(search.matches(&["demo.hello"]));
        assert!(search.matches(&["x", "say hello"]));
        assert!(!search.matches(&["demo.bye"]));
        assert!(Search::default().matches(&["anything"]));
    }
}
