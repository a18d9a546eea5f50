//! One ODB test suite, run on every backend against a real server.
//!
//! One module per object kind (`tests/<kind>.rs`), like the ODB itself. Each case is
//! an `async fn(TestDb)` written against its kind's trait; the kind's module lists
//! its cases in `backends!`, which instantiates every case once per backend, as
//! `odb::tests::<kind>::{sqlite,postgres,mysql}::<case>` (the cases of the shared
//! code are `odb::tests::{sqlite,postgres,mysql}::<case>`). Each test gets a database
//! of its own (a temporary file for SQLite, `zato_test_<uuid>` created through an
//! admin connection elsewhere), so the tests run in parallel and leave nothing
//! behind, even when they fail.
//!
//! The servers are found through `ZATO_TEST_POSTGRES_URL` and `ZATO_TEST_MYSQL_URL`
//! (admin URLs whose user may create databases); the defaults are the servers of a
//! development machine. A server that is down fails its tests: skipping them would
//! let a backend rot unnoticed.

use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures::FutureExt;
use sqlx::{AnyConnection, AssertSqlSafe, Connection};

use super::{OdbError, ServiceVersions, SqlOdb};
use services::version;

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

/// Instantiates every case once per backend, each in its own `#[tokio::test]`, in
/// modules `sqlite`, `postgres` and `mysql` next to the cases. Defined above the
/// kinds' modules: a `macro_rules!` is visible only below its definition.
macro_rules! backends {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test]
            async fn $case() {
                $crate::odb::tests::run($crate::odb::tests::Backend::Sqlite, super::$case).await
            })*
        }
        mod postgres {
            $(#[tokio::test]
            async fn $case() {
                $crate::odb::tests::run($crate::odb::tests::Backend::Postgres, super::$case).await
            })*
        }
        mod mysql {
            $(#[tokio::test]
            async fn $case() {
                $crate::odb::tests::run($crate::odb::tests::Backend::MySql, super::$case).await
            })*
        }
    };
}

mod channels;
mod configs;
mod dictionaries;
mod msg_channels;
mod outconn;
mod scheduler;
mod security;
mod servers;
mod services;
mod soap_channels;

backends!(migrations_are_idempotent);

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

/// Servers started at once on a new ODB each run the migrations, one at a time under
/// the database's lock: none fails, and the schema is there once (20 new databases,
/// 3 servers each, as `zato start` of a 3-server environment does).
async fn first_starts_at_once(backend: Backend) {
    for round in 0..20 {
        run(backend, |db| async move {
            let servers = futures::future::join_all((0..3).map(|_| SqlOdb::connect(&db.url))).await;
            for (n, server) in servers.into_iter().enumerate() {
                let odb = server.unwrap_or_else(|e| {
                    panic!("round {round}: server {n} could not start on a new ODB: {e}")
                });
                let version = odb
                    .insert_version(version(&format!("s{n}"), &format!("{n}{n}")))
                    .await
                    .unwrap();
                assert_eq!(version, 1, "round {round}, server {n}");
            }
        })
        .await;
    }
}

#[tokio::test]
async fn sqlite_first_starts_at_once() {
    first_starts_at_once(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_first_starts_at_once() {
    first_starts_at_once(Backend::Postgres).await;
}

#[tokio::test]
async fn mysql_first_starts_at_once() {
    first_starts_at_once(Backend::MySql).await;
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
