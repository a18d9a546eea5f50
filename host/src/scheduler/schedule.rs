//! When a job fires: a job's definition checked and compiled into a [`Plan`] that
//! answers its fire times, in its time zone, skipping its calendars' dates.
//!
//! Pure computation (no I/O, no clock: every function takes the instant it works
//! from), so that `zato scheduler next` and the planner agree by construction. Times are
//! milliseconds since the Unix epoch. An interval job's next time is arithmetic, a cron
//! job's a croner search on local times (`cron.rs`), so the planner can ask every job
//! every second.

#[path = "cron.rs"]
mod cron;

use chrono::{
    DateTime, FixedOffset, LocalResult, NaiveDate, NaiveDateTime, SecondsFormat, TimeZone,
};
use chrono_tz::{GapInfo, Tz};

use crate::api::{Calendar, Job, Schedule};

/// How many fire times in a row calendars may skip before a job is taken to have no
/// more. Each skip moves on to the next day, so only a job whose calendars list this
/// many consecutive fire dates reaches it.
pub const MAX_SKIPPED: usize = 100_000;

/// A job's schedule, checked and ready to answer fire times.
#[derive(Debug, Clone)]
pub struct Plan {
    tz: Tz,
    kind: Kind,
    /// The dates of the job's calendars, sorted, without duplicates.
    skipped: Vec<NaiveDate>,
}

#[derive(Debug, Clone)]
enum Kind {
    OneTime {
        at: i64,
    },
    /// Fires at `anchor + k * every` for `k` from 0, below `repeats` if set.
    Interval {
        anchor: i64,
        every: i64,
        repeats: Option<u64>,
    },
    Cron(Box<cron::Expression>),
}

impl Plan {
    /// Checks `job` (its time zone, its schedule, the calendars it names among
    /// `calendars`) and compiles it. `created_at` (ms) anchors an interval job without
    /// a start. The error is one line naming the field that is wrong and why, e.g.
    /// "schedule.expression: `*/61 * * * *`: minute step 61 is out of range (1-59)".
    pub fn new(job: &Job, created_at: i64, calendars: &[Calendar]) -> Result<Self, String> {
        let tz = parse_zone(&job.timezone).map_err(|e| format!("timezone: {e}"))?;
        let kind = match &job.schedule {
            Schedule::OneTime { at } => Kind::OneTime {
                at: parse_time(at, tz).map_err(|e| format!("schedule.at: {e}"))?,
            },
            Schedule::Interval {
                weeks,
                days,
                hours,
                minutes,
                seconds,
                start,
                repeats,
                after_last: _,
            } => {
                let every = interval_ms(*weeks, *days, *hours, *minutes, *seconds)
                    .map_err(|e| format!("schedule: {e}"))?;
                if *repeats == Some(0) {
                    return Err("schedule.repeats: must be at least 1, not 0".to_owned());
                }
                let anchor = match start {
                    Some(start) => {
                        parse_time(start, tz).map_err(|e| format!("schedule.start: {e}"))?
                    }
                    None => created_at.checked_add(every).ok_or(
                        "schedule: the first firing (creation + interval) is out of range",
                    )?,
                };
                Kind::Interval {
                    anchor,
                    every,
                    repeats: *repeats,
                }
            }
            Schedule::Cron { expression } => Kind::Cron(Box::new(
                cron::Expression::parse(expression)
                    .map_err(|e| format!("schedule.expression: {e}"))?,
            )),
        };
        let mut skipped = Vec::new();
        for name in &job.calendars {
            let calendar = calendars
                .iter()
                .find(|c| &c.name == name)
                .ok_or_else(|| format!("calendars: calendar `{name}` does not exist"))?;
            for date in &calendar.dates {
                skipped.push(parse_date(date).ok_or_else(|| {
                    format!("calendars: calendar `{name}`: `{date}` is not a date as YYYY-MM-DD")
                })?);
            }
        }
        skipped.sort_unstable();
        skipped.dedup();
        Ok(Self { tz, kind, skipped })
    }

    /// The first fire time strictly after `after` (ms), skipping calendar dates; none
    /// when the job has no more (a one-time job that fired, the last repeat, a cron
    /// expression that never matches, [`MAX_SKIPPED`] skipped in a row).
    pub fn next_after(&self, after: i64) -> Option<i64> {
        let mut after = after;
        for _ in 0..=MAX_SKIPPED {
            let at = self.scheduled_after(after)?;
            if self.skipped.is_empty() {
                return Some(at);
            }
            let date = local(at, self.tz)?.date();
            if self.skipped.binary_search(&date).is_err() {
                return Some(at);
            }
            // Skip the rest of that day at once, not one fire time at a time (an
            // every-second job has 86,400 of them).
            let next_day = start_of_day(date.succ_opt()?, self.tz)?;
            after = next_day.saturating_sub(1).max(at);
        }
        None
    }

    /// The first `count` fire times after `after` (ms), fewer if the job has no more.
    pub fn fire_times(&self, after: i64, count: usize) -> Vec<i64> {
        let mut times = Vec::with_capacity(count.min(1024));
        let mut after = after;
        while times.len() < count {
            let Some(at) = self.next_after(after) else {
                break;
            };
            times.push(at);
            after = at;
        }
        times
    }

    /// Whether `fire_time` is the job's last one (nothing after it).
    pub fn is_last(&self, fire_time: i64) -> bool {
        self.next_after(fire_time).is_none()
    }

    /// The job's time zone.
    pub fn zone(&self) -> Tz {
        self.tz
    }

    /// The first scheduled time after `after`, calendars aside.
    fn scheduled_after(&self, after: i64) -> Option<i64> {
        match &self.kind {
            Kind::OneTime { at } => (*at > after).then_some(*at),
            Kind::Interval {
                anchor,
                every,
                repeats,
            } => {
                let k = if after < *anchor {
                    0
                } else {
                    (after as i128 - *anchor as i128) / *every as i128 + 1
                };
                if repeats.is_some_and(|n| k >= n as i128) {
                    return None;
                }
                i64::try_from(*anchor as i128 + k * *every as i128).ok()
            }
            Kind::Cron(expression) => {
                // Cron fires on whole seconds: after the second that holds `after`.
                let at = expression.next_after(self.tz, after.div_euclid(1000))?;
                at.checked_mul(1000)
            }
        }
    }
}

/// The interval in ms, at least one second.
fn interval_ms(
    weeks: u64,
    days: u64,
    hours: u64,
    minutes: u64,
    seconds: u64,
) -> Result<i64, String> {
    let sum = [
        (weeks, 7 * 86_400),
        (days, 86_400),
        (hours, 3_600),
        (minutes, 60),
        (seconds, 1),
    ]
    .into_iter()
    .try_fold(0u64, |sum, (n, unit)| n.checked_mul(unit)?.checked_add(sum))
    .and_then(|s| s.checked_mul(1000))
    .and_then(|ms| i64::try_from(ms).ok());
    match sum {
        None => Err("the interval (weeks + days + hours + minutes + seconds) is too long".to_owned()),
        Some(0) => Err(
            "the interval (weeks + days + hours + minutes + seconds) must be at least 1 second, not 0"
                .to_owned(),
        ),
        Some(ms) => Ok(ms),
    }
}

/// A time zone by its IANA name (`UTC`, `Europe/Warsaw`).
pub fn parse_zone(name: &str) -> Result<Tz, String> {
    name.parse::<Tz>()
        .map_err(|_| format!("unknown time zone `{name}`"))
}

/// An ISO 8601 date and time, with an offset or `Z`, or without one (then in `tz`);
/// ms since the Unix epoch. `T` or a space between date and time; seconds and their
/// fraction optional. A local time that a DST change skips is read as the first instant
/// after the gap, a repeated one as its first occurrence.
pub fn parse_time(text: &str, tz: Tz) -> Result<i64, String> {
    let expected = || {
        format!(
            "expected an ISO 8601 date and time such as `2026-12-24T18:00:00`, optionally with \
             an offset (`+01:00` or `Z`), not `{text}`"
        )
    };
    let trimmed = text.trim();
    let (local, offset) = split_offset(trimmed).ok_or_else(expected)?;
    let naive = parse_naive(local).ok_or_else(expected)?;
    let at = match offset {
        Some(seconds) => FixedOffset::east_opt(seconds)
            .ok_or_else(expected)?
            .from_local_datetime(&naive)
            .single()
            .map(|at| at.timestamp_millis()),
        None => instant_of_local(naive, tz),
    };
    at.ok_or_else(|| format!("`{text}` is out of range"))
}

/// `ms` as ISO 8601 with the offset it has in `tz`, e.g. `2026-03-29T03:00:00+02:00`
/// (milliseconds shown only when not zero). An instant beyond chrono's range (some
/// 262,000 years) is shown as its number of ms.
pub fn format_time(ms: i64, tz: Tz) -> String {
    let Some(at) = DateTime::from_timestamp_millis(ms) else {
        return format!("{ms} ms");
    };
    let precision = if ms.rem_euclid(1000) == 0 {
        SecondsFormat::Secs
    } else {
        SecondsFormat::Millis
    };
    at.with_timezone(&tz).to_rfc3339_opts(precision, false)
}

/// Splits a trailing `Z`, `±HH:MM`, `±HHMM` or `±HH` off a date and time: the rest and
/// the offset in seconds, if there is one.
fn split_offset(text: &str) -> Option<(&str, Option<i32>)> {
    if let Some(rest) = text.strip_suffix(['Z', 'z']) {
        return Some((rest, Some(0)));
    }
    // The offset's sign comes after the time's start (the date has `-` of its own).
    let time_at = text.find(['T', 't', ' '])?;
    let Some(sign_at) = text[time_at..].rfind(['+', '-']).map(|i| time_at + i) else {
        return Some((text, None));
    };
    let (rest, offset) = text.split_at(sign_at);
    let rest = rest.trim_end();
    let sign = if offset.starts_with('-') { -1 } else { 1 };
    let digits = offset[1..].replace(':', "");
    if !digits.bytes().all(|b| b.is_ascii_digit()) || ![2, 4].contains(&digits.len()) {
        return None;
    }
    let hours: i32 = digits[..2].parse().ok()?;
    let minutes: i32 = if digits.len() == 4 {
        digits[2..].parse().ok()?
    } else {
        0
    };
    if hours > 23 || minutes > 59 {
        return None;
    }
    Some((rest, Some(sign * (hours * 3600 + minutes * 60))))
}

fn parse_naive(text: &str) -> Option<NaiveDateTime> {
    let text: String = text
        .chars()
        .map(|c| if c == ' ' || c == 't' { 'T' } else { c })
        .collect();
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"]
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(&text, format).ok())
}

/// `YYYY-MM-DD`, exactly.
fn parse_date(text: &str) -> Option<NaiveDate> {
    let b = text.as_bytes();
    let shaped = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    shaped
        .then(|| NaiveDate::parse_from_str(text, "%Y-%m-%d").ok())
        .flatten()
}

/// The instant of a local time in `tz`, ms: a skipped one at the first instant after
/// the gap, a repeated one at its first occurrence.
fn instant_of_local(local: NaiveDateTime, tz: Tz) -> Option<i64> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(at) | LocalResult::Ambiguous(at, _) => Some(at.timestamp_millis()),
        LocalResult::None => GapInfo::new(&local, &tz)?
            .end
            .map(|at| at.timestamp_millis()),
    }
}

/// The first instant of `date` in `tz`, ms.
fn start_of_day(date: NaiveDate, tz: Tz) -> Option<i64> {
    instant_of_local(date.and_hms_opt(0, 0, 0)?, tz)
}

/// The local date and time of `ms` in `tz`.
fn local(ms: i64, tz: Tz) -> Option<NaiveDateTime> {
    Some(
        DateTime::from_timestamp_millis(ms)?
            .with_timezone(&tz)
            .naive_local(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{AfterLast, MissedPolicy};

    fn job(timezone: &str, schedule: Schedule, calendars: &[&str]) -> Job {
        Job {
            name: "billing.nightly".to_owned(),
            service: "demo.hello".to_owned(),
            payload: String::new(),
            data_format: Default::default(),
            timezone: timezone.to_owned(),
            schedule,
            calendars: calendars.iter().map(|c| (*c).to_owned()).collect(),
            missed: MissedPolicy::Once,
            active: true,
            timeout_ms: 0,
        }
    }

    fn cron(expression: &str) -> Schedule {
        Schedule::Cron {
            expression: expression.to_owned(),
        }
    }

    fn every(seconds: u64, start: Option<&str>, repeats: Option<u64>) -> Schedule {
        Schedule::Interval {
            weeks: 0,
            days: 0,
            hours: 0,
            minutes: 0,
            seconds,
            start: start.map(str::to_owned),
            repeats,
            after_last: AfterLast::Deactivate,
        }
    }

    fn calendar(name: &str, dates: &[&str]) -> Calendar {
        Calendar {
            name: name.to_owned(),
            description: String::new(),
            dates: dates.iter().map(|d| (*d).to_owned()).collect(),
        }
    }

    fn plan(timezone: &str, schedule: Schedule) -> Plan {
        Plan::new(&job(timezone, schedule, &[]), 0, &[]).unwrap()
    }

    /// The first `count` fire times after `after`, as RFC 3339 in the plan's zone.
    fn fires(plan: &Plan, after: &str, count: usize) -> Vec<String> {
        let after = parse_time(after, plan.zone()).unwrap();
        let times = plan.fire_times(after, count);
        times
            .iter()
            .map(|at| format_time(*at, plan.zone()))
            .collect()
    }

    fn ms(text: &str) -> i64 {
        parse_time(text, Tz::UTC).unwrap()
    }

    fn error(timezone: &str, schedule: Schedule, calendars: &[&str]) -> String {
        Plan::new(&job(timezone, schedule, calendars), 0, &[]).unwrap_err()
    }

    #[test]
    fn a_fixed_time_skipped_by_spring_forward_fires_once_at_the_change() {
        // Warsaw, 2027-03-28: 02:00 CET becomes 03:00 CEST.
        let daily = plan("Europe/Warsaw", cron("30 2 * * *"));
        assert_eq!(
            fires(&daily, "2027-03-27T00:00:00+01:00", 3),
            [
                "2027-03-27T02:30:00+01:00",
                "2027-03-28T03:00:00+02:00",
                "2027-03-29T02:30:00+02:00",
            ]
        );
        // Two skipped times of one job make one firing.
        let twice = plan("Europe/Warsaw", cron("0,30 2 * * *"));
        assert_eq!(
            fires(&twice, "2027-03-28T01:00:00+01:00", 2),
            ["2027-03-28T03:00:00+02:00", "2027-03-29T02:00:00+02:00"]
        );
        // New York, 2027-03-14: 02:00 EST becomes 03:00 EDT.
        let daily = plan("America/New_York", cron("30 2 * * *"));
        assert_eq!(
            fires(&daily, "2027-03-13T12:00:00-05:00", 2),
            ["2027-03-14T03:00:00-04:00", "2027-03-15T02:30:00-04:00"]
        );
    }

    #[test]
    fn a_fixed_time_repeated_by_fall_back_fires_once_at_its_first_occurrence() {
        // Warsaw, 2026-10-25: 03:00 CEST becomes 02:00 CET.
        let daily = plan("Europe/Warsaw", cron("30 2 * * *"));
        assert_eq!(
            fires(&daily, "2026-10-24T00:00:00+02:00", 3),
            [
                "2026-10-24T02:30:00+02:00",
                "2026-10-25T02:30:00+02:00",
                "2026-10-26T02:30:00+01:00",
            ]
        );
        // Asked from within the second pass of the repeated hour, too.
        for after in ["2026-10-25T02:10:00+01:00", "2026-10-25T02:30:00+01:00"] {
            assert_eq!(
                fires(&daily, after, 1),
                ["2026-10-26T02:30:00+01:00"],
                "{after}"
            );
        }
        // New York, 2026-11-01: 02:00 EDT becomes 01:00 EST.
        let daily = plan("America/New_York", cron("30 1 * * *"));
        assert_eq!(
            fires(&daily, "2026-10-31T12:00:00-04:00", 2),
            ["2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00"]
        );
    }

    #[test]
    fn a_wildcard_job_follows_the_clock_through_both_changes() {
        let half_hourly = plan("Europe/Warsaw", cron("*/30 * * * *"));
        assert_eq!(
            fires(&half_hourly, "2027-03-28T01:00:00+01:00", 3),
            [
                "2027-03-28T01:30:00+01:00",
                "2027-03-28T03:00:00+02:00",
                "2027-03-28T03:30:00+02:00",
            ]
        );
        // Every 30 real minutes through the repeated hour.
        assert_eq!(
            fires(&half_hourly, "2026-10-25T01:30:00+02:00", 5),
            [
                "2026-10-25T02:00:00+02:00",
                "2026-10-25T02:30:00+02:00",
                "2026-10-25T02:00:00+01:00",
                "2026-10-25T02:30:00+01:00",
                "2026-10-25T03:00:00+01:00",
            ]
        );
        assert_eq!(
            fires(&half_hourly, "2026-10-25T02:45:00+02:00", 1),
            ["2026-10-25T02:00:00+01:00"]
        );
        let hourly = plan("Europe/Warsaw", cron("0 * * * *"));
        assert_eq!(
            fires(&hourly, "2027-03-28T00:30:00+01:00", 3),
            [
                "2027-03-28T01:00:00+01:00",
                "2027-03-28T03:00:00+02:00",
                "2027-03-28T04:00:00+02:00",
            ]
        );
        // A wildcard job has no firing for local times that do not exist.
        let two_oclock = plan("Europe/Warsaw", cron("* 2 * * *"));
        assert_eq!(
            fires(&two_oclock, "2027-03-28T01:59:00+01:00", 1),
            ["2027-03-29T02:00:00+02:00"]
        );
        // A wildcard hour with a fixed minute fires in both passes too.
        let quarter_past = plan("Europe/Warsaw", cron("15 * 25 10 *"));
        assert_eq!(
            fires(&quarter_past, "2026-10-25T01:30:00+02:00", 3),
            [
                "2026-10-25T02:15:00+02:00",
                "2026-10-25T02:15:00+01:00",
                "2026-10-25T03:15:00+01:00",
            ]
        );

        let half_hourly = plan("America/New_York", cron("*/30 * * * *"));
        assert_eq!(
            fires(&half_hourly, "2027-03-14T01:15:00-05:00", 3),
            [
                "2027-03-14T01:30:00-05:00",
                "2027-03-14T03:00:00-04:00",
                "2027-03-14T03:30:00-04:00",
            ]
        );
        assert_eq!(
            fires(&half_hourly, "2026-11-01T00:45:00-04:00", 5),
            [
                "2026-11-01T01:00:00-04:00",
                "2026-11-01T01:30:00-04:00",
                "2026-11-01T01:00:00-05:00",
                "2026-11-01T01:30:00-05:00",
                "2026-11-01T02:00:00-05:00",
            ]
        );
    }

    #[test]
    fn a_wildcard_job_finds_the_second_pass_after_a_year_without_matches() {
        // Every minute of 02:xx on October 25th: from the last one of the first pass, the
        // next is the first of the second pass, not a year later.
        let minutes = plan("Europe/Warsaw", cron("* 2 25 10 *"));
        assert_eq!(
            fires(&minutes, "2026-10-25T02:59:00+02:00", 2),
            ["2026-10-25T02:00:00+01:00", "2026-10-25T02:01:00+01:00"]
        );
        assert_eq!(
            fires(&minutes, "2026-10-25T02:59:00+01:00", 1),
            ["2027-10-25T02:00:00+02:00"]
        );
    }

    #[test]
    fn fire_times_only_grow() {
        let plans = [
            plan("Europe/Warsaw", cron("*/7 * * * * *")),
            plan("Europe/Warsaw", cron("0 30 2 * * *")),
            plan("America/New_York", cron("*/15 1-3 * * *")),
            plan(
                "Europe/Warsaw",
                every(7 * 60, Some("2026-10-24T00:00:00"), None),
            ),
        ];
        for plan in plans {
            let mut at = ms("2026-10-24T00:00:00Z");
            for _ in 0..2_000 {
                let next = plan.next_after(at).unwrap();
                assert!(next > at, "{plan:?}: {next} after {at}");
                at = next;
            }
            // Milliseconds: the next firing is after the instant, not after its second.
            let next = plan.next_after(at + 999).unwrap();
            assert!(next > at + 999);
        }
    }

    #[test]
    fn an_interval_counts_real_time_from_its_start_in_the_zone_and_stops_after_its_repeats() {
        // Every 1h30m from 00:30 Warsaw time, the night the clocks go forward: absolute
        // durations, not wall-clock arithmetic.
        let schedule = Schedule::Interval {
            weeks: 0,
            days: 0,
            hours: 1,
            minutes: 30,
            seconds: 0,
            start: Some("2026-03-29T00:30:00".to_owned()),
            repeats: Some(4),
            after_last: AfterLast::Delete,
        };
        let interval = plan("Europe/Warsaw", schedule);
        let times = fires(&interval, "2026-01-01T00:00:00Z", 10);
        assert_eq!(
            times,
            [
                "2026-03-29T00:30:00+01:00",
                "2026-03-29T03:00:00+02:00",
                "2026-03-29T04:30:00+02:00",
                "2026-03-29T06:00:00+02:00",
            ]
        );
        let last = parse_time("2026-03-29T06:00:00+02:00", Tz::UTC).unwrap();
        assert!(interval.is_last(last));
        assert!(!interval.is_last(last - 5_400_000));
        assert_eq!(interval.next_after(last - 1), Some(last));
    }

    #[test]
    fn an_interval_without_a_start_begins_one_interval_after_creation() {
        let created_at = ms("2026-01-01T00:00:00.250Z");
        let tick = Plan::new(&job("UTC", every(10, None, None), &[]), created_at, &[]).unwrap();
        assert_eq!(
            fires(&tick, "2025-12-31T00:00:00Z", 2),
            [
                "2026-01-01T00:00:10.250+00:00",
                "2026-01-01T00:00:20.250+00:00"
            ]
        );
        assert_eq!(
            fires(&tick, "2026-01-01T00:00:10.250Z", 1),
            ["2026-01-01T00:00:20.250+00:00"]
        );
        assert_eq!(
            fires(&tick, "2026-01-02T00:00:00Z", 1),
            ["2026-01-02T00:00:00.250+00:00"]
        );
        // Weeks, days, hours and minutes add up.
        let schedule = Schedule::Interval {
            weeks: 1,
            days: 1,
            hours: 1,
            minutes: 1,
            seconds: 1,
            start: Some("2026-01-01T00:00:00Z".to_owned()),
            repeats: None,
            after_last: AfterLast::Deactivate,
        };
        assert_eq!(
            fires(&plan("UTC", schedule), "2026-01-01T00:00:00Z", 1),
            ["2026-01-09T01:01:01+00:00"]
        );
        // Every second, centuries on: arithmetic, not a walk.
        let second = plan("UTC", every(1, Some("2026-01-01T00:00:00Z"), None));
        assert_eq!(
            fires(&second, "2126-01-01T00:00:00.5Z", 2),
            ["2126-01-01T00:00:01+00:00", "2126-01-01T00:00:02+00:00"]
        );
    }

    #[test]
    fn a_one_time_job_fires_once() {
        let once = plan(
            "Europe/Warsaw",
            Schedule::OneTime {
                at: "2026-12-24T18:00:00".to_owned(),
            },
        );
        let at = ms("2026-12-24T17:00:00Z");
        assert_eq!(once.next_after(at - 1), Some(at));
        assert_eq!(once.next_after(i64::MIN), Some(at));
        assert_eq!(once.next_after(at), None);
        assert!(once.is_last(at));
        let utc = plan(
            "Europe/Warsaw",
            Schedule::OneTime {
                at: "2026-12-24T18:00:00Z".to_owned(),
            },
        );
        assert_eq!(
            fires(&utc, "2026-01-01T00:00:00Z", 5),
            ["2026-12-24T19:00:00+01:00"]
        );
    }

    #[test]
    fn calendars_skip_dates_in_the_jobs_zone() {
        let holidays = [
            calendar("us.holidays", &["2026-12-25", "2027-01-01"]),
            calendar("other", &["2026-12-24"]),
        ];
        // 23:30 in New York on the 25th is the 26th in UTC: still skipped.
        let nightly = job("America/New_York", cron("30 23 * * *"), &["us.holidays"]);
        let nightly = Plan::new(&nightly, 0, &holidays).unwrap();
        assert_eq!(
            fires(&nightly, "2026-12-23T12:00:00-05:00", 3),
            [
                "2026-12-23T23:30:00-05:00",
                "2026-12-24T23:30:00-05:00",
                "2026-12-26T23:30:00-05:00",
            ]
        );
        // An every-second job skips the whole day at once.
        let tick = job(
            "UTC",
            every(1, Some("2026-12-24T00:00:00Z"), None),
            &["us.holidays"],
        );
        let tick = Plan::new(&tick, 0, &holidays).unwrap();
        assert_eq!(
            fires(&tick, "2026-12-24T23:59:58Z", 2),
            ["2026-12-24T23:59:59+00:00", "2026-12-26T00:00:00+00:00"]
        );
        // A skipped time still counts toward the repeats.
        let three = Schedule::Interval {
            weeks: 0,
            days: 1,
            hours: 0,
            minutes: 0,
            seconds: 0,
            start: Some("2026-12-24T10:00:00".to_owned()),
            repeats: Some(3),
            after_last: AfterLast::Deactivate,
        };
        let three = Plan::new(&job("Europe/Warsaw", three, &["us.holidays"]), 0, &holidays);
        assert_eq!(
            fires(&three.unwrap(), "2026-01-01T00:00:00Z", 5),
            ["2026-12-24T10:00:00+01:00", "2026-12-26T10:00:00+01:00"]
        );
        // A one-time job on a skipped date never fires.
        let once = Schedule::OneTime {
            at: "2026-12-25T09:00:00".to_owned(),
        };
        let once = Plan::new(&job("UTC", once, &["us.holidays"]), 0, &holidays).unwrap();
        assert_eq!(once.next_after(0), None);
    }

    #[test]
    fn a_wrong_job_is_refused_with_the_field_and_why() {
        assert_eq!(
            error("Europe/Warsw", cron("* * * * *"), &[]),
            "timezone: unknown time zone `Europe/Warsw`"
        );
        assert_eq!(
            error("UTC", cron("*/61 * * * *"), &[]),
            "schedule.expression: `*/61 * * * *`: minute step 61 is out of range (1-59)"
        );
        assert_eq!(
            error("UTC", cron("0 0 1 1"), &[]),
            "schedule.expression: `0 0 1 1`: expected 5 fields (minute, hour, day of month, \
             month, day of week) or 6 (with seconds first), found 4"
        );
        assert_eq!(
            error("UTC", every(0, None, None), &[]),
            "schedule: the interval (weeks + days + hours + minutes + seconds) must be at \
             least 1 second, not 0"
        );
        let forever = Schedule::Interval {
            weeks: u64::MAX,
            days: 0,
            hours: 0,
            minutes: 0,
            seconds: 0,
            start: None,
            repeats: None,
            after_last: AfterLast::Deactivate,
        };
        assert_eq!(
            error("UTC", forever, &[]),
            "schedule: the interval (weeks + days + hours + minutes + seconds) is too long"
        );
        assert_eq!(
            error("UTC", every(1, None, Some(0)), &[]),
            "schedule.repeats: must be at least 1, not 0"
        );
        assert_eq!(
            error("UTC", every(1, Some("soon"), None), &[]),
            "schedule.start: expected an ISO 8601 date and time such as `2026-12-24T18:00:00`, \
             optionally with an offset (`+01:00` or `Z`), not `soon`"
        );
        let at = Schedule::OneTime {
            at: "2026-12-24".to_owned(),
        };
        assert_eq!(
            error("UTC", at, &[]),
            "schedule.at: expected an ISO 8601 date and time such as `2026-12-24T18:00:00`, \
             optionally with an offset (`+01:00` or `Z`), not `2026-12-24`"
        );
        assert_eq!(
            error("UTC", cron("0 0 * * *"), &["pl.holidays"]),
            "calendars: calendar `pl.holidays` does not exist"
        );
        for date in ["2026-02-30", "2026-2-3", "26-12-25", "2026-12-25 "] {
            let calendars = [calendar("pl.holidays", &["2026-12-25", date])];
            let job = job("UTC", cron("0 0 * * *"), &["pl.holidays"]);
            assert_eq!(
                Plan::new(&job, 0, &calendars).unwrap_err(),
                format!("calendars: calendar `pl.holidays`: `{date}` is not a date as YYYY-MM-DD")
            );
        }
    }

    #[test]
    fn times_read_and_print_with_their_offsets() {
        let warsaw = parse_zone("Europe/Warsaw").unwrap();
        let new_york = parse_zone("America/New_York").unwrap();
        // Epoch seconds from `date -d ... +%s`.
        assert_eq!(ms("2026-03-29T03:00:00+02:00"), 1_774_746_000_000);
        assert_eq!(
            format_time(1_774_746_000_000, warsaw),
            "2026-03-29T03:00:00+02:00"
        );
        assert_eq!(
            format_time(1_798_135_200_000, Tz::UTC),
            "2026-12-24T18:00:00+00:00"
        );
        assert_eq!(
            format_time(1_798_135_200_007, warsaw),
            "2026-12-24T19:00:00.007+01:00"
        );
        assert_eq!(
            parse_time("2026-12-24T18:00:00Z", warsaw),
            Ok(1_798_135_200_000)
        );
        assert_eq!(
            parse_time("2026-12-24 19:00", warsaw),
            Ok(1_798_135_200_000)
        );
        assert_eq!(
            parse_time("2026-12-24T19:00:00", warsaw),
            Ok(1_798_135_200_000)
        );
        assert_eq!(
            parse_time("2026-12-24t18:00:00.5z", warsaw),
            Ok(1_798_135_200_500)
        );
        assert_eq!(
            parse_time("2026-12-24T13:00-0500", warsaw),
            Ok(1_798_135_200_000)
        );
        assert_eq!(
            parse_time(" 2026-12-24T13:00:00 -05 ", warsaw),
            Ok(1_798_135_200_000)
        );
        assert_eq!(
            parse_time("2026-12-24T23:30:00+05:30", warsaw),
            Ok(1_798_135_200_000)
        );
        // Skipped: the first instant after the gap; repeated: the first occurrence.
        let skipped = parse_time("2027-03-28T02:30:00", warsaw).unwrap();
        assert_eq!(format_time(skipped, warsaw), "2027-03-28T03:00:00+02:00");
        assert_eq!(
            parse_time("2026-10-25T02:30:00", warsaw),
            Ok(1_792_888_200_000)
        );
        assert_eq!(
            parse_time("2026-10-25T02:30:00+01:00", warsaw),
            Ok(1_792_891_800_000)
        );
        let repeated = parse_time("2026-11-01T01:30:00", new_york).unwrap();
        assert_eq!(format_time(repeated, new_york), "2026-11-01T01:30:00-04:00");

        let zones = [
            "UTC",
            "Europe/Warsaw",
            "America/New_York",
            "Asia/Kolkata",
            "America/St_Johns",
            "Asia/Kathmandu",
        ];
        for zone in zones {
            let tz = parse_zone(zone).unwrap();
            for at in [
                0,
                1_774_745_999_999,
                1_792_888_200_000,
                1_792_891_800_000,
                1_798_135_200_123,
            ] {
                let text = format_time(at, tz);
                assert_eq!(parse_time(&text, Tz::UTC), Ok(at), "{zone}: {text}");
            }
        }
        assert_eq!(
            format_time(0, parse_zone("Asia/Kathmandu").unwrap()),
            "1970-01-01T05:30:00+05:30"
        );
        assert_eq!(
            format_time(1_798_135_200_000, parse_zone("America/St_Johns").unwrap()),
            "2026-12-24T14:30:00-03:30"
        );

        for wrong in [
            "tomorrow",
            "2026-13-01T00:00:00",
            "2026-12-24T18:00:00+25:00",
            "2026-12-24T25:00",
        ] {
            let err = parse_time(wrong, warsaw).unwrap_err();
            assert!(
                err.starts_with("expected an ISO 8601 date and time"),
                "{wrong}: {err}"
            );
            assert!(err.ends_with(&format!("not `{wrong}`")), "{err}");
        }
        assert_eq!(
            parse_zone("Mars/Olympus"),
            Err("unknown time zone `Mars/Olympus`".to_owned())
        );
    }
}
