//! [`SqlOdb`] and what every object kind shares: one connection pool over sqlx's `Any`
//! driver (SQLite, PostgreSQL or MySQL, chosen by the URL), the migrations, the SQL
//! dialect, the checks of values and the retries of contended writes.
//!
//! Queries are written once with `?` placeholders and rewritten to `$n` for
//! PostgreSQL; only the types `Any` carries (integers, text, blobs) are used, so the
//! same code runs on every backend. Each backend has its own migrations folder, with
//! equivalent schemas: keys compare byte by byte everywhere (SQLite's default, "C" on
//! PostgreSQL, utf8mb4_bin on MySQL).
//!
//! What a schema alone cannot make equal is checked here, before any SQL runs, so that
//! every backend accepts and refuses the same values: key lengths (PostgreSQL and
//! MySQL keys are VARCHAR), trailing spaces in keys (MySQL ignores them when it
//! compares) and NUL characters in text (PostgreSQL cannot store them).

use std::future::Future;

use rand_core::RngCore;
use sqlx::any::AnyPoolOptions;
use sqlx::{Any, AnyPool, AssertSqlSafe, Connection, Transaction};

use super::{OdbError, OdbResult};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Dialect {
    Sqlite,
    Postgres,
    MySql,
}

/// The ODB on any SQL backend; each object kind implements its trait for it in its
/// own module.
pub struct SqlOdb {
    pub(super) pool: AnyPool,
    pub(super) dialect: Dialect,
    /// SQLite has one writer at a time, and a writer waiting for the lock polls with
    /// growing sleeps, so a long run of writes (a large component's chunks) starves the
    /// others. Writes that must not wait long (the heartbeat) and the chunks of a large
    /// write take turns here instead, first come, first served.
    write_turns: tokio::sync::Mutex<()>,
}

/// The key of the PostgreSQL advisory lock held while migrating ("zatoodbm").
const MIGRATION_LOCK_KEY: i64 = 0x7a61_746f_6f64_626d;
/// The MySQL lock held while migrating; named locks belong to the whole server, so
/// its name carries the database's (at most 64 characters in all).
const MYSQL_GET_LOCK: &str = "SELECT GET_LOCK(CONCAT('zato.migrate.', DATABASE()), 10)";
const MYSQL_RELEASE_LOCK: &str = "SELECT RELEASE_LOCK(CONCAT('zato.migrate.', DATABASE()))";
/// How long a server that found SQLite busy waits before it asks for the lock again.
const MIGRATION_LOCK_POLL: std::time::Duration = std::time::Duration::from_millis(50);

/// Whether SQLite refused because another connection holds the database (SQLITE_BUSY
/// or SQLITE_LOCKED), which waiting cures.
fn sqlite_locked(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(e) if e.message().contains("locked"))
}

/// How many times a contended write (see [`contended`]) is retried.
const RETRIES: usize = 20;

/// The longest name or key, in characters: `VARCHAR(255)` in the PostgreSQL and
/// MySQL schemas, which also keeps two-column keys within MySQL's index limits.
pub(super) const LONGEST_KEY: usize = 255;

impl SqlOdb {
    /// Closes the pool: connections in use are closed when given back, idle ones at
    /// once. A server that stops calls it last, so that a database with a connection
    /// limit (MariaDB's `max_connections`) gets them back without waiting for the
    /// process to end.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Connects to `url` and runs the migrations of its backend.
    pub async fn connect(url: &str) -> OdbResult<Self> {
        sqlx::any::install_default_drivers();
        let dialect = if url.starts_with("sqlite:") {
            Dialect::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Dialect::Postgres
        } else if url.starts_with("mysql:") || url.starts_with("mariadb:") {
            Dialect::MySql
        } else {
            return Err(OdbError::Invalid(format!(
                "unsupported ODB URL `{url}`: expected sqlite://, postgres:// or mysql://"
            )));
        };
        let url = match dialect {
            Dialect::Sqlite => sqlite_url(url)?,
            Dialect::MySql => url.replacen("mariadb:", "mysql:", 1),
            Dialect::Postgres => url.to_owned(),
        };
        let pool = AnyPoolOptions::new()
            .max_connections(8)
            .connect(&url)
            .await?;
        let odb = Self {
            pool,
            dialect,
            write_turns: tokio::sync::Mutex::new(()),
        };
        if dialect == Dialect::Sqlite {
            // WAL lets readers go on while a deploy writes. Switching to it needs the
            // database to itself, and SQLite answers "locked" at once, without its busy
            // wait, while another server starting at the same moment holds it.
            while let Err(e) = sqlx::query("PRAGMA journal_mode = WAL")
                .execute(&odb.pool)
                .await
            {
                if !sqlite_locked(&e) {
                    return Err(e.into());
                }
                tokio::time::sleep(MIGRATION_LOCK_POLL).await;
            }
        }
        odb.migrate().await?;
        Ok(odb)
    }

    /// Runs the pending migrations, one migrator at a time under a lock the database
    /// itself holds, so that any number of servers can start at once on a new ODB:
    /// SQLite's write lock (`BEGIN IMMEDIATE`, the migrations run inside it), a
    /// PostgreSQL advisory lock, a MySQL named lock. sqlx's own locking is off: it
    /// does nothing on SQLite and ignores the outcome of `GET_LOCK` on MySQL, which
    /// MariaDB refuses for its infinite timeout. A server that waited finds the
    /// migrations applied and has nothing to do.
    async fn migrate(&self) -> OdbResult<()> {
        let mut migrator = match self.dialect {
            Dialect::Sqlite => sqlx::migrate!("./migrations/sqlite"),
            Dialect::Postgres => sqlx::migrate!("./migrations/postgres"),
            Dialect::MySql => sqlx::migrate!("./migrations/mysql"),
        };
        migrator.set_locking(false);
        let mut conn = self.pool.acquire().await?;
        match self.dialect {
            Dialect::Sqlite => {
                let mut tx = loop {
                    match conn.begin_with("BEGIN IMMEDIATE").await {
                        Ok(tx) => break tx,
                        // Busy past sqlx's busy timeout: another server migrates still.
                        Err(e) if sqlite_locked(&e) => {
                            tokio::time::sleep(MIGRATION_LOCK_POLL).await;
                        }
                        Err(e) => return Err(e.into()),
                    }
                };
                migrator.run_direct(None, &mut *tx, false).await?;
                tx.commit().await?;
            }
            Dialect::Postgres => {
                sqlx::query("SELECT pg_advisory_lock($1)")
                    .bind(MIGRATION_LOCK_KEY)
                    .execute(&mut *conn)
                    .await?;
                let outcome = migrator.run_direct(None, &mut *conn, false).await;
                sqlx::query("SELECT pg_advisory_unlock($1)")
                    .bind(MIGRATION_LOCK_KEY)
                    .execute(&mut *conn)
                    .await?;
                outcome?;
            }
            Dialect::MySql => {
                // GET_LOCK answers 1 when it holds the lock, 0 when the wait timed out.
                while sqlx::query_scalar::<_, i64>(MYSQL_GET_LOCK)
                    .fetch_one(&mut *conn)
                    .await?
                    != 1
                {}
                let outcome = migrator.run_direct(None, &mut *conn, false).await;
                sqlx::query(MYSQL_RELEASE_LOCK).execute(&mut *conn).await?;
                outcome?;
            }
        }
        Ok(())
    }

    /// The statement for this backend: `?` placeholders become `$1, $2, ...` on PostgreSQL.
    /// A turn to write, on SQLite (see `write_turns`); other backends lock rows, not
    /// the whole database, and need none.
    pub(super) async fn write_turn(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        match self.dialect {
            Dialect::Sqlite => Some(self.write_turns.lock().await),
            Dialect::Postgres | Dialect::MySql => None,
        }
    }

    pub(super) fn sql(&self, query: &'static str) -> AssertSqlSafe<String> {
        if self.dialect != Dialect::Postgres {
            return AssertSqlSafe(query.to_owned());
        }
        let mut out = String::with_capacity(query.len() + 8);
        let mut n = 0;
        for c in query.chars() {
            if c == '?' {
                n += 1;
                out.push('$');
                out.push_str(&n.to_string());
            } else {
                out.push(c);
            }
        }
        AssertSqlSafe(out)
    }

    /// A transaction whose outcome is as if it ran alone. At PostgreSQL's default
    /// (READ COMMITTED) two replacements of one configuration can interleave into a
    /// mix of both; SERIALIZABLE makes one of them fail instead, and [`Self::retry`]
    /// runs it again. MySQL's DELETE locks the range it empties (concurrent ones may
    /// deadlock, which is retried too) and SQLite has a single writer.
    pub(super) async fn begin(&self) -> Result<Transaction<'static, Any>, sqlx::Error> {
        match self.dialect {
            Dialect::Postgres => {
                self.pool
                    .begin_with("BEGIN ISOLATION LEVEL SERIALIZABLE")
                    .await
            }
            Dialect::Sqlite | Dialect::MySql => self.pool.begin().await,
        }
    }

    /// Runs `write` (a transaction, or statements that a concurrent writer can make
    /// fail, such as an insert under a unique key read just before) until it is not
    /// [`contended`], at most [`RETRIES`] times. `what` completes "could not ..." in
    /// the error when every attempt was.
    pub(super) async fn retry<T, F, Fut>(&self, what: String, mut write: F) -> OdbResult<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, sqlx::Error>>,
    {
        for attempt in 0..RETRIES {
            match write().await {
                Err(e) if contended(&e) => backoff(attempt).await,
                result => return Ok(result?),
            }
        }
        Err(OdbError::Conflict(format!(
            "could not {what}: {RETRIES} concurrent writers won in a row"
        )))
    }
}

/// Whether `e` only means that a concurrent writer got in the way, so that the same
/// statement or transaction can run again: a unique key taken meanwhile, a
/// serialization failure (SQLSTATE 40001, which is also how MySQL reports a
/// deadlock) or a PostgreSQL deadlock (40P01).
fn contended(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(e) => {
            e.is_unique_violation() || matches!(e.code().as_deref(), Some("40001" | "40P01"))
        }
        _ => false,
    }
}

/// Waits a random while, longer after each failed attempt: writers that deadlocked
/// and retried at once would meet again, and on MySQL they were seen to do so for
/// twenty attempts in a row.
async fn backoff(attempt: usize) {
    let ceiling_ms = 1u32 << attempt.min(6);
    let ms = rand_core::OsRng.next_u32() % ceiling_ms;
    tokio::time::sleep(std::time::Duration::from_millis(u64::from(ms))).await;
}

fn sqlite_url(url: &str) -> OdbResult<String> {
    let path = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let file = path.split('?').next().unwrap_or(path);
    if !file.is_empty()
        && !file.starts_with(':')
        && let Some(dir) = std::path::Path::new(file).parent()
    {
        std::fs::create_dir_all(dir).map_err(|e| {
            OdbError::Invalid(format!(
                "cannot create ODB directory `{}`: {e}",
                dir.display()
            ))
        })?;
    }
    Ok(if url.contains('?') {
        url.to_owned()
    } else {
        format!("{url}?mode=rwc")
    })
}

/// Whether a lookup by `key` can find anything: [`check_key`] refuses keys that end
/// with a space, and MySQL would otherwise match `a ` against a stored `a`. A lookup
/// by a key that is not storable returns "not found" without asking the database.
pub(super) fn storable(key: &str) -> bool {
    !key.ends_with(' ')
}

/// Refuses a key (a name, a path) that some backend would refuse, cut or confuse with
/// another: too long, ending with a space, or with control characters (which MySQL
/// sorts before the spaces it pads with, unlike the other backends).
pub(super) fn check_key(what: &str, key: &str, longest: usize) -> OdbResult<()> {
    let problem = if key.chars().count() > longest {
        format!("is longer than {longest} characters")
    } else if !storable(key) {
        "ends with a space".to_owned()
    } else if key.chars().any(char::is_control) {
        "contains a control character".to_owned()
    } else {
        return Ok(());
    };
    Err(OdbError::Invalid(format!(
        "{what} `{}` {problem}",
        key.escape_debug()
    )))
}

/// Refuses text PostgreSQL cannot store (a NUL character) on every backend alike.
pub(super) fn check_text(what: &str, text: &str) -> OdbResult<()> {
    if text.contains('\0') {
        return Err(OdbError::Invalid(format!(
            "{what} contains a NUL character"
        )));
    }
    Ok(())
}
