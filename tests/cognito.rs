//! The built-in Cognito Identity provider: against moto's cognito-identity
//! (real GetId / GetCredentialsForIdentity, 90-second credentials), through
//! the CLI as separate processes, and against the misbehaving loopback
//! server for what moto never answers (refusals, unknown identities,
//! malformed answers, stalls, logins that change).

mod harness;
mod support;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use harness::{cli_command, run_command};
use kinesis_recorder::{
    CognitoCredentialsProvider, CognitoLoginsProvider, FailureKind, Recorder, RecorderError, RecorderEvent,
    SubmitReport,
};
use support::*;

const POOL: &str = "us-east-1:0a1b2c3d-0000-4000-8000-5f2a0c1e9d7b";
const IDP: &str = "cognito-idp.us-east-1.amazonaws.com/us-east-1_TestPool";

/// The operation of a Cognito request: `GetId`, `GetCredentialsForIdentity`.
fn operation(request: &Request) -> &str {
    request.target.trim_start_matches("AWSCognitoIdentityService.")
}

fn operations(server: &FaultServer) -> Vec<String> {
    server.requests().iter().map(|r| operation(r).to_owned()).collect()
}

/// The access key id a Kinesis request was signed with.
fn access_key(request: &Request) -> String {
    let authorization = request.header("authorization").unwrap_or_default();
    let start = authorization.find("Credential=").expect("a SigV4 Authorization header") + "Credential=".len();
    authorization[start..].split('/').next().unwrap().to_owned()
}

fn provider(cognito_endpoint: &str) -> CognitoCredentialsProvider {
    CognitoCredentialsProvider::new(POOL, "us-east-1")
        .unwrap()
        .with_endpoint(cognito_endpoint)
        .unwrap()
}

fn db_path(dir: &tempfile::TempDir) -> String {
    config(dir, "http://127.0.0.1:1").database_path
}

async fn save_and_submit(recorder: &Recorder, n: usize, tag: &str) -> SubmitReport {
    for i in 0..n {
        recorder
            .save_record(format!("{tag}-{i}").into_bytes(), "s", None)
            .unwrap();
    }
    recorder.submit_all_records().await.unwrap()
}

fn epoch_seconds_in(lifetime: Duration) -> f64 {
    (SystemTime::now() + lifetime)
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// A Cognito Identity that works: GetId gives `us-east-1:id-<n>`, and
/// GetCredentialsForIdentity gives one-hour credentials whose key id is
/// `AKID<request index>`.
fn working_cognito(next_identity: &AtomicUsize, request: &Request, index: usize) -> Reply {
    match operation(request) {
        "GetId" => Reply::Json(
            200,
            serde_json::json!({"IdentityId": format!("us-east-1:id-{}", next_identity.fetch_add(1, Ordering::SeqCst) + 1)}),
        ),
        "GetCredentialsForIdentity" => Reply::Json(
            200,
            serde_json::json!({
                "IdentityId": request.body["IdentityId"],
                "Credentials": {
                    "AccessKeyId": format!("AKID{index}"),
                    "SecretKey": format!("secret-{index}"),
                    "SessionToken": format!("token-{index}"),
                    "Expiration": epoch_seconds_in(Duration::from_secs(3600)),
                }
            }),
        ),
        other => error_reply(400, &format!("Unexpected{other}")),
    }
}

#[tokio::test]
async fn moto_pool_credentials_sign_the_records_and_one_identity_serves_every_run() {
    let moto = Server::moto_with_identity_pool();
    let pool = moto.identity_pool();
    create_stream(&test_client(&moto.endpoint), "s", 1).await;
    // Both loopback proxies forward to moto, so every request is counted and
    // its headers read, and moto answers all of them.
    let cognito = FaultServer::start(forward_to(&moto.endpoint));
    let kinesis = FaultServer::start(forward_to(&moto.endpoint));
    let dir = tempfile::tempdir().unwrap();
    let moto_provider = || {
        CognitoCredentialsProvider::new(pool.as_str(), "us-east-1")
            .unwrap()
            .with_endpoint(&cognito.endpoint)
            .unwrap()
    };

    let recorder = Recorder::new(config(&dir, &kinesis.endpoint), Arc::new(moto_provider())).unwrap();
    for i in 0..5 {
        recorder
            .save_record(format!("first-{i}").into_bytes(), "s", None)
            .unwrap();
    }
    recorder.flush().unwrap();
    assert_eq!(cognito.request_count(), 0, "saving never fetches credentials");
    recorder.set_network_available(false);
    let offline = recorder.submit_all_records().await.unwrap();
    assert!(offline.network_unavailable);
    assert_eq!(cognito.request_count(), 0, "no credentials are fetched while offline");
    recorder.set_network_available(true);
    let report = recorder.submit_all_records().await.unwrap();
    assert_eq!(
        (report.records_submitted, report.records_remaining),
        (5, 0),
        "{report:?}"
    );
    assert_eq!(operations(&cognito), ["GetId", "GetCredentialsForIdentity"]);
    // More submissions within the credentials' 90 seconds: no new fetch.
    for round in 0..4 {
        let report = save_and_submit(&recorder, 3, &format!("round{round}")).await;
        assert_eq!(report.records_submitted, 3, "{report:?}");
    }
    assert_eq!(
        cognito.request_count(),
        2,
        "moto's 90-second credentials are reused, not fetched per request"
    );
    let puts = kinesis.requests();
    assert_eq!(puts.len(), 5);
    for put in &puts {
        assert_eq!(
            access_key(put),
            "TESTACCESSKEY12345",
            "signed with the pool's credentials"
        );
        assert_eq!(put.header("x-amz-security-token"), Some("ABC12345"));
    }
    recorder.shutdown();

    let (stored_pool, identity) = CognitoCredentialsProvider::stored_identity(&db_path(&dir)).unwrap();
    assert_eq!(stored_pool, pool);
    assert_eq!(cognito.requests()[1].body["IdentityId"], identity.as_str());

    // A new recorder (a new process, as far as the provider knows) on the
    // same store: the identity is reused, only the credentials are fetched.
    let recorder = Recorder::new(config(&dir, &kinesis.endpoint), Arc::new(moto_provider())).unwrap();
    let report = save_and_submit(&recorder, 2, "second").await;
    assert_eq!(report.records_submitted, 2, "{report:?}");
    recorder.shutdown();
    assert_eq!(
        operations(&cognito),
        ["GetId", "GetCredentialsForIdentity", "GetCredentialsForIdentity"]
    );
    assert_eq!(cognito.requests()[2].body["IdentityId"], identity.as_str());
    assert_eq!(moto.cognito_identities(&pool), 1, "moto holds one identity");
    assert_eq!(read_stream(&test_client(&moto.endpoint), "s").await.len(), 19);
}

#[tokio::test]
async fn cli_runs_share_one_identity_and_status_shows_it() {
    let moto = Server::moto_with_identity_pool();
    let pool = moto.identity_pool();
    create_stream(&test_client(&moto.endpoint), "s", 1).await;
    let dir = tempfile::tempdir().unwrap();
    let db = db_path(&dir);
    let cli = |args: &[&str], stdin: &[u8]| {
        let mut command = cli_command(args);
        command
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .env("AWS_ENDPOINT_URL_COGNITO_IDENTITY", &moto.endpoint);
        let output = run_command(command, stdin);
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(output.status.success(), "{args:?}: {stderr}");
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let online = [
        "--region",
        "us-east-1",
        "--endpoint",
        &moto.endpoint,
        "--cognito-identity-pool-id",
        &pool,
    ];
    for round in 0..2 {
        cli(
            &["record", "--db", &db, "--stream", "s"],
            format!("a{round}\nb{round}\n").as_bytes(),
        );
        let out = cli(&[&["submit", "--db", &db][..], &online[..]].concat(), b"");
        assert!(out.contains("submitted 2 records"), "{out}");
    }
    let out = cli(
        &[
            &["run", "--db", &db, "--stream", "s", "--interval", "50ms"][..],
            &online[..],
        ]
        .concat(),
        b"c\nd\ne\n",
    );
    assert!(out.contains("0 pending"), "{out}");
    assert_eq!(moto.cognito_identities(&pool), 1, "three processes, one identity");
    assert_eq!(read_stream(&test_client(&moto.endpoint), "s").await.len(), 7);

    let (_, identity) = CognitoCredentialsProvider::stored_identity(&db).unwrap();
    assert!(identity.starts_with("us-east-1:"), "{identity}");
    let text = cli(&["status", "--db", &db], b"");
    assert!(
        text.contains(&format!("cognito identity: {identity} (pool {pool})")),
        "{text}"
    );
    let json: serde_json::Value = serde_json::from_str(&cli(&["status", "--db", &db, "--json"], b"")).unwrap();
    assert_eq!(
        json["cognito_identity"],
        serde_json::json!({"identity_pool_id": pool, "identity_id": identity})
    );
}

#[tokio::test]
async fn an_identity_cognito_no_longer_knows_is_replaced_once() {
    for code in ["ResourceNotFoundException", "ValidationException"] {
        let deleted = Arc::new(AtomicBool::new(false));
        let next_identity = Arc::new(AtomicUsize::new(0));
        let cognito = FaultServer::start({
            let (deleted, next_identity) = (deleted.clone(), next_identity.clone());
            move |request, index| {
                let first = request.body["IdentityId"] == "us-east-1:id-1";
                if operation(request) == "GetCredentialsForIdentity" && first && deleted.load(Ordering::SeqCst) {
                    return error_reply(400, code);
                }
                working_cognito(&next_identity, request, index)
            }
        });
        let kinesis = FaultServer::start(|request, _| accept_all(request));
        let dir = tempfile::tempdir().unwrap();
        let recorder = Recorder::new(config(&dir, &kinesis.endpoint), Arc::new(provider(&cognito.endpoint))).unwrap();
        assert_eq!(save_and_submit(&recorder, 2, "before").await.records_submitted, 2);
        recorder.shutdown();
        deleted.store(true, Ordering::SeqCst);

        let recorder = Recorder::new(config(&dir, &kinesis.endpoint), Arc::new(provider(&cognito.endpoint))).unwrap();
        let report = save_and_submit(&recorder, 3, "after").await;
        assert_eq!(
            (report.records_submitted, report.errors.len()),
            (3, 0),
            "{code}: {report:?}"
        );
        let bodies: Vec<_> = cognito
            .requests()
            .iter()
            .map(|r| r.body["IdentityId"].clone())
            .collect();
        assert_eq!(
            operations(&cognito),
            [
                "GetId",
                "GetCredentialsForIdentity",
                "GetCredentialsForIdentity",
                "GetId",
                "GetCredentialsForIdentity"
            ],
            "{code}"
        );
        assert_eq!(bodies[2], "us-east-1:id-1");
        assert_eq!(bodies[4], "us-east-1:id-2");
        assert_eq!(
            CognitoCredentialsProvider::stored_identity(&db_path(&dir)),
            Some((POOL.to_owned(), "us-east-1:id-2".to_owned())),
            "{code}: the new identity is kept"
        );
    }
}

#[tokio::test]
async fn an_identity_refused_again_after_a_new_get_id_is_an_error_not_a_loop() {
    let next_identity = AtomicUsize::new(0);
    let cognito = FaultServer::start(move |request, index| match operation(request) {
        "GetCredentialsForIdentity" => error_reply(400, "ResourceNotFoundException"),
        _ => working_cognito(&next_identity, request, index),
    });
    let kinesis = FaultServer::start(|request, _| accept_all(request));
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::new(config(&dir, &kinesis.endpoint), Arc::new(provider(&cognito.endpoint))).unwrap();
    let report = save_and_submit(&recorder, 4, "kept").await;
    assert_eq!(
        operations(&cognito),
        [
            "GetId",
            "GetCredentialsForIdentity",
            "GetId",
            "GetCredentialsForIdentity"
        ],
        "one retry with a new identity, then the error"
    );
    let error = &report.errors[0];
    assert_eq!(error.kind, FailureKind::Credentials, "{error:?}");
    assert!(error.message.contains("ResourceNotFoundException"), "{error:?}");
    let stats = recorder.stats().unwrap();
    assert_eq!(
        (stats.pending_records, stats.records_retried, kinesis.request_count()),
        (4, 0, 0)
    );
}

/// A scripted failure of the Cognito service and what the app must hear.
struct Refusal {
    what: &'static str,
    logins: bool,
    answer: fn(&Request) -> Option<Reply>,
    kind: FailureKind,
    needles: &'static [&'static str],
}

fn on(operation_name: &'static str, request: &Request, reply: Reply) -> Option<Reply> {
    (operation(request) == operation_name).then_some(reply)
}

fn cognito_error(status: u16, code: &str, message: &str) -> Reply {
    Reply::Json(status, serde_json::json!({"__type": code, "message": message}))
}

#[tokio::test]
async fn failures_keep_every_record_and_name_the_cause_and_the_fix() {
    let refusals = [
        Refusal {
            what: "guests not allowed",
            logins: false,
            answer: |r| {
                on(
                    "GetId",
                    r,
                    cognito_error(
                        400,
                        "NotAuthorizedException",
                        "Unauthenticated access is not supported for this identity pool.",
                    ),
                )
            },
            kind: FailureKind::Credentials,
            needles: &[
                "NotAuthorizedException",
                "Unauthenticated access is not supported",
                "turn on unauthenticated identities",
                "supply the user's logins",
            ],
        },
        Refusal {
            what: "an identity with linked logins, without them",
            logins: false,
            answer: |r| {
                on(
                    "GetCredentialsForIdentity",
                    r,
                    cognito_error(
                        400,
                        "NotAuthorizedException",
                        "Access to Identity 'us-east-1:id-1' is forbidden.",
                    ),
                )
            },
            kind: FailureKind::Credentials,
            needles: &["is forbidden", "supply the user's logins"],
        },
        Refusal {
            what: "an expired login token",
            logins: true,
            answer: |r| {
                on(
                    "GetCredentialsForIdentity",
                    r,
                    cognito_error(
                        400,
                        "NotAuthorizedException",
                        "Invalid login token. Token expired: 1796000000 >= 1795990000",
                    ),
                )
            },
            kind: FailureKind::Credentials,
            needles: &["Token expired", "fresh token from the logins callback"],
        },
        Refusal {
            what: "a pool without a role",
            logins: false,
            answer: |r| {
                on(
                    "GetCredentialsForIdentity",
                    r,
                    cognito_error(
                        400,
                        "InvalidIdentityPoolConfigurationException",
                        "Invalid identity pool configuration.",
                    ),
                )
            },
            kind: FailureKind::Credentials,
            needles: &[
                "InvalidIdentityPoolConfigurationException",
                "no IAM role for unauthenticated identities",
            ],
        },
        Refusal {
            what: "an unknown pool",
            logins: false,
            answer: |r| {
                on(
                    "GetId",
                    r,
                    cognito_error(400, "ResourceNotFoundException", "IdentityPool 'x' not found."),
                )
            },
            kind: FailureKind::Credentials,
            needles: &["not found", "check the identity pool id and its region"],
        },
        Refusal {
            what: "throttled",
            logins: false,
            answer: |r| {
                on(
                    "GetCredentialsForIdentity",
                    r,
                    cognito_error(400, "TooManyRequestsException", "Rate exceeded"),
                )
            },
            kind: FailureKind::Network,
            needles: &["busy", "TooManyRequestsException"],
        },
        Refusal {
            what: "HTTP 503 without a body",
            logins: false,
            answer: |r| on("GetId", r, Reply::Raw(503, "text/plain", Vec::new())),
            kind: FailureKind::Network,
            needles: &["HTTP 503"],
        },
        Refusal {
            what: "credentials without a secret",
            logins: false,
            answer: |r| {
                on(
                    "GetCredentialsForIdentity",
                    r,
                    Reply::Json(
                        200,
                        serde_json::json!({"IdentityId": "us-east-1:id-1",
                        "Credentials": {"AccessKeyId": "AKID", "SessionToken": "t", "Expiration": 4e9}}),
                    ),
                )
            },
            kind: FailureKind::Network,
            needles: &["unusably", "SecretKey"],
        },
        Refusal {
            what: "an expiration that is not epoch seconds",
            logins: false,
            answer: |r| {
                on(
                    "GetCredentialsForIdentity",
                    r,
                    Reply::Json(
                        200,
                        serde_json::json!({"Credentials": {"AccessKeyId": "AKID", "SecretKey": "s",
                        "SessionToken": "t", "Expiration": "2026-12-01T00:00:00Z"}}),
                    ),
                )
            },
            kind: FailureKind::Network,
            needles: &["unusably"],
        },
        Refusal {
            what: "an HTML page",
            logins: false,
            answer: |r| {
                on(
                    "GetId",
                    r,
                    Reply::Raw(200, "text/html", b"<html>captive portal</html>".to_vec()),
                )
            },
            kind: FailureKind::Network,
            needles: &["unusably"],
        },
        Refusal {
            what: "a connection closed without an answer",
            logins: false,
            answer: |r| on("GetCredentialsForIdentity", r, Reply::Close),
            kind: FailureKind::Network,
            needles: &["GetCredentialsForIdentity"],
        },
        Refusal {
            what: "a stall past the timeout",
            logins: false,
            answer: |r| on("GetCredentialsForIdentity", r, Reply::Stall(Duration::from_secs(3))),
            kind: FailureKind::Network,
            needles: &["GetCredentialsForIdentity"],
        },
    ];
    // Concurrently: each network case waits out the explicit submit's retries.
    let cases: Vec<_> = refusals
        .into_iter()
        .map(|refusal| tokio::spawn(failure_case(refusal)))
        .collect();
    let tried = cases.len();
    let mut problems = Vec::new();
    for case in cases {
        problems.extend(case.await.unwrap());
    }
    println!("cognito failures: {} scripted, {} problems", tried, problems.len());
    assert!(problems.is_empty(), "{problems:#?}");
}

/// Saves three records, submits against the failing Cognito, checks the
/// error and that nothing was spent or lost, heals Cognito and submits again.
async fn failure_case(refusal: Refusal) -> Vec<String> {
    let mut problems = Vec::new();
    let healed = Arc::new(AtomicBool::new(false));
    let next_identity = AtomicUsize::new(0);
    let answer = refusal.answer;
    let cognito = FaultServer::start({
        let healed = healed.clone();
        move |request, index| {
            if !healed.load(Ordering::SeqCst) {
                if let Some(reply) = answer(request) {
                    return reply;
                }
            }
            working_cognito(&next_identity, request, index)
        }
    });
    let kinesis = FaultServer::start(|request, _| accept_all(request));
    let dir = tempfile::tempdir().unwrap();
    let mut provider = provider(&cognito.endpoint);
    if refusal.logins {
        provider = provider.with_logins(Arc::new(Logins::with(&[(IDP, "id-token")])));
    }
    let mut config = config(&dir, &kinesis.endpoint);
    config.request_timeout = Duration::from_secs(1);
    let recorder = Recorder::new(config, Arc::new(provider)).unwrap();
    let events = Arc::new(Events::default());
    recorder.set_listener(Some(events.clone()));
    let report = save_and_submit(&recorder, 3, "kept").await;
    let what = refusal.what;
    match report.errors.as_slice() {
        [error] => {
            if error.kind != refusal.kind {
                problems.push(format!("{what}: kind {:?}, expected {:?}", error.kind, refusal.kind));
            }
            for needle in refusal.needles {
                if !error.message.contains(needle) {
                    problems.push(format!("{what}: {needle:?} missing from {:?}", error.message));
                }
            }
        }
        other => problems.push(format!("{what}: errors {other:?}")),
    }
    let will_retry = events.all().iter().all(|e| match e {
        RecorderEvent::SubmissionFailed { will_retry, .. } => *will_retry,
        _ => true,
    });
    let stats = recorder.stats().unwrap();
    if (
        stats.pending_records,
        stats.records_retried,
        kinesis.request_count(),
        will_retry,
    ) != (3, 0, 0, true)
    {
        problems.push(format!(
            "{what}: pending {}, retried {}, {} PutRecords, will retry {will_retry}",
            stats.pending_records,
            stats.records_retried,
            kinesis.request_count()
        ));
    }
    // Once Cognito answers again, every record goes.
    healed.store(true, Ordering::SeqCst);
    let report = recorder.submit_all_records().await.unwrap();
    if (report.records_submitted, report.records_remaining) != (3, 0) {
        problems.push(format!("{what}: after healing {report:?}"));
    }
    problems
}

#[tokio::test]
async fn an_unreachable_cognito_is_a_network_error_that_costs_nothing() {
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let kinesis = FaultServer::start(|request, _| accept_all(request));
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::new(config(&dir, &kinesis.endpoint), Arc::new(provider(&closed))).unwrap();
    let report = save_and_submit(&recorder, 5, "kept").await;
    let error = &report.errors[0];
    assert_eq!(error.kind, FailureKind::Network, "{error:?}");
    assert!(error.message.contains("GetId"), "{error:?}");
    let stats = recorder.stats().unwrap();
    assert_eq!(
        (
            stats.pending_records,
            stats.records_retried,
            stats.records_dropped_attempts_exhausted
        ),
        (5, 0, 0)
    );
    assert_eq!(CognitoCredentialsProvider::stored_identity(&db_path(&dir)), None);
}

/// The app's sign-in state, changed by the test.
#[derive(Default)]
struct Logins {
    current: Mutex<HashMap<String, String>>,
    calls: AtomicUsize,
}

impl Logins {
    fn with(entries: &[(&str, &str)]) -> Logins {
        let logins = Logins::default();
        logins.set(entries);
        logins
    }

    fn set(&self, entries: &[(&str, &str)]) {
        *self.current.lock().unwrap() = entries.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    }
}

#[async_trait::async_trait]
impl CognitoLoginsProvider for Logins {
    async fn logins(&self) -> Result<HashMap<String, String>, RecorderError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let current = self.current.lock().unwrap().clone();
        if current.contains_key("broken") {
            return Err(RecorderError::Credentials {
                reason: "the user pool session is gone".into(),
            });
        }
        Ok(current)
    }
}

#[tokio::test]
async fn logins_are_asked_at_each_use_and_a_change_gets_new_credentials() {
    let next_identity = AtomicUsize::new(0);
    let cognito = FaultServer::start(move |request, index| {
        let reply = working_cognito(&next_identity, request, index);
        // Cognito may answer with another identity, for example when a
        // guest signs in with a login already linked to an identity.
        match reply {
            Reply::Json(200, mut body) if request.body["Logins"][IDP] == "merge-me" => {
                body["IdentityId"] = "us-east-1:merged".into();
                Reply::Json(200, body)
            }
            other => other,
        }
    });
    let kinesis = FaultServer::start(|request, _| accept_all(request));
    let dir = tempfile::tempdir().unwrap();
    let logins = Arc::new(Logins::default());
    let recorder = Recorder::new(
        config(&dir, &kinesis.endpoint),
        Arc::new(provider(&cognito.endpoint).with_logins(logins.clone())),
    )
    .unwrap();
    let stored = || CognitoCredentialsProvider::stored_identity(&db_path(&dir)).unwrap().1;
    // (operations since the last step, identity asked for, logins sent)
    let mut seen = 0;
    let mut step = |expected: &[&str]| {
        let requests = cognito.requests();
        let new: Vec<&Request> = requests[seen..].iter().collect();
        seen = requests.len();
        assert_eq!(new.iter().map(|r| operation(r)).collect::<Vec<_>>(), expected);
        new.last()
            .map(|r| (r.body["IdentityId"].clone(), r.body["Logins"].clone()))
    };

    // A guest.
    assert_eq!(save_and_submit(&recorder, 1, "guest").await.records_submitted, 1);
    let (identity, sent) = step(&["GetId", "GetCredentialsForIdentity"]).unwrap();
    assert_eq!((identity, sent), ("us-east-1:id-1".into(), serde_json::Value::Null));
    assert_eq!(save_and_submit(&recorder, 1, "guest").await.records_submitted, 1);
    step(&[]);
    assert_eq!(logins.calls.load(Ordering::SeqCst), 2, "asked at each use");

    // Signs in: the same identity, with the login, new credentials at once.
    logins.set(&[(IDP, "token-1")]);
    assert_eq!(save_and_submit(&recorder, 1, "user").await.records_submitted, 1);
    let (identity, sent) = step(&["GetCredentialsForIdentity"]).unwrap();
    assert_eq!(
        (identity, sent),
        ("us-east-1:id-1".into(), serde_json::json!({IDP: "token-1"}))
    );
    let last_put = kinesis.requests().last().cloned().unwrap();
    assert_eq!(access_key(&last_put), format!("AKID{}", cognito.request_count() - 1));
    assert_eq!(
        last_put.header("x-amz-security-token").unwrap(),
        format!("token-{}", cognito.request_count() - 1)
    );

    // A refreshed token: new credentials with it.
    logins.set(&[(IDP, "token-2")]);
    save_and_submit(&recorder, 1, "user").await;
    let (_, sent) = step(&["GetCredentialsForIdentity"]).unwrap();
    assert_eq!(sent, serde_json::json!({IDP: "token-2"}));

    // Signs out: the identity has a login linked now, so a new guest one.
    logins.set(&[]);
    assert_eq!(save_and_submit(&recorder, 1, "guest").await.records_submitted, 1);
    let (identity, sent) = step(&["GetId", "GetCredentialsForIdentity"]).unwrap();
    assert_eq!((identity, sent), ("us-east-1:id-2".into(), serde_json::Value::Null));
    assert_eq!(stored(), "us-east-1:id-2");

    // Cognito answers with another identity: it is adopted and kept.
    logins.set(&[(IDP, "merge-me")]);
    assert_eq!(save_and_submit(&recorder, 1, "user").await.records_submitted, 1);
    step(&["GetCredentialsForIdentity"]);
    assert_eq!(stored(), "us-east-1:merged");

    // The callback fails: a credentials error with its reason, records kept.
    logins.set(&[("broken", "")]);
    let report = save_and_submit(&recorder, 2, "kept").await;
    step(&[]);
    let error = &report.errors[0];
    assert_eq!(error.kind, FailureKind::Credentials);
    assert!(
        error
            .message
            .contains("logins callback failed: the user pool session is gone"),
        "{error:?}"
    );
    assert_eq!(recorder.stats().unwrap().pending_records, 2);
}

#[tokio::test]
async fn expired_token_from_kinesis_gets_new_credentials_from_cognito() {
    let next_identity = AtomicUsize::new(0);
    let cognito = FaultServer::start(move |request, index| working_cognito(&next_identity, request, index));
    let kinesis = FaultServer::start(|request, index| match index {
        0 => error_reply(400, "ExpiredTokenException"),
        _ => accept_all(request),
    });
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::new(config(&dir, &kinesis.endpoint), Arc::new(provider(&cognito.endpoint))).unwrap();
    let report = save_and_submit(&recorder, 3, "refresh").await;
    assert_eq!(report.records_submitted, 3, "{report:?}");
    assert_eq!(
        operations(&cognito),
        ["GetId", "GetCredentialsForIdentity", "GetCredentialsForIdentity"],
        "one refresh, same identity"
    );
    let puts = kinesis.requests();
    assert_eq!(
        (access_key(&puts[0]), access_key(&puts[1])),
        ("AKID1".into(), "AKID2".into())
    );
}

#[test]
fn bad_pool_ids_and_endpoints_are_refused_up_front() {
    for (pool, region) in [
        ("not-a-pool", "us-east-1"),
        ("eu-west-1:0a1b", "us-east-1"),
        ("us-east-1:", "us-east-1"),
    ] {
        assert!(
            matches!(
                CognitoCredentialsProvider::new(pool, region),
                Err(RecorderError::InvalidInput { .. })
            ),
            "{pool} in {region}"
        );
    }
    let plain_http_off_the_machine = CognitoCredentialsProvider::new(POOL, "us-east-1")
        .unwrap()
        .with_endpoint("http://cognito.example.com");
    assert!(matches!(
        plain_http_off_the_machine,
        Err(RecorderError::InvalidInput { .. })
    ));
}
