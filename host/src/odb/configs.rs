//! Service configuration: the keys and values the `config` import reads.

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use sqlx::Row;

use super::sql::{LONGEST_KEY, check_key, check_text};
use super::{OdbResult, SqlOdb};

/// Each service's configuration, replaced whole by the admin API.
#[async_trait]
pub trait ServiceConfigs: Send + Sync {
    /// Service name -> its configuration, for every service that has one.
    async fn service_configs(&self) -> OdbResult<HashMap<String, BTreeMap<String, String>>>;
    /// Replaces one service's whole configuration.
    async fn set_service_config(
        &self,
        service: &str,
        config: &BTreeMap<String, String>,
    ) -> OdbResult<()>;
}

#[async_trait]
impl ServiceConfigs for SqlOdb {
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
}
