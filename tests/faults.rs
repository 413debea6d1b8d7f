//! A misbehaving server under the automatic worker, beyond tests/delivery.rs:
//! a seeded random fault schedule over many batches, `Records` arrays of the
//! wrong length, streams the service refuses next to one it accepts, and a
//! long offline spell.
//!
//! Not covered here: a real throttling server. ferrokinesis (the only local
//! server that throttles per shard) is not installed on this machine, and
//! faking it would prove nothing; the per-record throttling answers below come
//! from the scripted server instead.

mod harness;
mod support;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use harness::*;
use kinesis_recorder::{Recorder, RecorderEvent};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use support::*;

const CALL_FAILURES: &[&str] = &[
    "http500",
    "http503",
    "reset",
    "stall",
    "truncated",
    "malformed",
    "throttled_call",
    "wrong_length",
    "expired",
];

/// What the server did, request by request, and what it acknowledged.
#[derive(Default)]
struct Ledger {
    /// (arrival, stream, kind of answer) per request.
    requests: Vec<(Instant, String, &'static str)>,
    /// Data of every entry acknowledged in an answer the client could read, with counts.
    accepted: HashMap<Vec<u8>, u64>,
    /// Entries acknowledged earlier and sent again: the wrong records retried.
    resent_after_ack: Vec<Vec<u8>>,
    rejected_entries: u64,
    throttled_entries: u64,
    /// Consecutive call failures per stream, to keep the backoff (and the test) short.
    streak: HashMap<String, u32>,
}

fn pick_fault(rng: &mut StdRng) -> &'static str {
    const KINDS: &[&str] = &[
        "http500",
        "http503",
        "reset",
        "stall",
        "truncated",
        "malformed",
        "partial",
        "expired",
        "throttled_call",
        "wrong_length",
    ];
    KINDS[rng.random_range(0..KINDS.len())]
}

#[test]
fn a_random_fault_schedule_loses_nothing_and_never_busy_loops() {
    let seed = std::env::var("FAULT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    println!("fault schedule: seed {seed} (FAULT_SEED={seed} replays the draws)");
    const FAULTY_PHASE: usize = 70;
    let ledger: Arc<Mutex<Ledger>> = Arc::default();
    let tally = Tally::default();
    let rng = Arc::new(Mutex::new(StdRng::seed_from_u64(seed)));
    let server = {
        let (ledger, tally) = (ledger.clone(), tally.clone());
        FaultServer::start(move |request, index| {
            let stream = request.body["StreamName"].as_str().unwrap_or_default().to_owned();
            let records = request.records();
            let mut ledger = ledger.lock().unwrap();
            for (_, data) in &records {
                if ledger.accepted.contains_key(data) {
                    ledger.resent_after_ack.push(data.clone());
                }
            }
            let mut rng = rng.lock().unwrap();
            let streak = ledger.streak.get(&stream).copied().unwrap_or(0);
            let kind = if index < FAULTY_PHASE && streak < 3 && rng.random_bool(0.55) {
                pick_fault(&mut rng)
            } else {
                "ok"
            };
            if CALL_FAILURES.contains(&kind) {
                *ledger.streak.entry(stream.clone()).or_default() += 1;
            } else {
                ledger.streak.insert(stream.clone(), 0);
            }
            ledger.requests.push((request.at, stream, kind));
            tally.add(kind);
            let n = records.len();
            let ack = |i: usize| serde_json::json!({"SequenceNumber": format!("{index}-{i}"), "ShardId": "shardId-000000000000"});
            match kind {
                "http500" => error_reply(500, "InternalFailure"),
                "http503" => Reply::Raw(503, "text/html", b"<html>Service Unavailable</html>".to_vec()),
                "reset" => Reply::Close,
                "stall" => Reply::Stall(Duration::from_millis(900)),
                "truncated" => Reply::Truncated(
                    serde_json::to_vec(
                        &serde_json::json!({"FailedRecordCount": 0, "Records": (0..n).map(ack).collect::<Vec<_>>()}),
                    )
                    .unwrap(),
                ),
                "malformed" => Reply::Raw(
                    200,
                    "application/x-amz-json-1.1",
                    b"{\"FailedRecordCount\":0,\"Records\":[{\"Seq".to_vec(),
                ),
                "expired" => error_reply(400, "ExpiredTokenException"),
                "throttled_call" => error_reply(400, "ProvisionedThroughputExceededException"),
                "wrong_length" => {
                    let len = if rng.random_bool(0.5) { n + 1 } else { n - 1 };
                    Reply::Json(
                        200,
                        serde_json::json!({"FailedRecordCount": 0, "Records": (0..len).map(ack).collect::<Vec<_>>()}),
                    )
                }
                "partial" => {
                    let forced = rng.random_range(0..n);
                    let codes: Vec<Option<&'static str>> = (0..n)
                        .map(|i| {
                            (i == forced || rng.random_bool(0.3)).then(|| {
                                if rng.random_bool(0.5) {
                                    "ProvisionedThroughputExceededException"
                                } else {
                                    "InternalFailure"
                                }
                            })
                        })
                        .collect();
                    for (i, (_, data)) in records.iter().enumerate() {
                        match codes[i] {
                            None => *ledger.accepted.entry(data.clone()).or_default() += 1,
                            Some(code) => {
                                ledger.rejected_entries += 1;
                                if code == "ProvisionedThroughputExceededException" {
                                    ledger.throttled_entries += 1;
                                }
                            }
                        }
                    }
                    put_records_reply(request, |i, _| codes[i])
                }
                _ => {
                    for (_, data) in &records {
                        *ledger.accepted.entry(data.clone()).or_default() += 1;
                    }
                    accept_all(request)
                }
            }
        })
    };

    let dir = tempfile::tempdir().unwrap();
    let mut config = config(&dir, &server.endpoint);
    config.auto_submit = true;
    config.submit_interval = Duration::from_millis(20);
    config.submit_threshold_records = 25;
    config.max_records_per_request = 25;
    config.request_timeout = Duration::from_millis(500);
    config.max_attempts = 1_000_000; // no record may leave for attempts
    let recorder = Arc::new(Recorder::new(config, credentials()).unwrap());
    let events = Arc::new(Events::default());
    recorder.set_listener(Some(events.clone()));

    let started = Instant::now();
    let saver = {
        let recorder = recorder.clone();
        std::thread::spawn(move || {
            let mut saved = Vec::new();
            for burst in 0..40 {
                for i in 0..30 {
                    let stream = if (burst + i) % 3 == 0 { "beta" } else { "alpha" };
                    let data = format!("{stream}-{burst:02}-{i:02}").into_bytes();
                    recorder.save_record(data.clone(), stream, None).unwrap();
                    saved.push(data);
                }
                std::thread::sleep(Duration::from_millis(40));
            }
            saved
        })
    };
    let saved: Vec<Vec<u8>> = saver.join().unwrap();
    let saved_set: HashSet<&Vec<u8>> = saved.iter().collect();
    let all_acknowledged = || {
        let ledger = ledger.lock().unwrap();
        saved.iter().all(|d| ledger.accepted.contains_key(d))
    };
    let delivered = wait_until(Duration::from_secs(90), || {
        all_acknowledged() && recorder.stats().unwrap().pending_records == 0
    });
    let elapsed = started.elapsed();

    let ledger = ledger.lock().unwrap();
    let stats = recorder.stats().unwrap();
    let injected = tally.total() - tally.get("ok");
    println!(
        "fault schedule: {} requests, {injected} faults injected ({}), delivered in {elapsed:.1?}",
        ledger.requests.len(),
        tally.summary()
    );
    assert!(
        delivered,
        "delivery did not complete once the server behaved: {stats:?}"
    );
    assert!(
        injected >= 20,
        "too few faults injected to mean anything: {}",
        tally.summary()
    );

    // No record lost, none invented, none acknowledged twice, none resent after its acknowledgement.
    let missing: Vec<_> = saved.iter().filter(|d| !ledger.accepted.contains_key(*d)).collect();
    assert!(missing.is_empty(), "{} records never delivered", missing.len());
    assert!(
        ledger.accepted.keys().all(|d| saved_set.contains(d)),
        "the server acknowledged records never saved"
    );
    assert!(
        ledger.resent_after_ack.is_empty(),
        "{} acknowledged records were sent again (wrong records retried)",
        ledger.resent_after_ack.len()
    );
    assert!(
        ledger.accepted.values().all(|&n| n == 1),
        "a record was acknowledged twice"
    );
    // The counters agree with what the server said, entry by entry.
    assert_eq!(stats.records_submitted, saved.len() as u64);
    assert_eq!(
        stats.records_retried, ledger.rejected_entries,
        "records_retried vs rejected entries"
    );
    assert_eq!(
        stats.records_throttled, ledger.throttled_entries,
        "records_throttled vs throttled entries"
    );
    assert_eq!(
        (
            stats.records_dropped_attempts_exhausted,
            stats.records_dropped_expired,
            stats.records_dropped_storage_full,
            stats.records_dropped_deleted
        ),
        (0, 0, 0, 0)
    );

    // Backoff obeyed, stream by stream: after a failed call at least half of
    // the 1 s base delay, after rejected entries half of 200 ms. An expired
    // token is refreshed and resent at once, once per pass.
    let mut by_stream: HashMap<&str, Vec<(Instant, &'static str)>> = HashMap::new();
    for (at, stream, kind) in &ledger.requests {
        by_stream.entry(stream).or_default().push((*at, kind));
    }
    let mut violations = Vec::new();
    for (stream, mut requests) in by_stream {
        requests.sort_by_key(|r| r.0);
        for k in 1..requests.len() {
            let (previous, kind) = requests[k - 1];
            let gap = requests[k].0 - previous;
            let refreshed_resend = kind == "expired"
                && !(k >= 2
                    && requests[k - 2].1 == "expired"
                    && previous - requests[k - 2].0 < Duration::from_millis(400));
            let minimum = match kind {
                "ok" => Duration::ZERO,
                "partial" => Duration::from_millis(100),
                "expired" if refreshed_resend => Duration::ZERO,
                "stall" => Duration::from_millis(500 + 500),
                _ => Duration::from_millis(500),
            };
            if gap + Duration::from_millis(5) < minimum {
                violations.push(format!("{stream}: {gap:?} after {kind}, expected at least {minimum:?}"));
            }
        }
    }
    assert!(violations.is_empty(), "backoff not obeyed: {violations:?}");

    // No busy loop: failed calls of one stream stay rare whatever the schedule.
    let all: Vec<Instant> = ledger.requests.iter().map(|r| r.0).collect();
    let busiest = max_in_window(&all, Duration::from_secs(1));
    let failed_per_stream = ["alpha", "beta"].map(|s| {
        let failed: Vec<Instant> = ledger
            .requests
            .iter()
            .filter(|r| r.1 == s && CALL_FAILURES.contains(&r.2))
            .map(|r| r.0)
            .collect();
        max_in_window(&failed, Duration::from_secs(1))
    });
    println!("fault schedule: busiest second {busiest} requests, failed calls per stream in its busiest second {failed_per_stream:?}");
    assert!(busiest <= 60, "{busiest} requests in one second: a busy loop");
    assert!(
        failed_per_stream.iter().all(|&n| n <= 4),
        "failed calls per second per stream: {failed_per_stream:?}"
    );

    // The right errors reported: each failed call (bar silent token refreshes) is an event that will retry.
    let failures: Vec<(String, bool)> = events
        .all()
        .into_iter()
        .filter_map(|e| match e {
            RecorderEvent::SubmissionFailed {
                message, will_retry, ..
            } => Some((message, will_retry)),
            _ => None,
        })
        .collect();
    assert!(
        failures.iter().all(|(_, retry)| *retry),
        "a transient fault was reported as final: {failures:?}"
    );
    let call_failures: u64 = CALL_FAILURES.iter().map(|k| tally.get(k)).sum();
    let silent = tally.get("expired");
    assert!(
        (call_failures - silent..=call_failures).contains(&(failures.len() as u64)),
        "{} failure events for {call_failures} failed calls ({silent} expired tokens)",
        failures.len()
    );
    for (kind, needle) in [
        ("http500", "InternalFailure"),
        ("http503", "HTTP 503"),
        ("malformed", "unusable answer"),
        ("wrong_length", "results for"),
        ("throttled_call", "ProvisionedThroughputExceededException"),
    ] {
        if tally.get(kind) > 0 {
            assert!(
                failures.iter().any(|(m, _)| m.contains(needle)),
                "no event says {needle:?} for {kind}: {failures:?}"
            );
        }
    }
}

#[tokio::test]
async fn a_records_array_of_the_wrong_length_deletes_nothing() {
    let three = |index: usize| serde_json::json!({"SequenceNumber": format!("{index}"), "ShardId": "shardId-0"});
    let variants: Vec<(&str, serde_json::Value, &str)> = vec![
        (
            "one result too many",
            serde_json::json!({"FailedRecordCount": 0, "Records": (0..4).map(three).collect::<Vec<_>>()}),
            "4 results for 3",
        ),
        (
            "two results for three",
            serde_json::json!({"FailedRecordCount": 0, "Records": (0..2).map(three).collect::<Vec<_>>()}),
            "2 results for 3",
        ),
        (
            "empty Records",
            serde_json::json!({"FailedRecordCount": 0, "Records": []}),
            "0 results for 3",
        ),
        ("no Records", serde_json::json!({"FailedRecordCount": 0}), "no Records"),
        (
            "Records null",
            serde_json::json!({"FailedRecordCount": 0, "Records": null}),
            "no Records",
        ),
        (
            "Records an object",
            serde_json::json!({"Records": {"0": three(0)}}),
            "unusable answer",
        ),
        (
            "an entry with neither field",
            serde_json::json!({"Records": [three(0), {"ShardId": "x"}, three(2)]}),
            "neither",
        ),
        (
            "an entry that is null",
            serde_json::json!({"Records": [three(0), null, three(2)]}),
            "unusable answer",
        ),
        (
            "too many failures for the count",
            serde_json::json!({"FailedRecordCount": 5, "Records": vec![serde_json::json!({"ErrorCode": "InternalFailure", "ErrorMessage": "x"}); 5]}),
            "5 results for 3",
        ),
    ];
    for (what, body, needle) in variants {
        let server = {
            let body = body.clone();
            FaultServer::start(move |request, index| {
                if index == 0 {
                    Reply::Json(200, body.clone())
                } else {
                    accept_all(request)
                }
            })
        };
        let dir = tempfile::tempdir().unwrap();
        let mut config = config(&dir, &server.endpoint);
        config.max_attempts = 1; // an attempt spent would drop the record
        let recorder = Recorder::new(config, credentials()).unwrap();
        let events = Arc::new(Events::default());
        recorder.set_listener(Some(events.clone()));
        for i in 0..3u8 {
            recorder.save_record(vec![i], "s", Some(format!("k{i}"))).unwrap();
        }
        let report = recorder.submit_all_records().await.unwrap();
        assert_eq!(
            (
                report.records_submitted,
                report.records_dropped,
                report.records_remaining
            ),
            (3, 0, 0),
            "{what}: {report:?}"
        );
        let requests = server.requests();
        assert_eq!(requests.len(), 2, "{what}");
        assert!(
            requests.iter().all(|r| r.records().len() == 3),
            "{what}: both requests carry all three records"
        );
        assert!(
            requests[1].at - requests[0].at >= Duration::from_millis(500),
            "{what}: no backoff"
        );
        let stats = recorder.stats().unwrap();
        assert_eq!(
            (stats.records_retried, stats.records_dropped_attempts_exhausted),
            (0, 0),
            "{what}"
        );
        let messages: Vec<String> = events
            .all()
            .into_iter()
            .filter_map(|e| match e {
                RecorderEvent::SubmissionFailed {
                    message,
                    will_retry: true,
                    ..
                } => Some(message),
                _ => None,
            })
            .collect();
        assert!(
            messages.iter().any(|m| m.contains(needle)),
            "{what}: no event says {needle:?}: {messages:?}"
        );
    }
}

#[test]
fn refused_streams_back_off_alone_while_another_delivers() {
    let server = FaultServer::start(|request, _| match request.body["StreamName"].as_str() {
        Some("missing") => error_reply(400, "ResourceNotFoundException"),
        Some("denied") => Reply::Json(
            400,
            serde_json::json!({"__type": "com.amazon.coral.service#AccessDeniedException", "Message": "User is not authorized"}),
        ),
        _ => accept_all(request),
    });
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(&dir, &server.endpoint);
    config.auto_submit = true;
    config.submit_interval = Duration::from_millis(20);
    config.submit_threshold_records = 10;
    let recorder = Recorder::new(config, credentials()).unwrap();
    let events = Arc::new(Events::default());
    recorder.set_listener(Some(events.clone()));

    // Two seconds of steady saves to all three streams: about a hundred drains.
    let started = Instant::now();
    let mut saved_good = 0u64;
    let mut i = 0u32;
    while started.elapsed() < Duration::from_secs(2) {
        for stream in ["denied", "good", "missing"] {
            recorder
                .save_record(format!("{stream}-{i}").into_bytes(), stream, None)
                .unwrap();
        }
        saved_good += 1;
        i += 1;
        std::thread::sleep(Duration::from_millis(5));
    }
    let tried = |s: &str| server.requests().iter().any(|r| r.body["StreamName"] == s);
    assert!(wait_until(Duration::from_secs(10), || {
        recorder.stats().unwrap().records_submitted == saved_good && tried("missing") && tried("denied")
    }));
    // Time for a retry loop, if there were one, to show.
    std::thread::sleep(Duration::from_millis(500));

    let requests = server.requests();
    let count = |s: &str| requests.iter().filter(|r| r.body["StreamName"] == s).count();
    println!(
        "refused streams: {} requests for good, {} for missing, {} for denied over {:.1?}",
        count("good"),
        count("missing"),
        count("denied"),
        started.elapsed()
    );
    // One request each, then a long backoff (at least 30 s): no retry loop.
    assert_eq!(
        (count("missing"), count("denied")),
        (1, 1),
        "refused streams were retried in a loop"
    );
    assert!(
        count("good") >= 5,
        "the good stream was held back: {} requests",
        count("good")
    );
    // "denied" sorts first: the good stream behind it kept going after its refusal.
    let refusal = requests.iter().find(|r| r.body["StreamName"] == "denied").unwrap().at;
    assert!(
        requests
            .iter()
            .filter(|r| r.body["StreamName"] == "good" && r.at > refusal)
            .count()
            >= 5
    );

    let stats = recorder.stats().unwrap();
    assert_eq!(
        stats.pending_records,
        2 * saved_good,
        "the refused streams' records are all kept"
    );
    assert_eq!(
        (stats.records_retried, stats.records_dropped_attempts_exhausted),
        (0, 0),
        "no attempt spent"
    );
    for (stream, code, hint) in [
        ("missing", "ResourceNotFoundException", "create it"),
        ("denied", "AccessDeniedException", "kinesis:PutRecords"),
    ] {
        let state = stats.streams.iter().find(|s| s.stream_name == stream).unwrap();
        assert_eq!(state.pending_records, saved_good, "{stream}");
        assert!(
            state.last_error.as_deref().unwrap_or_default().contains(code),
            "{stream}: {state:?}"
        );
        assert!(
            state.retry_in.unwrap_or_default() >= Duration::from_secs(25),
            "{stream}: {state:?}"
        );
        let reported = events.all().into_iter().any(|e| {
            matches!(&e, RecorderEvent::SubmissionFailed { stream_name, code: Some(c), message, will_retry: false, .. }
                if stream_name == stream && c == code && message.contains(hint))
        });
        assert!(reported, "{stream}: no SubmissionFailed event with {code} and a fix");
    }
    let good = stats.streams.iter().find(|s| s.stream_name == "good");
    assert!(
        good.is_none_or(|s| s.pending_records == 0 && s.last_error.is_none()),
        "{good:?}"
    );
}

#[tokio::test]
async fn hours_offline_send_nothing_spend_nothing_and_drop_nothing() {
    let server = FaultServer::start(|request, _| accept_all(request));
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(&dir, &server.endpoint);
    config.auto_submit = true;
    config.submit_interval = Duration::from_millis(10); // 2 s stand for 200 intervals
    config.submit_threshold_records = 1;
    config.submit_threshold_bytes = 1;
    config.max_attempts = 1; // one spent attempt would drop a record
    let recorder = Arc::new(Recorder::new(config, credentials()).unwrap());
    recorder.set_network_available(false);

    let started = Instant::now();
    let mut saved = HashSet::new();
    let mut explicit = 0;
    let mut i = 0u32;
    while started.elapsed() < Duration::from_secs(2) {
        for _ in 0..20 {
            let data = format!("offline-{i:06}").into_bytes();
            recorder
                .save_record(data.clone(), if i % 2 == 0 { "a" } else { "b" }, None)
                .unwrap();
            saved.insert(data);
            i += 1;
        }
        if i % 200 == 0 {
            // Explicit submits while offline: reported, not sent.
            let report = recorder.submit_all_records().await.unwrap();
            assert!(report.network_unavailable && report.requests == 0, "{report:?}");
            explicit += 1;
        }
        recorder.request_submit();
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    recorder.flush().unwrap();
    let stats = recorder.stats().unwrap();
    println!(
        "offline: {} records saved over {:.1?} ({} intervals), {explicit} explicit submits, {} requests, {} connections",
        saved.len(),
        started.elapsed(),
        started.elapsed().as_millis() / 10,
        server.request_count(),
        server.connections.load(std::sync::atomic::Ordering::SeqCst)
    );
    assert_eq!(server.request_count(), 0, "requests sent while offline");
    assert_eq!(
        server.connections.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "connections opened while offline"
    );
    assert_eq!(stats.pending_records, saved.len() as u64);
    assert_eq!(
        (stats.requests_sent, stats.requests_failed, stats.records_retried),
        (0, 0, 0),
        "{stats:?}"
    );
    assert_eq!(
        stats.records_dropped_attempts_exhausted + stats.records_dropped_expired + stats.records_dropped_storage_full,
        0
    );
    assert!(!stats.network_available);

    recorder.set_network_available(true);
    assert!(
        wait_until(Duration::from_secs(20), || recorder.stats().unwrap().pending_records
            == 0),
        "the backlog did not drain after the network came back"
    );
    let delivered: Vec<Vec<u8>> = server
        .requests()
        .iter()
        .flat_map(|r| r.records())
        .map(|(_, d)| d)
        .collect();
    let distinct: HashSet<&Vec<u8>> = delivered.iter().collect();
    assert_eq!(distinct.len(), saved.len(), "every offline record arrived");
    assert_eq!(delivered.len(), saved.len(), "and only once");
    assert!(
        server.request_count() <= saved.len().div_ceil(500) + 2,
        "{} requests for a backlog of {}",
        server.request_count(),
        saved.len()
    );
}

/// A stream that receives records faster than one request takes must not
/// starve the streams after it: the old recorders' "one stream blocks the
/// others" (anchors.md), from traffic instead of errors. The server answers
/// after 40 ms, a fast mobile round trip; "busy" gets a record every 10 ms.
#[test]
fn a_busy_stream_does_not_starve_the_others() {
    let server = FaultServer::start(|request, _| {
        std::thread::sleep(Duration::from_millis(40));
        accept_all(request)
    });
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(&dir, &server.endpoint);
    config.auto_submit = true;
    config.submit_interval = Duration::from_millis(100);
    config.submit_threshold_records = 1;
    let recorder = Recorder::new(config, credentials()).unwrap();
    recorder.save_record(b"quiet record".to_vec(), "quiet", None).unwrap();
    let started = Instant::now();
    let mut quiet_sent_after = None;
    let mut i = 0u32;
    while started.elapsed() < Duration::from_secs(3) {
        recorder
            .save_record(format!("busy-{i}").into_bytes(), "busy", None)
            .unwrap();
        i += 1;
        if quiet_sent_after.is_none() && server.requests().iter().any(|r| r.body["StreamName"] == "quiet") {
            quiet_sent_after = Some(started.elapsed());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let busy_requests = server
        .requests()
        .iter()
        .filter(|r| r.body["StreamName"] == "busy")
        .count();
    println!("starvation: {busy_requests} requests for busy in 3 s; quiet first sent after {quiet_sent_after:?}");
    assert!(busy_requests > 10, "the busy stream itself was not being sent");
    assert!(
        quiet_sent_after.is_some_and(|t| t < Duration::from_secs(1)),
        "the quiet stream waited {quiet_sent_after:?} (None = never in 3 s) behind a busy stream"
    );
}
