//! Concurrency: savers on many threads while submits, `delete_all_records`,
//! `stats` and finally `shutdown` run against kinesalite, every saved record
//! accounted for; and two recorders on one file, in one process and in two.

mod harness;
mod support;

use std::collections::{HashMap, HashSet};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use harness::*;
use kinesis_recorder::{Recorder, RecorderError};
use support::*;

#[test]
fn saves_submits_deletes_stats_and_shutdown_race_without_deadlock_or_loss() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = Server::kinesalite();
    let sdk = test_client(&server.endpoint);
    runtime.block_on(create_stream(&sdk, "race", 2));
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(&dir, &server.endpoint);
    config.auto_submit = true;
    config.submit_interval = Duration::from_millis(15);
    config.submit_threshold_records = 100;
    config.max_storage_bytes = 256 * 1024 * 1024; // nothing evicted
    let db = config.database_path.clone();
    let endpoint = server.endpoint.clone();

    let (saved, deletes, deleted_reported, shutdown_at) = within(Duration::from_secs(90), "the race", move || {
        let recorder = Arc::new(Recorder::new(config, credentials()).unwrap());
        let stop = Arc::new(AtomicBool::new(false));
        let mut threads = Vec::new();
        // 8 savers.
        let savers: Vec<_> = (0..8u32)
            .map(|t| {
                let recorder = recorder.clone();
                std::thread::spawn(move || {
                    let mut saved = Vec::new();
                    for i in 0.. {
                        let data = format!("race-{t}-{i:06}").into_bytes();
                        match recorder.save_record(data.clone(), "race", None) {
                            Ok(()) => saved.push(data),
                            Err(RecorderError::Overloaded { .. }) => std::thread::yield_now(),
                            Err(RecorderError::ShutDown) => return saved,
                            Err(other) => panic!("save: {other}"),
                        }
                        if i % 4 == 0 {
                            std::thread::sleep(Duration::from_millis(2));
                        }
                    }
                    unreachable!()
                })
            })
            .collect();
        // 2 explicit submitters.
        for _ in 0..2 {
            let (recorder, stop) = (recorder.clone(), stop.clone());
            threads.push(std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                while !stop.load(Ordering::SeqCst) {
                    match rt.block_on(recorder.submit_all_records()) {
                        Ok(_) | Err(RecorderError::ShutDown) => {}
                        Err(other) => panic!("submit: {other}"),
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
            }));
        }
        // Stats readers, and a flusher.
        for _ in 0..2 {
            let (recorder, stop) = (recorder.clone(), stop.clone());
            threads.push(std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    match recorder.stats() {
                        Ok(stats) => assert!(stats.pending_bytes >= stats.pending_records, "{stats:?}"),
                        Err(RecorderError::ShutDown) => {}
                        Err(other) => panic!("stats: {other}"),
                    }
                    let _ = recorder.disk_bytes_used();
                    match recorder.flush() {
                        Ok(()) | Err(RecorderError::ShutDown) => {}
                        Err(other) => panic!("flush: {other}"),
                    }
                    std::thread::sleep(Duration::from_millis(3));
                }
            }));
        }
        // Deleter: every 300 ms, and the network flapping in between.
        let deletes = Arc::new(AtomicU64::new(0));
        let deleted_reported = Arc::new(AtomicU64::new(0));
        {
            let (recorder, stop, deletes, deleted_reported) = (
                recorder.clone(),
                stop.clone(),
                deletes.clone(),
                deleted_reported.clone(),
            );
            threads.push(std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(150));
                    recorder.set_network_available(false);
                    std::thread::sleep(Duration::from_millis(150));
                    recorder.set_network_available(true);
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    match recorder.delete_all_records() {
                        Ok(n) => {
                            deletes.fetch_add(1, Ordering::SeqCst);
                            deleted_reported.fetch_add(n, Ordering::SeqCst);
                        }
                        Err(RecorderError::ShutDown) => {}
                        Err(other) => panic!("delete_all_records: {other}"),
                    }
                }
            }));
        }
        std::thread::sleep(Duration::from_millis(2500));
        // Shutdown while everything still runs.
        let shutdown_at = std::time::Instant::now();
        recorder.shutdown();
        let shutdown_took = shutdown_at.elapsed();
        stop.store(true, Ordering::SeqCst);
        let saved: Vec<Vec<u8>> = savers.into_iter().flat_map(|s| s.join().unwrap()).collect();
        for thread in threads {
            thread.join().unwrap();
        }
        assert_eq!(
            recorder.save_record(b"late".to_vec(), "race", None),
            Err(RecorderError::ShutDown)
        );
        drop(recorder);
        (
            saved,
            deletes.load(Ordering::SeqCst),
            deleted_reported.load(Ordering::SeqCst),
            shutdown_took,
        )
    });

    // Account for every saved record: delivered, still pending, or deleted.
    let delivered: Vec<Vec<u8>> = runtime
        .block_on(read_stream(&sdk, "race"))
        .into_iter()
        .map(|(_, d)| d)
        .collect();
    let mut delivered_count: HashMap<&Vec<u8>, u64> = HashMap::new();
    for d in &delivered {
        *delivered_count.entry(d).or_default() += 1;
    }
    let pending: Vec<Vec<u8>> = {
        let conn = rusqlite::Connection::open(&db).unwrap();
        // Rows at or below their stream's mark were delivered and wait for compaction.
        let mut stmt = conn
            .prepare("SELECT data FROM records r JOIN streams s ON s.id = r.stream_id WHERE r.id > s.delivered_through")
            .unwrap();
        let rows = stmt.query_map([], |row| row.get::<_, Vec<u8>>(0)).unwrap();
        rows.map(Result::unwrap).collect()
    };
    let reopened = Recorder::new(
        {
            let mut c = kinesis_recorder::RecorderConfig::new(db.as_str(), "us-east-1");
            c.endpoint = Some(endpoint);
            c.auto_submit = false;
            c
        },
        credentials(),
    )
    .unwrap();
    let stats = reopened.stats().unwrap();
    drop(reopened);
    let saved_set: HashSet<&Vec<u8>> = saved.iter().collect();
    let pending_set: HashSet<&Vec<u8>> = pending.iter().collect();
    assert_eq!(saved_set.len(), saved.len(), "saved data is unique");
    assert_eq!(pending_set.len(), pending.len(), "a record is pending twice");
    assert!(
        pending_set.iter().all(|d| saved_set.contains(d)),
        "a pending record was never saved"
    );
    assert!(
        delivered_count.keys().all(|d| saved_set.contains(d)),
        "a delivered record was never saved"
    );
    assert_eq!(
        stats.pending_records,
        pending.len() as u64,
        "the accounting disagrees with the table"
    );
    let unaccounted = saved
        .iter()
        .filter(|d| !delivered_count.contains_key(d) && !pending_set.contains(d))
        .count() as u64;
    let duplicates: u64 = delivered_count.values().map(|n| n - 1).sum();
    let delivered_and_pending = pending_set.iter().filter(|d| delivered_count.contains_key(**d)).count();
    println!(
        "race: {} saved = {} delivered (+{duplicates} duplicates) + {} pending + {} deleted; \
         {deletes} deletes reported {deleted_reported}; {delivered_and_pending} both delivered and pending; shutdown took {shutdown_at:?}",
        saved.len(),
        delivered_count.len(),
        pending.len(),
        stats.records_dropped_deleted
    );
    assert_eq!(
        stats.records_dropped_deleted, deleted_reported,
        "the Deleted counter vs what delete_all_records returned"
    );
    assert!(deletes >= 3, "the deleter barely ran");
    // Each record neither delivered nor pending was deleted. A record can be
    // both delivered and deleted (cleared while its batch was in flight), so
    // the counter may exceed the unaccounted records by at most one batch per delete.
    assert!(
        unaccounted <= stats.records_dropped_deleted,
        "{unaccounted} records neither delivered, pending nor deleted ({} deleted)",
        stats.records_dropped_deleted
    );
    assert!(
        stats.records_dropped_deleted - unaccounted <= deletes * 500,
        "{} deleted but only {unaccounted} unaccounted",
        stats.records_dropped_deleted
    );
    assert!(
        delivered_and_pending <= 500,
        "more than one in-flight batch both delivered and kept"
    );
    assert!(duplicates <= 500 * (deletes + 1), "{duplicates} duplicates");
    assert!(shutdown_at < Duration::from_secs(10), "shutdown took {shutdown_at:?}");
}

#[test]
fn a_second_recorder_on_the_same_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(&dir, "http://127.0.0.1:1");
    let first = Recorder::new(config.clone(), credentials()).unwrap();
    first.save_record(b"one".to_vec(), "s", None).unwrap();
    first.flush().unwrap();
    let second = Recorder::new(config.clone(), credentials());
    match &second {
        Err(error @ RecorderError::StorageFailure { .. }) => {
            let message = error.to_string();
            assert!(message.contains("in use"), "unclear refusal: {message}");
            println!("second recorder in one process: {message}");
        }
        other => panic!(
            "a second recorder on the same file was not refused: {:?}",
            other.as_ref().err()
        ),
    }
    drop(second);
    // The first is unharmed.
    first.save_record(b"two".to_vec(), "s", None).unwrap();
    first.flush().unwrap();
    assert_eq!(first.stats().unwrap().pending_records, 2);
    drop(first);
    // Once it is gone, the file opens again.
    assert_eq!(
        Recorder::new(config, credentials())
            .unwrap()
            .stats()
            .unwrap()
            .pending_records,
        2
    );
}

#[test]
fn a_second_cli_process_on_the_same_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("shared.db");
    let db = db.to_str().unwrap();
    // A long-running `run` that holds the store (its stdin stays open).
    let mut first = cli_command(&[
        "run",
        "--db",
        db,
        "--stream",
        "s",
        "--region",
        "us-east-1",
        "--endpoint",
        "http://127.0.0.1:1",
    ])
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    {
        use std::io::Write;
        let stdin = first.stdin.as_mut().unwrap();
        stdin.write_all(b"held\n").unwrap();
        stdin.flush().unwrap();
    }
    assert!(wait_until(Duration::from_secs(10), || std::path::Path::new(db).exists()));
    std::thread::sleep(Duration::from_millis(300));
    for args in [
        vec!["record", "--db", db, "--stream", "s"],
        vec!["status", "--db", db],
        vec!["clear", "--db", db],
        vec![
            "submit",
            "--db",
            db,
            "--region",
            "us-east-1",
            "--endpoint",
            "http://127.0.0.1:1",
        ],
    ] {
        let output = run_cli(&args, b"second\n");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(
            output.status.code(),
            Some(1),
            "{args:?} while another process holds the store: {stderr}"
        );
        assert!(stderr.contains("in use by another recorder"), "{args:?}: {stderr}");
    }
    assert!(first.try_wait().unwrap().is_none(), "the first process died");
    drop(first.stdin.take()); // end of input: it submits (unreachable endpoint) and exits
    let status = first.wait().unwrap();
    assert_eq!(status.code(), Some(1), "records left pending: exit 1");
    assert_eq!(pending(db), 1, "only the first process's record is stored");
}
