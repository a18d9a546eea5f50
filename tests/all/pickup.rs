//! The pickup directory's odd entries: each ignored one is named once in the log with
//! why, a name that is not UTF-8 still deploys, and a file still being written is
//! waited for, never refused.

use std::os::unix::ffi::OsStrExt as _;
use std::time::Duration;

use zato_test_artifacts as wasm;

use crate::harness::{TestServer, eventually, pickup_log_count, pickup_logged};

const DEADLINE: Duration = Duration::from_secs(20);

async fn logged(what: &str, line: &str) {
    eventually(DEADLINE, what, || async {
        pickup_logged(line).then_some(())
    })
    .await;
}

#[tokio::test]
async fn every_odd_entry_is_named_once_in_the_log_and_a_non_utf8_name_deploys() {
    let server = TestServer::start().await;
    let pickup = server.pickup();
    // Names of this test's own: the log is shared by every test of the binary.
    let id = uuid::Uuid::new_v4().simple().to_string();
    let dir = format!("dir-{id}.wasm");
    let fifo = format!("fifo-{id}.wasm");
    let empty = format!("empty-{id}.wasm");
    let notes = format!("notes-{id}.txt");
    std::fs::create_dir(pickup.join(&dir)).unwrap();
    let made = std::process::Command::new("mkfifo")
        .arg(pickup.join(&fifo))
        .status()
        .unwrap();
    assert!(made.success(), "mkfifo");
    std::fs::write(pickup.join(&empty), b"").unwrap();
    std::fs::write(pickup.join(&notes), b"hello").unwrap();
    let latin1 = std::ffi::OsStr::from_bytes(b"caf\xe9-echo.wasm");
    std::fs::copy(wasm::ECHO, pickup.join(latin1)).unwrap();

    logged(
        "the directory",
        &format!("ignoring `{dir}`: a directory, not a file"),
    )
    .await;
    logged(
        "the FIFO",
        &format!("ignoring `{fifo}`: not a regular file"),
    )
    .await;
    logged(
        "the empty file",
        &format!("`{empty}` is empty; waiting for its content"),
    )
    .await;
    logged(
        "the text file",
        &format!("ignoring `{notes}`: not a `.wasm` file"),
    )
    .await;
    eventually(
        DEADLINE,
        "test.echo from a name that is not UTF-8",
        || async { server.running_version("test.echo").await },
    )
    .await;
    // Another event on each entry says nothing new.
    std::fs::write(pickup.join(&empty), b"").unwrap();
    std::fs::write(pickup.join(&notes), b"hello again").unwrap();
    let marker = format!("marker-{id}.txt");
    std::fs::write(pickup.join(&marker), b"").unwrap();
    logged("the marker", &format!("ignoring `{marker}`")).await;
    for name in [&dir, &fifo, &empty, &notes] {
        assert_eq!(
            pickup_log_count(&format!("`{name}`")),
            1,
            "{name} named once"
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn a_file_written_slowly_is_waited_for_and_deployed_once_whole() {
    let server = TestServer::start().await;
    let id = uuid::Uuid::new_v4().simple().to_string();
    let name = format!("slow-{id}.wasm");
    let path = server.pickup().canonicalize().unwrap().join(&name);
    let bytes = std::fs::read(wasm::ECHO).unwrap();
    let mut file = std::fs::File::create(&path).unwrap();
    let pieces = 5;
    let piece = bytes.len().div_ceil(pieces);
    for (i, chunk) in bytes.chunks(piece).enumerate() {
        use std::io::Write as _;
        file.write_all(chunk).unwrap();
        file.flush().unwrap();
        if i == 0 {
            // The watcher has seen the start of the file, and waits for the rest.
            logged("the incomplete file", &format!("`{name}` is incomplete")).await;
        } else if i + 1 < pieces {
            // A writer that pauses longer than the watcher's stability check.
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }
    drop(file);
    eventually(
        DEADLINE,
        "test.echo deployed from the slow file",
        || async { server.running_version("test.echo").await },
    )
    .await;
    assert!(
        !pickup_logged(&format!("cannot deploy `{}`", path.display())),
        "never refused while incomplete"
    );
    assert_eq!(pickup_log_count(&format!("`{name}` is incomplete")), 1);
    server.stop().await;
}
