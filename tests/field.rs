//! Field hardening (issue 9): what phones and small devices really do, each
//! against a real HTTP server on loopback and a real SQLite file.
//!
//! - a device clock minutes or hours off (the server enforces the
//!   five-minute signature window against its own clock);
//! - signature and key refusals, which concern the account, not a stream;
//! - a credentials provider that never answers;
//! - a listener that calls back into the recorder;
//! - `delete_all_records` racing a request (slow credentials, slow server);
//! - the file's size while draining and after a backlog;
//! - a board without a real-time clock whose clock jumps by years;
//! - `RejectNew` under racing savers, network handovers, partition keys in
//!   service messages.

mod support;

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

use aws_sdk_kinesis::primitives::{DateTime, DateTimeFormat};
use kinesis_recorder::{
    AwsCredentials, CredentialsProvider, DropReason, FailureKind, Recorder, RecorderError, RecorderEvent,
    RecorderListener,
};
use support::*;

fn recorder(dir: &tempfile::TempDir, server: &FaultServer) -> Recorder {
    Recorder::new(config(dir, &server.endpoint), credentials()).unwrap()
}

fn save(recorder: &Recorder, stream: &str, n: usize, tag: &str) {
    for i in 0..n {
        recorder
            .save_record(format!("{tag}-{i}").into_bytes(), stream, Some(format!("{tag}-{i}")))
            .unwrap();
    }
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

// ---------------------------------------------------------------------------
// 1. A wrong device clock.

/// `20261201T102500Z` as SigV4 writes it.
fn amz_date(unix: i64) -> String {
    DateTime::from_secs(unix)
        .fmt(DateTimeFormat::DateTime)
        .unwrap()
        .replace(['-', ':'], "")
}

fn parse_amz_date(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() != 16 {
        return None;
    }
    let rfc3339 = format!(
        "{}-{}-{}T{}:{}:{}Z",
        &text[0..4],
        &text[4..6],
        &text[6..8],
        &text[9..11],
        &text[11..13],
        &text[13..15]
    );
    DateTime::from_str(&rfc3339, DateTimeFormat::DateTime)
        .ok()
        .map(|t| t.secs())
}

/// A Kinesis stand-in whose clock runs `shift` seconds from this machine's:
/// it refuses a request signed more than five minutes away from its clock
/// exactly as Kinesis does (HTTP 400, `InvalidSignatureException`,
/// "Signature expired: ... is now earlier than ... (... - 5 min.)"), and
/// sends its time in `Date` with every answer.
fn skewed_server(shift: Arc<AtomicI64>) -> FaultServer {
    FaultServer::start(move |request, _| {
        let server_now = unix_now() + shift.load(Ordering::SeqCst);
        let date = vec![(
            "Date",
            DateTime::from_secs(server_now).fmt(DateTimeFormat::HttpDate).unwrap(),
        )];
        let signed = request.header("x-amz-date").and_then(parse_amz_date);
        let reply = match signed {
            Some(signed) if (signed - server_now).abs() > 300 => {
                let (relation, bound) = if signed < server_now {
                    ("earlier", server_now - 300)
                } else {
                    ("later", server_now + 300)
                };
                let sign = if signed < server_now { '-' } else { '+' };
                Reply::Json(
                    400,
                    serde_json::json!({
                        "__type": "InvalidSignatureException",
                        "message": format!(
                            "Signature expired: {} is now {relation} than {} ({} {sign} 5 min.)",
                            amz_date(signed),
                            amz_date(bound),
                            amz_date(server_now)
                        ),
                    }),
                )
            }
            Some(_) => accept_all(request),
            None => error_reply(400, "MissingAuthenticationTokenException"),
        };
        Reply::WithHeaders(date, Box::new(reply))
    })
}

#[tokio::test]
async fn a_wrong_clock_is_corrected_from_the_date_header_with_one_extra_request_per_change() {
    let shift = Arc::new(AtomicI64::new(0));
    let server = skewed_server(shift.clone());
    let dir = tempfile::tempdir().unwrap();
    let recorder = recorder(&dir, &server);
    let mut saved = 0;
    let mut rows = Vec::new();
    // Relative skew is what matters: the server's clock moves, ours stays.
    for (label, skew) in [
        ("in step", 0),
        ("10 min ahead", 600),
        ("2 h ahead", 7200),
        ("10 min behind", -600),
        ("2 h behind", -7200),
    ] {
        shift.store(skew, Ordering::SeqCst);
        let before = server.request_count();
        // Two submissions per setting: the first may pay for the correction,
        // the second must not (the offset is kept).
        for round in 0..2 {
            save(&recorder, "clock", 20, &format!("{label}-{round}"));
            saved += 20;
            let report = recorder.submit_all_records().await.unwrap();
            assert!(report.errors.is_empty(), "{label}: {report:?}");
            assert_eq!((report.records_submitted, report.records_remaining), (20, 0), "{label}");
        }
        let requests = server.request_count() - before;
        rows.push((label, requests));
        let extra = if skew == 0 { 0 } else { 1 };
        assert_eq!(requests, 2 + extra, "{label}: {rows:?}");
    }
    let delivered: usize = server
        .requests()
        .iter()
        .filter(|r| r.body.get("Records").is_some())
        .map(|r| r.records().len())
        .sum::<usize>();
    let stats = recorder.stats().unwrap();
    println!(
        "wrong clock: requests per setting {rows:?}; {saved} saved, {} submitted, {} clock corrections, \
         {} records on the wire (refused + accepted)",
        stats.records_submitted, stats.clock_corrections, delivered
    );
    assert_eq!(stats.records_submitted, saved);
    assert_eq!(stats.clock_corrections, 4);
    assert_eq!((stats.requests_failed, stats.account_error), (0, None));
    assert_eq!(
        stats.records_dropped_storage_full + stats.records_dropped_attempts_exhausted,
        0
    );
}

#[tokio::test]
async fn a_refused_signature_holds_every_stream_back_without_charging_one() {
    // A wrong secret: the server's clock agrees with ours, so no correction.
    let server = FaultServer::start(|_, _| {
        Reply::WithHeaders(
            vec![(
                "Date",
                DateTime::from_secs(unix_now()).fmt(DateTimeFormat::HttpDate).unwrap(),
            )],
            Box::new(Reply::Json(
                400,
                serde_json::json!({"__type": "InvalidSignatureException",
                    "message": "The request signature we calculated does not match the signature you provided."}),
            )),
        )
    });
    let dir = tempfile::tempdir().unwrap();
    let recorder = recorder(&dir, &server);
    let events = Arc::new(Events::default());
    recorder.set_listener(Some(events.clone()));
    for stream in ["a", "b", "c"] {
        save(&recorder, stream, 3, stream);
    }
    let report = recorder.submit_all_records().await.unwrap();
    // One request: the first stream met the refusal, the others stop on it.
    assert_eq!(server.request_count(), 1, "{report:?}");
    assert_eq!(report.records_remaining, 9);
    assert_eq!(report.errors.len(), 3, "{report:?}");
    for error in &report.errors {
        assert_eq!(error.kind, FailureKind::Credentials, "{error:?}");
        assert_eq!(error.code.as_deref(), Some("InvalidSignatureException"));
        assert!(error.message.contains("secret key is wrong"), "{error:?}");
    }
    let stats = recorder.stats().unwrap();
    for stream in &stats.streams {
        assert_eq!(
            (stream.retry_in, stream.last_error.as_deref()),
            (None, None),
            "not charged to a stream: {stream:?}"
        );
    }
    assert!(stats
        .account_error
        .as_deref()
        .unwrap()
        .contains("InvalidSignatureException"));
    assert!(stats.account_retry_in.unwrap() >= Duration::from_secs(25), "{stats:?}");
    let failed: Vec<_> = events
        .all()
        .into_iter()
        .filter(|e| matches!(e, RecorderEvent::SubmissionFailed { .. }))
        .collect();
    assert_eq!(failed.len(), 1, "{failed:?}");
}

// ---------------------------------------------------------------------------
// 3. A credentials provider that never answers.

/// Hangs (a future that never completes) while `hang` is set.
#[derive(Default)]
struct HangingProvider {
    hang: AtomicBool,
    calls: AtomicU32,
}

#[async_trait::async_trait]
impl CredentialsProvider for HangingProvider {
    async fn credentials(&self) -> Result<AwsCredentials, RecorderError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.hang.load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        Ok(AwsCredentials {
            access_key_id: "AKIDTEST".into(),
            secret_access_key: "secret".into(),
            session_token: None,
            expiration: None,
        })
    }
}

#[tokio::test]
async fn a_hung_credentials_provider_times_out_and_keeps_the_records() {
    let server = FaultServer::start(|request, _| accept_all(request));
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(&dir, &server.endpoint);
    config.request_timeout = Duration::from_millis(500);
    let provider = Arc::new(HangingProvider::default());
    provider.hang.store(true, Ordering::SeqCst);
    let recorder = Arc::new(Recorder::new(config, provider.clone()).unwrap());
    for stream in ["a", "b"] {
        save(&recorder, stream, 5, stream);
    }
    let started = Instant::now();
    // Two callers at once: both get an answer.
    let other = tokio::spawn({
        let recorder = recorder.clone();
        async move { recorder.submit_all_records().await }
    });
    let report = tokio::time::timeout(Duration::from_secs(20), recorder.submit_all_records())
        .await
        .expect("submit_all_records returned despite the hung provider")
        .unwrap();
    let other = tokio::time::timeout(Duration::from_secs(20), other)
        .await
        .expect("the second caller got an answer too")
        .unwrap()
        .unwrap();
    let took = started.elapsed();
    assert_eq!(report.records_remaining, 10, "{report:?}");
    assert_eq!(other.records_remaining, 10, "{other:?}");
    let error = &report.errors[0];
    assert_eq!(error.kind, FailureKind::Credentials, "{error:?}");
    assert!(error.message.contains("timed out"), "{error:?}");
    // Asked once per drain, not once per stream (every stream waits).
    let calls = provider.calls.load(Ordering::SeqCst);
    assert!(calls <= 2, "{calls} calls");
    assert_eq!(server.request_count(), 0);
    let stats = recorder.stats().unwrap();
    assert_eq!(stats.pending_records, 10);
    assert!(
        stats.account_error.as_deref().unwrap().contains("timed out"),
        "{stats:?}"
    );
    println!(
        "hung provider: two submits answered in {:.2} s (timeout 0.5 s), {calls} provider calls, 10 records kept",
        took.as_secs_f64()
    );

    // The provider recovers: everything leaves.
    provider.hang.store(false, Ordering::SeqCst);
    let report = recorder.submit_all_records().await.unwrap();
    assert_eq!(
        (report.records_submitted, report.records_remaining),
        (10, 0),
        "{report:?}"
    );
    assert_eq!(recorder.stats().unwrap().account_error, None);
}

// ---------------------------------------------------------------------------
// 4. A listener that calls back into the recorder.

/// Reacts to events by calling the recorder back, from the listener itself.
struct Reentrant {
    recorder: OnceLock<Weak<Recorder>>,
    events: Mutex<Vec<RecorderEvent>>,
    calls: Mutex<Vec<String>>,
}

impl RecorderListener for Reentrant {
    fn on_event(&self, event: RecorderEvent) {
        self.events.lock().unwrap().push(event.clone());
        let Some(recorder) = self.recorder.get().and_then(Weak::upgrade) else {
            return;
        };
        let mut calls = Vec::new();
        match event {
            RecorderEvent::StorageThresholdCrossed { .. } => {
                // The natural reaction: look, then make room.
                recorder.flush().unwrap();
                calls.push(format!(
                    "flush; stats: {} pending",
                    recorder.stats().unwrap().pending_records
                ));
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                let report = runtime.block_on(recorder.submit_all_records()).unwrap();
                calls.push(format!("submit: {} submitted", report.records_submitted));
                calls.push(format!("delete: {}", recorder.delete_all_records().unwrap()));
                // A slow listener: saves must not pile up behind it.
                std::thread::sleep(Duration::from_secs(2));
            }
            RecorderEvent::RecordsSubmitted { .. } => {
                recorder.flush().unwrap();
                calls.push("flush after submitted".into());
            }
            _ => {}
        }
        self.calls.lock().unwrap().extend(calls);
    }
}

#[test]
fn a_listener_that_calls_back_into_the_recorder_neither_deadlocks_nor_overloads_saves() {
    let server = FaultServer::start(|request, _| accept_all(request));
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(&dir, &server.endpoint);
    config.notification_byte_threshold = 2_000;
    config.max_record_bytes = 1024;
    // 600 saves' worth (300 ms of them, room for a loaded machine's pauses):
    // a listener that held the writer for its two seconds of sleep would
    // overflow it.
    config.max_queued_bytes = 64 * 1024;
    let recorder = Arc::new(Recorder::new(config, credentials()).unwrap());
    let listener = Arc::new(Reentrant {
        recorder: OnceLock::new(),
        events: Mutex::new(Vec::new()),
        calls: Mutex::new(Vec::new()),
    });
    listener.recorder.set(Arc::downgrade(&recorder)).ok();
    recorder.set_listener(Some(listener.clone()));

    let (done, finished) = std::sync::mpsc::channel();
    let worker = {
        let recorder = recorder.clone();
        std::thread::spawn(move || {
            // 2,000 saves over a second or more, while the listener runs.
            let mut overloaded = 0;
            let started = Instant::now();
            for i in 0..2_000u32 {
                match recorder.save_record(vec![7; 100], "reentrant", Some(format!("k{i}"))) {
                    Ok(()) => {}
                    Err(RecorderError::Overloaded { .. }) => overloaded += 1,
                    Err(e) => panic!("{e}"),
                }
                std::thread::sleep(Duration::from_micros(500));
            }
            recorder.flush().unwrap();
            let _ = done.send((overloaded, started.elapsed()));
        })
    };
    let (overloaded, took) = finished
        .recv_timeout(Duration::from_secs(30))
        .expect("saves and flush finished: no deadlock with a re-entrant listener");
    worker.join().unwrap();
    let calls = listener.calls.lock().unwrap().clone();
    let events = listener.events.lock().unwrap().clone();
    println!(
        "re-entrant listener: 2,000 saves in {:.2} s, {overloaded} Overloaded, {} events, calls from the listener: {calls:?}",
        took.as_secs_f64(),
        events.len()
    );
    assert_eq!(overloaded, 0, "saves failed with Overloaded behind a slow listener");
    assert!(calls.iter().any(|c| c.starts_with("delete")), "{calls:?}");
    assert!(calls.iter().any(|c| c.starts_with("submit")), "{calls:?}");
    assert!(calls.iter().any(|c| c == "flush after submitted"), "{calls:?}");
    // Everything saved is accounted for: delivered, deleted or pending.
    let stats = recorder.stats().unwrap();
    assert_eq!(
        stats.records_submitted + stats.records_dropped_deleted + stats.pending_records,
        2_000 - overloaded,
        "{stats:?}"
    );
}

#[test]
fn flush_returns_after_the_listener_heard_the_events_of_what_it_flushed() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(&dir, "http://127.0.0.1:9");
    config.max_storage_bytes = 1_000;
    config.max_record_bytes = 100;
    config.max_queued_bytes = 100_000;
    let recorder = Recorder::new(config, credentials()).unwrap();
    let events = Arc::new(Events::default());
    recorder.set_listener(Some(events.clone()));
    for round in 0..20 {
        for i in 0..50 {
            recorder
                .save_record(vec![0; 40], "order", Some(format!("r{round}-{i}")))
                .unwrap();
        }
        recorder.flush().unwrap();
        // Everything evicted so far was reported before flush returned.
        let reported: u64 = events
            .all()
            .iter()
            .map(|e| match e {
                RecorderEvent::RecordsDropped {
                    reason: DropReason::StorageFull,
                    count,
                    ..
                } => *count,
                _ => 0,
            })
            .sum();
        assert_eq!(
            reported,
            recorder.stats().unwrap().records_dropped_storage_full,
            "round {round}"
        );
    }
}

// ---------------------------------------------------------------------------
// 7. Clear versus in flight.

/// Answers only once released; tells when it was asked.
#[derive(Default)]
struct GatedProvider {
    asked: AtomicBool,
    released: AtomicBool,
}

#[async_trait::async_trait]
impl CredentialsProvider for GatedProvider {
    async fn credentials(&self) -> Result<AwsCredentials, RecorderError> {
        self.asked.store(true, Ordering::SeqCst);
        while !self.released.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        Ok(AwsCredentials {
            access_key_id: "AKIDTEST".into(),
            secret_access_key: "secret".into(),
            session_token: None,
            expiration: None,
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_read_before_a_clear_is_not_sent_after_it_even_after_slow_credentials() {
    let server = FaultServer::start(|request, _| accept_all(request));
    let dir = tempfile::tempdir().unwrap();
    let provider = Arc::new(GatedProvider::default());
    let recorder = Arc::new(Recorder::new(config(&dir, &server.endpoint), provider.clone()).unwrap());
    save(&recorder, "opt-out", 10, "before");
    let submit = tokio::spawn({
        let recorder = recorder.clone();
        async move { recorder.submit_all_records().await }
    });
    // The batch is read; the worker waits for the credentials.
    assert!(wait_until(Duration::from_secs(10), || provider
        .asked
        .load(Ordering::SeqCst)));
    assert_eq!(recorder.delete_all_records().unwrap(), 10);
    provider.released.store(true, Ordering::SeqCst);
    let report = submit.await.unwrap().unwrap();
    assert_eq!(
        server.request_count(),
        0,
        "records sent after delete_all_records returned"
    );
    assert_eq!((report.records_submitted, report.records_remaining), (0, 0));
    let stats = recorder.stats().unwrap();
    assert_eq!((stats.records_submitted, stats.records_dropped_deleted), (0, 10));

    // Records saved after the clear still leave.
    save(&recorder, "opt-out", 4, "after");
    let report = recorder.submit_all_records().await.unwrap();
    assert_eq!(report.records_submitted, 4);
    let sent: Vec<String> = server.requests()[0].records().into_iter().map(|(k, _)| k).collect();
    assert!(sent.iter().all(|k| k.starts_with("after")), "{sent:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_already_on_the_wire_at_a_clear_count_once_as_submitted_or_as_deleted() {
    for server_takes_them in [true, false] {
        let server = FaultServer::start(move |request, _| {
            std::thread::sleep(Duration::from_millis(600));
            if server_takes_them {
                accept_all(request)
            } else {
                error_reply(500, "InternalFailure")
            }
        });
        let dir = tempfile::tempdir().unwrap();
        let recorder = Arc::new(recorder(&dir, &server));
        let events = Arc::new(Events::default());
        recorder.set_listener(Some(events.clone()));
        save(&recorder, "wire", 10, "w");
        let submit = tokio::spawn({
            let recorder = recorder.clone();
            async move { recorder.submit_all_records().await }
        });
        assert!(wait_until(Duration::from_secs(10), || server.request_count() == 1));
        // On the wire: not counted as deleted by the clear...
        assert_eq!(recorder.delete_all_records().unwrap(), 0);
        submit.await.unwrap().unwrap();
        recorder.flush().unwrap();
        let stats = recorder.stats().unwrap();
        let deleted_events: u64 = events
            .all()
            .iter()
            .map(|e| match e {
                RecorderEvent::RecordsDropped {
                    reason: DropReason::Deleted,
                    count,
                    ..
                } => *count,
                _ => 0,
            })
            .sum();
        // ...but once its answer came: submitted if the service took them,
        // deleted if not (never retried: the app cleared them).
        let expected = if server_takes_them { (10, 0) } else { (0, 10) };
        assert_eq!(
            (stats.records_submitted, stats.records_dropped_deleted),
            expected,
            "server takes them: {server_takes_them}: {stats:?}"
        );
        assert_eq!(deleted_events, expected.1);
        assert_eq!(stats.pending_records, 0);
        let report = recorder.submit_all_records().await.unwrap();
        assert_eq!(report.requests, 0, "cleared records are never sent again");
    }
}

// ---------------------------------------------------------------------------
// 8. The file stays within its budget.

/// The store's files on disk (database and WAL), read from the file system.
fn file_bytes(dir: &tempfile::TempDir) -> u64 {
    ["records.db", "records.db-wal"]
        .iter()
        .filter_map(|name| std::fs::metadata(dir.path().join(name)).ok())
        .map(|m| m.len())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_backlog_the_file_shrinks_back() {
    let server = FaultServer::start(|request, _| accept_all(request));
    let dir = tempfile::tempdir().unwrap();
    let recorder = recorder(&dir, &server);
    for i in 0..8_000u32 {
        recorder
            .save_record(vec![1; 100], "backlog", Some(format!("{i:032}")))
            .unwrap();
    }
    recorder.flush().unwrap();
    let full = file_bytes(&dir);
    let report = recorder.submit_all_records().await.unwrap();
    assert_eq!(report.records_submitted, 8_000);
    let after_drain = file_bytes(&dir);
    // The worker compacts once idle; the freed pages go back to the file system.
    let shrunk = wait_until(Duration::from_secs(20), || file_bytes(&dir) < 256 * 1024);
    let idle = file_bytes(&dir);
    println!(
        "file budget: 8,000 records (1.06 MB of records): file {full} B full, {after_drain} B after the drain, \
         {idle} B once idle"
    );
    assert!(shrunk, "the file kept {idle} bytes after its records were delivered");
}

/// A PutRecords server that accepts everything after `answer_after`, lean
/// enough to keep up with a drain in a debug build: it counts the records
/// instead of parsing them.
fn lean_server(answer_after: Duration) -> support::loopback::LoopbackServer {
    support::loopback::LoopbackServer::start(move |request| {
        std::thread::sleep(answer_after);
        let records = request.body.windows(14).filter(|w| w == b"\"PartitionKey\"").count();
        let entry = serde_json::json!({"SequenceNumber": "1", "ShardId": "shardId-000000000000"});
        Reply::Json(
            200,
            serde_json::json!({"FailedRecordCount": 0, "Records": vec![entry; records]}),
        )
    })
}

#[test]
fn while_a_backlog_drains_under_new_saves_the_file_stays_near_its_limit() {
    // The app saves a little slower than the network takes records: each
    // request of 100 records lets it save 75 more (the test keeps them in
    // step, whatever the machine's speed). The backlog shrinks slowly, the
    // worker is never idle, nothing is evicted.
    let served = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let server = {
        let served = served.clone();
        support::loopback::LoopbackServer::start(move |request| {
            let records = request.body.windows(14).filter(|w| w == b"\"PartitionKey\"").count();
            served.fetch_add(1, Ordering::SeqCst);
            let entry = serde_json::json!({"SequenceNumber": "1", "ShardId": "shardId-000000000000"});
            Reply::Json(
                200,
                serde_json::json!({"FailedRecordCount": 0, "Records": vec![entry; records]}),
            )
        })
    };
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(&dir, &server.endpoint);
    config.max_storage_bytes = 512 << 10;
    config.max_record_bytes = 1024;
    config.max_records_per_request = 100;
    config.auto_submit = true;
    let recorder = Recorder::new(config, credentials()).unwrap();
    // A backlog at the limit, saved offline.
    recorder.set_network_available(false);
    let mut saved = 0u64;
    let save = |recorder: &Recorder, i: u64| match recorder.save_record(vec![2; 100], "busy", Some(format!("{i:032}")))
    {
        Ok(()) | Err(RecorderError::Overloaded { .. }) => {}
        Err(e) => panic!("{e}"),
    };
    while recorder.disk_bytes_used() < (512 << 10) - 1_000 {
        saved += 1;
        save(&recorder, saved);
        if saved % 1_000 == 0 {
            recorder.flush().unwrap();
        }
    }
    let backlog = saved;
    recorder.set_network_available(true);
    let mut peak = 0;
    let started = Instant::now();
    while served.load(Ordering::SeqCst) < 150 && started.elapsed() < Duration::from_secs(30) {
        while saved < backlog + served.load(Ordering::SeqCst) * 75 {
            saved += 1;
            save(&recorder, saved);
        }
        peak = peak.max(file_bytes(&dir));
        std::thread::sleep(Duration::from_millis(2));
    }
    let stats = recorder.stats().unwrap();
    println!(
        "file budget: a 512 KiB backlog drained in {} requests of 100 while {} more records were saved \
         (75 per request): {} submitted, peak file {peak} B ({:.1}x the limit)",
        served.load(Ordering::SeqCst),
        saved - backlog,
        stats.records_submitted,
        peak as f64 / (512 << 10) as f64
    );
    assert!(stats.records_submitted >= 10_000, "{stats:?}");
    // The records (512 KiB) with SQLite's overhead (about 1.3x), delivered
    // rows waiting for compaction (a quarter of the limit, plus a chunk), the
    // WAL. Without the budget for delivered rows they pile up while the
    // worker is never idle (3.5x the limit before it).
    let limit = 512u64 << 10;
    assert!(
        peak <= 3 * limit,
        "the file reached {peak} bytes for a {limit}-byte limit"
    );
}

// ---------------------------------------------------------------------------
// 9. Boards without a real-time clock.

fn created_at(dir: &tempfile::TempDir) -> Vec<i64> {
    let conn = rusqlite::Connection::open(dir.path().join("records.db")).unwrap();
    let mut stmt = conn.prepare("SELECT created_at FROM records ORDER BY id").unwrap();
    let rows = stmt.query_map([], |row| row.get(0)).unwrap();
    rows.map(Result::unwrap).collect()
}

#[tokio::test]
async fn records_stamped_by_a_clock_never_set_do_not_expire_when_ntp_sets_it() {
    let server = FaultServer::start(|request, _| accept_all(request));
    let dir = tempfile::tempdir().unwrap();
    {
        let recorder = recorder(&dir, &server);
        save(&recorder, "rtc", 10, "boot");
        recorder.shutdown();
    }
    // What a board without a real-time clock leaves when it is switched off
    // before NTP set its clock: records stamped 40 s after the epoch.
    let conn = rusqlite::Connection::open(dir.path().join("records.db")).unwrap();
    conn.execute("UPDATE records SET created_at = 40000 + id", []).unwrap();
    drop(conn);
    // The next boot, with the clock set: a day's age limit.
    let mut config = config(&dir, &server.endpoint);
    config.max_record_age = Some(Duration::from_secs(24 * 3600));
    let recorder = Recorder::new(config, credentials()).unwrap();
    let report = recorder.submit_all_records().await.unwrap();
    let stats = recorder.stats().unwrap();
    assert_eq!(
        (report.records_submitted, stats.records_dropped_expired),
        (10, 0),
        "records from a never-set clock were expired: {report:?}"
    );
}

#[tokio::test]
async fn a_clock_that_jumps_years_during_a_run_ages_nothing() {
    let server = FaultServer::start(|request, _| accept_all(request));
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(&dir, &server.endpoint);
    config.max_record_age = Some(Duration::from_secs(3600));
    let three_years = 3 * 365 * 24 * 3600 * 1000i64;
    {
        let recorder = Recorder::new(config.clone(), credentials()).unwrap();
        save(&recorder, "jump", 10, "before");
        recorder.flush().unwrap();
        // NTP moves the clock three years forward.
        recorder.shift_wall_clock_for_testing(three_years);
        save(&recorder, "jump", 5, "after");
        recorder.flush().unwrap();
        let stats = recorder.stats().unwrap();
        assert!(stats.oldest_pending_age.unwrap() < Duration::from_secs(60), "{stats:?}");
        // Submitting runs the expiry: nothing is an hour old.
        recorder.set_network_available(false);
        let report = recorder.submit_all_records().await.unwrap();
        assert_eq!(recorder.stats().unwrap().records_dropped_expired, 0, "{report:?}");
        recorder.shutdown();
    }
    // On disk, every stamp followed the step, for the next run to judge.
    let now = unix_now() * 1000;
    let stamps = created_at(&dir);
    assert_eq!(stamps.len(), 15);
    for stamp in stamps {
        assert!(
            (stamp - (now + three_years)).abs() < 600_000,
            "{stamp} vs {}",
            now + three_years
        );
    }
    let recorder = Recorder::new(config, credentials()).unwrap();
    let report = recorder.submit_all_records().await.unwrap();
    assert_eq!(
        (report.records_submitted, report.records_dropped),
        (15, 0),
        "{report:?}"
    );
}

// ---------------------------------------------------------------------------
// 10. Smaller ones: RejectNew under racing savers, network handovers,
// partition keys in service messages.

#[test]
fn reject_new_never_overshoots_its_limit_under_racing_savers() {
    // The race: after settling a request the worker reads the store's
    // pending bytes and publishes them for the savers' reject-new check. A
    // commit by the writer between that read and the publication was
    // overwritten by the older, smaller value, and the savers filled the room
    // that commit had taken. A window of nanoseconds; to hit it within a
    // bounded run:
    // - the store knows 20,000 streams (an app that used many stream names:
    //   they stay accounted, at zero, once delivered or deleted). Each read
    //   of the pending bytes sums them with the store locked, about a
    //   millisecond in a debug build, so the writer is often waiting for the
    //   lock when the worker lets it go, and is woken by that release;
    // - 5 records per request: a settlement, and a read, every few ms;
    // - 4 savers, more than the cores.
    // The recorder says itself when its store went over: the writer's
    // `StorageThresholdCrossed`, set one byte above the limit, compares the
    // pending bytes after each commit, with the store locked.
    const KNOWN_STREAMS: u64 = 20_000;
    let server = lean_server(Duration::ZERO);
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(&dir, &server.endpoint);
    {
        let mut roomy = config.clone();
        roomy.max_storage_bytes = 1 << 30;
        roomy.max_queued_bytes = 1 << 30;
        let recorder = Recorder::new(roomy, credentials()).unwrap();
        for i in 0..KNOWN_STREAMS {
            recorder.save_record(vec![1], &format!("known-{i}"), None).unwrap();
        }
        recorder.flush().unwrap();
        assert_eq!(recorder.delete_all_records().unwrap(), KNOWN_STREAMS);
    }
    config.when_full = kinesis_recorder::WhenFull::RejectNew;
    config.max_storage_bytes = 20_000;
    config.max_record_bytes = 1_000;
    config.auto_submit = true;
    config.submit_threshold_records = 20;
    config.max_records_per_request = 5;
    config.notification_byte_threshold = config.max_storage_bytes + 1;
    let limit = config.max_storage_bytes;
    let recorder = Arc::new(Recorder::new(config, credentials()).unwrap());
    let events = Arc::new(Events::default());
    recorder.set_listener(Some(events.clone()));
    let went_over = || {
        events.0.lock().unwrap().iter().find_map(|e| match e {
            RecorderEvent::StorageThresholdCrossed { bytes_used, .. } => Some(*bytes_used),
            _ => None,
        })
    };
    let stop = Arc::new(AtomicBool::new(false));
    let savers: Vec<_> = (0..4)
        .map(|t| {
            let (recorder, stop) = (recorder.clone(), stop.clone());
            std::thread::spawn(move || {
                let (mut saved, mut refused) = (0u64, 0u64);
                while !stop.load(Ordering::SeqCst) {
                    match recorder.save_record(vec![t; 100], "limit", Some(format!("saver-{t}-{saved}"))) {
                        Ok(()) => saved += 1,
                        Err(RecorderError::StorageFull { .. }) | Err(RecorderError::Overloaded { .. }) => refused += 1,
                        Err(e) => panic!("{e}"),
                    }
                }
                (saved, refused)
            })
        })
        .collect();
    // Watch the store (pending bytes, exact, read with the store locked)
    // until 4,000 requests went through the full store, 40 s at most (a
    // loaded machine), or it went over.
    let (mut peak, mut samples) = (0, 0);
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(40) && went_over().is_none() {
        let stats = recorder.stats().unwrap();
        peak = peak.max(stats.pending_bytes);
        samples += 1;
        if stats.requests_sent >= 4_000 {
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    stop.store(true, Ordering::SeqCst);
    let (saved, refused) = savers
        .into_iter()
        .map(|s| s.join().unwrap())
        .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
    recorder.flush().unwrap();
    let stats = recorder.stats().unwrap();
    println!(
        "reject-new: 4 savers, {KNOWN_STREAMS} streams known, {saved} saved, {refused} refused, {} submitted in {} \
         requests, {:.1} s, {samples} samples, peak {peak} of {limit} bytes, over the limit after a commit: {:?}",
        stats.records_submitted,
        stats.requests_sent,
        started.elapsed().as_secs_f64(),
        went_over()
    );
    assert_eq!(
        went_over(),
        None,
        "the store went over its {limit}-byte limit (after {} requests)",
        stats.requests_sent
    );
    assert!(stats.records_submitted > 1_000 && refused > 0, "{stats:?}");
    assert!(
        peak <= limit,
        "the store held {peak} bytes, over its {limit}-byte limit"
    );
}

#[test]
fn a_network_handover_does_not_cut_a_refused_streams_backoff_short() {
    let server = FaultServer::start(|request, _| {
        if request.body["StreamName"] == "gone" {
            error_reply(400, "ResourceNotFoundException")
        } else {
            Reply::Close
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(&dir, &server.endpoint);
    config.auto_submit = true;
    config.submit_threshold_records = 1;
    let recorder = recorder_with(config);
    save(&recorder, "gone", 1, "g");
    save(&recorder, "flaky", 1, "f");
    let sent_to = |stream: &str| {
        server
            .requests()
            .iter()
            .filter(|r| r.body["StreamName"] == stream)
            .count()
    };
    assert!(wait_until(Duration::from_secs(10), || sent_to("gone") == 1
        && sent_to("flaky") >= 1));
    let flaky_before = sent_to("flaky");
    // Wi-Fi to cellular and back, a few times.
    for _ in 0..5 {
        recorder.set_network_available(false);
        recorder.set_network_available(true);
        std::thread::sleep(Duration::from_millis(100));
    }
    // The refused stream waits its minute; the one that failed on the
    // network was tried again at once.
    assert_eq!(sent_to("gone"), 1, "a refused stream was retried on every handover");
    assert!(
        sent_to("flaky") > flaky_before,
        "a stream that failed on the network waited"
    );
}

fn recorder_with(config: kinesis_recorder::RecorderConfig) -> Recorder {
    Recorder::new(config, credentials()).unwrap()
}

/// Every log line of this test binary, from the first call on.
fn captured_logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Arc::new(Mutex::new(Vec::new()));
        let sink = logs.clone();
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || Capture(sink.clone()))
            .try_init()
            .expect("the only subscriber of this binary");
        logs
    })
    .clone()
}

struct Capture(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn service_messages_never_carry_partition_keys_into_logs_events_or_stats() {
    const KEY: &str = "user-8d3f2a@example.com";
    let logs = captured_logs();
    let server = FaultServer::start(|request, _| {
        // As Kinesis words a validation error, and a message echoing the key as is.
        let key = request.records()[0].0.clone();
        Reply::Json(
            400,
            serde_json::json!({"__type": "InvalidArgumentException",
                "message": format!("1 validation error detected: Value '{key}' at 'records.1.member.partitionKey' \
                    failed to satisfy constraint: Member must satisfy regular expression pattern; record for {key} refused")}),
        )
    });
    let dir = tempfile::tempdir().unwrap();
    let recorder = recorder(&dir, &server);
    let events = Arc::new(Events::default());
    recorder.set_listener(Some(events.clone()));
    recorder.save_record(b"x".to_vec(), "keys", Some(KEY.into())).unwrap();
    let report = recorder.submit_all_records().await.unwrap();
    let stats = recorder.stats().unwrap();
    let error = &report.errors[0];
    assert_eq!(error.code.as_deref(), Some("InvalidArgumentException"));
    assert!(error.message.contains("records.1.member.partitionKey"), "{error:?}");
    let logs = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    assert!(logs.contains("InvalidArgumentException"), "the error path was logged");
    for (what, text) in [
        ("report", format!("{report:?}")),
        ("events", format!("{:?}", events.all())),
        ("stats", format!("{stats:?}")),
        ("logs", logs),
    ] {
        assert!(!text.contains(KEY), "the partition key is in the {what}: {text}");
    }
}
