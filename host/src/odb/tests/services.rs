//! Service versions: numbering, deletions, bytes and metadata.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use sqlx::{AssertSqlSafe, Connection};

use super::{Backend, TestDb, admin};
use crate::odb::{Membership, NewVersion, OdbError, ServiceVersions, VersionRef, now_ms};

backends!(
    versions_increase_and_deletion_is_a_version,
    concurrent_inserts_get_distinct_versions,
    a_taken_version_is_a_unique_violation,
    blobs_round_trip,
    large_bytes_are_stored_once_in_chunks_and_read_back_whole,
    a_large_deploy_does_not_hold_the_heartbeat,
    rows_with_inline_bytes_still_read,
    pruning_keeps_the_newest_the_latest_and_what_a_server_runs,
    live_services_are_sorted_with_their_metadata,
    names_are_case_sensitive,
    keys_are_checked_the_same_everywhere,
    lookups_match_keys_exactly,
);

pub(super) fn version(name: &str, sha: &str) -> NewVersion {
    NewVersion {
        name: name.into(),
        sha256: sha.into(),
        bytes: Some(vec![1, 2, 3]),
        description: String::new(),
        info: "{}".into(),
        source: "test".into(),
        deployed_by: "s1".into(),
    }
}

fn deletion(name: &str) -> NewVersion {
    NewVersion {
        bytes: None,
        ..version(name, "")
    }
}

async fn versions_increase_and_deletion_is_a_version(db: TestDb) {
    let odb = db.odb().await;
    assert_eq!(odb.latest_version("a").await.unwrap(), None);
    assert_eq!(odb.insert_version(version("a", "aa")).await.unwrap(), 1);
    assert_eq!(odb.insert_version(version("a", "bb")).await.unwrap(), 2);
    assert_eq!(odb.insert_version(version("b", "cc")).await.unwrap(), 1);
    assert_eq!(odb.insert_version(deletion("b")).await.unwrap(), 2);

    let mut latest = odb.latest_versions().await.unwrap();
    latest.sort_by(|x, y| x.name.cmp(&y.name));
    let a2 = VersionRef {
        name: "a".into(),
        version: 2,
        sha256: "bb".into(),
        deleted: false,
    };
    let b2 = VersionRef {
        name: "b".into(),
        version: 2,
        sha256: String::new(),
        deleted: true,
    };
    assert_eq!(latest, [a2.clone(), b2.clone()]);
    assert_eq!(odb.latest_version("a").await.unwrap(), Some(a2));
    assert_eq!(odb.latest_version("b").await.unwrap(), Some(b2));

    let live: Vec<_> = odb
        .live_services()
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.name)
        .collect();
    assert_eq!(live, ["a"]);

    // Deploying again after a deletion continues the same sequence.
    assert_eq!(odb.insert_version(version("b", "dd")).await.unwrap(), 3);
    assert_eq!(odb.version_bytes("a", 1).await.unwrap().unwrap(), [1, 2, 3]);
    assert_eq!(odb.version_bytes("b", 2).await.unwrap().unwrap(), [0u8; 0]);
    assert_eq!(odb.version_bytes("a", 3).await.unwrap(), None);
    assert_eq!(odb.version_bytes("zz", 1).await.unwrap(), None);
}

async fn concurrent_inserts_get_distinct_versions(db: TestDb) {
    let odb = Arc::new(db.odb().await);
    // Every writer reads the same latest version before any of them inserts, so
    // most of them lose on the unique key at least once and must retry.
    let barrier = Arc::new(tokio::sync::Barrier::new(10));
    let tasks: Vec<_> = (0..10)
        .map(|i| {
            let odb = odb.clone();
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                odb.insert_version(version("x", &format!("{i}"))).await
            })
        })
        .collect();
    let mut versions = Vec::new();
    for t in tasks {
        versions.push(t.await.unwrap().unwrap());
    }
    versions.sort();
    assert_eq!(versions, (1..=10).collect::<Vec<i64>>());
    assert_eq!(odb.latest_version("x").await.unwrap().unwrap().version, 10);
}

/// `insert_version` relies on the driver classifying a duplicate (name, version) as
/// a unique violation; check that classification on each backend directly.
async fn a_taken_version_is_a_unique_violation(db: TestDb) {
    let odb = db.odb().await;
    odb.insert_version(version("a", "aa")).await.unwrap();
    let mut conn = admin(db.backend, &db.url).await;
    let err = sqlx::raw_sql(AssertSqlSafe(
        "INSERT INTO service_version SELECT * FROM service_version WHERE name = 'a'",
    ))
    .execute(&mut conn)
    .await
    .expect_err("a duplicate (name, version) must be refused");
    let _ = conn.close().await;
    match err {
        sqlx::Error::Database(e) => assert!(e.is_unique_violation(), "not a unique violation: {e}"),
        other => panic!("expected a database error, got {other}"),
    }
}

async fn blobs_round_trip(db: TestDb) {
    let odb = db.odb().await;
    let every_byte: Vec<u8> = (0..=255).collect();
    let big: Vec<u8> = (0..5 * 1024 * 1024)
        .map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    for (name, bytes) in [("every-byte", &every_byte), ("big", &big)] {
        let new = NewVersion {
            bytes: Some(bytes.clone()),
            ..version(name, name)
        };
        assert_eq!(odb.insert_version(new).await.unwrap(), 1);
        let stored = odb.version_bytes(name, 1).await.unwrap().unwrap();
        assert!(stored == *bytes, "the bytes of `{name}` changed on the way");
    }
    let sizes: Vec<_> = odb
        .live_services()
        .await
        .unwrap()
        .into_iter()
        .map(|m| (m.name, m.size))
        .collect();
    assert_eq!(
        sizes,
        [("big".into(), big.len() as i64), ("every-byte".into(), 256)]
    );
}

async fn live_services_are_sorted_with_their_metadata(db: TestDb) {
    let odb = db.odb().await;
    let before = now_ms();
    // Byte order everywhere: upper case before lower case, `.` before letters.
    for name in ["b", "a.x", "a", "B", "gone"] {
        odb.insert_version(version(name, &format!("{name}-1")))
            .await
            .unwrap();
    }
    let second = NewVersion {
        description: "Says hello, in Ελληνικά too".into(),
        info: r#"{"name":"a","version":"2.0"}"#.into(),
        source: "pickup/a.wasm".into(),
        bytes: Some(vec![9; 10]),
        ..version("a", "a-2")
    };
    assert_eq!(odb.insert_version(second).await.unwrap(), 2);
    odb.insert_version(deletion("gone")).await.unwrap();
    let after = now_ms();

    let live = odb.live_services().await.unwrap();
    let names: Vec<_> = live.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["B", "a", "a.x", "b"]);
    let a = &live[1];
    assert_eq!(a.version, 2);
    assert_eq!(a.sha256, "a-2");
    assert_eq!(a.size, 10);
    assert_eq!(a.description, "Says hello, in Ελληνικά too");
    assert_eq!(a.info, r#"{"name":"a","version":"2.0"}"#);
    assert_eq!(a.source, "pickup/a.wasm");
    assert!((before..=after).contains(&a.deployed_at), "{a:?}");
    let b = &live[3];
    assert_eq!((b.version, b.size, b.info.as_str()), (1, 3, "{}"));
}

/// Names that differ only in case are different services, as on SQLite; MySQL's
/// default collations would have merged them.
async fn names_are_case_sensitive(db: TestDb) {
    let odb = db.odb().await;
    assert_eq!(odb.insert_version(version("Demo", "d1")).await.unwrap(), 1);
    assert_eq!(odb.insert_version(version("demo", "d2")).await.unwrap(), 1);
    assert_eq!(odb.latest_version("DEMO").await.unwrap(), None);
    assert_eq!(
        odb.latest_version("demo").await.unwrap().unwrap().sha256,
        "d2"
    );
}

/// Values longer than the schema's key columns are refused alike on every backend
/// instead of failing on some of them; so is text PostgreSQL cannot store.
async fn keys_are_checked_the_same_everywhere(db: TestDb) {
    let odb = db.odb().await;
    let too_long = "é".repeat(256);
    assert!(matches!(
        odb.insert_version(version(&too_long, "aa")).await,
        Err(OdbError::Invalid(_))
    ));
    assert!(matches!(
        odb.insert_version(version("a", &"a".repeat(65))).await,
        Err(OdbError::Invalid(_))
    ));
    // PostgreSQL cannot store a NUL character in text: no backend takes one.
    let nul = NewVersion {
        description: "a\0b".into(),
        ..version("a", "aa")
    };
    assert!(matches!(
        odb.insert_version(nul).await,
        Err(OdbError::Invalid(_))
    ));
    assert!(odb.latest_version("a").await.unwrap().is_none());
}

/// MySQL ignores trailing spaces when it compares: a lookup by `a ` must not find `a`.
async fn lookups_match_keys_exactly(db: TestDb) {
    let odb = db.odb().await;
    odb.insert_version(version("a", "aa")).await.unwrap();
    assert_eq!(odb.latest_version("a ").await.unwrap(), None);
    assert_eq!(odb.version_bytes("a ", 1).await.unwrap(), None);
}

async fn large_bytes_are_stored_once_in_chunks_and_read_back_whole(db: TestDb) {
    let odb = db.odb().await;
    // Three whole chunks and a part of one, every byte position distinct enough.
    let bytes: Vec<u8> = (0..(3 << 20) + 12345)
        .map(|i: u32| (i % 251) as u8)
        .collect();
    let big = |name: &str| NewVersion {
        bytes: Some(bytes.clone()),
        ..version(name, "big")
    };
    let v1 = odb.insert_version(big("a")).await.unwrap();
    let v2 = odb.insert_version(big("b")).await.unwrap();
    assert_eq!(odb.version_bytes("a", v1).await.unwrap().unwrap(), bytes);
    assert_eq!(odb.version_bytes("b", v2).await.unwrap().unwrap(), bytes);
    let mut conn = admin(db.backend, &db.url).await;
    let chunks: i64 = sqlx::query_scalar(AssertSqlSafe(
        "SELECT COUNT(*) FROM service_blob WHERE sha256 = 'big'",
    ))
    .fetch_one(&mut conn)
    .await
    .unwrap();
    let _ = conn.close().await;
    assert_eq!(chunks, 4, "the same bytes under two names are stored once");
}

/// Storing a large component (issue 18: 60 MB into SQLite held the heartbeat for 2.2 s)
/// never keeps a server's heartbeat from the database long enough for the cluster to
/// call it dead: neither the heartbeat of the deploying server (the same ODB) nor that
/// of another server on the same database (its own pool, as another process has).
async fn a_large_deploy_does_not_hold_the_heartbeat(db: TestDb) {
    const MIB: usize = 1 << 20;
    let odb = Arc::new(db.odb().await);
    let other = Arc::new(db.odb().await);
    odb.register_server("s1", "127.0.0.1:1", 1).await.unwrap();
    other.register_server("s2", "127.0.0.1:2", 2).await.unwrap();
    let bytes: Vec<u8> = (0..60 * MIB as u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let new = NewVersion {
        bytes: Some(bytes.clone()),
        ..version("large", "large")
    };

    let inserting = Arc::new(AtomicBool::new(true));
    let started = Instant::now();
    // Each heartbeat touches its server every 20 ms while the insert runs, and once
    // after it; it returns the longest time it went without a successful touch (a failed
    // one, the database busy past its timeout, counts as none) and how many succeeded
    // while the insert ran.
    let heartbeat = |odb: Arc<crate::odb::SqlOdb>, name: &'static str| {
        let inserting = inserting.clone();
        tokio::spawn(async move {
            let (mut last, mut longest, mut beats) = (started, Duration::ZERO, 0);
            loop {
                let touched = odb.touch_server(name).await.is_ok();
                let still = inserting.load(Ordering::SeqCst);
                if touched {
                    longest = longest.max(last.elapsed());
                    last = Instant::now();
                    if !still {
                        return (longest, beats);
                    }
                    beats += 1;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let own = heartbeat(odb.clone(), "s1");
    let others = heartbeat(other.clone(), "s2");
    let stored = odb.insert_version(new).await.unwrap();
    let inserted = started.elapsed();
    inserting.store(false, Ordering::SeqCst);
    let (own, own_beats) = own.await.unwrap();
    let (others, other_beats) = others.await.unwrap();
    println!(
        "{:?}: 60 MiB inserted in {} ms; longest heartbeat wait: {} ms for the deploying \
         server ({own_beats} beats meanwhile), {} ms for another server ({other_beats} beats)",
        db.backend,
        inserted.as_millis(),
        own.as_millis(),
        others.as_millis()
    );

    // One statement of 60 MiB would let no heartbeat through on SQLite until it ends.
    assert!(
        own_beats >= 3 && other_beats >= 3,
        "the heartbeats went on while the insert ran: {own_beats} and {other_beats} beats"
    );
    // A server is called dead after `dead_after_ms` without a heartbeat, which comes
    // every `heartbeat_ms`: a quarter of the first is well within what is left.
    let dead_after = crate::config::MembershipSettings::default().dead_after_ms;
    let bound = Duration::from_millis(dead_after / 4);
    assert!(
        own < bound && others < bound,
        "a heartbeat waited {} ms (own) and {} ms (another server's) for a 60 MiB insert \
         that took {} ms: more than {} ms of `dead_after_ms` {dead_after}",
        own.as_millis(),
        others.as_millis(),
        inserted.as_millis(),
        bound.as_millis()
    );
    let servers = other.servers().await.unwrap();
    assert!(
        servers.iter().all(|s| s.last_seen > s.started_at),
        "{servers:?}"
    );
    assert!(odb.version_bytes("large", stored).await.unwrap().unwrap() == bytes);
}

async fn rows_with_inline_bytes_still_read(db: TestDb) {
    let odb = db.odb().await;
    // A row as a server before `service_blob` wrote it: the bytes in the row itself.
    let bytes = match db.backend {
        Backend::Postgres => "'\\x070809'::bytea",
        Backend::Sqlite | Backend::MySql => "X'070809'",
    };
    let mut conn = admin(db.backend, &db.url).await;
    sqlx::raw_sql(AssertSqlSafe(format!(
        "INSERT INTO service_version (name, version, sha256, bytes, deleted, size, description, \
         info, source, deployed_by, deployed_at) VALUES ('old', 1, 'ff', {bytes}, 0, 3, '', '{{}}', '', '', 0)"
    )))
    .execute(&mut conn)
    .await
    .unwrap();
    let _ = conn.close().await;
    assert_eq!(
        odb.version_bytes("old", 1).await.unwrap(),
        Some(vec![7, 8, 9])
    );
}

async fn pruning_keeps_the_newest_the_latest_and_what_a_server_runs(db: TestDb) {
    let odb = db.odb().await;
    for i in 1..=5u8 {
        let new = NewVersion {
            bytes: Some(vec![i; 10]),
            ..version("p", &format!("sha{i}"))
        };
        assert_eq!(odb.insert_version(new).await.unwrap(), i64::from(i));
    }
    odb.register_server("s1", "http://s1", 1).await.unwrap();
    odb.set_running_version("s1", "p", Some(2)).await.unwrap();
    let kept = |odb: &SqlOdbRef| {
        let odb = odb.clone();
        async move {
            odb.versions("p")
                .await
                .unwrap()
                .iter()
                .map(|v| v.version)
                .collect::<Vec<_>>()
        }
    };
    let odb: SqlOdbRef = Arc::new(odb);
    assert_eq!(odb.prune_versions("p", 2).await.unwrap(), 2);
    assert_eq!(
        kept(&odb).await,
        [5, 4, 2],
        "the newest two and the one s1 runs"
    );
    assert_eq!(odb.version_bytes("p", 2).await.unwrap(), Some(vec![2; 10]));
    let mut conn = admin(db.backend, &db.url).await;
    let chunks = |sha: &'static str| {
        AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM service_blob WHERE sha256 = '{sha}'"
        ))
    };
    let gone: i64 = sqlx::query_scalar(chunks("sha1"))
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(gone, 0, "the bytes of a pruned version go with it");
    let kept_bytes: i64 = sqlx::query_scalar(chunks("sha2"))
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(kept_bytes, 1);
    let _ = conn.close().await;
    // Keeping none still keeps the latest.
    assert_eq!(odb.prune_versions("p", 0).await.unwrap(), 1);
    assert_eq!(kept(&odb).await, [5, 2]);
}

type SqlOdbRef = Arc<crate::odb::SqlOdb>;
