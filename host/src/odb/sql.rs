//! [`Odb`] over sqlx's `Any` driver: SQLite, PostgreSQL or MySQL, chosen by the URL.
//!
//! Queries are written once with `?` placeholders and rewritten to `$n` for
//! PostgreSQL; only the types `Any` carries (integers, text, blobs) are used, so the
//! same code runs on every backend. Each backend has its own migrations folder.

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, AssertSqlSafe, Row};

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

/// How many times a version insert is retried when another writer took the number.
const INSERT_RETRIES: usize = 20;

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
        let deleted = i64::from(new.bytes.is_none());
        let bytes = new.bytes.unwrap_or_default();
        for _ in 0..INSERT_RETRIES {
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
                // Another writer took this version number: read the new latest and retry.
                Err(sqlx::Error::Database(e)) if e.is_unique_violation() => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(OdbError::Conflict(format!(
            "could not store a new version of `{}`: {INSERT_RETRIES} concurrent writers won in a row",
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
        let mut tx = self.pool.begin().await?;
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
        tx.commit().await?;
        Ok(())
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
        let result = sqlx::query(self.sql(
            "INSERT INTO http_channel (name, path, methods, service, data_format, timeout_ms, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        ))
        .bind(&channel.name)
        .bind(&channel.path)
        .bind(channel.methods.join(","))
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
        let done = sqlx::query(self.sql("DELETE FROM http_channel WHERE name = ?"))
            .bind(name)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn register_server(&self, name: &str, address: &str, pid: i64) -> OdbResult<()> {
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
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
        tx.commit().await?;
        Ok(())
    }

    async fn touch_server(&self, name: &str) -> OdbResult<()> {
        sqlx::query(self.sql("UPDATE server SET last_seen = ? WHERE name = ?"))
            .bind(now_ms())
            .bind(name)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn deregister_server(&self, name: &str) -> OdbResult<()> {
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
        let mut tx = self.pool.begin().await?;
        sqlx::query(self.sql("DELETE FROM server_service WHERE server = ? AND service = ?"))
            .bind(server)
            .bind(service)
            .execute(&mut *tx)
            .await?;
        if let Some(version) = version {
            sqlx::query(
                self.sql("INSERT INTO server_service (server, service, version) VALUES (?, ?, ?)"),
            )
            .bind(server)
            .bind(service)
            .bind(version)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    async fn odb() -> (tempfile::TempDir, SqlOdb) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/odb.sqlite", dir.path().display());
        (dir, SqlOdb::connect(&url).await.unwrap())
    }

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

    #[tokio::test]
    async fn versions_increase_and_deletion_is_a_version() {
        let (_dir, odb) = odb().await;
        assert_eq!(odb.insert_version(version("a", "aa")).await.unwrap(), 1);
        assert_eq!(odb.insert_version(version("a", "bb")).await.unwrap(), 2);
        assert_eq!(odb.insert_version(version("b", "cc")).await.unwrap(), 1);
        let deletion = NewVersion {
            bytes: None,
            ..version("b", "")
        };
        assert_eq!(odb.insert_version(deletion).await.unwrap(), 2);

        let mut latest = odb.latest_versions().await.unwrap();
        latest.sort_by(|x, y| x.name.cmp(&y.name));
        assert_eq!(
            latest[0],
            VersionRef {
                name: "a".into(),
                version: 2,
                sha256: "bb".into(),
                deleted: false
            }
        );
        assert!(latest[1].deleted && latest[1].version == 2);
        let live: Vec<_> = odb
            .live_services()
            .await
            .unwrap()
            .into_iter()
            .map(|m| m.name)
            .collect();
        assert_eq!(live, ["a"]);
        assert_eq!(odb.version_bytes("a", 1).await.unwrap().unwrap(), [1, 2, 3]);
        assert_eq!(odb.find_by_sha256("bb").await.unwrap().unwrap().version, 2);
    }

    #[tokio::test]
    async fn concurrent_inserts_get_distinct_versions() {
        let (_dir, odb) = odb().await;
        let odb = std::sync::Arc::new(odb);
        let tasks: Vec<_> = (0..10)
            .map(|i| {
                let odb = odb.clone();
                tokio::spawn(async move {
                    odb.insert_version(version("x", &format!("{i}")))
                        .await
                        .unwrap()
                })
            })
            .collect();
        let mut versions = Vec::new();
        for t in tasks {
            versions.push(t.await.unwrap());
        }
        versions.sort();
        assert_eq!(versions, (1..=10).collect::<Vec<i64>>());
    }

    #[tokio::test]
    async fn channels_are_unique_by_name_and_path() {
        let (_dir, odb) = odb().await;
        let ch = HttpChannel {
            name: "c1".into(),
            path: "/a/{id}".into(),
            methods: vec!["GET".into(), "POST".into()],
            service: "s".into(),
            data_format: DataFormat::Json,
            timeout_ms: 0,
        };
        odb.create_http_channel(&ch).await.unwrap();
        let dup_path = HttpChannel {
            name: "c2".into(),
            ..ch.clone()
        };
        assert!(matches!(
            odb.create_http_channel(&dup_path).await,
            Err(OdbError::Conflict(_))
        ));
        assert_eq!(odb.http_channels().await.unwrap(), vec![ch]);
        assert!(odb.delete_http_channel("c1").await.unwrap());
        assert!(!odb.delete_http_channel("c1").await.unwrap());
    }

    #[tokio::test]
    async fn config_is_replaced_whole() {
        let (_dir, odb) = odb().await;
        let mut cfg =
            BTreeMap::from([("a".to_string(), "1".to_string()), ("b".into(), "2".into())]);
        odb.set_service_config("svc", &cfg).await.unwrap();
        cfg.remove("a");
        odb.set_service_config("svc", &cfg).await.unwrap();
        assert_eq!(odb.service_configs().await.unwrap()["svc"], cfg);
    }
}
