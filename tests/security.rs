//! Security: signatures checked by an independent SigV4 implementation
//! (moto with verification on), credentials never in the store nor the logs,
//! an owner-only store file, no plain HTTP off the machine, and TLS
//! certificate errors treated as errors.

mod harness;
mod support;

use std::io::Write;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use harness::*;
use kinesis_recorder::{Recorder, RecorderError, RecorderEvent, StaticCredentialsProvider};
use support::*;

async fn submit_with(
    endpoint: &str,
    key: &str,
    secret: &str,
    token: Option<String>,
    stream: &str,
    n: u8,
) -> (kinesis_recorder::SubmitReport, Vec<RecorderEvent>, u64) {
    let dir = tempfile::tempdir().unwrap();
    let provider = Arc::new(StaticCredentialsProvider::new(key, secret, token));
    let recorder = Recorder::new(config(&dir, endpoint), provider).unwrap();
    let events = Arc::new(Events::default());
    recorder.set_listener(Some(events.clone()));
    for i in 0..n {
        recorder
            .save_record(format!("{stream}-{key}-{i}").into_bytes(), stream, None)
            .unwrap();
    }
    let report = recorder.submit_all_records().await.unwrap();
    let pending = recorder.stats().unwrap().pending_records;
    (report, events.all(), pending)
}

#[tokio::test]
async fn signatures_are_verified_by_moto() {
    let server = Server::moto_verifying_sigv4();
    let (key, secret, _) = server.credentials("CREDENTIALS");
    let (s_key, s_secret, s_token) = server.credentials("SESSION_CREDENTIALS");
    let s_token = s_token.expect("a session token");
    let sdk = sdk_client(&server.endpoint, &key, &secret, None);
    create_stream(&sdk, "signed", 1).await;

    // The right secret: accepted.
    let (report, _, pending) = submit_with(&server.endpoint, &key, &secret, None, "signed", 5).await;
    assert_eq!((report.records_submitted, pending), (5, 0), "{report:?}");

    // A wrong secret: refused, records kept, the error reported with its code.
    let (report, events, pending) = submit_with(&server.endpoint, &key, "not-the-secret", None, "signed", 3).await;
    assert_eq!((report.records_submitted, pending), (0, 3), "{report:?}");
    let error = &report.errors[0];
    assert_eq!(error.code.as_deref(), Some("SignatureDoesNotMatch"), "{report:?}");
    assert!(error.message.contains("secret key is wrong"), "{error:?}");
    assert!(events
        .iter()
        .any(|e| matches!(e, RecorderEvent::SubmissionFailed { code: Some(c), .. } if c == "SignatureDoesNotMatch")));

    // Session credentials with their token: accepted.
    let (report, _, pending) =
        submit_with(&server.endpoint, &s_key, &s_secret, Some(s_token.clone()), "signed", 4).await;
    assert_eq!((report.records_submitted, pending), (4, 0), "{report:?}");
    // The same keys without the token, or with another token: refused, kept.
    let (report, _, pending) = submit_with(&server.endpoint, &s_key, &s_secret, None, "signed", 2).await;
    assert_eq!(
        (report.records_submitted, pending),
        (0, 2),
        "without its token: {report:?}"
    );
    assert!(report.errors[0].code.is_some(), "{report:?}");
    let (report, _, pending) = submit_with(
        &server.endpoint,
        &s_key,
        &s_secret,
        Some(format!("{s_token}x")),
        "signed",
        2,
    )
    .await;
    assert_eq!(
        (report.records_submitted, pending),
        (0, 2),
        "with a wrong token: {report:?}"
    );

    // Exactly the accepted records arrived.
    let arrived = read_stream(&sdk, "signed").await;
    assert_eq!(arrived.len(), 9, "{arrived:?}");

    // The token is a signed header (a proxy cannot swap it): seen on the wire.
    let wire = FaultServer::start(|request, _| accept_all(request));
    submit_with(&wire.endpoint, &s_key, &s_secret, Some(s_token.clone()), "signed", 1).await;
    let request = &wire.requests()[0];
    assert_eq!(request.header("x-amz-security-token"), Some(s_token.as_str()));
    let authorization = request.header("authorization").unwrap();
    let signed = authorization
        .split("SignedHeaders=")
        .nth(1)
        .unwrap()
        .split(',')
        .next()
        .unwrap();
    for header in [
        "content-type",
        "host",
        "x-amz-date",
        "x-amz-security-token",
        "x-amz-target",
    ] {
        assert!(
            signed.split(';').any(|h| h == header),
            "{header} not signed: {authorization}"
        );
    }
    assert!(!authorization.contains(&s_secret), "the secret itself is on the wire");
}

const SECRET: &str = "CanarySecret-7d1f0c2e9b5a4c3d8e6f-do-not-log";
const TOKEN: &str = "CanaryToken-FwoGZXIvYXdzEJr-session-4b8e2a9c";

#[tokio::test]
async fn credentials_never_reach_the_store_or_the_logs() {
    let server = Server::kinesalite();
    let sdk = test_client(&server.endpoint);
    create_stream(&sdk, "creds", 1).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("creds.db");
    let db = db.to_str().unwrap().to_owned();
    let with_canaries = |args: &[&str]| {
        let mut command = cli_command(args);
        command
            .env("AWS_SECRET_ACCESS_KEY", SECRET)
            .env("AWS_SESSION_TOKEN", TOKEN)
            .env("KINESIS_RECORDER_LOG", "trace")
            .env("RUST_LOG", "trace");
        command
    };
    let online = ["--region", "us-east-1", "--endpoint", server.endpoint.as_str()];
    let mut logs = Vec::new();
    // run -vv: records, background submits, a stream that does not exist (error paths).
    let lines: String = (0..300).map(|i| format!("line {i}\n")).collect();
    for stream in ["creds", "absent"] {
        let args = [
            &[
                "-vv",
                "run",
                "--db",
                &db,
                "--stream",
                stream,
                "--interval",
                "20ms",
                "--threshold-records",
                "50",
            ][..],
            &online[..],
        ]
        .concat();
        let output = run_command(with_canaries(&args), lines.as_bytes());
        logs.push((format!("run {stream}"), output.stdout, output.stderr));
    }
    // A run killed mid-way leaves its WAL behind.
    let mut killed = with_canaries(
        &[
            &["-vv", "run", "--db", &db, "--stream", "creds", "--interval", "20ms"][..],
            &online[..],
        ]
        .concat(),
    )
    .stdin(Stdio::piped())
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    killed.stdin.as_mut().unwrap().write_all(lines.as_bytes()).unwrap();
    std::thread::sleep(Duration::from_millis(400));
    let wal_while_killed: Vec<(std::path::PathBuf, Vec<u8>)> = files_with_prefix(dir.path(), "creds.db");
    killed.kill().unwrap();
    let output = killed.wait_with_output().unwrap();
    logs.push(("killed run".into(), output.stdout, output.stderr));
    for args in [
        [&["-vv", "submit", "--db", &db][..], &online[..]].concat(),
        vec!["-vv", "status", "--db", &db, "--json"],
        vec!["-vv", "clear", "--db", &db],
    ] {
        let output = run_command(with_canaries(&args), b"");
        logs.push((args.join(" "), output.stdout, output.stderr));
    }
    // The built-in Cognito provider: now its answers carry the canaries.
    let expiration = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600;
    let cognito = FaultServer::start(move |request, _| {
        let identity = serde_json::json!({"IdentityId": "us-east-1:canary-identity"});
        match request.target.as_str() {
            "AWSCognitoIdentityService.GetId" => Reply::Json(200, identity),
            _ => Reply::Json(
                200,
                serde_json::json!({"IdentityId": "us-east-1:canary-identity", "Credentials": {
                    "AccessKeyId": "AKIDCOGNITO", "SecretKey": SECRET, "SessionToken": TOKEN, "Expiration": expiration}}),
            ),
        }
    });
    let pool = [
        "--cognito-identity-pool-id",
        "us-east-1:0a1b2c3d-0000-4000-8000-5f2a0c1e9d7b",
    ];
    for args in [
        [
            &["-vv", "run", "--db", &db, "--stream", "creds", "--interval", "20ms"][..],
            &online[..],
            &pool[..],
        ]
        .concat(),
        [&["-vv", "submit", "--db", &db][..], &online[..], &pool[..]].concat(),
        vec!["-vv", "status", "--db", &db],
    ] {
        let mut command = cli_command(&args);
        command
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .env("AWS_ENDPOINT_URL_COGNITO_IDENTITY", &cognito.endpoint)
            .env("KINESIS_RECORDER_LOG", "trace")
            .env("RUST_LOG", "trace");
        let output = run_command(command, lines.as_bytes());
        assert!(
            output.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        logs.push((format!("cognito {}", args.join(" ")), output.stdout, output.stderr));
    }
    assert!(cognito.request_count() >= 2, "the Cognito provider was asked");
    assert!(
        String::from_utf8_lossy(&logs.last().unwrap().1).contains("us-east-1:canary-identity"),
        "status shows the identity kept next to the store"
    );
    let log_bytes: usize = logs.iter().map(|(_, o, e)| o.len() + e.len()).sum();
    assert!(
        log_bytes > 10_000,
        "the trace logs are suspiciously short ({log_bytes} bytes): is tracing on?"
    );
    assert!(
        logs.iter()
            .any(|(_, _, e)| String::from_utf8_lossy(e).contains("ResourceNotFoundException")),
        "the error paths ran"
    );

    let mut leaks = Vec::new();
    for (what, stdout, stderr) in &logs {
        for (name, canary) in [("secret", SECRET), ("session token", TOKEN)] {
            if contains_bytes(stdout, canary.as_bytes()) || contains_bytes(stderr, canary.as_bytes()) {
                leaks.push(format!("the {name} is in the output of {what}"));
            }
        }
    }
    let files: Vec<_> = wal_while_killed
        .into_iter()
        .chain(files_with_prefix(dir.path(), "creds.db"))
        .collect();
    assert!(!files.is_empty());
    assert!(
        files
            .iter()
            .any(|(path, _)| path.to_string_lossy().ends_with(".cognito-identity")),
        "the Cognito identity file is searched too"
    );
    for (path, bytes) in &files {
        for (name, canary) in [("secret", SECRET), ("session token", TOKEN)] {
            if contains_bytes(bytes, canary.as_bytes()) {
                leaks.push(format!("the {name} is in {}", path.display()));
            }
        }
    }
    println!(
        "credentials (static and Cognito): {} runs, {log_bytes} bytes of trace logs and {} store files ({} bytes) searched, {} leaks",
        logs.len(),
        files.len(),
        files.iter().map(|(_, b)| b.len()).sum::<usize>(),
        leaks.len()
    );
    assert!(leaks.is_empty(), "{leaks:?}");
}

#[cfg(unix)]
#[test]
fn the_store_is_created_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    // Through the API, in a directory that does not exist yet.
    let mut config = config(&dir, "http://127.0.0.1:1");
    config.database_path = dir.path().join("nested/dir/records.db").to_str().unwrap().to_owned();
    let recorder = Recorder::new(config.clone(), credentials()).unwrap();
    recorder.save_record(b"private".to_vec(), "s", None).unwrap();
    recorder.flush().unwrap();
    let parent = std::path::Path::new(&config.database_path).parent().unwrap().to_owned();
    let mut checked = 0;
    for (path, _) in files_with_prefix(&parent, "records.db") {
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{} has mode {mode:o}", path.display());
        checked += 1;
    }
    assert!(checked >= 2, "the database and its WAL");
    drop(recorder);
    // Through the CLI.
    let db = dir.path().join("cli.db");
    let output = run_cli(&["record", "--db", db.to_str().unwrap(), "--stream", "s"], b"private\n");
    assert_eq!(output.status.code(), Some(0));
    let mode = std::fs::metadata(&db).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the CLI's store has mode {mode:o}");
}

#[test]
fn plain_http_is_refused_to_any_host_but_loopback() {
    // Refused at configuration time: no record is saved and nothing is sent
    // anywhere, whatever the outcome.
    let dir = tempfile::tempdir().unwrap();
    let refused = [
        "http://kinesis.invalid",
        "http://kinesis.us-east-1.amazonaws.com",
        "http://localhost.invalid:4567",
        "http://127.0.0.1.invalid",
        "http://0.0.0.0:4567",
        "http://[::ffff:7f00:1]:4567",
        "HTTP://KINESIS.INVALID",
        "ws://127.0.0.1:4567",
    ];
    for endpoint in refused {
        let result = Recorder::new(config(&dir, endpoint), credentials());
        match result {
            Err(RecorderError::InvalidInput { .. }) => {}
            other => panic!("{endpoint}: expected InvalidInput, got {:?}", other.err()),
        }
    }
    for endpoint in [
        "http://127.0.0.1:1",
        "http://localhost:1",
        "http://[::1]:1",
        "https://kinesis.invalid",
    ] {
        let recorder = Recorder::new(config(&dir, endpoint), credentials());
        assert!(recorder.is_ok(), "{endpoint}: {:?}", recorder.err());
    }
}

#[tokio::test]
async fn tls_certificate_errors_are_errors_and_keep_the_records() {
    let server = match TlsServer::start() {
        Ok(server) => server,
        Err(reason) => panic!("cannot start the TLS server (openssl and python3 are needed): {reason}"),
    };
    for host in ["localhost", "127.0.0.1"] {
        let endpoint = format!("https://{host}:{}", server.port);
        let dir = tempfile::tempdir().unwrap();
        let mut config = config(&dir, &endpoint);
        config.max_attempts = 1;
        let recorder = Recorder::new(config, credentials()).unwrap();
        let events = Arc::new(Events::default());
        recorder.set_listener(Some(events.clone()));
        for i in 0..3u8 {
            recorder.save_record(vec![i], "s", None).unwrap();
        }
        let report = recorder.submit_all_records().await.unwrap();
        assert_eq!(
            (report.records_submitted, report.records_remaining),
            (0, 3),
            "{host}: {report:?}"
        );
        let message = &report.errors[0].message;
        assert!(
            message.to_lowercase().contains("certificate"),
            "{host}: not a certificate error: {message}"
        );
        let stats = recorder.stats().unwrap();
        assert_eq!(
            (
                stats.pending_records,
                stats.records_retried,
                stats.records_dropped_attempts_exhausted
            ),
            (3, 0, 0)
        );
        println!("TLS to {host}: {message}");
    }
    // The connections reached the TLS server and failed in the handshake; none was answered.
    assert!(
        wait_until(Duration::from_secs(2), || server
            .log()
            .iter()
            .any(|l| l.starts_with("HANDSHAKE failed"))),
        "{:?}",
        server.log()
    );
    assert!(
        !server
            .log()
            .iter()
            .any(|l| l.starts_with("HANDSHAKE ok") || l.starts_with("ANSWERED")),
        "{:?}",
        server.log()
    );
}

/// A TLS server whose certificate only its own test CA vouches for, that CA's
/// file, and a store (in the returned folder) holding `lines` for stream `s`.
fn trusted_only_by_its_test_ca(lines: &[u8]) -> (TlsServer, std::path::PathBuf, tempfile::TempDir, String) {
    let server = match TlsServer::start_with_test_ca() {
        Ok(server) => server,
        Err(reason) => panic!("cannot start the TLS server (openssl and python3 are needed): {reason}"),
    };
    let test_ca = server.ca_file.clone().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("trust.db").to_str().unwrap().to_owned();
    let output = run_cli(&["record", "--db", &db, "--stream", "s"], lines);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    (server, test_ca, dir, db)
}

/// `TlsRoots::Platform` (the default) trusts what the system trusts: a server
/// whose CA only the system's trust configuration holds (`SSL_CERT_FILE`
/// here, as a corporate or MDM CA on a managed device) is accepted; without
/// that CA in the trust configuration, or with `--tls-roots bundled`
/// (Mozilla's roots only), the same server is refused and the records stay.
#[test]
fn the_systems_trust_store_decides_and_bundled_roots_ignore_it() {
    let (server, test_ca, _dir, db) = trusted_only_by_its_test_ca(b"one\ntwo\nthree\n");
    let db = db.as_str();
    let endpoint = format!("https://localhost:{}", server.port);
    let submit = |tls_roots: &str, trusted_ca_file: Option<&std::path::Path>| {
        let mut command = cli_command(&[
            "submit",
            "--db",
            db,
            "--region",
            "us-east-1",
            "--endpoint",
            &endpoint,
            "--tls-roots",
            tls_roots,
        ]);
        command.env_remove("SSL_CERT_FILE").env_remove("SSL_CERT_DIR");
        if let Some(file) = trusted_ca_file {
            command.env("SSL_CERT_FILE", file);
        }
        let output = run_command(command, b"");
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let answered = || server.log().iter().filter(|l| l.starts_with("ANSWERED")).count();

    // The system's own CA bundle does not hold the test CA.
    let (code, stderr) = submit("platform", None);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("UnknownIssuer"), "not a trust failure: {stderr}");
    assert_eq!((pending(db), answered()), (3, 0));
    // Bundled roots ignore the system's trust configuration.
    let (code, stderr) = submit("bundled", Some(&test_ca));
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("UnknownIssuer"), "not a trust failure: {stderr}");
    assert_eq!((pending(db), answered()), (3, 0));
    // The platform verifier with the test CA in the system's trust configuration: delivered.
    let (code, stderr) = submit("platform", Some(&test_ca));
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(pending(db), 0);
    assert!(
        wait_until(Duration::from_secs(2), || answered() == 1),
        "{:?}",
        server.log()
    );
    println!("TLS trust: refused without the CA and with bundled roots, accepted through SSL_CERT_FILE");
}

/// The built-in Cognito provider's calls go through the same HTTP client
/// builder, so `tls_roots` decides for them too: with bundled roots a Cognito
/// endpoint whose CA only the system trusts is refused before anything is
/// sent; with the platform verifier and that CA in the system's trust
/// configuration the `GetId` call reaches it (this server is no Cognito, so
/// no credentials come back and the records stay).
#[test]
fn cognito_calls_trust_what_the_recorder_trusts() {
    let (server, test_ca, _dir, db) = trusted_only_by_its_test_ca(b"one\ntwo\n");
    let db = db.as_str();
    let cognito_endpoint = format!("https://localhost:{}", server.port);
    let submit = |tls_roots: &str| {
        let mut command = cli_command(&[
            "submit",
            "--db",
            db,
            "--region",
            "us-east-1",
            // Never reached: the credentials come first.
            "--endpoint",
            "http://127.0.0.1:9",
            "--tls-roots",
            tls_roots,
            "--cognito-identity-pool-id",
            "us-east-1:00000000-0000-4000-8000-000000000000",
        ]);
        command
            .env_remove("SSL_CERT_DIR")
            .env("SSL_CERT_FILE", &test_ca)
            .env("AWS_ENDPOINT_URL_COGNITO_IDENTITY", &cognito_endpoint);
        let output = run_command(command, b"");
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let answered = || server.log().iter().filter(|l| l.starts_with("ANSWERED")).count();

    let (code, stderr) = submit("bundled");
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("UnknownIssuer"), "not a trust failure: {stderr}");
    assert_eq!((pending(db), answered()), (2, 0));
    let (code, stderr) = submit("platform");
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        !stderr.contains("UnknownIssuer"),
        "the platform verifier refused the CA: {stderr}"
    );
    assert!(
        wait_until(Duration::from_secs(2), || answered() > 0),
        "{:?}",
        server.log()
    );
    assert_eq!(pending(db), 2);
}
