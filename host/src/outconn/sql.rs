//! Outgoing SQL connections: one sqlx pool per live connection, on PostgreSQL,
//! MySQL/MariaDB or SQLite as the URL's scheme says.
//!
//! The three engines are three pool kinds behind [`Pools`] rather than sqlx's `Any`
//! driver: `Any` carries only bool/int/float/text/blob and cannot tell a timestamp or a
//! numeric from text, where each engine's own driver can (each column's type decides how
//! its value is read, see `pg`, `my` and `lite` below). Placeholders are the engine's own
//! (`$1` on PostgreSQL, `?` on MySQL and SQLite): the SQL is sent as the service wrote
//! it, and its parameters are always bound, never pasted into the text.
//!
//! A pool is created lazily: [`SqlConn::new`] does no I/O, so a server starts, and the
//! definition is applied, while the database is down; a call then fails with the reason.
//!
//! Time limits. A call is bounded by the earlier of the connection's timeout and the
//! request's deadline, the wait for a pooled connection included. A statement cut short
//! must not run on in the database: sqlx, when the future of a query is dropped, hands
//! the connection back to its pool, whose check (a ping) waits for the statement to end
//! before the connection is reused or closed; the statement runs to its end on the
//! server. So a call that times out (or whose future is dropped) instead detaches its
//! connection from the pool and drops it, which closes the socket ([`Held`]). On
//! PostgreSQL (14 and later) every connection sets `client_connection_check_interval`,
//! so the backend notices the closed socket within a second and cancels the statement;
//! its `statement_timeout` is also the connection's timeout, a bound the server enforces
//! itself. MariaDB does not notice a closed connection while a statement runs (`SLEEP`
//! included), so there every connection sets `max_statement_time` to the connection's
//! timeout (MySQL: `max_execution_time`, which bounds a `SELECT`): a statement cut short
//! by an earlier request deadline runs on until then at most. SQLite runs in a worker
//! thread of the connection, which finishes the statement it is in and exits.

use std::fmt::Write as _;
use std::str::FromStr;
use std::time::{Duration, Instant};

use futures::TryStreamExt;
use sqlx::pool::PoolConnection;
use sqlx::{
    AssertSqlSafe, Column as _, Connection as _, Database, Executor as _, Row as _, SqlSafeStr as _,
};

use super::OutconnError;
use crate::api::SqlSettings;

/// A call's timeout when the definition says 0.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// The pool's most connections when the definition says 0.
pub const DEFAULT_POOL_SIZE: u32 = 5;
/// The most rows a query returns when the definition says 0.
pub const DEFAULT_MAX_ROWS: u32 = 1_000;
/// The most bytes of values a query returns, whatever the row cap: a result that would
/// pass it is truncated like one over the row cap.
pub const MAX_RESULT_BYTES: usize = 64 << 20;
/// How often a PostgreSQL backend checks, while a statement runs, that its client is
/// still there (ms).
const PG_CLIENT_CHECK_MS: u32 = 1_000;

/// A value of a parameter or a column.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
    Bytes(Vec<u8>),
}

impl SqlValue {
    /// Roughly the bytes the value takes, for the result's size cap.
    fn size(&self) -> usize {
        match self {
            Self::Text(text) => text.len(),
            Self::Bytes(bytes) => bytes.len(),
            _ => 8,
        }
    }
}

/// What a query returned.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Rows {
    /// The names of the columns, in order.
    pub columns: Vec<String>,
    /// The rows, each with one value per column.
    pub rows: Vec<Vec<SqlValue>>,
    /// Whether more rows were there than the connection's `max_rows` (or than
    /// [`MAX_RESULT_BYTES`] allow): `rows` holds the first ones.
    pub truncated: bool,
}

/// What a statement did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ExecResult {
    /// Rows inserted, updated or deleted.
    pub rows_affected: u64,
    /// The id of the last row inserted, where the engine says it (MySQL's
    /// `LAST_INSERT_ID()`, SQLite's rowid; PostgreSQL has none: use `RETURNING`).
    pub last_insert_id: Option<i64>,
}

/// One statement of a transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub sql: String,
    pub params: Vec<SqlValue>,
}

/// Which database a connection talks to, from its URL's scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Postgres,
    MySql,
    Sqlite,
}

impl Engine {
    /// The engine of `url`, from its scheme.
    pub fn of(url: &str) -> Result<Self, String> {
        let scheme = url.split_once(':').map(|(scheme, _)| scheme).unwrap_or("");
        match scheme.to_ascii_lowercase().as_str() {
            "postgres" | "postgresql" => Ok(Self::Postgres),
            "mysql" | "mariadb" => Ok(Self::MySql),
            "sqlite" => Ok(Self::Sqlite),
            _ => Err(format!(
                "unknown database URL scheme `{scheme}`: one of postgres, mysql, mariadb, sqlite"
            )),
        }
    }
}

enum Pools {
    Postgres(sqlx::PgPool),
    MySql(sqlx::MySqlPool),
    Sqlite(sqlx::SqlitePool),
}

/// A live SQL connection: its pool and limits.
pub struct SqlConn {
    pools: Pools,
    timeout: Duration,
    max_rows: usize,
}

/// Runs `$body` with `$pool` bound to the connection's pool and `$engine` naming the
/// module (`pg`, `my`, `lite`) that binds parameters and reads values for that engine:
/// the same code, compiled once per engine with its concrete types.
macro_rules! on_pool {
    ($pools:expr, $pool:ident, $engine:ident => $body:expr) => {
        match $pools {
            Pools::Postgres($pool) => {
                use self::pg as $engine;
                $body
            }
            Pools::MySql($pool) => {
                use self::my as $engine;
                $body
            }
            Pools::Sqlite($pool) => {
                use self::lite as $engine;
                $body
            }
        }
    };
}

impl SqlConn {
    /// Builds the live connection of a definition, or says why it cannot be built. No
    /// I/O: the pool connects on first use.
    pub fn new(settings: &SqlSettings, secret: Option<&str>) -> Result<Self, String> {
        let timeout = timeout_of(settings);
        let size = match settings.pool_size {
            0 => DEFAULT_POOL_SIZE,
            n => n,
        };
        let pools = match Engine::of(&settings.url)? {
            Engine::Postgres => {
                let options = pg::options(&settings.url, secret, timeout)?;
                Pools::Postgres(
                    pool_options(size, timeout)
                        .after_connect(|conn, _| Box::pin(pg::after_connect(conn)))
                        .connect_lazy_with(options),
                )
            }
            Engine::MySql => {
                let options = my::options(&settings.url, secret)?;
                Pools::MySql(
                    pool_options(size, timeout)
                        .after_connect(move |conn, _| Box::pin(my::after_connect(conn, timeout)))
                        .connect_lazy_with(options),
                )
            }
            Engine::Sqlite => {
                let options = lite::options(&settings.url)?;
                Pools::Sqlite(
                    pool_options(size, timeout)
                        .after_connect(|conn, _| Box::pin(lite::after_connect(conn)))
                        .connect_lazy_with(options),
                )
            }
        };
        Ok(Self {
            pools,
            timeout,
            max_rows: match settings.max_rows {
                0 => DEFAULT_MAX_ROWS,
                n => n,
            } as usize,
        })
    }

    /// The engine this connection talks to.
    pub fn engine(&self) -> Engine {
        match self.pools {
            Pools::Postgres(_) => Engine::Postgres,
            Pools::MySql(_) => Engine::MySql,
            Pools::Sqlite(_) => Engine::Sqlite,
        }
    }

    /// The most rows a query returns.
    pub fn max_rows(&self) -> usize {
        self.max_rows
    }

    fn deadline(&self, deadline: Instant) -> Instant {
        deadline.min(Instant::now() + self.timeout)
    }

    /// Runs a query with `params` bound to its placeholders; answers its columns and
    /// at most `max_rows` rows.
    pub async fn query(
        &self,
        sql: &str,
        params: &[SqlValue],
        deadline: Instant,
    ) -> Result<Rows, OutconnError> {
        let deadline = self.deadline(deadline);
        let max_rows = self.max_rows;
        on_pool!(&self.pools, pool, engine => {
            let mut held = Held::acquire(pool, deadline).await?;
            let run = async {
                let mut query = sqlx::query(AssertSqlSafe(sql));
                for param in params {
                    query = engine::bind(query, param);
                }
                let mut out = Rows::default();
                let mut bytes = 0;
                let mut stream = query.fetch(held.conn());
                while let Some(row) = stream.try_next().await.map_err(database)? {
                    if out.rows.len() == max_rows || bytes > MAX_RESULT_BYTES {
                        out.truncated = true;
                        break;
                    }
                    if out.columns.is_empty() {
                        out.columns = names(row.columns());
                    }
                    let mut values = Vec::with_capacity(row.len());
                    for i in 0..row.len() {
                        let value = engine::value(&row, i)?;
                        bytes += value.size();
                        values.push(value);
                    }
                    out.rows.push(values);
                }
                drop(stream);
                if out.rows.is_empty() {
                    // No row to read the columns from: the prepared statement has them
                    // (cached by sqlx, so no second round trip in the usual case).
                    let statement = held.conn().prepare(AssertSqlSafe(sql).into_sql_str()).await.map_err(database)?;
                    out.columns = names(sqlx::Statement::columns(&statement));
                }
                Ok(out)
            };
            let result = tokio::time::timeout_at(deadline.into(), run).await;
            held.finish(result)
        })
    }

    /// Runs a statement with `params` bound to its placeholders; answers what it did.
    pub async fn execute(
        &self,
        sql: &str,
        params: &[SqlValue],
        deadline: Instant,
    ) -> Result<ExecResult, OutconnError> {
        let deadline = self.deadline(deadline);
        on_pool!(&self.pools, pool, engine => {
            let mut held = Held::acquire(pool, deadline).await?;
            let run = async {
                let mut query = sqlx::query(AssertSqlSafe(sql));
                for param in params {
                    query = engine::bind(query, param);
                }
                let done = query.execute(held.conn()).await.map_err(database)?;
                Ok(engine::exec_result(&done))
            };
            let result = tokio::time::timeout_at(deadline.into(), run).await;
            held.finish(result)
        })
    }

    /// Runs `statements` in one transaction: all of them, or (at the first that fails,
    /// named by its index from 0) none.
    pub async fn transaction(
        &self,
        statements: &[Statement],
        deadline: Instant,
    ) -> Result<Vec<ExecResult>, OutconnError> {
        let deadline = self.deadline(deadline);
        let count = statements.len();
        on_pool!(&self.pools, pool, engine => {
            let mut held = Held::acquire(pool, deadline).await?;
            let run = async {
                let mut tx = held.conn().begin().await.map_err(database)?;
                let mut results = Vec::with_capacity(count);
                for (index, statement) in statements.iter().enumerate() {
                    let mut query = sqlx::query(AssertSqlSafe(statement.sql.as_str()));
                    for param in &statement.params {
                        query = engine::bind(query, param);
                    }
                    match query.execute(&mut *tx).await {
                        Ok(done) => results.push(engine::exec_result(&done)),
                        Err(error) => {
                            let rollback = match tx.rollback().await {
                                Ok(()) => "rolled back".to_owned(),
                                Err(e) => format!("rolled back as the connection closes ({e})"),
                            };
                            return Err(OutconnError::Remote(format!(
                                "statement {index} of the transaction failed, the transaction was \
                                 {rollback}: {}",
                                error_text(&error)
                            )));
                        }
                    }
                }
                tx.commit().await.map_err(|e| {
                    OutconnError::Remote(format!("the commit failed: {}", error_text(&e)))
                })?;
                Ok(results)
            };
            let result = tokio::time::timeout_at(deadline.into(), run).await;
            held.finish(result)
        })
    }
}

fn timeout_of(settings: &SqlSettings) -> Duration {
    match settings.timeout_ms {
        0 => DEFAULT_TIMEOUT,
        ms => Duration::from_millis(ms),
    }
}

fn pool_options<DB: Database>(size: u32, timeout: Duration) -> sqlx::pool::PoolOptions<DB> {
    sqlx::pool::PoolOptions::new()
        .max_connections(size)
        .min_connections(0)
        .acquire_timeout(timeout)
        .idle_timeout(Duration::from_secs(300))
}

fn names<C: sqlx::Column>(columns: &[C]) -> Vec<String> {
    columns.iter().map(|c| c.name().to_owned()).collect()
}

/// The message of a database error as the service sees it.
fn error_text(error: &sqlx::Error) -> String {
    match error {
        sqlx::Error::Database(e) => match e.code() {
            Some(code) => format!("{} (code {code})", e.message()),
            None => e.message().to_owned(),
        },
        sqlx::Error::PoolTimedOut => "no connection of the pool was free in time".to_owned(),
        other => other.to_string(),
    }
}

fn database(error: sqlx::Error) -> OutconnError {
    match error {
        sqlx::Error::PoolTimedOut => OutconnError::Timeout(error_text(&error)),
        other => OutconnError::Remote(error_text(&other)),
    }
}

fn timed_out() -> OutconnError {
    OutconnError::Timeout("the database did not answer within the call's time limit".into())
}

/// A pooled connection held by one call. Dropped without [`Held::finish`] seeing the
/// call through (a timeout, or the call's own future dropped), it is detached from the
/// pool and closed rather than handed back with a statement still running on it (see
/// the module docs).
struct Held<DB: Database> {
    conn: Option<PoolConnection<DB>>,
}

impl<DB: Database> Held<DB> {
    async fn acquire(pool: &sqlx::Pool<DB>, deadline: Instant) -> Result<Self, OutconnError> {
        match tokio::time::timeout_at(deadline.into(), pool.acquire()).await {
            Err(_) => Err(timed_out()),
            Ok(Err(error)) => Err(database(error)),
            Ok(Ok(conn)) => Ok(Self { conn: Some(conn) }),
        }
    }

    fn conn(&mut self) -> &mut DB::Connection {
        self.conn.as_mut().expect("held until finished")
    }

    fn finish<T>(
        mut self,
        result: Result<Result<T, OutconnError>, tokio::time::error::Elapsed>,
    ) -> Result<T, OutconnError> {
        match result {
            Ok(result) => {
                // Back to the pool.
                self.conn.take();
                result
            }
            // Dropping `self` closes the connection.
            Err(_) => Err(timed_out()),
        }
    }
}

impl<DB: Database> Drop for Held<DB> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            drop(conn.detach());
        }
    }
}

/// Checks that the database answers: connects (outside any pool) and asks its
/// version, e.g. `PostgreSQL 15.2`.
pub async fn ping(
    settings: &SqlSettings,
    secret: Option<&str>,
    deadline: Instant,
) -> Result<String, OutconnError> {
    let deadline = deadline.min(Instant::now() + timeout_of(settings));
    let bad = OutconnError::BadRequest;
    let run = async {
        let version: String = match Engine::of(&settings.url).map_err(bad)? {
            Engine::Postgres => {
                let options =
                    pg::options(&settings.url, secret, timeout_of(settings)).map_err(bad)?;
                let mut conn = sqlx::PgConnection::connect_with(&options)
                    .await
                    .map_err(database)?;
                let row = conn
                    .fetch_one("SHOW server_version")
                    .await
                    .map_err(database)?;
                let _ = conn.close().await;
                format!(
                    "PostgreSQL {}",
                    row.try_get::<String, _>(0).map_err(database)?
                )
            }
            Engine::MySql => {
                let options = my::options(&settings.url, secret).map_err(bad)?;
                let mut conn = sqlx::MySqlConnection::connect_with(&options)
                    .await
                    .map_err(database)?;
                let row = conn.fetch_one("SELECT version()").await.map_err(database)?;
                let _ = conn.close().await;
                let version = row.try_get::<String, _>(0).map_err(database)?;
                let engine = if version.contains("MariaDB") {
                    "MariaDB"
                } else {
                    "MySQL"
                };
                format!("{engine} {version}")
            }
            Engine::Sqlite => {
                let options = lite::options(&settings.url).map_err(bad)?;
                let mut conn = sqlx::SqliteConnection::connect_with(&options)
                    .await
                    .map_err(database)?;
                let row = conn
                    .fetch_one("SELECT sqlite_version()")
                    .await
                    .map_err(database)?;
                let _ = conn.close().await;
                format!("SQLite {}", row.try_get::<String, _>(0).map_err(database)?)
            }
        };
        Ok(version)
    };
    tokio::time::timeout_at(deadline.into(), run)
        .await
        .unwrap_or_else(|_| Err(timed_out()))
}

/// PostgreSQL: parameters as the driver types them (TEXT, INT8, ...), a null of no
/// type (the server infers it, so a null fits any column), and each column read
/// according to its type.
mod pg {
    use sqlx::encode::IsNull;
    use sqlx::error::BoxDynError;
    use sqlx::postgres::types::Oid;
    use sqlx::postgres::{
        PgArgumentBuffer, PgArguments, PgConnectOptions, PgQueryResult, PgRow, PgTypeInfo,
        PgTypeKind, Postgres,
    };
    use sqlx::query::Query;
    use sqlx::{Decode, Encode, Executor as _, Row as _, Type, TypeInfo as _, ValueRef as _};

    use super::*;

    pub(super) fn options(
        url: &str,
        secret: Option<&str>,
        timeout: Duration,
    ) -> Result<PgConnectOptions, String> {
        let mut options = PgConnectOptions::from_str(url)
            .map_err(|e| format!("invalid PostgreSQL URL: {e}"))?
            .application_name("zato")
            // The server's own bound on a statement: the connection's timeout.
            .options([("statement_timeout", timeout.as_millis().to_string())]);
        if let Some(secret) = secret {
            options = options.password(secret);
        }
        Ok(options)
    }

    pub(super) async fn after_connect(conn: &mut sqlx::PgConnection) -> Result<(), sqlx::Error> {
        if conn.server_version_num().unwrap_or(0) >= 140_000 {
            conn.execute(AssertSqlSafe(format!(
                "SET client_connection_check_interval = {PG_CLIENT_CHECK_MS}"
            )))
            .await?;
        }
        Ok(())
    }

    /// A null whose type the server infers from where it is used.
    struct UntypedNull;

    impl Type<Postgres> for UntypedNull {
        fn type_info() -> PgTypeInfo {
            PgTypeInfo::with_oid(Oid(0))
        }
    }

    impl Encode<'_, Postgres> for UntypedNull {
        fn encode_by_ref(&self, _: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
            Ok(IsNull::Yes)
        }
    }

    pub(super) fn bind<'q>(
        query: Query<'q, Postgres, PgArguments>,
        value: &SqlValue,
    ) -> Query<'q, Postgres, PgArguments> {
        match value {
            SqlValue::Null => query.bind(UntypedNull),
            SqlValue::Bool(b) => query.bind(*b),
            SqlValue::Int(i) => query.bind(*i),
            SqlValue::Float(f) => query.bind(*f),
            SqlValue::Text(s) => query.bind(s.clone()),
            SqlValue::Bytes(b) => query.bind(b.clone()),
        }
    }

    pub(super) fn exec_result(done: &PgQueryResult) -> ExecResult {
        ExecResult {
            rows_affected: done.rows_affected(),
            last_insert_id: None,
        }
    }

    pub(super) fn value(row: &PgRow, i: usize) -> Result<SqlValue, OutconnError> {
        let raw = row.try_get_raw(i).map_err(database)?;
        if raw.is_null() {
            return Ok(SqlValue::Null);
        }
        let info = raw.type_info().into_owned();
        let column = || row.columns()[i].name().to_owned();
        let bad = |e: BoxDynError| {
            OutconnError::Remote(format!("could not read column `{}`: {e}", column()))
        };
        macro_rules! get {
            ($t:ty) => {
                <$t as Decode<Postgres>>::decode(raw).map_err(bad)?
            };
        }
        Ok(match info.name() {
            "BOOL" => SqlValue::Bool(get!(bool)),
            "INT2" => SqlValue::Int(get!(i16).into()),
            "INT4" => SqlValue::Int(get!(i32).into()),
            "INT8" => SqlValue::Int(get!(i64)),
            "OID" => SqlValue::Int(get!(Oid).0.into()),
            "FLOAT4" => SqlValue::Float(get!(f32).into()),
            "FLOAT8" => SqlValue::Float(get!(f64)),
            "TEXT" | "VARCHAR" | "BPCHAR" | "NAME" | "CITEXT" | "UNKNOWN" | "XML" => {
                SqlValue::Text(get!(String))
            }
            "BYTEA" => SqlValue::Bytes(get!(Vec<u8>)),
            "TIMESTAMP" => SqlValue::Text(
                get!(chrono::NaiveDateTime)
                    .format("%Y-%m-%dT%H:%M:%S%.f")
                    .to_string(),
            ),
            "TIMESTAMPTZ" => SqlValue::Text(
                get!(chrono::DateTime<chrono::Utc>)
                    .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
            ),
            "DATE" => SqlValue::Text(get!(chrono::NaiveDate).to_string()),
            "TIME" => SqlValue::Text(get!(chrono::NaiveTime).to_string()),
            "UUID" => SqlValue::Text(get!(uuid::Uuid).to_string()),
            "JSON" | "JSONB" => SqlValue::Text(get!(serde_json::Value).to_string()),
            "NUMERIC" => {
                SqlValue::Text(numeric(raw.as_bytes().map_err(bad)?).map_err(|e| bad(e.into()))?)
            }
            "VOID" => SqlValue::Null,
            _ if matches!(info.kind(), PgTypeKind::Enum(_)) => SqlValue::Text(get!(String)),
            other => {
                return Err(OutconnError::Remote(format!(
                    "column `{}` is of the PostgreSQL type {other}, which is not carried: cast it \
                     in the query, e.g. `{}::text`",
                    column(),
                    column()
                )));
            }
        })
    }

    /// The text of a NUMERIC in PostgreSQL's binary format: a header (digit count,
    /// weight of the first digit, sign, display scale) and base-10,000 digits.
    pub(super) fn numeric(buf: &[u8]) -> Result<String, String> {
        let word = |i: usize| -> Result<u16, String> {
            buf.get(i * 2..i * 2 + 2)
                .map(|b| u16::from_be_bytes([b[0], b[1]]))
                .ok_or_else(|| "a truncated NUMERIC".to_owned())
        };
        let ndigits = word(0)? as usize;
        let weight = word(1)? as i16 as i64;
        let sign = word(2)?;
        let dscale = word(3)? as usize;
        match sign {
            0x0000 | 0x4000 => {}
            0xC000 => return Ok("NaN".into()),
            0xD000 => return Ok("Infinity".into()),
            0xF000 => return Ok("-Infinity".into()),
            other => return Err(format!("a NUMERIC with the unknown sign {other:#x}")),
        }
        let digits = (0..ndigits)
            .map(|i| word(4 + i))
            .collect::<Result<Vec<u16>, String>>()?;
        let digit = |g: i64| -> u16 {
            if g < 0 {
                0
            } else {
                digits.get(g as usize).copied().unwrap_or(0)
            }
        };
        let mut out = String::new();
        if sign == 0x4000 {
            out.push('-');
        }
        if weight < 0 {
            out.push('0');
        } else {
            for g in 0..=weight {
                if g == 0 {
                    let _ = write!(out, "{}", digit(g));
                } else {
                    let _ = write!(out, "{:04}", digit(g));
                }
            }
        }
        if dscale > 0 {
            let mut fraction = String::new();
            let groups = dscale.div_ceil(4) as i64;
            for k in 0..groups {
                let _ = write!(fraction, "{:04}", digit(weight + 1 + k));
            }
            fraction.truncate(dscale);
            out.push('.');
            out.push_str(&fraction);
        }
        Ok(out)
    }
}

/// MySQL and MariaDB: parameters as the driver types them, and each column read
/// according to its type (decimals as text, as the server sends them).
mod my {
    use sqlx::error::BoxDynError;
    use sqlx::mysql::{MySql, MySqlArguments, MySqlConnectOptions, MySqlQueryResult, MySqlRow};
    use sqlx::query::Query;
    use sqlx::{Decode, Executor as _, Row as _, TypeInfo as _, ValueRef as _};

    use super::*;

    pub(super) fn options(url: &str, secret: Option<&str>) -> Result<MySqlConnectOptions, String> {
        let mut options =
            MySqlConnectOptions::from_str(url).map_err(|e| format!("invalid MySQL URL: {e}"))?;
        if let Some(secret) = secret {
            options = options.password(secret);
        }
        Ok(options)
    }

    /// The server's own bound on a statement, the connection's timeout: MariaDB's
    /// `max_statement_time` (any statement), else MySQL's `max_execution_time` (a
    /// `SELECT`). Neither known, no bound: the call's own timeout still holds.
    pub(super) async fn after_connect(
        conn: &mut sqlx::MySqlConnection,
        timeout: Duration,
    ) -> Result<(), sqlx::Error> {
        let mariadb = format!(
            "SET SESSION max_statement_time = {:.3}",
            timeout.as_secs_f64()
        );
        if conn.execute(AssertSqlSafe(mariadb)).await.is_err() {
            let mysql = format!("SET SESSION max_execution_time = {}", timeout.as_millis());
            let _ = conn.execute(AssertSqlSafe(mysql)).await;
        }
        Ok(())
    }

    pub(super) fn bind<'q>(
        query: Query<'q, MySql, MySqlArguments>,
        value: &SqlValue,
    ) -> Query<'q, MySql, MySqlArguments> {
        match value {
            SqlValue::Null => query.bind(None::<String>),
            SqlValue::Bool(b) => query.bind(*b),
            SqlValue::Int(i) => query.bind(*i),
            SqlValue::Float(f) => query.bind(*f),
            SqlValue::Text(s) => query.bind(s.clone()),
            SqlValue::Bytes(b) => query.bind(b.clone()),
        }
    }

    pub(super) fn exec_result(done: &MySqlQueryResult) -> ExecResult {
        ExecResult {
            rows_affected: done.rows_affected(),
            last_insert_id: match done.last_insert_id() {
                0 => None,
                id => i64::try_from(id).ok(),
            },
        }
    }

    pub(super) fn value(row: &MySqlRow, i: usize) -> Result<SqlValue, OutconnError> {
        let raw = row.try_get_raw(i).map_err(database)?;
        if raw.is_null() {
            return Ok(SqlValue::Null);
        }
        let info = raw.type_info().into_owned();
        let column = || row.columns()[i].name().to_owned();
        let bad = |e: BoxDynError| {
            OutconnError::Remote(format!("could not read column `{}`: {e}", column()))
        };
        macro_rules! get {
            ($t:ty) => {
                <$t as Decode<MySql>>::decode(raw).map_err(bad)?
            };
        }
        let name = info.name();
        Ok(match name {
            "BOOLEAN" => SqlValue::Bool(get!(bool)),
            "TINYINT" | "SMALLINT" | "INT" | "MEDIUMINT" | "BIGINT" => SqlValue::Int(get!(i64)),
            "YEAR" => SqlValue::Int(get!(u16).into()),
            _ if name.ends_with(" UNSIGNED") => {
                let n = get!(u64);
                i64::try_from(n).map_or_else(|_| SqlValue::Text(n.to_string()), SqlValue::Int)
            }
            "FLOAT" => SqlValue::Float(get!(f32).into()),
            "DOUBLE" => SqlValue::Float(get!(f64)),
            "DECIMAL" | "CHAR" | "VARCHAR" | "TINYTEXT" | "TEXT" | "MEDIUMTEXT" | "LONGTEXT"
            | "ENUM" | "SET" | "JSON" => SqlValue::Text(get!(String)),
            "BINARY" | "VARBINARY" | "TINYBLOB" | "BLOB" | "MEDIUMBLOB" | "LONGBLOB" | "BIT"
            | "GEOMETRY" => SqlValue::Bytes(get!(Vec<u8>)),
            "NULL" => SqlValue::Null,
            "DATE" => SqlValue::Text(get!(chrono::NaiveDate).to_string()),
            "DATETIME" => SqlValue::Text(
                get!(chrono::NaiveDateTime)
                    .format("%Y-%m-%dT%H:%M:%S%.f")
                    .to_string(),
            ),
            "TIMESTAMP" => SqlValue::Text(
                get!(chrono::DateTime<chrono::Utc>)
                    .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
            ),
            "TIME" => SqlValue::Text(get!(sqlx::mysql::types::MySqlTime).to_string()),
            other => {
                return Err(OutconnError::Remote(format!(
                    "column `{}` is of the MySQL type {other}, which is not carried: cast it in \
                     the query, e.g. `CAST({} AS CHAR)`",
                    column(),
                    column()
                )));
            }
        })
    }
}

/// SQLite: values are typed per value, not per column (an INTEGER column may hold
/// text), so each is read by the type it has.
mod lite {
    use sqlx::error::BoxDynError;
    use sqlx::query::Query;
    use sqlx::sqlite::{
        Sqlite, SqliteArguments, SqliteConnectOptions, SqliteQueryResult, SqliteRow,
    };
    use sqlx::{Decode, Row as _, TypeInfo as _, ValueRef as _};

    use super::*;

    pub(super) fn options(url: &str) -> Result<SqliteConnectOptions, String> {
        SqliteConnectOptions::from_str(url).map_err(|e| format!("invalid SQLite URL: {e}"))
    }

    /// A service reaches the database file its connection names, and no other: with no
    /// database to attach, `ATTACH '/any/path'` and `VACUUM INTO '/any/path'` (which
    /// attaches its target) are refused, so SQL cannot create or read files elsewhere.
    pub(super) async fn after_connect(
        conn: &mut sqlx::SqliteConnection,
    ) -> Result<(), sqlx::Error> {
        let mut handle = conn.lock_handle().await?;
        let db = handle.as_raw_handle();
        // SAFETY: `db` is the live handle of this connection, locked for the call;
        // sqlite3_limit only reads and sets a limit of that handle.
        #[allow(unsafe_code)]
        unsafe {
            libsqlite3_sys::sqlite3_limit(db.as_ptr(), libsqlite3_sys::SQLITE_LIMIT_ATTACHED, 0);
        }
        Ok(())
    }

    pub(super) fn bind<'q>(
        query: Query<'q, Sqlite, SqliteArguments>,
        value: &SqlValue,
    ) -> Query<'q, Sqlite, SqliteArguments> {
        match value {
            SqlValue::Null => query.bind(None::<String>),
            SqlValue::Bool(b) => query.bind(*b),
            SqlValue::Int(i) => query.bind(*i),
            SqlValue::Float(f) => query.bind(*f),
            SqlValue::Text(s) => query.bind(s.clone()),
            SqlValue::Bytes(b) => query.bind(b.clone()),
        }
    }

    pub(super) fn exec_result(done: &SqliteQueryResult) -> ExecResult {
        ExecResult {
            rows_affected: done.rows_affected(),
            last_insert_id: Some(done.last_insert_rowid()),
        }
    }

    pub(super) fn value(row: &SqliteRow, i: usize) -> Result<SqlValue, OutconnError> {
        let raw = row.try_get_raw(i).map_err(database)?;
        if raw.is_null() {
            return Ok(SqlValue::Null);
        }
        let info = raw.type_info().into_owned();
        let column = || row.columns()[i].name().to_owned();
        let bad = |e: BoxDynError| {
            OutconnError::Remote(format!("could not read column `{}`: {e}", column()))
        };
        macro_rules! get {
            ($t:ty) => {
                <$t as Decode<Sqlite>>::decode(raw).map_err(bad)?
            };
        }
        Ok(match info.name() {
            "INTEGER" | "BOOLEAN" => SqlValue::Int(get!(i64)),
            "REAL" => SqlValue::Float(get!(f64)),
            "BLOB" => SqlValue::Bytes(get!(Vec<u8>)),
            "NULL" => SqlValue::Null,
            _ => SqlValue::Text(get!(String)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numeric(header: [u16; 4], digits: &[u16]) -> String {
        let mut buf = Vec::new();
        for w in header.iter().chain(digits) {
            buf.extend_from_slice(&w.to_be_bytes());
        }
        pg::numeric(&buf).unwrap()
    }

    #[test]
    fn a_postgres_numeric_reads_as_its_text() {
        // 12345.6789: digits 1, 2345, 6789; weight 1; scale 4.
        assert_eq!(numeric([3, 1, 0, 4], &[1, 2345, 6789]), "12345.6789");
        // -0.001: digit 10 at weight -1; scale 3.
        assert_eq!(numeric([1, (-1i16) as u16, 0x4000, 3], &[10]), "-0.001");
        assert_eq!(numeric([0, 0, 0, 0], &[]), "0");
        assert_eq!(numeric([0, 0, 0, 2], &[]), "0.00");
        // 100000000: digit 1 at weight 2, trailing zero groups omitted.
        assert_eq!(numeric([1, 2, 0, 0], &[1]), "100000000");
        assert_eq!(numeric([0, 0, 0xC000, 0], &[]), "NaN");
        assert!(pg::numeric(&[0, 1]).is_err());
        assert!(pg::numeric(&[0, 5, 0, 0, 0, 0, 0, 0, 0, 1]).is_err());
    }

    #[test]
    fn the_engine_comes_from_the_url_scheme() {
        assert_eq!(Engine::of("postgres://u@h/db"), Ok(Engine::Postgres));
        assert_eq!(Engine::of("postgresql://u@h/db"), Ok(Engine::Postgres));
        assert_eq!(Engine::of("mysql://root@h/test"), Ok(Engine::MySql));
        assert_eq!(Engine::of("sqlite:///tmp/x.db"), Ok(Engine::Sqlite));
        let err = Engine::of("oracle://h/db").unwrap_err();
        assert!(err.contains("`oracle`"), "{err}");
    }

    fn settings(url: &str) -> SqlSettings {
        SqlSettings {
            url: url.into(),
            pool_size: 0,
            timeout_ms: 0,
            max_rows: 0,
        }
    }

    #[tokio::test]
    async fn a_connection_is_built_without_reaching_its_database() {
        // Nothing listens on port 1: building must not notice.
        let conn =
            SqlConn::new(&settings("postgres://nobody@127.0.0.1:1/none"), Some("pw")).unwrap();
        assert_eq!(conn.engine(), Engine::Postgres);
        assert_eq!(conn.max_rows(), DEFAULT_MAX_ROWS as usize);
        let err = conn
            .query("select 1", &[], Instant::now() + Duration::from_secs(5))
            .await
            .unwrap_err();
        assert!(
            matches!(err, OutconnError::Remote(_) | OutconnError::Timeout(_)),
            "{err:?}"
        );
        assert!(SqlConn::new(&settings("ftp://x"), None).is_err());
    }

    #[tokio::test]
    async fn sqlite_values_round_trip_and_the_row_cap_holds() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/t.db?mode=rwc", dir.path().display());
        let mut s = settings(&url);
        s.max_rows = 2;
        let conn = SqlConn::new(&s, None).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        conn.execute("create table t (a, b, c, d, e)", &[], deadline)
            .await
            .unwrap();
        let params = [
            SqlValue::Null,
            SqlValue::Int(-7),
            SqlValue::Float(1.5),
            SqlValue::Text("x'); drop table t; --".into()),
            SqlValue::Bytes(vec![0, 255]),
        ];
        for _ in 0..3 {
            let done = conn
                .execute("insert into t values (?, ?, ?, ?, ?)", &params, deadline)
                .await
                .unwrap();
            assert_eq!(done.rows_affected, 1);
        }
        let rows = conn.query("select * from t", &[], deadline).await.unwrap();
        assert_eq!(rows.columns, ["a", "b", "c", "d", "e"]);
        assert_eq!(rows.rows.len(), 2);
        assert!(rows.truncated);
        assert_eq!(rows.rows[0], params);
        let empty = conn
            .query("select a, b from t where 0", &[], deadline)
            .await
            .unwrap();
        assert_eq!(empty.columns, ["a", "b"]);
        assert!(!empty.truncated);
        let err = conn
            .transaction(
                &[
                    Statement {
                        sql: "delete from t".into(),
                        params: vec![],
                    },
                    Statement {
                        sql: "insert into nowhere values (1)".into(),
                        params: vec![],
                    },
                ],
                deadline,
            )
            .await
            .unwrap_err();
        assert!(err.to_string().contains("statement 1"), "{err}");
        let rows = conn
            .query("select count(*) from t", &[], deadline)
            .await
            .unwrap();
        assert_eq!(rows.rows, [[SqlValue::Int(3)]]);
        let version = ping(&s, None, deadline).await.unwrap();
        assert!(version.starts_with("SQLite 3."), "{version}");
    }
}
