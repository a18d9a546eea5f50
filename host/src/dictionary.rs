//! The server's copy of the data dictionary, what the `dictionary` import reads: every
//! translation, both ways, in one map swapped whole by each reload, so that a
//! `translate` is one hash lookup and never a round trip to the ODB.
//!
//! A change through the admin API reloads it on that server and tells the others
//! (`reload::Kind::Dictionaries`); every server also reloads it at each reconcile, so a
//! lost notice costs a delay, never a divergence. A reload builds the new map aside
//! and swaps it in: a `translate` sees the old dictionary or the new one, never a mix.

use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::api::Dictionary;

/// (system1, key1, value1, system2, key2): what a `translate` names.
pub type Lookup = [String; 5];

/// One dictionary as the server holds it.
#[derive(Debug, Default)]
pub struct Table {
    translations: HashMap<Lookup, String>,
    entries: usize,
}

impl Table {
    /// The table of `dict`, each translation entered both ways.
    pub fn of(dict: &Dictionary) -> Self {
        let mut translations = HashMap::with_capacity(dict.translations.len() * 2);
        for t in &dict.translations {
            translations.insert(
                [
                    t.system1.clone(),
                    t.key1.clone(),
                    t.value1.clone(),
                    t.system2.clone(),
                    t.key2.clone(),
                ],
                t.value2.clone(),
            );
            translations.insert(
                [
                    t.system2.clone(),
                    t.key2.clone(),
                    t.value2.clone(),
                    t.system1.clone(),
                    t.key1.clone(),
                ],
                t.value1.clone(),
            );
        }
        Self {
            translations,
            entries: dict.entries.len(),
        }
    }

    /// The value `lookup`'s entry translates to in its (system2, key2), if any.
    pub fn translate(&self, lookup: &Lookup) -> Option<&str> {
        self.translations.get(lookup).map(String::as_str)
    }

    /// How many translations the table holds (each once, not once per direction).
    pub fn translations(&self) -> usize {
        self.translations.len() / 2
    }

    /// How many entries the dictionary had.
    pub fn entries(&self) -> usize {
        self.entries
    }
}

/// The dictionary in force on this server.
#[derive(Default)]
pub struct Dictionaries {
    table: ArcSwap<Table>,
}

impl Dictionaries {
    /// The table in force now; a call keeps it for as long as it reads.
    pub fn table(&self) -> Arc<Table> {
        self.table.load_full()
    }

    /// Puts `dict` in force.
    pub fn install(&self, dict: &Dictionary) {
        self.table.store(Arc::new(Table::of(dict)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::DictTranslation;

    fn lookup(parts: [&str; 5]) -> Lookup {
        parts.map(str::to_owned)
    }

    #[test]
    fn a_translation_reads_both_ways_and_an_install_replaces_the_whole_table() {
        let dictionaries = Dictionaries::default();
        let usd = ["crm", "currency", "USD", "accounting", "currency"];
        assert_eq!(dictionaries.table().translate(&lookup(usd)), None);
        let dict = Dictionary {
            entries: Vec::new(),
            translations: vec![DictTranslation {
                system1: "crm".into(),
                key1: "currency".into(),
                value1: "USD".into(),
                system2: "accounting".into(),
                key2: "currency".into(),
                value2: "840".into(),
            }],
        };
        dictionaries.install(&dict);
        let before = dictionaries.table();
        assert_eq!(before.translate(&lookup(usd)), Some("840"));
        assert_eq!(
            before.translate(&lookup([
                "accounting",
                "currency",
                "840",
                "crm",
                "currency"
            ])),
            Some("USD")
        );
        // Neither another key, nor the same system, nor a value's case.
        assert_eq!(
            before.translate(&lookup([
                "crm",
                "currency",
                "usd",
                "accounting",
                "currency"
            ])),
            None
        );
        assert_eq!(
            before.translate(&lookup(["crm", "currency", "USD", "accounting", "code"])),
            None
        );
        assert_eq!(before.translations(), 1);
        dictionaries.install(&Dictionary::default());
        assert_eq!(dictionaries.table().translate(&lookup(usd)), None);
        // A reader that held the old table reads it to the end.
        assert_eq!(before.translate(&lookup(usd)), Some("840"));
    }
}
