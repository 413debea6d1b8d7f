//! The recorder's log forwarded to a sink the app sets (`set_log_sink`):
//! level-filtered, only the recorder's own lines, never record data or
//! credentials; replaced, stopped, and safe from a sink that panics or calls
//! back into the recorder. Its own test binary: the sink is process-wide.

mod support;

use std::sync::{Arc, Mutex};

use kinesis_recorder::{set_log_sink, LogLevel, LogSink, Recorder, StaticCredentialsProvider};
use support::*;

const SECRET: &str = "LogSinkCanarySecret-3f9a1c7e";
const TOKEN: &str = "LogSinkCanaryToken-8b2d4e6f";
const PAYLOAD: &str = "LogSinkCanaryPayload-5c1e9a2b";
const PARTITION_KEY: &str = "LogSinkCanaryKey-7d3f";

#[derive(Default)]
struct Collected(Mutex<Vec<(LogLevel, String, String)>>);

impl LogSink for Collected {
    fn log(&self, level: LogLevel, target: String, message: String) {
        self.0.lock().unwrap().push((level, target, message));
    }
}

impl Collected {
    fn lines(&self) -> Vec<(LogLevel, String, String)> {
        self.0.lock().unwrap().clone()
    }

    fn has(&self, level: LogLevel, text: &str) -> bool {
        self.lines().iter().any(|(l, _, m)| *l == level && m.contains(text))
    }
}

/// Saves to a stream the server refuses and one it accepts, submits, goes
/// offline and clears: warnings, debug lines and drops, with canaries in the
/// data, the partition key and the credentials.
async fn exercise(endpoint: &str) {
    let dir = tempfile::tempdir().unwrap();
    let provider = Arc::new(StaticCredentialsProvider::new(
        "AKIDLOGSINK",
        SECRET,
        Some(TOKEN.into()),
    ));
    let recorder = Recorder::new(config(&dir, endpoint), provider).unwrap();
    for stream in ["accepted", "gone"] {
        for _ in 0..2 {
            recorder
                .save_record(PAYLOAD.as_bytes().to_vec(), stream, Some(PARTITION_KEY.into()))
                .unwrap();
        }
    }
    recorder.submit_all_records().await.unwrap();
    recorder.set_network_available(false);
    recorder.delete_all_records().unwrap();
}

fn server() -> FaultServer {
    FaultServer::start(|request, _| {
        if request.body["StreamName"] == "gone" {
            error_reply(400, "ResourceNotFoundException")
        } else {
            accept_all(request)
        }
    })
}

#[tokio::test]
async fn the_log_reaches_the_sink_filtered_and_without_secrets_or_data() {
    let server = server();

    // At Debug: the debug lines and the warnings, each with its fields.
    let debug = Arc::new(Collected::default());
    set_log_sink(Some(debug.clone()), LogLevel::Debug).unwrap();
    exercise(&server.endpoint).await;
    let lines = debug.lines();
    assert!(
        debug.has(LogLevel::Debug, "records submitted stream=accepted delivered=2"),
        "{lines:#?}"
    );
    assert!(
        debug.has(
            LogLevel::Warn,
            "the service rejected the stream's requests stream=gone code=ResourceNotFoundException \
             message=scripted ResourceNotFoundException (the stream does not exist"
        ),
        "{lines:#?}"
    );
    assert!(
        debug.has(LogLevel::Warn, "records dropped stream=gone reason=deleted count=2"),
        "{lines:#?}"
    );
    assert!(
        debug.has(LogLevel::Debug, "network availability changed available=false"),
        "{lines:#?}"
    );
    assert!(!lines.iter().any(|(l, _, _)| *l == LogLevel::Trace), "{lines:#?}");
    // Only the recorder's own lines (no HTTP or TLS internals), and nothing secret or private.
    for (_, target, message) in &lines {
        assert!(target.starts_with("kinesis_recorder"), "{target}: {message}");
        for canary in [SECRET, TOKEN, PAYLOAD, PARTITION_KEY] {
            assert!(!message.contains(canary), "{canary} logged: {message}");
        }
    }

    // At Warn, to another sink: no debug line, and the first sink hears nothing more.
    let warn = Arc::new(Collected::default());
    set_log_sink(Some(warn.clone()), LogLevel::Warn).unwrap();
    let before = debug.lines().len();
    exercise(&server.endpoint).await;
    let lines = warn.lines();
    assert!(
        warn.has(LogLevel::Warn, "records dropped stream=gone reason=deleted count=2"),
        "{lines:#?}"
    );
    assert!(lines.iter().all(|(l, _, _)| *l <= LogLevel::Warn), "{lines:#?}");
    assert_eq!(debug.lines().len(), before);

    // Stopped: nothing reaches either.
    set_log_sink(None, LogLevel::Trace).unwrap();
    let before = (debug.lines().len(), warn.lines().len());
    exercise(&server.endpoint).await;
    assert_eq!((debug.lines().len(), warn.lines().len()), before);
    println!(
        "log sink: {} lines at Debug, {} at Warn, 0 after it was cleared; no secret or record data",
        before.0, before.1
    );

    // A sink that calls back into the recorder (which logs again: that line is skipped, not fed
    // back into the sink forever) and then panics costs its line and nothing else.
    struct Unruly {
        recorder: Mutex<Option<Arc<Recorder>>>,
        calls: Mutex<Vec<String>>,
    }
    impl LogSink for Unruly {
        fn log(&self, _: LogLevel, _: String, message: String) {
            self.calls.lock().unwrap().push(message.clone());
            if message.contains("available=false") {
                if let Some(recorder) = self.recorder.lock().unwrap().clone() {
                    recorder.set_network_available(true);
                }
            }
            panic!("a sink that panics");
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let recorder = Arc::new(Recorder::new(config(&dir, &server.endpoint), credentials()).unwrap());
    let unruly = Arc::new(Unruly {
        recorder: Mutex::new(Some(recorder.clone())),
        calls: Mutex::new(Vec::new()),
    });
    set_log_sink(Some(unruly.clone()), LogLevel::Debug).unwrap();
    recorder.save_record(b"x".to_vec(), "accepted", None).unwrap();
    recorder.set_network_available(false);
    // The sink turned the network back on; the line that logged is not in the sink.
    assert!(recorder.stats().unwrap().network_available);
    let calls = unruly.calls.lock().unwrap().clone();
    assert_eq!(calls, vec!["network availability changed available=false".to_owned()]);
    let report = recorder.submit_all_records().await.unwrap();
    assert_eq!(
        (report.records_submitted, report.records_remaining),
        (1, 0),
        "{report:?}"
    );
    assert!(
        unruly.calls.lock().unwrap().len() > 1,
        "the sink still gets lines after panicking"
    );
    set_log_sink(None, LogLevel::Debug).unwrap();
    *unruly.recorder.lock().unwrap() = None;
}
