//! Helpers of the issue-5 fault suite (crash loop, faults, storage,
//! concurrency, bad input, fuzzing, security), kept apart from
//! `tests/support` so that module stays owned by its authors.

#![allow(dead_code)] // each test binary uses its own part of this module

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_kinesis-recorder");

/// The CLI with test credentials and no endpoint from the environment.
pub fn cli_command(args: &[&str]) -> Command {
    let mut command = Command::new(BIN);
    command
        .args(args)
        .env("AWS_ACCESS_KEY_ID", "AKIDTEST")
        .env("AWS_SECRET_ACCESS_KEY", "harness-secret")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_REGION")
        .env_remove("AWS_DEFAULT_REGION")
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_ENDPOINT_URL_KINESIS")
        .env_remove("AWS_ENDPOINT_URL_COGNITO_IDENTITY")
        .env_remove("AWS_ENDPOINT_URL_FIREHOSE")
        .env_remove("KINESIS_RECORDER_LOG");
    command
}

/// Runs the CLI to completion with `stdin`, collecting its output.
pub fn run_cli(args: &[&str], stdin: &[u8]) -> Output {
    run_command(cli_command(args), stdin)
}

pub fn run_command(mut command: Command, stdin: &[u8]) -> Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
    let mut input = child.stdin.take().unwrap();
    let stdin = stdin.to_vec();
    // Write from a thread: a large input must not deadlock against a full stdout pipe.
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&stdin);
    });
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap();
    output
}

/// `status --json` of a store.
pub fn status_json(db: &str) -> serde_json::Value {
    let output = run_cli(&["status", "--db", db, "--json"], b"");
    assert!(
        output.status.success(),
        "status --db {db} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

pub fn pending(db: &str) -> u64 {
    status_json(db)["pending_records"].as_u64().unwrap()
}

/// A tmpfs of `size` bytes mounted on a fresh temporary directory,
/// unmounted when dropped. `Err` says why it could not be mounted.
pub struct Tmpfs {
    pub dir: tempfile::TempDir,
}

impl Tmpfs {
    pub fn mount(size: u64) -> Result<Tmpfs, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let output = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size},mode=0700"), "tmpfs"])
            .arg(dir.path())
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !output.status.success() {
            return Err(format!(
                "mount -t tmpfs failed: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            ));
        }
        Ok(Tmpfs { dir })
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.dir.path()).status();
    }
}

/// Whether `haystack` contains `needle`.
pub fn contains_bytes(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// Every file of `dir` whose name starts with `prefix`, with its bytes.
pub fn files_with_prefix(dir: &Path, prefix: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(prefix))
        .map(|e| (e.path(), std::fs::read(e.path()).unwrap_or_default()))
        .collect();
    files.sort();
    files
}

/// Runs `body` on its own thread and fails the test if it does not finish
/// within `limit` (a deadlock), re-raising its panic otherwise.
pub fn within<T: Send + 'static>(limit: Duration, what: &str, body: impl FnOnce() -> T + Send + 'static) -> T {
    let (done, finished) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        let value = std::panic::catch_unwind(std::panic::AssertUnwindSafe(body));
        let _ = done.send(());
        value
    });
    if finished.recv_timeout(limit).is_err() {
        panic!("{what} did not finish within {limit:?}: deadlock or livelock");
    }
    match thread.join().unwrap() {
        Ok(value) => value,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// The largest number of `times` that fall within any window of `window`.
pub fn max_in_window(times: &[Instant], window: Duration) -> usize {
    let mut times = times.to_vec();
    times.sort();
    let mut best = 0;
    let mut start = 0;
    for end in 0..times.len() {
        while times[end] - times[start] > window {
            start += 1;
        }
        best = best.max(end - start + 1);
    }
    best
}

/// A tally of named events (faults injected per kind...), shared with server threads.
#[derive(Default, Clone)]
pub struct Tally(pub Arc<Mutex<HashMap<&'static str, u64>>>);

impl Tally {
    pub fn add(&self, kind: &'static str) {
        *self.0.lock().unwrap().entry(kind).or_default() += 1;
    }

    pub fn get(&self, kind: &str) -> u64 {
        self.0.lock().unwrap().get(kind).copied().unwrap_or(0)
    }

    pub fn total(&self) -> u64 {
        self.0.lock().unwrap().values().sum()
    }

    pub fn summary(&self) -> String {
        let mut kinds: Vec<_> = self.0.lock().unwrap().iter().map(|(k, v)| (*k, *v)).collect();
        kinds.sort();
        kinds
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A TLS server on 127.0.0.1 with a self-signed certificate for `localhost`
/// (made by the `openssl` CLI, served by python3's `ssl` module). If a client
/// completes the handshake it answers every request with a PutRecords success,
/// so a client that wrongly trusted it would "deliver". Its log lines say how
/// each handshake went.
pub struct TlsServer {
    child: Child,
    pub port: u16,
    pub log: Arc<Mutex<Vec<String>>>,
    _dir: tempfile::TempDir,
}

impl TlsServer {
    pub fn start() -> Result<TlsServer, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
        let made = Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "1",
                "-subj",
                "/CN=localhost",
            ])
            .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
            // A leaf certificate, so the client fails on trust (UnknownIssuer), as with a real impostor.
            .args(["-addext", "basicConstraints=critical,CA:FALSE"])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .map_err(|e| format!("cannot run openssl: {e}"))?;
        if !made.status.success() {
            return Err(format!("openssl req failed: {}", String::from_utf8_lossy(&made.stderr)));
        }
        let script = r#"
import json, socket, ssl, sys, threading
cert, key = sys.argv[1], sys.argv[2]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
sock = socket.socket()
sock.bind(("127.0.0.1", 0))
sock.listen(16)
print("LISTENING %d" % sock.getsockname()[1], flush=True)
def serve(conn):
    try:
        tls = ctx.wrap_socket(conn, server_side=True)
    except Exception as e:
        print("HANDSHAKE failed: %s" % e, flush=True)
        conn.close()
        return
    print("HANDSHAKE ok", flush=True)
    try:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = tls.recv(65536)
            if not chunk:
                return
            data += chunk
        head, body = data.split(b"\r\n\r\n", 1)
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        while len(body) < length:
            body += tls.recv(65536)
        n = len(json.loads(body).get("Records", []))
        out = json.dumps({"FailedRecordCount": 0, "Records": [{"SequenceNumber": "1", "ShardId": "shardId-0"}] * n}).encode()
        tls.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.1\r\ncontent-length: %d\r\n\r\n" % len(out) + out)
        print("ANSWERED %d records" % n, flush=True)
    except Exception as e:
        print("ERROR %s" % e, flush=True)
    finally:
        tls.close()
def stop():
    sys.stdin.read()
    import os
    os._exit(0)
threading.Thread(target=stop, daemon=True).start()
while True:
    conn, _ = sock.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
"#;
        let mut child = Command::new("python3")
            .arg("-c")
            .arg(script)
            .arg(&cert)
            .arg(&key)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot run python3: {e}"))?;
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = lines
            .next()
            .ok_or("the TLS server exited before listening")?
            .map_err(|e| e.to_string())?;
        let port = first
            .strip_prefix("LISTENING ")
            .and_then(|p| p.trim().parse().ok())
            .ok_or_else(|| format!("unexpected first line {first:?}"))?;
        let log = Arc::new(Mutex::new(Vec::new()));
        {
            let log = log.clone();
            std::thread::spawn(move || {
                for line in lines.map_while(Result::ok) {
                    log.lock().unwrap().push(line);
                }
            });
        }
        Ok(TlsServer {
            child,
            port,
            log,
            _dir: dir,
        })
    }

    pub fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
