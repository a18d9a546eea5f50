//! `zato enmasse`: an environment with one object of every kind exported, imported into
//! an empty one and exported again gives the same file and the same components; the
//! imported objects work (a channel guarded by an imported basic-auth definition whose
//! password came from an environment variable); importing twice changes nothing; and a
//! file that refers to something missing, lacks a secret or names a component that is
//! not there is refused whole, every problem named, with nothing changed.

use std::path::Path;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::process::Command;
use zato_test_artifacts as wasm;

use crate::cli::text;
use crate::harness::{PASSWORD, TestServer, USER};

const ACME_PASSWORD: &str = "acme's password";
const ROBOT_KEY: &str = "robot-key-0123456789abcdef";
const JWT_KEY: &str = "an HS256 key of more than 32 bytes, for enmasse";
const CRM_TOKEN: &str = "crm-token";

/// The secrets an import reads, as an export names them.
const SECRETS: [(&str, &str); 4] = [
    ("ZATO_SECRET_SECURITY_PARTNER", ACME_PASSWORD),
    ("ZATO_SECRET_SECURITY_ROBOT", ROBOT_KEY),
    ("ZATO_SECRET_SECURITY_TOKENS", JWT_KEY),
    ("ZATO_SECRET_OUTCONN_HTTP_CRM", CRM_TOKEN),
];

/// `zato enmasse ARGS --url BASE ... --json` with `vars` in its environment: its exit
/// code and its one JSON document.
async fn enmasse(server: &TestServer, args: &[&str], vars: &[(&str, &str)]) -> (i32, Value) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_zato"));
    command
        .arg("enmasse")
        .args(args)
        .args([
            "--url",
            &server.base,
            "--user",
            USER,
            "--password",
            PASSWORD,
        ])
        .arg("--json")
        .env_remove("ZATO_ENV");
    for (name, _) in SECRETS {
        command.env_remove(name);
    }
    command.envs(vars.iter().copied());
    let out = command.output().await.unwrap();
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "zato enmasse {args:?}: stdout is not one JSON document ({e}):\n{}\n{}",
            text(&out.stdout),
            text(&out.stderr)
        )
    });
    (out.status.code().unwrap(), doc)
}

fn from<T: serde::de::DeserializeOwned>(value: Value) -> T {
    serde_json::from_value(value).unwrap()
}

/// One object of every kind the document holds, on `server`.
async fn populate(server: &TestServer) {
    let api = &server.api;
    server.deploy(wasm::HELLO).await;
    server.deploy(wasm::SOAP_HELLO).await;
    let http_hello = std::fs::read(wasm::HTTP_HELLO).unwrap();
    let deployed = api.deploy(http_hello, "http-hello.wasm").await.unwrap();
    assert_eq!(deployed.name, "http-hello");
    let config = [("greeting".to_owned(), "Hello".to_owned())].into();
    api.set_config("demo.hello", &config).await.unwrap();

    api.create_rate_limit(&from(
        json!({"name": "partners", "rules": ["* = 100/m"], "exact": false}),
    ))
    .await
    .unwrap();
    for def in [
        json!({"name": "partner", "settings": {"type": "basic-auth", "username": "acme"}, "secret": ACME_PASSWORD}),
        json!({"name": "robot", "settings": {"type": "apikey"}, "secret": ROBOT_KEY}),
        json!({"name": "tokens", "settings": {"type": "jwt", "algorithm": "HS256", "issuer": "zato", "audience": "partners", "login": "partner"}, "secret": JWT_KEY}),
    ] {
        api.create_security_def(&from(def)).await.unwrap();
    }
    api.create_outconn(&from(json!({
        "name": "crm",
        "settings": {"type": "http", "address": "http://127.0.0.1:9/api/", "auth": {"kind": "bearer"}},
        "secret": CRM_TOKEN,
    })))
    .await
    .unwrap();
    api.create_calendar(&from(json!({"name": "holidays", "dates": ["2026-12-25"]})))
        .await
        .unwrap();
    for channel in [
        json!({"name": "hello", "path": "/hello", "methods": ["GET", "POST"], "service": "demo.hello", "security": "partner"}),
        json!({"name": "wasi", "path": "/wasi", "service": "http-hello", "security": "robot"}),
    ] {
        api.create_http_channel(&from(channel)).await.unwrap();
    }
    api.create_soap_channel(&from(json!({"name": "soap", "path": "/soap", "services": ["demo.soap-hello"], "security": "tokens"})))
        .await
        .unwrap();
    api.create_msg_channel(&from(json!({
        "name": "feed",
        "service": "demo.hello",
        "settings": {"type": "zmq", "socket": "pull", "address": "tcp://127.0.0.1:1"},
    })))
    .await
    .unwrap();
    api.create_job(&from(json!({
        "name": "nightly",
        "service": "demo.hello",
        "payload": "{\"name\": \"night\"}",
        "timezone": "Europe/Warsaw",
        "schedule": {"kind": "cron", "expression": "0 3 * * *"},
        "calendars": ["holidays"],
    })))
    .await
    .unwrap();
    api.attach_rate_limit(
        zato_api::rate_limit::LimitedKind::HttpChannel,
        "hello",
        Some("partners"),
    )
    .await
    .unwrap();
    api.import_dictionary(&zato_api::DictImport {
        format: zato_api::DictFormat::Csv,
        data: "system1,key1,value1,system2,key2,value2\ncrm,currency,USD,accounting,currency,840\n"
            .into(),
        replace: false,
    })
    .await
    .unwrap();
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every file under `dir/services`, by name, with its bytes.
fn components(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut all: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir.join("services"))
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    all.sort();
    all
}

#[tokio::test(flavor = "multi_thread")]
async fn an_export_imported_into_an_empty_environment_exports_the_same_and_works() {
    let source = TestServer::start().await;
    populate(&source).await;
    let work = tempfile::tempdir().unwrap();
    let (a, b) = (work.path().join("a"), work.path().join("b"));
    std::fs::create_dir_all(&a).unwrap();
    std::fs::create_dir_all(&b).unwrap();
    let a_file = a.join("env.yaml");
    let (code, exported) = enmasse(&source, &["export", a_file.to_str().unwrap()], &[]).await;
    assert_eq!(code, 0, "{exported}");
    assert_eq!(exported["counts"]["services"], 3, "{exported}");
    assert_eq!(exported["counts"]["security"], 3, "{exported}");
    assert_eq!(
        exported["counts"]["dictionary_translations"], 1,
        "{exported}"
    );
    let document = read(&a_file);
    for (variable, secret) in SECRETS {
        assert!(
            document.contains(&format!("${{{variable}}}")),
            "no {variable}:\n{document}"
        );
        assert!(
            !document.contains(secret),
            "a secret in the file:\n{document}"
        );
    }

    // An empty environment; the file refers to nothing it lacks but the secrets.
    let target = TestServer::start().await;
    let (code, refused) = enmasse(&target, &["import", a_file.to_str().unwrap()], &[]).await;
    assert_eq!(code, 1, "{refused}");
    let problems = refused["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 4, "one per secret: {refused}");
    assert!(
        refused["error"]
            .as_str()
            .unwrap()
            .contains("set environment variable ZATO_SECRET_SECURITY_PARTNER"),
        "{refused}"
    );
    assert!(target.api.services().await.unwrap().is_empty());
    assert!(target.api.security_defs().await.unwrap().is_empty());

    // The plan: everything to create, and a dry run changes nothing.
    let (code, plan) = enmasse(
        &target,
        &["import", a_file.to_str().unwrap(), "--dry-run"],
        &SECRETS,
    )
    .await;
    assert_eq!(code, 0, "{plan}");
    assert_eq!(plan["dry_run"], true);
    assert_eq!(plan["updated"], 0, "{plan}");
    let kinds: Vec<&str> = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["action"] == "create")
        .map(|s| s["kind"].as_str().unwrap())
        .collect();
    // In the order of dependency: what a later object names comes first.
    let first = |kind: &str| kinds.iter().position(|k| *k == kind).unwrap();
    assert!(first("rate-limit") < first("security"), "{kinds:?}");
    assert!(first("security") < first("http-channel"), "{kinds:?}");
    assert!(first("service") < first("http-channel"), "{kinds:?}");
    assert!(first("calendar") < first("job"), "{kinds:?}");
    assert!(first("http-channel") < first("rate-limit-use"), "{kinds:?}");
    assert!(target.api.services().await.unwrap().is_empty());
    assert!(target.api.http_channels().await.unwrap().is_empty());

    // The import, then the same export.
    let (code, imported) = enmasse(&target, &["import", a_file.to_str().unwrap()], &SECRETS).await;
    assert_eq!(code, 0, "{imported}");
    assert_eq!(imported["created"], plan["created"], "{imported}");
    let b_file = b.join("env.yaml");
    let (code, again) = enmasse(&target, &["export", b_file.to_str().unwrap()], &[]).await;
    assert_eq!(code, 0, "{again}");
    assert_eq!(read(&b_file), document);
    assert_eq!(components(&b), components(&a));

    // What was imported works: the password came from the environment variable.
    let hello = format!("{}/hello?name=Ada", target.base);
    let denied = target.http.get(&hello).send().await.unwrap();
    assert_eq!(denied.status(), StatusCode::UNAUTHORIZED);
    let admitted = target
        .http
        .get(&hello)
        .basic_auth("acme", Some(ACME_PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(admitted.status(), StatusCode::OK);
    let body: Value = admitted.json().await.unwrap();
    assert!(body.to_string().contains("Ada"), "{body}");
    let wasi = target
        .http
        .get(format!("{}/wasi", target.base))
        .header("X-API-Key", ROBOT_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(wasi.status(), StatusCode::OK);

    // Twice: nothing changes, YAML or JSON.
    let (code, twice) = enmasse(&target, &["import", a_file.to_str().unwrap()], &SECRETS).await;
    assert_eq!(code, 0, "{twice}");
    assert_eq!(
        (&twice["created"], &twice["updated"]),
        (&json!(0), &json!(0)),
        "{twice}"
    );
    // --update-secrets sends the secrets of objects that exist: a new password takes over.
    let mut changed = SECRETS.to_vec();
    changed[0].1 = "acme's new password";
    let (code, updated) = enmasse(
        &target,
        &["import", a_file.to_str().unwrap(), "--update-secrets"],
        &changed,
    )
    .await;
    assert_eq!(code, 0, "{updated}");
    assert_eq!(updated["created"], 0, "{updated}");
    assert!(updated["updated"].as_u64().unwrap() >= 1, "{updated}");
    for (password, status) in [
        (ACME_PASSWORD, StatusCode::UNAUTHORIZED),
        ("acme's new password", StatusCode::OK),
    ] {
        let answer = target
            .http
            .get(&hello)
            .basic_auth("acme", Some(password))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), status, "{password}");
    }

    let json_file = b.join("env.json");
    let (code, _) = enmasse(&target, &["export", json_file.to_str().unwrap()], &[]).await;
    assert_eq!(code, 0);
    let (code, from_json) = enmasse(&target, &["import", json_file.to_str().unwrap()], &[]).await;
    assert_eq!(code, 0, "{from_json}");
    assert_eq!(from_json["created"], 0, "{from_json}");
    assert_eq!(from_json["updated"], 0, "{from_json}");
    assert_eq!(from_json["unchanged"], twice["unchanged"], "{from_json}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_broken_file_is_refused_whole_naming_each_problem_and_changes_nothing() {
    let server = TestServer::start().await;
    server.deploy(wasm::HELLO).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("services")).unwrap();
    std::fs::copy(wasm::SOAP_HELLO, dir.path().join("services/soap.wasm")).unwrap();
    let file = dir.path().join("broken.yaml");
    std::fs::write(
        &file,
        r#"zato_enmasse: 1
rate_limits:
  - name: partners
    rules: ["* = 10/s"]
security:
  - name: partner
    settings: {type: basic-auth, username: acme}
    secret: ${ZATO_SECRET_SECURITY_PARTNER}
  - name: tokens
    settings: {type: jwt, algorithm: HS256, issuer: zato, audience: partners, login: robot}
    secret: an HS256 key of more than 32 bytes, for enmasse
services:
  - name: demo.soap-hello
    sha256: "0000000000000000000000000000000000000000000000000000000000000000"
    file: services/soap.wasm
  - name: demo.gone
    sha256: "1111111111111111111111111111111111111111111111111111111111111111"
    file: services/gone.wasm
http_channels:
  - name: hello
    path: /hello
    service: demo.hello
    security: partner
  - name: missing
    path: /missing
    service: demo.missing
    security: nobody
jobs:
  - name: nightly
    service: demo.hello
    schedule: {kind: cron, expression: "0 3 * * *"}
    calendars: [holidays]
rate_limit_uses:
  - type: soap-channel
    object: nowhere
    rate_limit: partners
"#,
    )
    .unwrap();
    let (code, refused) = enmasse(&server, &["import", file.to_str().unwrap()], &[]).await;
    assert_eq!(code, 1, "{refused}");
    let problems: Vec<&str> = refused["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    for expected in [
        "its secret `${ZATO_SECRET_SECURITY_PARTNER}` is not set",
        "service `demo.soap-hello`: `services/soap.wasm` has sha256",
        "service `demo.gone`: cannot read `services/gone.wasm`",
        "HTTP channel `missing` names service `demo.missing`",
        "HTTP channel `missing` names security definition `nobody`",
        "job `nightly` names calendar `holidays`",
        "attaches to SOAP channel `nowhere`",
        "security definition `tokens` logs in with basic-auth definition `robot`, which neither",
    ] {
        assert!(
            problems.iter().any(|p| p.contains(expected)),
            "no problem says {expected:?}: {problems:#?}"
        );
    }
    assert_eq!(problems.len(), 8, "{problems:#?}");
    // Nothing changed, not even what had no problem (the rate limit, the channel).
    assert!(server.api.rate_limits().await.unwrap().is_empty());
    assert!(server.api.security_defs().await.unwrap().is_empty());
    assert!(server.api.http_channels().await.unwrap().is_empty());
    assert!(server.api.jobs().await.unwrap().is_empty());
    assert_eq!(server.api.services().await.unwrap().len(), 1);

    // A file that is not a document: its line named, nothing changed.
    std::fs::write(&file, "zato_enmasse: 1\nchanels: []\n").unwrap();
    let (code, refused) = enmasse(&server, &["import", file.to_str().unwrap()], &[]).await;
    assert_eq!(code, 1, "{refused}");
    let error = refused["error"].as_str().unwrap();
    assert!(
        error.contains("unknown field `chanels`") && error.contains("line 2"),
        "{error}"
    );
}
