//! One ODB test suite, run on every backend against a real server.
//!
//! Each case is an `async fn(TestDb)` written against the [`Odb`] trait; the
//! `backends!` macro below instantiates every case once per backend, as
//! `odb::tests::{sqlite,postgres,mysql}::<case>`. Each test gets a database of its
//! own (a temporary file for SQLite, `zato_test_<uuid>` created through an admin
//! connection elsewhere), so the tests run in parallel and leave nothing behind,
//! even when they fail.
//!
//! The servers are found through `ZATO_TEST_POSTGRES_URL` and `ZATO_TEST_MYSQL_URL`
//! (admin URLs whose user may create databases); the defaults are the servers of a
//! development machine. A server that is down fails its tests: skipping them would
//! let a backend rot unnoticed.

use std::collections::BTreeMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures::FutureExt;
use sqlx::{AnyConnection, AssertSqlSafe, Connection};

use super::{NewVersion, Odb, OdbError, SqlOdb, VersionRef, now_ms};
use crate::api::{DataFormat, HttpChannel};

const POSTGRES_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
const MYSQL_ADMIN_URL: &str = "mysql://root@127.0.0.1:3306/test";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
    MySql,
}

/// The fresh database a test case runs against.
struct TestDb {
    backend: Backend,
    url: String,
}

impl TestDb {
    async fn odb(&self) -> SqlOdb {
        SqlOdb::connect(&self.url)
            .await
            .unwrap_or_else(|e| panic!("cannot open the ODB at `{}`: {e}", self.url))
    }
}

fn admin_url(backend: Backend) -> String {
    let (var, default) = match backend {
        Backend::Postgres => ("ZATO_TEST_POSTGRES_URL", POSTGRES_ADMIN_URL),
        Backend::MySql => ("ZATO_TEST_MYSQL_URL", MYSQL_ADMIN_URL),
        Backend::Sqlite => unreachable!("SQLite needs no server"),
    };
    std::env::var(var).unwrap_or_else(|_| default.to_owned())
}

/// `url` with its database (the last path segment) replaced by `database`.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (url, String::new()),
    };
    let authority_end = base.find("://").map_or(0, |i| i + 3);
    let server = match base[authority_end..].find('/') {
        Some(i) => &base[..authority_end + i],
        None => base,
    };
    format!("{server}/{database}{query}")
}

async fn admin(backend: Backend, url: &str) -> AnyConnection {
    sqlx::any::install_default_drivers();
    AnyConnection::connect(url).await.unwrap_or_else(|e| {
        panic!(
            "cannot reach the {backend:?} test server at `{url}` ({e}); start it or point \
             ZATO_TEST_POSTGRES_URL / ZATO_TEST_MYSQL_URL at one"
        )
    })
}

/// Runs `case` on a fresh database of `backend` and drops the database afterwards,
/// whether the case passed or panicked.
async fn run<F, Fut>(backend: Backend, case: F)
where
    F: FnOnce(TestDb) -> Fut,
    Fut: Future<Output = ()>,
{
    if backend == Backend::Sqlite {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/odb.sqlite", dir.path().display());
        case(TestDb { backend, url }).await;
        return;
    }
    let admin_url = admin_url(backend);
    let database = format!("zato_test_{}", uuid::Uuid::new_v4().simple());
    let mut conn = admin(backend, &admin_url).await;
    sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE {database}")))
        .execute(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("cannot create test database `{database}`: {e}"));
    let url = with_database(&admin_url, &database);
    let outcome = AssertUnwindSafe(case(TestDb { backend, url }))
        .catch_unwind()
        .await;
    // FORCE ends the connections a panicking case may have left behind.
    let drop = match backend {
        Backend::Postgres => format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)"),
        _ => format!("DROP DATABASE IF EXISTS {database}"),
    };
    let dropped = sqlx::raw_sql(AssertSqlSafe(drop)).execute(&mut conn).await;
    let _ = conn.close().await;
    if let Err(payload) = outcome {
        std::panic::resume_unwind(payload);
    }
    if let Err(e) = dropped {
        panic!("cannot drop test database `{database}`: {e}");
    }
}

/// Instantiates every case once per backend, each in its own `#[tokio::test]`.
macro_rules! backends {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test]
            async fn $case() {
                super::run(super::Backend::Sqlite, super::$case).await
            })*
        }
        mod postgres {
            $(#[tokio::test]
            async fn $case() {
                super::run(super::Backend::Postgres, super::$case).await
            })*
        }
        mod mysql {
            $(#[tokio::test]
            async fn $case() {
                super::run(super::Backend::MySql, super::$case).await
            })*
        }
    };
}

backends!(
    versions_increase_and_deletion_is_a_version,
    concurrent_inserts_get_distinct_versions,
    a_taken_version_is_a_unique_violation,
    find_by_sha256_finds_live_versions,
    blobs_round_trip,
    live_services_are_sorted_with_their_metadata,
    names_are_case_sensitive,
    channels_are_unique_by_name_and_by_path,
    service_config_is_replaced_whole,
    concurrent_config_replacements_do_not_mix,
    servers_register_touch_and_deregister,
    running_versions_are_set_and_unset,
    concurrent_running_version_updates_keep_one,
    keys_are_checked_the_same_everywhere,
    lookups_match_keys_exactly,
    migrations_are_idempotent,
);

fn version(name: &str, sha: &str) -> NewVersion {
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

fn channel(name: &str, path: &str) -> HttpChannel {
    HttpChannel {
        name: name.into(),
        path: path.into(),
        methods: vec!["GET".into(), "POST".into()],
        service: "svc".into(),
        data_format: DataFormat::Json,
        timeout_ms: 0,
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

async fn find_by_sha256_finds_live_versions(db: TestDb) {
    let odb = db.odb().await;
    assert_eq!(odb.find_by_sha256("aa").await.unwrap(), None);
    odb.insert_version(version("a", "aa")).await.unwrap();
    odb.insert_version(version("a", "bb")).await.unwrap();
    odb.insert_version(version("b", "cc")).await.unwrap();
    let found = odb.find_by_sha256("aa").await.unwrap().unwrap();
    assert_eq!((found.name.as_str(), found.version), ("a", 1));
    assert!(!found.deleted);
    let found = odb.find_by_sha256("cc").await.unwrap().unwrap();
    assert_eq!((found.name.as_str(), found.version), ("b", 1));
    // A deletion carries no bytes: it is never what a sha256 finds.
    odb.insert_version(deletion("b")).await.unwrap();
    assert_eq!(odb.find_by_sha256("").await.unwrap(), None);
    assert_eq!(odb.find_by_sha256("AA").await.unwrap(), None);
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

/// Names that differ only in case are different services, channels and keys, as
/// on SQLite; MySQL's default collations would have merged them.
async fn names_are_case_sensitive(db: TestDb) {
    let odb = db.odb().await;
    assert_eq!(odb.insert_version(version("Demo", "d1")).await.unwrap(), 1);
    assert_eq!(odb.insert_version(version("demo", "d2")).await.unwrap(), 1);
    assert_eq!(odb.latest_version("DEMO").await.unwrap(), None);
    assert_eq!(
        odb.latest_version("demo").await.unwrap().unwrap().sha256,
        "d2"
    );

    odb.create_http_channel(&channel("c", "/a")).await.unwrap();
    odb.create_http_channel(&channel("C", "/A")).await.unwrap();
    assert_eq!(odb.http_channels().await.unwrap().len(), 2);

    let config = BTreeMap::from([("key".into(), "1".into()), ("KEY".into(), "2".into())]);
    odb.set_service_config("demo", &config).await.unwrap();
    odb.set_service_config("Demo", &BTreeMap::new())
        .await
        .unwrap();
    assert_eq!(odb.service_configs().await.unwrap()["demo"], config);
}

async fn channels_are_unique_by_name_and_by_path(db: TestDb) {
    let odb = db.odb().await;
    assert!(odb.http_channels().await.unwrap().is_empty());
    let c1 = channel("c1", "/a/{id}");
    odb.create_http_channel(&c1).await.unwrap();
    let same_path = channel("c2", "/a/{id}");
    assert!(matches!(
        odb.create_http_channel(&same_path).await,
        Err(OdbError::Conflict(_))
    ));
    let same_name = channel("c1", "/b");
    assert!(matches!(
        odb.create_http_channel(&same_name).await,
        Err(OdbError::Conflict(_))
    ));
    let c0 = HttpChannel {
        methods: Vec::new(),
        data_format: DataFormat::Raw,
        timeout_ms: 2_500,
        ..channel("c0", "/b")
    };
    odb.create_http_channel(&c0).await.unwrap();
    assert_eq!(odb.http_channels().await.unwrap(), [c0, c1.clone()]);

    assert!(odb.delete_http_channel("c0").await.unwrap());
    assert!(!odb.delete_http_channel("c0").await.unwrap());
    assert_eq!(odb.http_channels().await.unwrap(), [c1]);
    // A deleted channel's path is free again.
    assert!(odb.delete_http_channel("c1").await.unwrap());
    odb.create_http_channel(&same_path).await.unwrap();
    assert_eq!(odb.http_channels().await.unwrap(), [same_path]);
}

async fn service_config_is_replaced_whole(db: TestDb) {
    let odb = db.odb().await;
    assert!(odb.service_configs().await.unwrap().is_empty());
    let mut cfg = BTreeMap::from([
        ("a".to_string(), "1".to_string()),
        ("b".into(), "2".into()),
        ("empty".into(), String::new()),
        ("pem".into(), "-----BEGIN-----\nzażółć\n".repeat(1000)),
    ]);
    odb.set_service_config("svc", &cfg).await.unwrap();
    let other = BTreeMap::from([("a".to_string(), "other".to_string())]);
    odb.set_service_config("other", &other).await.unwrap();
    cfg.remove("a");
    cfg.insert("c".into(), "3".into());
    odb.set_service_config("svc", &cfg).await.unwrap();
    let configs = odb.service_configs().await.unwrap();
    assert_eq!(configs.len(), 2);
    assert_eq!(configs["svc"], cfg);
    assert_eq!(configs["other"], other);
    // An empty configuration removes the service's entry.
    odb.set_service_config("svc", &BTreeMap::new())
        .await
        .unwrap();
    assert!(!odb.service_configs().await.unwrap().contains_key("svc"));
}

/// Concurrent replacements of one configuration leave exactly one of them, whole.
async fn concurrent_config_replacements_do_not_mix(db: TestDb) {
    let odb = Arc::new(db.odb().await);
    // Disjoint keys: no unique key stops a mix, only the transaction can.
    let configs: Vec<BTreeMap<String, String>> = (0..10)
        .map(|i| {
            BTreeMap::from([
                (format!("only-{i}"), format!("{i}")),
                (format!("also-{i}"), format!("{i}")),
            ])
        })
        .collect();
    for round in 0..3 {
        let barrier = Arc::new(tokio::sync::Barrier::new(configs.len()));
        let tasks: Vec<_> = configs
            .iter()
            .cloned()
            .map(|config| {
                let odb = odb.clone();
                let barrier = barrier.clone();
                tokio::spawn(async move {
                    barrier.wait().await;
                    odb.set_service_config("svc", &config).await
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        let stored = odb.service_configs().await.unwrap().remove("svc").unwrap();
        assert!(
            configs.contains(&stored),
            "round {round}: a mix: {stored:?}"
        );
    }
}

/// Concurrent updates of what a server runs leave one row per (server, service).
async fn concurrent_running_version_updates_keep_one(db: TestDb) {
    let odb = Arc::new(db.odb().await);
    let barrier = Arc::new(tokio::sync::Barrier::new(10));
    let tasks: Vec<_> = (1..=10)
        .map(|version| {
            let odb = odb.clone();
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                odb.set_running_version("s1", "a", Some(version)).await
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let running = odb.running_versions().await.unwrap();
    assert_eq!(running.len(), 1, "{running:?}");
    assert!((1..=10).contains(&running[0].2));
}

async fn servers_register_touch_and_deregister(db: TestDb) {
    let odb = db.odb().await;
    assert!(odb.servers().await.unwrap().is_empty());
    let before = now_ms();
    odb.register_server("s2", "127.0.0.1:17011", 22)
        .await
        .unwrap();
    odb.register_server("s1", "127.0.0.1:17010", 11)
        .await
        .unwrap();
    let servers = odb.servers().await.unwrap();
    let names: Vec<_> = servers.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["s1", "s2"]);
    let s1 = &servers[0];
    assert_eq!(
        (s1.address.as_str(), s1.state.as_str(), s1.pid),
        ("127.0.0.1:17010", "running", 11)
    );
    assert!(s1.started_at >= before && s1.last_seen == s1.started_at);

    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    odb.touch_server("s1").await.unwrap();
    let s1 = odb.servers().await.unwrap().remove(0);
    assert!(s1.last_seen > s1.started_at, "{s1:?}");
    // Touching a server that never registered changes nothing.
    odb.touch_server("nobody").await.unwrap();
    assert_eq!(odb.servers().await.unwrap().len(), 2);

    odb.set_running_version("s1", "svc", Some(3)).await.unwrap();
    odb.set_running_version("s2", "svc", Some(3)).await.unwrap();
    odb.deregister_server("s1").await.unwrap();
    let servers = odb.servers().await.unwrap();
    assert_eq!(servers[0].state, "stopped");
    assert!(servers[0].last_seen >= s1.last_seen);
    assert_eq!(servers[1].state, "running");
    // A stopped server runs nothing.
    assert_eq!(
        odb.running_versions().await.unwrap(),
        [("s2".to_string(), "svc".to_string(), 3)]
    );

    // Registering again starts afresh: running, new address and pid, no versions.
    odb.set_running_version("s2", "svc", Some(4)).await.unwrap();
    odb.register_server("s2", "127.0.0.1:17012", 33)
        .await
        .unwrap();
    let s2 = odb.servers().await.unwrap().remove(1);
    assert_eq!(
        (s2.address.as_str(), s2.state.as_str(), s2.pid),
        ("127.0.0.1:17012", "running", 33)
    );
    assert!(odb.running_versions().await.unwrap().is_empty());
}

async fn running_versions_are_set_and_unset(db: TestDb) {
    let odb = db.odb().await;
    assert!(odb.running_versions().await.unwrap().is_empty());
    odb.set_running_version("s1", "a", Some(1)).await.unwrap();
    odb.set_running_version("s1", "a", Some(2)).await.unwrap();
    odb.set_running_version("s1", "b", Some(7)).await.unwrap();
    odb.set_running_version("s2", "a", Some(1)).await.unwrap();
    let mut running = odb.running_versions().await.unwrap();
    running.sort();
    let row =
        |server: &str, service: &str, version| (server.to_string(), service.to_string(), version);
    assert_eq!(
        running,
        [row("s1", "a", 2), row("s1", "b", 7), row("s2", "a", 1)]
    );

    odb.set_running_version("s1", "a", None).await.unwrap();
    // Unsetting what is not set is not an error.
    odb.set_running_version("s1", "zz", None).await.unwrap();
    let mut running = odb.running_versions().await.unwrap();
    running.sort();
    assert_eq!(running, [row("s1", "b", 7), row("s2", "a", 1)]);
}

/// Values longer than the schema's key columns, or that only a trailing space tells
/// apart, are refused alike on every backend instead of failing (or, worse, being
/// merged) on some of them.
async fn keys_are_checked_the_same_everywhere(db: TestDb) {
    let odb = db.odb().await;
    // 255 characters of 2 bytes each: limits count characters, and the widest key
    // still fits MySQL's index limits.
    let longest = "é".repeat(255);
    let too_long = "é".repeat(256);
    let config = BTreeMap::from([(longest.clone(), "v".to_string())]);
    odb.set_service_config(&longest, &config).await.unwrap();
    assert_eq!(odb.service_configs().await.unwrap()[&longest], config);
    let bad = BTreeMap::from([(too_long.clone(), "v".to_string())]);
    assert!(matches!(
        odb.set_service_config("svc", &bad).await,
        Err(OdbError::Invalid(_))
    ));
    assert!(matches!(
        odb.set_service_config(&too_long, &config).await,
        Err(OdbError::Invalid(_))
    ));
    let padded = BTreeMap::from([
        ("k".to_string(), "1".to_string()),
        ("k ".into(), "2".into()),
    ]);
    assert!(matches!(
        odb.set_service_config("svc", &padded).await,
        Err(OdbError::Invalid(_))
    ));
    // A refused configuration leaves the previous one in place.
    assert!(!odb.service_configs().await.unwrap().contains_key("svc"));

    let path = format!("/{}", "p".repeat(699));
    odb.create_http_channel(&channel(&longest, &path))
        .await
        .unwrap();
    for bad in [
        channel(&too_long, "/x"),
        channel("x", &format!("{path}p")),
        channel("x ", "/x"),
        channel("x", "/x "),
        HttpChannel {
            service: too_long.clone(),
            ..channel("x", "/x")
        },
    ] {
        assert!(
            matches!(
                odb.create_http_channel(&bad).await,
                Err(OdbError::Invalid(_))
            ),
            "{bad:?}"
        );
    }
    assert_eq!(odb.http_channels().await.unwrap().len(), 1);

    assert!(matches!(
        odb.insert_version(version(&too_long, "aa")).await,
        Err(OdbError::Invalid(_))
    ));
    assert!(matches!(
        odb.register_server(&too_long, "127.0.0.1:1", 1).await,
        Err(OdbError::Invalid(_))
    ));
    assert!(matches!(
        odb.set_running_version("s1", &too_long, Some(1)).await,
        Err(OdbError::Invalid(_))
    ));
    assert!(matches!(
        odb.create_http_channel(&channel("tab\there", "/t")).await,
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
    let nul = BTreeMap::from([("k".to_string(), "\0".to_string())]);
    assert!(matches!(
        odb.set_service_config("svc", &nul).await,
        Err(OdbError::Invalid(_))
    ));
    assert!(odb.latest_version("a").await.unwrap().is_none());
}

/// MySQL ignores trailing spaces when it compares: a lookup by `a ` must not find `a`.
async fn lookups_match_keys_exactly(db: TestDb) {
    let odb = db.odb().await;
    odb.insert_version(version("a", "aa")).await.unwrap();
    odb.create_http_channel(&channel("c", "/c")).await.unwrap();
    odb.register_server("s1", "127.0.0.1:1", 1).await.unwrap();
    assert_eq!(odb.latest_version("a ").await.unwrap(), None);
    assert_eq!(odb.version_bytes("a ", 1).await.unwrap(), None);
    assert_eq!(odb.find_by_sha256("aa ").await.unwrap(), None);
    assert!(!odb.delete_http_channel("c ").await.unwrap());
    odb.deregister_server("s1 ").await.unwrap();
    assert_eq!(odb.servers().await.unwrap()[0].state, "running");
    assert_eq!(odb.http_channels().await.unwrap().len(), 1);
}

async fn migrations_are_idempotent(db: TestDb) {
    let odb = db.odb().await;
    odb.insert_version(version("a", "aa")).await.unwrap();
    drop(odb);
    // The second connection finds the schema in place and the data intact; on MySQL
    // it also goes through the `mariadb://` spelling of the URL.
    let url = match db.backend {
        Backend::MySql => db.url.replacen("mysql:", "mariadb:", 1),
        _ => db.url.clone(),
    };
    let again = SqlOdb::connect(&url).await.unwrap();
    assert_eq!(again.latest_version("a").await.unwrap().unwrap().version, 1);
    assert_eq!(again.insert_version(version("a", "bb")).await.unwrap(), 2);
}

#[tokio::test]
async fn an_unsupported_url_is_invalid() {
    for url in [
        "redis://127.0.0.1:6379",
        "odb.sqlite",
        "",
        "mssql://sa@localhost/zato",
    ] {
        match SqlOdb::connect(url).await {
            Err(OdbError::Invalid(message)) => {
                assert!(message.contains(&format!("`{url}`")), "{message}");
                assert!(message.contains("sqlite://"), "{message}");
            }
            Err(e) => panic!("`{url}`: expected an invalid URL error, got {e}"),
            Ok(_) => panic!("`{url}`: expected an invalid URL error, got an ODB"),
        }
    }
}

#[test]
fn test_urls_name_the_test_database() {
    assert_eq!(
        with_database("postgres://postgres@127.0.0.1:5432/postgres", "db1"),
        "postgres://postgres@127.0.0.1:5432/db1"
    );
    assert_eq!(
        with_database("mysql://root@127.0.0.1:3306/test?ssl-mode=disabled", "db1"),
        "mysql://root@127.0.0.1:3306/db1?ssl-mode=disabled"
    );
    assert_eq!(
        with_database("postgres://root@localhost", "db1"),
        "postgres://root@localhost/db1"
    );
}
