//! Messaging channels: unique per type, every field stored as given, the secret kept
//! apart and read back only by the definitions.

use super::TestDb;
use crate::api::{
    AmqpChannelSettings, DataFormat, MsgChannel, MsgChannelSettings, MsgChannelType,
    ZmqChannelSettings, ZmqChannelSocket,
};
use crate::odb::{MessagingChannels, OdbError};

backends!(
    channels_are_created_read_updated_and_deleted,
    the_secret_is_kept_replaced_or_removed_and_only_definitions_carry_it,
    names_no_channel_can_have_are_found_nowhere,
);

fn amqp(name: &str, queue: &str) -> MsgChannel {
    MsgChannel {
        name: name.into(),
        active: true,
        service: "demo.hello".into(),
        data_format: DataFormat::Json,
        settings: MsgChannelSettings::Amqp(AmqpChannelSettings {
            url: "amqp://guest@127.0.0.1:5672/%2f".into(),
            queue: queue.into(),
            declare: true,
            dead_letter_exchange: Some("dlx".into()),
            prefetch: 20,
            consumers: 2,
            singleton: false,
            max_redeliveries: 3,
            heartbeat_s: 10,
            ca_pem: None,
            timeout_ms: 5_000,
        }),
        secret: Some("guest".into()),
    }
}

fn zmq(name: &str) -> MsgChannel {
    MsgChannel {
        name: name.into(),
        active: false,
        service: "demo.relay".into(),
        data_format: DataFormat::Raw,
        settings: MsgChannelSettings::Zmq(ZmqChannelSettings {
            socket: ZmqChannelSocket::Sub,
            address: "tcp://127.0.0.1:5555".into(),
            bind: false,
            subscriptions: vec!["orders.".into(), "é".into()],
            timeout_ms: 0,
        }),
        secret: None,
    }
}

async fn channels_are_created_read_updated_and_deleted(db: TestDb) {
    let odb = db.odb().await;
    assert!(odb.msg_channels(None).await.unwrap().is_empty());
    let orders = amqp("orders", "orders.in");
    let created = odb.create_msg_channel(&orders).await.unwrap();
    assert_eq!(created.kind, MsgChannelType::Amqp);
    assert_eq!(created.settings, orders.settings);
    assert!(created.secret_set);
    let read = odb
        .msg_channel(MsgChannelType::Amqp, "orders")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read, created);
    // The type is part of the key.
    assert_eq!(
        odb.msg_channel(MsgChannelType::Zmq, "orders")
            .await
            .unwrap(),
        None
    );
    odb.create_msg_channel(&zmq("orders")).await.unwrap();
    match odb.create_msg_channel(&amqp("orders", "other")).await {
        Err(OdbError::Conflict(m)) => assert!(m.contains("`orders`"), "{m}"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    let all: Vec<_> = odb
        .msg_channels(None)
        .await
        .unwrap()
        .into_iter()
        .map(|c| (c.kind, c.name, c.data_format, c.active))
        .collect();
    assert_eq!(
        all,
        [
            (
                MsgChannelType::Amqp,
                "orders".into(),
                DataFormat::Json,
                true
            ),
            (MsgChannelType::Zmq, "orders".into(), DataFormat::Raw, false),
        ]
    );
    assert_eq!(
        odb.msg_channels(Some(MsgChannelType::Zmq)).await.unwrap()[0].settings,
        zmq("orders").settings
    );

    let mut changed = amqp("orders", "orders.v2");
    changed.service = "demo.other".into();
    changed.data_format = DataFormat::Xml;
    changed.active = false;
    changed.secret = None;
    let updated = odb
        .update_msg_channel("orders", &changed)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(updated.service, "demo.other");
    assert_eq!(updated.data_format, DataFormat::Xml);
    assert!(!updated.active);
    assert_eq!(updated.settings, changed.settings);
    assert_eq!(updated.created_at, created.created_at);
    assert!(
        odb.update_msg_channel("orders", &changed)
            .await
            .unwrap()
            .is_some(),
        "an update to the same values finds its channel"
    );
    assert!(matches!(
        odb.update_msg_channel("orders", &amqp("renamed", "q"))
            .await,
        Err(OdbError::Invalid(_))
    ));
    assert_eq!(
        odb.update_msg_channel("none", &amqp("none", "q"))
            .await
            .unwrap(),
        None
    );

    assert!(
        odb.delete_msg_channel(MsgChannelType::Amqp, "orders")
            .await
            .unwrap()
    );
    assert!(
        !odb.delete_msg_channel(MsgChannelType::Amqp, "orders")
            .await
            .unwrap()
    );
    assert_eq!(odb.msg_channels(None).await.unwrap().len(), 1);
}

async fn the_secret_is_kept_replaced_or_removed_and_only_definitions_carry_it(db: TestDb) {
    let odb = db.odb().await;
    odb.create_msg_channel(&amqp("a", "q")).await.unwrap();
    odb.create_msg_channel(&zmq("z")).await.unwrap();
    let secret_of = |defs: &[MsgChannel], name: &str| {
        defs.iter().find(|d| d.name == name).unwrap().secret.clone()
    };
    let defs = odb.msg_channel_definitions().await.unwrap();
    assert_eq!(secret_of(&defs, "a").as_deref(), Some("guest"));
    assert_eq!(secret_of(&defs, "z"), None);
    assert_eq!(defs[0].settings, amqp("a", "q").settings);

    let mut edit = amqp("a", "q2");
    edit.secret = None;
    assert!(
        odb.update_msg_channel("a", &edit)
            .await
            .unwrap()
            .unwrap()
            .secret_set
    );
    assert_eq!(
        secret_of(&odb.msg_channel_definitions().await.unwrap(), "a").as_deref(),
        Some("guest")
    );
    edit.secret = Some("n3w".into());
    odb.update_msg_channel("a", &edit).await.unwrap().unwrap();
    assert_eq!(
        secret_of(&odb.msg_channel_definitions().await.unwrap(), "a").as_deref(),
        Some("n3w")
    );
    edit.secret = Some(String::new());
    assert!(
        !odb.update_msg_channel("a", &edit)
            .await
            .unwrap()
            .unwrap()
            .secret_set
    );
    assert_eq!(
        secret_of(&odb.msg_channel_definitions().await.unwrap(), "a"),
        None
    );
    edit.secret = Some("a\0b".into());
    assert!(matches!(
        odb.update_msg_channel("a", &edit).await,
        Err(OdbError::Invalid(_))
    ));
}

/// A name with a NUL, a trailing space or past the key's length is an unknown channel,
/// not a database error.
async fn names_no_channel_can_have_are_found_nowhere(db: TestDb) {
    let odb = db.odb().await;
    odb.create_msg_channel(&zmq("c")).await.unwrap();
    let long = "c".repeat(300);
    for name in ["c\0", "c ", "c\n", long.as_str()] {
        assert_eq!(
            odb.msg_channel(MsgChannelType::Zmq, name).await.unwrap(),
            None,
            "{name:?}"
        );
        assert_eq!(
            odb.update_msg_channel(name, &zmq(name)).await.unwrap(),
            None,
            "{name:?}"
        );
        assert!(
            !odb.delete_msg_channel(MsgChannelType::Zmq, name)
                .await
                .unwrap(),
            "{name:?}"
        );
    }
    assert!(matches!(
        odb.create_msg_channel(&zmq(&long)).await,
        Err(OdbError::Invalid(_))
    ));
    assert_eq!(odb.msg_channels(None).await.unwrap().len(), 1);
}
