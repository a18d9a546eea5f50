//! The README's guide ("Write and deploy a service in five minutes") run as written:
//! its Cargo.toml and src/lib.rs become a new crate outside the clone, and its shell
//! blocks run there, against a development server started by `zato start` (no
//! directory), with the `zato` this test run built on the `PATH`.
//!
//! What the text says of the reader's machine is mapped onto the test's: the clone
//! (`~/zato`, `../zato`) is a temporary directory where the development server runs,
//! except for the SDK's path, which is this clone's; the server's port 17010 is the
//! port it was given. Nothing else of the text is changed, so a guide command that
//! stops working fails this test.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::Command;

use crate::harness::eventually;

/// The guide's section of the README.
fn guide() -> String {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let start = readme
        .find("## Write and deploy a service in five minutes")
        .expect("the README has the guide");
    let rest = &readme[start..];
    let end = rest[3..].find("\n## ").map_or(rest.len(), |i| i + 3);
    rest[..end].to_owned()
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

/// The fenced code blocks of `text`, as (language, body), indentation removed.
fn blocks(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut current: Option<(String, String, usize)> = None;
    for line in text.lines() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        match (&mut current, trimmed.strip_prefix("```")) {
            (None, Some(lang)) => current = Some((lang.trim().to_owned(), String::new(), indent)),
            (Some(_), Some(_)) => {
                let (lang, body, _) = current.take().unwrap();
                out.push((lang, body));
            }
            (Some((_, body, indent)), None) => {
                body.push_str(line.get(*indent..).unwrap_or(line.trim_start()));
                body.push('\n');
            }
            (None, None) => {}
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_guide_works_as_written() {
    let home = tempfile::tempdir().unwrap();
    let clone = home.path().join("zato");
    let krate = home.path().join("greeter");
    std::fs::create_dir_all(&clone).unwrap();
    std::fs::create_dir_all(krate.join("src")).unwrap();

    // The development server, as the README's first command ends: `zato start`.
    let log = std::fs::File::create(home.path().join("server.log")).unwrap();
    let mut server = Command::new(env!("CARGO_BIN_EXE_zato"))
        .args(["start", "--port", "0"])
        .current_dir(&clone)
        .env_remove("ZATO_ENV")
        .stdout(Stdio::null())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let address_file = clone.join(".zato/server1/address");
    let address = eventually(
        Duration::from_secs(60),
        "the development server listens",
        || async {
            std::fs::read_to_string(&address_file)
                .ok()
                .map(|a| a.trim().to_owned())
        },
    )
    .await;
    // Once up, it says where its web admin is and how to log in (the README's promise).
    let server_log = home.path().join("server.log");
    let said = eventually(
        Duration::from_secs(60),
        "the development server prints its web admin's URL and login",
        || async {
            std::fs::read_to_string(&server_log)
                .ok()
                .filter(|log| log.contains("Web admin: http://127.0.0.1:"))
        },
    )
    .await;
    assert!(
        said.contains("(user `admin`, password in ") && said.contains("credentials.toml"),
        "{said}"
    );

    let guide = guide();
    let sdk = repo().join("sdk-rust");
    let mut shell = Vec::new();
    for (lang, body) in blocks(&guide) {
        let body = body
            .replace("../zato/sdk-rust", sdk.to_str().unwrap())
            .replace("~/zato", clone.to_str().unwrap())
            .replace("127.0.0.1:17010", &address);
        match lang.as_str() {
            "toml" if body.starts_with("# Cargo.toml") => {
                std::fs::write(krate.join("Cargo.toml"), body).unwrap()
            }
            "rust" if body.starts_with("// src/lib.rs") => {
                std::fs::write(krate.join("src/lib.rs"), body).unwrap()
            }
            "sh" => shell.push(body),
            other => panic!("a block of the guide the test does not know: {other}\n{body}"),
        }
    }
    assert!(
        krate.join("Cargo.toml").exists() && krate.join("src/lib.rs").exists(),
        "the guide shows Cargo.toml and src/lib.rs"
    );
    assert_eq!(shell.len(), 2, "steps 3 and 4");
    // The crate resolves the SDK's dependencies as the examples do (no registry
    // lookup in a test); its own target directory lives in the shared one, so that it
    // is built once across runs.
    std::fs::copy(repo().join("examples/Cargo.lock"), krate.join("Cargo.lock")).unwrap();
    let cache = target_dir().join("guide-crate");
    std::fs::create_dir_all(&cache).unwrap();
    std::os::unix::fs::symlink(&cache, krate.join("target")).unwrap();

    let zato_dir = Path::new(env!("CARGO_BIN_EXE_zato")).parent().unwrap();
    let path = format!(
        "{}:{}",
        zato_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let script = format!("set -euxo pipefail\n{}", shell.join("\n"));
    let output = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(&krate)
        .env("PATH", path)
        .env_remove("ZATO_ENV")
        .env_remove("ZATO_URL")
        .env_remove("ZATO_USER")
        .env_remove("ZATO_PASSWORD")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET_DIR")
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the guide failed:\n{script}\n--- stdout\n{stdout}\n--- stderr\n{stderr}\n--- server log\n{}",
        std::fs::read_to_string(home.path().join("server.log")).unwrap_or_default()
    );
    // The call through the channel and the first invoke greet with the default
    // title; the invoke after `config --set title=Dr` with the new one.
    assert_eq!(
        stdout.matches("Hello, dear Ada!").count(),
        2,
        "stdout:\n{stdout}"
    );
    assert!(stdout.contains("Hello, Dr Ada!"), "stdout:\n{stdout}");
    // The pickup directory deletes the file once its own deploy of it is done, which
    // may end after the script does: `zato deploy` of the same bytes answered first.
    let dropped = clone.join("pickup/greeter.wasm");
    let waited = Instant::now();
    while dropped.exists() {
        assert!(
            waited.elapsed() < Duration::from_secs(30),
            "the pickup directory did not delete what it deployed within 30 s\n--- server log\n{}",
            std::fs::read_to_string(home.path().join("server.log")).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = server.start_kill();
    let _ = server.wait().await;
}

/// The target directory of this test run (where the `zato` binary is).
fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_zato"))
        .ancestors()
        .nth(2)
        .unwrap()
        .to_path_buf()
}

#[test]
fn blocks_are_read_with_their_language_and_without_their_indentation() {
    let text = "1. Step\n\n   ```sh\n   echo a\n     echo b\n   ```\n\n```toml\nx = 1\n```\n";
    assert_eq!(
        blocks(text),
        [
            ("sh".to_owned(), "echo a\n  echo b\n".to_owned()),
            ("toml".to_owned(), "x = 1\n".to_owned())
        ]
    );
}
