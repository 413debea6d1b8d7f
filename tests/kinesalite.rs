//! End to end against kinesalite, a real Kinesis-compatible server: records
//! saved, submitted, then read back by the official SDK and compared byte for
//! byte, partition keys included.

mod support;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use kinesis_recorder::{Recorder, RecorderError, RecorderEvent};
use support::*;

#[tokio::test]
async fn records_from_many_threads_arrive_byte_for_byte() {
    let server = Server::kinesalite();
    let sdk = test_client(&server.endpoint);
    create_stream(&sdk, "events", 2).await;
    create_stream(&sdk, "metrics", 1).await;
    let dir = tempfile::tempdir().unwrap();
    let recorder = Arc::new(Recorder::new(config(&dir, &server.endpoint), credentials()).unwrap());

    let mut expected: HashMap<&str, Vec<(String, Vec<u8>)>> = HashMap::new();
    let threads: Vec<_> = (0..4u8)
        .map(|t| {
            let recorder = recorder.clone();
            std::thread::spawn(move || {
                let mut saved = Vec::new();
                for i in 0..300u32 {
                    let stream = if i % 3 == 0 { "metrics" } else { "events" };
                    // Binary payloads of varied sizes, every byte value included.
                    let data: Vec<u8> = (0..(1 + (i as usize * 7) % 400)).map(|b| (b as u8) ^ t).collect();
                    let key = format!("thread-{t}-key-{}", i % 5);
                    recorder.save_record(data.clone(), stream, Some(key.clone())).unwrap();
                    saved.push((stream, key, data));
                }
                saved
            })
        })
        .collect();
    for thread in threads {
        for (stream, key, data) in thread.join().unwrap() {
            expected.entry(stream).or_default().push((key, data));
        }
    }
    recorder
        .save_record_with_hash_key(b"hashed".to_vec(), "events", Some("k".into()), Some("0".into()))
        .unwrap();
    expected
        .get_mut("events")
        .unwrap()
        .push(("k".into(), b"hashed".to_vec()));

    let report = recorder.submit_all_records().await.unwrap();
    assert_eq!(report.records_submitted, 1201, "{report:?}");
    assert_eq!(report.records_remaining, 0);
    assert!(report.errors.is_empty(), "{report:?}");
    // 801 events records: two full requests of 500 at most; 400 metrics: one.
    assert_eq!(report.requests, 3, "{report:?}");

    for (stream, mut want) in expected {
        let mut got = read_stream(&sdk, stream).await;
        want.sort();
        got.sort();
        assert_eq!(got.len(), want.len(), "{stream}");
        assert!(got == want, "{stream}: records differ");
    }
    let stats = recorder.stats().unwrap();
    assert_eq!(
        (stats.pending_records, stats.pending_bytes, stats.records_submitted),
        (0, 0, 1201)
    );
}

#[tokio::test]
async fn interleaved_streams_pack_full_batches() {
    let server = Server::kinesalite();
    let sdk = test_client(&server.endpoint);
    create_stream(&sdk, "a", 1).await;
    create_stream(&sdk, "b", 1).await;
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::new(config(&dir, &server.endpoint), credentials()).unwrap();
    for i in 0..2000u32 {
        let stream = if i % 2 == 0 { "a" } else { "b" };
        recorder.save_record(i.to_be_bytes().to_vec(), stream, None).unwrap();
    }
    let report = recorder.submit_all_records().await.unwrap();
    // 1000 records per stream in 500-record requests: 4 requests, not the
    // hundreds the old recorders made of alternating streams.
    assert_eq!((report.records_submitted, report.requests), (2000, 4), "{report:?}");
    assert_eq!(read_stream(&sdk, "a").await.len(), 1000);
    assert_eq!(read_stream(&sdk, "b").await.len(), 1000);
}

#[tokio::test]
async fn a_missing_stream_does_not_block_the_others() {
    let server = Server::kinesalite();
    let sdk = test_client(&server.endpoint);
    create_stream(&sdk, "present", 1).await;
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::new(config(&dir, &server.endpoint), credentials()).unwrap();
    let events = Arc::new(Events::default());
    recorder.set_listener(Some(events.clone()));
    for i in 0..10u8 {
        // "absent" sorts first, so it is tried before "present".
        recorder.save_record(vec![i], "absent", None).unwrap();
        recorder.save_record(vec![i], "present", None).unwrap();
    }
    let report = recorder.submit_all_records().await.unwrap();
    assert_eq!(report.records_submitted, 10);
    assert_eq!(report.records_remaining, 10);
    assert_eq!(report.errors.len(), 1);
    assert_eq!(report.errors[0].stream_name, "absent");
    assert_eq!(report.errors[0].code.as_deref(), Some("ResourceNotFoundException"));
    assert!(report.errors[0].message.contains("create it"), "{:?}", report.errors[0]);
    assert_eq!(read_stream(&sdk, "present").await.len(), 10);

    // The failing stream's records are kept, with no attempt spent.
    let stats = recorder.stats().unwrap();
    assert_eq!((stats.pending_records, stats.records_retried), (10, 0));
    let absent = stats.streams.iter().find(|s| s.stream_name == "absent").unwrap();
    assert!(absent
        .last_error
        .as_deref()
        .unwrap()
        .contains("ResourceNotFoundException"));
    assert!(absent.retry_in.is_some());
    assert!(events.all().iter().any(|e| matches!(e,
        RecorderEvent::SubmissionFailed { stream_name, will_retry: false, .. } if stream_name == "absent")));

    // Once the stream exists, the same records go through.
    create_stream(&sdk, "absent", 1).await;
    let report = recorder.submit_all_records().await.unwrap();
    assert_eq!(
        (report.records_submitted, report.records_remaining),
        (10, 0),
        "{report:?}"
    );
    assert_eq!(read_stream(&sdk, "absent").await.len(), 10);
}

#[tokio::test]
async fn offline_records_wait_then_drain_by_themselves() {
    let server = Server::kinesalite();
    let sdk = test_client(&server.endpoint);
    create_stream(&sdk, "s", 1).await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(&dir, &server.endpoint);
    config.auto_submit = true;
    config.submit_interval = Duration::from_millis(20);
    config.submit_threshold_records = 1;
    let recorder = Recorder::new(config, credentials()).unwrap();
    recorder.set_network_available(false);
    for i in 0..50u8 {
        recorder.save_record(vec![i], "s", None).unwrap();
    }
    let report = recorder.submit_all_records().await.unwrap();
    assert!(report.network_unavailable);
    assert_eq!((report.requests, report.records_remaining), (0, 50));
    // Many intervals pass offline: no request, no attempt spent.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let stats = recorder.stats().unwrap();
    assert_eq!(
        (stats.requests_sent, stats.requests_failed, stats.records_retried),
        (0, 0, 0)
    );
    assert_eq!(stats.pending_records, 50);

    recorder.set_network_available(true);
    assert!(wait_until(Duration::from_secs(10), || recorder
        .stats()
        .unwrap()
        .pending_records
        == 0));
    assert_eq!(read_stream(&sdk, "s").await.len(), 50);
}

#[tokio::test]
async fn background_submission_follows_the_threshold_and_the_interval() {
    let server = Server::kinesalite();
    let sdk = test_client(&server.endpoint);
    create_stream(&sdk, "s", 1).await;

    // Threshold: 10 records go out at once though the interval is an hour.
    let dir = tempfile::tempdir().unwrap();
    let mut by_threshold = config(&dir, &server.endpoint);
    by_threshold.auto_submit = true;
    by_threshold.submit_interval = Duration::from_secs(3600);
    by_threshold.submit_threshold_records = 10;
    let recorder = Recorder::new(by_threshold, credentials()).unwrap();
    for i in 0..9u8 {
        recorder.save_record(vec![i], "s", None).unwrap();
    }
    recorder.flush().unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        recorder.stats().unwrap().pending_records,
        9,
        "below the threshold nothing is sent"
    );
    recorder.save_record(vec![9], "s", None).unwrap();
    recorder.flush().unwrap();
    assert!(wait_until(Duration::from_secs(10), || recorder
        .stats()
        .unwrap()
        .pending_records
        == 0));
    drop(recorder);

    // Interval: one record goes out after the interval, without a threshold.
    let dir = tempfile::tempdir().unwrap();
    let mut by_interval = config(&dir, &server.endpoint);
    by_interval.auto_submit = true;
    by_interval.submit_interval = Duration::from_millis(200);
    by_interval.submit_threshold_records = 0;
    by_interval.submit_threshold_bytes = 0;
    let recorder = Recorder::new(by_interval, credentials()).unwrap();
    recorder.save_record(b"late".to_vec(), "s", None).unwrap();
    recorder.flush().unwrap();
    assert!(wait_until(Duration::from_secs(10), || recorder
        .stats()
        .unwrap()
        .pending_records
        == 0));
    assert_eq!(read_stream(&sdk, "s").await.len(), 11);
}

#[tokio::test]
async fn submit_after_every_save_is_coalesced() {
    let server = Server::kinesalite();
    let sdk = test_client(&server.endpoint);
    create_stream(&sdk, "s", 1).await;
    let dir = tempfile::tempdir().unwrap();
    let recorder = Arc::new(Recorder::new(config(&dir, &server.endpoint), credentials()).unwrap());
    // The KPL flushSync() trap: an app that submits after each save.
    let mut submits = Vec::new();
    for i in 0..200u32 {
        recorder.save_record(i.to_be_bytes().to_vec(), "s", None).unwrap();
        let recorder = recorder.clone();
        submits.push(tokio::spawn(async move { recorder.submit_all_records().await }));
    }
    for submit in submits {
        submit.await.unwrap().unwrap();
    }
    let stats = recorder.stats().unwrap();
    assert_eq!(stats.pending_records, 0);
    assert_eq!(read_stream(&sdk, "s").await.len(), 200);
    assert!(
        stats.requests_sent <= 10,
        "200 submits made {} requests",
        stats.requests_sent
    );
}

#[tokio::test]
async fn bad_input_is_refused_and_nothing_is_stored() {
    let server = Server::kinesalite();
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::new(config(&dir, &server.endpoint), credentials()).unwrap();
    recorder.save_record(b"kept".to_vec(), "s", None).unwrap();
    let bad: Vec<(&str, Result<(), RecorderError>)> = vec![
        ("empty data", recorder.save_record(vec![], "s", None)),
        (
            "oversize data",
            recorder.save_record(vec![0; 1024 * 1024], "s", Some("k".into())),
        ),
        (
            "empty partition key",
            recorder.save_record(b"x".to_vec(), "s", Some(String::new())),
        ),
        (
            "257-character key",
            recorder.save_record(b"x".to_vec(), "s", Some("k".repeat(257))),
        ),
        ("empty stream", recorder.save_record(b"x".to_vec(), "", None)),
        ("bad stream", recorder.save_record(b"x".to_vec(), "a/b", None)),
        (
            "long stream",
            recorder.save_record(b"x".to_vec(), &"s".repeat(129), None),
        ),
        (
            "hash key not a number",
            recorder.save_record_with_hash_key(b"x".to_vec(), "s", None, Some("abc".into())),
        ),
        (
            "hash key negative",
            recorder.save_record_with_hash_key(b"x".to_vec(), "s", None, Some("-1".into())),
        ),
        (
            "hash key 2^128",
            recorder.save_record_with_hash_key(
                b"x".to_vec(),
                "s",
                None,
                Some("340282366920938463463374607431768211456".into()),
            ),
        ),
    ];
    for (what, result) in bad {
        assert!(
            matches!(result, Err(RecorderError::InvalidInput { .. })),
            "{what}: {result:?}"
        );
    }
    recorder.flush().unwrap();
    assert_eq!(recorder.stats().unwrap().pending_records, 1);
}

/// A named change that makes a configuration invalid.
type ConfigChange = (&'static str, Box<dyn Fn(&mut kinesis_recorder::RecorderConfig)>);

#[tokio::test]
async fn bad_configuration_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let base = config(&dir, "http://127.0.0.1:1");
    let cases: Vec<ConfigChange> = vec![
        ("region", Box::new(|c| c.region = "moon".into())),
        (
            "plain http to a remote host",
            Box::new(|c| c.endpoint = Some("http://example.com".into())),
        ),
        ("endpoint not a URL", Box::new(|c| c.endpoint = Some("::".into()))),
        ("zero storage", Box::new(|c| c.max_storage_bytes = 0)),
        ("zero record size", Box::new(|c| c.max_record_bytes = 0)),
        (
            "record over 10 MiB",
            Box::new(|c| c.max_record_bytes = 11 * 1024 * 1024),
        ),
        (
            "request over 10 MiB",
            Box::new(|c| c.max_request_bytes = 11 * 1024 * 1024),
        ),
        ("zero records per request", Box::new(|c| c.max_records_per_request = 0)),
        ("501 records per request", Box::new(|c| c.max_records_per_request = 501)),
        ("zero attempts", Box::new(|c| c.max_attempts = 0)),
        ("zero interval", Box::new(|c| c.submit_interval = Duration::ZERO)),
        ("zero age", Box::new(|c| c.max_record_age = Some(Duration::ZERO))),
        ("empty path", Box::new(|c| c.database_path = String::new())),
    ];
    for (what, change) in cases {
        let mut config = base.clone();
        change(&mut config);
        let result = Recorder::new(config, credentials());
        assert!(
            matches!(result, Err(RecorderError::InvalidInput { .. })),
            "{what}: {:?}",
            result.err()
        );
    }
    assert!(
        !dir.path().join("records.db").exists(),
        "no store is created for a bad configuration"
    );
}
