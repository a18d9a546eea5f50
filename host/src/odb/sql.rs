//! [`Odb`] over sqlx's `Any` driver: SQLite, PostgreSQL or MySQL, chosen by the URL.
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

use std::collections::{BTreeMap, HashMap};
use std::future::Future;

use async_trait::async_trait;
use rand_core::RngCore;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{Any, AnyPool, AssertSqlSafe, Row, Transaction};

use super::{NewVersion, Odb, OdbError, OdbResult, ServerRow, VersionMeta, VersionRef, now_ms};
use crate::api::{DataFormat, HttpChannel};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dialect {
    Sqlite,
    Postgres,
    MySql,
}

pub struct SqlOdb {
    pool: AnyPool,
    dialect: Dialect,
}

/// How many times a version insert, or a transaction, is retried when a concurrent
/// writer got in the way (took the version number, or made the transaction fail).
const RETRIES: usize = 20;

/// The longest name or key, in characters: `VARCHAR(255)` in the PostgreSQL and
/// MySQL schemas, which also keeps two-column keys within MySQL's index limits.
const LONGEST_KEY: usize = 255;
/// The longest HTTP channel path: `VARCHAR(700)`, as long as MySQL can index whole.
const LONGEST_PATH: usize = 700;
/// `VARCHAR(64)`: a hex SHA-256.
const LONGEST_SHA256: usize = 64;

impl SqlOdb {
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
        let odb = Self { pool, dialect };
        if dialect == Dialect::Sqlite {
            // WAL lets readers go on while a deploy writes.
            sqlx::query("PRAGMA journal_mode = WAL")
                .execute(&odb.pool)
                .await?;
        }
        odb.migrate().await?;
        Ok(odb)
    }

    async fn migrate(&self) -> OdbResult<()> {
        let migrator = match self.dialect {
            Dialect::Sqlite => sqlx::migrate!("./migrations/sqlite"),
            Dialect::Postgres => sqlx::migrate!("./migrations/postgres"),
            Dialect::MySql => sqlx::migrate!("./migrations/mysql"),
        };
        migrator.run(&self.pool).await?;
        Ok(())
    }

    /// The statement for this backend: `?` placeholders become `$1, $2, ...` on PostgreSQL.
    fn sql(&self, query: &'static str) -> AssertSqlSafe<String> {
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
    async fn begin(&self) -> Result<Transaction<'static, Any>, sqlx::Error> {
        match self.dialect {
            Dialect::Postgres => {
                self.pool
                    .begin_with("BEGIN ISOLATION LEVEL SERIALIZABLE")
                    .await
            }
            Dialect::Sqlite | Dialect::MySql => self.pool.begin().await,
        }
    }

    /// Runs `transaction` until it is not [`contended`], at most [`RETRIES`] times.
    async fn retry<F, Fut>(&self, what: String, mut transaction: F) -> OdbResult<()>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<(), sqlx::Error>>,
    {
        for attempt in 0..RETRIES {
            match transaction().await {
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
/// with a space, and MySQL would otherwise match `a ` against a stored `a`.
fn storable(key: &str) -> bool {
    !key.ends_with(' ')
}

/// Refuses a key (a name, a path) that some backend would refuse, cut or confuse with
/// another: too long, ending with a space, or with control characters (which MySQL
/// sorts before the spaces it pads with, unlike the other backends).
fn check_key(what: &str, key: &str, longest: usize) -> OdbResult<()> {
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
fn check_text(what: &str, text: &str) -> OdbResult<()> {
    if text.contains('\0') {
        return Err(OdbError::Invalid(format!(
            "{what} contains a NUL character"
        )));
    }
    Ok(())
}

fn version_ref(row: &AnyRow) -> Result<VersionRef, sqlx::Error> {
    Ok(VersionRef {
        name: row.try_get("name")?,
        version: row.try_get("version")?,
        sha256: row.try_get("sha256")?,
        deleted: row.try_get::<i64, _>("deleted")? != 0,
    })
}

const LATEST: &str = "SELECT v.name, v.version, v.sha256, v.deleted FROM service_version v \
     JOIN (SELECT name, MAX(version) AS version FROM service_version GROUP BY name) m \
     ON v.name = m.name AND v.version = m.version";

#[async_trait]
impl Odb for SqlOdb {
    async fn latest_versions(&self) -> OdbResult<Vec<VersionRef>> {
        let rows = sqlx::query(self.sql(LATEST)).fetch_all(&self.pool).await?;
        Ok(rows.iter().map(version_ref).collect::<Result<_, _>>()?)
    }

    async fn latest_version(&self, name: &str) -> OdbResult<Option<VersionRef>> {
        if !storable(name) {
            return Ok(None);
        }
        let row = sqlx::query(self.sql(
            "SELECT name, version, sha256, deleted FROM service_version WHERE name = ? \
             ORDER BY version DESC LIMIT 1",
        ))
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(version_ref).transpose()?)
    }

    async fn find_by_sha256(&self, sha256: &str) -> OdbResult<Option<VersionRef>> {
        if !storable(sha256) {
            return Ok(None);
        }
        let row = sqlx::query(self.sql(
            "SELECT name, version, sha256, deleted FROM service_version WHERE sha256 = ? AND deleted = 0 \
             ORDER BY deployed_at DESC LIMIT 1",
        ))
        .bind(sha256)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(version_ref).transpose()?)
    }

    async fn version_bytes(&self, name: &str, version: i64) -> OdbResult<Option<Vec<u8>>> {
        if !storable(name) {
            return Ok(None);
        }
        let row = sqlx::query(
            self.sql("SELECT bytes FROM service_version WHERE name = ? AND version = ?"),
        )
        .bind(name)
        .bind(version)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| r.try_get("bytes")).transpose()?)
    }

    async fn live_services(&self) -> OdbResult<Vec<VersionMeta>> {
        let rows = sqlx::query(self.sql(
            "SELECT v.name, v.version, v.sha256, v.size, v.description, v.info, v.source, v.deployed_at \
             FROM service_version v \
             JOIN (SELECT name, MAX(version) AS version FROM service_version GROUP BY name) m \
             ON v.name = m.name AND v.version = m.version WHERE v.deleted = 0 ORDER BY v.name",
        ))
        .fetch_all(&self.pool)
        .await?;
        let meta = |r: &AnyRow| -> Result<VersionMeta, sqlx::Error> {
            Ok(VersionMeta {
                name: r.try_get("name")?,
                version: r.try_get("version")?,
                sha256: r.try_get("sha256")?,
                size: r.try_get("size")?,
                description: r.try_get("description")?,
                info: r.try_get("info")?,
                source: r.try_get("source")?,
                deployed_at: r.try_get("deployed_at")?,
            })
        };
        Ok(rows.iter().map(meta).collect::<Result<_, _>>()?)
    }

    async fn insert_version(&self, new: NewVersion) -> OdbResult<i64> {
        check_key("service name", &new.name, LONGEST_KEY)?;
        check_key("sha256", &new.sha256, LONGEST_SHA256)?;
        let of = |field: &str| format!("the {field} of service `{}`", new.name);
        check_text(&of("description"), &new.description)?;
        check_text(&of("info"), &new.info)?;
        check_text(&of("source"), &new.source)?;
        check_text(&of("deployer"), &new.deployed_by)?;
        let deleted = i64::from(new.bytes.is_none());
        let bytes = new.bytes.unwrap_or_default();
        for attempt in 0..RETRIES {
            let latest: Option<i64> = sqlx::query_scalar(
                self.sql("SELECT MAX(version) FROM service_version WHERE name = ?"),
            )
            .bind(&new.name)
            .fetch_one(&self.pool)
            .await?;
            let version = latest.unwrap_or(0) + 1;
            let inserted = sqlx::query(self.sql(
                "INSERT INTO service_version (name, version, sha256, bytes, deleted, size, description, info, \
                 source, deployed_by, deployed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            ))
            .bind(&new.name)
            .bind(version)
            .bind(&new.sha256)
            .bind(bytes.as_slice())
            .bind(deleted)
            .bind(bytes.len() as i64)
            .bind(&new.description)
            .bind(&new.info)
            .bind(&new.source)
            .bind(&new.deployed_by)
            .bind(now_ms())
            .execute(&self.pool)
            .await;
            match inserted {
                Ok(_) => return Ok(version),
                // Another writer took this version number (or deadlocked with this
                // insert): read the new latest and retry.
                Err(e) if contended(&e) => backoff(attempt).await,
                Err(e) => return Err(e.into()),
            }
        }
        Err(OdbError::Conflict(format!(
            "could not store a new version of `{}`: {RETRIES} concurrent writers won in a row",
            new.name
        )))
    }

    async fn service_configs(&self) -> OdbResult<HashMap<String, BTreeMap<String, String>>> {
        let rows =
            sqlx::query(self.sql("SELECT service, config_key, config_value FROM service_config"))
                .fetch_all(&self.pool)
                .await?;
        let mut out: HashMap<String, BTreeMap<String, String>> = HashMap::new();
        for row in rows {
            out.entry(row.try_get("service")?)
                .or_default()
                .insert(row.try_get("config_key")?, row.try_get("config_value")?);
        }
        Ok(out)
    }

    async fn set_service_config(
        &self,
        service: &str,
        config: &BTreeMap<String, String>,
    ) -> OdbResult<()> {
        check_key("service name", service, LONGEST_KEY)?;
        for (key, value) in config {
            check_key("configuration key", key, LONGEST_KEY)?;
            check_text(
                &format!("the value of `{key}` for service `{service}`"),
                value,
            )?;
        }
        let replace = || async move {
            let mut tx = self.begin().await?;
            sqlx::query(self.sql("DELETE FROM service_config WHERE service = ?"))
                .bind(service)
                .execute(&mut *tx)
                .await?;
            for (key, value) in config {
                sqlx::query(self.sql(
                    "INSERT INTO service_config (service, config_key, config_value) VALUES (?, ?, ?)",
                ))
                .bind(service)
                .bind(key)
                .bind(value)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await
        };
        let what = format!("replace the configuration of service `{service}`");
        self.retry(what, replace).await
    }

    async fn http_channels(&self) -> OdbResult<Vec<HttpChannel>> {
        let rows = sqlx::query(self.sql(
            "SELECT name, path, methods, service, data_format, timeout_ms FROM http_channel ORDER BY name",
        ))
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let methods: String = row.try_get("methods")?;
            let format: String = row.try_get("data_format")?;
            out.push(HttpChannel {
                name: row.try_get("name")?,
                path: row.try_get("path")?,
                methods: methods
                    .split(',')
                    .filter(|m| !m.is_empty())
                    .map(str::to_owned)
                    .collect(),
                service: row.try_get("service")?,
                data_format: format.parse::<DataFormat>().map_err(OdbError::Invalid)?,
                timeout_ms: row.try_get::<i64, _>("timeout_ms")?.max(0) as u64,
            });
        }
        Ok(out)
    }

    async fn create_http_channel(&self, channel: &HttpChannel) -> OdbResult<()> {
        check_key("HTTP channel name", &channel.name, LONGEST_KEY)?;
        check_key("HTTP channel path", &channel.path, LONGEST_PATH)?;
        check_key("service name", &channel.service, LONGEST_KEY)?;
        let methods = channel.methods.join(",");
        check_text(
            &format!("the methods of HTTP channel `{}`", channel.name),
            &methods,
        )?;
        let result = sqlx::query(self.sql(
            "INSERT INTO http_channel (name, path, methods, service, data_format, timeout_ms, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        ))
        .bind(&channel.name)
        .bind(&channel.path)
        .bind(methods)
        .bind(&channel.service)
        .bind(channel.data_format.as_str())
        .bind(channel.timeout_ms as i64)
        .bind(now_ms())
        .execute(&self.pool)
        .await;
        match result {
            Ok(_) => Ok(()),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                Err(OdbError::Conflict(format!(
                    "an HTTP channel named `{}` or with path `{}` already exists",
                    channel.name, channel.path
                )))
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn delete_http_channel(&self, name: &str) -> OdbResult<bool> {
        if !storable(name) {
            return Ok(false);
        }
        let done = sqlx::query(self.sql("DELETE FROM http_channel WHERE name = ?"))
            .bind(name)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn register_server(&self, name: &str, address: &str, pid: i64) -> OdbResult<()> {
        check_key("server name", name, LONGEST_KEY)?;
        check_text(&format!("the address of server `{name}`"), address)?;
        let register = || async move {
            let now = now_ms();
            let mut tx = self.begin().await?;
            sqlx::query(self.sql("DELETE FROM server WHERE name = ?"))
                .bind(name)
                .execute(&mut *tx)
                .await?;
            sqlx::query(self.sql("DELETE FROM server_service WHERE server = ?"))
                .bind(name)
                .execute(&mut *tx)
                .await?;
            sqlx::query(self.sql(
                "INSERT INTO server (name, address, state, pid, started_at, last_seen) VALUES (?, ?, 'running', ?, ?, ?)",
            ))
            .bind(name)
            .bind(address)
            .bind(pid)
            .bind(now)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            tx.commit().await
        };
        self.retry(format!("register server `{name}`"), register)
            .await
    }

    async fn touch_server(&self, name: &str) -> OdbResult<()> {
        if !storable(name) {
            return Ok(());
        }
        sqlx::query(self.sql("UPDATE server SET last_seen = ? WHERE name = ?"))
            .bind(now_ms())
            .bind(name)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn deregister_server(&self, name: &str) -> OdbResult<()> {
        if !storable(name) {
            return Ok(());
        }
        sqlx::query(self.sql("UPDATE server SET state = 'stopped', last_seen = ? WHERE name = ?"))
            .bind(now_ms())
            .bind(name)
            .execute(&self.pool)
            .await?;
        sqlx::query(self.sql("DELETE FROM server_service WHERE server = ?"))
            .bind(name)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn servers(&self) -> OdbResult<Vec<ServerRow>> {
        let rows = sqlx::query(self.sql(
            "SELECT name, address, state, pid, started_at, last_seen FROM server ORDER BY name",
        ))
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            out.push(ServerRow {
                name: r.try_get("name")?,
                address: r.try_get("address")?,
                state: r.try_get("state")?,
                pid: r.try_get("pid")?,
                started_at: r.try_get("started_at")?,
                last_seen: r.try_get("last_seen")?,
            });
        }
        Ok(out)
    }

    async fn set_running_version(
        &self,
        server: &str,
        service: &str,
        version: Option<i64>,
    ) -> OdbResult<()> {
        check_key("server name", server, LONGEST_KEY)?;
        check_key("service name", service, LONGEST_KEY)?;
        let set = || async move {
            let mut tx = self.begin().await?;
            sqlx::query(self.sql("DELETE FROM server_service WHERE server = ? AND service = ?"))
                .bind(server)
                .bind(service)
                .execute(&mut *tx)
                .await?;
            if let Some(version) = version {
                sqlx::query(
                    self.sql(
                        "INSERT INTO server_service (server, service, version) VALUES (?, ?, ?)",
                    ),
                )
                .bind(server)
                .bind(service)
                .bind(version)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await
        };
        let what = format!("record the version of `{service}` that `{server}` runs");
        self.retry(what, set).await
    }

    async fn running_versions(&self) -> OdbResult<Vec<(String, String, i64)>> {
        let rows = sqlx::query(self.sql("SELECT server, service, version FROM server_service"))
            .fetch_all(&self.pool)
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            out.push((
                r.try_get("server")?,
                r.try_get("service")?,
                r.try_get("version")?,
            ));
        }
        Ok(out)
    }
}
