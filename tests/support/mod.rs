//! Shared pieces of the integration tests: real Kinesis-compatible servers on
//! loopback (kinesalite, moto), an independent reader (`aws-sdk-kinesis`), and
//! a misbehaving HTTP server that answers as each test scripts it (built on
//! `tests/common/loopback.rs`, the server the benchmark uses too).

#![allow(dead_code)] // each test binary uses its own part of this module

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_kinesis::config::{BehaviorVersion, Credentials, Region};
use base64::Engine as _;
use kinesis_recorder::{RecorderConfig, RecorderEvent, RecorderListener, StaticCredentialsProvider};
use loopback::LoopbackServer;
pub use loopback::Reply;

#[path = "../common/loopback.rs"]
pub mod loopback;

pub const REPO: &str = env!("CARGO_MANIFEST_DIR");

/// A server process on loopback, stopped when dropped.
pub struct Server {
    child: Child,
    pub endpoint: String,
    /// Lines it printed before `LISTENING <port>`.
    pub banner: Vec<String>,
}

impl Server {
    pub fn kinesalite() -> Server {
        Server::spawn(
            Command::new("node")
                .arg(format!("{REPO}/tests/servers/kinesalite.js"))
                .arg("0"),
        )
    }

    /// kinesis-mock (the `kinesis-local` package): speaks JSON and CBOR.
    pub fn kinesis_mock() -> Server {
        Server::spawn(
            Command::new("node")
                .arg(format!("{REPO}/tests/servers/kinesis_mock.js"))
                .arg("0"),
        )
    }

    /// moto, signatures unchecked (Kinesis, Firehose with S3, ...).
    pub fn moto() -> Server {
        Server::spawn(
            Command::new("bash")
                .arg(format!("{REPO}/tests/servers/moto.sh"))
                .arg("0"),
        )
    }

    /// moto with SigV4 verification on; its banner holds the keys it accepts.
    pub fn moto_verifying_sigv4() -> Server {
        Server::spawn(
            Command::new("bash")
                .arg(format!("{REPO}/tests/servers/moto.sh"))
                .arg("0")
                .env("MOTO_VERIFY_SIGV4", "1"),
        )
    }

    /// moto (signatures unchecked) with a Cognito identity pool that allows
    /// guests; [`Server::identity_pool`] is its id.
    pub fn moto_with_identity_pool() -> Server {
        Server::spawn(
            Command::new("bash")
                .arg(format!("{REPO}/tests/servers/moto.sh"))
                .arg("0")
                .env("MOTO_IDENTITY_POOL", "1"),
        )
    }

    /// The identity pool of [`Server::moto_with_identity_pool`].
    pub fn identity_pool(&self) -> String {
        self.banner
            .iter()
            .find_map(|l| l.strip_prefix("IDENTITY_POOL "))
            .unwrap_or_else(|| panic!("no IDENTITY_POOL line in {:?}", self.banner))
            .to_owned()
    }

    /// How many identities moto holds for `pool` (ListIdentities, a signed
    /// call: moto reads only the credential scope).
    pub fn cognito_identities(&self, pool: &str) -> usize {
        let (status, body) = http_post(
            &self.endpoint,
            &[
                ("content-type", "application/x-amz-json-1.1"),
                ("x-amz-target", "AWSCognitoIdentityService.ListIdentities"),
                (
                    "authorization",
                    "AWS4-HMAC-SHA256 Credential=AKIDTEST/20260101/us-east-1/cognito-identity/aws4_request, \
                     SignedHeaders=host, Signature=0",
                ),
            ],
            serde_json::json!({"IdentityPoolId": pool, "MaxResults": 60})
                .to_string()
                .as_bytes(),
        );
        assert_eq!(status, 200, "ListIdentities: {}", String::from_utf8_lossy(&body));
        let answer: serde_json::Value = serde_json::from_slice(&body).unwrap();
        answer["Identities"].as_array().map_or(0, Vec::len)
    }

    fn spawn(command: &mut Command) -> Server {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {command:?} (run .ci/install-servers.sh): {e}"));
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let mut banner = Vec::new();
        let port = loop {
            let line = lines
                .next()
                .unwrap_or_else(|| panic!("{command:?} exited before listening (run .ci/install-servers.sh)"))
                .unwrap();
            if let Some(port) = line.strip_prefix("LISTENING ") {
                break port.trim().to_owned();
            }
            banner.push(line);
        };
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Server {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
            banner,
        }
    }

    /// The `(key id, secret, token)` of a banner line such as `CREDENTIALS id secret`.
    pub fn credentials(&self, label: &str) -> (String, String, Option<String>) {
        let line = self
            .banner
            .iter()
            .find(|l| l.starts_with(&format!("{label} ")))
            .unwrap_or_else(|| panic!("no {label} line in {:?}", self.banner));
        let parts: Vec<&str> = line.split_whitespace().collect();
        (parts[1].into(), parts[2].into(), parts.get(3).map(|s| s.to_string()))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An independent Kinesis client: the official SDK.
pub fn sdk_client(endpoint: &str, key: &str, secret: &str, token: Option<String>) -> aws_sdk_kinesis::Client {
    let config = aws_sdk_kinesis::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new(key, secret, token, None, "tests"))
        .build();
    aws_sdk_kinesis::Client::from_conf(config)
}

pub fn test_client(endpoint: &str) -> aws_sdk_kinesis::Client {
    sdk_client(endpoint, "AKIDTEST", "secret", None)
}

pub async fn create_stream(client: &aws_sdk_kinesis::Client, name: &str, shards: i32) {
    client
        .create_stream()
        .stream_name(name)
        .shard_count(shards)
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateStream {name}: {e:?}"));
    for _ in 0..100 {
        let status = client
            .describe_stream_summary()
            .stream_name(name)
            .send()
            .await
            .unwrap()
            .stream_description_summary
            .unwrap()
            .stream_status;
        if status == aws_sdk_kinesis::types::StreamStatus::Active {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("stream {name} never became active");
}

/// A shard's hash key range and its records, `(partition key, data)`, in order.
pub struct ShardRecords {
    pub range: std::ops::RangeInclusive<u128>,
    pub records: Vec<(String, Vec<u8>)>,
}

/// Every shard of `stream` with its records, read from the trim horizon.
pub async fn read_shards(client: &aws_sdk_kinesis::Client, stream: &str) -> Vec<ShardRecords> {
    let shards = client
        .list_shards()
        .stream_name(stream)
        .send()
        .await
        .unwrap()
        .shards
        .unwrap_or_default();
    let mut result = Vec::new();
    for shard in shards {
        let range = shard.hash_key_range().unwrap();
        let range = range.starting_hash_key().parse().unwrap()..=range.ending_hash_key().parse().unwrap();
        let mut records = Vec::new();
        let mut iterator = client
            .get_shard_iterator()
            .stream_name(stream)
            .shard_id(shard.shard_id)
            .shard_iterator_type(aws_sdk_kinesis::types::ShardIteratorType::TrimHorizon)
            .send()
            .await
            .unwrap()
            .shard_iterator;
        while let Some(it) = iterator {
            let page = client
                .get_records()
                .shard_iterator(it)
                .limit(10_000)
                .send()
                .await
                .unwrap();
            if page.records.is_empty() {
                break;
            }
            records.extend(
                page.records
                    .into_iter()
                    .map(|r| (r.partition_key.unwrap_or_default(), r.data.into_inner())),
            );
            iterator = page.next_shard_iterator;
        }
        result.push(ShardRecords { range, records });
    }
    result
}

/// Every record of every shard of `stream`, as (partition key, data).
pub async fn read_stream(client: &aws_sdk_kinesis::Client, stream: &str) -> Vec<(String, Vec<u8>)> {
    read_shards(client, stream)
        .await
        .into_iter()
        .flat_map(|shard| shard.records)
        .collect()
}

pub fn config(dir: &tempfile::TempDir, endpoint: &str) -> RecorderConfig {
    let mut config = RecorderConfig::new(dir.path().join("records.db").to_str().unwrap(), "us-east-1");
    config.endpoint = Some(endpoint.to_owned());
    config.auto_submit = false;
    config.request_timeout = Duration::from_secs(5);
    config
}

pub fn credentials() -> Arc<StaticCredentialsProvider> {
    Arc::new(StaticCredentialsProvider::new("AKIDTEST", "test-secret-value", None))
}

/// Polls `condition` every 10 ms for at most `timeout`.
pub fn wait_until(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if condition() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    condition()
}

/// Collects every event.
#[derive(Default)]
pub struct Events(pub Mutex<Vec<RecorderEvent>>);

impl RecorderListener for Events {
    fn on_event(&self, event: RecorderEvent) {
        self.0.lock().unwrap().push(event);
    }
}

impl Events {
    pub fn all(&self) -> Vec<RecorderEvent> {
        self.0.lock().unwrap().clone()
    }
}

// ---------------------------------------------------------------------------
// The misbehaving server (tests/common/loopback.rs, shared with the benchmark).

/// One request the fault server received.
#[derive(Debug, Clone)]
pub struct Request {
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: serde_json::Value,
    pub at: Instant,
}

impl Request {
    /// The (partition key, data) of each record of a PutRecords body.
    pub fn records(&self) -> Vec<(String, Vec<u8>)> {
        self.body["Records"]
            .as_array()
            .map(|records| {
                records
                    .iter()
                    .map(|r| {
                        (
                            r["PartitionKey"].as_str().unwrap_or_default().to_owned(),
                            base64::engine::general_purpose::STANDARD
                                .decode(r["Data"].as_str().unwrap_or_default())
                                .unwrap(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        loopback::find_header(&self.headers, name)
    }
}

/// A PutRecords answer: entry `i` fails with `fail(i)` when it says so.
pub fn put_records_reply(request: &Request, fail: impl Fn(usize, &(String, Vec<u8>)) -> Option<&'static str>) -> Reply {
    let records = request.records();
    let mut failed = 0;
    let entries: Vec<serde_json::Value> = records
        .iter()
        .enumerate()
        .map(|(i, record)| match fail(i, record) {
            Some(code) => {
                failed += 1;
                serde_json::json!({"ErrorCode": code, "ErrorMessage": format!("{code} for entry {i}")})
            }
            None => serde_json::json!({"SequenceNumber": format!("4959{i:020}"), "ShardId": "shardId-000000000000"}),
        })
        .collect();
    Reply::Json(
        200,
        serde_json::json!({"FailedRecordCount": failed, "Records": entries}),
    )
}

pub fn accept_all(request: &Request) -> Reply {
    put_records_reply(request, |_, _| None)
}

pub fn error_reply(status: u16, error_type: &str) -> Reply {
    Reply::Json(
        status,
        serde_json::json!({"__type": error_type, "message": format!("scripted {error_type}")}),
    )
}

/// One HTTP/1.1 POST of `body` to `/` of `endpoint` (`http://host:port`),
/// with `Connection: close`: the status and the body of the answer.
pub fn http_post(endpoint: &str, headers: &[(&str, &str)], body: &[u8]) -> (u16, Vec<u8>) {
    let host = endpoint.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = TcpStream::connect(host).unwrap_or_else(|e| panic!("cannot connect to {endpoint}: {e}"));
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut head = format!(
        "POST / HTTP/1.1\r\nhost: {host}\r\ncontent-length: {}\r\nconnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no HTTP head in {:?}", String::from_utf8_lossy(&answer)));
    let status_line = String::from_utf8_lossy(&answer[..split]).to_string();
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line: {status_line}"));
    (status, answer[split + 4..].to_vec())
}

/// A fault-server handler that forwards each request to `upstream` (moto,
/// say) and answers what it answers, so a test can count and read the
/// requests a real server served.
pub fn forward_to(upstream: &str) -> impl Fn(&Request, usize) -> Reply + Send + Sync + 'static {
    let upstream = upstream.to_owned();
    move |request, _| {
        let headers: Vec<(&str, &str)> = request
            .headers
            .iter()
            .filter(|(name, _)| !["host", "content-length", "connection"].contains(&name.to_ascii_lowercase().as_str()))
            .map(|(name, value)| (name.as_str(), value.as_str()))
            .collect();
        let (status, body) = http_post(&upstream, &headers, request.body.to_string().as_bytes());
        Reply::Raw(status, "application/x-amz-json-1.1", body)
    }
}

/// The loopback server of the tests, answering each request as the test's
/// handler says (given the request and its index from 0) and keeping every
/// request it received.
pub struct FaultServer {
    pub endpoint: String,
    requests: Arc<Mutex<Vec<Request>>>,
    pub connections: Arc<AtomicUsize>,
    _server: LoopbackServer,
}

impl FaultServer {
    pub fn start(handler: impl Fn(&Request, usize) -> Reply + Send + Sync + 'static) -> FaultServer {
        let requests = Arc::new(Mutex::new(Vec::new()));
        let server = {
            let requests = requests.clone();
            LoopbackServer::start(move |http| {
                let request = Request {
                    target: http.header("x-amz-target").unwrap_or_default().to_owned(),
                    headers: http.headers.clone(),
                    body: serde_json::from_slice(&http.body).unwrap_or(serde_json::Value::Null),
                    at: Instant::now(),
                };
                let index = {
                    let mut all = requests.lock().unwrap();
                    all.push(request.clone());
                    all.len() - 1
                };
                handler(&request, index)
            })
        };
        FaultServer {
            endpoint: server.endpoint.clone(),
            requests,
            connections: server.connections.clone(),
            _server: server,
        }
    }

    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }

    pub fn request_count(&self) -> usize {
        self.requests.lock().unwrap().len()
    }
}
