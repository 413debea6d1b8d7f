//! Record validation on arbitrary fields: never a panic, and whatever it
//! accepts obeys the service's rules (stream name, partition key length in
//! UTF-16 units, explicit hash key pattern `0|([1-9]\d{0,38})`, size).
#![no_main]

use kinesis_recorder::fuzzing;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let mut parts = input.splitn(4, |&b| b == 0xFF);
    let text = |p: Option<&[u8]>| p.map(|p| String::from_utf8_lossy(p).into_owned());
    let stream = text(parts.next()).unwrap_or_default();
    let key = text(parts.next()).filter(|k| k != "-");
    let hash = text(parts.next()).filter(|h| h != "-");
    let data = parts.next().unwrap_or_default().to_vec();
    if let Ok(size) = fuzzing::validate_record(data.clone(), &stream, key.clone(), hash.clone(), 4096) {
        assert!(size <= 4096 && !data.is_empty());
        assert!(!stream.is_empty() && stream.len() <= 128);
        assert!(stream.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b)));
        if let Some(key) = &key {
            let units = key.encode_utf16().count();
            assert!((1..=256).contains(&units), "partition key of {units} UTF-16 units accepted");
        }
        if let Some(hash) = &hash {
            assert!(hash == "0" || (!hash.starts_with('0') && hash.parse::<u128>().is_ok()), "hash key {hash:?} accepted");
        }
    }
});
