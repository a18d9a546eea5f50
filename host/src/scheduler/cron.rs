//! Crontab(5) expressions as Vixie cron reads them, and the instants they name in a time
//! zone, across its DST changes.
//!
//! croner matches and searches, on naive local times only (so that its own DST logic never
//! applies). Before it sees an expression, this module checks it against the crontab
//! grammar (croner's extensions `W`, `#`, `?`, `+` and a year field are refused, month and
//! day names are read only in their own fields, an error names the field and the value),
//! turns names into numbers, and tells croner which of Vixie's two day rules applies.
//! After, it maps each local time croner finds to instants with Vixie's DST rules:
//!
//! - a job whose minute or hour field starts with `*` (Vixie's `MIN_STAR`/`HR_STAR`, a
//!   "wildcard" job) follows the clock: it fires at every instant whose local time
//!   matches, so not at all for local times a spring-forward skips, and twice for the ones
//!   a fall-back repeats;
//! - any other ("fixed-time") job fires once for each matching local time: at its first
//!   occurrence when the clock repeats it, and at the first instant after the change when
//!   the clock skips it (several skipped times of one job make one firing).

use chrono::{DateTime, LocalResult, NaiveDateTime, Offset, TimeZone};
use chrono_tz::{GapInfo, Tz};
use croner::parser::{CronParser, Seconds, Year};

/// The most DST segments (stretches of one UTC offset) a wildcard job's search crosses
/// before it gives up: every realistic search crosses two at most, a search for a rare
/// date (a leap day on a weekday) a few dozen.
const MAX_SEGMENTS: usize = 1_000;

/// How far apart the UTC offset is probed while looking for a DST change between two
/// instants: no zone changes its offset twice within a week (outside of history that a
/// scheduler never reaches), so a change is never missed.
const PROBE_SECONDS: i64 = 7 * 24 * 3600;

/// A checked crontab expression, ready to answer its fire times in a time zone.
#[derive(Debug, Clone)]
pub struct Expression {
    cron: croner::Cron,
    /// Vixie's `MIN_STAR | HR_STAR`: the job follows the clock through DST changes.
    wildcard: bool,
    /// No date ever matches (e.g. `0 0 30 2 *`): searches answer none at once.
    never: bool,
}

/// One field of an expression: its name in errors, its range and the names it reads.
struct Field {
    name: &'static str,
    min: u32,
    max: u32,
    /// Names of the values from `min` on (`jan` is 1, `sun` is 0).
    names: &'static [&'static str],
    /// What `names` are called in an error.
    names_are: &'static str,
    /// Whether `L` (the last day of the month) is allowed.
    last: bool,
}

const SECOND: Field = Field::numeric("second", 0, 59);
const MINUTE: Field = Field::numeric("minute", 0, 59);
const HOUR: Field = Field::numeric("hour", 0, 23);
const DAY_OF_MONTH: Field = Field {
    last: true,
    ..Field::numeric("day of month", 1, 31)
};
const MONTH: Field = Field {
    names: &[
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ],
    names_are: "a month name (jan-dec)",
    ..Field::numeric("month", 1, 12)
};
/// 0 and 7 are both Sunday.
const DAY_OF_WEEK: Field = Field {
    names: &["sun", "mon", "tue", "wed", "thu", "fri", "sat"],
    names_are: "a day name (sun-sat)",
    ..Field::numeric("day of week", 0, 7)
};

impl Field {
    const fn numeric(name: &'static str, min: u32, max: u32) -> Self {
        Self {
            name,
            min,
            max,
            names: &[],
            names_are: "",
            last: false,
        }
    }
}

/// A field as checked: the text croner is given, the values it names, and whether it
/// holds `L`.
struct Parsed {
    text: String,
    /// Bit `v` set for each value `v` the field names.
    values: u64,
    last: bool,
}

/// The days in each month, February in a leap year.
const MONTH_DAYS: [u32; 12] = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

impl Expression {
    /// Checks `expression` (5 fields, or 6 with seconds first, or a nickname such as
    /// `@daily`). The error names the expression and what is wrong with it.
    pub fn parse(expression: &str) -> Result<Self, String> {
        let trimmed = expression.trim();
        if trimmed.is_empty() {
            return Err("the expression is empty".to_owned());
        }
        let text = if trimmed.starts_with('@') {
            nickname(trimmed)?
        } else {
            trimmed
        };
        let fail = |why: String| format!("`{expression}`: {why}");
        let fields: Vec<&str> = text.split_whitespace().collect();
        let (seconds, rest) = match fields.len() {
            5 => (None, &fields[..]),
            6 => (Some(fields[0]), &fields[1..]),
            n => {
                return Err(fail(format!(
                    "expected 5 fields (minute, hour, day of month, month, day of week) or 6 \
                     (with seconds first), found {n}"
                )));
            }
        };
        let (minute, hour, dom, month, dow) = (rest[0], rest[1], rest[2], rest[3], rest[4]);

        let mut normalized = Vec::with_capacity(6);
        if let Some(seconds) = seconds {
            normalized.push(parse_field(&SECOND, seconds).map_err(fail)?.text);
        }
        normalized.push(parse_field(&MINUTE, minute).map_err(fail)?.text);
        normalized.push(parse_field(&HOUR, hour).map_err(fail)?.text);
        let days = parse_field(&DAY_OF_MONTH, dom).map_err(fail)?;
        let months = parse_field(&MONTH, month).map_err(fail)?;
        let weekdays = parse_field(&DAY_OF_WEEK, dow).map_err(fail)?;

        // Vixie: when either day field starts with `*`, a day must match both; otherwise
        // either. croner's own rule looks for a field that is exactly `*` (so `*/2`
        // would make it OR), and its `dom_and_dow` switch makes it AND; with it, a field
        // that is exactly `*` still matches every day, which is what AND means for it.
        let both_days = dom.starts_with('*') || dow.starts_with('*');
        // Under the OR rule some weekday of every month matches; under the AND rule a
        // month and a day of the month must meet (any weekday comes round on them).
        let never = both_days
            && !days.last
            && !(1..=12u32).any(|m| {
                months.values & (1 << m) != 0
                    && (1..=MONTH_DAYS[m as usize - 1]).any(|d| days.values & (1 << d) != 0)
            });
        normalized.extend([days.text, months.text, weekdays.text]);

        let cron = CronParser::builder()
            .seconds(Seconds::Optional)
            .year(Year::Disallowed)
            .dom_and_dow(both_days)
            .build()
            .parse(&normalized.join(" "))
            .map_err(|e| fail(e.to_string()))?;
        Ok(Self {
            cron,
            wildcard: minute.starts_with('*') || hour.starts_with('*'),
            never,
        })
    }

    /// The first fire time strictly after `after` (seconds since the Unix epoch), in
    /// `tz`; none when the expression never matches or no match comes before croner's
    /// search limit (the year 5000).
    pub fn next_after(&self, tz: Tz, after: i64) -> Option<i64> {
        if self.never {
            None
        } else if self.wildcard {
            self.next_following_the_clock(tz, after)
        } else {
            self.next_fixed(tz, after)
        }
    }

    /// The first local time that matches after `local` (or at it, if `inclusive`).
    fn next_local(&self, local: NaiveDateTime, inclusive: bool) -> Option<NaiveDateTime> {
        self.cron.find_next_occurrence(&local, inclusive).ok()
    }

    /// A wildcard job: the first instant after `after` whose local time matches. Walks
    /// the time line one stretch of constant UTC offset at a time, where local times and
    /// instants correspond one to one and in order.
    fn next_following_the_clock(&self, tz: Tz, after: i64) -> Option<i64> {
        let mut from = after;
        let mut inclusive = false;
        for _ in 0..MAX_SEGMENTS {
            let offset = offset_at(tz, from)?;
            let local = naive(from.checked_add(offset)?)?;
            let matched = self.next_local(local, inclusive)?;
            let at = matched.and_utc().timestamp() - offset;
            match first_change(tz, from, at, offset) {
                None => return Some(at),
                // The offset changes before `at`: nothing matched up to the change, so
                // search again from it, in the next stretch.
                Some(change) => {
                    from = change;
                    inclusive = true;
                }
            }
        }
        None
    }

    /// A fixed-time job: the local times that match, in order, each at its first
    /// occurrence or, if skipped, at the end of the gap; in that order they are instants
    /// in order too, so the first one after `after` is the answer.
    fn next_fixed(&self, tz: Tz, after: i64) -> Option<i64> {
        let mut local = naive(after.checked_add(offset_at(tz, after)?)?)?;
        let mut inclusive = false;
        // One step, or three when `after` sits in the second pass of a repeated hour.
        for _ in 0..8 {
            let matched = self.next_local(local, inclusive)?;
            let at = match tz.from_local_datetime(&matched) {
                LocalResult::Single(at) => at.timestamp(),
                LocalResult::Ambiguous(first, second) => {
                    let first_at = first.timestamp();
                    if first_at > after {
                        return Some(first_at);
                    }
                    // `after` is in the second pass of a repeated range, where the job
                    // does not fire again: go on from the first local time past the range
                    // (the change seen with the offset from before it).
                    let offset = first.offset().fix().local_minus_utc() as i64;
                    let change = first_change(tz, first_at, second.timestamp(), offset)?;
                    local = naive(change + offset)?;
                    inclusive = true;
                    continue;
                }
                // Skipped by a spring-forward: at the first instant after the gap.
                LocalResult::None => match GapInfo::new(&matched, &tz).and_then(|gap| gap.end) {
                    Some(end) => end.timestamp(),
                    // A gap without an end lies past the zone's data: not a time.
                    None => after,
                },
            };
            if at > after {
                return Some(at);
            }
            local = matched;
            inclusive = false;
        }
        None
    }
}

/// The 5-field expression a nickname stands for, as Vixie cron reads them.
fn nickname(text: &str) -> Result<&'static str, String> {
    Ok(match text.to_ascii_lowercase().as_str() {
        "@yearly" | "@annually" => "0 0 1 1 *",
        "@monthly" => "0 0 1 * *",
        "@weekly" => "0 0 * * 0",
        "@daily" | "@midnight" => "0 0 * * *",
        "@hourly" => "0 * * * *",
        _ => {
            return Err(format!(
                "`{text}`: unknown nickname (expected @yearly, @annually, @monthly, @weekly, \
                 @daily, @midnight or @hourly)"
            ));
        }
    })
}

/// Checks one field: a comma-separated list of `*`, `N`, `N-M`, each but `N` optionally
/// with `/STEP`, or `L` in the day of month.
fn parse_field(field: &Field, text: &str) -> Result<Parsed, String> {
    let name = field.name;
    let mut parsed = Parsed {
        text: String::with_capacity(text.len()),
        values: 0,
        last: false,
    };
    for element in text.split(',') {
        if !parsed.text.is_empty() {
            parsed.text.push(',');
        }
        if element.is_empty() {
            return Err(format!("{name} `{text}` has an empty list element"));
        }
        if field.last && element.eq_ignore_ascii_case("l") {
            parsed.last = true;
            parsed.text.push('L');
            continue;
        }
        let (range, step) = match element.split_once('/') {
            Some((range, step)) => (range, Some(parse_step(field, step)?)),
            None => (element, None),
        };
        let (low, high) = if range == "*" {
            parsed.text.push('*');
            (field.min, field.max)
        } else if let Some((low, high)) = range.split_once('-') {
            let low = parse_value(field, low, false)?;
            let high = parse_value(field, high, true)?;
            if low > high {
                return Err(format!("{name} range {low}-{high} is reversed"));
            }
            parsed.text.push_str(&format!("{low}-{high}"));
            (low, high)
        } else {
            let value = parse_value(field, range, false)?;
            if let Some(step) = step {
                return Err(format!(
                    "{name} `{element}`: a step goes after `*` or a range (`*/{step}`, \
                     `{value}-{}/{step}`)",
                    field.max
                ));
            }
            parsed.text.push_str(&value.to_string());
            (value, value)
        };
        let step = step.unwrap_or(1);
        if step != 1 {
            parsed.text.push_str(&format!("/{step}"));
        }
        let mut value = low;
        while value <= high {
            parsed.values |= 1 << value;
            value += step;
        }
    }
    Ok(parsed)
}

fn parse_step(field: &Field, text: &str) -> Result<u32, String> {
    let name = field.name;
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{name} step `{text}` is not a number"));
    }
    match text.parse::<u32>() {
        Ok(step) if (1..=field.max).contains(&step) => Ok(step),
        _ => Err(format!(
            "{name} step {text} is out of range (1-{})",
            field.max
        )),
    }
}

/// A number or a name; `sun` ends a range as 7, so that `mon-sun` is every day.
fn parse_value(field: &Field, text: &str, range_end: bool) -> Result<u32, String> {
    let name = field.name;
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return match text.parse::<u32>() {
            Ok(value) if (field.min..=field.max).contains(&value) => Ok(value),
            _ => Err(format!(
                "{name} {text} is out of range ({}-{})",
                field.min, field.max
            )),
        };
    }
    if let Some(index) = field
        .names
        .iter()
        .position(|n| n.eq_ignore_ascii_case(text))
    {
        let value = field.min + index as u32;
        return Ok(if range_end && value == 0 { 7 } else { value });
    }
    let or_name = if field.names_are.is_empty() {
        String::new()
    } else {
        format!(" or {}", field.names_are)
    };
    Err(format!("{name} `{text}` is not a number{or_name}"))
}

/// The UTC offset of `tz` at `at` (seconds), in seconds.
pub(super) fn offset_at(tz: Tz, at: i64) -> Option<i64> {
    let utc = DateTime::from_timestamp(at, 0)?.naive_utc();
    Some(tz.offset_from_utc_datetime(&utc).fix().local_minus_utc() as i64)
}

fn naive(local_seconds: i64) -> Option<NaiveDateTime> {
    DateTime::from_timestamp(local_seconds, 0).map(|at| at.naive_utc())
}

/// The first instant in `(from, to]` whose offset is not `offset` (the offset at
/// `from`), if any: the offset is probed a week apart, then the change is bisected.
fn first_change(tz: Tz, from: i64, to: i64, offset: i64) -> Option<i64> {
    let mut low = from;
    while low < to {
        let mut high = low.saturating_add(PROBE_SECONDS).min(to);
        if offset_at(tz, high)? != offset {
            while high - low > 1 {
                let middle = low + (high - low) / 2;
                if offset_at(tz, middle)? == offset {
                    low = middle;
                } else {
                    high = middle;
                }
            }
            return Some(high);
        }
        low = high;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::super::{format_time, parse_time, parse_zone};
    use super::*;

    /// The first `count` fire times of `expression` in `zone` after `after`, as RFC 3339.
    fn fires(expression: &str, zone: &str, after: &str, count: usize) -> Vec<String> {
        let tz = parse_zone(zone).unwrap();
        let parsed = Expression::parse(expression).unwrap();
        let mut at = parse_time(after, tz).unwrap() / 1000;
        (0..count)
            .map(|_| {
                at = parsed
                    .next_after(tz, at)
                    .unwrap_or_else(|| panic!("`{expression}` stops after {at}"));
                format_time(at * 1000, tz)
            })
            .collect()
    }

    fn error(expression: &str) -> String {
        Expression::parse(expression).unwrap_err()
    }

    #[test]
    fn a_minute_step_restarts_every_hour_zato_902() {
        // `*/55` names minutes 0 and 55 of every hour: not "every 55 minutes".
        let mut expected = Vec::new();
        for hour in 6..=20 {
            expected.push(format!("2026-05-01T{hour:02}:00:00+00:00"));
            expected.push(format!("2026-05-01T{hour:02}:55:00+00:00"));
        }
        expected.push("2026-05-02T06:00:00+00:00".to_owned());
        assert_eq!(
            fires("*/55 06-20 * * *", "UTC", "2026-05-01T05:59:59Z", 31),
            expected
        );
    }

    #[test]
    fn ranges_steps_lists_and_names_read_as_crontab_reads_them() {
        assert_eq!(
            fires("15 06-20/7 * * *", "UTC", "2026-05-01T00:00:00Z", 4),
            [
                "2026-05-01T06:15:00+00:00",
                "2026-05-01T13:15:00+00:00",
                "2026-05-01T20:15:00+00:00",
                "2026-05-02T06:15:00+00:00",
            ]
        );
        assert_eq!(
            fires("0,20-25/5,59 9 * * *", "UTC", "2026-05-01T00:00:00Z", 5),
            [
                "2026-05-01T09:00:00+00:00",
                "2026-05-01T09:20:00+00:00",
                "2026-05-01T09:25:00+00:00",
                "2026-05-01T09:59:00+00:00",
                "2026-05-02T09:00:00+00:00",
            ]
        );
        // Names in any case; the day of month is `*`, so a day has to be a weekday.
        assert_eq!(
            fires("30 8 * JAN,Jul Mon-fri", "UTC", "2026-06-30T12:00:00Z", 4),
            [
                "2026-07-01T08:30:00+00:00",
                "2026-07-02T08:30:00+00:00",
                "2026-07-03T08:30:00+00:00",
                "2026-07-06T08:30:00+00:00",
            ]
        );
        assert_eq!(
            fires("30 8 * jan,jul mon-fri", "UTC", "2026-07-31T12:00:00Z", 1),
            ["2027-01-01T08:30:00+00:00"]
        );
        assert_eq!(
            fires("@hourly", "UTC", "2026-05-01T00:00:00Z", 2),
            ["2026-05-01T01:00:00+00:00", "2026-05-01T02:00:00+00:00"]
        );
    }

    #[test]
    fn six_fields_put_seconds_first() {
        assert_eq!(
            fires("*/20 30 9 * * *", "UTC", "2026-05-01T00:00:00Z", 4),
            [
                "2026-05-01T09:30:00+00:00",
                "2026-05-01T09:30:20+00:00",
                "2026-05-01T09:30:40+00:00",
                "2026-05-02T09:30:00+00:00",
            ]
        );
    }

    #[test]
    fn the_31st_skips_short_months_and_l_is_the_last_day() {
        assert_eq!(
            fires("0 0 31 * *", "UTC", "2026-01-01T00:00:00Z", 7),
            [
                "2026-01-31T00:00:00+00:00",
                "2026-03-31T00:00:00+00:00",
                "2026-05-31T00:00:00+00:00",
                "2026-07-31T00:00:00+00:00",
                "2026-08-31T00:00:00+00:00",
                "2026-10-31T00:00:00+00:00",
                "2026-12-31T00:00:00+00:00",
            ]
        );
        assert_eq!(
            fires("0 12 L * *", "UTC", "2027-01-01T00:00:00Z", 4),
            [
                "2027-01-31T12:00:00+00:00",
                "2027-02-28T12:00:00+00:00",
                "2027-03-31T12:00:00+00:00",
                "2027-04-30T12:00:00+00:00",
            ]
        );
        assert_eq!(
            fires("0 12 l * *", "UTC", "2028-02-01T00:00:00Z", 1),
            ["2028-02-29T12:00:00+00:00"]
        );
    }

    #[test]
    fn a_leap_day_waits_for_the_next_leap_year() {
        assert_eq!(
            fires("0 0 29 2 *", "UTC", "2026-01-01T00:00:00Z", 2),
            ["2028-02-29T00:00:00+00:00", "2032-02-29T00:00:00+00:00"]
        );
        // 2100 is not a leap year.
        assert_eq!(
            fires("0 0 29 2 *", "UTC", "2096-03-01T00:00:00Z", 1),
            ["2104-02-29T00:00:00+00:00"]
        );
    }

    #[test]
    fn an_expression_that_never_matches_has_no_fire_time() {
        let tz = parse_zone("UTC").unwrap();
        for expression in ["0 0 30 2 *", "0 0 31 4,6,9,11 *", "0 0 30-31 feb *"] {
            let parsed = Expression::parse(expression).unwrap();
            assert_eq!(parsed.next_after(tz, 0), None, "{expression}");
        }
    }

    #[test]
    fn zero_and_seven_are_both_sunday() {
        let sundays = ["2026-06-07T09:00:00+00:00", "2026-06-14T09:00:00+00:00"];
        for expression in ["0 9 * * 0", "0 9 * * 7", "0 9 * * SUN", "0 9 * * sun"] {
            assert_eq!(
                fires(expression, "UTC", "2026-06-01T00:00:00Z", 2),
                sundays,
                "{expression}"
            );
        }
        assert_eq!(
            fires("0 9 * * 5-7", "UTC", "2026-06-01T00:00:00Z", 4),
            [
                "2026-06-05T09:00:00+00:00",
                "2026-06-06T09:00:00+00:00",
                "2026-06-07T09:00:00+00:00",
                "2026-06-12T09:00:00+00:00",
            ]
        );
        assert_eq!(
            fires("0 9 * * sat-sun", "UTC", "2026-06-01T00:00:00Z", 2),
            ["2026-06-06T09:00:00+00:00", "2026-06-07T09:00:00+00:00"]
        );
    }

    #[test]
    fn a_day_matches_either_day_field_when_both_are_restricted() {
        // Every 13th and every Friday (Vixie's OR rule).
        assert_eq!(
            fires("0 0 13 * fri", "UTC", "2026-01-01T00:00:00Z", 8),
            [
                "2026-01-02T00:00:00+00:00",
                "2026-01-09T00:00:00+00:00",
                "2026-01-13T00:00:00+00:00",
                "2026-01-16T00:00:00+00:00",
                "2026-01-23T00:00:00+00:00",
                "2026-01-30T00:00:00+00:00",
                "2026-02-06T00:00:00+00:00",
                "2026-02-13T00:00:00+00:00",
            ]
        );
        // A day field starting with `*` makes it AND: odd days that are Fridays.
        assert_eq!(
            fires("0 0 */2 * fri", "UTC", "2026-01-01T00:00:00Z", 4),
            [
                "2026-01-09T00:00:00+00:00",
                "2026-01-23T00:00:00+00:00",
                "2026-02-13T00:00:00+00:00",
                "2026-02-27T00:00:00+00:00",
            ]
        );
        assert_eq!(
            fires("0 0 * * fri", "UTC", "2026-01-01T00:00:00Z", 2),
            ["2026-01-02T00:00:00+00:00", "2026-01-09T00:00:00+00:00"]
        );
    }

    #[test]
    fn a_wrong_expression_is_refused_with_what_is_wrong() {
        let cases = [
            (
                "*/61 * * * *",
                "`*/61 * * * *`: minute step 61 is out of range (1-59)",
            ),
            ("0 24 * * *", "`0 24 * * *`: hour 24 is out of range (0-23)"),
            (
                "0 0 0 * *",
                "`0 0 0 * *`: day of month 0 is out of range (1-31)",
            ),
            (
                "0 0 * 13 *",
                "`0 0 * 13 *`: month 13 is out of range (1-12)",
            ),
            (
                "0 0 * * 8",
                "`0 0 * * 8`: day of week 8 is out of range (0-7)",
            ),
            (
                "60 * * * * *",
                "`60 * * * * *`: second 60 is out of range (0-59)",
            ),
            (
                "* * * *",
                "`* * * *`: expected 5 fields (minute, hour, day of month, month, day of week) \
                 or 6 (with seconds first), found 4",
            ),
            (
                "0 0 0 1 1 * 2027",
                "`0 0 0 1 1 * 2027`: expected 5 fields (minute, hour, day of month, month, day \
                 of week) or 6 (with seconds first), found 7",
            ),
            (
                "every day at noon",
                "`every day at noon`: expected 5 fields (minute, hour, day of month, month, day \
                 of week) or 6 (with seconds first), found 4",
            ),
            (
                "0 0 * * fry",
                "`0 0 * * fry`: day of week `fry` is not a number or a day name (sun-sat)",
            ),
            (
                "0 0 * mon *",
                "`0 0 * mon *`: month `mon` is not a number or a month name (jan-dec)",
            ),
            (
                "0 0 * * jan",
                "`0 0 * * jan`: day of week `jan` is not a number or a day name (sun-sat)",
            ),
            ("x 0 * * *", "`x 0 * * *`: minute `x` is not a number"),
            (
                "0 20-6 * * *",
                "`0 20-6 * * *`: hour range 20-6 is reversed",
            ),
            (
                "*/0 * * * *",
                "`*/0 * * * *`: minute step 0 is out of range (1-59)",
            ),
            (
                "5/10 * * * *",
                "`5/10 * * * *`: minute `5/10`: a step goes after `*` or a range (`*/10`, \
                 `5-59/10`)",
            ),
            (
                "0 0 15W * *",
                "`0 0 15W * *`: day of month `15W` is not a number",
            ),
            ("0 0 ? * *", "`0 0 ? * *`: day of month `?` is not a number"),
            (
                "0 0 * * 5#2",
                "`0 0 * * 5#2`: day of week `5#2` is not a number or a day name (sun-sat)",
            ),
            (
                "0 0 * * +1",
                "`0 0 * * +1`: day of week `+1` is not a number or a day name (sun-sat)",
            ),
            ("0 L * * *", "`0 L * * *`: hour `L` is not a number"),
            (
                "0,,5 * * * *",
                "`0,,5 * * * *`: minute `0,,5` has an empty list element",
            ),
            ("", "the expression is empty"),
            (
                "@reboot",
                "`@reboot`: unknown nickname (expected @yearly, @annually, @monthly, @weekly, \
                 @daily, @midnight or @hourly)",
            ),
        ];
        for (expression, message) in cases {
            assert_eq!(error(expression), message);
        }
    }
}
