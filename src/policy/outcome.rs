//! What an answer from the service means: for each record of a batch
//! (delivered, retry, give up) and for the stream (carry on, back off,
//! refresh credentials, stop and tell the app). The services differ only in
//! a few codes and in how to fix what they refuse; the judgement is the same.

use crate::service::Service;
use crate::submission::{CallFailure, Entry, EntryResult, Settlement};

/// The decision taken on one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// The call went through; every record is settled.
    Settled(Settlement),
    /// Nothing was decided about the records (network, timeout, 5xx,
    /// throttled call, unusable answer): keep them all, attempts untouched,
    /// and back the stream off.
    RetryLater { throttled: bool, reason: String },
    /// The credentials expired: refresh them and send again.
    RefreshCredentials { reason: String },
    /// The stream is wrong (not found, access denied, KMS...): keep the
    /// records, back this stream off for long, tell the app.
    StreamRejected { code: String, message: String },
    /// The credentials or the account are wrong, whatever the stream (a
    /// refused signature, an unknown access key, no token): keep the
    /// records, hold every stream back for long, tell the app.
    AccountRejected { code: String, message: String },
    /// The app's credentials provider failed: keep the records, back off
    /// (every stream: they share the provider).
    CredentialsUnavailable { message: String },
}

/// The per-record error code by which `service` says it is throttling
/// (resent after the backoff without spending an attempt).
fn throttled_entry(service: Service) -> &'static str {
    match service {
        Service::KinesisDataStreams => "ProvisionedThroughputExceededException",
        Service::Firehose => "ServiceUnavailableException",
    }
}

/// Reads the per-record results of a successful call. Results come back in
/// request order, one per Kinesis record; any other count means the answer
/// cannot be matched to the records, so nothing is deleted. An aggregate is
/// accepted or rejected whole: each record it carries gets its answer.
pub(crate) fn judge_response(service: Service, batch: &[Entry], results: &[EntryResult], max_attempts: u32) -> Verdict {
    if results.len() != batch.len() {
        return Verdict::RetryLater {
            throttled: false,
            reason: format!(
                "the service answered {} results for {} Kinesis records; keeping all of them",
                results.len(),
                batch.len()
            ),
        };
    }
    let mut settlement = Settlement::default();
    for (entry, result) in batch.iter().zip(results) {
        if *result == EntryResult::Accepted {
            settlement.kinesis_records += 1;
        }
        for record in entry.records() {
            match result {
                EntryResult::Accepted => settlement.delivered.push((record.id, record.size)),
                // Throttling is the shard's (or the delivery stream's) state, not
                // the record's fault: it costs no attempt, however long it lasts.
                EntryResult::Rejected { code, .. } if code == throttled_entry(service) => {
                    settlement.throttled.push(record.id)
                }
                EntryResult::Rejected { .. } => {
                    // Any other rejection costs an attempt, so a record the
                    // service keeps refusing leaves after `max_attempts`.
                    if record.attempts + 1 >= max_attempts {
                        settlement.exhausted.push((record.id, record.size));
                    } else {
                        settlement.retry.push(record.id);
                    }
                }
            }
        }
    }
    Verdict::Settled(settlement)
}

/// Whole-call throttling: retry with backoff, without touching the records.
const THROTTLED: &[&str] = &[
    "ProvisionedThroughputExceededException",
    "LimitExceededException",
    "ThrottlingException",
    "Throttling",
    "TooManyRequestsException",
    "KMSThrottlingException",
];

/// Other whole-call errors to retry with backoff, without touching the records.
const TRANSIENT: &[&str] = &[
    "InternalFailure",
    "InternalFailureException",
    "InternalServerError",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "RequestTimeout",
    "RequestTimeoutException",
];

const EXPIRED_CREDENTIALS: &[&str] = &["ExpiredTokenException", "ExpiredToken", "RequestExpired"];

/// Refusals of the credentials or the account rather than of one stream.
/// (A clock-skewed signature is corrected by the transport before it gets
/// here; one that still arrives is the secret's fault.)
const ACCOUNT_REJECTED: &[&str] = &[
    "InvalidSignatureException",
    "IncompleteSignatureException",
    "SignatureDoesNotMatch",
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "MissingAuthenticationTokenException",
    "MissingAuthenticationToken",
    "RequestTimeTooSkewed",
];

/// Decides what a failed call means. The error type decides, not the HTTP
/// status; the status only serves when the body has no type.
pub(crate) fn judge_failure(service: Service, failure: &CallFailure) -> Verdict {
    match failure {
        CallFailure::Network(reason) => Verdict::RetryLater {
            throttled: false,
            reason: reason.clone(),
        },
        CallFailure::Malformed(reason) => Verdict::RetryLater {
            throttled: false,
            reason: format!("unusable answer: {reason}"),
        },
        CallFailure::Credentials(message) => Verdict::CredentialsUnavailable {
            message: message.clone(),
        },
        CallFailure::Service { status, code, message } => {
            let code = code.as_deref().unwrap_or("");
            // Firehose answers a throttled call with the code of its throttled records.
            let throttled = THROTTLED.contains(&code)
                || (service == Service::Firehose && code == throttled_entry(Service::Firehose));
            if EXPIRED_CREDENTIALS.contains(&code) {
                Verdict::RefreshCredentials {
                    reason: format!("{code}: {message}"),
                }
            } else if throttled || TRANSIENT.contains(&code) || (code.is_empty() && (*status >= 500 || *status == 429))
            {
                Verdict::RetryLater {
                    throttled: throttled || *status == 429,
                    reason: if code.is_empty() {
                        format!("HTTP {status}: {message}")
                    } else {
                        format!("{code}: {message}")
                    },
                }
            } else {
                let code = if code.is_empty() {
                    format!("HTTP{status}")
                } else {
                    code.to_owned()
                };
                let message = match fix(service, &code) {
                    Some(hint) => format!("{message} ({hint})"),
                    None => message.clone(),
                };
                if ACCOUNT_REJECTED.contains(&code.as_str()) {
                    Verdict::AccountRejected { code, message }
                } else {
                    Verdict::StreamRejected { code, message }
                }
            }
        }
    }
}

/// What the app (or its operator) can do about a non-retryable error.
fn fix(service: Service, code: &str) -> Option<&'static str> {
    use Service::{Firehose, KinesisDataStreams as Kinesis};
    Some(match (service, code) {
        (Kinesis, "ResourceNotFoundException") => {
            "the stream does not exist in this account and region: create it, or fix the stream name or the region"
        }
        (Kinesis, "AccessDeniedException") => "the credentials need the kinesis:PutRecords permission on this stream",
        (Kinesis, "KMSAccessDeniedException") => "the credentials need kms:GenerateDataKey on the stream's KMS key",
        (Kinesis, "KMSDisabledException") => "the stream's KMS key is disabled: enable it",
        (Kinesis, "KMSNotFoundException") => {
            "the stream's KMS key does not exist: re-create it or change the stream's encryption"
        }
        (Kinesis, "KMSInvalidStateException") => {
            "the stream's KMS key is not in a usable state (pending deletion or import)"
        }
        (Kinesis, "KMSOptInRequired") => "the account must subscribe to AWS KMS",
        (Kinesis, "InvalidArgumentException" | "ValidationException") => {
            "the request does not fit this stream: check the record and request size limits in the config"
        }
        (Firehose, "ResourceNotFoundException") => {
            "the delivery stream does not exist in this account and region: create it, or fix its name or the region"
        }
        (Firehose, "InvalidArgumentException") => {
            "the delivery stream must be an active Direct PUT stream (not one reading a Kinesis stream or MSK)"
        }
        (Firehose, "InvalidKMSResourceException") => {
            "Firehose cannot use the delivery stream's KMS key (disabled, deleted or not allowed): fix the key"
        }
        (Firehose, "InvalidSourceException") => {
            "the delivery stream takes records only from its configured source: use a Direct PUT stream"
        }
        (Firehose, "AccessDeniedException") => {
            "the credentials need the firehose:PutRecordBatch permission on this delivery stream"
        }
        (_, "UnrecognizedClientException" | "InvalidClientTokenId") => {
            "the access key id (or session token) is unknown to this region"
        }
        (_, "InvalidSignatureException" | "IncompleteSignatureException" | "SignatureDoesNotMatch") => {
            "the secret key is wrong, or the device clock is far off and the server's Date header did not correct it"
        }
        (_, "MissingAuthenticationTokenException") => "the request was not signed: check the credentials provider",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::submission::StoredRecord;

    fn stored(id: i64, attempts: u32) -> StoredRecord {
        StoredRecord {
            id,
            partition_key: "k".into(),
            key_generated: false,
            explicit_hash_key: None,
            data: vec![1],
            size: 2,
            attempts,
        }
    }

    fn record(id: i64, attempts: u32) -> Entry {
        Entry::Plain(stored(id, attempts))
    }

    fn rejected(code: &str) -> EntryResult {
        EntryResult::Rejected {
            code: code.into(),
            message: "m".into(),
        }
    }

    fn service(status: u16, code: &str) -> CallFailure {
        CallFailure::Service {
            status,
            code: (!code.is_empty()).then(|| code.to_owned()),
            message: "m".into(),
        }
    }

    #[test]
    fn partial_failure_retries_only_the_failed_entries() {
        let batch = [record(1, 0), record(2, 0), record(3, 0)];
        let results = [
            EntryResult::Accepted,
            rejected(throttled_entry(Service::KinesisDataStreams)),
            rejected("InternalFailure"),
        ];
        let Verdict::Settled(s) = judge_response(Service::KinesisDataStreams, &batch, &results, 10) else {
            panic!()
        };
        assert_eq!(s.delivered, vec![(1, 2)]);
        assert_eq!(s.throttled, vec![2]);
        assert_eq!(s.retry, vec![3]);
        assert!(s.exhausted.is_empty());
    }

    #[test]
    fn throttling_never_spends_an_attempt() {
        // A record on its last attempt: throttled, it stays; refused for
        // another reason, it is exhausted.
        let batch = [record(1, 9), record(2, 9)];
        let throttled = throttled_entry(Service::KinesisDataStreams);
        let results = [rejected(throttled), rejected("InternalFailure")];
        let Verdict::Settled(s) = judge_response(Service::KinesisDataStreams, &batch, &results, 10) else {
            panic!()
        };
        assert_eq!(s.throttled, vec![1]);
        assert!(s.retry.is_empty());
        assert_eq!(s.exhausted, vec![(2, 2)]);
        let throttled_long = [record(3, 1_000)];
        let Verdict::Settled(s) =
            judge_response(Service::KinesisDataStreams, &throttled_long, &[rejected(throttled)], 1)
        else {
            panic!()
        };
        assert_eq!((s.throttled, s.exhausted), (vec![3], vec![]));
    }

    #[test]
    fn an_aggregate_is_settled_whole_by_the_rule_of_its_answer() {
        let batch = [
            Entry::Aggregate(vec![stored(1, 0), stored(2, 0)]),
            Entry::Aggregate(vec![stored(3, 0), stored(4, 9), stored(5, 3)]),
            Entry::Aggregate(vec![stored(6, 0), stored(7, 9)]),
            record(8, 0),
        ];
        let throttled = rejected(throttled_entry(Service::KinesisDataStreams));
        let results = [
            EntryResult::Accepted,
            throttled,
            rejected("InternalFailure"),
            EntryResult::Accepted,
        ];
        let Verdict::Settled(s) = judge_response(Service::KinesisDataStreams, &batch, &results, 10) else {
            panic!()
        };
        assert_eq!(s.delivered, vec![(1, 2), (2, 2), (8, 2)]);
        assert_eq!(
            s.throttled,
            vec![3, 4, 5],
            "a throttled aggregate spends no attempt, even for a record at its last"
        );
        assert_eq!(s.retry, vec![6], "another refusal costs each user record one attempt");
        assert_eq!(
            s.exhausted,
            vec![(7, 2)],
            "the record at its last attempt leaves, alone"
        );
        assert_eq!(s.kinesis_records, 2);
    }

    #[test]
    fn last_attempt_exhausts_the_record() {
        let batch = [record(1, 9), record(2, 8)];
        let results = [rejected("InternalFailure"), rejected("InternalFailure")];
        let Verdict::Settled(s) = judge_response(Service::KinesisDataStreams, &batch, &results, 10) else {
            panic!()
        };
        assert_eq!(s.exhausted, vec![(1, 2)]);
        assert_eq!(s.retry, vec![2]);
    }

    #[test]
    fn wrong_result_count_keeps_everything() {
        let batch = [record(1, 0), record(2, 0)];
        assert!(matches!(
            judge_response(Service::KinesisDataStreams, &batch, &[EntryResult::Accepted], 10),
            Verdict::RetryLater { .. }
        ));
        assert!(matches!(
            judge_response(Service::KinesisDataStreams, &batch, &vec![EntryResult::Accepted; 3], 10),
            Verdict::RetryLater { .. }
        ));
    }

    #[test]
    fn transient_errors_never_settle_records() {
        for failure in [
            CallFailure::Network("reset".into()),
            CallFailure::Malformed("truncated".into()),
            service(500, ""),
            service(503, ""),
            service(400, "ProvisionedThroughputExceededException"),
            service(400, "LimitExceededException"),
            service(500, "InternalFailure"),
            service(503, "ServiceUnavailable"),
        ] {
            assert!(
                matches!(
                    judge_failure(Service::KinesisDataStreams, &failure),
                    Verdict::RetryLater { .. }
                ),
                "{failure:?}"
            );
        }
        assert!(matches!(
            judge_failure(Service::KinesisDataStreams, &service(400, "ThrottlingException")),
            Verdict::RetryLater { throttled: true, .. }
        ));
    }

    #[test]
    fn the_error_type_wins_over_the_status() {
        // Some servers answer 500 for a missing stream.
        assert!(matches!(
            judge_failure(Service::KinesisDataStreams, &service(500, "ResourceNotFoundException")),
            Verdict::StreamRejected { .. }
        ));
        assert!(matches!(
            judge_failure(Service::KinesisDataStreams, &service(400, "InternalFailure")),
            Verdict::RetryLater { .. }
        ));
    }

    #[test]
    fn expired_credentials_ask_for_a_refresh() {
        for code in EXPIRED_CREDENTIALS {
            assert!(matches!(
                judge_failure(Service::KinesisDataStreams, &service(400, code)),
                Verdict::RefreshCredentials { .. }
            ));
        }
    }

    #[test]
    fn fixable_errors_say_how_to_fix_them() {
        let Verdict::StreamRejected { code, message } =
            judge_failure(Service::KinesisDataStreams, &service(400, "KMSAccessDeniedException"))
        else {
            panic!()
        };
        assert_eq!(code, "KMSAccessDeniedException");
        assert!(message.contains("kms:GenerateDataKey"), "{message}");
        let Verdict::StreamRejected { code, .. } = judge_failure(Service::KinesisDataStreams, &service(403, "")) else {
            panic!()
        };
        assert_eq!(code, "HTTP403");
    }

    #[test]
    fn signature_and_key_errors_concern_the_account_not_the_stream() {
        for service_kind in [Service::KinesisDataStreams, Service::Firehose] {
            for code in ACCOUNT_REJECTED {
                assert!(
                    matches!(
                        judge_failure(service_kind, &service(400, code)),
                        Verdict::AccountRejected { .. }
                    ),
                    "{code}"
                );
            }
        }
        for code in [
            "ResourceNotFoundException",
            "AccessDeniedException",
            "KMSDisabledException",
        ] {
            assert!(
                matches!(
                    judge_failure(Service::KinesisDataStreams, &service(400, code)),
                    Verdict::StreamRejected { .. }
                ),
                "{code}"
            );
        }
        let Verdict::AccountRejected { message, .. } =
            judge_failure(Service::KinesisDataStreams, &service(400, "InvalidSignatureException"))
        else {
            panic!()
        };
        assert!(message.contains("secret key is wrong"), "{message}");
    }

    #[test]
    fn firehose_per_record_failures_retry_only_those_records() {
        let batch = [record(1, 0), record(2, 0), record(3, 9), record(4, 0)];
        let results = [
            rejected("ServiceUnavailableException"),
            EntryResult::Accepted,
            rejected("InternalFailure"),
            rejected("ServiceUnavailableException"),
        ];
        let Verdict::Settled(s) = judge_response(Service::Firehose, &batch, &results, 10) else {
            panic!()
        };
        assert_eq!(s.delivered, vec![(2, 2)]);
        assert_eq!(
            s.throttled,
            vec![1, 4],
            "ServiceUnavailableException is Firehose's per-record throttling"
        );
        assert!(s.retry.is_empty());
        assert_eq!(s.exhausted, vec![(3, 2)]);
        // The same code is not throttling on Kinesis.
        let Verdict::Settled(s) = judge_response(Service::KinesisDataStreams, &batch, &results, 10) else {
            panic!()
        };
        assert!(s.throttled.is_empty());
        assert_eq!(s.retry, vec![1, 4]);
    }

    #[test]
    fn firehose_whole_call_service_unavailable_is_throttling() {
        assert!(matches!(
            judge_failure(Service::Firehose, &service(400, "ServiceUnavailableException")),
            Verdict::RetryLater { throttled: true, .. }
        ));
        assert!(matches!(
            judge_failure(
                Service::KinesisDataStreams,
                &service(503, "ServiceUnavailableException")
            ),
            Verdict::RetryLater { throttled: false, .. }
        ));
        for failure in [
            service(500, ""),
            service(500, "InternalFailure"),
            CallFailure::Network("reset".into()),
        ] {
            assert!(matches!(
                judge_failure(Service::Firehose, &failure),
                Verdict::RetryLater { throttled: false, .. }
            ));
        }
    }

    #[test]
    fn firehose_hold_back_errors_say_how_to_fix_them() {
        for (code, fix) in [
            ("ResourceNotFoundException", "delivery stream does not exist"),
            ("InvalidArgumentException", "Direct PUT"),
            ("InvalidKMSResourceException", "KMS key"),
            ("InvalidSourceException", "configured source"),
            ("AccessDeniedException", "firehose:PutRecordBatch"),
        ] {
            let Verdict::StreamRejected { code: got, message } = judge_failure(Service::Firehose, &service(400, code))
            else {
                panic!("{code} does not hold the delivery stream back")
            };
            assert_eq!(got, code);
            assert!(message.starts_with("m (") && message.contains(fix), "{code}: {message}");
        }
        let Verdict::StreamRejected { message, .. } =
            judge_failure(Service::KinesisDataStreams, &service(400, "AccessDeniedException"))
        else {
            panic!()
        };
        assert!(
            message.contains("kinesis:PutRecords") && !message.contains("firehose"),
            "{message}"
        );
    }
}
