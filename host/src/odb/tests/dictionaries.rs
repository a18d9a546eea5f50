//! Data dictionaries: imports all or nothing, one translation per entry into each other
//! (system, key), deletes that take an entry's translations with it.

use std::sync::Arc;

use super::TestDb;
use crate::api::{DictDeleted, DictEntry, DictTranslation, Dictionary};
use crate::odb::{Dictionaries, OdbError};

backends!(
    an_import_stores_entries_and_translations_and_replace_empties_first,
    a_translation_replaces_those_it_conflicts_with_in_both_directions,
    a_bad_import_stores_nothing,
    deletes_take_the_translations_of_their_entries,
    names_are_case_sensitive_and_unicode_is_kept,
    concurrent_imports_keep_one_translation_per_pair,
);

fn t(s1: &str, k1: &str, v1: &str, s2: &str, k2: &str, v2: &str) -> DictTranslation {
    DictTranslation {
        system1: s1.into(),
        key1: k1.into(),
        value1: v1.into(),
        system2: s2.into(),
        key2: k2.into(),
        value2: v2.into(),
    }
}

fn e(system: &str, key: &str, value: &str) -> DictEntry {
    DictEntry {
        system: system.into(),
        key: key.into(),
        value: value.into(),
    }
}

fn of(translations: Vec<DictTranslation>) -> Dictionary {
    Dictionary {
        entries: Vec::new(),
        translations,
    }
}

async fn an_import_stores_entries_and_translations_and_replace_empties_first(db: TestDb) {
    let odb = db.odb().await;
    assert_eq!(odb.dictionary().await.unwrap(), Dictionary::default());
    let dict = Dictionary {
        entries: vec![e("crm", "currency", "GBP")],
        // Written the other way round: read back with the entry that sorts first first.
        translations: vec![
            t("crm", "currency", "USD", "accounting", "currency", "840"),
            t("accounting", "currency", "978", "crm", "currency", "EUR"),
        ],
    };
    odb.import_dictionary(&dict, false).await.unwrap();
    let stored = odb.dictionary().await.unwrap();
    assert_eq!(
        stored.entries,
        [
            e("accounting", "currency", "840"),
            e("accounting", "currency", "978"),
            e("crm", "currency", "EUR"),
            e("crm", "currency", "GBP"),
            e("crm", "currency", "USD"),
        ]
    );
    assert_eq!(
        stored.translations,
        [
            t("accounting", "currency", "840", "crm", "currency", "USD"),
            t("accounting", "currency", "978", "crm", "currency", "EUR"),
        ]
    );
    // Importing again changes nothing.
    odb.import_dictionary(&dict, false).await.unwrap();
    assert_eq!(odb.dictionary().await.unwrap(), stored);
    // A merge adds; a replace leaves only what it brought.
    let more = of(vec![t("crm", "country", "US", "erp", "country", "USA")]);
    odb.import_dictionary(&more, false).await.unwrap();
    assert_eq!(odb.dictionary().await.unwrap().translations.len(), 3);
    odb.import_dictionary(&more, true).await.unwrap();
    let replaced = odb.dictionary().await.unwrap();
    assert_eq!(
        replaced.translations,
        [t("crm", "country", "US", "erp", "country", "USA")]
    );
    assert_eq!(replaced.entries.len(), 2);
}

async fn a_translation_replaces_those_it_conflicts_with_in_both_directions(db: TestDb) {
    let odb = db.odb().await;
    let base = of(vec![
        t("crm", "currency", "USD", "accounting", "currency", "840"),
        t("crm", "currency", "USD", "erp", "currency", "dollar"),
    ]);
    odb.import_dictionary(&base, false).await.unwrap();
    // USD now translates to 841 in accounting: 840 keeps its entry, loses its translation.
    odb.import_dictionary(
        &of(vec![t(
            "crm",
            "currency",
            "USD",
            "accounting",
            "currency",
            "841",
        )]),
        false,
    )
    .await
    .unwrap();
    let stored = odb.dictionary().await.unwrap();
    assert_eq!(
        stored.translations,
        [
            t("accounting", "currency", "841", "crm", "currency", "USD"),
            t("crm", "currency", "USD", "erp", "currency", "dollar"),
        ],
        "the erp translation is of another (system, key): it stays"
    );
    assert!(stored.entries.contains(&e("accounting", "currency", "840")));
    // From the other side: 841 now translates to USN; USD loses its accounting value.
    odb.import_dictionary(
        &of(vec![t(
            "accounting",
            "currency",
            "841",
            "crm",
            "currency",
            "USN",
        )]),
        false,
    )
    .await
    .unwrap();
    assert_eq!(
        odb.dictionary().await.unwrap().translations,
        [
            t("accounting", "currency", "841", "crm", "currency", "USN"),
            t("crm", "currency", "USD", "erp", "currency", "dollar"),
        ]
    );
}

async fn a_bad_import_stores_nothing(db: TestDb) {
    let odb = db.odb().await;
    let good = of(vec![t(
        "crm",
        "currency",
        "USD",
        "accounting",
        "currency",
        "840",
    )]);
    odb.import_dictionary(&good, false).await.unwrap();
    let before = odb.dictionary().await.unwrap();
    let too_long = "v".repeat(256);
    let bad_ones = [
        (
            t("crm", "currency", "EUR", "", "currency", "978"),
            "system2 `` is empty",
        ),
        (
            t("crm", "currency", "EUR", "acc", "currency", &too_long),
            "longer than 255",
        ),
        (
            t("crm", "cur\0rency", "EUR", "acc", "currency", "978"),
            "control character",
        ),
        (
            t("crm", "currency", "EUR", "acc", "currency", "978 "),
            "ends with a space",
        ),
        (
            t("crm", "currency", "EUR", "crm", "currency", "978"),
            "two different",
        ),
    ];
    for (bad, expected) in bad_ones {
        // Good translations before it, a replace even: nothing of it is stored.
        let dict = of(vec![
            t("crm", "currency", "JPY", "accounting", "currency", "392"),
            bad,
        ]);
        for replace in [false, true] {
            match odb.import_dictionary(&dict, replace).await {
                Err(OdbError::Invalid(message)) => {
                    assert!(message.contains(expected), "{message}");
                    assert!(message.starts_with("translation 2: "), "{message}");
                }
                other => panic!("expected a refusal naming {expected:?}, got {other:?}"),
            }
            assert_eq!(odb.dictionary().await.unwrap(), before);
        }
    }
}

async fn deletes_take_the_translations_of_their_entries(db: TestDb) {
    let odb = db.odb().await;
    let dict = of(vec![
        t("crm", "currency", "USD", "accounting", "currency", "840"),
        t("crm", "currency", "EUR", "accounting", "currency", "978"),
        t("crm", "country", "US", "accounting", "country", "USA"),
    ]);
    odb.import_dictionary(&dict, false).await.unwrap();
    // One translation: the entries stay.
    let deleted = odb
        .delete_translation(&e("accounting", "currency", "978"), "crm", "currency")
        .await
        .unwrap();
    assert_eq!(
        deleted,
        DictDeleted {
            entries: 0,
            translations: 1
        }
    );
    let stored = odb.dictionary().await.unwrap();
    assert_eq!(stored.translations.len(), 2);
    assert_eq!(stored.entries.len(), 6);
    // One entry, and its translation.
    let deleted = odb
        .delete_entries("crm", Some("currency"), Some("USD"))
        .await
        .unwrap();
    assert_eq!(
        deleted,
        DictDeleted {
            entries: 1,
            translations: 1
        }
    );
    // A key of a system: what the other systems have stays.
    let deleted = odb
        .delete_entries("crm", Some("country"), None)
        .await
        .unwrap();
    assert_eq!(
        deleted,
        DictDeleted {
            entries: 1,
            translations: 1
        }
    );
    let stored = odb.dictionary().await.unwrap();
    assert!(stored.translations.is_empty());
    assert_eq!(
        stored.entries,
        [
            e("accounting", "country", "USA"),
            e("accounting", "currency", "840"),
            e("accounting", "currency", "978"),
            e("crm", "currency", "EUR"),
        ]
    );
    // A whole system; then nothing left of it to delete.
    let deleted = odb.delete_entries("accounting", None, None).await.unwrap();
    assert_eq!(
        deleted,
        DictDeleted {
            entries: 3,
            translations: 0
        }
    );
    assert_eq!(
        odb.delete_entries("accounting", None, None).await.unwrap(),
        DictDeleted::default()
    );
    assert!(matches!(
        odb.delete_entries("crm", None, Some("EUR")).await,
        Err(OdbError::Invalid(_))
    ));
    assert!(matches!(
        odb.delete_entries("", None, None).await,
        Err(OdbError::Invalid(_))
    ));
}

async fn names_are_case_sensitive_and_unicode_is_kept(db: TestDb) {
    let odb = db.odb().await;
    let dict = of(vec![
        t("crm", "city", "Zürich", "erp", "city", "ZRH"),
        t("CRM", "city", "zürich", "erp", "city", "zrh"),
        t("crm", "city", "Łódź", "erp", "city", &"ł".repeat(255)),
    ]);
    odb.import_dictionary(&dict, false).await.unwrap();
    let stored = odb.dictionary().await.unwrap();
    assert_eq!(stored.translations.len(), 3, "{stored:?}");
    assert_eq!(stored.entries.len(), 6);
    for t in &dict.translations {
        assert!(
            stored.translations.contains(t) || stored.translations.contains(&t.reversed()),
            "{t:?} in {stored:?}"
        );
    }
}

/// Two writers setting translations of one entry at once: whichever wins, the entry
/// ends with one translation into the other (system, key).
async fn concurrent_imports_keep_one_translation_per_pair(db: TestDb) {
    let odb = Arc::new(db.odb().await);
    let mut writers = tokio::task::JoinSet::new();
    for n in 0..8 {
        let odb = odb.clone();
        writers.spawn(async move {
            let dict = of(vec![t(
                "crm",
                "currency",
                "USD",
                "acc",
                "currency",
                &format!("84{n}"),
            )]);
            odb.import_dictionary(&dict, false).await.unwrap();
        });
    }
    writers.join_all().await;
    let stored = odb.dictionary().await.unwrap();
    assert_eq!(stored.translations.len(), 1, "{stored:?}");
    assert_eq!(stored.entries.len(), 9);
}
