//! Data dictionaries end to end, through the example `demo.currency` (which translates
//! currency codes between the systems `crm` and `accounting`): a CSV imported with the
//! CLI translates in the service; bad imports are refused naming the line or field and
//! change nothing; and on two servers sharing PostgreSQL and Redis, a change made
//! through one server's admin API reaches the other's service through the broker.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use zato_api::{DictEntry, DictFormat, DictImport, DictTranslation};
use zato_test_artifacts as wasm;

use crate::cli::{text, zato};
use crate::harness::{Backend, Cluster, PASSWORD, REDIS, TestServer, USER, eventually};

const HEADER: &str = "system1,key1,value1,system2,key2,value2\n";

/// `zato dictionary ARGS --json` against `server`: (exit code, the one JSON document).
async fn dictionary(server: &TestServer, args: &[&str]) -> (i32, Value) {
    let mut all = vec!["dictionary"];
    all.extend_from_slice(args);
    all.extend_from_slice(&[
        "--url",
        &server.base,
        "--user",
        USER,
        "--password",
        PASSWORD,
    ]);
    all.push("--json");
    let out = zato(&all).await;
    let doc = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "zato {all:?}: stdout is not one JSON document ({e}):\n{}\n{}",
            text(&out.stdout),
            text(&out.stderr)
        )
    });
    (out.status.code().unwrap(), doc)
}

/// What `demo.currency` answers for `currency` written for `from`.
async fn codes(server: &TestServer, currency: &str, from: &str) -> (StatusCode, Value) {
    server
        .invoke(
            "demo.currency",
            &json!({"currency": currency, "from": from}).to_string(),
        )
        .await
}

fn usd_to(value: &str) -> Value {
    json!({"crm": "USD", "accounting": value})
}

#[tokio::test(flavor = "multi_thread")]
async fn a_csv_imported_with_the_cli_translates_in_a_service() {
    let server = TestServer::start().await;
    server.deploy(wasm::CURRENCY).await;
    let (status, answer) = codes(&server, "USD", "crm").await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "nothing to translate with yet: {answer}"
    );
    assert!(
        answer
            .to_string()
            .contains("no translation of crm/currency/USD into accounting/currency"),
        "{answer}"
    );

    let file = server.dir.path().join("currencies.csv");
    std::fs::write(
        &file,
        format!(
            "{HEADER}crm,currency,USD,accounting,currency,840\r\n\
             accounting,currency,978,crm,currency,EUR\r\n\
             crm,currency,\"Zł, \"\"new\"\"\",accounting,currency,985\n\
             crm,currency,GBP,,,\n"
        ),
    )
    .unwrap();
    let (code, imported) = dictionary(&server, &["import", file.to_str().unwrap()]).await;
    assert_eq!(code, 0, "{imported}");
    assert_eq!(
        imported,
        json!({"entries": 7, "translations": 3, "replaced": false})
    );

    // Both ways, on the server that imported it, at once.
    assert_eq!(
        codes(&server, "USD", "crm").await,
        (StatusCode::OK, usd_to("840"))
    );
    assert_eq!(
        codes(&server, "840", "accounting").await,
        (StatusCode::OK, usd_to("840"))
    );
    assert_eq!(
        codes(&server, "978", "accounting").await.1,
        json!({"crm": "EUR", "accounting": "978"})
    );
    assert_eq!(
        codes(&server, "Zł, \"new\"", "crm").await.1,
        json!({"crm": "Zł, \"new\"", "accounting": "985"}),
        "a quoted field keeps its comma and quotes"
    );
    assert_eq!(
        codes(&server, "GBP", "crm").await.0,
        StatusCode::BAD_REQUEST,
        "an entry alone translates to nothing"
    );
    let (code, value) = dictionary(
        &server,
        &[
            "translate",
            "crm",
            "currency",
            "USD",
            "accounting",
            "currency",
        ],
    )
    .await;
    assert_eq!((code, value), (0, json!({"value": "840"})));
    let (code, missing) = dictionary(
        &server,
        &[
            "translate",
            "crm",
            "currency",
            "GBP",
            "accounting",
            "currency",
        ],
    )
    .await;
    assert_eq!(code, 1, "{missing}");
    assert!(
        missing["error"]
            .as_str()
            .unwrap()
            .contains("crm/currency/GBP"),
        "{missing}"
    );

    // Listed and exported as imported; the JSON export imports back, replacing.
    let (_, listed) = dictionary(&server, &["list", "--system", "crm"]).await;
    assert_eq!(listed.as_array().unwrap().len(), 3, "{listed}");
    let (_, entries) = dictionary(&server, &["entries", "--system", "crm"]).await;
    assert_eq!(entries.as_array().unwrap().len(), 4, "{entries}");
    let exported = zato(&[
        "dictionary",
        "export",
        "--url",
        &server.base,
        "--user",
        USER,
        "--password",
        PASSWORD,
    ])
    .await;
    assert!(exported.status.success(), "{}", text(&exported.stderr));
    let csv = text(&exported.stdout);
    assert!(csv.starts_with(HEADER), "{csv}");
    assert!(
        csv.contains("accounting,currency,840,crm,currency,USD\n"),
        "{csv}"
    );
    assert!(csv.contains("crm,currency,GBP,,,\n"), "{csv}");
    let json_file = server.dir.path().join("dictionary.json");
    let (code, written) = dictionary(
        &server,
        &[
            "export",
            "--format",
            "json",
            "--output",
            json_file.to_str().unwrap(),
        ],
    )
    .await;
    assert_eq!(code, 0, "{written}");
    assert_eq!(written["translations"], 3);
    let (code, _) = dictionary(
        &server,
        &[
            "set",
            "crm",
            "currency",
            "USD",
            "accounting",
            "currency",
            "841",
        ],
    )
    .await;
    assert_eq!(code, 0);
    assert_eq!(
        codes(&server, "USD", "crm").await.1,
        usd_to("841"),
        "a change is in force on its server when the command returns"
    );
    assert_eq!(
        codes(&server, "840", "accounting").await.0,
        StatusCode::BAD_REQUEST,
        "840 lost its translation to the new one"
    );
    let (code, replaced) = dictionary(
        &server,
        &["import", json_file.to_str().unwrap(), "--replace"],
    )
    .await;
    assert_eq!(code, 0, "{replaced}");
    assert_eq!(replaced["replaced"], true);
    assert_eq!(
        codes(&server, "USD", "crm").await.1,
        usd_to("840"),
        "back as exported"
    );

    // Deleting an entry takes its translation with it.
    let (code, deleted) = dictionary(
        &server,
        &[
            "delete", "--system", "crm", "--key", "currency", "--value", "USD",
        ],
    )
    .await;
    assert_eq!(
        (code, deleted),
        (0, json!({"entries": 1, "translations": 1}))
    );
    assert_eq!(
        codes(&server, "USD", "crm").await.0,
        StatusCode::BAD_REQUEST
    );
    let (code, none) = dictionary(&server, &["delete", "--system", "erp"]).await;
    assert_eq!(code, 1, "{none}");
    assert_eq!(none["status"], 404, "{none}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_import_is_refused_naming_the_line_or_field_and_changes_nothing() {
    let server = TestServer::start().await;
    server.deploy(wasm::CURRENCY).await;
    let good = server.dir.path().join("good.csv");
    std::fs::write(
        &good,
        format!("{HEADER}crm,currency,USD,accounting,currency,840\n"),
    )
    .unwrap();
    let (code, _) = dictionary(&server, &["import", good.to_str().unwrap()]).await;
    assert_eq!(code, 0);
    let before = server.api.dictionary(None, None).await.unwrap();

    // Each file starts with a good, new line (JPY) and a change (USD): neither may land.
    let first =
        "crm,currency,JPY,accounting,currency,392\ncrm,currency,USD,accounting,currency,841\n";
    let cases = [
        (
            format!("{HEADER}{first}crm,currency,\"EUR,accounting,currency,978\n"),
            "line 4: a quoted field is not closed",
        ),
        (
            format!("{HEADER}{first}crm,currency,E\"UR,accounting,currency,978\n"),
            "line 4: a quote inside",
        ),
        (
            format!("{HEADER}{first}crm,currency,EUR,accounting,currency\n"),
            "line 4: 5 fields",
        ),
        (
            format!("{HEADER}{first},currency,EUR,accounting,currency,978\n"),
            "line 4: system1 `` is empty",
        ),
        (
            format!("{HEADER}{first}crm,currency,EUR,accounting,,978\n"),
            "line 4: key2 `` is empty",
        ),
        (
            format!("{HEADER}{first}crm,currency,USD,accounting,currency,842\n"),
            "line 4: crm/currency/USD translates to `841`",
        ),
        (
            format!("system1,key1,value1,system2,key2,colour\n{first}"),
            "line 1: unknown column `colour`",
        ),
        (
            format!("system1,key1,value1,system2,key2\n{first}"),
            "line 1: no column `value2`",
        ),
    ];
    for (i, (csv, expected)) in cases.iter().enumerate() {
        let file = server.dir.path().join(format!("bad{i}.csv"));
        std::fs::write(&file, csv).unwrap();
        for replace in [false, true] {
            let mut args = vec!["import", file.to_str().unwrap()];
            if replace {
                args.push("--replace");
            }
            let (code, error) = dictionary(&server, &args).await;
            assert_eq!(code, 1, "{csv}: {error}");
            let message = error["error"].as_str().unwrap();
            assert!(
                message.contains(expected),
                "{csv}: expected {expected:?} in {message}"
            );
            assert!(
                message.contains(&format!("bad{i}.csv")),
                "names the file: {message}"
            );
            assert_eq!(error["status"], 400, "{error}");
        }
        assert_eq!(
            server.api.dictionary(None, None).await.unwrap(),
            before,
            "{expected}: nothing half-applied"
        );
        assert_eq!(codes(&server, "USD", "crm").await.1, usd_to("840"));
        assert_eq!(
            codes(&server, "JPY", "crm").await.0,
            StatusCode::BAD_REQUEST
        );
    }

    // JSON names the field, and the item whose value is bad.
    let json_file = server.dir.path().join("bad.json");
    std::fs::write(
        &json_file,
        r#"{"translations": [{"system1": "crm", "key1": "currency", "value1": "JPY",
            "system2": "accounting", "key2": "currency", "value2": "392", "colour": "red"}]}"#,
    )
    .unwrap();
    let (code, error) = dictionary(&server, &["import", json_file.to_str().unwrap()]).await;
    assert_eq!(code, 1);
    assert!(
        error["error"]
            .as_str()
            .unwrap()
            .contains("unknown field `colour`"),
        "{error}"
    );
    std::fs::write(
        &json_file,
        r#"{"translations": [{"system1": "crm", "key1": "currency", "value1": "JPY",
            "system2": "accounting", "key2": "currency", "value2": "392"},
            {"system1": "crm", "key1": "currency", "value1": "EUR",
            "system2": "", "key2": "currency", "value2": "978"}]}"#,
    )
    .unwrap();
    let (code, error) = dictionary(&server, &["import", json_file.to_str().unwrap()]).await;
    assert_eq!(code, 1);
    assert!(
        error["error"]
            .as_str()
            .unwrap()
            .contains("translations[1]: system2 `` is empty"),
        "{error}"
    );
    assert_eq!(server.api.dictionary(None, None).await.unwrap(), before);

    // A file that is not there, and a translation set with an empty system.
    let (code, error) = dictionary(&server, &["import", "/nonexistent/x.csv"]).await;
    assert_eq!(code, 1);
    assert!(
        error["error"]
            .as_str()
            .unwrap()
            .contains("/nonexistent/x.csv"),
        "{error}"
    );
    let (code, error) = dictionary(
        &server,
        &["set", "crm", "currency", "USD", " ", "currency", "841"],
    )
    .await;
    assert_eq!(code, 1, "{error}");
    assert!(
        error["error"].as_str().unwrap().contains("system2"),
        "{error}"
    );
    assert_eq!(server.api.dictionary(None, None).await.unwrap(), before);
    server.stop().await;
}

/// The other server polls nothing: its reconcile is an hour away, so only the broker's
/// notice can bring it each change.
#[tokio::test(flavor = "multi_thread")]
async fn a_change_on_one_server_reaches_the_other_through_the_broker() {
    let cluster = Cluster::start_adjusted(2, Backend::Postgres, REDIS, |c| {
        c.deploy.reconcile_interval_ms = 3_600_000;
    })
    .await;
    let [one, two] = [&cluster.servers[0], &cluster.servers[1]];
    one.deploy(wasm::CURRENCY).await;
    cluster
        .wait_for_version("demo.currency", 1, Duration::from_secs(30))
        .await;
    assert_eq!(codes(two, "USD", "crm").await.0, StatusCode::BAD_REQUEST);

    let translates_to = |expected: Option<&'static str>| async move {
        eventually(
            Duration::from_secs(15),
            &format!("server2's demo.currency to answer {expected:?}"),
            || async {
                let (status, answer) = codes(two, "USD", "crm").await;
                let now = (status == StatusCode::OK).then(|| answer["accounting"].clone());
                (now == expected.map(Value::from)).then_some(())
            },
        )
        .await;
    };

    // An import through server1's admin API.
    one.api
        .import_dictionary(&DictImport {
            format: DictFormat::Csv,
            data: format!("{HEADER}crm,currency,USD,accounting,currency,840\n"),
            replace: false,
        })
        .await
        .unwrap();
    translates_to(Some("840")).await;

    // A change of that translation.
    let changed = DictTranslation {
        system1: "crm".into(),
        key1: "currency".into(),
        value1: "USD".into(),
        system2: "accounting".into(),
        key2: "currency".into(),
        value2: "841".into(),
    };
    one.api.set_translation(&changed).await.unwrap();
    translates_to(Some("841")).await;
    let from = DictEntry {
        system: "accounting".into(),
        key: "currency".into(),
        value: "841".into(),
    };
    assert_eq!(
        two.api
            .translate(&from, "crm", "currency")
            .await
            .unwrap()
            .as_deref(),
        Some("USD"),
        "server2's own copy reads it both ways"
    );

    // Its removal.
    one.api
        .delete_translation(&from, "crm", "currency")
        .await
        .unwrap();
    translates_to(None).await;
    cluster.stop().await;
}
