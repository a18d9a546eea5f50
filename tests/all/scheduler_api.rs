//! The scheduler's admin API and `zato scheduler ...`: jobs and calendars created,
//! listed, edited, paused, resumed and deleted through the client and the CLI, bad
//! input refused with what was wrong and nothing stored, and next fire times (of a job
//! and of a preview) across Warsaw's DST changes. Firing is `scheduler.rs`'s.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use zato_api::{
    AfterLast, Calendar, ClientError, DataFormat, Job, MissedPolicy, Preview, Schedule,
};

use crate::cli::{text, zato};
use crate::harness::{PASSWORD, TestServer, USER};

/// Runs `zato ARGS --json` against `server`: (exit code, its one JSON document).
async fn cli(server: &TestServer, args: &[&str]) -> (i32, Value) {
    let mut all = args.to_vec();
    all.extend([
        "--url",
        &server.base,
        "--user",
        USER,
        "--password",
        PASSWORD,
        "--json",
    ]);
    let output = zato(&all).await;
    let code = output.status.code().unwrap();
    let document = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "`zato {}` printed no single JSON document ({e}): stdout {:?}, stderr {:?}",
            args.join(" "),
            text(&output.stdout),
            text(&output.stderr)
        )
    });
    (code, document)
}

/// As [`cli`], which must succeed.
async fn cli_ok(server: &TestServer, args: &[&str]) -> Value {
    let (code, document) = cli(server, args).await;
    assert_eq!(code, 0, "`zato {}`: {document}", args.join(" "));
    document
}

/// As [`cli`], which must fail with exit code 1 and the server's `status`; gives the
/// error message.
async fn cli_refused(server: &TestServer, args: &[&str], status: u16) -> String {
    let (code, document) = cli(server, args).await;
    assert_eq!(code, 1, "`zato {}`: {document}", args.join(" "));
    assert_eq!(
        document["status"],
        status,
        "`zato {}`: {document}",
        args.join(" ")
    );
    document["error"].as_str().unwrap().to_owned()
}

/// The status and message of a refusal by the server.
fn refused<T: std::fmt::Debug>(result: Result<T, ClientError>) -> (StatusCode, String) {
    match result {
        Err(ClientError::Server {
            status, message, ..
        }) => (status, message),
        other => panic!("not refused: {other:?}"),
    }
}

fn cron(name: &str, expression: &str, timezone: &str) -> Job {
    Job {
        name: name.into(),
        service: "demo.hello".into(),
        payload: String::new(),
        data_format: DataFormat::Json,
        timezone: timezone.into(),
        schedule: Schedule::Cron {
            expression: expression.into(),
        },
        calendars: Vec::new(),
        missed: MissedPolicy::Once,
        active: true,
        timeout_ms: 0,
    }
}

fn every(name: &str, seconds: u64) -> Job {
    Job {
        schedule: Schedule::Interval {
            weeks: 0,
            days: 0,
            hours: 0,
            minutes: 0,
            seconds,
            start: None,
            repeats: None,
            after_last: AfterLast::Deactivate,
        },
        ..cron(name, "* * * * *", "UTC")
    }
}

async fn preview(server: &TestServer, job: Job, count: u32, from: &str) -> Vec<String> {
    server
        .api
        .preview(&Preview {
            job,
            count,
            from: Some(from.into()),
        })
        .await
        .unwrap_or_else(|e| panic!("preview: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_and_calendars_are_created_edited_paused_and_deleted_through_the_cli_and_the_client() {
    let server = TestServer::start().await;

    // Calendars: dates given one by one, or from a file.
    let holidays = cli_ok(
        &server,
        &[
            "scheduler",
            "calendar",
            "create",
            "--name",
            "pl.holidays",
            "--date",
            "2026-12-25",
            "--date",
            "2026-12-26",
            "--description",
            "Christmas",
        ],
    )
    .await;
    assert_eq!(
        holidays,
        json!({"name": "pl.holidays", "description": "Christmas",
               "dates": ["2026-12-25", "2026-12-26"]})
    );
    let file = server.dir.path().join("dates.txt");
    std::fs::write(&file, "# public holidays\n2026-01-01\n\n  2026-01-06\n").unwrap();
    let more = cli_ok(
        &server,
        &[
            "scheduler",
            "calendar",
            "create",
            "--name",
            "pl.more",
            "--date",
            "2026-05-01",
            "--dates-file",
            file.to_str().unwrap(),
        ],
    )
    .await;
    assert_eq!(
        more["dates"],
        json!(["2026-05-01", "2026-01-01", "2026-01-06"])
    );

    // The three kinds of schedule; the services need not be deployed.
    let tick = cli_ok(
        &server,
        &[
            "scheduler",
            "create",
            "--name",
            "tick",
            "--service",
            "demo.hello",
            "--interval-seconds",
            "3600",
        ],
    )
    .await;
    assert_eq!(
        tick["job"]["schedule"],
        json!({"kind": "interval", "weeks": 0, "days": 0, "hours": 0, "minutes": 0,
               "seconds": 3600, "after_last": "deactivate"})
    );
    assert_eq!(tick["job"]["timezone"], "UTC");
    assert_eq!(tick["job"]["active"], true);
    assert!(tick["next_fire_time"].is_string(), "{tick}");
    assert_eq!(tick["last_run"], Value::Null);
    let created_at = tick["created_at"].as_i64().unwrap();

    let nightly = cli_ok(
        &server,
        &[
            "scheduler",
            "create",
            "--name",
            "nightly",
            "--service",
            "billing.run",
            "--cron",
            "0 2 * * 1-5",
            "--timezone",
            "Europe/Warsaw",
            "--calendar",
            "pl.holidays",
            "--missed",
            "skip",
            "--payload",
            r#"{"full": true}"#,
            "--timeout-ms",
            "5000",
        ],
    )
    .await;
    assert_eq!(
        nightly["job"],
        json!({"name": "nightly", "service": "billing.run", "payload": r#"{"full": true}"#,
               "data_format": "json", "timezone": "Europe/Warsaw",
               "schedule": {"kind": "cron", "expression": "0 2 * * 1-5"},
               "calendars": ["pl.holidays"], "missed": "skip", "active": true,
               "timeout_ms": 5000})
    );
    let next = nightly["next_fire_time"].as_str().unwrap();
    assert!(next.contains("T02:00:00+0"), "{next}");

    let once = cli_ok(
        &server,
        &[
            "scheduler",
            "create",
            "--name",
            "once",
            "--service",
            "demo.hello",
            "--at",
            "2030-01-02T03:04:05",
            "--timezone",
            "Europe/Warsaw",
            "--data-format",
            "raw",
            "--payload",
            "plain text",
        ],
    )
    .await;
    assert_eq!(
        once["job"]["schedule"],
        json!({"kind": "one_time", "at": "2030-01-02T03:04:05"})
    );
    assert_eq!(once["next_fire_time"], "2030-01-02T03:04:05+01:00");

    let names = |list: &Value| -> Vec<(String, bool)> {
        list.as_array()
            .unwrap()
            .iter()
            .map(|i| {
                (
                    i["job"]["name"].as_str().unwrap().to_owned(),
                    i["job"]["active"].as_bool().unwrap(),
                )
            })
            .collect()
    };
    let listed = cli_ok(&server, &["scheduler", "list"]).await;
    assert_eq!(
        names(&listed),
        [
            ("nightly".into(), true),
            ("once".into(), true),
            ("tick".into(), true)
        ]
    );

    // Paused, shown in the list without a next time, and resumed.
    let paused = cli_ok(&server, &["scheduler", "pause", "nightly"]).await;
    assert_eq!(paused["job"]["active"], false);
    assert_eq!(paused["next_fire_time"], Value::Null);
    let listed = cli_ok(&server, &["scheduler", "list"]).await;
    assert_eq!(
        names(&listed),
        [
            ("nightly".into(), false),
            ("once".into(), true),
            ("tick".into(), true)
        ]
    );
    assert_eq!(listed[0]["next_fire_time"], Value::Null);
    let resumed = server.api.resume_job("nightly").await.unwrap();
    assert!(resumed.job.active);
    assert!(resumed.next_fire_time.is_some());
    let listed = server.api.jobs().await.unwrap();
    assert!(listed.iter().all(|i| i.job.active));

    // Next fire times skip the calendar's dates (Friday 25th) and weekends.
    let next = cli_ok(
        &server,
        &[
            "scheduler",
            "next",
            "nightly",
            "--count",
            "2",
            "--from",
            "2026-12-23T12:00:00",
        ],
    )
    .await;
    assert_eq!(
        next,
        json!(["2026-12-24T02:00:00+01:00", "2026-12-28T02:00:00+01:00"])
    );
    let next = cli_ok(&server, &["scheduler", "next", "once", "--count", "3"]).await;
    assert_eq!(next, json!(["2030-01-02T03:04:05+01:00"]), "one time only");

    // An edit changes only what is given; an interval keeps its anchor.
    let edited = cli_ok(
        &server,
        &[
            "scheduler",
            "edit",
            "tick",
            "--interval-minutes",
            "90",
            "--repeats",
            "5",
            "--paused",
        ],
    )
    .await;
    assert_eq!(
        edited["job"]["schedule"],
        json!({"kind": "interval", "weeks": 0, "days": 0, "hours": 0, "minutes": 90,
               "seconds": 0, "repeats": 5, "after_last": "deactivate"})
    );
    assert_eq!(edited["job"]["service"], "demo.hello");
    assert_eq!(edited["job"]["active"], false);
    assert_eq!(edited["created_at"], created_at);
    let edited = cli_ok(
        &server,
        &[
            "scheduler",
            "edit",
            "tick",
            "--after-last",
            "delete",
            "--active",
        ],
    )
    .await;
    assert_eq!(edited["job"]["schedule"]["minutes"], 90);
    assert_eq!(edited["job"]["schedule"]["repeats"], 5);
    assert_eq!(edited["job"]["schedule"]["after_last"], "delete");
    assert_eq!(edited["job"]["active"], true);
    let got = cli_ok(&server, &["scheduler", "get", "tick"]).await;
    assert_eq!(got["job"], edited["job"]);
    let edited = server.api.job("nightly").await.unwrap();
    let mut job = edited.job.clone();
    job.schedule = Schedule::Cron {
        expression: "0 3 * * *".into(),
    };
    let updated = server.api.update_job("nightly", &job).await.unwrap();
    assert_eq!(updated.job, job);
    assert_eq!(updated.created_at, edited.created_at);

    // Run now: recorded and queued, then listed among the runs.
    let queued = cli_ok(&server, &["scheduler", "run", "tick"]).await;
    assert_eq!(queued["run"]["job"], "tick");
    assert_eq!(queued["run"]["trigger"], "manual");
    let runs = cli_ok(&server, &["scheduler", "runs", "tick", "--limit", "10"]).await;
    let runs = runs.as_array().unwrap();
    assert_eq!(runs.len(), 1, "{runs:?}");
    for key in ["fire_time", "server", "epoch", "outcome"] {
        assert!(runs[0].get(key).is_some(), "{key} in {}", runs[0]);
    }
    assert_eq!(runs[0]["fire_time"], queued["run"]["fire_time"]);

    // Calendars: edited (only what is given), listed, deleted.
    let edited = cli_ok(
        &server,
        &[
            "scheduler",
            "calendar",
            "edit",
            "pl.more",
            "--date",
            "2026-11-11",
            "--description",
            "Independence Day",
        ],
    )
    .await;
    assert_eq!(
        edited,
        json!({"name": "pl.more", "description": "Independence Day", "dates": ["2026-11-11"]})
    );
    let renamed = cli_ok(
        &server,
        &[
            "scheduler",
            "calendar",
            "edit",
            "pl.more",
            "--rename",
            "pl.nov",
        ],
    )
    .await;
    assert_eq!(renamed["name"], "pl.nov");
    assert_eq!(renamed["dates"], json!(["2026-11-11"]));
    let calendars = cli_ok(&server, &["scheduler", "calendar", "list"]).await;
    let names: Vec<&str> = calendars
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["pl.holidays", "pl.nov"]);
    let got = cli_ok(&server, &["scheduler", "calendar", "get", "pl.holidays"]).await;
    assert_eq!(got, holidays);
    assert_eq!(
        cli_ok(&server, &["scheduler", "calendar", "delete", "pl.nov"]).await,
        json!({"deleted": "pl.nov"})
    );

    // Jobs deleted: through the CLI and the client.
    assert_eq!(
        cli_ok(&server, &["scheduler", "delete", "tick"]).await,
        json!({"deleted": "tick"})
    );
    let message = cli_refused(&server, &["scheduler", "get", "tick"], 404).await;
    assert!(message.contains("`tick`"), "{message}");
    assert_eq!(
        server.api.delete_job("nightly").await.unwrap().name,
        "nightly"
    );
    assert_eq!(server.api.delete_job("once").await.unwrap().name, "once");
    assert!(server.api.jobs().await.unwrap().is_empty());
    assert_eq!(
        server
            .api
            .delete_calendar("pl.holidays")
            .await
            .unwrap()
            .name,
        "pl.holidays"
    );
    assert!(server.api.calendars().await.unwrap().is_empty());

    // Human output, for people.
    let output = zato(&[
        "scheduler",
        "list",
        "--url",
        &server.base,
        "--user",
        USER,
        "--password",
        PASSWORD,
    ])
    .await;
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(
        text(&output.stdout).starts_with("NAME"),
        "{}",
        text(&output.stdout)
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_jobs_and_calendars_are_refused_naming_what_is_wrong_and_nothing_is_stored() {
    let server = TestServer::start().await;
    let api = &server.api;

    let mut wrong_service = every("w", 60);
    wrong_service.service = "no such/service".into();
    let mut empty_name = every("", 60);
    empty_name.name = " ".into();
    let mut not_json = every("j", 60);
    not_json.payload = "{not json".into();
    let mut unknown_calendar = cron("c", "0 2 * * *", "UTC");
    unknown_calendar.calendars = vec!["nope.cal".into()];
    let cases = [
        (cron("z", "0 2 * * *", "Mars/Olympus"), "Mars/Olympus"),
        (cron("c", "61 * * * *", "UTC"), "61 * * * *"),
        (cron("c", "* * *", "UTC"), "* * *"),
        (every("i", 0), "interval"),
        (unknown_calendar, "nope.cal"),
        (wrong_service, "no such/service"),
        (empty_name, "name"),
        (not_json, "payload"),
        (
            Job {
                schedule: Schedule::OneTime {
                    at: "next tuesday".into(),
                },
                ..every("t", 1)
            },
            "next tuesday",
        ),
    ];
    for (job, named) in cases {
        let (status, message) = refused(api.create_job(&job).await);
        assert_eq!(status, StatusCode::BAD_REQUEST, "{job:?}: {message}");
        assert!(message.contains(named), "{job:?}: {message}");
    }
    // The same through the CLI.
    let message = cli_refused(
        &server,
        &[
            "scheduler",
            "create",
            "--name",
            "z",
            "--service",
            "demo.hello",
            "--cron",
            "0 2 * * *",
            "--timezone",
            "Mars/Olympus",
        ],
        400,
    )
    .await;
    assert!(message.contains("Mars/Olympus"), "{message}");

    // Bodies that are not jobs: each names the field.
    let bodies = [
        (
            json!({"name": "a", "service": "demo.hello", "colour": "red",
                   "schedule": {"kind": "interval", "seconds": 1}}),
            "colour",
        ),
        (
            json!({"name": "a", "service": "demo.hello",
                   "schedule": {"kind": "cron", "expresion": "* * * * *"}}),
            "expresion",
        ),
        (
            json!({"name": "a", "service": "demo.hello", "schedule": {"kind": "hourly"}}),
            "hourly",
        ),
        (
            json!({"name": "a", "service": "demo.hello", "timeout_ms": 9223372036854775808u64,
                   "schedule": {"kind": "interval", "seconds": 1}}),
            "timeout_ms",
        ),
        (
            json!({"name": "a", "service": "demo.hello",
                   "schedule": {"kind": "interval", "seconds": 9223372036854775808u64}}),
            "seconds",
        ),
    ];
    for (body, named) in bodies {
        let answer = server
            .admin(Method::POST, "/zato/api/scheduler/jobs")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::BAD_REQUEST, "{body}");
        let error: Value = answer.json().await.unwrap();
        assert!(
            error["error"].as_str().unwrap().contains(named),
            "{body}: {error}"
        );
    }
    assert!(api.jobs().await.unwrap().is_empty(), "nothing was stored");

    // Calendars: a date that is not one; nothing stored.
    let (status, message) = refused(
        api.create_calendar(&Calendar {
            name: "bad".into(),
            description: String::new(),
            dates: vec!["2026-12-25".into(), "2026-02-30".into()],
        })
        .await,
    );
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message.contains("2026-02-30"), "{message}");
    assert!(api.calendars().await.unwrap().is_empty());

    // A job is not renamed, nor replaced by a wrong one.
    api.create_calendar(&Calendar {
        name: "cal".into(),
        description: String::new(),
        dates: vec!["2026-12-25".into()],
    })
    .await
    .unwrap();
    let mut job = cron("a", "0 2 * * *", "Europe/Warsaw");
    job.calendars = vec!["cal".into()];
    let stored = api.create_job(&job).await.unwrap();
    let (status, message) = refused(api.create_job(&job).await);
    assert_eq!(status, StatusCode::CONFLICT, "{message}");
    let (status, message) = refused(api.update_job("a", &cron("b", "0 2 * * *", "UTC")).await);
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        message.contains("`a`") && message.contains("`b`"),
        "{message}"
    );
    let (status, message) = refused(
        api.update_job("a", &cron("a", "0 2 * * *", "Nowhere"))
            .await,
    );
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message.contains("Nowhere"), "{message}");
    let (status, _) = refused(api.update_job("zz", &cron("zz", "0 2 * * *", "UTC")).await);
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(api.job("a").await.unwrap().job, stored.job, "unchanged");

    // A calendar that a job names is neither deleted nor renamed away.
    let (status, message) = refused(api.delete_calendar("cal").await);
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(message.contains("`a`"), "names the job: {message}");
    let message = cli_refused(&server, &["scheduler", "calendar", "delete", "cal"], 409).await;
    assert!(message.contains("`a`"), "{message}");
    let renamed = Calendar {
        name: "cal2".into(),
        description: String::new(),
        dates: Vec::new(),
    };
    let (status, message) = refused(api.update_calendar("cal", &renamed).await);
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(message.contains("`a`"), "{message}");
    assert_eq!(api.calendar("cal").await.unwrap().dates, ["2026-12-25"]);
    // Its dates may change.
    let changed = Calendar {
        dates: vec!["2026-12-24".into()],
        ..api.calendar("cal").await.unwrap()
    };
    api.update_calendar("cal", &changed).await.unwrap();

    // Unknown names, and queries out of range.
    for result in [
        api.job("zz").await.map(|_| ()),
        api.pause_job("zz").await.map(|_| ()),
        api.resume_job("zz").await.map(|_| ()),
        api.run_job("zz").await.map(|_| ()),
        api.delete_job("zz").await.map(|_| ()),
        api.job_runs("zz", None).await.map(|_| ()),
        api.job_next("zz", None, None).await.map(|_| ()),
        api.calendar("zz").await.map(|_| ()),
        api.delete_calendar("zz").await.map(|_| ()),
    ] {
        assert_eq!(refused(result).0, StatusCode::NOT_FOUND);
    }
    for (result, named) in [
        (api.job_next("a", Some(0), None).await, "count"),
        (api.job_next("a", Some(1001), None).await, "count"),
        (
            api.job_next("a", Some(1), Some("yesterday")).await,
            "yesterday",
        ),
    ] {
        let (status, message) = refused(result);
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(message.contains(named), "{message}");
    }
    let (status, message) = refused(api.job_runs("a", Some(10_001)).await);
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message.contains("limit"), "{message}");

    // Wrong usage is the CLI's: exit 2, before the server is asked.
    for args in [
        &["scheduler", "create", "--name", "u", "--service", "s"][..],
        &[
            "scheduler",
            "create",
            "--name",
            "u",
            "--service",
            "s",
            "--cron",
            "* * * * *",
            "--at",
            "2030-01-01T00:00:00",
        ],
        &[
            "scheduler",
            "create",
            "--name",
            "u",
            "--service",
            "s",
            "--cron",
            "* * * * *",
            "--interval-seconds",
            "5",
        ],
        &[
            "scheduler",
            "create",
            "--name",
            "u",
            "--service",
            "s",
            "--cron",
            "* * * * *",
            "--repeats",
            "5",
        ],
        &[
            "scheduler",
            "create",
            "--name",
            "u",
            "--service",
            "s",
            "--interval-seconds",
            "5",
            "--data-format",
            "yaml",
        ],
        &["scheduler", "next", "--count", "3"],
        &["scheduler", "next", "a", "--cron", "* * * * *"],
    ] {
        let (code, document) = cli(&server, args).await;
        assert_eq!(code, 2, "`zato {}`: {document}", args.join(" "));
    }
    assert_eq!(api.jobs().await.unwrap().len(), 1);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn next_fire_times_cross_warsaws_dst_changes_as_vixie_cron_does() {
    let server = TestServer::start().await;
    let warsaw = |expression: &str| cron("preview", expression, "Europe/Warsaw");

    // Spring forward, 2026-03-29 02:00 -> 03:00: a fixed time in the skipped hour fires
    // once at the change; a wildcard minute follows the clock.
    assert_eq!(
        preview(&server, warsaw("30 2 * * *"), 4, "2026-03-27T00:00:00").await,
        [
            "2026-03-27T02:30:00+01:00",
            "2026-03-28T02:30:00+01:00",
            "2026-03-29T03:00:00+02:00",
            "2026-03-30T02:30:00+02:00",
        ]
    );
    assert_eq!(
        preview(&server, warsaw("*/30 * * * *"), 3, "2026-03-29T01:00:00").await,
        [
            "2026-03-29T01:30:00+01:00",
            "2026-03-29T03:00:00+02:00",
            "2026-03-29T03:30:00+02:00",
        ]
    );
    // Fall back, 2026-10-25 03:00 -> 02:00: a fixed time in the repeated hour fires once;
    // a wildcard hour fires in both.
    assert_eq!(
        preview(&server, warsaw("0 * * * *"), 3, "2026-10-25T01:30:00+02:00").await,
        [
            "2026-10-25T02:00:00+02:00",
            "2026-10-25T02:00:00+01:00",
            "2026-10-25T03:00:00+01:00",
        ]
    );

    // A stored job's next times, through the client and the CLI.
    server
        .api
        .create_job(&cron("warsaw", "30 2 * * *", "Europe/Warsaw"))
        .await
        .unwrap();
    assert_eq!(
        server
            .api
            .job_next("warsaw", Some(3), Some("2026-10-24T00:00:00"))
            .await
            .unwrap(),
        [
            "2026-10-24T02:30:00+02:00",
            "2026-10-25T02:30:00+02:00",
            "2026-10-26T02:30:00+01:00",
        ]
    );
    let next = cli_ok(
        &server,
        &[
            "scheduler",
            "next",
            "warsaw",
            "--count",
            "2",
            "--from",
            "2026-10-24T12:00:00",
        ],
    )
    .await;
    assert_eq!(
        next,
        json!(["2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00"])
    );
    // A schedule tried before a job is made: no job, no service.
    let next = cli_ok(
        &server,
        &[
            "scheduler",
            "next",
            "--cron",
            "30 2 * * *",
            "--timezone",
            "Europe/Warsaw",
            "--from",
            "2026-03-28T12:00:00",
            "--count",
            "2",
        ],
    )
    .await;
    assert_eq!(
        next,
        json!(["2026-03-29T03:00:00+02:00", "2026-03-30T02:30:00+02:00"])
    );
    let next = cli_ok(
        &server,
        &[
            "scheduler",
            "next",
            "--interval-hours",
            "1",
            "--start",
            "2026-03-29T01:00:00",
            "--timezone",
            "Europe/Warsaw",
            "--from",
            "2026-03-29T00:00:00",
            "--count",
            "3",
        ],
    )
    .await;
    assert_eq!(
        next,
        json!([
            "2026-03-29T01:00:00+01:00",
            "2026-03-29T03:00:00+02:00",
            "2026-03-29T04:00:00+02:00"
        ]),
        "an interval counts real time"
    );
    assert_eq!(
        server.api.jobs().await.unwrap().len(),
        1,
        "a preview stores nothing"
    );
    server.stop().await;
}
