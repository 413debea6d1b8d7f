//! Request and response bodies on the wire. Each service API is one [`Api`]
//! value: its signing name, target, content type, encoder and decoder, so a
//! second sink (Firehose PutRecordBatch) is one more value, not a copy of the
//! recorder.

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::EntryResult;
use crate::store::StoredRecord;

/// One batch-put API of one service.
pub(crate) struct Api {
    /// SigV4 signing name and the first label of the regional host.
    pub signing_name: &'static str,
    pub endpoint_prefix: &'static str,
    pub target: &'static str,
    pub content_type: &'static str,
    pub encode: fn(&str, &[StoredRecord]) -> Vec<u8>,
    pub decode: fn(&[u8]) -> Result<Vec<EntryResult>, String>,
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

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct PutRecordsInput<'a> {
    stream_name: &'a str,
    records: Vec<PutRecordsEntry<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct PutRecordsEntry<'a> {
    data: String,
    partition_key: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    explicit_hash_key: Option<&'a str>,
}

fn encode_put_records(stream: &str, records: &[StoredRecord]) -> Vec<u8> {
    let input = PutRecordsInput {
        stream_name: stream,
        records: records
            .iter()
            .map(|r| PutRecordsEntry {
                data: base64::engine::general_purpose::STANDARD.encode(&r.data),
                partition_key: &r.partition_key,
                explicit_hash_key: r.explicit_hash_key.as_deref(),
            })
            .collect(),
    };
    serde_json::to_vec(&input).expect("serializing plain strings cannot fail")
}

/// Output fields are all optional: some servers send explicit `null`s.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PutRecordsOutput {
    records: Option<Vec<PutRecordsResultEntry>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PutRecordsResultEntry {
    sequence_number: Option<String>,
    error_code: Option<String>,
    error_message: Option<String>,
}

fn decode_put_records(body: &[u8]) -> Result<Vec<EntryResult>, String> {
    let output: PutRecordsOutput =
        serde_json::from_slice(body).map_err(|e| format!("PutRecords response is not valid JSON: {e}"))?;
    let entries = output.records.ok_or("PutRecords response has no Records")?;
    entries
        .into_iter()
        .map(|entry| match (entry.error_code, entry.sequence_number) {
            (Some(code), _) => Ok(EntryResult::Rejected {
                code,
                message: entry.error_message.unwrap_or_default(),
            }),
            (None, Some(_)) => Ok(EntryResult::Accepted),
            (None, None) => Err("a PutRecords result has neither SequenceNumber nor ErrorCode".to_owned()),
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
    let parsed: Option<ErrorBody> = serde_json::from_slice(body).ok();
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

    fn record(data: &[u8], key: &str, hash: Option<&str>) -> StoredRecord {
        StoredRecord {
            id: 1,
            partition_key: key.into(),
            explicit_hash_key: hash.map(Into::into),
            data: data.to_vec(),
            size: 0,
            attempts: 0,
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
    fn refuses_unusable_bodies() {
        for body in [&b""[..], b"{", b"[]", b"{}", br#"{"Records":[{}]}"#, br#"{"Records":5}"#] {
            assert!(decode_put_records(body).is_err(), "{:?}", String::from_utf8_lossy(body));
        }
    }

    #[test]
    fn parses_error_bodies() {
        assert_eq!(
            parse_error(br#"{"__type":"com.amazonaws#ResourceNotFoundException","message":"no"}"#, None),
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
            (Some("SignatureDoesNotMatch".into()), "The request signature we calculated does not match".into())
        );
    }
}
