//! High-volume random testing, run in CI on the stable toolchain (the
//! coverage-guided `cargo fuzz` targets in fuzz/ are the longer run):
//!
//! - 120,000 random saves through the public API, each judged against a
//!   reference of the service's rules (differential: any disagreement fails);
//! - random PutRecords answers (model-built bodies whose meaning is known,
//!   non-JSON bytes, random error statuses) from a real HTTP server to live
//!   recorders, checking their counters against what each answer meant,
//!   record by record, and that no record is lost.
//!
//! `FUZZ_SEED=n` replays a run; `FUZZ_SCALE=k` multiplies the volume.
//!
//! The response decoder and `new_record` are crate-private: they are reached
//! here only through the public API. The direct, coverage-guided targets are
//! in fuzz/ (see fuzz/README.md).

#![allow(dead_code)]

mod harness;
mod support;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kinesis_recorder::{Recorder, RecorderConfig, RecorderError};
// SmallRng (xoshiro): StdRng (ChaCha) is slow in unoptimized test builds.
use rand::rngs::SmallRng as StdRng;
use rand::{Rng, SeedableRng};
use support::*;

/// What one entry of a PutRecords answer means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryResult {
    Accepted,
    Rejected { code: String, message: String },
}

fn seed() -> u64 {
    let seed = std::env::var("FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    println!("fuzz: seed {seed} (FUZZ_SEED={seed} replays it)");
    seed
}

fn scale() -> u64 {
    std::env::var("FUZZ_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1)
}

// ---------------------------------------------------------------------------
// Saves.

/// The service's rules (kinesis.md; the API model's patterns), written
/// independently of the crate. Partition key length is counted in UTF-16 code
/// units, as the service's Java validation and kinesalite count it: the
/// conservative reading of "1 to 256 Unicode characters".
fn reference_valid(
    data: &[u8],
    stream: &str,
    key: Option<&str>,
    hash: Option<&str>,
    max_record_bytes: u64,
) -> Result<(), &'static str> {
    if stream.is_empty()
        || stream.len() > 128
        || !stream.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
    {
        return Err("stream name");
    }
    if let Some(key) = key {
        let units = key.encode_utf16().count();
        if units == 0 || units > 256 {
            return Err("partition key");
        }
    }
    if let Some(hash) = hash {
        // `0|([1-9]\d{0,38})`, matched whole.
        let pattern = hash == "0"
            || (!hash.is_empty()
                && hash.len() <= 39
                && !hash.starts_with('0')
                && hash.bytes().all(|b| b.is_ascii_digit()));
        if !pattern || hash.parse::<u128>().is_err() {
            return Err("explicit hash key");
        }
    }
    if data.is_empty() {
        return Err("data");
    }
    let key_bytes = key.map_or(36, str::len) as u64;
    if data.len() as u64 + key_bytes > max_record_bytes {
        return Err("data");
    }
    Ok(())
}

fn random_string(rng: &mut StdRng, alphabet: &[&str], len: usize) -> String {
    (0..len)
        .map(|_| alphabet[rng.random_range(0..alphabet.len())])
        .collect()
}

fn boundary_len(rng: &mut StdRng, edges: &[usize]) -> usize {
    let edge = edges[rng.random_range(0..edges.len())];
    match rng.random_range(0..4) {
        0 => edge.saturating_sub(1),
        1 => edge + 1,
        2 => edge,
        _ => rng.random_range(0..=edge + 2),
    }
}

fn random_save(rng: &mut StdRng) -> (Vec<u8>, String, Option<String>, Option<String>) {
    const NAME: &[&str] = &["a", "Z", "0", "9", "_", ".", "-", "s", "t", "r"];
    const BAD_NAME: &[&str] = &[" ", "/", "ü", "\n", "#", ":", "\0", "é"];
    const KEY: &[&str] = &["k", "é", "€", "😀", "\0", "\n", " ", "z", "ß", "\u{FFFF}"];
    // Valid names come from a small pool (a real app has a few streams; every
    // distinct name is a row the store keeps), at the length boundaries.
    let len = boundary_len(rng, &[1, 8, 128]);
    let mut stream = random_string(&mut StdRng::seed_from_u64(rng.random_range(0..16)), NAME, len);
    if rng.random_bool(0.1) && !stream.is_empty() {
        let at = rng.random_range(0..stream.len());
        stream.insert_str(at, BAD_NAME[rng.random_range(0..BAD_NAME.len())]);
    }
    let key = rng.random_bool(0.7).then(|| {
        let alphabet = &KEY[..rng.random_range(1..=KEY.len())];
        let len = boundary_len(rng, &[1, 128, 256]);
        random_string(rng, alphabet, len)
    });
    let hash = match rng.random_range(0..10) {
        0..=5 => None,
        6 => Some(["0", "00", "007", "-1", "+5", " 1", "1 ", "1e3", "", "0x10"][rng.random_range(0..10)].to_owned()),
        7 => Some(
            [
                u128::MAX.to_string(),
                "340282366920938463463374607431768211456".into(),
                "340282366920938463463374607431768211454".into(),
            ][rng.random_range(0..3)]
            .clone(),
        ),
        _ => {
            let len = boundary_len(rng, &[1, 39]);
            let mut digits = random_string(rng, &["0", "1", "2", "5", "9"], len);
            if rng.random_bool(0.7) && !digits.is_empty() {
                digits.replace_range(0..1, "7"); // mostly without a leading zero
            }
            Some(digits)
        }
    };
    let data_len = boundary_len(rng, &[0, 1, 600, 964, 1000]);
    // Cheap bytes with every value possible: a random start, a random step.
    let (start, step): (u8, u8) = (rng.random(), rng.random::<u8>() | 1);
    let data = (0..data_len)
        .map(|i| start.wrapping_add(step.wrapping_mul(i as u8)))
        .collect();
    (data, stream, key, hash)
}

#[test]
fn random_saves_agree_with_the_service_rules() {
    let mut rng = StdRng::seed_from_u64(seed());
    let dir = tempfile::tempdir().unwrap();
    let mut config = RecorderConfig::new(dir.path().join("fuzz.db").to_str().unwrap(), "us-east-1");
    config.endpoint = Some("http://127.0.0.1:1".into());
    config.auto_submit = false;
    config.max_record_bytes = 1000;
    config.max_storage_bytes = 1024 * 1024 * 1024;
    let recorder = Recorder::new(config, credentials()).unwrap();
    let runs = std::env::var("FUZZ_SAVES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(120_000)
        * scale();
    let started = Instant::now();
    let mut accepted = 0u64;
    let mut disagreements: HashMap<String, (u64, String)> = HashMap::new();
    for _ in 0..runs {
        let (data, stream, key, hash) = random_save(&mut rng);
        let expected = reference_valid(&data, &stream, key.as_deref(), hash.as_deref(), 1000);
        let save = || recorder.save_record_with_hash_key(data.clone(), &stream, key.clone(), hash.clone());
        let result = match save() {
            Err(RecorderError::Overloaded { .. }) => recorder.flush().and_then(|_| save()),
            other => other,
        };
        let class = match (&expected, &result) {
            (Ok(()), Ok(())) => {
                accepted += 1;
                continue;
            }
            (Err(_), Err(RecorderError::InvalidInput { .. })) => continue,
            (Ok(()), Err(error)) => format!("refused a valid record: {error}"),
            (Err(rule), Ok(())) => {
                accepted += 1;
                format!("accepted a record the service refuses ({rule})")
            }
            (Err(rule), Err(error)) => format!("wrong error type for {rule}: {error}"),
        };
        let class_key = class.split(':').next().unwrap().to_owned();
        let example = format!(
            "stream {stream:?}, key {:?}, hash {hash:?}, {} data bytes",
            key.as_ref().map(|k| k.chars().take(12).collect::<String>() + "..."),
            data.len()
        );
        let entry = disagreements.entry(class_key).or_insert((0, example));
        entry.0 += 1;
    }
    recorder.flush().unwrap();
    let stored = recorder.stats().unwrap().pending_records;
    println!(
        "fuzz saves: {runs} inputs in {:.1?}, {accepted} accepted, {stored} stored, {} kinds of disagreement",
        started.elapsed(),
        disagreements.len()
    );
    assert_eq!(stored, accepted, "records stored vs saves accepted");
    assert!(
        accepted > runs / 10 && accepted < runs * 9 / 10,
        "the generator is lopsided: {accepted} of {runs} valid"
    );
    assert!(
        disagreements.is_empty(),
        "disagreements with the service rules: {disagreements:#?}"
    );
}

// ---------------------------------------------------------------------------
// Response bodies whose meaning is known.

/// A body built from parts whose meaning is known: the results the decoder
/// must return, or None when it must refuse the body.
fn model_body(rng: &mut StdRng, records: usize) -> (Vec<u8>, Option<Vec<EntryResult>>) {
    let mut expected = Some(Vec::new());
    let count = match rng.random_range(0..10) {
        0 => records + 1,
        1 => records.saturating_sub(1),
        2 => 0,
        _ => records,
    };
    let mut entries = Vec::new();
    for i in 0..count {
        let code = [
            "ProvisionedThroughputExceededException",
            "InternalFailure",
            "",
            "Weird\u{1F600}",
        ][rng.random_range(0..4)];
        let (entry, meaning) = match rng.random_range(0..12) {
            0..=4 => (
                serde_json::json!({"SequenceNumber": format!("{i}"), "ShardId": "shardId-000000000001"}),
                Some(EntryResult::Accepted),
            ),
            5 => (
                serde_json::json!({"SequenceNumber": "1", "ErrorCode": null, "ErrorMessage": null}),
                Some(EntryResult::Accepted),
            ),
            6..=7 => (
                serde_json::json!({"ErrorCode": code, "ErrorMessage": "m"}),
                Some(EntryResult::Rejected {
                    code: code.into(),
                    message: "m".into(),
                }),
            ),
            8 => (
                serde_json::json!({"ErrorCode": code, "SequenceNumber": null}),
                Some(EntryResult::Rejected {
                    code: code.into(),
                    message: String::new(),
                }),
            ),
            9 => (serde_json::json!({"ShardId": "x"}), None),
            10 => (serde_json::json!({"SequenceNumber": 42}), None),
            _ => (serde_json::Value::Null, None),
        };
        entries.push(entry);
        match (meaning, expected.as_mut()) {
            (Some(meaning), Some(list)) => list.push(meaning),
            _ => expected = None,
        }
    }
    let body = match rng.random_range(0..12) {
        0 => {
            expected = None;
            serde_json::json!({"FailedRecordCount": 0})
        }
        1 => {
            expected = None;
            serde_json::json!({"Records": null})
        }
        2 => {
            expected = None;
            serde_json::json!({"Records": "nope"})
        }
        3 => serde_json::json!({"Records": entries, "EncryptionType": null, "Extra": {"deep": [1, 2, {"x": null}]}}),
        _ => serde_json::json!({"FailedRecordCount": 0, "EncryptionType": "KMS", "Records": entries}),
    };
    (serde_json::to_vec(&body).unwrap(), expected)
}

// ---------------------------------------------------------------------------
// Random answers from a live server.

#[test]
fn random_server_answers_keep_the_counters_exact() {
    let seed = seed();
    // What the server's answers meant: entries acknowledged and rejected in
    // answers the recorder must accept (right length, decodable).
    let acknowledged = Arc::new(AtomicU64::new(0));
    let rejected = Arc::new(AtomicU64::new(0));
    let answers = Arc::new(AtomicU64::new(0));
    let rng = Arc::new(Mutex::new(StdRng::seed_from_u64(seed)));
    let server = {
        let (acknowledged, rejected, answers, rng) =
            (acknowledged.clone(), rejected.clone(), answers.clone(), rng.clone());
        FaultServer::start(move |request, _| {
            answers.fetch_add(1, Ordering::SeqCst);
            let mut rng = rng.lock().unwrap();
            let n = request.records().len();
            match rng.random_range(0..8) {
                0 => {
                    // Random bytes that are not JSON (a control byte first).
                    let mut body: Vec<u8> = (0..rng.random_range(0..200)).map(|_| rng.random()).collect();
                    body.insert(0, 1);
                    Reply::Raw(200, "application/x-amz-json-1.1", body)
                }
                1 => {
                    let status = [400, 403, 404, 429, 500, 502, 503, 504][rng.random_range(0..8)];
                    let body: Vec<u8> = (0..rng.random_range(0..100)).map(|_| rng.random()).collect();
                    Reply::Raw(status, "text/plain", body)
                }
                2 | 3 => {
                    // A clean success keeps the backoff short, so more answers fit in the run.
                    acknowledged.fetch_add(n as u64, Ordering::SeqCst);
                    accept_all(request)
                }
                _ => {
                    let (body, expected) = model_body(&mut rng, n);
                    if let Some(results) = expected.filter(|r| r.len() == n) {
                        for result in results {
                            match result {
                                EntryResult::Accepted => acknowledged.fetch_add(1, Ordering::SeqCst),
                                EntryResult::Rejected { .. } => rejected.fetch_add(1, Ordering::SeqCst),
                            };
                        }
                    }
                    Reply::Raw(200, "application/x-amz-json-1.1", body)
                }
            }
        })
    };
    let started = Instant::now();
    let budget = Duration::from_secs(8 * scale());
    // Background submission, the network flapped after every few saves: each
    // flap clears the backoff of failed calls (not of rejected records), so a
    // recorder asks again at once and many answers fit in a short run, while
    // every answer sent is processed (no request is abandoned mid-flight).
    let workers: Vec<_> = (0..24)
        .map(|w| {
            let endpoint = server.endpoint.clone();
            std::thread::spawn(move || {
                let dir = tempfile::tempdir().unwrap();
                let mut config = RecorderConfig::new(dir.path().join("w.db").to_str().unwrap(), "us-east-1");
                config.endpoint = Some(endpoint);
                config.auto_submit = true;
                config.submit_interval = Duration::from_millis(10);
                config.submit_threshold_records = 1;
                config.max_attempts = 1_000_000; // nothing may leave for attempts
                config.max_records_per_request = 8;
                let recorder = Recorder::new(config, credentials()).unwrap();
                let mut saved = 0u64;
                let mut i = 0;
                while started.elapsed() < budget {
                    for _ in 0..3 {
                        recorder
                            .save_record(format!("w{w}-{i}").into_bytes(), "s", None)
                            .unwrap();
                        i += 1;
                        saved += 1;
                    }
                    recorder.set_network_available(false);
                    recorder.set_network_available(true);
                    std::thread::sleep(Duration::from_millis(5));
                }
                // Quiesce: no new request, the last one answered and processed.
                recorder.set_network_available(false);
                std::thread::sleep(Duration::from_millis(500));
                let stats = recorder.stats().unwrap();
                assert_eq!(
                    stats.records_dropped_attempts_exhausted
                        + stats.records_dropped_expired
                        + stats.records_dropped_storage_full,
                    0
                );
                assert_eq!(
                    stats.records_submitted + stats.pending_records,
                    saved,
                    "worker {w}: records lost"
                );
                (stats.records_submitted, stats.records_retried)
            })
        })
        .collect();
    let (mut submitted, mut retried) = (0, 0);
    for worker in workers {
        let (s, r) = worker.join().unwrap();
        submitted += s;
        retried += r;
    }
    println!(
        "fuzz answers: {} random answers to 24 live recorders in {:.1?}; {submitted} records acknowledged, {retried} retried",
        answers.load(Ordering::SeqCst),
        started.elapsed()
    );
    assert_eq!(
        submitted,
        acknowledged.load(Ordering::SeqCst),
        "records_submitted vs entries acknowledged"
    );
    assert_eq!(
        retried,
        rejected.load(Ordering::SeqCst),
        "records_retried vs entries rejected"
    );
}
