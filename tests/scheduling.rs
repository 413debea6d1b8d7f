//! Scheduling across streams, against the misbehaving loopback server: a
//! stream the service refuses (held back for minutes) must not delay a
//! healthy one nor break its batches, and an explicit submit serves every
//! stream early and returns by its deadline, with what it could not send
//! left pending.
//!
//! The background tests run with the default interval (30 s) and thresholds
//! (500 records / 512 KiB): what an app gets. They wait about half a minute
//! each, in parallel.

mod support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use kinesis_recorder::{Recorder, RecorderError};
use support::*;

const REFUSED: &str = "refused";
const HEALTHY: &str = "healthy";

/// Refuses stream `refused` as a missing stream, and accepts the others
/// after `latency` (a mobile network's round trip).
fn refusing_server(latency: Duration) -> FaultServer {
    FaultServer::start(move |request, _| match request.body["StreamName"].as_str() {
        Some(REFUSED) => error_reply(400, "ResourceNotFoundException"),
        _ => {
            std::thread::sleep(latency);
            accept_all(request)
        }
    })
}

fn requests_for(server: &FaultServer, stream: &str) -> Vec<Request> {
    server
        .requests()
        .into_iter()
        .filter(|r| r.body["StreamName"] == stream)
        .collect()
}

/// A recorder with the defaults an app gets, background submission on.
fn background_recorder(dir: &tempfile::TempDir, server: &FaultServer) -> Recorder {
    let mut config = config(dir, &server.endpoint);
    config.auto_submit = true;
    Recorder::new(config, credentials()).unwrap()
}

/// Gets `refused` refused three times by explicit submits: it is then held
/// back for two to four minutes.
async fn hold_back_refused_stream(recorder: &Recorder, server: &FaultServer) {
    for i in 0..10u8 {
        recorder.save_record(vec![i], REFUSED, None).unwrap();
    }
    for _ in 0..3 {
        let report = recorder.submit_all_records().await.unwrap();
        assert_eq!(report.errors.len(), 1, "{report:?}");
        assert_eq!(report.errors[0].code.as_deref(), Some("ResourceNotFoundException"));
    }
    assert_eq!(requests_for(server, REFUSED).len(), 3);
    let retry_in = recorder.stats().unwrap().streams[0].retry_in.unwrap();
    assert!(retry_in >= Duration::from_secs(100), "{retry_in:?}");
}

#[tokio::test]
async fn a_stream_held_back_does_not_delay_a_healthy_one() {
    let server = refusing_server(Duration::ZERO);
    let dir = tempfile::tempdir().unwrap();
    let recorder = background_recorder(&dir, &server);
    hold_back_refused_stream(&recorder, &server).await;

    // A while later, a few records for the healthy stream: below its
    // thresholds, they go when its own interval ends, not when the refused
    // stream's hold does.
    std::thread::sleep(Duration::from_secs(1));
    let saved_at = Instant::now();
    for i in 0..5u8 {
        recorder.save_record(vec![i], HEALTHY, None).unwrap();
    }
    let delivered = wait_until(Duration::from_secs(45), || !requests_for(&server, HEALTHY).is_empty());
    let healthy = requests_for(&server, HEALTHY);
    assert!(
        delivered,
        "the healthy stream waited more than 45 s (the refused one is held for minutes)"
    );
    let delay = healthy[0].at - saved_at;
    println!(
        "healthy stream beside one held back: first record delivered after {:.1} s (interval 30 s), {} record(s) per request",
        delay.as_secs_f64(),
        healthy[0].records().len()
    );
    assert!(
        delay >= Duration::from_secs(29) && delay <= Duration::from_secs(35),
        "{delay:?}"
    );
    assert_eq!(healthy[0].records().len(), 5, "one request for the whole interval");
    assert_eq!(requests_for(&server, REFUSED).len(), 3, "the refused stream stays held");
}

#[tokio::test]
async fn a_healthy_stream_sends_full_batches_while_another_holds_more_than_a_threshold() {
    let server = refusing_server(Duration::from_millis(100));
    let dir = tempfile::tempdir().unwrap();
    let recorder = background_recorder(&dir, &server);
    // 600 records for the refused stream: past the 500-record threshold, so
    // it is sent at once, refused, and held back at least 30 s.
    for i in 0..600u32 {
        recorder.save_record(i.to_be_bytes().to_vec(), REFUSED, None).unwrap();
    }
    assert!(wait_until(Duration::from_secs(10), || !requests_for(&server, REFUSED).is_empty()));

    // The healthy stream gets 50 records a second for 20 s.
    const RECORDS: u32 = 1_000;
    let mut saved_at = HashMap::new();
    let start = Instant::now();
    for i in 0..RECORDS {
        let due = start + Duration::from_millis(20) * i;
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
        recorder
            .save_record(format!("{i}").into_bytes(), HEALTHY, Some(format!("k{i}")))
            .unwrap();
        saved_at.insert(format!("{i}"), Instant::now());
    }
    assert!(
        wait_until(Duration::from_secs(15), || {
            requests_for(&server, HEALTHY)
                .iter()
                .map(|r| r.records().len())
                .sum::<usize>()
                >= RECORDS as usize
        }),
        "not all delivered: {:?}",
        recorder.stats().unwrap()
    );
    let healthy = requests_for(&server, HEALTHY);
    let sizes: Vec<usize> = healthy.iter().map(|r| r.records().len()).collect();
    let delays: Vec<Duration> = healthy
        .iter()
        .flat_map(|r| {
            r.records()
                .into_iter()
                .map(|(_, data)| r.at - saved_at[&String::from_utf8(data).unwrap()])
        })
        .collect();
    let max_delay = delays.iter().max().unwrap();
    let mean_delay = delays.iter().sum::<Duration>() / delays.len() as u32;
    println!(
        "healthy stream beside one held back past the threshold: {RECORDS} records in {} requests {sizes:?} \
         ({:.0} per request), delay mean {:.1} s, max {:.1} s",
        healthy.len(),
        RECORDS as f64 / healthy.len() as f64,
        mean_delay.as_secs_f64(),
        max_delay.as_secs_f64()
    );
    assert_eq!(sizes.iter().sum::<usize>(), RECORDS as usize, "each record once");
    assert!(
        healthy.len() <= 3 && sizes.iter().filter(|&&n| n == 500).count() >= 1,
        "full batches expected, got {sizes:?}"
    );
    assert!(*max_delay <= Duration::from_secs(30), "{max_delay:?}");
    assert_eq!(requests_for(&server, REFUSED).len(), 1, "the refused stream stays held");
}

#[tokio::test]
async fn a_healthy_stream_leaves_at_once_when_the_network_returns() {
    let server = refusing_server(Duration::ZERO);
    let dir = tempfile::tempdir().unwrap();
    let recorder = background_recorder(&dir, &server);
    hold_back_refused_stream(&recorder, &server).await;

    recorder.set_network_available(false);
    for i in 0..5u8 {
        recorder.save_record(vec![i], HEALTHY, None).unwrap();
    }
    recorder.flush().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let back = Instant::now();
    recorder.set_network_available(true);
    assert!(
        wait_until(Duration::from_secs(3), || !requests_for(&server, HEALTHY).is_empty()),
        "the healthy stream did not leave when the network came back"
    );
    println!(
        "network back: healthy stream sent after {} ms",
        (requests_for(&server, HEALTHY)[0].at - back).as_millis()
    );
    assert_eq!(requests_for(&server, HEALTHY)[0].records().len(), 5);
    // A refusal is not the network's fault: the refused stream stays held.
    assert_eq!(requests_for(&server, REFUSED).len(), 3);
}

#[tokio::test]
async fn an_explicit_submit_serves_every_stream_early_and_returns_by_its_deadline() {
    // 20 ms per request: the backlog needs over 80 requests, more than the
    // deadline allows.
    let server = FaultServer::start(|request, _| {
        std::thread::sleep(Duration::from_millis(20));
        accept_all(request)
    });
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::new(config(&dir, &server.endpoint), credentials()).unwrap();
    const BACKLOG: u32 = 40_000;
    // Named to come first in any order by name.
    for i in 0..BACKLOG {
        recorder
            .save_record(format!("backlog {i}").into_bytes(), "a-backlog", None)
            .unwrap();
    }
    let small: Vec<String> = (1..=9).map(|s| format!("stream-{s}")).collect();
    for stream in &small {
        for i in 0..50 {
            recorder
                .save_record(format!("{stream} {i}").into_bytes(), stream, None)
                .unwrap();
        }
    }
    let saved = BACKLOG as u64 + 9 * 50;
    // On disk before the clock starts (the deadline counts the commit too).
    recorder.flush().unwrap();

    let deadline = Duration::from_secs(1);
    let start = Instant::now();
    let report = recorder.submit_all_records_within(deadline).await.unwrap();
    let elapsed = start.elapsed();
    let requests = server.requests();
    assert!(requests.len() >= 10, "{report:?}");
    let first_round: Vec<&str> = requests[..10]
        .iter()
        .map(|r| r.body["StreamName"].as_str().unwrap())
        .collect();
    println!(
        "explicit submit, 1 s deadline, 10 streams, one with {BACKLOG} records: returned after {} ms, {} requests, \
         {} submitted, {} left; first 10 requests: {first_round:?}",
        elapsed.as_millis(),
        report.requests,
        report.records_submitted,
        report.records_remaining
    );
    // By the deadline, give or take the store work of one batch (a loaded
    // machine, a debug build).
    assert!(elapsed < deadline + Duration::from_millis(500), "{elapsed:?}");
    assert!(report.deadline_reached, "{report:?}");
    for stream in &small {
        assert!(
            first_round.contains(&stream.as_str()),
            "{stream} waited: {first_round:?}"
        );
    }
    // Every small stream delivered in full, the backlog in part; the rest stays pending.
    let stats = recorder.stats().unwrap();
    assert!(stats.streams.iter().all(|s| s.stream_name == "a-backlog"), "{stats:?}");
    assert!(report.records_remaining > 0, "{report:?}");
    assert_eq!(report.records_submitted + report.records_remaining, saved, "{report:?}");

    // The rest goes with the next submit; each record once.
    let report = recorder.submit_all_records().await.unwrap();
    assert_eq!(
        (report.records_remaining, report.deadline_reached),
        (0, false),
        "{report:?}"
    );
    let mut seen = HashMap::new();
    for request in server.requests() {
        for (_, data) in request.records() {
            *seen.entry(data).or_insert(0) += 1;
        }
    }
    assert_eq!(seen.len() as u64, saved);
    assert!(seen.values().all(|&n| n == 1), "a record was sent twice");
}

#[tokio::test]
async fn an_explicit_submit_never_waits_out_long_backoffs() {
    // One stream's records are refused one by one, for ever: throttled for
    // one stream, InternalFailure for another. Waiting out their backoffs
    // used to take minutes inside one call.
    let server = FaultServer::start(|request, _| match request.body["StreamName"].as_str() {
        Some("throttled") => put_records_reply(request, |_, _| Some("ProvisionedThroughputExceededException")),
        Some("failing") => put_records_reply(request, |_, _| Some("InternalFailure")),
        _ => accept_all(request),
    });
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(&dir, &server.endpoint);
    config.max_attempts = 1_000;
    let recorder = Recorder::new(config, credentials()).unwrap();
    for stream in ["failing", "fine", "throttled"] {
        recorder.save_record(b"x".to_vec(), stream, None).unwrap();
    }
    let start = Instant::now();
    let report = recorder
        .submit_all_records_within(Duration::from_secs(3))
        .await
        .unwrap();
    let elapsed = start.elapsed();
    println!(
        "refused for ever, 3 s deadline: returned after {} ms, {} requests",
        elapsed.as_millis(),
        report.requests
    );
    assert!(elapsed < Duration::from_millis(3_300), "{elapsed:?}");
    assert_eq!(
        (report.records_submitted, report.records_remaining),
        (1, 2),
        "{report:?}"
    );
    assert!(report.deadline_reached);
    assert!(report.records_retried >= 4, "the backoffs were waited out: {report:?}");
    // Nothing dropped: the records stay for later.
    assert_eq!(recorder.stats().unwrap().records_dropped_attempts_exhausted, 0);
}

#[tokio::test]
async fn a_zero_deadline_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::new(config(&dir, "http://127.0.0.1:1"), credentials()).unwrap();
    recorder.save_record(b"x".to_vec(), "s", None).unwrap();
    recorder.flush().unwrap();
    match recorder.submit_all_records_within(Duration::ZERO).await {
        Err(RecorderError::InvalidInput { reason }) => assert!(reason.contains("deadline"), "{reason}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(recorder.stats().unwrap().pending_records, 1);
}

#[tokio::test]
async fn a_submit_joins_a_long_background_drain_and_keeps_its_deadline() {
    // A background drain of a large backlog is under way when the app asks
    // for a submission with a short deadline: the answer comes by then.
    let server = FaultServer::start(|request, _| {
        std::thread::sleep(Duration::from_millis(20));
        accept_all(request)
    });
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(&dir, &server.endpoint);
    config.max_storage_bytes = 64 * 1024 * 1024;
    let recorder = Recorder::new(config.clone(), credentials()).unwrap();
    for i in 0..30_000u32 {
        recorder.save_record(i.to_be_bytes().to_vec(), "backlog", None).unwrap();
    }
    recorder.shutdown();
    drop(recorder);
    // Reopened with background submission: left-over records go at once.
    config.auto_submit = true;
    let recorder = Recorder::new(config, credentials()).unwrap();
    assert!(wait_until(Duration::from_secs(10), || server.request_count() >= 2));
    recorder.save_record(b"late".to_vec(), "other", None).unwrap();
    let start = Instant::now();
    let report = recorder
        .submit_all_records_within(Duration::from_millis(500))
        .await
        .unwrap();
    let elapsed = start.elapsed();
    assert!(elapsed < Duration::from_millis(800), "{elapsed:?}");
    assert!(
        server.requests().iter().any(|r| r.body["StreamName"] == "other"),
        "the other stream had its turn: {report:?}"
    );
}
