//! Outgoing connections: unique per type, the secret kept apart and never read back
//! but by the definitions.

use super::TestDb;
use crate::api::{
    FtpSettings, HttpAuth, HttpSettings, Outconn, OutconnSettings, OutconnType, SqlSettings,
};
use crate::odb::{OdbError, OutgoingConnections};

backends!(
    connections_are_created_read_updated_and_deleted,
    names_are_unique_per_type_only,
    the_secret_is_kept_replaced_or_removed_and_only_definitions_carry_it,
    connections_are_listed_by_type,
    names_no_connection_can_have_are_found_nowhere,
);

fn http(name: &str, address: &str) -> Outconn {
    Outconn {
        name: name.into(),
        active: true,
        settings: OutconnSettings::Http(HttpSettings {
            address: address.into(),
            timeout_ms: 0,
            pool_size: 0,
            tls_verify: true,
            ca_pem: None,
            auth: HttpAuth::None,
            headers: Vec::new(),
            retries: 0,
            ping_method: "HEAD".into(),
        }),
        secret: None,
    }
}

fn sql(name: &str) -> Outconn {
    Outconn {
        name: name.into(),
        active: true,
        settings: OutconnSettings::Sql(SqlSettings {
            url: "postgres://billing@127.0.0.1:5432/billing".into(),
            pool_size: 3,
            timeout_ms: 1_000,
            max_rows: 10,
        }),
        secret: Some("s3cret".into()),
    }
}

fn ftp(name: &str) -> Outconn {
    Outconn {
        name: name.into(),
        active: false,
        settings: OutconnSettings::Ftp(FtpSettings {
            host: "127.0.0.1".into(),
            port: 2121,
            username: "anonymous".into(),
            tls: false,
            ca_pem: None,
            base_dir: "/in".into(),
            timeout_ms: 0,
        }),
        secret: None,
    }
}

async fn connections_are_created_read_updated_and_deleted(db: TestDb) {
    let odb = db.odb().await;
    assert!(odb.outconns(None).await.unwrap().is_empty());
    let crm = http("crm", "http://127.0.0.1:1/api");
    let created = odb.create_outconn(&crm).await.unwrap();
    assert_eq!(created.name, "crm");
    assert_eq!(created.kind, OutconnType::Http);
    assert!(!created.secret_set);
    assert_eq!(created.created_at, created.updated_at);
    let read = odb
        .outconn(OutconnType::Http, "crm")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read, created);
    assert_eq!(odb.outconn(OutconnType::Soap, "crm").await.unwrap(), None);

    let mut changed = http("crm", "https://crm.example.com/v2");
    changed.active = false;
    let updated = odb.update_outconn("crm", &changed).await.unwrap().unwrap();
    assert_eq!(updated.settings, changed.settings);
    assert!(!updated.active);
    assert_eq!(updated.created_at, created.created_at);
    assert!(updated.updated_at >= created.updated_at);
    assert!(
        odb.update_outconn("crm", &changed).await.unwrap().is_some(),
        "an update to the same values finds its connection"
    );
    assert_eq!(
        odb.update_outconn("other", &http("other", "http://x"))
            .await
            .unwrap(),
        None
    );
    assert!(matches!(
        odb.update_outconn("crm", &http("crm2", "http://x")).await,
        Err(OdbError::Invalid(_))
    ));
    // The type is part of the key: an SQL `crm` is another connection.
    assert_eq!(odb.update_outconn("crm", &sql("crm")).await.unwrap(), None);

    assert!(!odb.delete_outconn(OutconnType::Sql, "crm").await.unwrap());
    assert!(odb.delete_outconn(OutconnType::Http, "crm").await.unwrap());
    assert!(!odb.delete_outconn(OutconnType::Http, "crm").await.unwrap());
    assert!(odb.outconns(None).await.unwrap().is_empty());
    // A deleted name is free again.
    odb.create_outconn(&crm).await.unwrap();
}

async fn names_are_unique_per_type_only(db: TestDb) {
    let odb = db.odb().await;
    odb.create_outconn(&http("main", "http://a")).await.unwrap();
    match odb.create_outconn(&http("main", "http://b")).await {
        Err(OdbError::Conflict(m)) => assert!(m.contains("`main`"), "{m}"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    odb.create_outconn(&sql("main")).await.unwrap();
    odb.create_outconn(&ftp("main")).await.unwrap();
    // Case matters, as everywhere in the ODB.
    odb.create_outconn(&http("Main", "http://c")).await.unwrap();
    assert_eq!(odb.outconns(None).await.unwrap().len(), 4);
}

async fn the_secret_is_kept_replaced_or_removed_and_only_definitions_carry_it(db: TestDb) {
    let odb = db.odb().await;
    let billing = sql("billing");
    assert!(odb.create_outconn(&billing).await.unwrap().secret_set);
    // An empty secret on create is none.
    let mut crm = http("crm", "http://x");
    crm.secret = Some(String::new());
    assert!(!odb.create_outconn(&crm).await.unwrap().secret_set);

    let secret_of =
        |defs: &[Outconn], name: &str| defs.iter().find(|d| d.name == name).unwrap().secret.clone();
    let defs = odb.outconn_definitions().await.unwrap();
    assert_eq!(defs.len(), 2);
    assert_eq!(secret_of(&defs, "billing").as_deref(), Some("s3cret"));
    assert_eq!(secret_of(&defs, "crm"), None);

    // None keeps it.
    let mut edit = Outconn {
        secret: None,
        ..sql("billing")
    };
    if let OutconnSettings::Sql(s) = &mut edit.settings {
        s.max_rows = 99;
    }
    assert!(
        odb.update_outconn("billing", &edit)
            .await
            .unwrap()
            .unwrap()
            .secret_set
    );
    let def = odb
        .outconn_definition(OutconnType::Sql, "billing")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(def.secret.as_deref(), Some("s3cret"));
    assert_eq!(def.settings, edit.settings);
    // Some(s) replaces it.
    edit.secret = Some("n3w".into());
    odb.update_outconn("billing", &edit).await.unwrap().unwrap();
    let defs = odb.outconn_definitions().await.unwrap();
    assert_eq!(secret_of(&defs, "billing").as_deref(), Some("n3w"));
    // Some("") removes it.
    edit.secret = Some(String::new());
    let info = odb.update_outconn("billing", &edit).await.unwrap().unwrap();
    assert!(!info.secret_set);
    let defs = odb.outconn_definitions().await.unwrap();
    assert_eq!(secret_of(&defs, "billing"), None);
    assert_eq!(
        odb.outconn_definition(OutconnType::Sql, "none")
            .await
            .unwrap(),
        None
    );
    // A secret PostgreSQL could not store is refused everywhere.
    edit.secret = Some("a\0b".into());
    assert!(matches!(
        odb.update_outconn("billing", &edit).await,
        Err(OdbError::Invalid(_))
    ));
}

async fn connections_are_listed_by_type(db: TestDb) {
    let odb = db.odb().await;
    odb.create_outconn(&ftp("f")).await.unwrap();
    odb.create_outconn(&sql("s")).await.unwrap();
    odb.create_outconn(&http("b", "http://b")).await.unwrap();
    odb.create_outconn(&http("a", "http://a")).await.unwrap();
    let all: Vec<_> = odb
        .outconns(None)
        .await
        .unwrap()
        .into_iter()
        .map(|c| (c.kind, c.name))
        .collect();
    assert_eq!(
        all,
        [
            (OutconnType::Http, "a".to_owned()),
            (OutconnType::Http, "b".to_owned()),
            (OutconnType::Sql, "s".to_owned()),
            (OutconnType::Ftp, "f".to_owned()),
        ]
    );
    let http_only = odb.outconns(Some(OutconnType::Http)).await.unwrap();
    assert_eq!(http_only.len(), 2);
    assert!(
        odb.outconns(Some(OutconnType::Soap))
            .await
            .unwrap()
            .is_empty()
    );
    let ftp = odb.outconns(Some(OutconnType::Ftp)).await.unwrap();
    assert!(!ftp[0].active);
}

/// A name with a NUL (which PostgreSQL refuses in text), a trailing space (which MySQL
/// ignores) or past the key's length is an unknown connection, not a database error.
async fn names_no_connection_can_have_are_found_nowhere(db: TestDb) {
    let odb = db.odb().await;
    odb.create_outconn(&http("c", "http://c")).await.unwrap();
    let long = "c".repeat(300);
    for name in ["c\0", "c ", "c\n", long.as_str()] {
        assert_eq!(
            odb.outconn(OutconnType::Http, name).await.unwrap(),
            None,
            "{name:?}"
        );
        assert_eq!(
            odb.update_outconn(name, &http(name, "http://d"))
                .await
                .unwrap(),
            None,
            "{name:?}"
        );
        assert!(
            !odb.delete_outconn(OutconnType::Http, name).await.unwrap(),
            "{name:?}"
        );
    }
    assert!(matches!(
        odb.create_outconn(&http(&long, "http://d")).await,
        Err(OdbError::Invalid(_))
    ));
    assert_eq!(odb.outconns(None).await.unwrap().len(), 1);
}
