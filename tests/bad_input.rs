//! Bad input, table-driven: every CLI input that can be wrong, with its exit
//! code, its message (line numbers for stdin lines) and proof that nothing was
//! stored; the API's edge cases; and records that pass validation must pass
//! the server's validation too (a record the service refuses as a whole would
//! block its stream for good).

mod harness;
mod support;

use std::path::Path;

use harness::*;
use kinesis_recorder::{Recorder, RecorderConfig, RecorderError};
use support::*;

struct Case {
    what: &'static str,
    args: Vec<String>,
    env: Vec<(&'static str, &'static str)>,
    stdin: Vec<u8>,
    code: i32,
    /// Each must appear in stderr.
    needles: Vec<&'static str>,
    /// Must not appear in stderr (line numbers of good lines).
    absent: Vec<&'static str>,
    /// Records this run adds to the store.
    stored: u64,
}

fn case(what: &'static str, args: &[&str], stdin: &[u8], code: i32, needles: &[&'static str]) -> Case {
    Case {
        what,
        args: args.iter().map(|s| s.to_string()).collect(),
        env: Vec::new(),
        stdin: stdin.to_vec(),
        code,
        needles: needles.to_vec(),
        absent: Vec::new(),
        stored: 0,
    }
}

#[test]
fn bad_cli_input_is_refused_with_its_line_and_nothing_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("table.db");
    let db = db.to_str().unwrap().to_owned();
    assert_eq!(
        run_cli(&["record", "--db", &db, "--stream", "s"], b"baseline\n")
            .status
            .code(),
        Some(0)
    );
    let text_file = dir.path().join("text.db");
    std::fs::write(&text_file, "not a database\n".repeat(100)).unwrap();
    let text_file = text_file.to_str().unwrap().to_owned();
    let long_stream = "s".repeat(129);
    let long_key = "k".repeat(257);
    let big_line = [vec![b'x'; 1024 * 1024], b"\n".to_vec()].concat();
    // Fresh paths stand for a store that must not be created.
    let fresh = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();

    let rec = |extra: &[&str]| -> Vec<String> {
        let mut args = vec!["record", "--db", db.as_str(), "--stream", "s"];
        args.extend_from_slice(extra);
        args.iter().map(|s| s.to_string()).collect()
    };
    let mut cases = vec![
        // Lines.
        Case {
            args: rec(&["--base64"]),
            ..case("invalid base64", &[], b"!!!notbase64\n", 2, &["line 1: invalid base64"])
        },
        Case {
            args: rec(&["--base64"]),
            absent: vec!["line 1", "line 3"],
            stored: 2,
            ..case(
                "one bad base64 line among good ones",
                &[],
                b"aGVsbG8=\n@@@@\nd29ybGQ=\n",
                2,
                &["line 2: invalid base64"],
            )
        },
        Case {
            args: rec(&["--base64"]),
            ..case("base64 of nothing", &[], b"\n", 2, &["line 1:", "must not be empty"])
        },
        Case {
            args: rec(&[]),
            ..case("empty line", &[], b"\n", 2, &["line 1:", "data", "must not be empty"])
        },
        Case {
            args: rec(&[]),
            absent: vec!["line 1", "line 3"],
            stored: 2,
            ..case(
                "empty lines among good ones",
                &[],
                b"a\n\nb\n\r\n",
                2,
                &["line 2:", "line 4:"],
            )
        },
        Case {
            args: rec(&["--partition-key", "k"]),
            ..case(
                "a record over 1 MiB",
                &[],
                &big_line,
                2,
                &["line 1:", "limit is 1048576"],
            )
        },
        Case {
            args: rec(&["--max-storage-bytes", "1000"]),
            ..case(
                "a record over a small store",
                &[],
                &[vec![b'x'; 2000], b"\n".to_vec()].concat(),
                2,
                &["line 1:", "limit is 1000"],
            )
        },
        Case {
            args: rec(&["--max-storage-bytes", "60", "--when-full", "reject-new"]),
            ..case(
                "a full store that rejects new records",
                &[],
                b"0123456789\n",
                2,
                &["line 1:", "storage full"],
            )
        },
        case(
            "a stream name with a slash",
            &["record", "--db", &db, "--stream", "a/b"],
            b"x\n",
            2,
            &["line 1:", "stream name", "'/'"],
        ),
        case(
            "an empty stream name",
            &["record", "--db", &db, "--stream", ""],
            b"x\n",
            2,
            &["line 1:", "stream name", "got 0"],
        ),
        case(
            "a 129-character stream name",
            &["record", "--db", &db, "--stream", &long_stream],
            b"x\n",
            2,
            &["line 1:", "got 129"],
        ),
        Case {
            args: rec(&["--partition-key", ""]),
            ..case("an empty partition key", &[], b"x\n", 2, &["line 1:", "partition key"])
        },
        Case {
            args: rec(&["--partition-key", &long_key]),
            ..case(
                "a 257-character partition key",
                &[],
                b"x\n",
                2,
                &["line 1:", "partition key", "got 257"],
            )
        },
        // Limits.
        Case {
            args: rec(&["--max-storage-bytes", "0"]),
            ..case("zero storage", &[], b"x\n", 1, &["max_storage_bytes", "greater than 0"])
        },
        Case {
            args: rec(&["--max-storage-bytes=-5"]),
            ..case("negative storage", &[], b"x\n", 2, &["invalid value '-5'"])
        },
        Case {
            args: rec(&["--max-storage-bytes", "-5"]),
            ..case(
                "negative storage, spaced",
                &[],
                b"x\n",
                2,
                &["unexpected argument '-5'"],
            )
        },
        Case {
            args: rec(&["--max-storage-bytes", "99999999999999999999999"]),
            ..case("storage past u64", &[], b"x\n", 2, &["invalid value"])
        },
        Case {
            args: rec(&["--when-full", "bogus"]),
            ..case(
                "an unknown policy",
                &[],
                b"x\n",
                2,
                &["invalid value 'bogus'", "drop-oldest"],
            )
        },
        Case {
            args: rec(&["--max-record-age", "0s"]),
            ..case("zero age", &[], b"x\n", 2, &["greater than 0"])
        },
        Case {
            args: rec(&["--max-record-age=-1s"]),
            ..case("negative age", &[], b"x\n", 2, &["max-record-age", "not a duration"])
        },
        Case {
            args: rec(&["--max-record-age", "5x"]),
            ..case("an unknown unit", &[], b"x\n", 2, &["unknown unit"])
        },
        Case {
            args: rec(&["--max-record-age", ""]),
            ..case("an empty age", &[], b"x\n", 2, &["max-record-age"])
        },
        // Regions and endpoints: refused before any store is made or request sent.
        case(
            "a bad region",
            &["submit", "--db", &fresh("r1.db"), "--region", "moon"],
            b"",
            1,
            &["region", "moon"],
        ),
        case(
            "an upper-case region",
            &["submit", "--db", &fresh("r2.db"), "--region", "US-EAST-1"],
            b"",
            1,
            &["region"],
        ),
        case(
            "no region",
            &["submit", "--db", &fresh("r3.db")],
            b"",
            1,
            &["no region"],
        ),
        case(
            "plain http to a remote host",
            &[
                "submit",
                "--db",
                &fresh("e1.db"),
                "--region",
                "us-east-1",
                "--endpoint",
                "http://kinesis.invalid",
            ],
            b"",
            1,
            &["plain http://", "loopback"],
        ),
        Case {
            env: vec![("AWS_ENDPOINT_URL_KINESIS", "http://kinesis.invalid:4567")],
            ..case(
                "plain http from the environment",
                &["submit", "--db", &fresh("e2.db"), "--region", "us-east-1"],
                b"",
                1,
                &["plain http://"],
            )
        },
        case(
            "an ftp endpoint",
            &[
                "submit",
                "--db",
                &fresh("e3.db"),
                "--region",
                "us-east-1",
                "--endpoint",
                "ftp://127.0.0.1",
            ],
            b"",
            1,
            &["scheme", "ftp"],
        ),
        case(
            "an endpoint that is not a URL",
            &[
                "submit",
                "--db",
                &fresh("e4.db"),
                "--region",
                "us-east-1",
                "--endpoint",
                "not a url",
            ],
            b"",
            1,
            &["not a URL"],
        ),
        case(
            "credentials in the endpoint",
            &[
                "submit",
                "--db",
                &fresh("e5.db"),
                "--region",
                "us-east-1",
                "--endpoint",
                "https://user:pw@127.0.0.1",
            ],
            b"",
            1,
            &["endpoint", "credentials"],
        ),
        case(
            "a query in the endpoint",
            &[
                "submit",
                "--db",
                &fresh("e6.db"),
                "--region",
                "us-east-1",
                "--endpoint",
                "https://kinesis.invalid/?a=1",
            ],
            b"",
            1,
            &["endpoint", "query"],
        ),
        // Cognito identity pools.
        case(
            "a Cognito identity pool id that is not one",
            &[
                "submit",
                "--db",
                &fresh("c1.db"),
                "--region",
                "us-east-1",
                "--cognito-identity-pool-id",
                "my-pool",
            ],
            b"",
            1,
            &["identity_pool_id", "not an identity pool id"],
        ),
        case(
            "a Cognito identity pool of another region",
            &[
                "submit",
                "--db",
                &fresh("c2.db"),
                "--region",
                "eu-west-1",
                "--cognito-identity-pool-id",
                "us-east-1:0a1b2c3d-0000-4000-8000-5f2a0c1e9d7b",
            ],
            b"",
            1,
            &["identity_pool_id", "region us-east-1, not eu-west-1"],
        ),
        Case {
            env: vec![("AWS_ENDPOINT_URL_COGNITO_IDENTITY", "http://cognito.invalid:4567")],
            ..case(
                "plain http to a remote Cognito endpoint",
                &[
                    "run",
                    "--db",
                    &fresh("c3.db"),
                    "--stream",
                    "s",
                    "--region",
                    "us-east-1",
                    "--cognito-identity-pool-id",
                    "us-east-1:0a1b2c3d-0000-4000-8000-5f2a0c1e9d7b",
                ],
                b"x\n",
                1,
                &["plain http://", "loopback"],
            )
        },
        // `run` settings.
        case(
            "a zero interval",
            &[
                "run",
                "--db",
                &fresh("i1.db"),
                "--stream",
                "s",
                "--region",
                "us-east-1",
                "--endpoint",
                "http://127.0.0.1:1",
                "--interval",
                "0ms",
            ],
            b"x\n",
            2,
            &["greater than 0"],
        ),
        case(
            "an interval under 10 ms",
            &[
                "run",
                "--db",
                &fresh("i2.db"),
                "--stream",
                "s",
                "--region",
                "us-east-1",
                "--endpoint",
                "http://127.0.0.1:1",
                "--interval",
                "5ms",
            ],
            b"x\n",
            1,
            &["submit_interval", "10 ms"],
        ),
        case(
            "a negative threshold",
            &[
                "run",
                "--db",
                &fresh("i3.db"),
                "--stream",
                "s",
                "--region",
                "us-east-1",
                "--endpoint",
                "http://127.0.0.1:1",
                "--threshold-records=-1",
            ],
            b"x\n",
            2,
            &["threshold-records"],
        ),
        // Paths and commands.
        case(
            "an empty --db",
            &["record", "--db", "", "--stream", "s"],
            b"x\n",
            1,
            &["database_path"],
        ),
        case(
            "a --db under a regular file",
            &["status", "--db", &format!("{text_file}/x.db")],
            b"",
            1,
            &["storage failure"],
        ),
        case(
            "a --db that is not a store",
            &["status", "--db", &text_file],
            b"",
            1,
            &["not a usable record store", "move it aside"],
        ),
        case("no --stream", &["record", "--db", &db], b"x\n", 2, &["--stream"]),
        case(
            "an unknown flag",
            &["record", "--db", &db, "--stream", "s", "--bogus"],
            b"x\n",
            2,
            &["--bogus"],
        ),
        case("an unknown command", &["frobnicate"], b"", 2, &["frobnicate"]),
    ];
    let tried = cases.len();
    let mut expected = 1u64;
    let mut failures = Vec::new();
    for case in cases.drain(..) {
        let args: Vec<&str> = case.args.iter().map(String::as_str).collect();
        let mut command = cli_command(&args);
        for (k, v) in &case.env {
            command.env(k, v);
        }
        let output = run_command(command, &case.stdin);
        let stderr = String::from_utf8_lossy(&output.stderr);
        let short: String = stderr.chars().take(300).collect();
        if output.status.code() != Some(case.code) {
            failures.push(format!(
                "{}: exit {:?}, expected {}: {short}",
                case.what,
                output.status.code(),
                case.code
            ));
        }
        for needle in &case.needles {
            if !stderr.contains(needle) {
                failures.push(format!("{}: stderr lacks {needle:?}: {short}", case.what));
            }
        }
        for needle in &case.absent {
            if stderr.contains(needle) {
                failures.push(format!("{}: stderr has {needle:?}: {short}", case.what));
            }
        }
        if stderr.contains("panicked") {
            failures.push(format!("{}: the CLI panicked: {short}", case.what));
        }
        expected += case.stored;
        let now = pending(&db);
        if now != expected {
            failures.push(format!("{}: {now} records stored, expected {expected}", case.what));
            expected = now;
        }
    }
    for name in [
        "r1.db", "r2.db", "r3.db", "e1.db", "e2.db", "e3.db", "e4.db", "e5.db", "e6.db", "i2.db", "c1.db", "c2.db",
        "c3.db",
    ] {
        if Path::new(&fresh(name)).exists() {
            failures.push(format!(
                "{name}: a store was created for a configuration that was refused"
            ));
        }
    }
    println!("bad CLI input: {tried} bad inputs tried, {} problems", failures.len());
    assert!(failures.is_empty(), "{failures:#?}");
}

fn offline(dir: &tempfile::TempDir) -> RecorderConfig {
    let mut config = RecorderConfig::new(dir.path().join("api.db").to_str().unwrap(), "us-east-1");
    config.endpoint = Some("http://127.0.0.1:1".into());
    config.auto_submit = false;
    config.max_record_bytes = 1000;
    config
}

#[test]
fn bad_api_input_is_a_typed_error_and_valid_edges_pass() {
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::new(offline(&dir), credentials()).unwrap();
    let save = |data: Vec<u8>, stream: &str, key: Option<&str>, hash: Option<&str>| {
        recorder.save_record_with_hash_key(data, stream, key.map(str::to_owned), hash.map(str::to_owned))
    };
    let uuid_key = 36; // the generated partition key
    let bad: Vec<(&str, Result<(), RecorderError>)> = vec![
        ("empty data", save(vec![], "s", None, None)),
        (
            "data one byte over the limit",
            save(vec![0; 1001 - uuid_key], "s", None, None),
        ),
        (
            "data + given key over the limit",
            save(vec![0; 998], "s", Some("abc"), None),
        ),
        ("empty key", save(b"x".to_vec(), "s", Some(""), None)),
        (
            "257 ASCII characters",
            save(b"x".to_vec(), "s", Some(&"k".repeat(257)), None),
        ),
        (
            "257 two-byte characters",
            save(b"x".to_vec(), "s", Some(&"é".repeat(257)), None),
        ),
        ("empty stream", save(b"x".to_vec(), "", None, None)),
        ("stream with a space", save(b"x".to_vec(), "a b", None, None)),
        ("stream with a newline", save(b"x".to_vec(), "s\n", None, None)),
        ("stream with a non-ASCII letter", save(b"x".to_vec(), "ü", None, None)),
        (
            "129-character stream",
            save(b"x".to_vec(), &"s".repeat(129), None, None),
        ),
        ("hash key empty", save(b"x".to_vec(), "s", None, Some(""))),
        ("hash key negative", save(b"x".to_vec(), "s", None, Some("-1"))),
        ("hash key decimal point", save(b"x".to_vec(), "s", None, Some("1.0"))),
        ("hash key exponent", save(b"x".to_vec(), "s", None, Some("1e3"))),
        ("hash key plus sign", save(b"x".to_vec(), "s", None, Some("+5"))),
        ("hash key leading space", save(b"x".to_vec(), "s", None, Some(" 1"))),
        (
            "hash key 2^128",
            save(
                b"x".to_vec(),
                "s",
                None,
                Some("340282366920938463463374607431768211456"),
            ),
        ),
        // The service's pattern for ExplicitHashKey is `0|([1-9]\d{0,38})`:
        // no leading zeros. A record it refuses is refused with the whole
        // PutRecords call (ValidationException), which blocks the stream.
        (
            "hash key with a leading zero",
            save(b"x".to_vec(), "s", None, Some("007")),
        ),
        ("hash key 00", save(b"x".to_vec(), "s", None, Some("00"))),
    ];
    let good: Vec<(&str, Result<(), RecorderError>)> = vec![
        (
            "data exactly at the limit",
            save(vec![0; 1000 - uuid_key], "s", None, None),
        ),
        (
            "256 two-byte characters",
            save(b"x".to_vec(), "s", Some(&"é".repeat(256)), None),
        ),
        (
            "128-character stream",
            save(b"x".to_vec(), &"s".repeat(128), None, None),
        ),
        (
            "stream of every allowed class",
            save(b"x".to_vec(), "aZ0_.-", None, None),
        ),
        ("hash key 0", save(b"x".to_vec(), "s", None, Some("0"))),
        (
            "hash key 2^128-1",
            save(b"x".to_vec(), "s", None, Some(&u128::MAX.to_string())),
        ),
    ];
    let mut failures = Vec::new();
    for (what, result) in &bad {
        if !matches!(result, Err(RecorderError::InvalidInput { .. })) {
            failures.push(format!("{what}: expected InvalidInput, got {result:?}"));
        }
    }
    for (what, result) in &good {
        if result.is_err() {
            failures.push(format!("{what}: refused: {result:?}"));
        }
    }
    recorder.flush().unwrap();
    let stored = recorder.stats().unwrap().pending_records;
    let accepted_bad = bad.iter().filter(|(_, r)| r.is_ok()).count() as u64;
    if stored != good.len() as u64 + accepted_bad {
        failures.push(format!(
            "{stored} records stored for {} accepted saves",
            good.len() as u64 + accepted_bad
        ));
    }
    drop(recorder);

    // Nonsense configuration: a typed error, and no store created.
    let base = offline(&dir);
    type Change = Box<dyn Fn(&mut RecorderConfig)>;
    let configs: Vec<(&str, Change)> = vec![
        ("queue smaller than a record", Box::new(|c| c.max_queued_bytes = 10)),
        (
            "record larger than a request",
            Box::new(|c| {
                c.max_record_bytes = 2 * 1024 * 1024;
                c.max_request_bytes = 1024 * 1024
            }),
        ),
        ("record larger than the store", Box::new(|c| c.max_storage_bytes = 10)),
        ("zero request size", Box::new(|c| c.max_request_bytes = 0)),
        (
            "zero timeout",
            Box::new(|c| c.request_timeout = std::time::Duration::ZERO),
        ),
        (
            "5 ms interval",
            Box::new(|c| c.submit_interval = std::time::Duration::from_millis(5)),
        ),
        ("empty region", Box::new(|c| c.region = String::new())),
        ("region with a slash", Box::new(|c| c.region = "us-east-1/".into())),
        ("blank path", Box::new(|c| c.database_path = "   ".into())),
        (
            "endpoint with credentials",
            Box::new(|c| c.endpoint = Some("https://u:p@127.0.0.1".into())),
        ),
        (
            "plain http to a remote name",
            Box::new(|c| c.endpoint = Some("http://kinesis.invalid".into())),
        ),
        (
            "plain http to a name that starts like localhost",
            Box::new(|c| c.endpoint = Some("http://localhost.invalid".into())),
        ),
        (
            "plain http to 0.0.0.0",
            Box::new(|c| c.endpoint = Some("http://0.0.0.0:4567".into())),
        ),
    ];
    for (what, change) in &configs {
        let fresh = tempfile::tempdir().unwrap();
        let mut config = base.clone();
        config.database_path = fresh.path().join("c.db").to_str().unwrap().to_owned();
        change(&mut config);
        let path = config.database_path.clone();
        match Recorder::new(config, credentials()) {
            Err(RecorderError::InvalidInput { .. }) => {}
            other => failures.push(format!("{what}: expected InvalidInput, got {:?}", other.err())),
        }
        if Path::new(&path).exists() && !path.trim().is_empty() {
            failures.push(format!("{what}: a store was created"));
        }
    }
    println!(
        "bad API input: {} bad saves, {} bad configurations, {} valid edges",
        bad.len(),
        configs.len(),
        good.len()
    );
    assert!(failures.is_empty(), "{failures:#?}");
}

/// Whatever `save_record` accepts, a Kinesis server must accept too: a record
/// refused by the server as part of the whole call (a validation error) would
/// stay at the head of its stream forever, and hold every record behind it.
/// Checked against kinesalite, whose validation copies the service's.
#[tokio::test]
async fn what_save_accepts_kinesalite_accepts() {
    let server = Server::kinesalite();
    let sdk = test_client(&server.endpoint);
    let long_stream = "s".repeat(128);
    create_stream(&sdk, "edges", 1).await;
    create_stream(&sdk, &long_stream, 1).await;
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::new(config(&dir, &server.endpoint), credentials()).unwrap();
    let edges: Vec<(&str, &str, Option<String>, Option<String>)> = vec![
        ("256 ASCII characters", "edges", Some("k".repeat(256)), None),
        ("256 two-byte characters", "edges", Some("é".repeat(256)), None),
        ("256 three-byte characters", "edges", Some("€".repeat(256)), None),
        // 256 Unicode scalar values, 512 UTF-16 code units.
        ("256 characters outside the BMP", "edges", Some("😀".repeat(256)), None),
        ("a key with a newline and a NUL", "edges", Some("a\nb\0c".into()), None),
        ("hash key 0", "edges", Some("k".into()), Some("0".into())),
        (
            "hash key 2^128-1",
            "edges",
            Some("k".into()),
            Some(u128::MAX.to_string()),
        ),
        ("128-character stream", long_stream.as_str(), None, None),
    ];
    let mut accepted = Vec::new();
    for (what, stream, key, hash) in &edges {
        if recorder
            .save_record_with_hash_key(what.as_bytes().to_vec(), stream, key.clone(), hash.clone())
            .is_ok()
        {
            accepted.push(*what);
        }
    }
    for i in 0..5 {
        recorder
            .save_record(format!("ordinary {i}").into_bytes(), "edges", None)
            .unwrap();
    }
    let report = recorder.submit_all_records().await.unwrap();
    println!(
        "edges: {} of {} accepted by save; submit: {report:?}",
        accepted.len(),
        edges.len()
    );
    assert!(
        report.errors.is_empty() && report.records_remaining == 0,
        "records that save_record accepted were refused by kinesalite, blocking their stream: {report:?}"
    );
    let arrived: Vec<Vec<u8>> = read_stream(&sdk, "edges").await.into_iter().map(|(_, d)| d).collect();
    for what in accepted.iter().filter(|w| !w.starts_with("128")) {
        assert!(arrived.contains(&what.as_bytes().to_vec()), "{what} did not arrive");
    }
}
