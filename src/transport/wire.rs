//! Request and response bodies on the wire. Each service API is one [`Api`]
//! value: its signing name, target, content type, encoder and decoder; the
//! recorder picks one by service and encoding ([`api`]), and nothing else in
//! it knows which service it talks to.

use serde::Deserialize;

use super::cbor;
use crate::config::WireFormat;
use crate::service::Service;
use crate::submission::{EntryResult, StoredRecord};

/// One batch-put API of one service.
pub(crate) struct Api {
    /// SigV4 signing name and the first label of the regional host.
    pub signing_name: &'static str,
    pub endpoint_prefix: &'static str,
    pub target: &'static str,
    pub content_type: &'static str,
    pub encode: fn(&str, &[WireRecord<'_>]) -> Vec<u8>,
    pub decode: fn(&[u8]) -> Result<Vec<EntryResult>, String>,
}

/// One record of a request body: a stored record, or an aggregate of several.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WireRecord<'a> {
    pub data: &'a [u8],
    pub partition_key: &'a str,
    pub explicit_hash_key: Option<&'a str>,
}

/// Kinesis Data Streams PutRecords, JSON 1.1.
pub(crate) static KINESIS_PUT_RECORDS: Api = Api {
    signing_name: "kinesis",
    endpoint_prefix: "kinesis",
    target: "Kinesis_20131202.PutRecords",
    content_type: "application/x-amz-json-1.1",
    encode: encode_put_records,
    decode: decode_put_records,
};

/// Kinesis Data Streams PutRecords, CBOR 1.1: data as raw bytes.
pub(crate) static KINESIS_PUT_RECORDS_CBOR: Api = Api {
    signing_name: "kinesis",
    endpoint_prefix: "kinesis",
    target: "Kinesis_20131202.PutRecords",
    content_type: "application/x-amz-cbor-1.1",
    encode: encode_put_records_cbor,
    decode: decode_put_records_cbor,
};

/// Amazon Data Firehose PutRecordBatch, JSON 1.1 (Firehose speaks no CBOR).
pub(crate) static FIREHOSE_PUT_RECORD_BATCH: Api = Api {
    signing_name: "firehose",
    endpoint_prefix: "firehose",
    target: "Firehose_20150804.PutRecordBatch",
    content_type: "application/x-amz-json-1.1",
    encode: encode_put_record_batch,
    decode: decode_put_record_batch,
};

/// The batch API of `service` in the configured encoding (the configuration's
/// validation keeps CBOR to the services that speak it).
pub(crate) fn api(service: Service, format: WireFormat) -> &'static Api {
    match (service, format) {
        (Service::KinesisDataStreams, WireFormat::Json) => &KINESIS_PUT_RECORDS,
        (Service::KinesisDataStreams, WireFormat::Cbor) => &KINESIS_PUT_RECORDS_CBOR,
        (Service::Firehose, _) => &FIREHOSE_PUT_RECORD_BATCH,
    }
}

fn encode_put_records(stream: &str, records: &[WireRecord<'_>]) -> Vec<u8> {
    encode_json_batch("StreamName", stream, records, true)
}

fn encode_put_record_batch(stream: &str, records: &[WireRecord<'_>]) -> Vec<u8> {
    encode_json_batch("DeliveryStreamName", stream, records, false)
}

/// A JSON request body, written by hand: stream names are `[a-zA-Z0-9_.-]`
/// (checked at save) and base64 is plain ASCII, so only the keys go through
/// JSON's escaping. Data is base64-encoded straight into the body: passing
/// it through a serializer's escaper cost a sixth of a drain's CPU time.
/// `with_keys`: Kinesis records carry their partition key (and explicit
/// hash key); Firehose records are data alone.
fn encode_json_batch(name_field: &str, stream: &str, records: &[WireRecord<'_>], with_keys: bool) -> Vec<u8> {
    use base64::Engine as _;
    let engine = &base64::engine::general_purpose::STANDARD;
    // Sized once: base64 is 4/3 of the data, plus keys and field names.
    let estimate: usize = records
        .iter()
        .map(|r| r.data.len().div_ceil(3) * 4 + if with_keys { r.partition_key.len() + 32 } else { 0 } + 12)
        .sum();
    let mut body = Vec::with_capacity(estimate + stream.len() + 40);
    body.extend_from_slice(b"{\"");
    body.extend_from_slice(name_field.as_bytes());
    body.extend_from_slice(b"\":\"");
    body.extend_from_slice(stream.as_bytes());
    body.extend_from_slice(b"\",\"Records\":[");
    for (i, record) in records.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(b"{\"Data\":\"");
        let start = body.len();
        body.resize(start + record.data.len().div_ceil(3) * 4, 0);
        engine
            .encode_slice(record.data, &mut body[start..])
            .expect("the buffer has the encoded length");
        body.push(b'"');
        if with_keys {
            body.extend_from_slice(b",\"PartitionKey\":");
            write_json_string(&mut body, record.partition_key);
            if let Some(key) = record.explicit_hash_key {
                body.extend_from_slice(b",\"ExplicitHashKey\":");
                write_json_string(&mut body, key);
            }
        }
        body.push(b'}');
    }
    body.extend_from_slice(b"]}");
    body
}

/// Appends `text` as a JSON string, escaped.
fn write_json_string(body: &mut Vec<u8>, text: &str) {
    serde_json::to_writer(body, text).expect("writing a string to memory cannot fail");
}

/// The answer of PutRecords (`Records`, entries with a `SequenceNumber`) and
/// of PutRecordBatch (`RequestResponses`, entries with a `RecordId`): the
/// same shape under other names, read by one decoder. Output fields are all
/// optional: some servers send explicit `null`s.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct BatchOutput {
    #[serde(alias = "RequestResponses")]
    records: Option<Vec<BatchResultEntry>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct BatchResultEntry {
    #[serde(alias = "RecordId")]
    sequence_number: Option<EntryId>,
    error_code: Option<String>,
    error_message: Option<String>,
}

/// A result entry's id (`SequenceNumber`, `RecordId`), of which only its
/// presence as a string matters. Read as bytes, so the 500 of an answer are
/// neither copied nor checked for UTF-8; any other JSON type is refused,
/// like any answer that is not the service's.
struct EntryId;

impl<'de> Deserialize<'de> for EntryId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = EntryId;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_bytes<E>(self, _: &[u8]) -> Result<EntryId, E> {
                Ok(EntryId)
            }
        }
        deserializer.deserialize_bytes(Visitor)
    }
}

fn decode_put_records(body: &[u8]) -> Result<Vec<EntryResult>, String> {
    decode_json_batch(body, "PutRecords", "Records")
}

fn decode_put_record_batch(body: &[u8]) -> Result<Vec<EntryResult>, String> {
    decode_json_batch(body, "PutRecordBatch", "RequestResponses")
}

/// `field` names the results array in messages (`Records`, `RequestResponses`).
fn decode_json_batch(body: &[u8], api: &str, field: &str) -> Result<Vec<EntryResult>, String> {
    let output: BatchOutput =
        serde_json::from_slice(body).map_err(|e| format!("{api} response is not valid JSON: {e}"))?;
    let entries = output.records.ok_or_else(|| format!("{api} response has no {field}"))?;
    entries
        .into_iter()
        .map(|entry| entry_result(entry.error_code, entry.error_message, entry.sequence_number.is_some()))
        .collect()
}

/// One result entry: an error code means rejected, an id (sequence number
/// or record id) accepted.
fn entry_result(
    error_code: Option<String>,
    error_message: Option<String>,
    has_id: bool,
) -> Result<EntryResult, String> {
    match (error_code, has_id) {
        (Some(code), _) => Ok(EntryResult::Rejected {
            code,
            message: error_message.unwrap_or_default(),
        }),
        (None, true) => Ok(EntryResult::Accepted),
        (None, false) => Err("a result entry has neither an id nor an ErrorCode".to_owned()),
    }
}

fn encode_put_records_cbor(stream: &str, records: &[WireRecord<'_>]) -> Vec<u8> {
    let size: usize = records.iter().map(|r| r.data.len() + r.partition_key.len() + 40).sum();
    let mut w = cbor::Writer(Vec::with_capacity(size + stream.len() + 32));
    w.map(2);
    w.text("StreamName");
    w.text(stream);
    w.text("Records");
    w.array(records.len());
    for record in records {
        w.map(2 + usize::from(record.explicit_hash_key.is_some()));
        w.text("Data");
        w.bytes(record.data);
        w.text("PartitionKey");
        w.text(record.partition_key);
        if let Some(key) = record.explicit_hash_key {
            w.text("ExplicitHashKey");
            w.text(key);
        }
    }
    w.0
}

fn decode_put_records_cbor(body: &[u8]) -> Result<Vec<EntryResult>, String> {
    let output = cbor::decode(body).map_err(|e| format!("PutRecords response is not valid CBOR: {e}"))?;
    let Some(cbor::Value::Array(entries)) = output.get("Records") else {
        return Err("PutRecords response has no Records".to_owned());
    };
    let text = |entry: &cbor::Value, key: &str| entry.get(key).and_then(cbor::Value::as_text).map(str::to_owned);
    entries
        .iter()
        .map(|entry| {
            entry_result(
                text(entry, "ErrorCode"),
                text(entry, "ErrorMessage"),
                text(entry, "SequenceNumber").is_some(),
            )
        })
        .collect()
}

/// The error type and message of a failed call: `__type` (its `namespace#`
/// prefix removed), else the `x-amzn-ErrorType` header, else an XML
/// `<Code>` (some gateways and local servers answer signature errors in
/// XML); `message` or `Message`.
pub(crate) fn parse_error(body: &[u8], error_type_header: Option<&str>) -> (Option<String>, String) {
    #[derive(Deserialize)]
    struct ErrorBody {
        #[serde(rename = "__type")]
        error_type: Option<String>,
        #[serde(alias = "Message")]
        message: Option<String>,
    }
    let parsed: Option<ErrorBody> = serde_json::from_slice(body).ok().or_else(|| {
        let value = cbor::decode(body).ok()?;
        let text = |key: &str| value.get(key).and_then(cbor::Value::as_text).map(str::to_owned);
        Some(ErrorBody {
            error_type: text("__type"),
            message: text("message").or_else(|| text("Message")),
        })
    });
    let from_body = parsed.as_ref().and_then(|b| b.error_type.as_deref());
    // The header looks like `Name:http://internal.amazon.com/...`.
    let from_header = error_type_header.map(|h| h.split(':').next().unwrap_or(h));
    let text = String::from_utf8_lossy(body);
    let code = from_body
        .or(from_header)
        .or_else(|| xml_element(&text, "Code"))
        .map(|t| t.rsplit('#').next().unwrap_or(t).trim().to_owned())
        .filter(|t| !t.is_empty());
    let message = parsed
        .and_then(|b| b.message)
        .or_else(|| xml_element(&text, "Message").map(str::to_owned))
        .unwrap_or_else(|| text.chars().take(200).collect());
    (code, message)
}

/// `message` without the partition keys (and explicit hash keys) of
/// `records`, nor the values services quote back (`Value '...' at
/// 'records.1.member.partitionKey' failed to satisfy constraint`): keys are
/// often user ids, and service messages end up in logs, events and stats.
/// Keys shorter than four characters are left alone (they would garble the
/// message and say little).
pub(crate) fn redact_keys<'a>(message: &str, records: impl IntoIterator<Item = &'a StoredRecord>) -> String {
    const REDACTED: &str = "<redacted>";
    let mut text = String::with_capacity(message.len());
    // Quoted values first: `Value '...'` / `value "..."`.
    let mut rest = message;
    while let Some(at) = rest.find("alue ").filter(|&at| at > 0) {
        let (head, tail) = rest.split_at(at + 5);
        text.push_str(head);
        rest = tail;
        let Some(quote) = rest.chars().next().filter(|c| *c == '\'' || *c == '"') else {
            continue;
        };
        let Some(end) = rest[1..].find(quote) else {
            continue;
        };
        text.push(quote);
        text.push_str(REDACTED);
        text.push(quote);
        rest = &rest[end + 2..];
    }
    text.push_str(rest);
    for key in records
        .into_iter()
        .flat_map(|r| std::iter::once(r.partition_key.as_str()).chain(r.explicit_hash_key.as_deref()))
        .filter(|key| key.chars().count() >= 4)
    {
        if text.contains(key) {
            text = text.replace(key, REDACTED);
        }
    }
    text
}

fn xml_element<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    let start = text.find(&format!("<{name}>"))? + name.len() + 2;
    let end = start + text[start..].find(&format!("</{name}>"))?;
    Some(&text[start..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record<'a>(data: &'a [u8], key: &'a str, hash: Option<&'a str>) -> WireRecord<'a> {
        WireRecord {
            data,
            partition_key: key,
            explicit_hash_key: hash,
        }
    }

    #[test]
    fn encodes_put_records() {
        // Keys may hold anything JSON must escape: quotes, backslashes,
        // control characters; and any Unicode.
        let awkward = "k\"\\\u{1}\n\u{e9}\u{1f600}";
        let records = [
            record(b"hi", "k", None),
            record(&[0xff], "k2", Some("42")),
            record(b"abc", awkward, None),
        ];
        let body = encode_put_records("s", &records);
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"StreamName": "s", "Records": [
                {"Data": "aGk=", "PartitionKey": "k"},
                {"Data": "/w==", "PartitionKey": "k2", "ExplicitHashKey": "42"},
                {"Data": "YWJj", "PartitionKey": awkward}
            ]})
        );
    }

    #[test]
    fn decodes_mixed_results_and_explicit_nulls() {
        let body = br#"{"FailedRecordCount":1,"EncryptionType":null,"Records":[
            {"SequenceNumber":"1","ShardId":"shardId-0","ErrorCode":null,"ErrorMessage":null},
            {"SequenceNumber":null,"ErrorCode":"ProvisionedThroughputExceededException","ErrorMessage":"slow down"}]}"#;
        assert_eq!(
            decode_put_records(body).unwrap(),
            vec![
                EntryResult::Accepted,
                EntryResult::Rejected {
                    code: "ProvisionedThroughputExceededException".into(),
                    message: "slow down".into()
                }
            ]
        );
    }

    #[test]
    fn cbor_round_trip() {
        let records = [record(&[0, 255], "k", None), record(b"x", "k2", Some("7"))];
        let body = encode_put_records_cbor("s", &records);
        let value = cbor::decode(&body).unwrap();
        assert_eq!(value.get("StreamName"), Some(&cbor::Value::Text("s".into())));
        let cbor::Value::Array(entries) = value.get("Records").unwrap() else {
            panic!()
        };
        assert_eq!(entries[0].get("Data"), Some(&cbor::Value::Bytes(vec![0, 255])));
        assert_eq!(entries[1].get("ExplicitHashKey"), Some(&cbor::Value::Text("7".into())));
        // 2 data bytes travel as 2 bytes, not as base64.
        assert!(body.len() < encode_put_records("s", &records).len());

        let mut w = cbor::Writer(Vec::new());
        w.map(2);
        w.text("FailedRecordCount");
        w.bytes(&[]);
        w.text("Records");
        w.array(2);
        w.map(1);
        w.text("SequenceNumber");
        w.text("1");
        w.map(2);
        w.text("ErrorCode");
        w.text("InternalFailure");
        w.text("ErrorMessage");
        w.text("m");
        assert_eq!(
            decode_put_records_cbor(&w.0).unwrap(),
            vec![
                EntryResult::Accepted,
                EntryResult::Rejected {
                    code: "InternalFailure".into(),
                    message: "m".into()
                }
            ]
        );
        let mut e = cbor::Writer(Vec::new());
        e.map(2);
        e.text("__type");
        e.text("ResourceNotFoundException");
        e.text("message");
        e.text("gone");
        assert_eq!(
            parse_error(&e.0, None),
            (Some("ResourceNotFoundException".into()), "gone".into())
        );
    }

    #[test]
    fn encodes_put_record_batch_without_keys() {
        let records = [
            record(b"a\n", "", None),
            record(&[0, 0xff], "", None),
            record(b"xyz", "", None),
            record(&[7], "", None),
        ];
        let body = encode_put_record_batch("d-1.x_y", &records);
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"DeliveryStreamName": "d-1.x_y", "Records": [
                {"Data": "YQo="}, {"Data": "AP8="}, {"Data": "eHl6"}, {"Data": "Bw=="}
            ]})
        );
    }

    #[test]
    fn decodes_put_record_batch_answers() {
        let body = br#"{"FailedPutCount":2,"Encrypted":false,"RequestResponses":[
            {"RecordId":"r1"},
            {"ErrorCode":"ServiceUnavailableException","ErrorMessage":"slow down"},
            {"RecordId":null,"ErrorCode":"InternalFailure","ErrorMessage":null}]}"#;
        assert_eq!(
            decode_put_record_batch(body).unwrap(),
            vec![
                EntryResult::Accepted,
                EntryResult::Rejected {
                    code: "ServiceUnavailableException".into(),
                    message: "slow down".into()
                },
                EntryResult::Rejected {
                    code: "InternalFailure".into(),
                    message: String::new()
                }
            ]
        );
        for body in [&br#"{"FailedPutCount":0}"#[..], br#"{"RequestResponses":[{}]}"#, b"[]"] {
            let error = decode_put_record_batch(body).unwrap_err();
            assert!(!error.is_empty(), "{:?}", String::from_utf8_lossy(body));
        }
        assert!(decode_put_record_batch(b"{").unwrap_err().contains("PutRecordBatch"));
    }

    #[test]
    fn each_service_has_its_api() {
        let firehose = api(Service::Firehose, WireFormat::Json);
        assert_eq!(
            (firehose.signing_name, firehose.endpoint_prefix, firehose.target),
            ("firehose", "firehose", "Firehose_20150804.PutRecordBatch")
        );
        assert_eq!(firehose.content_type, "application/x-amz-json-1.1");
        assert_eq!(
            api(Service::KinesisDataStreams, WireFormat::Json).target,
            "Kinesis_20131202.PutRecords"
        );
        assert_eq!(
            api(Service::KinesisDataStreams, WireFormat::Cbor).content_type,
            "application/x-amz-cbor-1.1"
        );
    }

    #[test]
    fn refuses_unusable_bodies() {
        for body in [
            &b""[..],
            b"{",
            b"[]",
            b"{}",
            br#"{"Records":[{}]}"#,
            br#"{"Records":5}"#,
            // An id that is not a string is not the service's answer.
            br#"{"Records":[{"SequenceNumber":42}]}"#,
            br#"{"Records":[{"SequenceNumber":[52,50]}]}"#,
            br#"{"Records":[{"SequenceNumber":{}}]}"#,
        ] {
            assert!(decode_put_records(body).is_err(), "{:?}", String::from_utf8_lossy(body));
        }
    }

    #[test]
    fn service_messages_lose_the_keys_they_echo() {
        let stored = |key: &str, hash: Option<&str>| StoredRecord {
            id: 1,
            partition_key: key.into(),
            key_generated: false,
            explicit_hash_key: hash.map(Into::into),
            data: vec![1],
            size: 0,
            attempts: 0,
        };
        let records = [stored("user-4711@example.com", Some("12345678")), stored("ab", None)];
        let message = "1 validation error detected: Value 'user-4711@example.com' at \
            'records.1.member.partitionKey' failed to satisfy constraint; hash key 12345678; \
            value \"something else\" too, and key ab";
        let redacted = redact_keys(message, &records);
        assert_eq!(
            redacted,
            "1 validation error detected: Value '<redacted>' at 'records.1.member.partitionKey' failed to \
             satisfy constraint; hash key <redacted>; value \"<redacted>\" too, and key ab"
        );
        assert_eq!(redact_keys("Value 'unterminated", &records), "Value 'unterminated");
        assert_eq!(redact_keys("no keys here", &records), "no keys here");
    }

    #[test]
    fn parses_error_bodies() {
        assert_eq!(
            parse_error(
                br#"{"__type":"com.amazonaws#ResourceNotFoundException","message":"no"}"#,
                None
            ),
            (Some("ResourceNotFoundException".into()), "no".into())
        );
        assert_eq!(
            parse_error(br#"{"__type":"AccessDeniedException","Message":"denied"}"#, None),
            (Some("AccessDeniedException".into()), "denied".into())
        );
        assert_eq!(
            parse_error(b"<html>bad gateway</html>", Some("ThrottlingException:http://internal")),
            (Some("ThrottlingException".into()), "<html>bad gateway</html>".into())
        );
        assert_eq!(parse_error(b"", None), (None, String::new()));
        let xml = b"<?xml version=\"1.0\"?><ErrorResponse><Errors><Error><Code>SignatureDoesNotMatch</Code>\
            <Message>The request signature we calculated does not match</Message></Error></Errors></ErrorResponse>";
        assert_eq!(
            parse_error(xml, None),
            (
                Some("SignatureDoesNotMatch".into()),
                "The request signature we calculated does not match".into()
            )
        );
    }
}
