//! The `kinesis-recorder` command line, run as a real process.

mod support;

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use support::*;

const BIN: &str = env!("CARGO_BIN_EXE_kinesis-recorder");

fn cli(args: &[&str], stdin: &[u8], endpoint: Option<&str>) -> Output {
    let mut command = Command::new(BIN);
    command
        .args(args)
        .env("AWS_ACCESS_KEY_ID", "AKIDTEST")
        .env("AWS_SECRET_ACCESS_KEY", "cli-secret")
        .env("AWS_REGION", "us-east-1")
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_ENDPOINT_URL_KINESIS")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(endpoint) = endpoint {
        command.env("AWS_ENDPOINT_URL_KINESIS", endpoint);
    }
    let mut child = command.spawn().unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

/// Fails with the CLI's stderr unless it exited with `code`.
fn assert_exit(output: &Output, code: i32) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn status_json(db: &str) -> serde_json::Value {
    let output = cli(&["status", "--db", db, "--json"], b"", None);
    assert_exit(&output, 0);
    serde_json::from_slice(&output.stdout).unwrap()
}

#[tokio::test]
async fn record_status_submit_clear() {
    let server = Server::kinesalite();
    let sdk = test_client(&server.endpoint);
    create_stream(&sdk, "cli", 1).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cli.db");
    let db = db.to_str().unwrap();

    let output = cli(
        &["record", "--db", db, "--stream", "cli", "--partition-key", "pk"],
        b"one\ntwo\r\n\nthree",
        None,
    );
    assert_eq!(output.status.code(), Some(2), "the empty line is rejected");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("line 3: invalid input: invalid data: must not be empty"),
        "{stderr}"
    );

    let output = cli(
        &["record", "--db", db, "--stream", "cli", "--base64"],
        b"AAEC/w==\n",
        None,
    );
    assert_exit(&output, 0);

    let status = status_json(db);
    assert_eq!(status["pending_records"], 4);
    assert_eq!(status["streams"][0]["stream_name"], "cli");

    let output = cli(&["submit", "--db", db], b"", Some(&server.endpoint));
    assert_exit(&output, 0);
    assert!(String::from_utf8_lossy(&output.stdout).contains("submitted 4 records in 1 requests"));
    let mut got = read_stream(&sdk, "cli").await;
    got.sort();
    let binary = got.iter().find(|(key, _)| key != "pk").unwrap().1.clone();
    assert_eq!(binary, vec![0, 1, 2, 255]);
    let mut texts: Vec<Vec<u8>> = got.into_iter().filter(|(key, _)| key == "pk").map(|(_, d)| d).collect();
    texts.sort();
    assert_eq!(texts, vec![b"one".to_vec(), b"three".to_vec(), b"two".to_vec()]);
    assert_eq!(status_json(db)["records_submitted"], 4);

    cli(&["record", "--db", db, "--stream", "cli"], b"a\nb\n", None);
    let output = cli(&["clear", "--db", db], b"", None);
    assert!(String::from_utf8_lossy(&output.stdout).contains("deleted 2 records"));
    assert_eq!(status_json(db)["records_dropped"]["deleted"], 2);
}

#[test]
fn submit_keeps_everything_while_the_endpoint_is_unreachable() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cli.db");
    let db = db.to_str().unwrap();
    cli(&["record", "--db", db, "--stream", "s"], b"x\ny\n", None);
    // Nothing listens on port 1.
    let output = cli(&["submit", "--db", db], b"", Some("http://127.0.0.1:1"));
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stdout).contains("2 pending"));
    assert_eq!(status_json(db)["pending_records"], 2);
}

#[tokio::test]
async fn run_records_continuously_and_drains_at_the_end() {
    let server = Server::kinesalite();
    let sdk = test_client(&server.endpoint);
    create_stream(&sdk, "live", 1).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("run.db");
    let lines: String = (0..1500).map(|i| format!("event {i}\n")).collect();
    let output = cli(
        &[
            "run",
            "--db",
            db.to_str().unwrap(),
            "--stream",
            "live",
            "--interval",
            "50ms",
            "--threshold-records",
            "100",
        ],
        lines.as_bytes(),
        Some(&server.endpoint),
    );
    assert_exit(&output, 0);
    assert_eq!(read_stream(&sdk, "live").await.len(), 1500);
}

#[tokio::test]
async fn submit_and_run_aggregate_when_asked() {
    let server = Server::kinesalite();
    let sdk = test_client(&server.endpoint);
    create_stream(&sdk, "agg", 1).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("agg.db");
    let db = db.to_str().unwrap();
    let lines: String = (0..300).map(|i| format!("event {i}\n")).collect();
    assert!(cli(&["record", "--db", db, "--stream", "agg"], lines.as_bytes(), None)
        .status
        .success());
    let output = cli(&["submit", "--db", db, "--aggregate"], b"", Some(&server.endpoint));
    assert_exit(&output, 0);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("submitted 300 records in 1 requests (1 Kinesis records)"),
        "{stdout}"
    );
    let got = read_stream(&sdk, "agg").await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].1[..4], [0xF3, 0x89, 0x9A, 0xC2], "a KPL aggregated record");
    assert_eq!(status_json(db)["kinesis_records_submitted"], 1);

    // `run`, with small aggregates: 300 lines (14-byte sub-records) in 1 KiB aggregates, 66 a piece.
    let output = cli(
        &[
            "run",
            "--db",
            db,
            "--stream",
            "agg",
            "--aggregate",
            "--aggregate-max-bytes",
            "1024",
        ],
        lines.as_bytes(),
        Some(&server.endpoint),
    );
    assert_exit(&output, 0);
    let status = status_json(db);
    assert_eq!(status["records_submitted"], 600);
    let sent = read_stream(&sdk, "agg").await.len() as u64 - 1;
    assert_eq!(status["kinesis_records_submitted"], sent + 1);
    assert!((5..=30).contains(&sent), "{sent} Kinesis records for 300 lines");

    // A size without the option, or out of range, is refused.
    let output = cli(
        &["submit", "--db", db, "--aggregate-max-bytes", "2000"],
        b"",
        Some(&server.endpoint),
    );
    assert_exit(&output, 2);
    let output = cli(
        &["submit", "--db", db, "--aggregate", "--aggregate-max-bytes", "100"],
        b"",
        Some(&server.endpoint),
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("max_aggregate_bytes"));

    // A Firehose store refuses it, and keeps its records.
    let firehose = dir.path().join("firehose.db");
    let firehose = firehose.to_str().unwrap();
    assert!(cli(
        &["record", "--db", firehose, "--service", "firehose", "--stream", "d"],
        b"x\n",
        None
    )
    .status
    .success());
    let output = cli(
        &["submit", "--db", firehose, "--aggregate"],
        b"",
        Some(&server.endpoint),
    );
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("aggregation") && stderr.contains("Kinesis Data Streams only, not Firehose"),
        "{stderr}"
    );
    assert_eq!(status_json(firehose)["pending_records"], 1);
}

#[tokio::test]
async fn a_kill_during_submit_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("kill.db");
    let db = db.to_str().unwrap();
    let lines: String = (0..700).map(|i| format!("{i}\n")).collect();
    assert_eq!(
        cli(&["record", "--db", db, "--stream", "s"], lines.as_bytes(), None)
            .status
            .code(),
        Some(0)
    );

    // A server that takes the first request and never answers.
    let stalled = FaultServer::start(|_, _| Reply::Stall(Duration::from_secs(30)));
    let mut submit = Command::new(BIN)
        .args(["submit", "--db", db])
        .env("AWS_ACCESS_KEY_ID", "AKIDTEST")
        .env("AWS_SECRET_ACCESS_KEY", "cli-secret")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL_KINESIS", &stalled.endpoint)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    assert!(wait_until(Duration::from_secs(10), || stalled.request_count() > 0));
    submit.kill().unwrap(); // SIGKILL, mid-request
    submit.wait().unwrap();
    assert_eq!(status_json(db)["pending_records"], 700);

    let server = Server::kinesalite();
    let sdk = test_client(&server.endpoint);
    create_stream(&sdk, "s", 1).await;
    assert_eq!(
        cli(&["submit", "--db", db], b"", Some(&server.endpoint)).status.code(),
        Some(0)
    );
    assert_eq!(read_stream(&sdk, "s").await.len(), 700);
}

#[test]
fn a_kill_while_recording_keeps_a_valid_store() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("rec.db");
    let db = db.to_str().unwrap();
    let mut record = Command::new(BIN)
        .args(["record", "--db", db, "--stream", "s"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = record.stdin.take().unwrap();
    for i in 0..20_000 {
        if writeln!(stdin, "line {i}").is_err() {
            break;
        }
    }
    stdin.flush().unwrap();
    std::thread::sleep(Duration::from_millis(100));
    record.kill().unwrap();
    record.wait().unwrap();
    // Whatever was committed is there; the store opens and counts exactly.
    let status = status_json(db);
    let pending = status["pending_records"].as_u64().unwrap();
    assert!(pending <= 20_000);
    let output = cli(&["record", "--db", db, "--stream", "s"], b"after\n", None);
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(status_json(db)["pending_records"].as_u64().unwrap(), pending + 1);
}

#[test]
fn submit_returns_by_its_deadline_and_keeps_the_rest() {
    // Each request takes 400 ms: two streams of records need more than the
    // 1 s deadline allows.
    let server = FaultServer::start(|request, _| {
        std::thread::sleep(Duration::from_millis(400));
        accept_all(request)
    });
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cli.db");
    let db = db.to_str().unwrap();
    let lines: String = (0..1500).map(|i| format!("event {i}\n")).collect();
    for stream in ["a", "b"] {
        cli(&["record", "--db", db, "--stream", stream], lines.as_bytes(), None);
    }
    let start = std::time::Instant::now();
    let output = cli(&["submit", "--db", db, "--deadline", "1s"], b"", Some(&server.endpoint));
    let elapsed = start.elapsed();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("deadline reached"), "{stderr}");
    // The process starts, opens the store and stops too: a generous bound.
    assert!(elapsed < Duration::from_secs(4), "{elapsed:?}");
    // Both streams had a turn; what was not delivered stays.
    let streams: Vec<String> = server
        .requests()
        .iter()
        .map(|r| r.body["StreamName"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        streams.contains(&"a".to_owned()) && streams.contains(&"b".to_owned()),
        "{streams:?}"
    );
    let status = status_json(db);
    assert!(status["pending_records"].as_u64().unwrap() > 0, "{status}");
    assert_eq!(
        status["pending_records"].as_u64().unwrap() + status["records_submitted"].as_u64().unwrap(),
        3000
    );
    let output = cli(&["submit", "--db", db, "--deadline", "0s"], b"", Some(&server.endpoint));
    assert_exit(&output, 2);
}
