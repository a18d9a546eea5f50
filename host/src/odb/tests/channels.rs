//! HTTP channels: unique by name and by path.

use super::TestDb;
use crate::api::{DataFormat, HttpChannel};
use crate::odb::{HttpChannels, OdbError};

backends!(
    channels_are_unique_by_name_and_by_path,
    names_are_case_sensitive,
    keys_are_checked_the_same_everywhere,
    lookups_match_keys_exactly,
    a_channel_is_updated_in_place_and_keeps_its_name,
    names_no_channel_can_have_are_found_nowhere,
);

pub(super) fn channel(name: &str, path: &str) -> HttpChannel {
    HttpChannel {
        name: name.into(),
        path: path.into(),
        methods: vec!["GET".into(), "POST".into()],
        service: "svc".into(),
        data_format: DataFormat::Json,
        timeout_ms: 0,
        security: None,
    }
}

async fn channels_are_unique_by_name_and_by_path(db: TestDb) {
    let odb = db.odb().await;
    assert!(odb.http_channels().await.unwrap().is_empty());
    let c1 = channel("c1", "/a/{id}");
    odb.create_http_channel(&c1).await.unwrap();
    let same_path = channel("c2", "/a/{id}");
    assert!(matches!(
        odb.create_http_channel(&same_path).await,
        Err(OdbError::Conflict(_))
    ));
    let same_name = channel("c1", "/b");
    assert!(matches!(
        odb.create_http_channel(&same_name).await,
        Err(OdbError::Conflict(_))
    ));
    let c0 = HttpChannel {
        methods: Vec::new(),
        data_format: DataFormat::Raw,
        timeout_ms: 2_500,
        ..channel("c0", "/b")
    };
    odb.create_http_channel(&c0).await.unwrap();
    assert_eq!(odb.http_channels().await.unwrap(), [c0, c1.clone()]);

    assert!(odb.delete_http_channel("c0").await.unwrap());
    assert!(!odb.delete_http_channel("c0").await.unwrap());
    assert_eq!(odb.http_channels().await.unwrap(), [c1]);
    // A deleted channel's path is free again.
    assert!(odb.delete_http_channel("c1").await.unwrap());
    odb.create_http_channel(&same_path).await.unwrap();
    assert_eq!(odb.http_channels().await.unwrap(), [same_path]);
}

/// Names and paths that differ only in case are different channels, as on SQLite;
/// MySQL's default collations would have merged them.
async fn names_are_case_sensitive(db: TestDb) {
    let odb = db.odb().await;
    odb.create_http_channel(&channel("c", "/a")).await.unwrap();
    odb.create_http_channel(&channel("C", "/A")).await.unwrap();
    assert_eq!(odb.http_channels().await.unwrap().len(), 2);
}

/// Names and paths longer than the schema's key columns, or that only a trailing
/// space tells apart, are refused alike on every backend instead of failing (or,
/// worse, being merged) on some of them.
async fn keys_are_checked_the_same_everywhere(db: TestDb) {
    let odb = db.odb().await;
    let longest = "é".repeat(255);
    let too_long = "é".repeat(256);
    let path = format!("/{}", "p".repeat(699));
    odb.create_http_channel(&channel(&longest, &path))
        .await
        .unwrap();
    for bad in [
        channel(&too_long, "/x"),
        channel("x", &format!("{path}p")),
        channel("x ", "/x"),
        channel("x", "/x "),
        HttpChannel {
            service: too_long.clone(),
            ..channel("x", "/x")
        },
        channel("tab\there", "/t"),
    ] {
        assert!(
            matches!(
                odb.create_http_channel(&bad).await,
                Err(OdbError::Invalid(_))
            ),
            "{bad:?}"
        );
    }
    assert_eq!(odb.http_channels().await.unwrap().len(), 1);
}

/// MySQL ignores trailing spaces when it compares: deleting `c ` must not delete `c`.
async fn lookups_match_keys_exactly(db: TestDb) {
    let odb = db.odb().await;
    odb.create_http_channel(&channel("c", "/c")).await.unwrap();
    assert!(!odb.delete_http_channel("c ").await.unwrap());
    assert_eq!(odb.http_channels().await.unwrap().len(), 1);
}

/// An update replaces everything but the name, keeps paths unique, finds a channel
/// updated to the values it has (MySQL would count no changed row) and finds no other.
async fn a_channel_is_updated_in_place_and_keeps_its_name(db: TestDb) {
    let odb = db.odb().await;
    let c1 = channel("c1", "/a/{id}");
    odb.create_http_channel(&c1).await.unwrap();
    odb.create_http_channel(&channel("c2", "/b")).await.unwrap();
    assert_eq!(odb.http_channel("c1").await.unwrap(), Some(c1.clone()));
    assert_eq!(odb.http_channel("c3").await.unwrap(), None);

    let changed = HttpChannel {
        name: "ignored".into(),
        path: "/c/{id}".into(),
        methods: vec!["PUT".into()],
        service: "other".into(),
        data_format: DataFormat::Xml,
        timeout_ms: 750,
        security: None,
    };
    assert!(odb.update_http_channel("c1", &changed).await.unwrap());
    let stored = odb.http_channel("c1").await.unwrap().unwrap();
    assert_eq!(
        stored,
        HttpChannel {
            name: "c1".into(),
            ..changed.clone()
        }
    );
    assert!(
        odb.update_http_channel("c1", &changed).await.unwrap(),
        "an update to the same values finds its channel"
    );
    assert!(!odb.update_http_channel("c3", &changed).await.unwrap());
    assert!(!odb.update_http_channel("c1 ", &changed).await.unwrap());
    assert!(matches!(
        odb.update_http_channel("c1", &channel("c1", "/b")).await,
        Err(OdbError::Conflict(m)) if m.contains("`/b`")
    ));
    assert!(matches!(
        odb.update_http_channel("c1", &channel("c1", "/x ")).await,
        Err(OdbError::Invalid(_))
    ));
    // The old path is free again.
    odb.create_http_channel(&channel("c4", "/a/{id}"))
        .await
        .unwrap();
    assert_eq!(odb.http_channels().await.unwrap().len(), 3);
}

/// A name with a NUL (which PostgreSQL refuses in text) or past the key's length is
/// an unknown channel to every lookup, not a database error.
async fn names_no_channel_can_have_are_found_nowhere(db: TestDb) {
    let odb = db.odb().await;
    odb.create_http_channel(&channel("c", "/c")).await.unwrap();
    let long = "c".repeat(300);
    for name in ["c\0", "c\n", long.as_str()] {
        assert_eq!(odb.http_channel(name).await.unwrap(), None, "{name:?}");
        assert!(
            !odb.update_http_channel(name, &channel("c", "/d"))
                .await
                .unwrap(),
            "{name:?}"
        );
        assert!(!odb.delete_http_channel(name).await.unwrap(), "{name:?}");
    }
    assert_eq!(odb.http_channels().await.unwrap().len(), 1);
}
