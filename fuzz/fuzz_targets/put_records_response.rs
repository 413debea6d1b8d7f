//! The PutRecords response decoder and the error parser on arbitrary bytes:
//! never a panic; a decoded body has consistent counts; an error code is
//! trimmed, non-empty and without its `namespace#` prefix.
#![no_main]

use kinesis_recorder::fuzzing;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    if let Ok((entries, rejected)) = fuzzing::decode_put_records(body) {
        assert!(rejected <= entries);
    }
    let header = std::str::from_utf8(&body[..body.len().min(32)]).ok();
    let (code, _message) = fuzzing::parse_error(body, header);
    if let Some(code) = code {
        assert!(!code.is_empty() && code.trim() == code && !code.contains('#'), "{code:?}");
    }
});
