//! KPL aggregation end to end. Records go through kinesalite (a stream of
//! four shards) or the misbehaving loopback server, are read back with the
//! official SDK, and are de-aggregated by aws-kinesis-agg, the published
//! Python module (`tests/servers/deaggregate.py`), never by the recorder's
//! own code: every record and key must come back byte for byte, and every
//! sub-record's key must hash into the shard its aggregate landed on.

mod support;

use std::collections::HashMap;
use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Arc;

use base64::Engine as _;
use kinesis_recorder::{DropReason, Recorder, RecorderConfig, RecorderError, RecorderEvent};
use rand::{Rng, SeedableRng};
use support::*;

/// One user record as the published de-aggregator gives it back.
#[derive(Debug, Clone)]
struct UserRecord {
    /// Index of the Kinesis record that carried it.
    record: usize,
    aggregated: bool,
    partition_key: String,
    explicit_hash_key: Option<String>,
    data: Vec<u8>,
    /// The 128-bit key that routes it: its explicit hash key, else the MD5 of its partition key.
    hash_key: u128,
}

/// De-aggregates `(partition key, data)` Kinesis records with aws-kinesis-agg.
fn deaggregate(records: &[(String, Vec<u8>)]) -> Vec<UserRecord> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let input: Vec<serde_json::Value> = records
        .iter()
        .map(|(key, data)| serde_json::json!({"partition_key": key, "data": b64.encode(data)}))
        .collect();
    let mut child = Command::new(format!("{REPO}/.ci/.venv/bin/python"))
        .arg(format!("{REPO}/tests/servers/deaggregate.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python in .ci/.venv (run .ci/install-servers.sh)");
    let body = serde_json::to_vec(&input).unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(&body));
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(
        output.status.success(),
        "deaggregate.py failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let users: Vec<serde_json::Value> = serde_json::from_slice(&output.stdout).unwrap();
    users
        .into_iter()
        .map(|u| UserRecord {
            record: u["record"].as_u64().unwrap() as usize,
            aggregated: u["aggregated"].as_bool().unwrap(),
            partition_key: u["partition_key"].as_str().unwrap().to_owned(),
            explicit_hash_key: u["explicit_hash_key"].as_str().map(str::to_owned),
            data: b64.decode(u["data"].as_str().unwrap()).unwrap(),
            hash_key: u["hash_key"].as_str().unwrap().parse().unwrap(),
        })
        .collect()
}

/// What the app saved: its partition key (None: made up), explicit hash key, data.
type Saved = (Option<String>, Option<String>, Vec<u8>);

/// Checks that the Kinesis records of `shards` carry exactly `saved`: every
/// record once, byte for byte, with the app's keys; made-up keys replaced
/// only by the aggregate's own; every sub-record routed to its aggregate's
/// shard. Returns (Kinesis records, aggregates).
fn check_round_trip(shards: &[ShardRecords], saved: &[Saved], max_aggregate_bytes: u64) -> (usize, usize) {
    let kinesis: Vec<(usize, (String, Vec<u8>))> = shards
        .iter()
        .enumerate()
        .flat_map(|(s, shard)| shard.records.iter().map(move |r| (s, r.clone())))
        .collect();
    let records: Vec<(String, Vec<u8>)> = kinesis.iter().map(|(_, r)| r.clone()).collect();
    let users = deaggregate(&records);
    // Payloads are unique (they start with their index).
    let mut expected: HashMap<&[u8], &Saved> = saved.iter().map(|s| (s.2.as_slice(), s)).collect();
    let mut aggregates = std::collections::HashSet::new();
    for user in &users {
        let (shard, (carrier_key, carrier_data)) = &kinesis[user.record];
        let (key, hash_key, _) = expected
            .remove(user.data.as_slice())
            .unwrap_or_else(|| panic!("a record came back that was not saved, or twice: {user:?}"));
        match key {
            Some(key) => assert_eq!(&user.partition_key, key, "the app's key is kept"),
            // A made-up key may only be replaced by the aggregate's.
            None if user.aggregated => assert_eq!(&user.partition_key, carrier_key),
            None => {}
        }
        if user.aggregated {
            aggregates.insert(user.record);
            assert_eq!(&user.explicit_hash_key, hash_key);
            assert!(
                shards[*shard].range.contains(&user.hash_key),
                "sub-record {user:?} hashes outside the shard its aggregate landed on"
            );
            assert!(
                (carrier_data.len() + carrier_key.len()) as u64 <= max_aggregate_bytes,
                "an aggregate of {} bytes passes the limit",
                carrier_data.len() + carrier_key.len()
            );
        }
    }
    assert!(expected.is_empty(), "{} saved records never came back", expected.len());
    (records.len(), aggregates.len())
}

/// `i` first (unique payloads), then `len - 4` random bytes.
fn payload(i: u32, len: usize, rng: &mut impl Rng) -> Vec<u8> {
    let mut data = vec![0; len];
    rng.fill(&mut data[..]);
    data[..4].copy_from_slice(&i.to_be_bytes());
    data
}

fn save_all(recorder: &Recorder, stream: &str, saved: &[Saved]) {
    for (key, hash_key, data) in saved {
        recorder
            .save_record_with_hash_key(data.clone(), stream, key.clone(), hash_key.clone())
            .unwrap();
    }
}

fn aggregating(dir: &tempfile::TempDir, endpoint: &str) -> RecorderConfig {
    let mut config = config(dir, endpoint);
    config.aggregation = true;
    // kinesalite takes seconds over a 5 MiB request on a busy machine; a
    // timeout would send it again (at least once), and this file counts
    // every record exactly once.
    config.request_timeout = std::time::Duration::from_secs(60);
    config
}

#[tokio::test]
async fn keyed_and_unkeyed_records_of_every_size_come_back_on_the_right_shard() {
    let server = Server::kinesalite();
    let sdk = test_client(&server.endpoint);
    create_stream(&sdk, "mixed", 4).await;
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::new(aggregating(&dir, &server.endpoint), credentials()).unwrap();
    let events = Arc::new(Events::default());
    recorder.set_listener(Some(events.clone()));

    let mut rng = rand::rngs::StdRng::seed_from_u64(12);
    let saved: Vec<Saved> = (0..4000u32)
        .map(|i| {
            // Mostly small, some around the 128-byte varint step, some of
            // kilobytes, a few bigger than an aggregate (sent plain).
            let len = match i % 20 {
                0..=11 => rng.random_range(5..200),
                12..=14 => rng.random_range(120..140),
                15..=17 => rng.random_range(200..4_000),
                18 => rng.random_range(4_000..20_000),
                _ if i % 200 == 19 => rng.random_range(25_000..60_000),
                _ => rng.random_range(5..40),
            };
            let key = match i % 5 {
                0 | 1 => None,
                2 => Some(format!("user-{}", i % 7)),
                3 => Some(format!("device-é😀-{}", i % 3)),
                _ if i % 40 == 4 => Some(format!("rare-{i}")),
                _ => Some(format!("user-{}", i % 7)),
            };
            // Hash keys, with and without a partition key of the app's.
            let hash_key = match i % 50 {
                7 => Some("0".to_owned()),
                8 | 9 => Some(u128::MAX.to_string()),
                10 => Some((u128::MAX / 3).to_string()),
                _ => None,
            };
            (key, hash_key, payload(i, len, &mut rng))
        })
        .collect();
    save_all(&recorder, "mixed", &saved);

    let report = recorder.submit_all_records().await.unwrap();
    assert!(report.errors.is_empty(), "{report:?}");
    assert_eq!(
        (report.records_submitted, report.records_remaining),
        (4000, 0),
        "{report:?}"
    );
    let shards = read_shards(&sdk, "mixed").await;
    let (kinesis_records, aggregates) = check_round_trip(&shards, &saved, 25_000);
    println!(
        "4000 records in {kinesis_records} Kinesis records ({aggregates} aggregates), {} requests",
        report.requests
    );
    assert_eq!(report.kinesis_records_submitted, kinesis_records as u64);
    assert!(
        aggregates > 0 && kinesis_records < 4000 / 4,
        "{kinesis_records} Kinesis records"
    );
    assert!(
        shards.iter().all(|s| !s.records.is_empty()),
        "the keys spread over every shard"
    );

    // stats() and events count the app's records; the new counter the Kinesis records.
    let stats = recorder.stats().unwrap();
    assert_eq!(
        (stats.records_submitted, stats.kinesis_records_submitted),
        (4000, kinesis_records as u64)
    );
    let submitted: u64 = events
        .all()
        .iter()
        .map(|e| match e {
            RecorderEvent::RecordsSubmitted { count, .. } => *count,
            _ => 0,
        })
        .sum();
    assert_eq!(submitted, 4000);
}

#[tokio::test]
async fn the_option_applies_to_records_already_stored() {
    let server = Server::kinesalite();
    let sdk = test_client(&server.endpoint);
    create_stream(&sdk, "late", 2).await;
    let dir = tempfile::tempdir().unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(5);
    let saved: Vec<Saved> = (0..600u32)
        .map(|i| {
            let key = (i % 3 == 0).then(|| format!("k{}", i % 2));
            (key, None, payload(i, rng.random_range(10..120), &mut rng))
        })
        .collect();
    // Saved without aggregation, by a recorder that never submits...
    {
        let recorder = Recorder::new(config(&dir, &server.endpoint), credentials()).unwrap();
        save_all(&recorder, "late", &saved[..300]);
    }
    // ...sent by one with aggregation on.
    {
        let recorder = Recorder::new(aggregating(&dir, &server.endpoint), credentials()).unwrap();
        let report = recorder.submit_all_records().await.unwrap();
        assert_eq!(report.records_submitted, 300);
        // Unkeyed records in one aggregate, each app key in its own (k0, k1).
        assert_eq!(report.kinesis_records_submitted, 3, "{report:?}");
        // Saved with aggregation on, sent with it off: plain records.
        save_all(&recorder, "late", &saved[300..]);
    }
    let recorder = Recorder::new(config(&dir, &server.endpoint), credentials()).unwrap();
    let report = recorder.submit_all_records().await.unwrap();
    assert_eq!((report.records_submitted, report.kinesis_records_submitted), (300, 300));
    let (kinesis_records, aggregates) = check_round_trip(&read_shards(&sdk, "late").await, &saved, 25_000);
    assert_eq!((kinesis_records, aggregates), (303, 3));
}

#[tokio::test]
async fn aggregation_is_configured_within_the_record_limit() {
    let dir = tempfile::tempdir().unwrap();
    for (max_aggregate_bytes, max_record_bytes) in
        [(1023, 1024 * 1024), (2 * 1024 * 1024, 1024 * 1024), (60_000, 50_000)]
    {
        let mut config = aggregating(&dir, "http://127.0.0.1:1");
        config.max_aggregate_bytes = max_aggregate_bytes;
        config.max_record_bytes = max_record_bytes;
        match Recorder::new(config, credentials()) {
            Err(RecorderError::InvalidInput { reason }) => assert!(reason.contains("max_aggregate_bytes"), "{reason}"),
            other => panic!("{max_aggregate_bytes}: {:?}", other.err()),
        }
    }
    assert!(!dir.path().join("records.db").exists(), "nothing is stored");
    // Off, the size is not looked at.
    let mut config = config(&dir, "http://127.0.0.1:1");
    config.max_aggregate_bytes = 0;
    assert!(Recorder::new(config, credentials()).is_ok());
}

/// The fault server's Kinesis records of request `index`, de-aggregated.
fn carried(server: &FaultServer, index: usize) -> Vec<UserRecord> {
    deaggregate(&server.requests()[index].records())
}

#[tokio::test]
async fn a_rejected_aggregate_is_resent_whole_and_counted_per_record() {
    // The first request's first Kinesis record is throttled, its second
    // fails internally; everything else is accepted.
    let server = FaultServer::start(|request, index| {
        put_records_reply(request, |i, _| match (index, i) {
            (0, 0) => Some("ProvisionedThroughputExceededException"),
            (0, 1) => Some("InternalFailure"),
            _ => None,
        })
    });
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::new(aggregating(&dir, &server.endpoint), credentials()).unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(9);
    // Unkeyed records first (the first aggregate), then two app keys.
    let saved: Vec<Saved> = (0..400u32)
        .map(|i| {
            let key = match i {
                0..200 => None,
                200..300 => Some("user-1".to_owned()),
                _ => Some("user-2".to_owned()),
            };
            (key, None, payload(i, 100, &mut rng))
        })
        .collect();
    save_all(&recorder, "s", &saved);
    let report = recorder.submit_all_records().await.unwrap();
    assert_eq!(
        (report.records_submitted, report.records_remaining),
        (400, 0),
        "{report:?}"
    );

    let data = |users: Vec<UserRecord>| {
        let mut data: Vec<Vec<u8>> = users.into_iter().map(|u| u.data).collect();
        data.sort();
        data
    };
    let first = carried(&server, 0);
    assert_eq!(server.requests()[0].records().len(), 3, "three aggregates");
    assert!(first.iter().all(|u| u.aggregated));
    let rejected: Vec<UserRecord> = first.iter().filter(|u| u.record < 2).cloned().collect();
    assert_eq!(rejected.len(), 300);
    // Resent whole: the same records, none other, none lost.
    assert_eq!(server.request_count(), 2);
    assert_eq!(server.requests()[1].records().len(), 2);
    assert_eq!(data(carried(&server, 1)), data(rejected));

    let stats = recorder.stats().unwrap();
    assert_eq!(stats.records_submitted, 400);
    assert_eq!(stats.records_retried, 300, "every record carried is resent");
    assert_eq!(stats.records_throttled, 200, "the unkeyed aggregate's records");
    assert_eq!(stats.kinesis_records_submitted, 1 + 2);
    assert_eq!(
        (stats.records_dropped_attempts_exhausted, stats.pending_records),
        (0, 0)
    );
}

/// Throttling is the shard's state, not the records' fault: a throttled
/// aggregate spends no attempt, however often it comes back; another
/// refusal costs each record it carries one.
#[tokio::test]
async fn a_throttled_aggregate_spends_no_attempt_and_a_refused_one_one_per_record() {
    // The unkeyed aggregate is throttled in the first three requests; the
    // keyed one fails internally in the first.
    let server = FaultServer::start(|request, index| {
        put_records_reply(request, |i, _| match (index, i) {
            (0..3, 0) => Some("ProvisionedThroughputExceededException"),
            (0, 1) => Some("InternalFailure"),
            _ => None,
        })
    });
    let dir = tempfile::tempdir().unwrap();
    let mut config = aggregating(&dir, &server.endpoint);
    config.max_attempts = 1;
    let recorder = Recorder::new(config, credentials()).unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(5);
    let saved: Vec<Saved> = (0..150u32)
        .map(|i| ((i >= 100).then(|| "user-1".to_owned()), None, payload(i, 80, &mut rng)))
        .collect();
    save_all(&recorder, "s", &saved);
    let report = recorder.submit_all_records().await.unwrap();
    assert_eq!(
        (
            report.records_submitted,
            report.records_dropped,
            report.records_remaining
        ),
        (100, 50, 0),
        "{report:?}"
    );
    assert_eq!(
        server.request_count(),
        4,
        "three throttled sends and the one that went through"
    );
    for index in 1..4 {
        let resent = carried(&server, index);
        assert_eq!(resent.len(), 100, "request {index}: the unkeyed aggregate alone");
        assert!(resent.iter().all(|u| u.aggregated));
    }
    let stats = recorder.stats().unwrap();
    assert_eq!(
        (
            stats.records_submitted,
            stats.kinesis_records_submitted,
            stats.records_throttled,
            stats.records_dropped_attempts_exhausted,
            stats.pending_records
        ),
        (100, 1, 300, 50, 0),
        "throttled three times without running out of its one attempt; the refused aggregate's 50 records dropped"
    );
}

#[tokio::test]
async fn an_aggregate_out_of_attempts_is_dropped_and_reported_per_record() {
    let server =
        FaultServer::start(|request, _| put_records_reply(request, |i, _| (i == 0).then_some("InternalFailure")));
    let dir = tempfile::tempdir().unwrap();
    let mut config = aggregating(&dir, &server.endpoint);
    config.max_attempts = 1;
    let recorder = Recorder::new(config, credentials()).unwrap();
    let events = Arc::new(Events::default());
    recorder.set_listener(Some(events.clone()));
    let mut rng = rand::rngs::StdRng::seed_from_u64(3);
    let saved: Vec<Saved> = (0..120u32)
        .map(|i| ((i % 2 == 1).then(|| "k".to_owned()), None, payload(i, 50, &mut rng)))
        .collect();
    save_all(&recorder, "s", &saved);
    let report = recorder.submit_all_records().await.unwrap();

    // Entry 0 is the unkeyed aggregate (60 records), entry 1 the "k" one.
    let first = carried(&server, 0);
    assert_eq!(first.iter().filter(|u| u.record == 0).count(), 60);
    assert_eq!(
        (report.records_submitted, report.records_dropped),
        (60, 60),
        "{report:?}"
    );
    let stats = recorder.stats().unwrap();
    assert_eq!(
        (
            stats.records_dropped_attempts_exhausted,
            stats.kinesis_records_submitted,
            stats.pending_records
        ),
        (60, 1, 0)
    );
    let dropped: Vec<u64> = events
        .all()
        .iter()
        .filter_map(|e| match e {
            RecorderEvent::RecordsDropped {
                reason: DropReason::AttemptsExhausted,
                count,
                ..
            } => Some(*count),
            _ => None,
        })
        .collect();
    assert_eq!(dropped, vec![60]);
}

#[tokio::test]
async fn packed_aggregates_decode_with_the_published_module() {
    // Random batches packed and encoded as the recorder does, then read by
    // aws-kinesis-agg: sizes within every limit, records in order, keys kept.
    let mut rng = rand::rngs::StdRng::seed_from_u64(77);
    let mut records = Vec::new();
    let mut expected = Vec::new();
    for _ in 0..200 {
        let max_aggregate = rng.random_range(1_024..60_000u64);
        let max_bytes = rng.random_range(60_000..300_000u64);
        let input: Vec<(Option<String>, Option<String>, Vec<u8>)> = (0..rng.random_range(1..300))
            .map(|_| {
                let key = match rng.random_range(0..4) {
                    0 | 1 => None,
                    2 => Some("a".to_owned()),
                    _ => Some("ключ".to_owned()),
                };
                let hash = (rng.random_range(0..6) == 0).then(|| rng.random::<u128>().to_string());
                let len = match rng.random_range(0..30) {
                    0 => rng.random_range(16_000..17_000),
                    1..5 => rng.random_range(100..160),
                    _ => rng.random_range(1..100),
                };
                let mut data = vec![0; len];
                rng.fill(&mut data[..]);
                (key, hash, data)
            })
            .collect();
        let packed = kinesis_recorder::fuzzing::pack(input.clone(), 500, max_bytes, Some(max_aggregate));
        let total: u64 = packed.iter().map(|(k, _, d, _)| (k.len() + d.len()) as u64).sum();
        assert!(total <= max_bytes || packed.len() == 1, "{total} > {max_bytes}");
        for (key, hash, data, members) in packed {
            let size = (key.len() + data.len()) as u64;
            assert!(members.len() == 1 || size <= max_aggregate, "{size} > {max_aggregate}");
            for &m in &members {
                let (app_key, app_hash, app_data) = &input[m];
                // The Kinesis record travels under its records' hash key.
                assert_eq!(app_hash, &hash);
                let key = app_key.clone().unwrap_or(key.clone());
                expected.push((
                    records.len(),
                    members.len() > 1,
                    key,
                    app_hash.clone(),
                    app_data.clone(),
                ));
            }
            records.push((key, data));
        }
    }
    let users = deaggregate(&records);
    assert_eq!(users.len(), expected.len());
    for (user, (record, aggregated, key, hash, data)) in users.iter().zip(&expected) {
        assert_eq!(
            (user.record, user.aggregated, &user.partition_key, &user.data),
            (*record, *aggregated, key, data)
        );
        if *aggregated {
            assert_eq!(&user.explicit_hash_key, hash);
        }
    }
    println!("{} records in {} Kinesis records", expected.len(), records.len());
}
