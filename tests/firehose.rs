//! The Firehose recorder: the same recorder with `Service::Firehose`. End to
//! end against moto's Firehose with an S3 destination, read back with boto3
//! (`tests/servers/firehose_admin.py`, independent of the recorder);
//! per-record failures, throttling and hold-back errors against the
//! misbehaving loopback server (moto always answers `FailedPutCount: 0`);
//! limits, events and offline behaviour; bad inputs through the API and the
//! CLI, a store of the other service included.

mod harness;
mod support;

use std::path::Path;
use std::process::Command;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use harness::*;
use kinesis_recorder::{
    DropReason, FailureKind, RecordToSave, Recorder, RecorderConfig, RecorderError, RecorderEvent, Service,
    SubmitReport, WireFormat,
};
use support::*;

const MAX_RECORD: usize = 1_024_000;
const MAX_REQUEST: usize = 4 * 1024 * 1024;

// ---------------------------------------------------------------------------
// moto's Firehose and S3, set up and read back with boto3.

/// One moto for the whole test binary (it stops when the binary exits and
/// its stdin closes); each test uses its own bucket and delivery streams.
fn moto() -> &'static str {
    static MOTO: OnceLock<Server> = OnceLock::new();
    &MOTO.get_or_init(Server::moto).endpoint
}

fn admin(args: &[&str]) -> String {
    let venv = format!("{REPO}/.ci/.venv/bin/python");
    let python = if Path::new(&venv).exists() {
        venv
    } else {
        "python3".into()
    };
    let output = Command::new(&python)
        .arg(format!("{REPO}/tests/servers/firehose_admin.py"))
        .arg(moto())
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {python} (run .ci/install-servers.sh): {e}"));
    assert!(
        output.status.success(),
        "firehose_admin.py {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// A bucket and Direct PUT delivery streams writing to it (prefix = stream name).
fn create_delivery_streams(bucket: &str, streams: &[&str]) {
    let mut args = vec!["create", bucket];
    args.extend_from_slice(streams);
    admin(&args);
}

/// The S3 objects a delivery stream wrote, in key order.
fn s3_objects(bucket: &str, stream: &str) -> Vec<Vec<u8>> {
    let dir = tempfile::tempdir().unwrap();
    let listing = admin(&["read", bucket, &format!("{stream}/"), dir.path().to_str().unwrap()]);
    listing
        .lines()
        .map(|line| std::fs::read(dir.path().join(line.split(' ').next().unwrap())).unwrap())
        .collect()
}

fn firehose_config(dir: &tempfile::TempDir, name: &str, endpoint: &str) -> RecorderConfig {
    RecorderConfig {
        endpoint: Some(endpoint.to_owned()),
        auto_submit: false,
        // moto takes seconds over a 4 MiB call on a busy machine; a timeout
        // would send it again (at least once) and make a second S3 object.
        request_timeout: Duration::from_secs(60),
        ..RecorderConfig::for_service(Service::Firehose, dir.path().join(name).to_str().unwrap(), "us-east-1")
    }
}

/// The request bodies the recorder should have sent, in order: records
/// joined, `per_call` at a time.
fn joined(records: &[Vec<u8>], per_call: usize) -> Vec<Vec<u8>> {
    records.chunks(per_call).map(|c| c.concat()).collect()
}

fn sorted(mut items: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    items.sort();
    items
}

fn submitted_events(events: &Events) -> u64 {
    events
        .all()
        .iter()
        .map(|e| match e {
            RecorderEvent::RecordsSubmitted { count, .. } => *count,
            _ => 0,
        })
        .sum()
}

#[tokio::test]
async fn every_record_reaches_s3_byte_for_byte_in_the_fewest_calls() {
    create_delivery_streams("joined", &["plain", "lines"]);
    let dir = tempfile::tempdir().unwrap();
    let n = 1234usize;
    // Binary records of 20 to 320 bytes: every byte value, newlines and NULs included.
    let records: Vec<Vec<u8>> = (0..n)
        .map(|i| {
            let mut data = format!("record {i:04} ").into_bytes();
            data.extend((0..i % 301).map(|j| (i * 7 + j) as u8));
            data
        })
        .collect();

    let recorder = Recorder::new(firehose_config(&dir, "plain.db", moto()), credentials()).unwrap();
    let events = Arc::new(Events::default());
    recorder.set_listener(Some(events.clone()));
    for record in &records {
        recorder.save_record(record.clone(), "plain", None).unwrap();
    }
    let report = recorder.submit_all_records().await.unwrap();
    assert_eq!(
        (report.records_submitted, report.records_remaining, report.requests),
        (n as u64, 0, n.div_ceil(500) as u64),
        "{report:?}"
    );
    let objects = s3_objects("joined", "plain");
    assert_eq!(
        objects.len(),
        n.div_ceil(500),
        "one S3 object per call, ceil(n/500) calls"
    );
    assert_eq!(
        sorted(objects),
        sorted(joined(&records, 500)),
        "the objects hold every record, byte for byte"
    );
    let stats = recorder.stats().unwrap();
    assert_eq!(
        (stats.records_submitted, stats.requests_sent, stats.pending_records),
        (n as u64, 3, 0)
    );
    assert_eq!(submitted_events(&events), n as u64);

    // Newline-delimited: one JSON document per line in S3.
    let documents: Vec<Vec<u8>> = (0..n)
        .map(|i| format!(r#"{{"event":"tap","n":{i},"pad":"{}"}}"#, "x".repeat(i % 97)).into_bytes())
        .collect();
    let recorder = Recorder::new(
        RecorderConfig {
            newline_delimited: true,
            ..firehose_config(&dir, "lines.db", moto())
        },
        credentials(),
    )
    .unwrap();
    let saved: Vec<RecordToSave> = documents
        .iter()
        .map(|data| RecordToSave {
            data: data.clone(),
            stream_name: "lines".into(),
            partition_key: None,
            explicit_hash_key: None,
        })
        .collect();
    recorder.save_records(saved).unwrap();
    recorder.flush().unwrap();
    let newline_bytes: u64 = documents.iter().map(|d| d.len() as u64 + 1).sum();
    assert_eq!(
        recorder.disk_bytes_used(),
        newline_bytes,
        "the newline is stored and counted"
    );
    let report = recorder.submit_all_records().await.unwrap();
    assert_eq!((report.records_submitted, report.requests), (n as u64, 3), "{report:?}");
    let objects = s3_objects("joined", "lines");
    assert_eq!(objects.len(), 3);
    assert!(objects.iter().all(|o| o.ends_with(b"\n")));
    let mut lines: Vec<Vec<u8>> = objects
        .iter()
        .flat_map(|o| o.split(|&b| b == b'\n').filter(|l| !l.is_empty()).map(<[u8]>::to_vec))
        .collect();
    lines.sort();
    assert_eq!(lines, sorted(documents.clone()), "one document per line");
    let with_newlines: Vec<Vec<u8>> = documents.iter().map(|d| [d.as_slice(), b"\n"].concat()).collect();
    assert_eq!(sorted(objects), sorted(joined(&with_newlines, 500)));
}

#[tokio::test]
async fn large_records_are_split_by_the_4_mib_rule() {
    create_delivery_streams("large", &["big"]);
    let dir = tempfile::tempdir().unwrap();
    // Four records at the 1,000 KiB limit and one of 96 KiB fill a call to
    // exactly 4 MiB; the one-byte record after them starts the next call.
    let sizes = [
        MAX_RECORD,
        MAX_RECORD,
        MAX_RECORD,
        MAX_RECORD,
        MAX_REQUEST - 4 * MAX_RECORD,
        1,
        900 * 1024,
        900 * 1024,
        900 * 1024,
    ];
    let records: Vec<Vec<u8>> = sizes
        .iter()
        .enumerate()
        .map(|(i, &size)| (0..size).map(|j| (j % 251) as u8 ^ i as u8).collect())
        .collect();
    let recorder = Recorder::new(
        RecorderConfig {
            max_storage_bytes: 64 * 1024 * 1024,
            max_queued_bytes: 64 * 1024 * 1024,
            ..firehose_config(&dir, "big.db", moto())
        },
        credentials(),
    )
    .unwrap();
    for record in &records {
        recorder.save_record(record.clone(), "big", None).unwrap();
    }
    let report = recorder.submit_all_records().await.unwrap();
    assert_eq!((report.records_submitted, report.requests), (9, 2), "{report:?}");
    let objects = s3_objects("large", "big");
    let mut object_sizes: Vec<usize> = objects.iter().map(Vec::len).collect();
    object_sizes.sort();
    assert_eq!(object_sizes, vec![1 + 3 * 900 * 1024, MAX_REQUEST]);
    let expected = vec![records[..5].concat(), records[5..].concat()];
    assert_eq!(sorted(objects), sorted(expected));
}

// ---------------------------------------------------------------------------
// The misbehaving loopback server, answering as Firehose does.

/// A PutRecordBatch answer: entry `i` fails with `fail(i, data)` when it says so.
fn firehose_reply(request: &Request, fail: impl Fn(usize, &[u8]) -> Option<&'static str>) -> Reply {
    let mut failed = 0;
    let entries: Vec<serde_json::Value> = request
        .records()
        .iter()
        .enumerate()
        .map(|(i, (_, data))| match fail(i, data) {
            Some(code) => {
                failed += 1;
                serde_json::json!({"ErrorCode": code, "ErrorMessage": format!("{code} for entry {i}")})
            }
            None => serde_json::json!({"RecordId": format!("record-{i}")}),
        })
        .collect();
    Reply::Json(
        200,
        serde_json::json!({"FailedPutCount": failed, "Encrypted": false, "RequestResponses": entries}),
    )
}

fn accept_batch(request: &Request) -> Reply {
    firehose_reply(request, |_, _| None)
}

fn data_of(request: &Request) -> Vec<Vec<u8>> {
    request.records().into_iter().map(|(_, data)| data).collect()
}

#[tokio::test]
async fn per_record_failures_resend_only_those_records() {
    let server = FaultServer::start(|request, index| {
        firehose_reply(request, |i, _| match (index, i) {
            (0, 1) | (0, 4) => Some("ServiceUnavailableException"),
            (0, 6) => Some("InternalFailure"),
            _ => None,
        })
    });
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::new(firehose_config(&dir, "d.db", &server.endpoint), credentials()).unwrap();
    for i in 0..8u8 {
        recorder.save_record(vec![i], "orders", None).unwrap();
    }
    let report = recorder.submit_all_records().await.unwrap();
    assert_eq!(
        (
            report.records_submitted,
            report.records_retried,
            report.records_remaining
        ),
        (8, 3, 0),
        "{report:?}"
    );
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(data_of(&requests[0]), (0..8u8).map(|i| vec![i]).collect::<Vec<_>>());
    assert_eq!(
        data_of(&requests[1]),
        vec![vec![1], vec![4], vec![6]],
        "only the refused records"
    );
    assert!(
        requests[1].at - requests[0].at >= Duration::from_millis(100),
        "after the backoff"
    );
    let stats = recorder.stats().unwrap();
    assert_eq!(
        (stats.records_submitted, stats.records_retried, stats.records_throttled),
        (8, 3, 2),
        "ServiceUnavailableException per record counts as throttling"
    );

    // What went on the wire: PutRecordBatch, signed for firehose, data only.
    let first = &requests[0];
    assert_eq!(first.target, "Firehose_20150804.PutRecordBatch");
    assert_eq!(first.header("content-type"), Some("application/x-amz-json-1.1"));
    let authorization = first.header("authorization").unwrap();
    assert!(
        authorization.contains("/us-east-1/firehose/aws4_request"),
        "{authorization}"
    );
    assert_eq!(first.body["DeliveryStreamName"], "orders");
    assert!(first.body.get("StreamName").is_none());
    for record in first.body["Records"].as_array().unwrap() {
        let fields: Vec<&String> = record.as_object().unwrap().keys().collect();
        assert_eq!(fields, vec!["Data"], "Firehose records carry no partition key");
    }
}

#[tokio::test]
async fn a_record_refused_every_time_is_dropped_after_max_attempts() {
    let server = FaultServer::start(|request, _| {
        firehose_reply(request, |_, data| (data == b"doomed").then_some("InternalFailure"))
    });
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::new(
        RecorderConfig {
            max_attempts: 3,
            ..firehose_config(&dir, "d.db", &server.endpoint)
        },
        credentials(),
    )
    .unwrap();
    let events = Arc::new(Events::default());
    recorder.set_listener(Some(events.clone()));
    recorder.save_record(b"doomed".to_vec(), "d", None).unwrap();
    recorder.save_record(b"fine".to_vec(), "d", None).unwrap();
    let report = recorder.submit_all_records().await.unwrap();
    assert_eq!(
        (
            report.records_submitted,
            report.records_dropped,
            report.records_remaining
        ),
        (1, 1, 0),
        "{report:?}"
    );
    let requests = server.requests();
    assert_eq!(requests.len(), 3, "one request per attempt");
    assert_eq!(data_of(&requests[2]), vec![b"doomed".to_vec()]);
    assert!(events.all().contains(&RecorderEvent::RecordsDropped {
        stream_name: "d".into(),
        reason: DropReason::AttemptsExhausted,
        count: 1
    }));
    assert_eq!(recorder.stats().unwrap().records_dropped_attempts_exhausted, 1);
}

/// What one schedule of per-record throttling does to a recorder of `service`:
/// (report, requests, records resent, throttled, dropped).
async fn throttled_entries(service: Service) -> (SubmitReport, usize, u64, u64, u64) {
    let code = match service {
        Service::KinesisDataStreams => "ProvisionedThroughputExceededException",
        Service::Firehose => "ServiceUnavailableException",
    };
    // "hot" is throttled in the first two answers, "cold" never.
    let server = FaultServer::start(move |request, index| {
        let fail = |_: usize, data: &[u8]| (index < 2 && data == b"hot").then_some(code);
        match service {
            Service::KinesisDataStreams => put_records_reply(request, |i, (_, data)| fail(i, data)),
            Service::Firehose => firehose_reply(request, fail),
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let config = RecorderConfig {
        endpoint: Some(server.endpoint.clone()),
        auto_submit: false,
        max_attempts: 2,
        ..RecorderConfig::for_service(service, dir.path().join("t.db").to_str().unwrap(), "us-east-1")
    };
    let recorder = Recorder::new(config, credentials()).unwrap();
    for data in [&b"hot"[..], b"cold"] {
        recorder.save_record(data.to_vec(), "s", None).unwrap();
    }
    let report = recorder.submit_all_records().await.unwrap();
    let stats = recorder.stats().unwrap();
    (
        report,
        server.request_count(),
        stats.records_retried,
        stats.records_throttled,
        stats.records_dropped_attempts_exhausted,
    )
}

/// Firehose's per-record `ServiceUnavailableException` follows whatever rule
/// Kinesis' per-record throttling follows: same requests, same attempts.
#[tokio::test]
async fn per_record_throttling_is_counted_as_on_kinesis() {
    let kinesis = throttled_entries(Service::KinesisDataStreams).await;
    let firehose = throttled_entries(Service::Firehose).await;
    assert_eq!(firehose, kinesis);
    assert!(firehose.3 >= 1, "the throttled entries were seen: {firehose:?}");
    assert_eq!(
        firehose.0.records_submitted + firehose.4,
        2,
        "nothing unaccounted: {firehose:?}"
    );
}

#[tokio::test]
async fn a_throttled_or_unavailable_call_backs_off_without_spending_attempts() {
    for (status, code) in [
        (503, "ServiceUnavailableException"),
        (400, "ThrottlingException"),
        (400, "LimitExceededException"),
    ] {
        let server = FaultServer::start(move |request, index| {
            if index == 0 {
                error_reply(status, code)
            } else {
                accept_batch(request)
            }
        });
        let dir = tempfile::tempdir().unwrap();
        let recorder = Recorder::new(
            RecorderConfig {
                max_attempts: 1, // any spent attempt would drop a record
                ..firehose_config(&dir, "d.db", &server.endpoint)
            },
            credentials(),
        )
        .unwrap();
        let events = Arc::new(Events::default());
        recorder.set_listener(Some(events.clone()));
        for i in 0..3u8 {
            recorder.save_record(vec![i], "d", None).unwrap();
        }
        let report = recorder.submit_all_records().await.unwrap();
        assert_eq!(
            (
                report.records_submitted,
                report.records_dropped,
                report.records_remaining
            ),
            (3, 0, 0),
            "{code}: {report:?}"
        );
        let requests = server.requests();
        assert_eq!(requests.len(), 2, "{code}");
        assert!(
            requests.iter().all(|r| r.records().len() == 3),
            "{code}: all records, both times"
        );
        assert!(
            requests[1].at - requests[0].at >= Duration::from_millis(500),
            "{code}: backed off"
        );
        let stats = recorder.stats().unwrap();
        assert_eq!((stats.requests_failed, stats.records_retried), (1, 0), "{code}");
        assert!(
            events.all().iter().any(|e| matches!(
                e,
                RecorderEvent::SubmissionFailed {
                    kind: FailureKind::Throttled,
                    will_retry: true,
                    code: None,
                    ..
                }
            )),
            "{code}: {:?}",
            events.all()
        );
    }
}

#[tokio::test]
async fn hold_back_errors_stop_that_delivery_stream_alone() {
    let cases = [
        ("missing", "ResourceNotFoundException", "does not exist"),
        ("wrong-kind", "InvalidArgumentException", "Direct PUT"),
        ("bad-key", "InvalidKMSResourceException", "KMS key"),
        ("wrong-source", "InvalidSourceException", "configured source"),
    ];
    let server =
        FaultServer::start(
            move |request, _| match cases.iter().find(|c| request.body["DeliveryStreamName"] == c.0) {
                Some((_, code, _)) => error_reply(400, code),
                None => accept_batch(request),
            },
        );
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::new(
        RecorderConfig {
            max_attempts: 1,
            ..firehose_config(&dir, "d.db", &server.endpoint)
        },
        credentials(),
    )
    .unwrap();
    for stream in ["missing", "wrong-kind", "bad-key", "wrong-source", "fine"] {
        for i in 0..2u8 {
            recorder.save_record(vec![i], stream, None).unwrap();
        }
    }
    let report = recorder.submit_all_records().await.unwrap();
    assert_eq!(
        (report.records_submitted, report.records_remaining),
        (2, 8),
        "{report:?}"
    );
    assert_eq!(server.request_count(), 5, "one request per delivery stream, no loop");
    let stats = recorder.stats().unwrap();
    assert_eq!(stats.records_dropped_attempts_exhausted, 0, "no attempt spent");
    for (stream, code, fix) in cases {
        let error = report.errors.iter().find(|e| e.stream_name == stream).unwrap();
        assert_eq!(
            (error.kind, error.code.as_deref()),
            (FailureKind::StreamRejected, Some(code)),
            "{error:?}"
        );
        assert!(error.message.contains(fix), "{stream}: {}", error.message);
        let state = stats.streams.iter().find(|s| s.stream_name == stream).unwrap();
        assert_eq!(state.pending_records, 2, "{stream}: records kept");
        assert!(
            state.retry_in.unwrap() >= Duration::from_secs(29),
            "{stream}: {state:?}"
        );
        assert!(state.last_error.as_deref().unwrap().starts_with(code), "{state:?}");
    }
    assert!(stats
        .streams
        .iter()
        .all(|s| s.stream_name != "fine" || s.last_error.is_none()));
}

#[tokio::test]
async fn limits_events_and_offline_work_as_for_kinesis() {
    let server = FaultServer::start(|request, _| accept_batch(request));
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::new(
        RecorderConfig {
            max_storage_bytes: 1000,
            max_record_bytes: 1000,
            max_queued_bytes: 1000,
            notification_byte_threshold: 500,
            max_record_age: Some(Duration::from_secs(3600)),
            ..firehose_config(&dir, "d.db", &server.endpoint)
        },
        credentials(),
    )
    .unwrap();
    let events = Arc::new(Events::default());
    recorder.set_listener(Some(events.clone()));

    // Offline: no request at all.
    recorder.set_network_available(false);
    for i in 0..30u8 {
        // 100 bytes each: data only, no generated key.
        recorder.save_record(vec![i; 100], "d", None).unwrap();
        recorder.flush().unwrap();
    }
    let report = recorder.submit_all_records().await.unwrap();
    assert!(report.network_unavailable && report.requests == 0, "{report:?}");
    assert_eq!(server.connections.load(std::sync::atomic::Ordering::SeqCst), 0);

    // The storage limit counts data bytes: ten records fit in 1000 bytes.
    assert_eq!(recorder.disk_bytes_used(), 1000);
    let stats = recorder.stats().unwrap();
    assert_eq!((stats.pending_records, stats.records_dropped_storage_full), (10, 20));
    let all = events.all();
    let dropped: u64 = all
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
    assert_eq!(dropped, 20);
    assert!(all
        .iter()
        .any(|e| matches!(e, RecorderEvent::StorageThresholdCrossed { threshold: 500, .. })));

    // Back online: the ten newest go, in one call.
    recorder.set_network_available(true);
    let report = recorder.submit_all_records().await.unwrap();
    assert_eq!((report.records_submitted, report.requests), (10, 1), "{report:?}");
    let sent: Vec<u8> = data_of(&server.requests()[0]).iter().map(|d| d[0]).collect();
    assert_eq!(sent, (20..30).collect::<Vec<u8>>());
    assert_eq!(submitted_events(&events), 10);

    // The age limit drops what waited too long.
    let recorder = Recorder::new(
        RecorderConfig {
            max_record_age: Some(Duration::from_millis(300)),
            ..firehose_config(&dir, "age.db", &server.endpoint)
        },
        credentials(),
    )
    .unwrap();
    recorder.save_record(b"old".to_vec(), "d", None).unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    recorder.save_record(b"new".to_vec(), "d", None).unwrap();
    let report = recorder.submit_all_records().await.unwrap();
    assert_eq!(
        (report.records_submitted, report.records_remaining),
        (1, 0),
        "{report:?}"
    );
    assert_eq!(data_of(server.requests().last().unwrap()), vec![b"new".to_vec()]);
    assert_eq!(recorder.stats().unwrap().records_dropped_expired, 1);
}

// ---------------------------------------------------------------------------
// Bad inputs.

fn invalid_input<T>(result: Result<T, RecorderError>, needles: &[&str]) {
    match result.err() {
        Some(RecorderError::InvalidInput { reason }) => {
            for needle in needles {
                assert!(reason.contains(needle), "{needle:?} not in {reason:?}");
            }
        }
        other => panic!("expected InvalidInput with {needles:?}, got {other:?}"),
    }
}

#[test]
fn bad_saves_are_refused_and_nothing_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::new(firehose_config(&dir, "d.db", "http://127.0.0.1:1"), credentials()).unwrap();
    invalid_input(
        recorder.save_record(b"x".to_vec(), "d", Some("key".into())),
        &["partition key", "Firehose"],
    );
    invalid_input(
        recorder.save_record_with_hash_key(b"x".to_vec(), "d", None, Some("42".into())),
        &["explicit hash key"],
    );
    let keyed = |key: Option<&str>| RecordToSave {
        data: b"x".to_vec(),
        stream_name: "d".into(),
        partition_key: key.map(Into::into),
        explicit_hash_key: None,
    };
    invalid_input(
        recorder.save_records(vec![keyed(None), keyed(Some("k"))]),
        &["record 1", "partition key"],
    );
    invalid_input(
        recorder.save_record(vec![0; MAX_RECORD + 1], "d", None),
        &["1024001 bytes (data)", "limit is 1024000"],
    );
    invalid_input(recorder.save_record(b"x".to_vec(), &"d".repeat(65), None), &["1 to 64"]);
    invalid_input(recorder.save_record(Vec::new(), "d", None), &["must not be empty"]);
    recorder.flush().unwrap();
    assert_eq!(
        (recorder.stats().unwrap().pending_records, recorder.disk_bytes_used()),
        (0, 0)
    );

    // At the limit is fine; with a newline the same data is one byte over.
    recorder.save_record(vec![7; MAX_RECORD], "d", None).unwrap();
    recorder.flush().unwrap();
    assert_eq!(recorder.disk_bytes_used(), MAX_RECORD as u64);
    let lines = Recorder::new(
        RecorderConfig {
            newline_delimited: true,
            ..firehose_config(&dir, "lines.db", "http://127.0.0.1:1")
        },
        credentials(),
    )
    .unwrap();
    invalid_input(lines.save_record(vec![7; MAX_RECORD], "d", None), &["(data + newline)"]);
    lines.flush().unwrap();
    assert_eq!(lines.disk_bytes_used(), 0);
}

#[test]
fn bad_configurations_are_refused_before_a_store_is_made() {
    let dir = tempfile::tempdir().unwrap();
    let firehose = firehose_config(&dir, "never.db", "http://127.0.0.1:1");
    invalid_input(
        Recorder::new(
            RecorderConfig {
                wire_format: WireFormat::Cbor,
                ..firehose.clone()
            },
            credentials(),
        ),
        &["wire_format", "JSON only"],
    );
    invalid_input(
        Recorder::new(
            RecorderConfig {
                max_request_bytes: MAX_REQUEST as u64 + 1,
                ..firehose.clone()
            },
            credentials(),
        ),
        &["max_request_bytes", "4194304 for Firehose"],
    );
    // Kinesis' defaults with the service switched: the way out is named.
    invalid_input(
        Recorder::new(
            RecorderConfig {
                service: Service::Firehose,
                ..RecorderConfig::new(firehose.database_path.clone(), "us-east-1")
            },
            credentials(),
        ),
        &["made for Firehose from the start"],
    );
    assert!(!Path::new(&firehose.database_path).exists());
}

#[test]
fn a_store_of_the_other_service_is_refused_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.db").to_str().unwrap().to_owned();
    assert_eq!(Recorder::store_service(&path).unwrap(), None);
    let kinesis = || RecorderConfig {
        endpoint: Some("http://127.0.0.1:1".into()),
        auto_submit: false,
        ..RecorderConfig::new(path.clone(), "us-east-1")
    };
    let firehose = || RecorderConfig {
        service: Service::Firehose,
        max_record_bytes: MAX_RECORD as u64,
        max_request_bytes: MAX_REQUEST as u64,
        ..kinesis()
    };
    let recorder = Recorder::new(kinesis(), credentials()).unwrap();
    for i in 0..3u8 {
        recorder.save_record(vec![i], "s", None).unwrap();
    }
    recorder.shutdown();
    drop(recorder);
    assert_eq!(
        Recorder::store_service(&path).unwrap(),
        Some(Service::KinesisDataStreams)
    );
    let before = std::fs::read(&path).unwrap();
    // InvalidInput, not StorageFailure: an app must not move this store aside.
    invalid_input(
        Recorder::new(firehose(), credentials()),
        &[
            path.as_str(),
            "belongs to a Kinesis Data Streams recorder",
            "not to a Firehose one",
        ],
    );
    assert_eq!(std::fs::read(&path).unwrap(), before, "the file was changed");
    let recorder = Recorder::new(kinesis(), credentials()).unwrap();
    assert_eq!(recorder.stats().unwrap().pending_records, 3);
    drop(recorder);

    // And the other way round.
    let path = dir.path().join("firehose.db").to_str().unwrap().to_owned();
    let recorder = Recorder::new(
        RecorderConfig {
            database_path: path.clone(),
            ..firehose()
        },
        credentials(),
    )
    .unwrap();
    recorder.save_record(b"x".to_vec(), "d", None).unwrap();
    drop(recorder);
    invalid_input(
        Recorder::new(
            RecorderConfig {
                database_path: path.clone(),
                ..kinesis()
            },
            credentials(),
        ),
        &["belongs to a Firehose recorder", "not to a Kinesis Data Streams one"],
    );
    assert_eq!(Recorder::store_service(&path).unwrap(), Some(Service::Firehose));
}

// ---------------------------------------------------------------------------
// The CLI.

fn cli(args: &[&str], env: &[(&str, &str)], stdin: &[u8]) -> std::process::Output {
    let mut command = cli_command(args);
    command.envs(env.iter().copied());
    run_command(command, stdin)
}

fn expect(output: &std::process::Output, code: i32, needles: &[&str]) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(code), "stderr: {stderr}");
    for needle in needles {
        assert!(stderr.contains(needle), "{needle:?} not in {stderr:?}");
    }
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn the_cli_records_for_the_service_of_its_store() {
    create_delivery_streams("cli", &["cli-env", "cli-any", "cli-run"]);
    let dir = tempfile::tempdir().unwrap();
    let db = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();
    let (fh, kin, fresh) = (db("firehose.db"), db("kinesis.db"), db("fresh.db"));
    let unreachable = "http://127.0.0.1:1";

    // --service chooses the service of a new store; later commands follow the store.
    let record = |db: &str, extra: &[&str], stdin: &[u8]| {
        let mut args = vec!["record", "--db", db, "--stream", "cli-env"];
        args.extend_from_slice(extra);
        cli(&args, &[], stdin)
    };
    expect(&record(&fh, &["--service", "firehose"], b"a\nb\n"), 0, &[]);
    expect(&record(&fh, &[], b"c\n"), 0, &[]);
    expect(&record(&kin, &[], b"k\n"), 0, &[]);
    assert_eq!(Recorder::store_service(&fh).unwrap(), Some(Service::Firehose));
    assert_eq!(
        Recorder::store_service(&kin).unwrap(),
        Some(Service::KinesisDataStreams)
    );

    // A --service that disagrees with the store, and a key for Firehose: exit 2, nothing stored.
    expect(
        &record(&fh, &["--service", "kinesis"], b"x\n"),
        2,
        &[fh.as_str(), "Firehose store, not a Kinesis Data Streams one"],
    );
    expect(
        &record(&kin, &["--service", "firehose"], b"x\n"),
        2,
        &["Kinesis Data Streams store, not a Firehose one"],
    );
    let run_kinesis_as_firehose = cli(
        &[
            "run",
            "--db",
            &kin,
            "--stream",
            "s",
            "--service",
            "firehose",
            "--region",
            "us-east-1",
            "--endpoint",
            unreachable,
        ],
        &[],
        b"x\n",
    );
    expect(&run_kinesis_as_firehose, 2, &["not a Firehose one"]);
    expect(
        &record(&fh, &["--partition-key", "k"], b"x\n"),
        2,
        &["no partition key"],
    );
    expect(
        &record(&fresh, &["--service", "firehose", "--partition-key", "k"], b"x\n"),
        2,
        &["--partition-key"],
    );
    assert!(!Path::new(&fresh).exists(), "a store was made for a refused command");
    assert_eq!((pending(&fh), pending(&kin)), (3, 1));

    // submit uses the store's service: AWS_ENDPOINT_URL_FIREHOSE, not _KINESIS.
    let submitted = expect(
        &cli(
            &["submit", "--db", &fh, "--region", "us-east-1"],
            &[
                ("AWS_ENDPOINT_URL_FIREHOSE", moto()),
                ("AWS_ENDPOINT_URL_KINESIS", unreachable),
            ],
            b"",
        ),
        0,
        &[],
    );
    assert!(submitted.contains("submitted 3 records in 1 requests"), "{submitted}");
    assert_eq!(s3_objects("cli", "cli-env"), vec![b"abc".to_vec()]);

    // Then AWS_ENDPOINT_URL, with newline-delimited records.
    let any = db("any.db");
    let saved = cli(
        &[
            "record",
            "--db",
            &any,
            "--service",
            "firehose",
            "--stream",
            "cli-any",
            "--newline-delimited",
        ],
        &[],
        b"{\"a\":1}\n{\"b\":2}\n",
    );
    expect(&saved, 0, &[]);
    expect(
        &cli(
            &["submit", "--db", &any, "--region", "us-east-1"],
            &[("AWS_ENDPOINT_URL", moto()), ("AWS_ENDPOINT_URL_KINESIS", unreachable)],
            b"",
        ),
        0,
        &[],
    );
    assert_eq!(s3_objects("cli", "cli-any"), vec![b"{\"a\":1}\n{\"b\":2}\n".to_vec()]);

    // run: --endpoint wins over the environment.
    let ran = cli(
        &[
            "run",
            "--db",
            &db("run.db"),
            "--service",
            "firehose",
            "--stream",
            "cli-run",
            "--region",
            "us-east-1",
            "--endpoint",
            moto(),
        ],
        &[("AWS_ENDPOINT_URL_FIREHOSE", unreachable)],
        b"r1\nr2\nr3\n",
    );
    expect(&ran, 0, &[]);
    assert_eq!(s3_objects("cli", "cli-run"), vec![b"r1r2r3".to_vec()]);

    // status and clear read the store's service themselves.
    expect(&record(&fh, &[], b"d\n"), 0, &[]);
    let status = status_json(&fh);
    assert_eq!(
        (&status["service"], &status["pending_records"]),
        (&"firehose".into(), &1.into())
    );
    assert_eq!(status_json(&kin)["service"], "kinesis");
    let text = expect(&cli(&["status", "--db", &fh], &[], b""), 0, &[]);
    assert!(text.starts_with("service: Firehose\n"), "{text}");
    let cleared = expect(&cli(&["clear", "--db", &fh], &[], b""), 0, &[]);
    assert!(cleared.contains("deleted 1 records"), "{cleared}");
    assert_eq!(Recorder::store_service(&fh).unwrap(), Some(Service::Firehose));
}
