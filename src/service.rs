//! The services a recorder delivers to, and the facts about each that the
//! other modules read: names, hard limits, what a record may carry. What
//! differs on the wire is in `transport::wire`, how answers read in
//! `policy::outcome`; both pick theirs by [`Service`].

use std::fmt;

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;

/// The AWS service one recorder (and its store file) delivers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "ffi", derive(uniffi::Enum))]
pub enum Service {
    /// Amazon Kinesis Data Streams, `PutRecords`.
    #[default]
    KinesisDataStreams,
    /// Amazon Data Firehose, `PutRecordBatch`: data only, no partition key.
    Firehose,
}

/// Hard limits of a service, and the defaults the configuration starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    pub max_records_per_request: u32,
    pub max_request_bytes: u64,
    pub max_record_bytes: u64,
    pub default_request_bytes: u64,
    pub default_record_bytes: u64,
}

impl Service {
    pub(crate) fn limits(self) -> Limits {
        match self {
            // Requests of 5 MiB are safe everywhere; streams raised with
            // `UpdateMaxRecordSize` take records and requests up to 10 MiB.
            Service::KinesisDataStreams => Limits {
                max_records_per_request: 500,
                max_request_bytes: 10 * MIB,
                max_record_bytes: 10 * MIB,
                default_request_bytes: 5 * MIB,
                default_record_bytes: MIB,
            },
            Service::Firehose => Limits {
                max_records_per_request: 500,
                max_request_bytes: 4 * MIB,
                max_record_bytes: 1000 * KIB,
                default_request_bytes: 4 * MIB,
                default_record_bytes: 1000 * KIB,
            },
        }
    }

    /// Whether records carry a partition key (and may carry an explicit hash key).
    pub(crate) fn takes_partition_keys(self) -> bool {
        self == Service::KinesisDataStreams
    }

    /// Longest stream (or delivery stream) name.
    pub(crate) fn max_stream_name(self) -> usize {
        match self {
            Service::KinesisDataStreams => 128,
            Service::Firehose => 64,
        }
    }

    /// Whether the service accepts `application/x-amz-cbor-1.1` (Firehose is JSON only).
    pub(crate) fn speaks_cbor(self) -> bool {
        self == Service::KinesisDataStreams
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Service::KinesisDataStreams => "Kinesis Data Streams",
            Service::Firehose => "Firehose",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_within_the_limits() {
        for service in [Service::KinesisDataStreams, Service::Firehose] {
            let l = service.limits();
            assert!(l.default_record_bytes <= l.max_record_bytes && l.default_request_bytes <= l.max_request_bytes);
            assert!(l.default_record_bytes <= l.default_request_bytes);
        }
        assert_eq!(Service::Firehose.limits().max_record_bytes, 1_024_000);
    }
}
