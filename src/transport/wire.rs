//! Request and response bodies on the wire. Each service API is one [`Api`]
//! value: its signing name, target, content type, encoder and decoder, so a
//! second sink (Firehose PutRecordBatch) is one more value, not a copy of the
//! recorder.

use serde::{Deserialize, Serialize};

use super::cbor;
use crate::config::WireFormat;
use crate::submission::EntryResult;

/// One batch-put API of one service.
pub(crate) struct Api {
    /// SigV4 signing name and the first label of the regional host.
    pub signing_name: &'static str,
    pub endpoint_prefix: &'static str,
    pub target: &'static str,
    pub content_type: &'static str,
    /// Whether the service's consumers read KPL aggregated records.
    pub reads_aggregates: bool,
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
    reads_aggregates: true,
    encode: encode_put_records,
    decode: decode_put_records,
};

/// Kinesis Data Streams PutRecords, CBOR 1.1: data as raw bytes.
pub(crate) static KINESIS_PUT_RECORDS_CBOR: Api = Api {
    signing_name: "kinesis",
    endpoint_prefix: "kinesis",
    target: "Kinesis_20131202.PutRecords",
    content_type: "application/x-amz-cbor-1.1",
    reads_aggregates: true,
    encode: encode_put_records_cbor,
    decode: decode_put_records_cbor,
};

/// The PutRecords API in the configured encoding.
pub(crate) fn put_records(format: WireFormat) -> &'static Api {
    match format {
        WireFormat::Json => &KINESIS_PUT_RECORDS,
        WireFormat::Cbor => &KINESIS_PUT_RECORDS_CBOR,
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct PutRecordsInput<'a> {
    stream_name: &'a str,
    records: Vec<PutRecordsEntry<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct PutRecordsEntry<'a> {
    data: Base64<'a>,
    partition_key: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    explicit_hash_key: Option<&'a str>,
}

/// Bytes serialized as a base64 string, written straight into the body.
struct Base64<'a>(&'a [u8]);

impl Serialize for Base64<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&base64::display::Base64Display::new(
            self.0,
            &base64::engine::general_purpose::STANDARD,
        ))
    }
}

fn encode_put_records(stream: &str, records: &[WireRecord<'_>]) -> Vec<u8> {
    let input = PutRecordsInput {
        stream_name: stream,
        records: records
            .iter()
            .map(|r| PutRecordsEntry {
                data: Base64(r.data),
                partition_key: r.partition_key,
                explicit_hash_key: r.explicit_hash_key,
            })
            .collect(),
    };
    // Sized once: base64 is 4/3 of the data, plus keys and field names.
    let estimate: usize = records
        .iter()
        .map(|r| r.data.len() * 4 / 3 + r.partition_key.len() + 48)
        .sum();
    let mut body = Vec::with_capacity(estimate + stream.len() + 32);
    serde_json::to_writer(&mut body, &input).expect("serializing plain strings cannot fail");
    body
}

/// Output fields are all optional: some servers send explicit `null`s.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PutRecordsOutput<'a> {
    #[serde(borrow)]
    records: Option<Vec<PutRecordsResultEntry<'a>>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PutRecordsResultEntry<'a> {
    /// Only its presence matters; borrowed from the body, so reading 500 of
    /// them allocates nothing.
    #[serde(borrow)]
    sequence_number: Option<std::borrow::Cow<'a, str>>,
    error_code: Option<String>,
    error_message: Option<String>,
}

fn decode_put_records(body: &[u8]) -> Result<Vec<EntryResult>, String> {
    let output: PutRecordsOutput<'_> =
        serde_json::from_slice(body).map_err(|e| format!("PutRecords response is not valid JSON: {e}"))?;
    let entries = output.records.ok_or("PutRecords response has no Records")?;
    entries
        .into_iter()
        .map(|entry| entry_result(entry.error_code, entry.error_message, entry.sequence_number.is_some()))
        .collect()
}

/// One result entry: an error code means rejected, a sequence number accepted.
fn entry_result(
    error_code: Option<String>,
    error_message: Option<String>,
    has_sequence_number: bool,
) -> Result<EntryResult, String> {
    match (error_code, has_sequence_number) {
        (Some(code), _) => Ok(EntryResult::Rejected {
            code,
            message: error_message.unwrap_or_default(),
        }),
        (None, true) => Ok(EntryResult::Accepted),
        (None, false) => Err("a PutRecords result has neither SequenceNumber nor ErrorCode".to_owned()),
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
        let body = encode_put_records("s", &[record(b"hi", "k", None), record(&[0xff], "k2", Some("42"))]);
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"StreamName": "s", "Records": [
                {"Data": "aGk=", "PartitionKey": "k"},
                {"Data": "/w==", "PartitionKey": "k2", "ExplicitHashKey": "42"}
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
    fn refuses_unusable_bodies() {
        for body in [
            &b""[..],
            b"{",
            b"[]",
            b"{}",
            br#"{"Records":[{}]}"#,
            br#"{"Records":5}"#,
        ] {
            assert!(decode_put_records(body).is_err(), "{:?}", String::from_utf8_lossy(body));
        }
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
