//! Services calling SQL databases through outgoing connections, on the real PostgreSQL,
//! MariaDB and SQLite of this machine (a database of its own per test): the
//! `demo.sql-table` example reads and writes its table; typed values round-trip;
//! parameters are bound, never pasted; the row cap, the request's deadline and
//! transactions hold; an unknown connection is a clear not-found.
//!
//! The connections are created through the admin API; `test.sql-call` runs whatever
//! query, statement or transaction its payload describes.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::Connection as _;
use zato_api::{Outconn, OutconnSettings, SqlSettings};
use zato_test_artifacts as wasm;

use crate::harness::{Backend, TestDb, TestServer, eventually};

/// A server with `test.sql-call` and `demo.sql-table` deployed and an SQL connection
/// `db` (and `customers`, the example's) to a fresh database of `backend`.
struct Setup {
    server: TestServer,
    db: Option<TestDb>,
    url: String,
    backend: Backend,
}

impl Setup {
    async fn start(backend: Backend, max_rows: u32) -> Self {
        // The harness's reqwest clients use rustls without a provider of their own.
        let server = TestServer::start().await;
        let (url, db) = match backend {
            Backend::Sqlite => (
                format!("sqlite://{}/app.db?mode=rwc", server.dir.path().display()),
                None,
            ),
            _ => {
                let db = TestDb::new(backend, server.dir.path()).await;
                (db.url.clone(), Some(db))
            }
        };
        for name in ["db", "customers"] {
            server
                .api
                .create_outconn(&Outconn {
                    name: name.into(),
                    active: true,
                    settings: OutconnSettings::Sql(SqlSettings {
                        url: url.clone(),
                        pool_size: 2,
                        timeout_ms: 30_000,
                        max_rows,
                    }),
                    secret: None,
                })
                .await
                .unwrap_or_else(|e| panic!("connection {name}: {e}"));
        }
        server.deploy(wasm::SQL_CALL).await;
        Self {
            server,
            db,
            url,
            backend,
        }
    }

    /// Runs `call` (a `test.sql-call` payload) and answers its JSON.
    async fn call(&self, call: Value) -> Value {
        let (status, answer) = self.server.invoke("test.sql-call", &call.to_string()).await;
        assert_eq!(status, StatusCode::OK, "{call}: {answer}");
        answer
    }

    async fn execute(&self, sql: &str, params: Value) -> Value {
        let answer = self
            .call(json!({"op": "execute", "sql": sql, "params": params}))
            .await;
        assert!(answer.get("error").is_none(), "{sql}: {answer}");
        answer
    }

    async fn query(&self, sql: &str, params: Value) -> Value {
        let answer = self
            .call(json!({"op": "query", "sql": sql, "params": params}))
            .await;
        assert!(answer.get("error").is_none(), "{sql}: {answer}");
        answer
    }

    /// `sql` written with `?` placeholders in this engine's dialect.
    fn sql(&self, sql: &str) -> String {
        match self.backend {
            Backend::Postgres => {
                let mut n = 0;
                sql.chars()
                    .map(|c| {
                        if c == '?' {
                            n += 1;
                            format!("${n}")
                        } else {
                            c.to_string()
                        }
                    })
                    .collect()
            }
            _ => sql.to_owned(),
        }
    }

    fn engine(&self) -> &'static str {
        match self.backend {
            Backend::Postgres => "postgres",
            Backend::MySql => "mysql",
            Backend::Sqlite => "sqlite",
        }
    }

    async fn stop(self) {
        self.server.stop().await;
        if let Some(db) = self.db {
            db.drop_database().await;
        }
    }
}

async fn the_example_reads_and_writes_its_table(backend: Backend) {
    let setup = Setup::start(backend, 0).await;
    let ddl = match backend {
        Backend::Postgres => {
            "create table customers (id bigserial primary key, name text not null, email text)"
        }
        Backend::MySql => {
            "create table customers (id bigint auto_increment primary key, name text not null, email text)"
        }
        Backend::Sqlite => {
            "create table customers (id integer primary key autoincrement, name text not null, email text)"
        }
    };
    setup.execute(ddl, json!([])).await;
    let server = &setup.server;
    server.deploy(wasm::SQL_TABLE).await;
    server
        .set_config("demo.sql-table", &json!({"engine": setup.engine()}))
        .await;
    server
        .channel("customers", "/demo/customers", "demo.sql-table", 0)
        .await;
    server
        .channel("customer", "/demo/customers/{id}", "demo.sql-table", 0)
        .await;
    let send = |method: Method, path: &str, body: Option<Value>| {
        let mut request = server
            .http
            .request(method, format!("{}{path}", server.base));
        if let Some(body) = body {
            request = request.json(&body);
        }
        async move {
            let response = request.send().await.unwrap();
            let status = response.status();
            let text = response.text().await.unwrap();
            (
                status,
                serde_json::from_str::<Value>(&text).unwrap_or(Value::String(text)),
            )
        }
    };

    let (status, created) = send(
        Method::POST,
        "/demo/customers",
        Some(json!({"name": "Ada", "email": "ada@example.com"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let ada = created["id"].as_i64().expect("an id");
    // A hostile name is a value like any other: stored as text, the table stays.
    let hostile = "'; drop table customers; --";
    let (status, created) = send(
        Method::POST,
        "/demo/customers",
        Some(json!({"name": hostile})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let other = created["id"].as_i64().unwrap();
    assert_ne!(ada, other);

    let (status, one) = send(Method::GET, &format!("/demo/customers/{ada}"), None).await;
    assert_eq!(status, StatusCode::OK, "{one}");
    assert_eq!(
        one,
        json!({"id": ada, "name": "Ada", "email": "ada@example.com"})
    );
    let (status, list) = send(Method::GET, "/demo/customers", None).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(
        list,
        json!({"customers": [
            {"id": ada, "name": "Ada", "email": "ada@example.com"},
            {"id": other, "name": hostile, "email": null},
        ], "truncated": false})
    );

    let (status, updated) = send(
        Method::PUT,
        &format!("/demo/customers/{ada}"),
        Some(json!({"name": "Ada Lovelace", "email": null})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    let (_, one) = send(Method::GET, &format!("/demo/customers/{ada}"), None).await;
    assert_eq!(
        one,
        json!({"id": ada, "name": "Ada Lovelace", "email": null})
    );

    let (status, _) = send(Method::DELETE, &format!("/demo/customers/{other}"), None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, gone) = send(Method::GET, &format!("/demo/customers/{other}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{gone}");
    let (status, _) = send(Method::DELETE, &format!("/demo/customers/{other}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let count = setup
        .query("select count(*) as n from customers", json!([]))
        .await;
    assert_eq!(count["rows"], json!([[{"int": 1}]]), "{count}");
    setup.stop().await;
}

async fn typed_values_round_trip(backend: Backend) {
    let setup = Setup::start(backend, 0).await;
    let (ddl, insert) = match backend {
        Backend::Postgres => (
            "create table t (n integer, b boolean, i bigint, f double precision, s text, y bytea, ts timestamptz)",
            "insert into t values ($1, $2, $3, $4, $5, $6, $7::timestamptz)",
        ),
        Backend::MySql => (
            "create table t (n integer, b boolean, i bigint, f double, s text, y blob, ts datetime)",
            "insert into t values (?, ?, ?, ?, ?, ?, ?)",
        ),
        Backend::Sqlite => (
            "create table t (n, b, i, f, s, y, ts)",
            "insert into t values (?, ?, ?, ?, ?, ?, ?)",
        ),
    };
    setup.execute(ddl, json!([])).await;
    let timestamp = match backend {
        Backend::MySql => "2027-03-28 03:00:00",
        _ => "2027-03-28T03:00:00Z",
    };
    let params = json!([
        {"null": null}, {"bool": true}, {"int": -9_007_199_254_740_993_i64}, {"float": 1.25},
        {"text": "zażółć 'quoted' \"double\" ; --"}, {"bytes": [0, 1, 127, 128, 255]},
        {"text": timestamp},
    ]);
    let done = setup.execute(insert, params.clone()).await;
    assert_eq!(done["rows_affected"], 1, "{done}");
    let rows = setup
        .query("select n, b, i, f, s, y, ts from t", json!([]))
        .await;
    assert_eq!(rows["columns"], json!(["n", "b", "i", "f", "s", "y", "ts"]));
    let row = &rows["rows"][0];
    let (boolean, ts) = match backend {
        Backend::Postgres => (json!({"bool": true}), "2027-03-28T03:00:00Z"),
        Backend::MySql => (json!({"bool": true}), "2027-03-28T03:00:00"),
        // SQLite has no booleans nor timestamps: an integer and the text stored.
        Backend::Sqlite => (json!({"int": 1}), "2027-03-28T03:00:00Z"),
    };
    assert_eq!(row[0], json!({"null": null}));
    assert_eq!(row[1], boolean);
    assert_eq!(
        row.as_array().unwrap()[2..6],
        params.as_array().unwrap()[2..6],
        "{row}"
    );
    assert_eq!(row[6], json!({"text": ts}), "{row}");

    // A parameter compared with a column is bound as well.
    let found = setup
        .query(
            &setup.sql("select i from t where s = ?"),
            json!([params[4]]),
        )
        .await;
    assert_eq!(found["rows"], json!([[params[2]]]));
    let nothing = setup
        .query(
            &setup.sql("select i from t where s = ?"),
            json!([{"text": "' or '1'='1"}]),
        )
        .await;
    assert_eq!(nothing["rows"], json!([]));
    assert_eq!(
        nothing["columns"],
        json!(["i"]),
        "columns come back with no row"
    );

    if let Backend::Postgres = backend {
        let numbers = setup
            .query(
                "select 12345.6789::numeric as a, (-0.001)::numeric as b, 0::numeric as c, \
                 '6f1b9c5e-8d4a-4a8e-9f53-2d3c1e0a7b11'::uuid as d, '{\"k\": [1]}'::jsonb as e, \
                 date '2027-03-28' as f",
                json!([]),
            )
            .await;
        assert_eq!(
            numbers["rows"][0],
            json!([
                {"text": "12345.6789"}, {"text": "-0.001"}, {"text": "0"},
                {"text": "6f1b9c5e-8d4a-4a8e-9f53-2d3c1e0a7b11"}, {"text": "{\"k\":[1]}"},
                {"text": "2027-03-28"},
            ])
        );
    }
    setup.stop().await;
}

async fn the_row_cap_truncates_and_says_so(backend: Backend) {
    let setup = Setup::start(backend, 3).await;
    setup.execute("create table t (n integer)", json!([])).await;
    let statements: Vec<Value> = (0..5)
        .map(|n| json!({"sql": setup.sql("insert into t values (?)"), "params": [{"int": n}]}))
        .collect();
    let done = setup
        .call(json!({"op": "transaction", "statements": statements}))
        .await;
    assert_eq!(done["results"].as_array().map(Vec::len), Some(5), "{done}");
    let rows = setup.query("select n from t order by n", json!([])).await;
    assert_eq!(
        rows["rows"],
        json!([[{"int": 0}], [{"int": 1}], [{"int": 2}]])
    );
    assert_eq!(rows["truncated"], true);
    let rows = setup
        .query("select n from t where n > 1 order by n", json!([]))
        .await;
    assert_eq!(rows["rows"].as_array().unwrap().len(), 3);
    assert_eq!(rows["truncated"], false);
    setup.stop().await;
}

async fn a_failing_statement_leaves_nothing_of_its_transaction(backend: Backend) {
    let setup = Setup::start(backend, 0).await;
    setup.execute("create table t (n integer)", json!([])).await;
    let answer = setup
        .call(json!({"op": "transaction", "statements": [
            {"sql": setup.sql("insert into t values (?)"), "params": [{"int": 1}]},
            {"sql": "insert into no_such_table values (1)"},
            {"sql": setup.sql("insert into t values (?)"), "params": [{"int": 3}]},
        ]}))
        .await;
    assert_eq!(answer["error"]["kind"], "database", "{answer}");
    let message = answer["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("statement 1")
            && message.contains("rolled back")
            && message.contains("no_such_table"),
        "{message}"
    );
    let count = setup.query("select count(*) from t", json!([])).await;
    assert_eq!(count["rows"], json!([[{"int": 0}]]), "{count}");
    setup.stop().await;
}

async fn an_unknown_connection_is_a_clear_not_found(backend: Backend) {
    let setup = Setup::start(backend, 0).await;
    let answer = setup
        .call(json!({"op": "query", "connection": "nope", "sql": "select 1"}))
        .await;
    assert_eq!(answer["error"]["kind"], "not-found", "{answer}");
    assert_eq!(
        answer["error"]["message"],
        "no sql connection named `nope` is configured"
    );
    // A syntax error is the database's, named as such.
    let answer = setup.call(json!({"op": "query", "sql": "selec 1"})).await;
    assert_eq!(answer["error"]["kind"], "database", "{answer}");
    setup.stop().await;
}

/// A statement that runs past the request's deadline: the call fails at the deadline,
/// the server goes on serving, and the statement does not run on in the database.
async fn a_query_past_the_deadline_fails_at_the_deadline(backend: Backend) {
    let setup = Setup::start(backend, 0).await;
    let server = &setup.server;
    server
        .channel("sql", "/test/sql", "test.sql-call", 1_000)
        .await;
    let sleep = match backend {
        Backend::Postgres => "select pg_sleep(30)",
        _ => "select sleep(30)",
    };
    let started = Instant::now();
    let (status, answer) = server
        .post(
            "/test/sql",
            &json!({"op": "query", "sql": sleep}).to_string(),
        )
        .await;
    let took = started.elapsed();
    assert!(took < Duration::from_secs(5), "answered after {took:?}");
    assert!(
        status.is_server_error() || answer["error"]["kind"] == "timeout",
        "{status} {answer}"
    );
    // The server keeps serving, on the same pool.
    let one = setup.query("select 1 as one", json!([])).await;
    assert_eq!(one["rows"], json!([[{"int": 1}]]));
    // The abandoned statement's connection was closed, and PostgreSQL ended it
    // (MariaDB does not notice while it sleeps: its bound is the connection's timeout,
    // `max_statement_time`).
    if !matches!(backend, Backend::Postgres) {
        setup.stop().await;
        return;
    }
    let probe = "select count(*) from pg_stat_activity where datname = current_database() \
                 and state = 'active' and query = 'select pg_sleep(30)'";
    let url = setup.url.clone();
    eventually(
        Duration::from_secs(15),
        "the sleeping statement to end",
        || {
            let url = url.clone();
            async move {
                let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
                let count: i64 = sqlx::query_scalar(probe).fetch_one(&mut c).await.unwrap();
                (count == 0).then_some(())
            }
        },
    )
    .await;
    setup.stop().await;
}

macro_rules! on_every_engine {
    ($($engine:ident => $backend:expr),* $(,)?) => {$(
        mod $engine {
            use super::*;

            #[tokio::test(flavor = "multi_thread")]
            async fn the_example_reads_and_writes_its_table() {
                super::the_example_reads_and_writes_its_table($backend).await;
            }

            #[tokio::test(flavor = "multi_thread")]
            async fn typed_values_round_trip() {
                super::typed_values_round_trip($backend).await;
            }

            #[tokio::test(flavor = "multi_thread")]
            async fn the_row_cap_truncates_and_says_so() {
                super::the_row_cap_truncates_and_says_so($backend).await;
            }

            #[tokio::test(flavor = "multi_thread")]
            async fn a_failing_statement_leaves_nothing_of_its_transaction() {
                super::a_failing_statement_leaves_nothing_of_its_transaction($backend).await;
            }

            #[tokio::test(flavor = "multi_thread")]
            async fn an_unknown_connection_is_a_clear_not_found() {
                super::an_unknown_connection_is_a_clear_not_found($backend).await;
            }
        }
    )*};
}

on_every_engine! {
    postgres => Backend::Postgres,
    mariadb => Backend::MySql,
    sqlite => Backend::Sqlite,
}

#[tokio::test(flavor = "multi_thread")]
async fn a_postgres_query_past_the_deadline_fails_at_the_deadline() {
    a_query_past_the_deadline_fails_at_the_deadline(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_mariadb_query_past_the_deadline_fails_at_the_deadline() {
    a_query_past_the_deadline_fails_at_the_deadline(Backend::MySql).await;
}

/// SQLite's SQL reaches files by name (`ATTACH`, `VACUUM INTO`): a service reaches the
/// connection's database file and no other, so neither creates nor opens another file.
#[tokio::test(flavor = "multi_thread")]
async fn an_sqlite_connection_cannot_attach_or_write_another_file() {
    let setup = Setup::start(Backend::Sqlite, 0).await;
    setup.execute("create table t (n integer)", json!([])).await;
    let elsewhere = tempfile::tempdir().unwrap();
    for (what, target) in [
        ("ATTACH DATABASE", "attached.db"),
        ("VACUUM INTO", "copy.db"),
    ] {
        let path = elsewhere.path().join(target);
        let sql = match what {
            "ATTACH DATABASE" => format!("ATTACH DATABASE '{}' AS other", path.display()),
            _ => format!("VACUUM INTO '{}'", path.display()),
        };
        let answer = setup.call(json!({"op": "execute", "sql": sql})).await;
        assert_eq!(answer["error"]["kind"], "database", "{what}: {answer}");
        assert!(!path.exists(), "{what} created {}", path.display());
    }
    // The connection's own database goes on working.
    setup.execute("insert into t values (1)", json!([])).await;
    let count = setup.query("select count(*) from t", json!([])).await;
    assert_eq!(count["rows"], json!([[{"int": 1}]]), "{count}");
    setup.stop().await;
}
