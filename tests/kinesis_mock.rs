//! Against kinesis-mock, a second independent Kinesis implementation: JSON
//! answers with explicit nulls, and the CBOR wire format end to end.

mod support;

use kinesis_recorder::{Recorder, WireFormat};
use support::*;

async fn round_trip(format: WireFormat) {
    let server = Server::kinesis_mock();
    let sdk = test_client(&server.endpoint);
    create_stream(&sdk, "mock", 2).await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(&dir, &server.endpoint);
    config.wire_format = format;
    let recorder = Recorder::new(config, credentials()).unwrap();
    let mut want = Vec::new();
    for i in 0..600u32 {
        let data: Vec<u8> = (0..(1 + i % 300))
            .map(|b| (b as u8).wrapping_mul(31) ^ (i as u8))
            .collect();
        let key = format!("key-{}", i % 7);
        recorder.save_record(data.clone(), "mock", Some(key.clone())).unwrap();
        want.push((key, data));
    }
    let report = recorder.submit_all_records().await.unwrap();
    assert_eq!(
        (report.records_submitted, report.requests, report.records_remaining),
        (600, 2, 0),
        "{report:?}"
    );
    let mut got = read_stream(&sdk, "mock").await;
    want.sort();
    got.sort();
    assert!(got == want, "{format:?}: records differ");

    // A missing stream is read from the error body in this format too.
    recorder.save_record(b"x".to_vec(), "missing", None).unwrap();
    let report = recorder.submit_all_records().await.unwrap();
    assert_eq!(
        report.errors[0].code.as_deref(),
        Some("ResourceNotFoundException"),
        "{format:?}: {report:?}"
    );
}

#[tokio::test]
async fn json_round_trip() {
    round_trip(WireFormat::Json).await;
}

#[tokio::test]
async fn cbor_round_trip() {
    round_trip(WireFormat::Cbor).await;
}
