//! SOAP channels: unique by name and by path, services and versions kept in order.

use super::TestDb;
use crate::api::{SoapChannel, SoapVersion};
use crate::odb::{OdbError, SoapChannels};

backends!(
    soap_channels_are_unique_by_name_and_by_path,
    a_soap_channel_keeps_its_services_versions_and_namespace,
    a_soap_channel_is_updated_in_place_and_keeps_its_name,
    bad_soap_channels_are_refused_alike_everywhere,
);

pub(super) fn channel(name: &str, path: &str) -> SoapChannel {
    SoapChannel {
        name: name.into(),
        path: path.into(),
        services: vec!["svc".into()],
        versions: Vec::new(),
        timeout_ms: 0,
        namespace: String::new(),
        security: None,
    }
}

async fn soap_channels_are_unique_by_name_and_by_path(db: TestDb) {
    let odb = db.odb().await;
    assert!(odb.soap_channels().await.unwrap().is_empty());
    let c1 = channel("c1", "/soap/a");
    odb.create_soap_channel(&c1).await.unwrap();
    match odb.create_soap_channel(&channel("c2", "/soap/a")).await {
        Err(OdbError::Conflict(m)) => assert!(m.contains("/soap/a"), "{m}"),
        other => panic!("the same path twice: {other:?}"),
    }
    match odb.create_soap_channel(&channel("c1", "/soap/b")).await {
        Err(OdbError::Conflict(m)) => assert!(m.contains("`c1`"), "{m}"),
        other => panic!("the same name twice: {other:?}"),
    }
    assert_eq!(odb.soap_channel("c1").await.unwrap(), Some(c1.clone()));
    assert_eq!(odb.soap_channel("C1").await.unwrap(), None);
    assert!(odb.delete_soap_channel("c1").await.unwrap());
    assert!(!odb.delete_soap_channel("c1").await.unwrap());
    assert!(odb.soap_channels().await.unwrap().is_empty());
}

async fn a_soap_channel_keeps_its_services_versions_and_namespace(db: TestDb) {
    let odb = db.odb().await;
    let c = SoapChannel {
        services: vec!["z.last".into(), "a.first".into()],
        versions: vec![SoapVersion::V12],
        timeout_ms: 2_500,
        namespace: "urn:example:billing".into(),
        ..channel("b", "/soap/billing")
    };
    odb.create_soap_channel(&c).await.unwrap();
    let both = SoapChannel {
        versions: vec![SoapVersion::V11, SoapVersion::V12],
        ..channel("a", "/soap/other")
    };
    odb.create_soap_channel(&both).await.unwrap();
    assert_eq!(odb.soap_channels().await.unwrap(), [both, c]);
}

async fn a_soap_channel_is_updated_in_place_and_keeps_its_name(db: TestDb) {
    let odb = db.odb().await;
    odb.create_soap_channel(&channel("a", "/soap/a"))
        .await
        .unwrap();
    odb.create_soap_channel(&channel("b", "/soap/b"))
        .await
        .unwrap();
    let changed = SoapChannel {
        services: vec!["other".into(), "svc".into()],
        timeout_ms: 10,
        ..channel("a", "/soap/a2")
    };
    assert!(odb.update_soap_channel("a", &changed).await.unwrap());
    // The same values again still find the channel (MySQL counts rows changed).
    assert!(odb.update_soap_channel("a", &changed).await.unwrap());
    assert_eq!(odb.soap_channel("a").await.unwrap(), Some(changed));
    assert!(matches!(
        odb.update_soap_channel("a", &channel("a", "/soap/b")).await,
        Err(OdbError::Conflict(_))
    ));
    assert!(
        !odb.update_soap_channel("nope", &channel("nope", "/x"))
            .await
            .unwrap()
    );
    assert!(
        !odb.update_soap_channel("a\0", &channel("a", "/x"))
            .await
            .unwrap()
    );
}

async fn bad_soap_channels_are_refused_alike_everywhere(db: TestDb) {
    let odb = db.odb().await;
    let bad = [
        SoapChannel {
            services: Vec::new(),
            ..channel("a", "/a")
        },
        SoapChannel {
            services: vec!["x,y".into()],
            ..channel("a", "/a")
        },
        SoapChannel {
            namespace: "urn:\0".into(),
            ..channel("a", "/a")
        },
        channel(&"n".repeat(256), "/a"),
        channel("a", &format!("/{}", "p".repeat(700))),
        channel("a ", "/a"),
    ];
    for c in bad {
        match odb.create_soap_channel(&c).await {
            Err(OdbError::Invalid(_)) => {}
            other => panic!("{c:?}: {other:?}"),
        }
    }
    assert!(odb.soap_channels().await.unwrap().is_empty());
    assert_eq!(odb.soap_channel(&"n".repeat(300)).await.unwrap(), None);
}
