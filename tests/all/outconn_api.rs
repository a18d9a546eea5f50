//! The admin plane of outgoing connections: create, list, get, edit, delete and ping
//! through the admin API and the CLI, refusals that name the field, secrets that never
//! come back, and a change on one server in force on the other without a restart.

use std::net::SocketAddr;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use zato_api::ClientError;
use zato_api::outconn::{
    HttpAuth, HttpSettings, Outconn, OutconnSettings, OutconnType, SqlSettings,
};
use zato_host::Server;
use zato_host::outconn::OutconnError;

use crate::cli::{Running, start, text, wait_for_ping, zato};
use crate::harness::{PASSWORD, REDIS, TestServer, USER, config, eventually};

const SECRET: &str = "hunter2-never-shown";

fn http(name: &str, address: &str) -> Outconn {
    Outconn {
        name: name.into(),
        active: true,
        settings: OutconnSettings::Http(HttpSettings {
            address: address.into(),
            timeout_ms: 2_000,
            pool_size: 0,
            tls_verify: true,
            ca_pem: None,
            auth: HttpAuth::Basic {
                username: "crm-user".into(),
            },
            headers: Vec::new(),
            retries: 0,
            ping_method: "GET".into(),
        }),
        secret: Some(SECRET.into()),
    }
}

/// An HTTP/1.1 listener on 127.0.0.1:0 that answers every request with 204.
async fn answering_backend() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let service = hyper::service::service_fn(|_req| async {
                    Ok::<_, std::convert::Infallible>(
                        hyper::Response::builder()
                            .status(204)
                            .body(http_body_util::Empty::<bytes::Bytes>::new())
                            .unwrap(),
                    )
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

/// A port on which nothing listens: bound, then closed (nothing else binds it in the
/// moment the test needs it refused).
async fn closed_port() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}

/// A raw admin API answer: status and body text.
async fn raw(
    server: &TestServer,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, String) {
    let mut request = server.admin(method, path);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let answer = request.send().await.unwrap();
    let status = answer.status();
    (status, answer.text().await.unwrap())
}

fn refused_with(e: ClientError, status: StatusCode, words: &str) {
    match e {
        ClientError::Server {
            status: s, message, ..
        } => {
            assert_eq!(s, status, "{message}");
            assert!(message.contains(words), "`{words}` not in: {message}");
        }
        other => panic!("expected a {status} refusal, got {other}"),
    }
}

#[tokio::test]
async fn outconns_are_created_read_edited_and_deleted_and_secrets_never_come_back() {
    let server = TestServer::start().await;
    let api = &server.api;
    let backend = answering_backend().await;
    let crm = http("crm", &format!("http://{backend}/api"));

    let created = api.create_outconn(&crm).await.unwrap();
    assert_eq!(created.name, "crm");
    assert_eq!(created.kind, OutconnType::Http);
    assert!(created.secret_set);
    let sql = Outconn {
        name: "billing".into(),
        active: true,
        settings: OutconnSettings::Sql(SqlSettings {
            url: "postgres://billing@127.0.0.1:5432/billing".into(),
            pool_size: 2,
            timeout_ms: 0,
            max_rows: 0,
        }),
        secret: None,
    };
    api.create_outconn(&sql).await.unwrap();

    // Every answer, read raw: the secret is in none of them.
    let mut answers = Vec::new();
    for path in [
        "/zato/api/outconns",
        "/zato/api/outconns?type=http",
        "/zato/api/outconns/http/crm",
    ] {
        let (status, body) = raw(&server, Method::GET, path, None).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        answers.push(body);
    }
    let listed: Value = serde_json::from_str(&answers[0]).unwrap();
    let names: Vec<(&str, &str)> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["type"].as_str().unwrap(), c["name"].as_str().unwrap()))
        .collect();
    assert_eq!(names, [("http", "crm"), ("sql", "billing")]);
    let only_http: Value = serde_json::from_str(&answers[1]).unwrap();
    assert_eq!(only_http.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["secret_set"], true);
    assert_eq!(listed[1]["secret_set"], false);

    // An edit without a secret keeps it; the name and type must be the URL's.
    let mut edited = crm.clone();
    edited.secret = None;
    edited.active = false;
    let body = serde_json::to_value(&edited).unwrap();
    let (status, text) = raw(
        &server,
        Method::PUT,
        "/zato/api/outconns/http/crm",
        Some(body),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    answers.push(text.clone());
    let info: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(info["active"], false);
    assert_eq!(info["secret_set"], true);
    for answer in &answers {
        assert!(!answer.contains(SECRET), "the secret came back: {answer}");
    }
    let mut renamed = edited.clone();
    renamed.name = "crm2".into();
    refused_with(
        api.update_outconn("crm", &renamed).await.unwrap_err(),
        StatusCode::BAD_REQUEST,
        "cannot be renamed",
    );
    // The body's type must be the URL's.
    let (status, text) = raw(
        &server,
        Method::PUT,
        "/zato/api/outconns/sql/billing",
        Some(serde_json::to_value(http("billing", "http://127.0.0.1:1")).unwrap()),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
    assert!(text.contains("settings.type"), "{text}");

    // An empty secret removes it.
    edited.secret = Some(String::new());
    edited.active = true;
    assert!(!api.update_outconn("crm", &edited).await.unwrap().secret_set);

    // 409, 404.
    refused_with(
        api.create_outconn(&crm).await.unwrap_err(),
        StatusCode::CONFLICT,
        "`crm`",
    );
    refused_with(
        api.outconn(OutconnType::Soap, "crm").await.unwrap_err(),
        StatusCode::NOT_FOUND,
        "`crm`",
    );
    refused_with(
        api.update_outconn("nope", &http("nope", "http://127.0.0.1:1"))
            .await
            .unwrap_err(),
        StatusCode::NOT_FOUND,
        "`nope`",
    );
    refused_with(
        api.ping_outconn(OutconnType::Http, "nope")
            .await
            .unwrap_err(),
        StatusCode::NOT_FOUND,
        "`nope`",
    );

    let deleted = api.delete_outconn(OutconnType::Http, "crm").await.unwrap();
    assert_eq!(
        (deleted.kind, deleted.name.as_str()),
        (OutconnType::Http, "crm")
    );
    refused_with(
        api.delete_outconn(OutconnType::Http, "crm")
            .await
            .unwrap_err(),
        StatusCode::NOT_FOUND,
        "`crm`",
    );
    assert_eq!(api.outconns(None).await.unwrap().len(), 1);
    // A deleted name is free again.
    api.create_outconn(&crm).await.unwrap();
}

#[tokio::test]
async fn bad_definitions_are_refused_with_the_field_named() {
    let server = TestServer::start().await;
    let http_with = |settings: Value| {
        let mut base = json!({"type": "http", "address": "http://127.0.0.1:1/api"});
        base.as_object_mut()
            .unwrap()
            .extend(settings.as_object().unwrap().clone());
        json!({"name": "crm", "settings": base})
    };
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "http",
            json!({"name": "a b", "settings": {"type": "http", "address": "http://x"}}),
            "name",
        ),
        (
            "http",
            http_with(json!({"address": "ftp://x"})),
            "settings.address",
        ),
        (
            "http",
            http_with(json!({"address": "not a url"})),
            "settings.address",
        ),
        (
            "http",
            http_with(json!({"address": "http://user:pw@x/"})),
            "settings.address",
        ),
        (
            "http",
            http_with(json!({"timeout_ms": 9_223_372_036_854_775_808_u64})),
            "timeout_ms",
        ),
        ("http", http_with(json!({"retries": 6})), "settings.retries"),
        (
            "http",
            http_with(json!({"ping_method": "BREW"})),
            "settings.ping_method",
        ),
        (
            "http",
            http_with(json!({"headers": [{"name": "bad name", "value": "x"}]})),
            "settings.headers[0].name",
        ),
        (
            "http",
            http_with(json!({"headers": [{"name": "X-A", "value": "a\r\nb"}]})),
            "settings.headers[0].value",
        ),
        (
            "http",
            http_with(json!({"auth": {"kind": "api_key", "header": "x y"}})),
            "settings.auth.header",
        ),
        (
            "http",
            http_with(json!({"ca_pem": "not a certificate"})),
            "settings.ca_pem",
        ),
        ("http", http_with(json!({"adress": "typo"})), "adress"),
        (
            "soap",
            json!({"name": "s", "settings": {"type": "soap", "http": {"address": "x"}}}),
            "settings.http.address",
        ),
        (
            "sql",
            json!({"name": "db", "settings": {"type": "sql", "url": "postgres://u:pw@h/db"}}),
            "secret",
        ),
        (
            "sql",
            json!({"name": "db", "settings": {"type": "sql", "url": "oracle://h/db"}}),
            "settings.url",
        ),
        (
            "ftp",
            json!({"name": "f", "settings": {"type": "ftp", "host": ""}}),
            "settings.host",
        ),
        (
            "ftp",
            json!({"name": "f", "settings": {"type": "ftp", "host": "h", "base_dir": "in"}}),
            "settings.base_dir",
        ),
        ("sql", http_with(json!({})), "settings.type"),
        // serde would read a numeric tag as the variant of that index.
        ("http", http_with(json!({"type": 0})), "settings.type"),
        (
            "http",
            http_with(json!({"auth": {"kind": 2}})),
            "settings.auth.kind",
        ),
        ("gopher", http_with(json!({})), "gopher"),
    ];
    for (kind, body, field) in cases {
        let (status, text) = raw(
            &server,
            Method::POST,
            &format!("/zato/api/outconns/{kind}"),
            Some(body.clone()),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {text}");
        let error: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{text}"));
        let message = error["error"].as_str().unwrap();
        assert!(
            message.contains(field),
            "`{field}` not named for {body}: {message}"
        );
    }
    // The password of an SQL URL is not echoed back either.
    let (_, text) = raw(
        &server,
        Method::POST,
        "/zato/api/outconns/sql",
        Some(json!({"name": "db", "settings": {"type": "sql", "url": format!("postgres://u:{SECRET}@h/db")}})),
    )
    .await;
    assert!(text.contains("secret"), "{text}");
    let (status, _) = raw(&server, Method::GET, "/zato/api/outconns?type=gopher", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(server.api.outconns(None).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_ping_says_whether_the_other_side_answered() {
    let server = TestServer::start().await;
    let api = &server.api;
    let backend = answering_backend().await;
    api.create_outconn(&http("up", &format!("http://{backend}/api")))
        .await
        .unwrap();
    let closed = closed_port().await;
    api.create_outconn(&http("down", &format!("http://127.0.0.1:{closed}/")))
        .await
        .unwrap();
    let up = api.ping_outconn(OutconnType::Http, "up").await.unwrap();
    assert!(up.ok, "{up:?}");
    assert!(up.detail.contains("204"), "{up:?}");
    let down = api.ping_outconn(OutconnType::Http, "down").await.unwrap();
    assert!(!down.ok, "{down:?}");
    assert!(!down.detail.is_empty());
    assert!(!down.detail.contains(SECRET));

    // SQL: each engine names its version; a server that is not there says why.
    let dir = tempfile::tempdir().unwrap();
    let sqlite = format!("sqlite://{}/ping.db?mode=rwc", dir.path().display());
    for (name, url, engine) in [
        (
            "pg",
            "postgres://postgres@127.0.0.1:5432/test",
            "PostgreSQL",
        ),
        ("maria", "mysql://root@127.0.0.1:3306/test", "MariaDB"),
        ("lite", sqlite.as_str(), "SQLite"),
        (
            "nodb",
            &format!("postgres://postgres@127.0.0.1:{closed}/test"),
            "",
        ),
    ] {
        let conn = Outconn {
            name: name.into(),
            active: true,
            settings: OutconnSettings::Sql(SqlSettings {
                url: url.into(),
                pool_size: 1,
                timeout_ms: 3_000,
                max_rows: 0,
            }),
            secret: None,
        };
        api.create_outconn(&conn).await.unwrap();
        let ping = api.ping_outconn(OutconnType::Sql, name).await.unwrap();
        if engine.is_empty() {
            assert!(!ping.ok, "{name}: {ping:?}");
            assert!(!ping.detail.is_empty(), "{name}: {ping:?}");
        } else {
            assert!(ping.ok, "{name}: {ping:?}");
            assert!(ping.detail.contains(engine), "{name}: {ping:?}");
        }
    }

    // SOAP: the endpoint answering counts, whatever it answers to a ping.
    let soap = Outconn {
        name: "billing".into(),
        active: true,
        settings: OutconnSettings::Soap(zato_api::SoapSettings {
            http: match http("x", &format!("http://{backend}/soap")).settings {
                OutconnSettings::Http(settings) => settings,
                _ => unreachable!("an HTTP definition"),
            },
            version: zato_api::SoapVersion::V12,
            soap_action: String::new(),
        }),
        secret: Some(SECRET.into()),
    };
    api.create_outconn(&soap).await.unwrap();
    let up = api
        .ping_outconn(OutconnType::Soap, "billing")
        .await
        .unwrap();
    assert!(up.ok, "{up:?}");
}

/// Two servers of one cluster: what the admin API of one changes is in force in the
/// other's live registry without a restart (the notice, or the reconcile after it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_on_one_server_is_in_force_on_the_other_without_restart() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = format!("t{}", uuid::Uuid::new_v4().simple());
    let odb = format!("sqlite://{}/odb.sqlite", dir.path().display());
    let mut servers = Vec::new();
    for name in ["server1", "server2"] {
        let server_dir = dir.path().join(name);
        std::fs::create_dir_all(&server_dir).unwrap();
        let mut config = config(&server_dir);
        config.name = name.into();
        config.cluster = cluster.clone();
        config.odb = odb.clone();
        config.kvdb = REDIS.into();
        config.pickup_dir = None;
        // The notice must do it: no reconcile within the test's waits.
        config.deploy.reconcile_interval_ms = 600_000;
        let server = Server::start(config).await.expect("server starts");
        server.loaded().await;
        servers.push(server);
    }
    let api = zato_api::AdminClient::new(format!("http://{}", servers[0].addr()), USER, PASSWORD);
    let other = servers[1].deployer().runtime().outconns().clone();
    let limit = Duration::from_secs(10);

    api.create_outconn(&http("crm", "http://127.0.0.1:1/api"))
        .await
        .unwrap();
    eventually(limit, "crm on server2", || async {
        other.http("crm").is_ok().then_some(())
    })
    .await;
    let mut off = http("crm", "http://127.0.0.1:1/api");
    off.active = false;
    api.update_outconn("crm", &off).await.unwrap();
    eventually(limit, "crm inactive on server2", || async {
        matches!(other.http("crm"), Err(OutconnError::Inactive(..))).then_some(())
    })
    .await;
    api.delete_outconn(OutconnType::Http, "crm").await.unwrap();
    eventually(limit, "crm gone from server2", || async {
        matches!(other.http("crm"), Err(OutconnError::NotFound(..))).then_some(())
    })
    .await;
    // A restart is not needed, and a restarted server starts with what is there.
    api.create_outconn(&http("crm", "http://127.0.0.1:1/api"))
        .await
        .unwrap();
    eventually(limit, "crm again on server2", || async {
        other.http("crm").is_ok().then_some(())
    })
    .await;
    for server in servers {
        server.stop().await.unwrap();
    }
}

/// `zato outconn ...` as a script and a person use it, against `zato start`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_creates_lists_pings_edits_and_deletes_outconns() {
    let dir = tempfile::tempdir().unwrap();
    let env = dir.path().join("env");
    let env_arg = env.to_str().unwrap();
    let created = zato(&["quickstart", "create", env_arg, "--base-port", "0"]).await;
    assert!(created.status.success(), "{}", text(&created.stderr));
    let log = dir.path().join("server.log");
    let running: Running = start(&env, &log).await;
    wait_for_ping(&env.join("server1")).await;
    let backend = answering_backend().await;
    let address = format!("http://{backend}/api");

    // The acceptance checks' own commands.
    let out = zato(&[
        "outconn",
        "create",
        "http",
        "--env",
        env_arg,
        "--name",
        "crm",
        "--address",
        &address,
    ])
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("created http connection `crm`"),
        "{}",
        text(&out.stdout)
    );
    let out = zato(&["outconn", "ping", "http", "crm", "--env", env_arg]).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{} {}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let out = zato(&["outconn", "list", "--env", env_arg, "--json"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let listed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed[0]["name"], "crm");
    assert_eq!(listed[0]["type"], "http");

    // A secret from a variable, basic auth, headers, --json.
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_zato"))
        .args([
            "outconn",
            "create",
            "http",
            "--env",
            env_arg,
            "--name",
            "erp",
            "--address",
            &address,
        ])
        .args([
            "--auth",
            "basic",
            "--username",
            "u",
            "--secret-env",
            "ERP_SECRET",
        ])
        .args([
            "--header",
            "X-Client: zato",
            "--timeout-ms",
            "1500",
            "--json",
        ])
        .env("ERP_SECRET", SECRET)
        .env_remove("ZATO_ENV")
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stdout));
    let info: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(info["secret_set"], true);
    assert_eq!(info["settings"]["headers"][0]["name"], "X-Client");
    assert_eq!(info["settings"]["auth"]["username"], "u");
    let out = zato(&["outconn", "get", "http", "erp", "--env", env_arg]).await;
    let shown = text(&out.stdout);
    assert!(shown.contains("secret: set"), "{shown}");
    assert!(shown.contains("auth: basic (user `u`)"), "{shown}");

    // Edit: only what is given changes; --no-secret removes it.
    let out = zato(&[
        "outconn",
        "edit",
        "http",
        "erp",
        "--env",
        env_arg,
        "--timeout-ms",
        "900",
        "--no-secret",
        "--json",
    ])
    .await;
    assert!(out.status.success(), "{}", text(&out.stdout));
    let info: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(info["settings"]["timeout_ms"], 900);
    assert_eq!(info["settings"]["headers"][0]["value"], "zato");
    assert_eq!(info["secret_set"], false);

    // A closed port: the ping fails with exit 1, one JSON document with --json.
    let closed = closed_port().await;
    let down = format!("http://127.0.0.1:{closed}/");
    let out = zato(&[
        "outconn",
        "create",
        "http",
        "--env",
        env_arg,
        "--name",
        "down",
        "--address",
        &down,
    ])
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = zato(&["outconn", "ping", "http", "down", "--env", env_arg]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("did not answer"),
        "{}",
        text(&out.stderr)
    );
    let out = zato(&[
        "outconn", "ping", "http", "down", "--env", env_arg, "--json",
    ])
    .await;
    assert_eq!(out.status.code(), Some(1));
    let ping: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (ping["ok"].clone(), ping["exit_code"].clone()),
        (json!(false), json!(1))
    );

    // Refusals: the server's (exit 1, the field named), usage (exit 2).
    let out = zato(&[
        "outconn",
        "create",
        "http",
        "--env",
        env_arg,
        "--name",
        "bad",
        "--address",
        "ftp://x",
        "--json",
    ])
    .await;
    assert_eq!(out.status.code(), Some(1));
    let error: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        error["error"]
            .as_str()
            .unwrap()
            .contains("settings.address"),
        "{error}"
    );
    assert_eq!(error["status"], 400);
    let out = zato(&[
        "outconn",
        "create",
        "http",
        "--env",
        env_arg,
        "--name",
        "x",
        "--address",
        &address,
        "--db-url",
        "sqlite:///x",
    ])
    .await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("--db-url"),
        "{}",
        text(&out.stderr)
    );
    let out = zato(&["outconn", "get", "gopher", "x", "--env", env_arg, "--json"]).await;
    assert_eq!(out.status.code(), Some(2));
    let out = zato(&["outconn", "get", "http", "nope", "--env", env_arg, "--json"]).await;
    assert_eq!(out.status.code(), Some(1));
    let error: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(error["status"], 404);

    // Other types, from options and from a file.
    let out = zato(&[
        "outconn",
        "create",
        "ftp",
        "--env",
        env_arg,
        "--name",
        "drop",
        "--host",
        "127.0.0.1",
        "--port",
        "2121",
        "--tls",
        "--base-dir",
        "/in",
        "--json",
    ])
    .await;
    assert!(out.status.success(), "{}", text(&out.stdout));
    let info: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(info["settings"]["tls"], true);
    let file = dir.path().join("db.json");
    std::fs::write(
        &file,
        json!({"name": "billing", "settings": {"type": "sql", "url": "sqlite:///tmp/zato-outconn-test.db"}})
            .to_string(),
    )
    .unwrap();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_zato"))
        .args([
            "outconn",
            "create",
            "sql",
            "--env",
            env_arg,
            "--file",
            file.to_str().unwrap(),
            "--secret-stdin",
        ])
        .env_remove("ZATO_ENV")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = out;
    {
        use tokio::io::AsyncWriteExt as _;
        let mut stdin = child.stdin.take().unwrap();
        stdin
            .write_all(format!("{SECRET}\n").as_bytes())
            .await
            .unwrap();
    }
    let out = child.wait_with_output().await.unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("secret set"),
        "{}",
        text(&out.stdout)
    );
    let out = zato(&["outconn", "list", "sql", "--env", env_arg, "--json"]).await;
    let listed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["secret_set"], true);

    let out = zato(&["outconn", "delete", "http", "crm", "--env", env_arg]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("deleted http connection `crm`"));
    let out = zato(&["outconn", "list", "--env", env_arg]).await;
    let table = text(&out.stdout);
    assert!(table.starts_with("TYPE"), "{table}");
    assert!(!table.contains(" crm "), "{table}");
    assert!(!table.contains(SECRET), "{table}");

    drop(running);
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(logged.contains("outgoing connection created"), "{logged}");
    assert!(
        !logged.contains(SECRET),
        "the secret is in the server's log"
    );
}
