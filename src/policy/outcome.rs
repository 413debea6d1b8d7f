//! What an answer from the service means: for each record of a batch
//! (delivered, retry, give up) and for the stream (carry on, back off,
//! refresh credentials, stop and tell the app). What differs between the
//! services is data, one [`AnswerRules`] each; the judgement is the same.

use crate::service::Service;
use crate::submission::{CallFailure, EntryResult, Settlement, StoredRecord};

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

/// How one service's answers read: the per-record code that means it is
/// throttling, the whole-call codes that mean throttling beyond the common
/// ones, and how to fix each error that holds a stream back.
pub(crate) struct AnswerRules {
    throttled_entry: &'static str,
    throttled_calls: &'static [&'static str],
    fixes: &'static [(&'static str, &'static str)],
}

impl AnswerRules {
    pub fn of(service: Service) -> &'static AnswerRules {
        match service {
            Service::KinesisDataStreams => &KINESIS,
            Service::Firehose => &FIREHOSE,
        }
    }

    /// What the app (or its operator) can do about a non-retryable error.
    fn fix(&self, code: &str) -> Option<&'static str> {
        self.fixes
            .iter()
            .chain(COMMON_FIXES)
            .find(|(c, _)| *c == code)
            .map(|(_, fix)| *fix)
    }
}

/// Kinesis Data Streams: per record, `ProvisionedThroughputExceededException`
/// (a hot shard) or `InternalFailure`.
static KINESIS: AnswerRules = AnswerRules {
    throttled_entry: "ProvisionedThroughputExceededException",
    throttled_calls: &[],
    fixes: &[
        (
            "ResourceNotFoundException",
            "the stream does not exist in this account and region: create it, or fix the stream name or the region",
        ),
        (
            "AccessDeniedException",
            "the credentials need the kinesis:PutRecords permission on this stream",
        ),
        (
            "KMSAccessDeniedException",
            "the credentials need kms:GenerateDataKey on the stream's KMS key",
        ),
        ("KMSDisabledException", "the stream's KMS key is disabled: enable it"),
        (
            "KMSNotFoundException",
            "the stream's KMS key does not exist: re-create it or change the stream's encryption",
        ),
        (
            "KMSInvalidStateException",
            "the stream's KMS key is not in a usable state (pending deletion or import)",
        ),
        ("KMSOptInRequired", "the account must subscribe to AWS KMS"),
        (
            "InvalidArgumentException",
            "the request does not fit this stream: check the record and request size limits in the config",
        ),
        (
            "ValidationException",
            "the request does not fit this stream: check the record and request size limits in the config",
        ),
    ],
};

/// Firehose: per record, `ServiceUnavailableException` is its throttling and
/// `InternalFailure` a failure, both retried; a whole call answered
/// `ServiceUnavailableException` was throttled.
static FIREHOSE: AnswerRules = AnswerRules {
    throttled_entry: "ServiceUnavailableException",
    throttled_calls: &["ServiceUnavailableException"],
    fixes: &[
        (
            "ResourceNotFoundException",
            "the delivery stream does not exist in this account and region: create it, or fix the delivery \
             stream name or the region",
        ),
        (
            "InvalidArgumentException",
            "the delivery stream refuses the request: it must be an active Direct PUT delivery stream (not one \
             reading from a Kinesis stream or MSK), and records must fit its limits (1,000 KiB each, 500 and \
             4 MiB per call)",
        ),
        (
            "InvalidKMSResourceException",
            "the delivery stream's KMS key cannot be used (disabled, deleted, or its key policy does not let \
             Firehose use it): fix the key, or the delivery stream's encryption",
        ),
        (
            "InvalidSourceException",
            "the delivery stream takes records only from its configured source (for example CloudWatch Logs \
             when decompression is on): send to a Direct PUT delivery stream",
        ),
        (
            "AccessDeniedException",
            "the credentials need the firehose:PutRecordBatch permission on this delivery stream",
        ),
    ],
};

/// Fixes of errors every service answers alike: identity and signature.
const COMMON_FIXES: &[(&str, &str)] = &[
    (
        "UnrecognizedClientException",
        "the access key id (or session token) is unknown to this region",
    ),
    (
        "InvalidClientTokenId",
        "the access key id (or session token) is unknown to this region",
    ),
    (
        "InvalidSignatureException",
        "the secret key is wrong or the device clock is far off",
    ),
    (
        "IncompleteSignatureException",
        "the secret key is wrong or the device clock is far off",
    ),
    (
        "SignatureDoesNotMatch",
        "the secret key is wrong or the device clock is far off",
    ),
    (
        "MissingAuthenticationTokenException",
        "the request was not signed: check the credentials provider",
    ),
];

/// Reads the per-record results of a successful call. Results come back in
/// request order, one per record; any other count means the answer cannot be
/// matched to the records, so nothing is deleted.
pub(crate) fn judge_response(
    rules: &AnswerRules,
    batch: &[StoredRecord],
    results: &[EntryResult],
    max_attempts: u32,
) -> Verdict {
    if results.len() != batch.len() {
        return Verdict::RetryLater {
            throttled: false,
            reason: format!(
                "the service answered {} results for {} records; keeping all of them",
                results.len(),
                batch.len()
            ),
        };
    }
    let mut settlement = Settlement::default();
    for (record, result) in batch.iter().zip(results) {
        match result {
            EntryResult::Accepted => settlement.delivered.push((record.id, record.size)),
            EntryResult::Rejected { code, .. } => {
                if code == rules.throttled_entry {
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
pub(crate) fn judge_failure(rules: &AnswerRules, failure: &CallFailure) -> Verdict {
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
            let throttled = THROTTLED.contains(&code) || rules.throttled_calls.contains(&code);
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
                let message = match rules.fix(&code) {
                    Some(hint) => format!("{message} ({hint})"),
                    None => message.clone(),
                };
                Verdict::StreamRejected { code, message }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: i64, attempts: u32) -> StoredRecord {
        StoredRecord {
            id,
            partition_key: "k".into(),
            explicit_hash_key: None,
            data: vec![1],
            size: 2,
            attempts,
        }
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
            rejected(KINESIS.throttled_entry),
            rejected("InternalFailure"),
        ];
        let Verdict::Settled(s) = judge_response(&KINESIS, &batch, &results, 10) else {
            panic!()
        };
        assert_eq!(s.delivered, vec![(1, 2)]);
        assert_eq!(s.retry, vec![2, 3]);
        assert!(s.exhausted.is_empty());
        assert_eq!(s.throttled, 1);
    }

    #[test]
    fn last_attempt_exhausts_the_record() {
        let batch = [record(1, 9), record(2, 8)];
        let results = [rejected("InternalFailure"), rejected("InternalFailure")];
        let Verdict::Settled(s) = judge_response(&KINESIS, &batch, &results, 10) else {
            panic!()
        };
        assert_eq!(s.exhausted, vec![(1, 2)]);
        assert_eq!(s.retry, vec![2]);
    }

    #[test]
    fn wrong_result_count_keeps_everything() {
        let batch = [record(1, 0), record(2, 0)];
        assert!(matches!(
            judge_response(&KINESIS, &batch, &[EntryResult::Accepted], 10),
            Verdict::RetryLater { .. }
        ));
        assert!(matches!(
            judge_response(&KINESIS, &batch, &vec![EntryResult::Accepted; 3], 10),
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
                matches!(judge_failure(&KINESIS, &failure), Verdict::RetryLater { .. }),
                "{failure:?}"
            );
        }
        assert!(matches!(
            judge_failure(&KINESIS, &service(400, "ThrottlingException")),
            Verdict::RetryLater { throttled: true, .. }
        ));
    }

    #[test]
    fn the_error_type_wins_over_the_status() {
        // Some servers answer 500 for a missing stream.
        assert!(matches!(
            judge_failure(&KINESIS, &service(500, "ResourceNotFoundException")),
            Verdict::StreamRejected { .. }
        ));
        assert!(matches!(
            judge_failure(&KINESIS, &service(400, "InternalFailure")),
            Verdict::RetryLater { .. }
        ));
    }

    #[test]
    fn expired_credentials_ask_for_a_refresh() {
        for code in EXPIRED_CREDENTIALS {
            assert!(matches!(
                judge_failure(&KINESIS, &service(400, code)),
                Verdict::RefreshCredentials { .. }
            ));
        }
    }

    #[test]
    fn fixable_errors_say_how_to_fix_them() {
        let Verdict::StreamRejected { code, message } =
            judge_failure(&KINESIS, &service(400, "KMSAccessDeniedException"))
        else {
            panic!()
        };
        assert_eq!(code, "KMSAccessDeniedException");
        assert!(message.contains("kms:GenerateDataKey"), "{message}");
        let Verdict::StreamRejected { code, .. } = judge_failure(&KINESIS, &service(403, "")) else {
            panic!()
        };
        assert_eq!(code, "HTTP403");
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
        let Verdict::Settled(s) = judge_response(&FIREHOSE, &batch, &results, 10) else {
            panic!()
        };
        assert_eq!(s.delivered, vec![(2, 2)]);
        assert_eq!(s.retry, vec![1, 4]);
        assert_eq!(s.exhausted, vec![(3, 2)]);
        assert_eq!(
            s.throttled, 2,
            "ServiceUnavailableException is Firehose's per-record throttling"
        );
        // The same code is not throttling on Kinesis.
        let Verdict::Settled(s) = judge_response(&KINESIS, &batch, &results, 10) else {
            panic!()
        };
        assert_eq!(s.throttled, 0);
    }

    #[test]
    fn firehose_whole_call_service_unavailable_is_throttling() {
        assert!(matches!(
            judge_failure(&FIREHOSE, &service(400, "ServiceUnavailableException")),
            Verdict::RetryLater { throttled: true, .. }
        ));
        assert!(matches!(
            judge_failure(&KINESIS, &service(503, "ServiceUnavailableException")),
            Verdict::RetryLater { throttled: false, .. }
        ));
        for failure in [
            service(500, ""),
            service(500, "InternalFailure"),
            CallFailure::Network("reset".into()),
        ] {
            assert!(matches!(
                judge_failure(&FIREHOSE, &failure),
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
            ("SignatureDoesNotMatch", "secret key"),
        ] {
            let Verdict::StreamRejected { code: got, message } = judge_failure(&FIREHOSE, &service(400, code)) else {
                panic!("{code} does not hold the delivery stream back")
            };
            assert_eq!(got, code);
            assert!(message.starts_with("m (") && message.contains(fix), "{code}: {message}");
        }
        let Verdict::StreamRejected { message, .. } = judge_failure(&KINESIS, &service(400, "AccessDeniedException"))
        else {
            panic!()
        };
        assert!(
            message.contains("kinesis:PutRecords") && !message.contains("firehose"),
            "{message}"
        );
    }
}
