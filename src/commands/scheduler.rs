//! `zato scheduler ...`: jobs that invoke a service one time, at intervals or
//! cron-style, their runs and next fire times, and calendars of dates to skip.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use zato_api::{
    AfterLast, Calendar, DataFormat, Job, JobInfo, MissedPolicy, Preview, Run, Schedule,
};

use crate::client::Target;
use crate::exit::{CliError, CliResult, ExitCode};
use crate::output::{Output, table};

/// Schedule services: jobs that invoke a service one time, at intervals or cron-style.
///
/// Examples:
///     zato scheduler create --name tick --service demo.hello --interval-seconds 30
///     zato scheduler create --name nightly --service billing.run \
///         --cron '0 2 * * 1-5' --timezone Europe/Warsaw
///     zato scheduler create --name once --service demo.hello --at 2026-12-24T18:00:00
///     zato scheduler next --cron '30 2 * * *' --timezone Europe/Warsaw --count 5
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct Scheduler {
    #[command(subcommand)]
    command: SchedulerCommand,
}

#[derive(Debug, Subcommand)]
enum SchedulerCommand {
    /// Create a job, with exactly one of --interval-*, --cron or --at. Its service need
    /// not be deployed yet: a firing while it is not is recorded as `missing`.
    Create {
        /// Unique job name.
        #[arg(long)]
        name: String,
        /// The service each firing invokes.
        #[arg(long)]
        service: String,
        #[command(flatten)]
        when: When,
        #[command(flatten)]
        options: JobOptions,
        #[command(flatten)]
        target: Target,
    },
    /// List jobs: schedule, state, next fire time, latest run.
    List {
        #[command(flatten)]
        target: Target,
    },
    /// Show a job.
    Get {
        name: String,
        #[command(flatten)]
        target: Target,
    },
    /// Change a job: only what is given changes. A new --interval-* replaces the
    /// interval's length (--start, --repeats and --after-last stay unless given); a new
    /// --cron or --at replaces the schedule.
    Edit {
        /// The job's name.
        name: String,
        /// New service to invoke.
        #[arg(long)]
        service: Option<String>,
        #[command(flatten)]
        when: When,
        #[command(flatten)]
        options: JobOptions,
        /// Drop the job's calendars.
        #[arg(long, conflicts_with = "calendars")]
        no_calendar: bool,
        /// Resume the job (see also `zato scheduler resume`).
        #[arg(long, conflicts_with = "paused")]
        active: bool,
        #[command(flatten)]
        target: Target,
    },
    /// Pause a job: it keeps its definition and does not fire.
    Pause {
        name: String,
        #[command(flatten)]
        target: Target,
    },
    /// Resume a paused job.
    Resume {
        name: String,
        #[command(flatten)]
        target: Target,
    },
    /// Delete a job and its runs.
    Delete {
        name: String,
        #[command(flatten)]
        target: Target,
    },
    /// Run a job now, paused or not (`zato scheduler runs NAME` shows how it ended).
    Run {
        name: String,
        #[command(flatten)]
        target: Target,
    },
    /// A job's recorded firings, newest first.
    Runs {
        name: String,
        /// How many: 1 to 10000 (the server's 100 when absent).
        #[arg(long)]
        limit: Option<u32>,
        #[command(flatten)]
        target: Target,
    },
    /// The next fire times of a job, or of a schedule given here (--cron, --interval-*
    /// or --at, with --timezone and --calendar), to check it before creating a job.
    ///
    /// Example: zato scheduler next --cron '30 2 * * *' --timezone Europe/Warsaw --count 3
    Next {
        /// The job's name; none with --cron, --interval-* or --at.
        #[arg(conflicts_with_all = ["cron", "at", "start", "repeats", "after_last",
            "interval_weeks", "interval_days", "interval_hours", "interval_minutes",
            "interval_seconds", "timezone", "calendars"])]
        name: Option<String>,
        /// How many fire times: 1 to 1000.
        #[arg(long, default_value_t = 10)]
        count: u32,
        /// After when (ISO 8601; without an offset, in the job's time zone); now when
        /// absent.
        #[arg(long, value_name = "TIME")]
        from: Option<String>,
        #[command(flatten)]
        when: When,
        /// The time zone of a schedule given here (UTC when absent).
        #[arg(long, value_name = "ZONE")]
        timezone: Option<String>,
        /// A calendar whose dates a schedule given here skips (repeatable).
        #[arg(long = "calendar", value_name = "NAME")]
        calendars: Vec<String>,
        #[command(flatten)]
        target: Target,
    },
    /// Calendars: named lists of dates on which the jobs that name them do not fire.
    Calendar {
        #[command(subcommand)]
        command: CalendarCommand,
    },
}

/// When a job fires: --interval-* (combinable, with --start, --repeats, --after-last),
/// --cron or --at.
#[derive(Debug, Args)]
struct When {
    /// Every K weeks (adds up with the other --interval-* options).
    #[arg(long, value_name = "K")]
    interval_weeks: Option<u64>,
    /// Every K days.
    #[arg(long, value_name = "K")]
    interval_days: Option<u64>,
    /// Every K hours.
    #[arg(long, value_name = "K")]
    interval_hours: Option<u64>,
    /// Every K minutes.
    #[arg(long, value_name = "K")]
    interval_minutes: Option<u64>,
    /// Every K seconds.
    #[arg(long, value_name = "K")]
    interval_seconds: Option<u64>,
    /// An interval's first firing (ISO 8601; without an offset, in the job's time
    /// zone); one interval after the job's creation when absent.
    #[arg(long, value_name = "TIME", conflicts_with_all = ["cron", "at"])]
    start: Option<String>,
    /// How many times an interval job fires in all; forever when absent.
    #[arg(long, value_name = "N", conflicts_with_all = ["cron", "at"])]
    repeats: Option<u64>,
    /// What an interval job becomes after its last firing: deactivate (paused) or
    /// delete.
    #[arg(long, value_name = "WHAT", value_parser = parse_after_last,
        conflicts_with_all = ["cron", "at"])]
    after_last: Option<AfterLast>,
    /// A crontab(5) expression: 5 fields, or 6 with seconds first.
    #[arg(long, value_name = "EXPR", conflicts_with_all = ["at", "interval_weeks",
        "interval_days", "interval_hours", "interval_minutes", "interval_seconds"])]
    cron: Option<String>,
    /// Once, at TIME (ISO 8601; without an offset, in the job's time zone).
    #[arg(long, value_name = "TIME", conflicts_with_all = ["interval_weeks",
        "interval_days", "interval_hours", "interval_minutes", "interval_seconds"])]
    at: Option<String>,
}

/// A job's other settings.
#[derive(Debug, Args)]
struct JobOptions {
    /// The IANA time zone of the job's times, e.g. Europe/Warsaw (UTC when creating
    /// without it).
    #[arg(long, value_name = "ZONE")]
    timezone: Option<String>,
    /// The payload each firing passes to the service.
    #[arg(long, value_name = "TEXT", conflicts_with = "payload_file")]
    payload: Option<String>,
    /// A file whose (UTF-8) contents are the payload.
    #[arg(long, value_name = "PATH")]
    payload_file: Option<PathBuf>,
    /// The payload's format: json, xml or raw (json when creating without it).
    #[arg(long, value_name = "FORMAT", value_parser = parse_format)]
    data_format: Option<DataFormat>,
    /// A calendar whose dates the job skips (repeatable; replaces the job's list).
    #[arg(long = "calendar", value_name = "NAME")]
    calendars: Vec<String>,
    /// Firings missed while no server was the singleton: once (fire once for all of
    /// them) or skip (when creating without it: once).
    #[arg(long, value_name = "POLICY", value_parser = parse_missed)]
    missed: Option<MissedPolicy>,
    /// Pause the job (create it paused).
    #[arg(long)]
    paused: bool,
    /// Each invocation's timeout in milliseconds (0: the server's default).
    #[arg(long, value_name = "MS")]
    timeout_ms: Option<u64>,
}

#[derive(Debug, Subcommand)]
enum CalendarCommand {
    /// Create a calendar.
    ///
    /// Example: zato scheduler calendar create --name pl.holidays --date 2026-12-25 --date 2026-12-26
    Create {
        /// Unique calendar name.
        #[arg(long)]
        name: String,
        #[command(flatten)]
        dates: Dates,
        /// What the dates are.
        #[arg(long, value_name = "TEXT")]
        description: Option<String>,
        #[command(flatten)]
        target: Target,
    },
    /// List calendars.
    List {
        #[command(flatten)]
        target: Target,
    },
    /// Show a calendar and its dates.
    Get {
        name: String,
        #[command(flatten)]
        target: Target,
    },
    /// Change a calendar: only what is given changes (--date and --dates-file replace
    /// the dates).
    Edit {
        /// The calendar's name.
        name: String,
        /// A new name (refused while jobs name the calendar).
        #[arg(long, value_name = "NAME")]
        rename: Option<String>,
        #[command(flatten)]
        dates: Dates,
        /// What the dates are.
        #[arg(long, value_name = "TEXT")]
        description: Option<String>,
        #[command(flatten)]
        target: Target,
    },
    /// Delete a calendar (refused while jobs name it).
    Delete {
        name: String,
        #[command(flatten)]
        target: Target,
    },
}

#[derive(Debug, Args)]
struct Dates {
    /// A date as YYYY-MM-DD (repeatable).
    #[arg(long = "date", value_name = "DATE")]
    dates: Vec<String>,
    /// A file of dates, one per line (blank lines and lines starting with # are
    /// skipped).
    #[arg(long, value_name = "PATH")]
    dates_file: Option<PathBuf>,
}

impl Dates {
    /// The dates given, if any were.
    fn read(self) -> CliResult<Option<Vec<String>>> {
        let mut dates = self.dates;
        if let Some(path) = &self.dates_file {
            let text = read_text(path)?;
            dates.extend(
                text.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty() && !l.starts_with('#'))
                    .map(str::to_owned),
            );
        } else if dates.is_empty() {
            return Ok(None);
        }
        Ok(Some(dates))
    }
}

fn parse_format(s: &str) -> Result<DataFormat, String> {
    s.parse()
}

fn parse_after_last(s: &str) -> Result<AfterLast, String> {
    match s {
        "deactivate" => Ok(AfterLast::Deactivate),
        "delete" => Ok(AfterLast::Delete),
        other => Err(format!("unknown `{other}` (expected deactivate or delete)")),
    }
}

fn parse_missed(s: &str) -> Result<MissedPolicy, String> {
    match s {
        "once" => Ok(MissedPolicy::Once),
        "skip" => Ok(MissedPolicy::Skip),
        other => Err(format!("unknown `{other}` (expected once or skip)")),
    }
}

fn usage(message: impl Into<String>) -> CliError {
    CliError::new(ExitCode::Usage, message)
}

fn read_text(path: &Path) -> CliResult<String> {
    std::fs::read_to_string(path).map_err(|e| {
        CliError::new(
            ExitCode::Failed,
            format!("cannot read `{}`: {e}", path.display()),
        )
    })
}

impl When {
    fn interval_given(&self) -> bool {
        [
            self.interval_weeks,
            self.interval_days,
            self.interval_hours,
            self.interval_minutes,
            self.interval_seconds,
        ]
        .iter()
        .any(Option::is_some)
    }

    fn interval_options_given(&self) -> bool {
        self.start.is_some() || self.repeats.is_some() || self.after_last.is_some()
    }

    fn interval(&self) -> Schedule {
        Schedule::Interval {
            weeks: self.interval_weeks.unwrap_or(0),
            days: self.interval_days.unwrap_or(0),
            hours: self.interval_hours.unwrap_or(0),
            minutes: self.interval_minutes.unwrap_or(0),
            seconds: self.interval_seconds.unwrap_or(0),
            start: self.start.clone(),
            repeats: self.repeats,
            after_last: self.after_last.unwrap_or_default(),
        }
    }

    /// The schedule these options give on their own, if they give one.
    fn schedule(&self) -> CliResult<Option<Schedule>> {
        if let Some(expression) = &self.cron {
            return Ok(Some(Schedule::Cron {
                expression: expression.clone(),
            }));
        }
        if let Some(at) = &self.at {
            return Ok(Some(Schedule::OneTime { at: at.clone() }));
        }
        if self.interval_given() {
            return Ok(Some(self.interval()));
        }
        if self.interval_options_given() {
            return Err(usage(
                "--start, --repeats and --after-last go with --interval-weeks, -days, \
                 -hours, -minutes or -seconds",
            ));
        }
        Ok(None)
    }

    /// `old` changed by these options: a new kind replaces it, a new interval length
    /// keeps the interval's other settings unless given.
    fn apply(&self, old: Schedule) -> CliResult<Schedule> {
        let Schedule::Interval {
            start,
            repeats,
            after_last,
            weeks,
            days,
            hours,
            minutes,
            seconds,
        } = old
        else {
            return Ok(self.schedule()?.unwrap_or(old));
        };
        if self.cron.is_some() || self.at.is_some() {
            return Ok(self.schedule()?.expect("--cron or --at gives a schedule"));
        }
        let mut schedule = if self.interval_given() {
            self.interval()
        } else {
            Schedule::Interval {
                weeks,
                days,
                hours,
                minutes,
                seconds,
                start: self.start.clone(),
                repeats: self.repeats,
                after_last: self.after_last.unwrap_or_default(),
            }
        };
        if let Schedule::Interval {
            start: new_start,
            repeats: new_repeats,
            after_last: new_after_last,
            ..
        } = &mut schedule
        {
            if self.start.is_none() {
                *new_start = start;
            }
            if self.repeats.is_none() {
                *new_repeats = repeats;
            }
            if self.after_last.is_none() {
                *new_after_last = after_last;
            }
        }
        Ok(schedule)
    }
}

impl JobOptions {
    fn payload(&self) -> CliResult<Option<String>> {
        match (&self.payload, &self.payload_file) {
            (Some(text), _) => Ok(Some(text.clone())),
            (None, Some(path)) => read_text(path).map(Some),
            (None, None) => Ok(None),
        }
    }

    /// Sets on `job` what these options give.
    fn apply(self, job: &mut Job) -> CliResult {
        if let Some(payload) = self.payload()? {
            job.payload = payload;
        }
        if let Some(timezone) = self.timezone {
            job.timezone = timezone;
        }
        if let Some(format) = self.data_format {
            job.data_format = format;
        }
        if !self.calendars.is_empty() {
            job.calendars = self.calendars;
        }
        if let Some(missed) = self.missed {
            job.missed = missed;
        }
        if self.paused {
            job.active = false;
        }
        if let Some(timeout_ms) = self.timeout_ms {
            job.timeout_ms = timeout_ms;
        }
        Ok(())
    }
}

/// A job of these options with the defaults of a create.
fn new_job(
    name: String,
    service: String,
    schedule: Schedule,
    options: JobOptions,
) -> CliResult<Job> {
    let mut job = Job {
        name,
        service,
        payload: String::new(),
        data_format: DataFormat::Json,
        timezone: "UTC".into(),
        schedule,
        calendars: Vec::new(),
        missed: MissedPolicy::Once,
        active: true,
        timeout_ms: 0,
    };
    options.apply(&mut job)?;
    Ok(job)
}

impl Scheduler {
    pub async fn run(self, out: &Output) -> CliResult {
        match self.command {
            SchedulerCommand::Create {
                name,
                service,
                when,
                options,
                target,
            } => {
                let schedule = when.schedule()?.ok_or_else(|| {
                    usage(
                        "say when the job fires: --interval-weeks, -days, -hours, -minutes \
                         or -seconds K, --cron EXPR or --at TIME",
                    )
                })?;
                let job = new_job(name, service, schedule, options)?;
                let created = target.connect()?.create_job(&job).await?;
                out.print(&created, || {
                    format!("created job `{}`: {}", created.job.name, summary(&created))
                });
                Ok(())
            }
            SchedulerCommand::List { target } => {
                let jobs = target.connect()?.jobs().await?;
                out.print(&jobs, || {
                    let rows: Vec<Vec<String>> = jobs
                        .iter()
                        .map(|info| {
                            vec![
                                info.job.name.clone(),
                                info.job.service.clone(),
                                schedule_text(&info.job.schedule),
                                info.job.timezone.clone(),
                                state(info).into(),
                                info.next_fire_time.clone().unwrap_or_else(|| "-".into()),
                                info.last_run
                                    .as_ref()
                                    .map(|r| format!("{} {}", r.fire_time, outcome(r)))
                                    .unwrap_or_else(|| "-".into()),
                            ]
                        })
                        .collect();
                    table(
                        &[
                            "NAME", "SERVICE", "SCHEDULE", "ZONE", "STATE", "NEXT", "LAST RUN",
                        ],
                        &rows,
                    )
                });
                Ok(())
            }
            SchedulerCommand::Get { name, target } => {
                let info = target.connect()?.job(&name).await?;
                out.print(&info, || details(&info));
                Ok(())
            }
            SchedulerCommand::Edit {
                name,
                service,
                when,
                options,
                no_calendar,
                active,
                target,
            } => {
                // A local file is read before the server is asked anything.
                let payload = options.payload()?;
                let client = target.connect()?;
                let mut job = client.job(&name).await?.job;
                if let Some(service) = service {
                    job.service = service;
                }
                job.schedule = when.apply(job.schedule)?;
                let options = JobOptions {
                    payload,
                    payload_file: None,
                    ..options
                };
                options.apply(&mut job)?;
                if no_calendar {
                    job.calendars.clear();
                }
                if active {
                    job.active = true;
                }
                let updated = client.update_job(&name, &job).await?;
                out.print(&updated, || {
                    format!("updated job `{}`: {}", updated.job.name, summary(&updated))
                });
                Ok(())
            }
            SchedulerCommand::Pause { name, target } => {
                let info = target.connect()?.pause_job(&name).await?;
                out.print(&info, || format!("paused job `{}`", info.job.name));
                Ok(())
            }
            SchedulerCommand::Resume { name, target } => {
                let info = target.connect()?.resume_job(&name).await?;
                out.print(&info, || {
                    format!("resumed job `{}`: {}", info.job.name, summary(&info))
                });
                Ok(())
            }
            SchedulerCommand::Delete { name, target } => {
                target.connect()?.delete_job(&name).await?;
                out.print(&serde_json::json!({ "deleted": name }), || {
                    format!("deleted job `{name}`")
                });
                Ok(())
            }
            SchedulerCommand::Run { name, target } => {
                let queued = target.connect()?.run_job(&name).await?;
                out.print(&queued, || {
                    format!(
                        "queued a run of job `{name}` at {}: `zato scheduler runs {name}` \
                         shows how it ends",
                        queued.run.fire_time
                    )
                });
                Ok(())
            }
            SchedulerCommand::Runs {
                name,
                limit,
                target,
            } => {
                let runs = target.connect()?.job_runs(&name, limit).await?;
                out.print(&runs, || runs_table(&runs));
                Ok(())
            }
            SchedulerCommand::Next {
                name,
                count,
                from,
                when,
                timezone,
                calendars,
                target,
            } => {
                let times = match name {
                    Some(name) => {
                        target
                            .connect()?
                            .job_next(&name, Some(count), from.as_deref())
                            .await?
                    }
                    None => {
                        let schedule = when.schedule()?.ok_or_else(|| {
                            usage(
                                "name a job, or give a schedule: --cron EXPR, --interval-* K \
                                 or --at TIME",
                            )
                        })?;
                        let options = JobOptions {
                            timezone,
                            payload: None,
                            payload_file: None,
                            data_format: None,
                            calendars,
                            missed: None,
                            paused: false,
                            timeout_ms: None,
                        };
                        // A stand-in: the server checks the schedule, not the service.
                        let job = new_job("preview".into(), "preview".into(), schedule, options)?;
                        let preview = Preview { job, count, from };
                        target.connect()?.preview(&preview).await?
                    }
                };
                out.print(&times, || times.join("\n"));
                Ok(())
            }
            SchedulerCommand::Calendar { command } => command.run(out).await,
        }
    }
}

impl CalendarCommand {
    async fn run(self, out: &Output) -> CliResult {
        match self {
            CalendarCommand::Create {
                name,
                dates,
                description,
                target,
            } => {
                let calendar = Calendar {
                    name,
                    description: description.unwrap_or_default(),
                    dates: dates.read()?.unwrap_or_default(),
                };
                let created = target.connect()?.create_calendar(&calendar).await?;
                out.print(&created, || {
                    format!(
                        "created calendar `{}` of {} dates",
                        created.name,
                        created.dates.len()
                    )
                });
                Ok(())
            }
            CalendarCommand::List { target } => {
                let calendars = target.connect()?.calendars().await?;
                out.print(&calendars, || {
                    let rows: Vec<Vec<String>> = calendars
                        .iter()
                        .map(|c| {
                            vec![
                                c.name.clone(),
                                c.dates.len().to_string(),
                                c.description.clone(),
                            ]
                        })
                        .collect();
                    table(&["NAME", "DATES", "DESCRIPTION"], &rows)
                });
                Ok(())
            }
            CalendarCommand::Get { name, target } => {
                let calendar = target.connect()?.calendar(&name).await?;
                out.print(&calendar, || {
                    let mut lines = vec![format!("calendar `{}`", calendar.name)];
                    if !calendar.description.is_empty() {
                        lines.push(calendar.description.clone());
                    }
                    lines.extend(calendar.dates.iter().cloned());
                    lines.join("\n")
                });
                Ok(())
            }
            CalendarCommand::Edit {
                name,
                rename,
                dates,
                description,
                target,
            } => {
                let dates = dates.read()?;
                let client = target.connect()?;
                let mut calendar = client.calendar(&name).await?;
                if let Some(rename) = rename {
                    calendar.name = rename;
                }
                if let Some(dates) = dates {
                    calendar.dates = dates;
                }
                if let Some(description) = description {
                    calendar.description = description;
                }
                let updated = client.update_calendar(&name, &calendar).await?;
                out.print(&updated, || {
                    format!(
                        "updated calendar `{}`: {} dates",
                        updated.name,
                        updated.dates.len()
                    )
                });
                Ok(())
            }
            CalendarCommand::Delete { name, target } => {
                target.connect()?.delete_calendar(&name).await?;
                out.print(&serde_json::json!({ "deleted": name }), || {
                    format!("deleted calendar `{name}`")
                });
                Ok(())
            }
        }
    }
}

/// A schedule for people: `every 1h 30m`, `cron */5 * * * *`, `at 2026-12-24T18:00:00`.
fn schedule_text(schedule: &Schedule) -> String {
    match schedule {
        Schedule::OneTime { at } => format!("at {at}"),
        Schedule::Cron { expression } => format!("cron {expression}"),
        Schedule::Interval {
            weeks,
            days,
            hours,
            minutes,
            seconds,
            start,
            repeats,
            after_last,
        } => {
            let parts: Vec<String> = [
                (weeks, "w"),
                (days, "d"),
                (hours, "h"),
                (minutes, "m"),
                (seconds, "s"),
            ]
            .iter()
            .filter(|(n, _)| **n > 0)
            .map(|(n, unit)| format!("{n}{unit}"))
            .collect();
            let mut text = format!("every {}", parts.join(" "));
            if let Some(start) = start {
                text.push_str(&format!(" from {start}"));
            }
            if let Some(repeats) = repeats {
                let then = match after_last {
                    AfterLast::Deactivate => "paused",
                    AfterLast::Delete => "deleted",
                };
                text.push_str(&format!(", {repeats} times, then {then}"));
            }
            text
        }
    }
}

fn state(info: &JobInfo) -> &'static str {
    if info.job.active { "active" } else { "paused" }
}

fn outcome(run: &Run) -> String {
    serde_json::to_value(run.outcome)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn trigger(run: &Run) -> String {
    serde_json::to_value(run.trigger)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// What a create or an update did, in a line.
fn summary(info: &JobInfo) -> String {
    let next = match (&info.next_fire_time, info.job.active) {
        (_, false) => "paused".to_owned(),
        (Some(next), true) => format!("next at {next}"),
        (None, true) => "no more fire times".to_owned(),
    };
    format!(
        "`{}` {} ({}); {next}",
        info.job.service,
        schedule_text(&info.job.schedule),
        info.job.timezone
    )
}

fn details(info: &JobInfo) -> String {
    let job = &info.job;
    let mut lines = vec![
        format!("job:        {}", job.name),
        format!("service:    {}", job.service),
        format!("schedule:   {}", schedule_text(&job.schedule)),
        format!("time zone:  {}", job.timezone),
        format!("state:      {}", state(info)),
        format!(
            "next:       {}",
            info.next_fire_time.as_deref().unwrap_or("-")
        ),
    ];
    if !job.calendars.is_empty() {
        lines.push(format!("calendars:  {}", job.calendars.join(", ")));
    }
    let missed = match job.missed {
        MissedPolicy::Once => "once",
        MissedPolicy::Skip => "skip",
    };
    lines.push(format!("missed:     {missed}"));
    if job.timeout_ms > 0 {
        lines.push(format!("timeout:    {} ms", job.timeout_ms));
    }
    if !job.payload.is_empty() {
        lines.push(format!(
            "payload:    {} ({})",
            job.payload,
            job.data_format.as_str()
        ));
    }
    if let Some(run) = &info.last_run {
        lines.push(format!(
            "last run:   {} {}{}",
            run.fire_time,
            outcome(run),
            run.detail
                .as_deref()
                .map(|d| format!(": {d}"))
                .unwrap_or_default()
        ));
    }
    lines.join("\n")
}

fn runs_table(runs: &[Run]) -> String {
    let ms = |v: Option<i64>| v.map(|v| format!("{v} ms")).unwrap_or_else(|| "-".into());
    let rows: Vec<Vec<String>> = runs
        .iter()
        .map(|r| {
            vec![
                r.fire_time.clone(),
                trigger(r),
                outcome(r),
                r.server.clone().unwrap_or_else(|| "-".into()),
                ms(r.delay_ms),
                ms(r.duration_ms),
                r.detail.clone().unwrap_or_default(),
            ]
        })
        .collect();
    table(
        &[
            "FIRE TIME",
            "TRIGGER",
            "OUTCOME",
            "SERVER",
            "DELAY",
            "DURATION",
            "DETAIL",
        ],
        &rows,
    )
}
