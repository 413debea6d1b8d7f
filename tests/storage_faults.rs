//! Storage faults: a full disk (a real 2 MiB tmpfs), corrupt and foreign
//! files at the store's path, and a store written by a newer version.

mod harness;
mod support;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use harness::*;
use kinesis_recorder::{Recorder, RecorderConfig, RecorderError};
use support::*;

fn offline_config(path: &str) -> RecorderConfig {
    let mut config = RecorderConfig::new(path, "us-east-1");
    config.endpoint = Some("http://127.0.0.1:1".into());
    config.auto_submit = false;
    config
}

/// `PRAGMA integrity_check` through a connection of its own. Exclusive
/// locking, like the recorder: no `-shm` file is needed, so it also works on a
/// full disk.
fn integrity(path: &str) -> String {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.pragma_update(None, "locking_mode", "EXCLUSIVE").unwrap();
    conn.query_row("PRAGMA integrity_check", [], |row| row.get::<_, String>(0))
        .unwrap()
}

fn storage_failure(result: Result<Recorder, RecorderError>) -> String {
    match result {
        // The Display, not the field: robust to the field's name.
        Err(error @ RecorderError::StorageFailure { .. }) => error.to_string(),
        Err(other) => panic!("expected StorageFailure, got {other:?}"),
        Ok(_) => panic!("expected StorageFailure, the store opened"),
    }
}

#[tokio::test]
async fn a_full_disk_gives_a_clear_error_keeps_the_store_valid_and_recovers() {
    let tmpfs = match Tmpfs::mount(2 * 1024 * 1024) {
        Ok(tmpfs) => tmpfs,
        Err(reason) => {
            // Only where mounting is not permitted (an unprivileged container).
            println!("SKIPPED disk-full test: {reason}");
            return;
        }
    };
    let filler = tmpfs.path().join("filler");
    std::fs::write(&filler, vec![0u8; 512 * 1024]).unwrap();
    let db = tmpfs.path().join("records.db");
    let db = db.to_str().unwrap().to_owned();
    let server = FaultServer::start(|request, _| accept_all(request));
    let mut config = offline_config(&db);
    config.endpoint = Some(server.endpoint.clone());
    config.max_storage_bytes = 1024 * 1024 * 1024; // the disk fills long before the limit
    let recorder = Recorder::new(config.clone(), credentials()).unwrap();

    // Save 8 KiB records until the disk refuses them.
    let mut accepted: Vec<Vec<u8>> = Vec::new();
    let mut failure = None;
    for i in 0..1000u32 {
        let mut data = format!("full-{i:05}-").into_bytes();
        data.resize(8 * 1024, b'x');
        match recorder.save_record(data.clone(), "s", None) {
            Ok(()) => accepted.push(data),
            Err(error) => {
                failure = Some(error);
                break;
            }
        }
        if i % 8 == 7 {
            if let Err(error) = recorder.flush() {
                failure = Some(error);
                break;
            }
        }
    }
    let failure = failure.expect("2 MiB of tmpfs never filled up");
    println!("disk full after {} accepted saves: {failure}", accepted.len());
    match &failure {
        RecorderError::StorageFailure { .. } => {
            assert!(
                failure.to_string().contains("full"),
                "the error does not say the disk is full: {failure}"
            )
        }
        other => panic!("expected StorageFailure, got {other:?}"),
    }
    // While the disk refuses writes, saves fail at once with the same error.
    let start = Instant::now();
    let refused = recorder.save_record(b"while full".to_vec(), "s", None);
    assert!(
        matches!(refused, Err(RecorderError::StorageFailure { .. })),
        "{refused:?}"
    );
    assert!(
        start.elapsed() < Duration::from_millis(100),
        "a save blocked on a full disk"
    );

    // A submit while full: sending works, recording the outcome may not; nothing may be lost.
    let report = recorder.submit_all_records().await.unwrap();
    println!("submit while full: {report:?}");

    // Space returns: what was accepted is written, and saving works again.
    std::fs::remove_file(&filler).unwrap();
    assert!(
        wait_until(Duration::from_secs(5), || recorder.flush().is_ok()),
        "the recorder did not recover when space returned"
    );
    for i in 0..10u32 {
        let data = format!("after-{i}").into_bytes();
        recorder.save_record(data.clone(), "s", None).unwrap();
        accepted.push(data);
    }
    recorder.flush().unwrap();
    let report = recorder.submit_all_records().await.unwrap();
    assert_eq!(report.records_remaining, 0, "{report:?}");
    let delivered: HashSet<Vec<u8>> = server
        .requests()
        .iter()
        .flat_map(|r| r.records())
        .map(|(_, d)| d)
        .collect();
    let lost = accepted.iter().filter(|d| !delivered.contains(*d)).count();
    assert_eq!(lost, 0, "{lost} of {} accepted records never delivered", accepted.len());
    recorder.shutdown();
    drop(recorder);
    assert_eq!(integrity(&db), "ok");

    // Every record is delivered and the filler is gone: the store must not
    // keep the disk full. A restart and one small save must work.
    let sizes = |dir: &std::path::Path| -> Vec<(String, usize)> {
        files_with_prefix(dir, "records.db")
            .into_iter()
            .map(|(p, b)| (p.file_name().unwrap().to_string_lossy().into_owned(), b.len()))
            .collect()
    };
    println!(
        "disk full: drained and shut down, {} bytes free, store files {:?}",
        available(tmpfs.path()),
        sizes(tmpfs.path())
    );
    let recorder = Recorder::new(config.clone(), credentials()).unwrap();
    let saved = recorder
        .save_record(b"after the drain".to_vec(), "s", None)
        .and_then(|_| recorder.flush());
    assert!(
        saved.is_ok(),
        "a drained store still fills the disk ({} bytes free, files {:?}): {saved:?}",
        available(tmpfs.path()),
        sizes(tmpfs.path())
    );
    recorder.shutdown();
    drop(recorder);

    // Shut down while the disk is full, then restart while it still is.
    let free = available(tmpfs.path());
    let _ = std::fs::write(&filler, vec![0u8; free as usize + 4096]); // ENOSPC once full: expected
    let recorder = Recorder::new(config.clone(), credentials()).unwrap();
    let mut refused = false;
    for _ in 0..200 {
        if recorder.save_record(vec![b'y'; 8 * 1024], "s", None).is_err() || recorder.flush().is_err() {
            refused = true;
            break;
        }
    }
    assert!(refused, "the disk was expected to be full");
    recorder.shutdown();
    drop(recorder);
    assert_eq!(integrity(&db), "ok", "after a shutdown on a full disk");
    match Recorder::new(config.clone(), credentials()) {
        Ok(recorder) => {
            let result = recorder
                .save_record(vec![b'z'; 8 * 1024], "s", None)
                .and_then(|_| recorder.flush());
            println!("reopened while full: save -> {result:?}");
        }
        Err(error) => {
            assert!(matches!(error, RecorderError::StorageFailure { .. }), "{error:?}");
            println!("reopened while full: {error}");
        }
    }
    std::fs::remove_file(&filler).unwrap();
    assert_eq!(integrity(&db), "ok");
    let recorder = Recorder::new(config, credentials()).unwrap();
    recorder.save_record(b"after restart".to_vec(), "s", None).unwrap();
    recorder.flush().unwrap();
    recorder.shutdown();
    assert_eq!(integrity(&db), "ok");
}

/// Free bytes of the file system holding `dir`.
fn available(dir: &std::path::Path) -> u64 {
    let output = std::process::Command::new("df")
        .args(["-B1", "--output=avail"])
        .arg(dir)
        .output()
        .unwrap();
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .nth(1)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// Bytes that no SQLite reader takes for a database.
fn garbage(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(7)).collect()
}

fn make_store(path: &str, records: u32) {
    let recorder = Recorder::new(offline_config(path), credentials()).unwrap();
    for i in 0..records {
        recorder
            .save_record(vec![b'r'; 500 + i as usize], if i % 2 == 0 { "a" } else { "b" }, None)
            .unwrap();
    }
    recorder.flush().unwrap();
    recorder.shutdown();
}

/// The file at `path` still holds `before`, byte for byte.
fn assert_unchanged(path: &str, before: &[u8], what: &str) {
    let now = std::fs::read(path).unwrap();
    if now != before {
        let first = now
            .iter()
            .zip(before)
            .position(|(a, b)| a != b)
            .unwrap_or(now.len().min(before.len()));
        panic!(
            "{what}: the file was changed by a failed open ({} bytes before, {} after, first difference at byte {first})",
            before.len(),
            now.len()
        );
    }
}

#[test]
fn corrupt_or_foreign_files_give_a_clear_error_and_can_be_moved_aside() {
    type Damage = Box<dyn Fn(&str)>;
    let cases: Vec<(&str, Damage)> = vec![
        (
            "a text file",
            Box::new(|path| std::fs::write(path, "not a database\n".repeat(300)).unwrap()),
        ),
        (
            "random bytes",
            Box::new(|path| std::fs::write(path, garbage(64 * 1024)).unwrap()),
        ),
        (
            "a store with a garbage header",
            Box::new(|path| {
                make_store(path, 100);
                let mut bytes = std::fs::read(path).unwrap();
                bytes[..100].copy_from_slice(&garbage(100));
                std::fs::write(path, bytes).unwrap();
            }),
        ),
        (
            "a store whose pages after the first are garbage",
            Box::new(|path| {
                make_store(path, 100);
                let mut bytes = std::fs::read(path).unwrap();
                let len = bytes.len();
                assert!(len > 8192, "store too small: {len}");
                bytes[4096..].copy_from_slice(&garbage(len - 4096));
                std::fs::write(path, bytes).unwrap();
            }),
        ),
        (
            "a store truncated to one and a half pages",
            Box::new(|path| {
                make_store(path, 100);
                let bytes = std::fs::read(path).unwrap();
                std::fs::write(path, &bytes[..6144]).unwrap();
            }),
        ),
        (
            "an SQLite database of another application",
            Box::new(|path| {
                let conn = rusqlite::Connection::open(path).unwrap();
                conn.execute_batch(
                    "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO users (name) VALUES ('ada');",
                )
                .unwrap();
            }),
        ),
    ];
    let count = cases.len();
    for (what, damage) in cases {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("records.db");
        let path = path.to_str().unwrap().to_owned();
        damage(&path);
        let before = std::fs::read(&path).unwrap();
        let message = storage_failure(Recorder::new(offline_config(&path), credentials()));
        println!("{what}: {message}");
        assert!(
            message.contains(&path),
            "{what}: the error does not name the file: {message}"
        );
        assert!(
            message.contains("move it aside") || message.contains("delete it"),
            "{what}: the error does not say how to recover: {message}"
        );
        assert_unchanged(&path, &before, what);
        // A second try fails the same way: nothing was wiped in between.
        storage_failure(Recorder::new(offline_config(&path), credentials()));

        let moved = Recorder::move_aside_store(&path).unwrap();
        assert!(moved.contains(".corrupt-"), "{what}: {moved}");
        assert_unchanged(&moved, &before, &format!("{what} (moved aside)"));
        let recorder = Recorder::new(offline_config(&path), credentials()).unwrap();
        recorder.save_record(b"fresh".to_vec(), "s", None).unwrap();
        recorder.flush().unwrap();
        assert_eq!(recorder.stats().unwrap().pending_records, 1, "{what}");
        recorder.shutdown();
        assert!(std::path::Path::new(&moved).exists(), "{what}: the bad file is kept");
    }
    println!("{count} kinds of bad file refused and moved aside");
}

/// After a crash the newest commits live in the `-wal` file. If the main
/// file is then damaged, a failed open must leave that WAL in place (it holds
/// the only copy of those records), and moving aside must take it along, so a
/// fresh store never replays a stale WAL.
#[test]
fn a_failed_open_keeps_the_wal_and_moving_aside_takes_it_along() {
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("live.db");
    let path = dir.path().join("records.db");
    let path = path.to_str().unwrap().to_owned();
    {
        // A crashed writer: commits still in the WAL, no checkpoint.
        let conn = rusqlite::Connection::open(&live).unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        conn.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
        conn.execute_batch("CREATE TABLE t (x TEXT)").unwrap();
        for i in 0..50 {
            conn.execute("INSERT INTO t VALUES (?1)", [format!("committed row {i}")])
                .unwrap();
        }
        std::fs::copy(&live, &path).unwrap();
        std::fs::copy(format!("{}-wal", live.display()), format!("{path}-wal")).unwrap();
    }
    let mut main = std::fs::read(&path).unwrap();
    main[..16].copy_from_slice(&garbage(16)); // the header is gone
    std::fs::write(&path, &main).unwrap();
    let wal = std::fs::read(format!("{path}-wal")).unwrap();
    assert!(wal.len() > 4096, "the WAL holds the commits");

    storage_failure(Recorder::new(offline_config(&path), credentials()));
    assert!(
        std::path::Path::new(&format!("{path}-wal")).exists(),
        "the failed open deleted the WAL, and with it the only copy of its commits"
    );
    assert_unchanged(&format!("{path}-wal"), &wal, "the WAL");
    assert_unchanged(&path, &main, "the main file");

    let moved = Recorder::move_aside_store(&path).unwrap();
    assert_unchanged(&format!("{moved}-wal"), &wal, "the WAL moved aside");
    assert!(
        !std::path::Path::new(&format!("{path}-wal")).exists(),
        "a stale WAL would be replayed into the new store"
    );
    let recorder = Recorder::new(offline_config(&path), credentials()).unwrap();
    recorder.save_record(b"fresh".to_vec(), "s", None).unwrap();
    recorder.flush().unwrap();
    assert_eq!(recorder.stats().unwrap().pending_records, 1);
}

#[test]
fn a_store_from_a_newer_version_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("records.db");
    let path = path.to_str().unwrap().to_owned();
    make_store(&path, 10);
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
    }
    let message = storage_failure(Recorder::new(offline_config(&path), credentials()));
    println!("newer schema: {message}");
    assert!(message.contains("newer version"), "{message}");
    assert!(
        message.contains("99"),
        "the error does not give the version found: {message}"
    );
    assert!(message.contains(&path), "{message}");
    let (version, records): (i64, i64) = {
        let conn = rusqlite::Connection::open(&path).unwrap();
        let version = conn.pragma_query_value(None, "user_version", |row| row.get(0)).unwrap();
        (
            version,
            conn.query_row("SELECT count(*) FROM records", [], |row| row.get(0))
                .unwrap(),
        )
    };
    assert_eq!((version, records), (99, 10), "the newer store was modified");
    assert_eq!(integrity(&path), "ok");
}

#[test]
fn an_unusable_path_gives_a_storage_failure_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let as_dir = dir.path().join("a-directory");
    std::fs::create_dir(&as_dir).unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    for (what, path) in [
        ("a directory", as_dir.to_str().unwrap().to_owned()),
        (
            "a path under a regular file",
            file.join("records.db").to_str().unwrap().to_owned(),
        ),
    ] {
        let result = std::panic::catch_unwind(|| Recorder::new(offline_config(&path), credentials()).map(Arc::new));
        let result = result.unwrap_or_else(|_| panic!("{what}: Recorder::new panicked"));
        assert!(
            matches!(result, Err(RecorderError::StorageFailure { .. })),
            "{what}: {:?}",
            result.err()
        );
    }
}
