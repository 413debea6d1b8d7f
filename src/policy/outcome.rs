//! What an answer from the service means: for each record of a batch
//! (delivered, retry, give up) and for the stream (carry on, back off,
//! refresh credentials, stop and tell the app).

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
    /// The stream or the account is wrong (not found, access denied, KMS...):
    /// keep the records, back this stream off for long, tell the app.
    StreamRejected { code: String, message: String },
    /// The app's credentials provider failed: keep the records, back off.
    CredentialsUnavailable { message: String },
}

const THROTTLED_ENTRY: &str = "ProvisionedThroughputExceededException";

/// Reads the per-record results of a successful call. Results come back in
/// request order, one per Kinesis record; any other count means the answer
/// cannot be matched to the records, so nothing is deleted. An aggregate is
/// accepted or rejected whole: each record it carries gets its answer.
pub(crate) fn judge_response(batch: &[Entry], results: &[EntryResult], max_attempts: u32) -> Verdict {
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
                EntryResult::Rejected { code, .. } => {
                    if code == THROTTLED_ENTRY {
                        settlement.throttled += 1;
                    }
                    // Any per-record rejection costs an attempt, so a record the
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

/// Decides what a failed call means. The error type decides, not the HTTP
/// status; the status only serves when the body has no type.
pub(crate) fn judge_failure(failure: &CallFailure) -> Verdict {
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
            if EXPIRED_CREDENTIALS.contains(&code) {
                Verdict::RefreshCredentials {
                    reason: format!("{code}: {message}"),
                }
            } else if THROTTLED.contains(&code)
                || TRANSIENT.contains(&code)
                || (code.is_empty() && (*status >= 500 || *status == 429))
            {
                Verdict::RetryLater {
                    throttled: THROTTLED.contains(&code) || *status == 429,
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
                let message = match fix_hint(&code) {
                    Some(hint) => format!("{message} ({hint})"),
                    None => message.clone(),
                };
                Verdict::StreamRejected { code, message }
            }
        }
    }
}

/// What the app (or its operator) can do about a non-retryable error.
fn fix_hint(code: &str) -> Option<&'static str> {
    Some(match code {
        "ResourceNotFoundException" => {
            "the stream does not exist in this account and region: create it, or fix the stream name or the region"
        }
        "AccessDeniedException" => {
            "the credentials need the kinesis:PutRecords (or firehose:PutRecordBatch) permission on this stream"
        }
        "KMSAccessDeniedException" => "the credentials need kms:GenerateDataKey on the stream's KMS key",
        "KMSDisabledException" => "the stream's KMS key is disabled: enable it",
        "KMSNotFoundException" => "the stream's KMS key does not exist: re-create it or change the stream's encryption",
        "KMSInvalidStateException" => "the stream's KMS key is not in a usable state (pending deletion or import)",
        "KMSOptInRequired" => "the account must subscribe to AWS KMS",
        "UnrecognizedClientException" | "InvalidClientTokenId" => {
            "the access key id (or session token) is unknown to this region"
        }
        "InvalidSignatureException" | "IncompleteSignatureException" | "SignatureDoesNotMatch" => {
            "the secret key is wrong or the device clock is far off"
        }
        "MissingAuthenticationTokenException" => "the request was not signed: check the credentials provider",
        "InvalidArgumentException" | "ValidationException" => {
            "the request does not fit this stream: check the record and request size limits in the config"
        }
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
            rejected(THROTTLED_ENTRY),
            rejected("InternalFailure"),
        ];
        let Verdict::Settled(s) = judge_response(&batch, &results, 10) else {
            panic!()
        };
        assert_eq!(s.delivered, vec![(1, 2)]);
        assert_eq!(s.retry, vec![2, 3]);
        assert!(s.exhausted.is_empty());
        assert_eq!(s.throttled, 1);
    }

    #[test]
    fn an_aggregate_is_settled_whole_and_each_record_counts_its_attempt() {
        let batch = [
            Entry::Aggregate(vec![stored(1, 0), stored(2, 0)]),
            Entry::Aggregate(vec![stored(3, 0), stored(4, 9), stored(5, 3)]),
            record(6, 0),
        ];
        let results = [EntryResult::Accepted, rejected(THROTTLED_ENTRY), EntryResult::Accepted];
        let Verdict::Settled(s) = judge_response(&batch, &results, 10) else {
            panic!()
        };
        assert_eq!(s.delivered, vec![(1, 2), (2, 2), (6, 2)]);
        assert_eq!(s.retry, vec![3, 5]);
        assert_eq!(
            s.exhausted,
            vec![(4, 2)],
            "the record at its last attempt leaves, alone"
        );
        assert_eq!(s.throttled, 3, "user records, not Kinesis records");
        assert_eq!(s.kinesis_records, 2);
    }

    #[test]
    fn last_attempt_exhausts_the_record() {
        let batch = [record(1, 9), record(2, 8)];
        let results = [rejected("InternalFailure"), rejected("InternalFailure")];
        let Verdict::Settled(s) = judge_response(&batch, &results, 10) else {
            panic!()
        };
        assert_eq!(s.exhausted, vec![(1, 2)]);
        assert_eq!(s.retry, vec![2]);
    }

    #[test]
    fn wrong_result_count_keeps_everything() {
        let batch = [record(1, 0), record(2, 0)];
        assert!(matches!(
            judge_response(&batch, &[EntryResult::Accepted], 10),
            Verdict::RetryLater { .. }
        ));
        assert!(matches!(
            judge_response(&batch, &vec![EntryResult::Accepted; 3], 10),
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
                matches!(judge_failure(&failure), Verdict::RetryLater { .. }),
                "{failure:?}"
            );
        }
        assert!(matches!(
            judge_failure(&service(400, "ThrottlingException")),
            Verdict::RetryLater { throttled: true, .. }
        ));
    }

    #[test]
    fn the_error_type_wins_over_the_status() {
        // Some servers answer 500 for a missing stream.
        assert!(matches!(
            judge_failure(&service(500, "ResourceNotFoundException")),
            Verdict::StreamRejected { .. }
        ));
        assert!(matches!(
            judge_failure(&service(400, "InternalFailure")),
            Verdict::RetryLater { .. }
        ));
    }

    #[test]
    fn expired_credentials_ask_for_a_refresh() {
        for code in EXPIRED_CREDENTIALS {
            assert!(matches!(
                judge_failure(&service(400, code)),
                Verdict::RefreshCredentials { .. }
            ));
        }
    }

    #[test]
    fn fixable_errors_say_how_to_fix_them() {
        let Verdict::StreamRejected { code, message } = judge_failure(&service(400, "KMSAccessDeniedException")) else {
            panic!()
        };
        assert_eq!(code, "KMSAccessDeniedException");
        assert!(message.contains("kms:GenerateDataKey"), "{message}");
        let Verdict::StreamRejected { code, .. } = judge_failure(&service(403, "")) else {
            panic!()
        };
        assert_eq!(code, "HTTP403");
    }
}
