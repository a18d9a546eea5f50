//! Security definitions: unique by name across types, only a hash stored, and only one
//! query reading it back.

use super::TestDb;
use crate::api::{ApikeySettings, BasicAuthSettings, SecuritySettings, SecurityType};
use crate::odb::{HttpChannels, OdbError, SecurityDefinitions, SoapChannels};

backends!(
    definitions_are_created_read_updated_and_deleted,
    names_are_unique_across_types,
    the_hash_is_read_by_one_query_and_a_new_type_needs_a_new_secret,
    names_no_definition_can_have_are_found_nowhere,
    channels_name_only_definitions_that_exist_and_keep_them_from_deletion,
);

fn basic(username: &str) -> SecuritySettings {
    SecuritySettings::BasicAuth(BasicAuthSettings {
        username: username.into(),
        realm: "partners".into(),
    })
}

fn apikey(header: &str) -> SecuritySettings {
    SecuritySettings::Apikey(ApikeySettings {
        header: header.into(),
    })
}

async fn definitions_are_created_read_updated_and_deleted(db: TestDb) {
    let odb = db.odb().await;
    let created = odb
        .create_security_def("partner", &basic("acme"), "$argon2id$v=19$x")
        .await
        .unwrap();
    assert_eq!(created.kind, SecurityType::BasicAuth);
    assert_eq!(created.created_at, created.updated_at);
    odb.create_security_def("crm", &apikey("X-API-Key"), "sha256:ab")
        .await
        .unwrap();
    let all = odb.security_defs().await.unwrap();
    let names: Vec<_> = all.iter().map(|d| (d.name.as_str(), d.kind)).collect();
    assert_eq!(
        names,
        [
            ("crm", SecurityType::Apikey),
            ("partner", SecurityType::BasicAuth)
        ]
    );
    let read = odb.security_def("partner").await.unwrap().unwrap();
    assert_eq!(read, created);

    let updated = odb
        .update_security_def("partner", &basic("acme2"), None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(updated.settings, basic("acme2"));
    assert_eq!(updated.created_at, created.created_at);
    assert!(updated.updated_at >= created.updated_at);
    assert!(
        odb.update_security_def("nobody", &basic("x"), None)
            .await
            .unwrap()
            .is_none()
    );

    assert!(odb.delete_security_def("partner").await.unwrap());
    assert!(!odb.delete_security_def("partner").await.unwrap());
    assert!(odb.security_def("partner").await.unwrap().is_none());
}

async fn names_are_unique_across_types(db: TestDb) {
    let odb = db.odb().await;
    odb.create_security_def("one", &basic("a"), "h1")
        .await
        .unwrap();
    let again = odb.create_security_def("one", &apikey("X-Key"), "h2").await;
    assert!(
        matches!(&again, Err(OdbError::Conflict(m)) if m.contains("`one`")),
        "{again:?}"
    );
}

async fn the_hash_is_read_by_one_query_and_a_new_type_needs_a_new_secret(db: TestDb) {
    let odb = db.odb().await;
    odb.create_security_def("svc", &basic("a"), "hash-1")
        .await
        .unwrap();
    let hashes = odb.security_hashes().await.unwrap();
    assert_eq!(hashes.len(), 1);
    assert_eq!(hashes[0].1, "hash-1");

    assert!(odb.change_security_secret("svc", "hash-2").await.unwrap());
    assert_eq!(odb.security_hashes().await.unwrap()[0].1, "hash-2");
    assert!(!odb.change_security_secret("nobody", "x").await.unwrap());
    assert!(matches!(
        odb.change_security_secret("svc", "").await,
        Err(OdbError::Invalid(_))
    ));

    // Basic auth to an API key without a new secret: refused, nothing changed.
    let refused = odb.update_security_def("svc", &apikey("X-Key"), None).await;
    assert!(
        matches!(&refused, Err(OdbError::Invalid(m)) if m.contains("new secret")),
        "{refused:?}"
    );
    assert_eq!(
        odb.security_def("svc").await.unwrap().unwrap().kind,
        SecurityType::BasicAuth
    );
    let changed = odb
        .update_security_def("svc", &apikey("X-Key"), Some("sha256:cd"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(changed.kind, SecurityType::Apikey);
    assert_eq!(odb.security_hashes().await.unwrap()[0].1, "sha256:cd");
}

async fn names_no_definition_can_have_are_found_nowhere(db: TestDb) {
    let odb = db.odb().await;
    for name in ["a\0b", &"x".repeat(300)] {
        assert!(odb.security_def(name).await.unwrap().is_none());
        assert!(!odb.delete_security_def(name).await.unwrap());
        assert!(!odb.change_security_secret(name, "h").await.unwrap());
        assert!(
            odb.create_security_def(name, &basic("a"), "h")
                .await
                .is_err()
        );
    }
}

async fn channels_name_only_definitions_that_exist_and_keep_them_from_deletion(db: TestDb) {
    let odb = db.odb().await;
    odb.create_security_def("crm", &apikey("X-API-Key"), "sha256:ab")
        .await
        .unwrap();
    let mut http = super::channels::channel("orders", "/orders");
    http.security = Some("crm".into());
    odb.create_http_channel(&http).await.unwrap();
    assert_eq!(
        odb.http_channel("orders").await.unwrap().unwrap().security,
        Some("crm".into())
    );
    let mut soap = super::soap_channels::channel("billing", "/soap/billing");
    soap.security = Some("crm".into());
    odb.create_soap_channel(&soap).await.unwrap();
    assert_eq!(
        odb.soap_channel("billing").await.unwrap().unwrap().security,
        Some("crm".into())
    );

    // A definition that does not exist is refused, by name, and nothing is stored.
    let mut ghost = super::channels::channel("ghost", "/ghost");
    ghost.security = Some("nobody".into());
    match odb.create_http_channel(&ghost).await {
        Err(OdbError::Invalid(message)) => assert!(message.contains("`nobody`"), "{message}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(odb.http_channel("ghost").await.unwrap().is_none());
    soap.security = Some("nobody".into());
    match odb.update_soap_channel("billing", &soap).await {
        Err(OdbError::Invalid(message)) => assert!(message.contains("`nobody`"), "{message}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(
        odb.soap_channel("billing").await.unwrap().unwrap().security,
        Some("crm".into())
    );

    // In use: not deleted, and the answer names who uses it.
    match odb.delete_security_def("crm").await {
        Err(OdbError::Conflict(message)) => {
            assert!(message.contains("HTTP channel `orders`"), "{message}");
            assert!(message.contains("SOAP channel `billing`"), "{message}");
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert!(odb.security_def("crm").await.unwrap().is_some());

    // Detached from both: deleted.
    http.security = None;
    assert!(odb.update_http_channel("orders", &http).await.unwrap());
    assert_eq!(
        odb.http_channel("orders").await.unwrap().unwrap().security,
        None
    );
    soap.security = None;
    assert!(odb.update_soap_channel("billing", &soap).await.unwrap());
    assert!(odb.delete_security_def("crm").await.unwrap());
}
