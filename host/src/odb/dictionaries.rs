//! Data dictionaries: entries (a value of a key in a system) and translations between
//! two entries, usable both ways.
//!
//! Tables `dict_entry` and `dict_translation` (`migrations/*/0007_dictionary.sql`). An
//! entry's id is the SHA-256 of its system, key and value ([`entry_id`]), so that
//! every writer names an entry alike without a sequence (and without the long
//! three-column key MySQL could not index with the translations'); a translation is
//! one row of its two ids in ascending order.
//!
//! *Invariants*: an entry has at most one translation into each other (system, key),
//! so a translation answers one value: a write replaces the translations it conflicts
//! with, in the same transaction. An import is one transaction: all of it is stored or
//! none. Every name and value is checked (`zato_api::dictionary`'s rules) before any
//! SQL runs, so every backend accepts and refuses alike.

use std::collections::HashMap;

use async_trait::async_trait;
use sha2::{Digest, Sha256};
use sqlx::Row;

use super::{OdbError, OdbResult, SqlOdb};
use crate::api::dictionary::{check_entry, check_name, check_translation, check_value};
use crate::api::{DictDeleted, DictEntry, DictTranslation, Dictionary};

/// The data dictionary.
#[async_trait]
pub trait Dictionaries: Send + Sync {
    /// Every entry, by system, key and value, and every translation, each once, its
    /// first entry the one that sorts first.
    async fn dictionary(&self) -> OdbResult<Dictionary>;
    /// Stores `dict` in one transaction: its entries (those of its translations too)
    /// are added, and each translation replaces those its entries had into the other's
    /// (system, key). With `replace`, the stored dictionary is emptied first, so that
    /// it becomes `dict`.
    async fn import_dictionary(&self, dict: &Dictionary, replace: bool) -> OdbResult<()>;
    /// Removes the translation of `from` into (`system2`, `key2`); the entries stay.
    async fn delete_translation(
        &self,
        from: &DictEntry,
        system2: &str,
        key2: &str,
    ) -> OdbResult<DictDeleted>;
    /// Removes the entries of `system` (of its `key`; of that `value`, which needs the
    /// key) and their translations.
    async fn delete_entries(
        &self,
        system: &str,
        key: Option<&str>,
        value: Option<&str>,
    ) -> OdbResult<DictDeleted>;
}

/// The id of an entry: SHA-256 (hex) of its parts, each but the last prefixed with its
/// length in bytes, so that no two entries share the text hashed.
pub fn entry_id(system: &str, key: &str, value: &str) -> String {
    let mut hash = Sha256::new();
    hash.update(format!("{}:{system}{}:{key}", system.len(), key.len()));
    hash.update(value);
    hex(&hash.finalize())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn invalid(message: String) -> OdbError {
    OdbError::Invalid(message)
}

/// The translations of an entry into (system, key): with the entry's id and the other
/// pair bound twice (`?` 1-3 and 4-6).
const CONFLICTING: &str = "DELETE FROM dict_translation WHERE \
     (entry1 = ? AND entry2 IN (SELECT id FROM dict_entry WHERE dict_system = ? AND entry_key = ?)) \
     OR (entry2 = ? AND entry1 IN (SELECT id FROM dict_entry WHERE dict_system = ? AND entry_key = ?))";

/// The statements of a delete of entries and their translations, over the entries
/// that `$cond` names (by system; system and key; or all three).
macro_rules! delete_of {
    ($cond:literal) => {
        (
            concat!(
                "DELETE FROM dict_translation WHERE entry1 IN (SELECT id FROM dict_entry WHERE ",
                $cond,
                ") OR entry2 IN (SELECT id FROM dict_entry WHERE ",
                $cond,
                ")"
            ),
            concat!("DELETE FROM dict_entry WHERE ", $cond),
        )
    };
}

/// Index: how many of (system, key, value) name the entries, less one.
const DELETES: [(&str, &str); 3] = [
    delete_of!("dict_system = ?"),
    delete_of!("dict_system = ? AND entry_key = ?"),
    delete_of!("dict_system = ? AND entry_key = ? AND entry_value = ?"),
];

#[async_trait]
impl Dictionaries for SqlOdb {
    async fn dictionary(&self) -> OdbResult<Dictionary> {
        let rows =
            sqlx::query(self.sql("SELECT id, dict_system, entry_key, entry_value FROM dict_entry"))
                .fetch_all(&self.pool)
                .await?;
        let mut entries = HashMap::with_capacity(rows.len());
        for row in rows {
            let entry = DictEntry {
                system: row.try_get("dict_system")?,
                key: row.try_get("entry_key")?,
                value: row.try_get("entry_value")?,
            };
            entries.insert(row.try_get::<String, _>("id")?, entry);
        }
        let rows = sqlx::query(self.sql("SELECT entry1, entry2 FROM dict_translation"))
            .fetch_all(&self.pool)
            .await?;
        let mut translations = Vec::with_capacity(rows.len());
        for row in rows {
            let (one, two): (String, String) = (row.try_get("entry1")?, row.try_get("entry2")?);
            // A translation always names two stored entries: a delete removes an
            // entry's translations with it, in one transaction.
            let (Some(one), Some(two)) = (entries.get(&one), entries.get(&two)) else {
                continue;
            };
            let (first, second) = if one <= two { (one, two) } else { (two, one) };
            translations.push(DictTranslation {
                system1: first.system.clone(),
                key1: first.key.clone(),
                value1: first.value.clone(),
                system2: second.system.clone(),
                key2: second.key.clone(),
                value2: second.value.clone(),
            });
        }
        let mut entries: Vec<DictEntry> = entries.into_values().collect();
        entries.sort();
        translations.sort();
        Ok(Dictionary {
            entries,
            translations,
        })
    }

    async fn import_dictionary(&self, dict: &Dictionary, replace: bool) -> OdbResult<()> {
        for (i, entry) in dict.entries.iter().enumerate() {
            check_entry(&format!("entry {}", i + 1), entry).map_err(invalid)?;
        }
        for (i, t) in dict.translations.iter().enumerate() {
            check_translation(&format!("translation {}", i + 1), t).map_err(invalid)?;
        }
        // Each entry once, with its id.
        let mut entries: Vec<(String, &str, &str, &str)> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let named = dict.entries.iter().map(|e| (&e.system, &e.key, &e.value));
        let of_translations = dict.translations.iter().flat_map(|t| {
            [
                (&t.system1, &t.key1, &t.value1),
                (&t.system2, &t.key2, &t.value2),
            ]
        });
        for (system, key, value) in named.chain(of_translations) {
            let id = entry_id(system, key, value);
            if seen.insert(id.clone()) {
                entries.push((id, system, key, value));
            }
        }
        let entries = &entries[..];
        let _turn = self.write_turn().await;
        let import = || async move {
            let mut tx = self.begin().await?;
            if replace {
                sqlx::query(self.sql("DELETE FROM dict_translation"))
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(self.sql("DELETE FROM dict_entry"))
                    .execute(&mut *tx)
                    .await?;
            }
            for (id, system, key, value) in entries {
                let there = sqlx::query(self.sql("SELECT id FROM dict_entry WHERE id = ?"))
                    .bind(id.as_str())
                    .fetch_optional(&mut *tx)
                    .await?;
                if there.is_none() {
                    sqlx::query(self.sql(
                        "INSERT INTO dict_entry (id, dict_system, entry_key, entry_value) \
                         VALUES (?, ?, ?, ?)",
                    ))
                    .bind(id.as_str())
                    .bind(*system)
                    .bind(*key)
                    .bind(*value)
                    .execute(&mut *tx)
                    .await?;
                }
            }
            for t in &dict.translations {
                let one = entry_id(&t.system1, &t.key1, &t.value1);
                let two = entry_id(&t.system2, &t.key2, &t.value2);
                // What each entry translated to in the other's (system, key) goes,
                // this translation itself included: it is inserted again below.
                for (id, system, key) in [(&one, &t.system2, &t.key2), (&two, &t.system1, &t.key1)]
                {
                    sqlx::query(self.sql(CONFLICTING))
                        .bind(id.as_str())
                        .bind(system.as_str())
                        .bind(key.as_str())
                        .bind(id.as_str())
                        .bind(system.as_str())
                        .bind(key.as_str())
                        .execute(&mut *tx)
                        .await?;
                }
                let (low, high) = if one < two {
                    (&one, &two)
                } else {
                    (&two, &one)
                };
                sqlx::query(
                    self.sql("INSERT INTO dict_translation (entry1, entry2) VALUES (?, ?)"),
                )
                .bind(low.as_str())
                .bind(high.as_str())
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await
        };
        self.retry("import the dictionary".into(), import).await
    }

    async fn delete_translation(
        &self,
        from: &DictEntry,
        system2: &str,
        key2: &str,
    ) -> OdbResult<DictDeleted> {
        check_entry("the entry", from).map_err(invalid)?;
        check_name("system2", system2).map_err(invalid)?;
        check_name("key2", key2).map_err(invalid)?;
        let id = entry_id(&from.system, &from.key, &from.value);
        let _turn = self.write_turn().await;
        let done = sqlx::query(self.sql(CONFLICTING))
            .bind(id.as_str())
            .bind(system2)
            .bind(key2)
            .bind(id.as_str())
            .bind(system2)
            .bind(key2)
            .execute(&self.pool)
            .await?;
        Ok(DictDeleted {
            entries: 0,
            translations: done.rows_affected(),
        })
    }

    async fn delete_entries(
        &self,
        system: &str,
        key: Option<&str>,
        value: Option<&str>,
    ) -> OdbResult<DictDeleted> {
        check_name("system", system).map_err(invalid)?;
        let which = match (key, value) {
            (None, None) => 0,
            (Some(key), None) => {
                check_name("key", key).map_err(invalid)?;
                1
            }
            (Some(key), Some(value)) => {
                check_name("key", key).map_err(invalid)?;
                check_value("value", value).map_err(invalid)?;
                2
            }
            (None, Some(_)) => {
                return Err(invalid(
                    "a value names an entry only with its key: give the key too".into(),
                ));
            }
        };
        let parts: Vec<&str> = [Some(system), key, value].into_iter().flatten().collect();
        let parts = &parts[..];
        let _turn = self.write_turn().await;
        let delete = || async move {
            let mut tx = self.begin().await?;
            let (translations, entries) = DELETES[which];
            // The translations' statement names the entries twice.
            let mut statement = sqlx::query(self.sql(translations));
            for part in parts.iter().chain(parts) {
                statement = statement.bind(*part);
            }
            let translations = statement.execute(&mut *tx).await?.rows_affected();
            let mut statement = sqlx::query(self.sql(entries));
            for part in parts {
                statement = statement.bind(*part);
            }
            let entries = statement.execute(&mut *tx).await?.rows_affected();
            tx.commit().await?;
            Ok::<_, sqlx::Error>((entries, translations))
        };
        let (entries, translations) = self
            .retry(format!("delete the entries of system `{system}`"), delete)
            .await?;
        Ok(DictDeleted {
            entries,
            translations,
        })
    }
}
