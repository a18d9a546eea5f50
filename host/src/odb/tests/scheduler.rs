//! The scheduler: jobs, calendars, the singleton's lease, and the runs recorded under it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{Backend, TestDb};
use crate::api::{
    AfterLast, Calendar, DataFormat, Job, MissedPolicy, RunOutcome, RunTrigger, Schedule,
};
use crate::odb::{NewRun, OdbError, RunResult, Scheduling, SqlOdb};

backends!(
    jobs_are_created_read_updated_and_deleted,
    every_schedule_kind_round_trips,
    jobs_are_paused_and_resumed,
    job_keys_are_checked_and_lookups_are_exact,
    calendars_are_created_read_updated_and_deleted,
    the_first_claim_takes_the_lease_and_renewals_keep_its_epoch,
    an_expired_lease_goes_to_the_next_claimant_with_a_new_epoch,
    a_released_lease_is_claimed_at_once,
    concurrent_claims_leave_one_holder,
    runs_are_recorded_once,
    many_runs_are_recorded_in_chunks,
    a_stale_epoch_or_an_expired_lease_records_nothing,
    a_manual_run_takes_the_next_free_millisecond,
    manual_runs_racing_the_planner_are_recorded_apart,
    finished_runs_show_how_they_ended,
    last_runs_are_the_latest_of_each_job,
    runs_are_pruned_by_when_they_were_recorded,
    deleting_a_job_deletes_its_runs,
);

const LEASE: &str = "scheduler";
/// Long enough that no test sees it run out unless it waits for it.
const LONG_MS: i64 = 60_000;

fn job(name: &str, schedule: Schedule) -> Job {
    Job {
        name: name.into(),
        service: "demo.hello".into(),
        payload: r#"{"a": 1}"#.into(),
        data_format: DataFormat::Json,
        timezone: "Europe/Warsaw".into(),
        schedule,
        calendars: vec!["pl.holidays".into()],
        missed: MissedPolicy::Skip,
        active: true,
        timeout_ms: 2_500,
    }
}

fn every_second() -> Schedule {
    Schedule::Interval {
        weeks: 0,
        days: 0,
        hours: 0,
        minutes: 0,
        seconds: 1,
        start: None,
        repeats: None,
        after_last: AfterLast::Deactivate,
    }
}

fn run(job: &str, fire_time: i64) -> NewRun {
    NewRun {
        job: job.into(),
        fire_time,
        trigger: RunTrigger::Schedule,
    }
}

fn pairs(runs: &[NewRun]) -> Vec<(String, i64)> {
    runs.iter().map(|r| (r.job.clone(), r.fire_time)).collect()
}

/// Waits until the ODB's clock passes the lease's end, polling the ODB itself.
async fn wait_for_expiry(odb: &SqlOdb, name: &str) {
    let started = Instant::now();
    loop {
        let lease = odb.lease(name).await.unwrap().unwrap();
        if lease.now >= lease.expires_at {
            return;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "{lease:?}");
        let left = (lease.expires_at - lease.now).clamp(1, 1_000) as u64;
        tokio::time::sleep(Duration::from_millis(left)).await;
    }
}

/// Claims the lease for `holder` and returns its epoch.
async fn hold(odb: &SqlOdb, holder: &str) -> i64 {
    let lease = odb.claim_lease(LEASE, holder, LONG_MS).await.unwrap();
    assert_eq!(lease.holder.as_deref(), Some(holder), "{lease:?}");
    lease.epoch
}

async fn jobs_are_created_read_updated_and_deleted(db: TestDb) {
    let odb = db.odb().await;
    assert!(odb.jobs().await.unwrap().is_empty());
    assert!(odb.job("b").await.unwrap().is_none());

    let b = job("b", every_second());
    let created = odb.create_job(&b).await.unwrap();
    assert_eq!(created.job, b);
    assert_eq!(created.created_at, created.updated_at);
    let a = Job {
        service: "other".into(),
        ..job("a", every_second())
    };
    odb.create_job(&a).await.unwrap();
    let conflict = Job {
        service: "third".into(),
        ..job("b", every_second())
    };
    assert!(matches!(
        odb.create_job(&conflict).await,
        Err(OdbError::Conflict(_))
    ));

    let all = odb.jobs().await.unwrap();
    let names: Vec<_> = all.iter().map(|r| r.job.name.as_str()).collect();
    assert_eq!(names, ["a", "b"]);
    assert_eq!(all[1], created);
    assert_eq!(odb.job("b").await.unwrap().unwrap(), created);

    // An update replaces the definition and keeps the creation time.
    tokio::time::sleep(Duration::from_millis(5)).await;
    let changed = Job {
        service: "changed".into(),
        payload: String::new(),
        schedule: Schedule::Cron {
            expression: "*/5 * * * *".into(),
        },
        ..b.clone()
    };
    assert!(odb.update_job("b", &changed).await.unwrap());
    let read = odb.job("b").await.unwrap().unwrap();
    assert_eq!(read.job, changed);
    assert_eq!(read.created_at, created.created_at);
    assert!(read.updated_at > created.updated_at, "{read:?}");
    // The same values again still find the job (MySQL counts rows found).
    assert!(odb.update_job("b", &changed).await.unwrap());
    assert!(
        !odb.update_job("nobody", &job("nobody", every_second()))
            .await
            .unwrap()
    );
    // A job's name is its key.
    assert!(matches!(
        odb.update_job("b", &job("c", every_second())).await,
        Err(OdbError::Invalid(_))
    ));

    assert!(odb.delete_job("b").await.unwrap());
    assert!(!odb.delete_job("b").await.unwrap());
    assert!(odb.job("b").await.unwrap().is_none());
    assert_eq!(odb.jobs().await.unwrap().len(), 1);
    // A deleted job's name is free again.
    odb.create_job(&b).await.unwrap();
    assert_eq!(odb.jobs().await.unwrap().len(), 2);
}

async fn every_schedule_kind_round_trips(db: TestDb) {
    let odb = db.odb().await;
    let schedules = [
        Schedule::OneTime {
            at: "2026-12-24T18:00:00".into(),
        },
        every_second(),
        Schedule::Interval {
            weeks: 1,
            days: 2,
            hours: 3,
            minutes: 4,
            seconds: 5,
            start: Some("2026-03-29T02:30:00+01:00".into()),
            repeats: Some(7),
            after_last: AfterLast::Delete,
        },
        Schedule::Cron {
            expression: "*/55 06-20 * * *".into(),
        },
    ];
    let mut expected = Vec::new();
    for (n, schedule) in schedules.into_iter().enumerate() {
        let j = Job {
            payload: format!("<a>{n} \u{e9}\u{1F600} \"quoted\"</a>"),
            data_format: DataFormat::Xml,
            calendars: Vec::new(),
            missed: MissedPolicy::Once,
            ..job(&format!("j{n}"), schedule)
        };
        odb.create_job(&j).await.unwrap();
        expected.push(j);
    }
    let read: Vec<Job> = odb
        .jobs()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.job)
        .collect();
    assert_eq!(read, expected);
}

async fn jobs_are_paused_and_resumed(db: TestDb) {
    let odb = db.odb().await;
    let created = odb.create_job(&job("a", every_second())).await.unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert!(odb.set_job_active("a", false).await.unwrap());
    let paused = odb.job("a").await.unwrap().unwrap();
    assert!(!paused.job.active);
    assert!(paused.updated_at > created.updated_at);
    assert_eq!(
        Job {
            active: true,
            ..paused.job.clone()
        },
        created.job
    );
    // Pausing a paused job is not an error, and it stays paused.
    assert!(odb.set_job_active("a", false).await.unwrap());
    assert!(!odb.job("a").await.unwrap().unwrap().job.active);
    assert!(odb.set_job_active("a", true).await.unwrap());
    assert_eq!(odb.job("a").await.unwrap().unwrap().job, created.job);
    assert!(!odb.set_job_active("nobody", true).await.unwrap());
    // A job created paused stays so until resumed.
    let idle = Job {
        active: false,
        ..job("idle", every_second())
    };
    odb.create_job(&idle).await.unwrap();
    assert!(!odb.job("idle").await.unwrap().unwrap().job.active);
}

/// Names no job can have are refused when stored and found nowhere when looked up, on
/// every backend alike (MySQL would match `a ` against `a`, PostgreSQL refuse a NUL).
async fn job_keys_are_checked_and_lookups_are_exact(db: TestDb) {
    let odb = db.odb().await;
    let longest = "é".repeat(255);
    odb.create_job(&job(&longest, every_second()))
        .await
        .unwrap();
    odb.create_job(&job("a", every_second())).await.unwrap();
    odb.create_job(&job("A", every_second())).await.unwrap();
    for bad in ["é".repeat(256), "b ".into(), "b\u{0}".into(), "b\n".into()] {
        assert!(
            matches!(
                odb.create_job(&job(&bad, every_second())).await,
                Err(OdbError::Invalid(_))
            ),
            "{bad:?}"
        );
        let bad_service = Job {
            service: bad.clone(),
            ..job("b", every_second())
        };
        assert!(matches!(
            odb.create_job(&bad_service).await,
            Err(OdbError::Invalid(_))
        ));
        let calendar = Calendar {
            name: bad.clone(),
            description: String::new(),
            dates: Vec::new(),
        };
        assert!(matches!(
            odb.create_calendar(&calendar).await,
            Err(OdbError::Invalid(_))
        ));
        assert!(matches!(
            odb.claim_lease(&bad, "s1", LONG_MS).await,
            Err(OdbError::Invalid(_))
        ));
    }
    assert_eq!(odb.jobs().await.unwrap().len(), 3);
    for lookup in ["a ", "a\u{0}", &"é".repeat(256)] {
        assert!(odb.job(lookup).await.unwrap().is_none(), "{lookup:?}");
        assert!(!odb.set_job_active(lookup, false).await.unwrap());
        assert!(!odb.delete_job(lookup).await.unwrap());
        assert!(odb.calendar(lookup).await.unwrap().is_none());
        assert!(odb.lease(lookup).await.unwrap().is_none());
        assert!(odb.runs(lookup, 10).await.unwrap().is_empty());
    }
    assert!(odb.job("a").await.unwrap().unwrap().job.active);
    assert_eq!(odb.job(&longest).await.unwrap().unwrap().job.name, longest);
    assert_eq!(odb.jobs().await.unwrap().len(), 3);
}

async fn calendars_are_created_read_updated_and_deleted(db: TestDb) {
    let odb = db.odb().await;
    assert!(odb.calendars().await.unwrap().is_empty());
    let pl = Calendar {
        name: "pl.holidays".into(),
        description: "Święta".into(),
        dates: vec!["2026-12-25".into(), "2026-12-26".into()],
    };
    let empty = Calendar {
        name: "empty".into(),
        description: String::new(),
        dates: Vec::new(),
    };
    odb.create_calendar(&pl).await.unwrap();
    odb.create_calendar(&empty).await.unwrap();
    assert!(matches!(
        odb.create_calendar(&pl).await,
        Err(OdbError::Conflict(_))
    ));
    assert_eq!(odb.calendars().await.unwrap(), [empty.clone(), pl.clone()]);
    assert_eq!(odb.calendar("pl.holidays").await.unwrap().unwrap(), pl);
    assert!(odb.calendar("PL.holidays").await.unwrap().is_none());

    let changed = Calendar {
        dates: vec!["2027-01-01".into()],
        description: "New Year".into(),
        ..pl.clone()
    };
    assert!(odb.update_calendar("pl.holidays", &changed).await.unwrap());
    assert_eq!(odb.calendar("pl.holidays").await.unwrap().unwrap(), changed);
    assert!(odb.update_calendar("pl.holidays", &changed).await.unwrap());
    assert!(!odb.update_calendar("nobody", &changed).await.unwrap());
    assert!(matches!(
        odb.update_calendar(
            "pl.holidays",
            &Calendar {
                description: "nul\u{0}".into(),
                ..changed.clone()
            }
        )
        .await,
        Err(OdbError::Invalid(_))
    ));

    assert!(odb.delete_calendar("pl.holidays").await.unwrap());
    assert!(!odb.delete_calendar("pl.holidays").await.unwrap());
    assert_eq!(odb.calendars().await.unwrap(), [empty]);
}

async fn the_first_claim_takes_the_lease_and_renewals_keep_its_epoch(db: TestDb) {
    let odb = db.odb().await;
    assert!(odb.lease(LEASE).await.unwrap().is_none());
    let first = odb.claim_lease(LEASE, "s1", LONG_MS).await.unwrap();
    assert_eq!(first.holder.as_deref(), Some("s1"));
    assert_eq!(first.epoch, 1);
    assert!(first.acquired_at <= first.now, "{first:?}");
    assert!(first.expires_at > first.now, "{first:?}");
    assert!(first.expires_at - first.acquired_at >= LONG_MS, "{first:?}");
    // The database's clock, not some other: close to this machine's, which runs it.
    assert!(
        (first.now - crate::odb::now_ms()).abs() < 5_000,
        "{first:?}"
    );
    assert_eq!(odb.lease(LEASE).await.unwrap().unwrap().epoch, 1);

    // Claiming again renews: same epoch, same acquisition, a later end.
    let again = odb.claim_lease(LEASE, "s1", LONG_MS + 1_000).await.unwrap();
    assert_eq!(
        (again.holder.as_deref(), again.epoch, again.acquired_at),
        (Some("s1"), 1, first.acquired_at)
    );
    assert!(again.expires_at > first.expires_at, "{again:?}");
    assert!(odb.renew_lease(LEASE, "s1", 1, LONG_MS).await.unwrap());
    // Renewing twice at once (the same millisecond, even) still reports it held.
    assert!(odb.renew_lease(LEASE, "s1", 1, LONG_MS).await.unwrap());
    assert!(odb.renew_lease(LEASE, "s1", 1, LONG_MS).await.unwrap());
    let renewed = odb.lease(LEASE).await.unwrap().unwrap();
    assert_eq!((renewed.epoch, renewed.acquired_at), (1, first.acquired_at));
    assert!(!odb.renew_lease(LEASE, "s1", 2, LONG_MS).await.unwrap());
    assert!(!odb.renew_lease(LEASE, "s2", 1, LONG_MS).await.unwrap());
    assert!(!odb.renew_lease("other", "s1", 1, LONG_MS).await.unwrap());

    // Another server finds it held, and changes nothing.
    let other = odb.claim_lease(LEASE, "s2", LONG_MS).await.unwrap();
    assert_eq!((other.holder.as_deref(), other.epoch), (Some("s1"), 1));
    assert_eq!(other.expires_at, renewed.expires_at);
    // Releasing with the wrong epoch or holder does nothing either.
    odb.release_lease(LEASE, "s1", 2).await.unwrap();
    odb.release_lease(LEASE, "s2", 1).await.unwrap();
    assert_eq!(
        odb.lease(LEASE).await.unwrap().unwrap().holder.as_deref(),
        Some("s1")
    );
    // Leases are independent of one another.
    let b = odb.claim_lease("b", "s2", LONG_MS).await.unwrap();
    assert_eq!((b.holder.as_deref(), b.epoch), (Some("s2"), 1));
    assert!(matches!(
        odb.claim_lease(LEASE, "s1", 0).await,
        Err(OdbError::Invalid(_))
    ));
}

async fn an_expired_lease_goes_to_the_next_claimant_with_a_new_epoch(db: TestDb) {
    let odb = db.odb().await;
    let first = odb.claim_lease(LEASE, "s1", 200).await.unwrap();
    assert_eq!((first.holder.as_deref(), first.epoch), (Some("s1"), 1));
    wait_for_expiry(&odb, LEASE).await;
    // Expired: its holder cannot renew it.
    assert!(!odb.renew_lease(LEASE, "s1", 1, 200).await.unwrap());
    let second = odb.claim_lease(LEASE, "s2", LONG_MS).await.unwrap();
    assert_eq!((second.holder.as_deref(), second.epoch), (Some("s2"), 2));
    assert!(
        second.acquired_at >= first.expires_at,
        "{first:?} {second:?}"
    );
    assert!(!odb.renew_lease(LEASE, "s1", 1, LONG_MS).await.unwrap());
    assert!(odb.renew_lease(LEASE, "s2", 2, LONG_MS).await.unwrap());

    // A holder that claims after its own lease expired starts a new epoch too.
    let short = odb.claim_lease("b", "s1", 200).await.unwrap();
    wait_for_expiry(&odb, "b").await;
    let again = odb.claim_lease("b", "s1", LONG_MS).await.unwrap();
    assert_eq!(
        (again.holder.as_deref(), again.epoch),
        (Some("s1"), short.epoch + 1)
    );
    assert!(again.acquired_at > short.acquired_at);
}

async fn a_released_lease_is_claimed_at_once(db: TestDb) {
    let odb = db.odb().await;
    let first = odb.claim_lease(LEASE, "s1", LONG_MS).await.unwrap();
    odb.release_lease(LEASE, "s1", first.epoch).await.unwrap();
    let released = odb.lease(LEASE).await.unwrap().unwrap();
    assert_eq!((released.holder.as_deref(), released.epoch), (None, 1));
    assert!(released.expires_at <= released.now, "{released:?}");
    assert!(!odb.renew_lease(LEASE, "s1", 1, LONG_MS).await.unwrap());
    let second = odb.claim_lease(LEASE, "s2", LONG_MS).await.unwrap();
    assert_eq!((second.holder.as_deref(), second.epoch), (Some("s2"), 2));
    // Nothing is recorded under the released epoch.
    assert_eq!(
        odb.record_runs(LEASE, "s1", 1, &[run("a", 1)])
            .await
            .unwrap(),
        None
    );
}

/// Servers claiming a new lease at once: one holds it, in epoch 1, and every other one
/// sees that.
async fn concurrent_claims_leave_one_holder(db: TestDb) {
    let odb = Arc::new(db.odb().await);
    for (round, name) in ["new", "new", "third"].into_iter().enumerate() {
        if round == 1 {
            let held = odb.lease(name).await.unwrap().unwrap();
            odb.release_lease(name, held.holder.as_deref().unwrap(), held.epoch)
                .await
                .unwrap();
        }
        let barrier = Arc::new(tokio::sync::Barrier::new(8));
        let tasks: Vec<_> = (0..8)
            .map(|n| {
                let odb = odb.clone();
                let barrier = barrier.clone();
                tokio::spawn(async move {
                    barrier.wait().await;
                    let holder = format!("s{n}");
                    let lease = odb.claim_lease(name, &holder, LONG_MS).await.unwrap();
                    (holder, lease)
                })
            })
            .collect();
        let mut winners = Vec::new();
        let mut seen = Vec::new();
        for task in tasks {
            let (holder, lease) = task.await.unwrap();
            if lease.holder.as_deref() == Some(holder.as_str()) {
                winners.push(holder);
            }
            seen.push(lease.holder.unwrap());
        }
        assert_eq!(winners.len(), 1, "round {round}: {winners:?}");
        assert!(seen.iter().all(|h| *h == winners[0]), "{seen:?}");
        let lease = odb.lease(name).await.unwrap().unwrap();
        assert_eq!(lease.holder.as_ref(), Some(&winners[0]));
        assert_eq!(lease.epoch, if round == 1 { 2 } else { 1 }, "round {round}");
    }
}

async fn runs_are_recorded_once(db: TestDb) {
    let odb = db.odb().await;
    let epoch = hold(&odb, "s1").await;
    let first = [run("a", 1_000), run("a", 2_000), run("b", 1_000)];
    let recorded = odb.record_runs(LEASE, "s1", epoch, &first).await.unwrap();
    assert_eq!(recorded.as_deref(), Some(&first[..]));

    // Overlapping runs: only the new ones are recorded and returned, in their order;
    // one asked for twice in the same call is recorded once.
    let missed = NewRun {
        trigger: RunTrigger::Missed,
        ..run("a", 3_000)
    };
    let second = [
        run("b", 2_000),
        run("a", 2_000),
        missed.clone(),
        run("b", 1_000),
        run("b", 2_000),
    ];
    let recorded = odb.record_runs(LEASE, "s1", epoch, &second).await.unwrap();
    assert_eq!(recorded, Some(vec![run("b", 2_000), missed]));
    // Nothing new, and nothing at all: both are a successful check of the lease.
    assert_eq!(
        odb.record_runs(LEASE, "s1", epoch, &first).await.unwrap(),
        Some(Vec::new())
    );
    assert_eq!(
        odb.record_runs(LEASE, "s1", epoch, &[]).await.unwrap(),
        Some(Vec::new())
    );

    let lease = odb.lease(LEASE).await.unwrap().unwrap();
    let runs = odb.runs("a", 10).await.unwrap();
    assert_eq!(
        runs.iter().map(|r| r.fire_time).collect::<Vec<_>>(),
        [3_000, 2_000, 1_000]
    );
    for r in &runs {
        assert_eq!(r.epoch, epoch);
        assert_eq!(r.outcome, RunOutcome::Pending);
        assert_eq!(
            (&r.server, r.started_at, r.duration_ms, &r.detail),
            (&None, None, None, &None)
        );
        assert!(
            r.planned_at <= lease.now && r.planned_at > lease.now - 60_000,
            "{r:?}"
        );
    }
    assert_eq!(runs[0].trigger, RunTrigger::Missed);
    assert_eq!(runs[1].trigger, RunTrigger::Schedule);
    assert_eq!(odb.runs("a", 2).await.unwrap(), runs[..2]);
    assert!(odb.runs("a", 0).await.unwrap().is_empty());
    assert_eq!(odb.runs("b", 10).await.unwrap().len(), 2);
    assert!(odb.runs("c", 10).await.unwrap().is_empty());
    // A job name no run can have is refused.
    assert!(matches!(
        odb.record_runs(LEASE, "s1", epoch, &[run("bad ", 1)]).await,
        Err(OdbError::Invalid(_))
    ));
}

/// More runs than one statement carries, some of them recorded already, in chunks of
/// every size around the statement's limit.
async fn many_runs_are_recorded_in_chunks(db: TestDb) {
    let odb = db.odb().await;
    let epoch = hold(&odb, "s1").await;
    let every_third: Vec<NewRun> = (0..1_300).step_by(3).map(|t| run("j", t)).collect();
    let recorded = odb
        .record_runs(LEASE, "s1", epoch, &every_third)
        .await
        .unwrap();
    assert_eq!(recorded.unwrap().len(), every_third.len());
    let all: Vec<NewRun> = (0..1_300).map(|t| run("j", t)).collect();
    let recorded = odb
        .record_runs(LEASE, "s1", epoch, &all)
        .await
        .unwrap()
        .unwrap();
    let expected: Vec<NewRun> = all
        .iter()
        .filter(|r| r.fire_time % 3 != 0)
        .cloned()
        .collect();
    assert_eq!(recorded, expected);
    assert_eq!(odb.runs("j", 2_000).await.unwrap().len(), 1_300);
    for size in [1, 2, 3, 255, 256, 257, 511, 512, 513] {
        let job = format!("k{size}");
        let runs: Vec<NewRun> = (0..size).map(|t| run(&job, t)).collect();
        let recorded = odb.record_runs(LEASE, "s1", epoch, &runs).await.unwrap();
        assert_eq!(recorded.as_deref(), Some(&runs[..]), "{size}");
        assert_eq!(odb.runs(&job, 1_000).await.unwrap().len(), size as usize);
    }
}

async fn a_stale_epoch_or_an_expired_lease_records_nothing(db: TestDb) {
    let odb = db.odb().await;
    // No lease at all.
    assert_eq!(
        odb.record_runs(LEASE, "s1", 0, &[run("a", 1)])
            .await
            .unwrap(),
        None
    );
    let lease = odb.claim_lease(LEASE, "s1", 200).await.unwrap();
    assert_eq!(
        odb.record_runs(LEASE, "s1", lease.epoch, &[run("a", 1)])
            .await
            .unwrap(),
        Some(vec![run("a", 1)])
    );
    // Someone else, or another epoch.
    assert_eq!(
        odb.record_runs(LEASE, "s2", lease.epoch, &[run("a", 2)])
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        odb.record_runs(LEASE, "s1", lease.epoch + 1, &[run("a", 2)])
            .await
            .unwrap(),
        None
    );
    // Expired, by the database's clock, though nobody took it over yet.
    wait_for_expiry(&odb, LEASE).await;
    assert_eq!(
        odb.record_runs(LEASE, "s1", lease.epoch, &[run("a", 2)])
            .await
            .unwrap(),
        None
    );
    // Taken over: the old epoch records nothing, the new one does.
    let taken = odb.claim_lease(LEASE, "s2", LONG_MS).await.unwrap();
    assert_eq!(taken.epoch, lease.epoch + 1);
    assert_eq!(
        odb.record_runs(LEASE, "s1", lease.epoch, &[run("a", 2)])
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        odb.record_runs(LEASE, "s2", taken.epoch, &[run("a", 1), run("a", 3)])
            .await
            .unwrap(),
        Some(vec![run("a", 3)])
    );
    let runs = odb.runs("a", 10).await.unwrap();
    assert_eq!(
        runs.iter()
            .map(|r| (r.fire_time, r.epoch))
            .collect::<Vec<_>>(),
        [(3, taken.epoch), (1, lease.epoch)]
    );
}

async fn a_manual_run_takes_the_next_free_millisecond(db: TestDb) {
    let odb = db.odb().await;
    let epoch = hold(&odb, "s1").await;
    odb.record_runs(LEASE, "s1", epoch, &[run("a", 1_000), run("a", 1_001)])
        .await
        .unwrap()
        .unwrap();
    let asked = NewRun {
        trigger: RunTrigger::Manual,
        ..run("a", 1_000)
    };
    let manual = odb.record_manual_run(&asked, epoch).await.unwrap();
    assert_eq!(
        (manual.job.as_str(), manual.fire_time, manual.trigger),
        ("a", 1_002, RunTrigger::Manual)
    );
    assert_eq!((manual.epoch, manual.outcome), (epoch, RunOutcome::Pending));
    assert_eq!(manual.server, None);
    let again = odb.record_manual_run(&asked, epoch).await.unwrap();
    assert_eq!(again.fire_time, 1_003);
    // A free time is taken as asked, without a lease.
    let free = odb.record_manual_run(&run("b", 5), 0).await.unwrap();
    assert_eq!(
        (free.fire_time, free.trigger, free.epoch),
        (5, RunTrigger::Manual, 0)
    );
    assert_eq!(odb.runs("a", 10).await.unwrap()[0], again);
    // The planner's later recording of a time a manual run took is skipped.
    assert_eq!(
        odb.record_runs(LEASE, "s1", epoch, &[run("a", 1_002), run("a", 1_004)])
            .await
            .unwrap(),
        Some(vec![run("a", 1_004)])
    );
}

/// Manual runs asked for at the times the planner records at the same moment: each
/// time is recorded once, and the planner is told it recorded exactly the runs that
/// are its own (none that a manual run took, none missing).
async fn manual_runs_racing_the_planner_are_recorded_apart(db: TestDb) {
    let odb = Arc::new(db.odb().await);
    let epoch = hold(&odb, "s1").await;
    let planner = {
        let odb = odb.clone();
        tokio::spawn(async move {
            let mut mine = Vec::new();
            for batch in 0..20 {
                let runs: Vec<NewRun> =
                    (batch * 10..batch * 10 + 10).map(|t| run("a", t)).collect();
                mine.extend(
                    odb.record_runs(LEASE, "s1", epoch, &runs)
                        .await
                        .unwrap()
                        .unwrap(),
                );
            }
            mine
        })
    };
    let manual: Vec<_> = (0..4)
        .map(|n| {
            let odb = odb.clone();
            tokio::spawn(async move {
                let mut fire_time = n * 50;
                for _ in 0..25 {
                    let asked = NewRun {
                        trigger: RunTrigger::Manual,
                        ..run("a", fire_time)
                    };
                    fire_time = odb
                        .record_manual_run(&asked, epoch)
                        .await
                        .unwrap()
                        .fire_time
                        + 1;
                }
            })
        })
        .collect();
    let mine = planner.await.unwrap();
    for task in manual {
        task.await.unwrap();
    }
    let recorded = odb.runs("a", 10_000).await.unwrap();
    let scheduled: Vec<i64> = recorded
        .iter()
        .rev()
        .filter(|r| r.trigger == RunTrigger::Schedule)
        .map(|r| r.fire_time)
        .collect();
    assert_eq!(
        mine.iter().map(|r| r.fire_time).collect::<Vec<_>>(),
        scheduled
    );
    let manual = recorded
        .iter()
        .filter(|r| r.trigger == RunTrigger::Manual)
        .count();
    assert_eq!(manual, 100);
    // Every time the planner asked for is recorded, by it or by a manual run.
    let mut times: Vec<i64> = recorded.iter().map(|r| r.fire_time).collect();
    times.sort();
    assert!((0..200).all(|t| times.binary_search(&t).is_ok()));
}

async fn finished_runs_show_how_they_ended(db: TestDb) {
    let odb = db.odb().await;
    let epoch = hold(&odb, "s1").await;
    let runs = [
        run("a", 1_000),
        run("a", 2_000),
        run("b", 1_000),
        run("c", 1),
    ];
    odb.record_runs(LEASE, "s1", epoch, &runs)
        .await
        .unwrap()
        .unwrap();
    let result = |job: &str, fire_time, outcome, detail: Option<&str>| RunResult {
        job: job.into(),
        fire_time,
        server: "s2".into(),
        started_at: fire_time + 3,
        duration_ms: 7,
        outcome,
        detail: detail.map(str::to_owned),
    };
    odb.finish_runs(&[
        result("a", 1_000, RunOutcome::Ok, None),
        result("a", 2_000, RunOutcome::Error, Some("boom: \u{0} é")),
        result("b", 1_000, RunOutcome::Missing, Some("no service")),
        result("c", 1, RunOutcome::Skipped, None),
        // Not recorded: ignored, as is a job no run can have.
        result("a", 3_000, RunOutcome::Ok, None),
        result("nobody ", 1, RunOutcome::Ok, None),
    ])
    .await
    .unwrap();
    odb.finish_runs(&[]).await.unwrap();
    let a = odb.runs("a", 10).await.unwrap();
    assert_eq!(a.len(), 2);
    assert_eq!(
        (
            &a[0].server,
            a[0].started_at,
            a[0].duration_ms,
            a[0].outcome
        ),
        (
            &Some("s2".to_owned()),
            Some(2_003),
            Some(7),
            RunOutcome::Error
        )
    );
    assert_eq!(a[0].detail.as_deref(), Some("boom: \u{FFFD} é"));
    assert_eq!((a[0].trigger, a[0].epoch), (RunTrigger::Schedule, epoch));
    assert_eq!(
        (a[1].outcome, a[1].detail.as_deref()),
        (RunOutcome::Ok, None)
    );
    let b = odb.runs("b", 10).await.unwrap();
    assert_eq!(
        (b[0].outcome, b[0].detail.as_deref()),
        (RunOutcome::Missing, Some("no service"))
    );
    assert_eq!(
        odb.runs("c", 10).await.unwrap()[0].outcome,
        RunOutcome::Skipped
    );
    assert!(matches!(
        odb.finish_runs(&[RunResult {
            server: "s2 ".into(),
            ..result("a", 1_000, RunOutcome::Ok, None)
        }])
        .await,
        Err(OdbError::Invalid(_))
    ));
}

async fn last_runs_are_the_latest_of_each_job(db: TestDb) {
    let odb = db.odb().await;
    assert!(odb.last_runs().await.unwrap().is_empty());
    let epoch = hold(&odb, "s1").await;
    let runs = [
        run("b", 1_000),
        run("a", 3_000),
        run("a", 1_000),
        run("b", 2_000),
        run("a", 2_000),
        run("c", 5),
    ];
    odb.record_runs(LEASE, "s1", epoch, &runs)
        .await
        .unwrap()
        .unwrap();
    odb.finish_runs(&[RunResult {
        job: "b".into(),
        fire_time: 2_000,
        server: "s1".into(),
        started_at: 2_001,
        duration_ms: 1,
        outcome: RunOutcome::Ok,
        detail: None,
    }])
    .await
    .unwrap();
    let last = odb.last_runs().await.unwrap();
    assert_eq!(
        last.iter()
            .map(|r| (r.job.as_str(), r.fire_time))
            .collect::<Vec<_>>(),
        [("a", 3_000), ("b", 2_000), ("c", 5)]
    );
    assert_eq!(last[1], odb.runs("b", 1).await.unwrap()[0]);
    assert_eq!(last[1].outcome, RunOutcome::Ok);
}

async fn runs_are_pruned_by_when_they_were_recorded(db: TestDb) {
    let odb = db.odb().await;
    let epoch = hold(&odb, "s1").await;
    let old = [run("a", 1), run("b", 1)];
    odb.record_runs(LEASE, "s1", epoch, &old)
        .await
        .unwrap()
        .unwrap();
    let planned = odb.runs("a", 1).await.unwrap()[0].planned_at;
    // Wait for the database's clock to move on, then record more.
    loop {
        let lease = odb.lease(LEASE).await.unwrap().unwrap();
        if lease.now > planned {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    // Fire times say nothing of when a run was recorded.
    odb.record_runs(LEASE, "s1", epoch, &[run("a", 0), run("c", 1)])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(odb.prune_runs(planned).await.unwrap(), 0);
    assert_eq!(odb.prune_runs(planned + 1).await.unwrap(), 2);
    assert_eq!(
        pairs(
            &odb.last_runs()
                .await
                .unwrap()
                .into_iter()
                .map(|r| run(&r.job, r.fire_time))
                .collect::<Vec<_>>()
        ),
        [("a".to_owned(), 0), ("c".to_owned(), 1)]
    );
    assert_eq!(odb.prune_runs(i64::MAX).await.unwrap(), 2);
    assert!(odb.last_runs().await.unwrap().is_empty());
}

async fn deleting_a_job_deletes_its_runs(db: TestDb) {
    let odb = db.odb().await;
    odb.create_job(&job("a", every_second())).await.unwrap();
    odb.create_job(&job("b", every_second())).await.unwrap();
    let epoch = hold(&odb, "s1").await;
    odb.record_runs(LEASE, "s1", epoch, &[run("a", 1), run("a", 2), run("b", 1)])
        .await
        .unwrap()
        .unwrap();
    assert!(odb.delete_job("a").await.unwrap());
    assert!(odb.runs("a", 10).await.unwrap().is_empty());
    assert_eq!(odb.runs("b", 10).await.unwrap().len(), 1);
    // A job created again under the name starts with no history.
    odb.create_job(&job("a", every_second())).await.unwrap();
    assert!(odb.runs("a", 10).await.unwrap().is_empty());
    assert_eq!(
        odb.record_runs(LEASE, "s1", epoch, &[run("a", 1)])
            .await
            .unwrap(),
        Some(vec![run("a", 1)])
    );
}

/// What the planner and the runners cost on PostgreSQL: `record_runs` of 250 runs and
/// `finish_runs` of 250 results, as the 1,000-jobs-a-second benchmark makes them.
/// Prints its timings; `cargo test -p zato-host --lib odb::tests::scheduler::timing
/// -- --ignored --nocapture`.
#[tokio::test]
#[ignore = "a measurement, not a test"]
async fn timing_of_250_runs_on_postgres() {
    super::run(Backend::Postgres, |db| async move {
        let odb = db.odb().await;
        let epoch = hold(&odb, "s1").await;
        let jobs = 1_000;
        let (mut record, mut finish) = (Vec::new(), Vec::new());
        for round in 0..60 {
            // A fire time per round, each round's jobs the next 250 of 1,000.
            let fire_time = 1_000_000 + round;
            let runs: Vec<NewRun> = (0..250)
                .map(|n| run(&format!("job.{}", (round * 250 + n) % jobs), fire_time))
                .collect();
            let started = Instant::now();
            let recorded = odb.record_runs(LEASE, "s1", epoch, &runs).await.unwrap();
            record.push(started.elapsed());
            assert_eq!(recorded.unwrap().len(), 250);
            let results: Vec<RunResult> = runs
                .iter()
                .map(|r| RunResult {
                    job: r.job.clone(),
                    fire_time: r.fire_time,
                    server: "s2".into(),
                    started_at: r.fire_time + 2,
                    duration_ms: 1,
                    outcome: RunOutcome::Ok,
                    detail: None,
                })
                .collect();
            let started = Instant::now();
            odb.finish_runs(&results).await.unwrap();
            finish.push(started.elapsed());
        }
        let report = |what: &str, times: &mut Vec<Duration>| {
            // The first rounds prepare statements and warm the caches.
            times.drain(..10);
            times.sort();
            let sum: Duration = times.iter().sum();
            println!(
                "{what}: mean {:?}, median {:?}, max {:?} over {} calls",
                sum / times.len() as u32,
                times[times.len() / 2],
                times[times.len() - 1],
                times.len()
            );
        };
        report("record_runs(250)", &mut record);
        report("finish_runs(250)", &mut finish);
    })
    .await;
}
