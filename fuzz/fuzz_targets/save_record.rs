//! `Recorder::save_record_with_hash_key` with arbitrary stream names,
//! partition keys, explicit hash keys and data: never a panic; an accepted
//! record is within the limits; a refused one is `InvalidInput`.
#![no_main]

use std::sync::{Arc, OnceLock};

use kinesis_recorder::{Recorder, RecorderConfig, RecorderError, StaticCredentialsProvider};
use libfuzzer_sys::fuzz_target;

fn recorder() -> &'static Recorder {
    static RECORDER: OnceLock<(tempfile::TempDir, Recorder)> = OnceLock::new();
    &RECORDER
        .get_or_init(|| {
            let dir = tempfile::tempdir().unwrap();
            let mut config = RecorderConfig::new(dir.path().join("fuzz.db").to_str().unwrap(), "us-east-1");
            config.endpoint = Some("http://127.0.0.1:1".into());
            config.auto_submit = false;
            config.max_record_bytes = 4096;
            config.max_storage_bytes = 1024 * 1024; // drop-oldest keeps the store small
            let provider = Arc::new(StaticCredentialsProvider::new("AKID", "SECRET", None));
            let recorder = Recorder::new(config, provider).unwrap();
            (dir, recorder)
        })
        .1
}

/// Splits the input at 0xFF bytes into stream, key, hash key and data.
fn fields(input: &[u8]) -> (String, Option<String>, Option<String>, Vec<u8>) {
    let mut parts = input.splitn(4, |&b| b == 0xFF);
    let text = |p: Option<&[u8]>| p.map(|p| String::from_utf8_lossy(p).into_owned());
    let stream = text(parts.next()).unwrap_or_default();
    let key = text(parts.next()).filter(|k| k != "-");
    let hash = text(parts.next()).filter(|h| h != "-");
    let data = parts.next().unwrap_or_default().to_vec();
    (stream, key, hash, data)
}

fuzz_target!(|input: &[u8]| {
    let (stream, key, hash, data) = fields(input);
    let size = data.len() + key.as_ref().map_or(36, |k| k.len());
    match recorder().save_record_with_hash_key(data, &stream, key, hash) {
        Ok(()) => assert!(size <= 4096, "a record of {size} bytes was accepted"),
        Err(RecorderError::InvalidInput { .. }) | Err(RecorderError::Overloaded { .. }) => {}
        Err(other) => panic!("unexpected error {other:?}"),
    }
});
