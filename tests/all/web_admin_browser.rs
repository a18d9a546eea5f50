//! The web admin in a real browser: Debian's Chromium (`/usr/bin/chromium`, headless),
//! driven by `playwright-core` (`tests/browser/web_admin.mjs`, installed by
//! `tests/run.sh`), against a 2-server cluster made by `zato quickstart create` and
//! started by `zato start`, as a person would use it: log in, upload a service and see
//! every server run it, invoke it, upload a broken file, create a channel and call it,
//! schedule it every second and see it run, pause it and delete the job, create an
//! outgoing HTTP connection to a local backend, ping it and delete it.
//! Screenshots of each page land in `TARGET/web-admin-screenshots/`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cli::{address, password_of, quickstart_cluster_of, signal, start, text};
use crate::harness::eventually;
use zato_test_artifacts as wasm;

/// Where the screenshots go: the target directory this test binary was built in.
fn screenshots() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    // TARGET/debug/deps/all-HASH
    let target = exe.ancestors().nth(3).unwrap_or(Path::new("target"));
    target.join("web-admin-screenshots")
}

fn browser_tests() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_uploads_invokes_and_routes_a_service_from_the_browser() {
    let chromium = Path::new("/usr/bin/chromium");
    let playwright = browser_tests().join("node_modules/playwright-core");
    assert!(
        chromium.exists() && playwright.exists(),
        "the browser tests need Debian's chromium and tests/browser/node_modules: \
         tests/run.sh installs both (apt-get install chromium; npm ci --prefix tests/browser)"
    );
    let dir = tempfile::tempdir().unwrap();
    let env = dir.path().join("env");
    let env_arg = env.to_str().unwrap();
    quickstart_cluster_of("2", env_arg, &[]).await;
    let log = dir.path().join("start.log");
    let supervisor = start(&env, &log).await;
    let mut servers = Vec::new();
    for name in ["server1", "server2"] {
        servers.push(address(&env.join(name)).await);
    }
    let web_admin = eventually(
        Duration::from_secs(60),
        "the web admin writes its address",
        || async {
            std::fs::read_to_string(env.join("web-admin/address"))
                .ok()
                .map(|a| format!("http://{}", a.trim()))
        },
    )
    .await;
    let broken = dir.path().join("broken.wasm");
    std::fs::write(&broken, b"\0asm\x01\0\0\0 this is not a component").unwrap();
    let shots = screenshots();
    std::fs::create_dir_all(&shots).unwrap();

    let run = tokio::process::Command::new("node")
        .arg(browser_tests().join("web_admin.mjs"))
        .env("WEB_ADMIN_URL", &web_admin)
        .env("ZATO_USER", "admin")
        .env("ZATO_PASSWORD", password_of(&env))
        .env("ZATO_SERVERS", servers.join(","))
        .env("HELLO_WASM", wasm::HELLO)
        .env("BROKEN_WASM", &broken)
        .env("SCREENSHOTS", &shots)
        .env("CHROMIUM", chromium)
        .kill_on_drop(true)
        .output();
    let run = tokio::time::timeout(Duration::from_secs(240), run)
        .await
        .expect("the browser run ends within 4 minutes")
        .unwrap();
    let report = format!(
        "stdout:\n{}\nstderr:\n{}\nzato start's log:\n{}",
        text(&run.stdout),
        text(&run.stderr),
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    assert!(run.status.success(), "{report}");
    assert!(
        text(&run.stdout).contains("all steps passed"),
        "the script ran to its end: {report}"
    );
    for page in [
        "login",
        "dashboard",
        "services",
        "upload-progress",
        "invoke",
        "scheduler-form",
        "scheduler-job",
        "scheduler",
        "outconn-form",
        "outconns",
    ] {
        assert!(
            shots.join(format!("{page}.png")).exists(),
            "a screenshot of {page}"
        );
    }
    // Stopped as a person would (Ctrl-C): the supervisor stops its children first.
    let mut supervisor = supervisor;
    signal(&supervisor.0.id().unwrap().to_string(), "TERM").await;
    let stopped = tokio::time::timeout(Duration::from_secs(30), supervisor.0.wait())
        .await
        .expect("zato start stops on SIGTERM")
        .unwrap();
    assert!(stopped.success(), "{report}");
}
