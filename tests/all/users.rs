//! Admin API users: created, listed, changed and deleted with `zato user`, known to
//! every server of the cluster at once; a user whose password is wrong too often is
//! locked out with a message that says so; no password ever in an answer or the CLI's
//! JSON.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use crate::harness::{Backend, Cluster, PASSWORD, USER, eventually};

const OPS_PASSWORD: &str = "ops password, long enough";
const NEW_PASSWORD: &str = "a changed ops password";

/// `zato user ARGS --json` against `base` as the admin: (exit code, JSON document).
async fn user(base: &str, args: &[&str]) -> (i32, Value) {
    let mut all = vec!["user"];
    all.extend_from_slice(args);
    all.extend(["--url", base, "--user", USER, "--admin-password", PASSWORD]);
    crate::cli::zato_json(&all).await
}

/// `GET /zato/api/services` on `base` as `username`: the status and the body.
async fn as_user(base: &str, username: &str, password: &str) -> (StatusCode, String) {
    let response = reqwest::Client::new()
        .get(format!("{base}/zato/api/services"))
        .basic_auth(username, Some(password))
        .send()
        .await
        .unwrap();
    (response.status(), response.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_are_made_changed_and_deleted_on_every_server_and_a_guessed_one_is_locked_out() {
    let cluster = Cluster::start_adjusted(2, Backend::Sqlite, crate::harness::REDIS, |config| {
        // Per address, generous: every request of the test comes from 127.0.0.1.
        config.admin.login.max_failures = 100;
        config.admin.login.max_user_failures = 3;
    })
    .await;
    let (one, two) = (&cluster.servers[0].base, &cluster.servers[1].base);

    let (code, created) = user(
        one,
        &["create", "--name", "ops", "--password", OPS_PASSWORD],
    )
    .await;
    assert_eq!(code, 0, "{created}");
    assert_eq!(created["username"], "ops");
    assert_eq!(created["source"], "odb");
    let shown = created.to_string();
    assert!(
        !shown.contains(OPS_PASSWORD) && !shown.contains("argon2"),
        "{shown}"
    );
    // The user works on the server that made it at once, and on the other once told.
    assert_eq!(as_user(one, "ops", OPS_PASSWORD).await.0, StatusCode::OK);
    eventually(Duration::from_secs(10), "server2 knows ops", || async {
        (as_user(two, "ops", OPS_PASSWORD).await.0 == StatusCode::OK).then_some(())
    })
    .await;
    let (code, listed) = user(two, &["list"]).await;
    assert_eq!(code, 0);
    assert_eq!(listed[0]["username"], USER);
    assert_eq!(listed[0]["source"], "config");
    assert_eq!(listed[1]["username"], "ops");
    let shown = listed.to_string();
    assert!(
        !shown.contains("argon2") && !shown.contains(OPS_PASSWORD),
        "{shown}"
    );

    // Bad input is refused naming it, and changes nothing.
    let (code, refused) = user(one, &["create", "--name", "ops2", "--password", "short"]).await;
    assert_eq!(code, 2, "{refused}");
    assert!(
        refused["error"].as_str().unwrap().contains("at least 12"),
        "{refused}"
    );
    let (code, refused) = user(
        one,
        &["create", "--name", "ops", "--password", OPS_PASSWORD],
    )
    .await;
    assert_ne!(code, 0);
    assert!(
        refused["error"]
            .as_str()
            .unwrap()
            .contains("exists already"),
        "{refused}"
    );
    let (code, refused) = user(one, &["delete", USER]).await;
    assert_ne!(code, 0);
    assert!(
        refused["error"].as_str().unwrap().contains("server.toml"),
        "{refused}"
    );

    // A changed password takes over on both servers; the old one is refused.
    let (code, changed) = user(two, &["change-password", "ops", "--password", NEW_PASSWORD]).await;
    assert_eq!(code, 0, "{changed}");
    for base in [one, two] {
        eventually(
            Duration::from_secs(10),
            "the new password counts",
            || async {
                (as_user(base, "ops", NEW_PASSWORD).await.0 == StatusCode::OK).then_some(())
            },
        )
        .await;
        assert_eq!(
            as_user(base, "ops", OPS_PASSWORD).await.0,
            StatusCode::UNAUTHORIZED
        );
    }

    // Wrong passwords: on server1 the user is locked after three, with a message that
    // says so (the one wrong guess above counts too), even with the right password.
    let mut locked = None;
    for _ in 0..4 {
        let (status, body) = as_user(one, "ops", "a wrong guess").await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            locked = Some(body);
            break;
        }
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let locked = locked.expect("ops is locked out after repeated failures");
    assert!(
        locked.contains("admin user `ops` is locked out"),
        "{locked}"
    );
    // Credentials verified before the lockout still pass (a guesser cannot lock out
    // a user who is working); the admin is not locked out with it.
    assert_eq!(as_user(one, "ops", NEW_PASSWORD).await.0, StatusCode::OK);
    assert_eq!(as_user(one, USER, PASSWORD).await.0, StatusCode::OK);

    // Deleted: refused everywhere.
    let (code, deleted) = user(two, &["delete", "ops"]).await;
    assert_eq!(code, 0, "{deleted}");
    eventually(Duration::from_secs(10), "server2 forgets ops", || async {
        (as_user(two, "ops", NEW_PASSWORD).await.0 == StatusCode::UNAUTHORIZED).then_some(())
    })
    .await;
    cluster.stop().await;
}
