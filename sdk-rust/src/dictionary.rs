//! The cluster's data dictionary: translations of values between systems, managed by
//! an administrator (`zato dictionary import`, the admin API, the web admin) and read
//! here.
//!
//! ```no_run
//! use zato_sdk::{Error, dictionary};
//!
//! // The CRM's currency code as the accounting system writes it.
//! let code: Option<String> = dictionary::translate("crm", "currency", "USD", "accounting", "currency");
//! // Translations read both ways.
//! let back = dictionary::translate("accounting", "currency", "840", "crm", "currency");
//! // A missing translation as the service's error (400, naming what was missing).
//! let code = dictionary::translate_required("crm", "currency", "USD", "accounting", "currency")?;
//! # Ok::<(), Error>(())
//! ```
//!
//! Each server keeps the whole dictionary in memory, so a translation never waits on a
//! database; a change made on any server reaches the others within moments. Names and
//! values compare exactly, case included.
//!
//! Outside a zato host (in a native unit test) the dictionary is the test thread's
//! own, filled with [`set_native`].

use crate::Error;

/// The value that `value1` of `key1` in `system1` translates to in `key2` of
/// `system2`, or `None` when the dictionary has no such translation.
pub fn translate(
    system1: &str,
    key1: &str,
    value1: &str,
    system2: &str,
    key2: &str,
) -> Option<String> {
    host::translate(system1, key1, value1, system2, key2)
}

/// [`translate`], with a missing translation as [`Error::BadRequest`] naming it, for
/// `?` in a service whose input must be translatable.
///
/// # Errors
///
/// [`Error::BadRequest`] when the dictionary has no such translation.
pub fn translate_required(
    system1: &str,
    key1: &str,
    value1: &str,
    system2: &str,
    key2: &str,
) -> Result<String, Error> {
    translate(system1, key1, value1, system2, key2).ok_or_else(|| {
        Error::BadRequest(format!(
            "no translation of {system1}/{key1}/{value1} into {system2}/{key2}"
        ))
    })
}

/// Natively (tests): adds a translation to this thread's stand-in dictionary, usable
/// both ways, replacing what either value translated to in the other's system and key.
#[cfg(not(target_arch = "wasm32"))]
pub fn set_native(
    system1: &str,
    key1: &str,
    value1: &str,
    system2: &str,
    key2: &str,
    value2: &str,
) {
    host::set(system1, key1, value1, system2, key2, value2);
}

#[cfg(target_arch = "wasm32")]
mod host {
    use crate::bindings::zato::service::dictionary as wit;

    pub(super) fn translate(
        system1: &str,
        key1: &str,
        value1: &str,
        system2: &str,
        key2: &str,
    ) -> Option<String> {
        crate::import(|| wit::translate(system1, key1, value1, system2, key2))
    }
}

/// The native stand-in: this thread's map.
#[cfg(not(target_arch = "wasm32"))]
mod host {
    use std::cell::RefCell;
    use std::collections::HashMap;

    type Map = HashMap<[String; 5], String>;

    thread_local! {
        static DICTIONARY: RefCell<Map> = RefCell::default();
    }

    pub(super) fn translate(
        system1: &str,
        key1: &str,
        value1: &str,
        system2: &str,
        key2: &str,
    ) -> Option<String> {
        let at = [system1, key1, value1, system2, key2].map(str::to_owned);
        DICTIONARY.with_borrow(|map| map.get(&at).cloned())
    }

    pub(super) fn set(
        system1: &str,
        key1: &str,
        value1: &str,
        system2: &str,
        key2: &str,
        value2: &str,
    ) {
        DICTIONARY.with_borrow_mut(|map| {
            for (from, to) in [
                ([system1, key1, value1], [system2, key2, value2]),
                ([system2, key2, value2], [system1, key1, value1]),
            ] {
                let [s1, k1, v1] = from;
                let [s2, k2, v2] = to;
                // What either side translated to before goes, as on a server.
                let old = map.remove(&[s1, k1, v1, s2, k2].map(str::to_owned));
                if let Some(old) = old {
                    map.remove(&[s2, k2, old.as_str(), s1, k1].map(str::to_owned));
                }
                map.insert([s1, k1, v1, s2, k2].map(str::to_owned), v2.to_owned());
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natively_the_dictionary_is_the_thread_s_and_reads_both_ways() {
        assert_eq!(translate("crm", "currency", "USD", "acc", "currency"), None);
        let missing = translate_required("crm", "currency", "USD", "acc", "currency").unwrap_err();
        assert_eq!(missing.status(), 400);
        set_native("crm", "currency", "USD", "acc", "currency", "840");
        assert_eq!(
            translate("crm", "currency", "USD", "acc", "currency").as_deref(),
            Some("840")
        );
        assert_eq!(
            translate("acc", "currency", "840", "crm", "currency").as_deref(),
            Some("USD")
        );
        set_native("crm", "currency", "USD", "acc", "currency", "841");
        assert_eq!(translate("acc", "currency", "840", "crm", "currency"), None);
        assert_eq!(
            translate_required("acc", "currency", "841", "crm", "currency").unwrap(),
            "USD"
        );
    }
}
