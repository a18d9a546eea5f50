//! Cluster membership: the servers that registered, and the version of each service
//! each of them runs (what `zato deploy` waits for).

use async_trait::async_trait;
use sqlx::Row;

use super::sql::{LONGEST_KEY, check_key, check_text, storable};
use super::{OdbResult, SqlOdb, now_ms};

/// A registered server.
#[derive(Debug, Clone)]
pub struct ServerRow {
    pub name: String,
    pub address: String,
    pub state: String,
    pub pid: i64,
    pub started_at: i64,
    pub last_seen: i64,
}

/// The servers of the cluster and what they run. A stopped server runs nothing.
#[async_trait]
pub trait Membership: Send + Sync {
    /// Registers (or re-registers) a server as running, with no versions.
    async fn register_server(&self, name: &str, address: &str, pid: i64) -> OdbResult<()>;
    /// Keeps a server's `last_seen` fresh.
    async fn touch_server(&self, name: &str) -> OdbResult<()>;
    /// Marks a server as stopped (a clean shutdown).
    async fn deregister_server(&self, name: &str) -> OdbResult<()>;
    /// Every server that ever registered, sorted by name.
    async fn servers(&self) -> OdbResult<Vec<ServerRow>>;
    /// Records the version of `service` that `server` runs (None: not any more).
    async fn set_running_version(
        &self,
        server: &str,
        service: &str,
        version: Option<i64>,
    ) -> OdbResult<()>;
    /// (server, service) -> version for every server.
    async fn running_versions(&self) -> OdbResult<Vec<(String, String, i64)>>;
}

#[async_trait]
impl Membership for SqlOdb {
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
        let _turn = self.write_turn().await;
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
