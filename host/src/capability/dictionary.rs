//! `zato:service/dictionary`: translations between systems' values, read from the
//! server's copy of the data dictionary (`crate::dictionary`), never from the ODB.
//!
//! Synchronous (see `wit.rs`): a translate is a hash lookup in memory. A guest's
//! arguments are its own strings, already lifted; one longer than anything the
//! dictionary can hold answers `none` without being hashed.

use std::sync::Arc;

use wasmtime::component::{HasData, Linker};

use crate::api::dictionary::{MAX_NAME_CHARS, MAX_VALUE_CHARS};
use crate::dictionary::Table;
use crate::wit::zato::service::dictionary::{self, Host};

/// What the `dictionary` import reaches of a call: the table in force when the import
/// was called.
pub struct DictionaryView {
    /// `None` only while the server shuts down.
    pub table: Option<Arc<Table>>,
}

struct Dictionary;

impl HasData for Dictionary {
    type Data<'a> = DictionaryView;
}

/// Links `dictionary`, building each call's [`DictionaryView`] with `get`.
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> DictionaryView,
) -> wasmtime::Result<()> {
    dictionary::add_to_linker::<T, Dictionary>(linker, get)
}

impl Host for DictionaryView {
    fn translate(
        &mut self,
        system1: String,
        key1: String,
        value1: String,
        system2: String,
        key2: String,
    ) -> wasmtime::Result<Option<String>> {
        // A character is at most 4 bytes: a longer string is no name or value.
        let names = [&system1, &key1, &system2, &key2];
        if names.iter().any(|n| n.len() > MAX_NAME_CHARS * 4) || value1.len() > MAX_VALUE_CHARS * 4
        {
            return Ok(None);
        }
        let Some(table) = &self.table else {
            return Ok(None);
        };
        let lookup = [system1, key1, value1, system2, key2];
        Ok(table.translate(&lookup).map(str::to_owned))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{DictTranslation, Dictionary as Dict};

    #[test]
    fn translate_reads_the_table_both_ways_and_hostile_arguments_find_nothing() {
        let table = Table::of(&Dict {
            entries: Vec::new(),
            translations: vec![DictTranslation {
                system1: "crm".into(),
                key1: "currency".into(),
                value1: "USD".into(),
                system2: "accounting".into(),
                key2: "currency".into(),
                value2: "840".into(),
            }],
        });
        let mut view = DictionaryView {
            table: Some(Arc::new(table)),
        };
        let mut translate = |parts: [&str; 5]| {
            let [a, b, c, d, e] = parts.map(str::to_owned);
            view.translate(a, b, c, d, e).expect("no trap")
        };
        assert_eq!(
            translate(["crm", "currency", "USD", "accounting", "currency"]).as_deref(),
            Some("840")
        );
        assert_eq!(
            translate(["accounting", "currency", "840", "crm", "currency"]).as_deref(),
            Some("USD")
        );
        let huge = "x".repeat(10 * 1024 * 1024);
        assert_eq!(
            translate([&huge, "currency", "USD", "accounting", "currency"]),
            None
        );
        assert_eq!(
            translate(["crm", "currency", &huge, "accounting", "currency"]),
            None
        );
        assert_eq!(translate(["", "", "", "", ""]), None);
        let mut closing = DictionaryView { table: None };
        assert_eq!(
            closing
                .translate(
                    "crm".into(),
                    "currency".into(),
                    "USD".into(),
                    "accounting".into(),
                    "currency".into()
                )
                .unwrap(),
            None
        );
    }
}
