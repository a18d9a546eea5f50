//! Deployed services: every version of every service, with its bytes.

use async_trait::async_trait;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::sql::{Dialect, LONGEST_KEY, check_key, check_text, storable};
use super::{OdbError, OdbResult, SqlOdb, now_ms};

/// `VARCHAR(64)`: a hex SHA-256.
const LONGEST_SHA256: usize = 64;
/// Component bytes are stored in chunks of this size (`service_blob`): one statement
/// holds the database for one chunk's write, and stays far below MySQL's default
/// `max_allowed_packet` (16 MiB). Stored chunks are found by count, so changing this
/// needs a migration that rewrites them.
const CHUNK_BYTES: usize = 1 << 20;

/// The latest version of a service (or its deletion).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionRef {
    pub name: String,
    pub version: i64,
    pub sha256: String,
    pub deleted: bool,
}

/// A version as listed by the admin API (without its bytes).
#[derive(Debug, Clone)]
pub struct VersionMeta {
    pub name: String,
    pub version: i64,
    pub sha256: String,
    pub size: i64,
    pub description: String,
    /// The service's `info()`, as JSON.
    pub info: String,
    pub source: String,
    pub deployed_at: i64,
}

/// A version to store: bytes and metadata (or a deletion when `bytes` is `None`).
#[derive(Debug, Clone)]
pub struct NewVersion {
    pub name: String,
    pub sha256: String,
    pub bytes: Option<Vec<u8>>,
    pub description: String,
    pub info: String,
    pub source: String,
    pub deployed_by: String,
}

/// The versions of services. A deletion is a version too, so that the version number
/// fences deploys and deletes alike.
#[async_trait]
pub trait ServiceVersions: Send + Sync {
    /// The latest version of every service ever deployed, deleted ones included.
    async fn latest_versions(&self) -> OdbResult<Vec<VersionRef>>;
    /// The latest version of one service.
    async fn latest_version(&self, name: &str) -> OdbResult<Option<VersionRef>>;
    /// The bytes of one version.
    async fn version_bytes(&self, name: &str, version: i64) -> OdbResult<Option<Vec<u8>>>;
    /// Metadata of the latest live version of every service, sorted by name.
    async fn live_services(&self) -> OdbResult<Vec<VersionMeta>>;
    /// Stores `new` as the next version of its service and returns that version.
    /// Concurrent writers never get the same version: the (name, version) key decides.
    async fn insert_version(&self, new: NewVersion) -> OdbResult<i64>;
    /// Every kept version of one service (deletions included), newest first.
    async fn versions(&self, name: &str) -> OdbResult<Vec<KeptVersion>>;
    /// Removes the versions of `name` older than its newest `keep` ones, except the
    /// latest and any version a registered server runs; returns how many went. Bytes no
    /// kept version uses any more go with them.
    async fn prune_versions(&self, name: &str, keep: usize) -> OdbResult<usize>;
}

/// A version as `zato service versions` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeptVersion {
    pub version: i64,
    pub sha256: String,
    pub size: i64,
    pub deleted: bool,
    pub source: String,
    pub deployed_at: i64,
}

fn version_ref(row: &AnyRow) -> Result<VersionRef, sqlx::Error> {
    Ok(VersionRef {
        name: row.try_get("name")?,
        version: row.try_get("version")?,
        sha256: row.try_get("sha256")?,
        deleted: row.try_get::<i64, _>("deleted")? != 0,
    })
}

fn version_meta(row: &AnyRow) -> Result<VersionMeta, sqlx::Error> {
    Ok(VersionMeta {
        name: row.try_get("name")?,
        version: row.try_get("version")?,
        sha256: row.try_get("sha256")?,
        size: row.try_get("size")?,
        description: row.try_get("description")?,
        info: row.try_get("info")?,
        source: row.try_get("source")?,
        deployed_at: row.try_get("deployed_at")?,
    })
}

#[async_trait]
impl ServiceVersions for SqlOdb {
    async fn latest_versions(&self) -> OdbResult<Vec<VersionRef>> {
        let rows = sqlx::query(self.sql(
            "SELECT v.name, v.version, v.sha256, v.deleted FROM service_version v \
             JOIN (SELECT name, MAX(version) AS version FROM service_version GROUP BY name) m \
             ON v.name = m.name AND v.version = m.version",
        ))
        .fetch_all(&self.pool)
        .await?;
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

    async fn version_bytes(&self, name: &str, version: i64) -> OdbResult<Option<Vec<u8>>> {
        if !storable(name) {
            return Ok(None);
        }
        let row =
            sqlx::query(self.sql(
                "SELECT sha256, bytes, size FROM service_version WHERE name = ? AND version = ?",
            ))
            .bind(name)
            .bind(version)
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let inline: Vec<u8> = row.try_get("bytes")?;
        let size: i64 = row.try_get("size")?;
        if inline.len() as i64 == size {
            return Ok(Some(inline));
        }
        let sha256: String = row.try_get("sha256")?;
        let bytes = self.read_blob(&sha256).await?;
        if bytes.len() as i64 != size {
            return Err(OdbError::Invalid(format!(
                "the stored bytes of `{name}` version {version} are {} bytes, not {size}",
                bytes.len()
            )));
        }
        Ok(Some(bytes))
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
        Ok(rows.iter().map(version_meta).collect::<Result<_, _>>()?)
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
        let size = new.bytes.as_ref().map_or(0, Vec::len);
        if let Some(bytes) = &new.bytes {
            self.write_blob(&new.sha256, bytes).await?;
        }
        let new = &new;
        // Another writer may take the version number read here (or deadlock with this
        // insert): the retry reads the new latest.
        let insert = || async move {
            let latest: Option<i64> = sqlx::query_scalar(
                self.sql("SELECT MAX(version) FROM service_version WHERE name = ?"),
            )
            .bind(&new.name)
            .fetch_one(&self.pool)
            .await?;
            let version = latest.unwrap_or(0) + 1;
            sqlx::query(self.sql(
                "INSERT INTO service_version (name, version, sha256, bytes, deleted, size, description, info, \
                 source, deployed_by, deployed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            ))
            .bind(&new.name)
            .bind(version)
            .bind(&new.sha256)
            // The bytes are in `service_blob`: the row stays small.
            .bind(&[][..])
            .bind(deleted)
            .bind(size as i64)
            .bind(&new.description)
            .bind(&new.info)
            .bind(&new.source)
            .bind(&new.deployed_by)
            .bind(now_ms())
            .execute(&self.pool)
            .await?;
            Ok(version)
        };
        let what = format!("store a new version of `{}`", new.name);
        let version = self.retry(what, insert).await?;
        // Pruning may have taken shared bytes between their check and this row: with
        // the row in, they stay, so put back what is missing.
        if let Some(bytes) = &new.bytes {
            self.write_blob(&new.sha256, bytes).await?;
        }
        Ok(version)
    }

    async fn versions(&self, name: &str) -> OdbResult<Vec<KeptVersion>> {
        if !storable(name) {
            return Ok(Vec::new());
        }
        let rows = sqlx::query(self.sql(
            "SELECT version, sha256, size, deleted, source, deployed_at FROM service_version \
             WHERE name = ? ORDER BY version DESC",
        ))
        .bind(name)
        .fetch_all(&self.pool)
        .await?;
        let kept = |row: &AnyRow| -> Result<KeptVersion, sqlx::Error> {
            Ok(KeptVersion {
                version: row.try_get("version")?,
                sha256: row.try_get("sha256")?,
                size: row.try_get("size")?,
                deleted: row.try_get::<i64, _>("deleted")? != 0,
                source: row.try_get("source")?,
                deployed_at: row.try_get("deployed_at")?,
            })
        };
        Ok(rows.iter().map(kept).collect::<Result<_, _>>()?)
    }

    async fn prune_versions(&self, name: &str, keep: usize) -> OdbResult<usize> {
        let versions = self.versions(name).await?;
        let running: Vec<i64> =
            sqlx::query_scalar(self.sql("SELECT version FROM server_service WHERE service = ?"))
                .bind(name)
                .fetch_all(&self.pool)
                .await?;
        // Newest first: the first `keep` stay, and so do the latest (even with keep 0)
        // and whatever a server runs.
        let doomed: Vec<&KeptVersion> = versions
            .iter()
            .skip(keep.max(1))
            .filter(|v| !running.contains(&v.version))
            .collect();
        for version in &doomed {
            sqlx::query(self.sql("DELETE FROM service_version WHERE name = ? AND version = ?"))
                .bind(name)
                .bind(version.version)
                .execute(&self.pool)
                .await?;
        }
        let mut orphans: Vec<&str> = doomed
            .iter()
            .filter(|v| !v.deleted)
            .map(|v| v.sha256.as_str())
            .collect();
        orphans.sort_unstable();
        orphans.dedup();
        for sha256 in orphans {
            self.drop_blob_if_unused(sha256).await?;
        }
        Ok(doomed.len())
    }
}

impl SqlOdb {
    /// Stores `bytes` under `sha256` in chunks, each in a statement of its own, unless
    /// they are stored already (the same bytes, deployed again or under another name).
    async fn write_blob(&self, sha256: &str, bytes: &[u8]) -> OdbResult<()> {
        // Content-addressed: chunks under this sha256 are these bytes' chunks, so all of
        // them there means nothing to write (a writer that died midway left fewer).
        let chunks = bytes.len().div_ceil(CHUNK_BYTES) as i64;
        let stored: i64 =
            sqlx::query_scalar(self.sql("SELECT COUNT(*) FROM service_blob WHERE sha256 = ?"))
                .bind(sha256)
                .fetch_one(&self.pool)
                .await?;
        if stored == chunks {
            return Ok(());
        }
        // Two writers of the same bytes write the same chunks: the second one's are
        // skipped, whoever comes first.
        let insert = match self.dialect {
            Dialect::Sqlite => {
                "INSERT OR IGNORE INTO service_blob (sha256, seq, data) VALUES (?, ?, ?)"
            }
            Dialect::Postgres => {
                "INSERT INTO service_blob (sha256, seq, data) VALUES (?, ?, ?) ON CONFLICT DO NOTHING"
            }
            Dialect::MySql => {
                "INSERT IGNORE INTO service_blob (sha256, seq, data) VALUES (?, ?, ?)"
            }
        };
        for (seq, chunk) in bytes.chunks(CHUNK_BYTES).enumerate() {
            // One chunk per turn: a heartbeat waits for one chunk at most.
            let _turn = self.write_turn().await;
            sqlx::query(self.sql(insert))
                .bind(sha256)
                .bind(seq as i64)
                .bind(chunk)
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }

    /// Removes the bytes stored under `sha256` when no version uses them any more, in
    /// one statement. A deploy of the same bytes at the same moment checks its chunks
    /// again once its row is in (`insert_version`), and writes back what went.
    async fn drop_blob_if_unused(&self, sha256: &str) -> OdbResult<()> {
        sqlx::query(self.sql(
            "DELETE FROM service_blob WHERE sha256 = ? \
             AND NOT EXISTS (SELECT 1 FROM service_version WHERE sha256 = ?)",
        ))
        .bind(sha256)
        .bind(sha256)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The bytes stored under `sha256`, chunk after chunk.
    async fn read_blob(&self, sha256: &str) -> OdbResult<Vec<u8>> {
        let chunks: Vec<Vec<u8>> = sqlx::query_scalar(
            self.sql("SELECT data FROM service_blob WHERE sha256 = ? ORDER BY seq"),
        )
        .bind(sha256)
        .fetch_all(&self.pool)
        .await?;
        Ok(chunks.concat())
    }
}
