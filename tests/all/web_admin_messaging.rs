//! The web admin's messaging channels (`/channels/messaging`), in-process against a real
//! server: AMQP and ZeroMQ channels created, edited, refused and deleted through the
//! forms, first driven like a browser without JavaScript (reqwest with a cookie store,
//! plain forms, redirects followed), then in Debian's Chromium by playwright-core
//! (`tests/browser/web_admin_messaging.mjs`, as `web_admin_browser.rs` drives it).
//!
//! The broker URL is on 127.0.0.1 port 1 and the ZeroMQ socket connects there too:
//! nothing listens, so the channels' consumers only retry and no broker is needed.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use zato_admin::{ClusterConfig, Resolver, WebAdmin, WebAdminConfig};
use zato_api::messaging::{MsgChannelSettings, MsgChannelType, ZmqChannelSocket};
use zato_test_artifacts as wasm;

use crate::cli::text;
use crate::harness::{PASSWORD, TestServer, USER};

/// The broker's password: typed in the URL, it must never come back in a page.
const BROKER_PASSWORD: &str = "brok3r-pw-web-never-shown";

/// A web admin on 127.0.0.1:0 for the cluster of `server`, stopped when dropped.
pub(crate) struct Admin {
    pub(crate) base: String,
    _dir: tempfile::TempDir,
    _stop: tokio::sync::oneshot::Sender<()>,
}

pub(crate) async fn start_admin(server: &TestServer) -> Admin {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("web-admin.toml");
    let config = WebAdminConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        clusters: vec![ClusterConfig::remote("local", &server.base, USER, PASSWORD)],
        ..WebAdminConfig::default()
    };
    config.save(&path).unwrap();
    let config = WebAdminConfig::load(&path).unwrap();
    let resolver: Resolver =
        Arc::new(|dir: &Path| anyhow::bail!("no environment at {}", dir.display()));
    let admin = WebAdmin::bind(config, path, resolver).await.unwrap();
    let base = format!("http://{}", admin.local_addr());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(admin.run(async {
        let _ = stopped.await;
    }));
    Admin {
        base,
        _dir: dir,
        _stop: stop,
    }
}

/// The first form's CSRF token on a page.
fn csrf(html: &str) -> String {
    let marker = r#"name="csrf" value=""#;
    let start = html
        .find(marker)
        .unwrap_or_else(|| panic!("no csrf in {html}"))
        + marker.len();
    html[start..start + html[start..].find('"').unwrap()].to_owned()
}

async fn page(web: &reqwest::Client, url: String) -> (StatusCode, String) {
    let response = web.get(url).send().await.unwrap();
    (response.status(), response.text().await.unwrap())
}

async fn post(web: &reqwest::Client, url: String, form: &[(&str, String)]) -> (StatusCode, String) {
    let response = web.post(url).form(form).send().await.unwrap();
    (response.status(), response.text().await.unwrap())
}

/// A cookie-keeping client logged in to `base`, and its session's CSRF token.
async fn logged_in(base: &str) -> (reqwest::Client, String) {
    let web = crate::harness::http_client_builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let (_, login) = page(&web, format!("{base}/login")).await;
    let (status, dashboard) = post(
        &web,
        format!("{base}/login"),
        &[
            ("username", USER.to_owned()),
            ("password", PASSWORD.to_owned()),
            ("csrf", csrf(&login)),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{dashboard}");
    assert!(
        dashboard.contains(r#"href="/channels/messaging""#),
        "the nav links the messaging channels: {dashboard}"
    );
    let token = csrf(&dashboard);
    (web, token)
}

/// `fields` with `key` set to `value` (added when absent).
fn with(
    fields: &[(&'static str, String)],
    key: &'static str,
    value: &str,
) -> Vec<(&'static str, String)> {
    let mut out: Vec<_> = fields.iter().filter(|(k, _)| *k != key).cloned().collect();
    out.push((key, value.to_owned()));
    out
}

#[tokio::test]
async fn the_web_admin_creates_edits_refuses_and_deletes_amqp_and_zmq_channels() {
    let server = TestServer::start().await;
    server.deploy(wasm::HELLO).await;
    let admin = start_admin(&server).await;
    let base = &admin.base;
    let (web, token) = logged_in(base).await;

    let (status, list) = page(&web, format!("{base}/channels/messaging")).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert!(list.contains("No messaging channel yet"), "{list}");
    let (status, form) = page(&web, format!("{base}/channels/messaging/new/amqp")).await;
    assert_eq!(status, StatusCode::OK, "{form}");
    assert!(form.contains(r#"type="password" name="secret""#), "{form}");
    assert!(
        form.contains("Secret (the broker's password; not set)"),
        "{form}"
    );
    assert!(
        form.contains(r#"<option value="demo.hello">"#),
        "the deployed services are offered: {form}"
    );
    let (status, _) = page(&web, format!("{base}/channels/messaging/new/kafka")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // A form without its CSRF token does nothing.
    let (status, body) = post(
        &web,
        format!("{base}/channels/messaging/new/amqp"),
        &[("name", "sneaky".to_owned())],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");

    let url = format!("amqp://guest:{BROKER_PASSWORD}@127.0.0.1:1/web-vhost");
    let amqp: Vec<(&'static str, String)> = vec![
        ("csrf", token.clone()),
        ("name", "orders".to_owned()),
        ("active", "on".to_owned()),
        ("service", "demo.hello".to_owned()),
        ("data_format", "json".to_owned()),
        ("timeout_ms", "0".to_owned()),
        ("url", url.clone()),
        ("queue", "orders-in".to_owned()),
        ("declare", "on".to_owned()),
        ("dead_letter_exchange", "orders-dlx".to_owned()),
        ("prefetch", "20".to_owned()),
        ("consumers", "2".to_owned()),
        ("max_redeliveries", "3".to_owned()),
        ("heartbeat", "15".to_owned()),
        ("ca_pem", String::new()),
        ("secret", String::new()),
    ];

    // Refusals of the admin API land next to the field they name, with what was typed
    // kept, but never the password.
    let (status, refused) = post(
        &web,
        format!("{base}/channels/messaging/new/amqp"),
        &with(&amqp, "consumers", "0"),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert!(
        refused.contains(r#"<p class="field-error">settings.consumers 0 is not within"#),
        "{refused}"
    );
    assert!(
        refused.contains(r#"name="queue" value="orders-in""#),
        "{refused}"
    );
    assert!(
        refused.contains(r#"name="dead_letter_exchange" value="orders-dlx""#),
        "{refused}"
    );
    assert!(
        refused.contains(r#"name="consumers" value="0""#),
        "{refused}"
    );
    assert!(
        refused.contains(r#"value="amqp://guest@127.0.0.1:1/web-vhost""#),
        "the URL kept, without its password: {refused}"
    );
    assert!(
        !refused.contains(BROKER_PASSWORD),
        "the password is not sent back: {refused}"
    );
    assert!(refused.contains("type it again"), "{refused}");
    let http_url = format!("http://guest:{BROKER_PASSWORD}@127.0.0.1:1/");
    let (status, refused) = post(
        &web,
        format!("{base}/channels/messaging/new/amqp"),
        &with(&amqp, "url", &http_url),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert!(
        refused
            .contains(r#"<p class="field-error">invalid settings.url `http://guest@127.0.0.1:1/`"#),
        "{refused}"
    );
    assert!(!refused.contains(BROKER_PASSWORD), "{refused}");
    // What the form itself refuses, before asking the cluster.
    let (status, refused) = post(
        &web,
        format!("{base}/channels/messaging/new/amqp"),
        &with(&amqp, "prefetch", "lots"),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert!(
        refused.contains(r#"<p class="field-error">A whole number, 0 or more.</p>"#),
        "{refused}"
    );
    assert!(
        refused.contains(r#"name="prefetch" value="lots""#),
        "{refused}"
    );
    assert!(
        server
            .api
            .msg_channels(MsgChannelType::Amqp)
            .await
            .unwrap()
            .is_empty(),
        "nothing refused was stored"
    );

    // Created: the password moved to the secret, shown nowhere.
    let (status, created) = post(&web, format!("{base}/channels/messaging/new/amqp"), &amqp).await;
    assert_eq!(status, StatusCode::OK, "{created}");
    assert!(
        created.contains("Channel orders (amqp) created."),
        "{created}"
    );
    assert!(
        created.contains("queue orders-in at amqp://guest@127.0.0.1:1/web-vhost"),
        "{created}"
    );
    assert!(
        created.contains("every server (2 consumers each)"),
        "{created}"
    );
    assert!(!created.contains(BROKER_PASSWORD), "{created}");
    let info = server
        .api
        .msg_channel(MsgChannelType::Amqp, "orders")
        .await
        .unwrap();
    assert!(info.secret_set, "the URL's password is the secret");
    assert!(info.active);
    assert_eq!(info.service, "demo.hello");
    let MsgChannelSettings::Amqp(a) = &info.settings else {
        panic!("{info:?}")
    };
    assert_eq!(a.url, "amqp://guest@127.0.0.1:1/web-vhost");
    assert_eq!(a.queue, "orders-in");
    assert!(a.declare);
    assert_eq!(a.dead_letter_exchange.as_deref(), Some("orders-dlx"));
    assert_eq!(
        (a.prefetch, a.consumers, a.max_redeliveries, a.heartbeat_s),
        (20, 2, 3, 15)
    );
    assert!(!a.singleton);

    // The edit form: the secret as set, never its value; an empty field keeps it.
    let (status, edit) = page(&web, format!("{base}/channels/messaging/amqp/orders")).await;
    assert_eq!(status, StatusCode::OK, "{edit}");
    assert!(
        edit.contains("Secret (the broker's password; set)"),
        "{edit}"
    );
    assert!(edit.contains("Remove the stored secret"), "{edit}");
    assert!(
        edit.contains(r#"value="amqp://guest@127.0.0.1:1/web-vhost""#),
        "{edit}"
    );
    assert!(!edit.contains(BROKER_PASSWORD), "{edit}");
    let mut changed = with(&amqp, "url", "amqp://guest@127.0.0.1:1/web-vhost");
    changed.retain(|(k, _)| *k != "active");
    let changed = with(&with(&changed, "consumers", "3"), "singleton", "on");
    let (status, saved) = post(
        &web,
        format!("{base}/channels/messaging/amqp/orders"),
        &changed,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    assert!(saved.contains("Channel orders (amqp) saved."), "{saved}");
    assert!(saved.contains("the singleton (3 consumers)"), "{saved}");
    let info = server
        .api
        .msg_channel(MsgChannelType::Amqp, "orders")
        .await
        .unwrap();
    assert!(info.secret_set, "an empty field kept the secret");
    assert!(!info.active, "an unticked box made it inactive");
    let MsgChannelSettings::Amqp(a) = &info.settings else {
        panic!("{info:?}")
    };
    assert_eq!((a.consumers, a.singleton), (3, true));
    // A refused edit keeps the channel as it was.
    let (status, refused) = post(
        &web,
        format!("{base}/channels/messaging/amqp/orders"),
        &with(&changed, "declare", ""),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert!(
        refused.contains(r#"<p class="field-error">settings.dead_letter_exchange is set"#),
        "{refused}"
    );
    assert!(
        refused.contains("Secret (the broker's password; set)"),
        "{refused}"
    );
    // The box removes the secret.
    let (status, saved) = post(
        &web,
        format!("{base}/channels/messaging/amqp/orders"),
        &with(&changed, "clear_secret", "on"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    let info = server
        .api
        .msg_channel(MsgChannelType::Amqp, "orders")
        .await
        .unwrap();
    assert!(!info.secret_set, "the box removed the secret");

    // A ZeroMQ channel: its own form and settings.
    let (status, form) = page(&web, format!("{base}/channels/messaging/new/zmq")).await;
    assert_eq!(status, StatusCode::OK, "{form}");
    assert!(
        !form.contains(r#"name="secret""#),
        "no secret for ZeroMQ: {form}"
    );
    let zmq: Vec<(&'static str, String)> = vec![
        ("csrf", token.clone()),
        ("name", "feed".to_owned()),
        ("active", "on".to_owned()),
        ("service", "demo.hello".to_owned()),
        ("data_format", "raw".to_owned()),
        ("timeout_ms", "2500".to_owned()),
        ("socket", "sub".to_owned()),
        ("address", "tcp://127.0.0.1".to_owned()),
        ("subscriptions", "orders.\r\ninvoices.\r\n".to_owned()),
    ];
    let (status, refused) = post(&web, format!("{base}/channels/messaging/new/zmq"), &zmq).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert!(
        refused.contains(r#"<p class="field-error">invalid settings.address `tcp://127.0.0.1`"#),
        "{refused}"
    );
    assert!(refused.contains("orders.\r\ninvoices.") || refused.contains("orders.\ninvoices."));
    let zmq = with(&zmq, "address", "tcp://127.0.0.1:1");
    let (status, created) = post(&web, format!("{base}/channels/messaging/new/zmq"), &zmq).await;
    assert_eq!(status, StatusCode::OK, "{created}");
    assert!(created.contains("Channel feed (zmq) created."), "{created}");
    assert!(
        created.contains("sub connected to tcp://127.0.0.1:1"),
        "{created}"
    );
    let info = server
        .api
        .msg_channel(MsgChannelType::Zmq, "feed")
        .await
        .unwrap();
    assert_eq!(info.data_format, zato_api::DataFormat::Raw);
    let MsgChannelSettings::Zmq(z) = &info.settings else {
        panic!("{info:?}")
    };
    assert_eq!(z.socket, ZmqChannelSocket::Sub);
    assert_eq!(z.address, "tcp://127.0.0.1:1");
    assert!(!z.bind);
    assert_eq!(z.subscriptions, ["orders.", "invoices."]);
    assert_eq!(z.timeout_ms, 2500);
    let (_, edit) = page(&web, format!("{base}/channels/messaging/zmq/feed")).await;
    assert!(
        edit.contains("orders.\ninvoices.</textarea>"),
        "one subscription per line: {edit}"
    );

    // The list filtered by type.
    let (_, only_zmq) = page(&web, format!("{base}/channels/messaging?type=zmq")).await;
    assert!(
        only_zmq.contains("/channels/messaging/zmq/feed"),
        "{only_zmq}"
    );
    assert!(
        !only_zmq.contains("/channels/messaging/amqp/orders"),
        "{only_zmq}"
    );
    let (_, all) = page(&web, format!("{base}/channels/messaging")).await;
    assert!(all.contains("/channels/messaging/zmq/feed"), "{all}");
    assert!(all.contains("/channels/messaging/amqp/orders"), "{all}");

    // Deleted, each after a confirmation.
    for (kind, name) in [("amqp", "orders"), ("zmq", "feed")] {
        let (status, confirm) = page(
            &web,
            format!("{base}/channels/messaging/{kind}/{name}/delete"),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{confirm}");
        assert!(
            confirm.contains(&format!("Delete the {kind} channel {name}?")),
            "{confirm}"
        );
        let (status, deleted) = post(
            &web,
            format!("{base}/channels/messaging/{kind}/{name}/delete"),
            &[("csrf", token.clone())],
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{deleted}");
        assert!(
            deleted.contains(&format!("Channel {name} ({kind}) deleted.")),
            "{deleted}"
        );
    }
    for kind in MsgChannelType::ALL {
        assert!(server.api.msg_channels(kind).await.unwrap().is_empty());
    }
    let (status, _) = page(&web, format!("{base}/channels/messaging/zmq/feed")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    server.stop().await;
}

/// Where the screenshots go: the target directory this test binary was built in.
pub(crate) fn screenshots() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    // TARGET/debug/deps/all-HASH
    let target = exe.ancestors().nth(3).unwrap_or(Path::new("target"));
    target.join("web-admin-screenshots")
}

pub(crate) fn browser_tests() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_creates_and_deletes_messaging_channels_in_the_browser() {
    let chromium = Path::new("/usr/bin/chromium");
    let playwright = browser_tests().join("node_modules/playwright-core");
    assert!(
        chromium.exists() && playwright.exists(),
        "the browser tests need Debian's chromium and tests/browser/node_modules: \
         tests/run.sh installs both (apt-get install chromium; npm ci --prefix tests/browser)"
    );
    let server = TestServer::start().await;
    server.deploy(wasm::HELLO).await;
    let admin = start_admin(&server).await;
    let shots = screenshots();
    std::fs::create_dir_all(&shots).unwrap();

    let run = tokio::process::Command::new("node")
        .arg(browser_tests().join("web_admin_messaging.mjs"))
        .env("WEB_ADMIN_URL", &admin.base)
        .env("ZATO_USER", USER)
        .env("ZATO_PASSWORD", PASSWORD)
        .env("ZATO_SERVER", &server.base)
        .env("BROKER_PASSWORD", BROKER_PASSWORD)
        .env("SCREENSHOTS", &shots)
        .env("CHROMIUM", chromium)
        .kill_on_drop(true)
        .output();
    let run = tokio::time::timeout(Duration::from_secs(180), run)
        .await
        .expect("the browser run ends within 3 minutes")
        .unwrap();
    let report = format!(
        "stdout:\n{}\nstderr:\n{}",
        text(&run.stdout),
        text(&run.stderr)
    );
    assert!(run.status.success(), "{report}");
    assert!(
        text(&run.stdout).contains("all steps passed"),
        "the script ran to its end: {report}"
    );
    for page in ["msg-channel-form", "msg-channel-refused", "msg-channels"] {
        assert!(
            shots.join(format!("{page}.png")).exists(),
            "a screenshot of {page}"
        );
    }
    // What the browser created and deleted, as the cluster has it.
    for kind in MsgChannelType::ALL {
        assert!(
            server.api.msg_channels(kind).await.unwrap().is_empty(),
            "the browser deleted its {kind} channel"
        );
    }
    server.stop().await;
}
