//! Service configuration: replaced whole, never a mix of two replacements.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::TestDb;
use crate::odb::{OdbError, ServiceConfigs};

backends!(
    service_config_is_replaced_whole,
    concurrent_config_replacements_do_not_mix,
    names_are_case_sensitive,
    keys_are_checked_the_same_everywhere,
);

async fn service_config_is_replaced_whole(db: TestDb) {
    let odb = db.odb().await;
    assert!(odb.service_configs().await.unwrap().is_empty());
    let mut cfg = BTreeMap::from([
        ("a".to_string(), "1".to_string()),
        ("b".into(), "2".into()),
        ("empty".into(), String::new()),
        ("pem".into(), "-----BEGIN-----\nzażółć\n".repeat(1000)),
    ]);
    odb.set_service_config("svc", &cfg).await.unwrap();
    let other = BTreeMap::from([("a".to_string(), "other".to_string())]);
    odb.set_service_config("other", &other).await.unwrap();
    cfg.remove("a");
    cfg.insert("c".into(), "3".into());
    odb.set_service_config("svc", &cfg).await.unwrap();
    let configs = odb.service_configs().await.unwrap();
    assert_eq!(configs.len(), 2);
    assert_eq!(configs["svc"], cfg);
    assert_eq!(configs["other"], other);
    // An empty configuration removes the service's entry.
    odb.set_service_config("svc", &BTreeMap::new())
        .await
        .unwrap();
    assert!(!odb.service_configs().await.unwrap().contains_key("svc"));
}

/// Concurrent replacements of one configuration leave exactly one of them, whole.
async fn concurrent_config_replacements_do_not_mix(db: TestDb) {
    let odb = Arc::new(db.odb().await);
    // Disjoint keys: no unique key stops a mix, only the transaction can.
    let configs: Vec<BTreeMap<String, String>> = (0..10)
        .map(|i| {
            BTreeMap::from([
                (format!("only-{i}"), format!("{i}")),
                (format!("also-{i}"), format!("{i}")),
            ])
        })
        .collect();
    for round in 0..3 {
        let barrier = Arc::new(tokio::sync::Barrier::new(configs.len()));
        let tasks: Vec<_> = configs
            .iter()
            .cloned()
            .map(|config| {
                let odb = odb.clone();
                let barrier = barrier.clone();
                tokio::spawn(async move {
                    barrier.wait().await;
                    odb.set_service_config("svc", &config).await
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        let stored = odb.service_configs().await.unwrap().remove("svc").unwrap();
        assert!(
            configs.contains(&stored),
            "round {round}: a mix: {stored:?}"
        );
    }
}

/// Services and keys that differ only in case are different, as on SQLite; MySQL's
/// default collations would have merged them.
async fn names_are_case_sensitive(db: TestDb) {
    let odb = db.odb().await;
    let config = BTreeMap::from([("key".into(), "1".into()), ("KEY".into(), "2".into())]);
    odb.set_service_config("demo", &config).await.unwrap();
    odb.set_service_config("Demo", &BTreeMap::new())
        .await
        .unwrap();
    assert_eq!(odb.service_configs().await.unwrap()["demo"], config);
}

/// Values longer than the schema's key columns, or that only a trailing space tells
/// apart, are refused alike on every backend instead of failing (or, worse, being
/// merged) on some of them.
async fn keys_are_checked_the_same_everywhere(db: TestDb) {
    let odb = db.odb().await;
    // 255 characters of 2 bytes each: limits count characters, and the widest key
    // still fits MySQL's index limits.
    let longest = "é".repeat(255);
    let too_long = "é".repeat(256);
    let config = BTreeMap::from([(longest.clone(), "v".to_string())]);
    odb.set_service_config(&longest, &config).await.unwrap();
    assert_eq!(odb.service_configs().await.unwrap()[&longest], config);
    let bad = BTreeMap::from([(too_long.clone(), "v".to_string())]);
    assert!(matches!(
        odb.set_service_config("svc", &bad).await,
        Err(OdbError::Invalid(_))
    ));
    assert!(matches!(
        odb.set_service_config(&too_long, &config).await,
        Err(OdbError::Invalid(_))
    ));
    let padded = BTreeMap::from([
        ("k".to_string(), "1".to_string()),
        ("k ".into(), "2".into()),
    ]);
    assert!(matches!(
        odb.set_service_config("svc", &padded).await,
        Err(OdbError::Invalid(_))
    ));
    // PostgreSQL cannot store a NUL character in text: no backend takes one.
    let nul = BTreeMap::from([("k".to_string(), "\0".to_string())]);
    assert!(matches!(
        odb.set_service_config("svc", &nul).await,
        Err(OdbError::Invalid(_))
    ));
    // A refused configuration leaves the previous one in place.
    assert!(!odb.service_configs().await.unwrap().contains_key("svc"));
}
