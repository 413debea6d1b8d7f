//! Against a server that really throttles: ferrokinesis with AWS's shard
//! write limits enforced (1,000 records/s and 1 MiB/s per shard), run in this
//! process on 127.0.0.1. Per-record `ProvisionedThroughputExceededException`s
//! come from the server's own accounting, not from a script: the recorder must
//! resend only the refused records, after a backoff, until every record is in
//! the stream exactly once, without a busy loop.

mod support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use kinesis_recorder::Recorder;
use support::{config, create_stream, credentials, read_stream, test_client};

/// A ferrokinesis server on 127.0.0.1 with enforced limits, served by its own
/// runtime on a background thread until the test process ends.
fn throttling_server() -> String {
    let (ready, endpoint) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let options = ferrokinesis::store::StoreOptions {
                create_stream_ms: 0,
                enforce_limits: true,
                ..Default::default()
            };
            let (app, _store) = ferrokinesis::create_app(options);
            // The library leaves axum's 2 MB body limit on; the service takes 10 MiB.
            let app = app.layer(axum::extract::DefaultBodyLimit::max(12 * 1024 * 1024));
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            ready
                .send(format!("http://{}", listener.local_addr().unwrap()))
                .unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    endpoint
        .recv_timeout(Duration::from_secs(10))
        .expect("ferrokinesis did not start")
}

struct Run {
    elapsed: Duration,
    requests: u64,
    throttled: u64,
    retried: u64,
}

impl Run {
    /// What every throttled drain must show: the server did throttle, only
    /// the refused records were resent, no faster than the shard allows, and
    /// a backoff instead of a busy loop (a spin makes hundreds of requests).
    fn check(&self, what: &str, at_least: Duration) {
        println!(
            "{what} in {:.1} s, {} requests, {} refusals resent",
            self.elapsed.as_secs_f64(),
            self.requests,
            self.retried
        );
        assert!(
            self.throttled > 0,
            "the server never throttled: the test proves nothing"
        );
        assert_eq!(self.retried, self.throttled, "only throttled records are resent");
        assert!(
            self.elapsed >= at_least,
            "faster than the shard allows: {:?}",
            self.elapsed
        );
        assert!(
            self.requests <= 40,
            "{} requests: the backoff is not obeyed",
            self.requests
        );
    }
}

/// Saves `records`, submits until none is left, and checks that the stream
/// holds each exactly once.
fn drain_through_throttling(stream: &str, records: Vec<Vec<u8>>) -> Run {
    let endpoint = throttling_server();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let client = test_client(&endpoint);
    runtime.block_on(create_stream(&client, stream, 1));

    let dir = tempfile::tempdir().unwrap();
    let mut config = config(&dir, &endpoint);
    config.max_storage_bytes = 64 * 1024 * 1024;
    config.request_timeout = Duration::from_secs(10);
    let recorder = Recorder::new(config, credentials()).unwrap();
    for (i, data) in records.iter().enumerate() {
        recorder
            .save_record(data.clone(), stream, Some(format!("key-{i}")))
            .unwrap();
    }
    recorder.flush().unwrap();

    let start = Instant::now();
    let mut submits = 0;
    while recorder.stats().unwrap().pending_records > 0 {
        submits += 1;
        assert!(
            submits <= 10,
            "still pending after 10 submits: {:?}",
            recorder.stats().unwrap()
        );
        let report = runtime.block_on(recorder.submit_all_records()).unwrap();
        assert!(
            report.errors.is_empty(),
            "throttling is not a stream error: {:?}",
            report.errors
        );
    }
    let elapsed = start.elapsed();
    let stats = recorder.stats().unwrap();
    assert_eq!(
        stats.records_dropped_attempts_exhausted, 0,
        "a throttled record was given up: {stats:?}"
    );
    assert_eq!(stats.records_submitted, records.len() as u64);

    let mut expected: HashMap<(String, Vec<u8>), usize> = HashMap::new();
    for (i, data) in records.into_iter().enumerate() {
        *expected.entry((format!("key-{i}"), data)).or_default() += 1;
    }
    let mut found: HashMap<(String, Vec<u8>), usize> = HashMap::new();
    for record in runtime.block_on(read_stream(&client, stream)) {
        *found.entry(record).or_default() += 1;
    }
    assert_eq!(found.len(), expected.len(), "records missing from the stream");
    assert!(found == expected, "a record is missing or was written twice");
    Run {
        elapsed,
        requests: stats.requests_sent + stats.requests_failed,
        throttled: stats.records_throttled,
        retried: stats.records_retried,
    }
}

#[test]
fn record_rate_throttling_resends_only_the_refused_records() {
    // 3,000 records on one shard: three seconds' worth of its 1,000 records/s
    // (6 full requests would do without throttling).
    let records: Vec<Vec<u8>> = (0..3_000u32).map(|i| format!("{i:0>100}").into_bytes()).collect();
    let run = drain_through_throttling("throttled-records", records);
    // The third thousand cannot go before the shard's third second.
    run.check("record rate: 3000 x 100 B", Duration::from_millis(1_900));
}

#[test]
fn byte_rate_throttling_resends_only_the_refused_records() {
    // 40 records of 64 KiB: 2.5 MiB, two and a half seconds of a shard's 1 MiB/s.
    let records: Vec<Vec<u8>> = (0..40u8).map(|i| vec![i; 64 * 1024]).collect();
    let run = drain_through_throttling("throttled-bytes", records);
    run.check("byte rate: 40 x 64 KiB", Duration::from_millis(1_400));
}
