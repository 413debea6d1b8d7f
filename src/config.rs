//! [`RecorderConfig`]: every tunable of the recorder, its default, and the
//! validation of its values, in one place.

use std::time::Duration;

use crate::error::{Error, Result};
use crate::service::Service;

pub const KIB: u64 = 1024;
pub const MIB: u64 = 1024 * KIB;

/// What to do when a new record would take the store past `max_storage_bytes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "ffi", derive(uniffi::Enum))]
pub enum WhenFull {
    /// Evict the oldest records (reported as dropped) to make room. The default:
    /// recent telemetry is usually worth more than old.
    #[default]
    DropOldest,
    /// Refuse the new record with `RecorderError::StorageFull`.
    RejectNew,
}

/// How PutRecords bodies are encoded on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "ffi", derive(uniffi::Enum))]
pub enum WireFormat {
    /// `application/x-amz-json-1.1`, data in base64. Every server speaks it.
    #[default]
    Json,
    /// `application/x-amz-cbor-1.1`, data as raw bytes: about a quarter
    /// fewer bytes on the air for binary payloads. Kinesis and kinesis-mock
    /// accept it; some local servers (kinesalite, moto) do not.
    Cbor,
}

/// Which certificates the recorder trusts for `https://` endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "ffi", derive(uniffi::Enum))]
pub enum TlsRoots {
    /// The device's own trust store and verifier, as the platform's browser
    /// and HTTP stack use them: certificates installed by the user or by
    /// device management (MDM), corporate TLS inspection, Android's Network
    /// Security Config, revocations the OS knows of. Apple: Security.framework;
    /// Android: the platform's TrustManager (needs the app's Context, given by
    /// the Android library); Linux: the system CA bundle, or `SSL_CERT_FILE` /
    /// `SSL_CERT_DIR` when set.
    #[default]
    Platform,
    /// Mozilla's root certificates compiled into the library, whatever the
    /// device trusts: for devices without a CA bundle, or to ignore
    /// certificates added to the device. Needs the `bundled-roots` feature
    /// (default in the crate and the CLI; not in the Android and iOS
    /// libraries, where it is refused with `InvalidInput`).
    Bundled,
}

/// The recorder's settings. Start from [`RecorderConfig::new`] (Kinesis Data
/// Streams) or [`RecorderConfig::for_service`] and change what you need;
/// [`RecorderConfig::validate`] says what is wrong with a value.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "ffi", derive(uniffi::Record))]
pub struct RecorderConfig {
    /// Where records go (defaults from `for_service`). A store file belongs to
    /// one service: another service's recorder gets `InvalidInput`.
    pub service: Service,
    /// Path of the SQLite file. Put it in the app's private, persistent data
    /// directory (not a cache or temporary directory the OS may purge).
    pub database_path: String,
    /// AWS region, for example `eu-west-1`. Gives the endpoint unless
    /// `endpoint` is set, and is always used for signing.
    pub region: String,
    /// Endpoint override, for local servers or VPC endpoints. `https://` is
    /// required except for loopback hosts.
    pub endpoint: Option<String>,
    /// Upper bound of the sum of stored record sizes (data + partition key).
    pub max_storage_bytes: u64,
    /// Policy when the store is full.
    pub when_full: WhenFull,
    /// Records older than this are dropped (reported as expired). None keeps
    /// records until they are delivered or evicted.
    pub max_record_age: Option<Duration>,
    /// Largest accepted record, data + partition key (+ newline). Kinesis
    /// allows 1 MiB, or up to 10 MiB on streams raised with
    /// `UpdateMaxRecordSize`; Firehose 1,000 KiB.
    pub max_record_bytes: u64,
    /// Largest request, data + partition keys (+ newlines): Kinesis 5 MiB, up
    /// to 10 MiB for raised streams; Firehose 4 MiB.
    pub max_request_bytes: u64,
    /// Records per request, at most 500.
    pub max_records_per_request: u32,
    /// Times the service may reject one record (per-record throttling or
    /// internal failure) before it is dropped. Network errors, timeouts and
    /// whole-request errors never count.
    pub max_attempts: u32,
    /// Submit automatically in the background (interval, thresholds, network
    /// coming back). When false, only `submit_all_records` sends.
    pub auto_submit: bool,
    /// Interval of automatic submission while records are pending. No timer
    /// runs while the store is empty.
    pub submit_interval: Duration,
    /// Submit as soon as this many records are pending (0 = off).
    pub submit_threshold_records: u64,
    /// Submit as soon as this many bytes are pending (0 = off).
    pub submit_threshold_bytes: u64,
    /// Emit `StorageThresholdCrossed` when stored bytes rise past this value
    /// (0 = off), like the iOS recorder's `notificationByteThreshold`.
    pub notification_byte_threshold: u64,
    /// Bytes of saved records allowed to wait in memory for the writer.
    /// Beyond it `save_record` returns `Overloaded` instead of blocking.
    pub max_queued_bytes: u64,
    /// Timeout of one HTTP request, connection included.
    pub request_timeout: Duration,
    /// Wire encoding of requests (Firehose: JSON only).
    pub wire_format: WireFormat,
    /// Certificates trusted for `https://` endpoints (Cognito's included).
    pub tls_roots: TlsRoots,
    /// Pack records into KPL aggregated records when a batch is sent
    /// (Kinesis Data Streams only). Consumers must de-aggregate: KCL does,
    /// Lambda functions use a de-aggregation module. Records saved with a
    /// key share an aggregate only with records of the same key, so every
    /// consumer's shard check passes. Applies to records already stored.
    pub aggregation: bool,
    /// Largest aggregated record, data + partition key. The default, 25,000
    /// bytes, is one 25 KB PUT payload unit (the unit provisioned streams
    /// bill); at most `max_record_bytes`.
    pub max_aggregate_bytes: u64,
    /// Append `\n` to each record as it is saved (one record per line once
    /// Firehose joins a batch into one S3 object); counted in every limit.
    pub newline_delimited: bool,
}

/// How long `submit_all_records` may take when the caller sets no deadline
/// (`submit_all_records_within` takes one): records not delivered by then
/// stay pending.
pub const DEFAULT_SUBMIT_DEADLINE: Duration = Duration::from_secs(60);

/// One PUT payload unit: provisioned streams bill each record in 25 KB units.
/// As 25,000 bytes it is one unit whether the KB is 1,000 or 1,024 bytes.
const PUT_PAYLOAD_UNIT: u64 = 25_000;

/// The smallest `max_aggregate_bytes`: below 1 KB an aggregate saves nothing
/// on on-demand streams, which bill each record rounded up to 1 KB.
const MIN_AGGREGATE_BYTES: u64 = KIB;

impl RecorderConfig {
    /// Defaults for everything but the file and the region, for Kinesis Data
    /// Streams.
    pub fn new(database_path: impl Into<String>, region: impl Into<String>) -> Self {
        Self::for_service(Service::KinesisDataStreams, database_path, region)
    }

    /// Defaults for everything but the file and the region, for `service`:
    /// its size limits included (Firehose: 1,000 KiB records, 4 MiB requests).
    pub fn for_service(service: Service, database_path: impl Into<String>, region: impl Into<String>) -> Self {
        let limits = service.limits();
        RecorderConfig {
            service,
            database_path: database_path.into(),
            region: region.into(),
            endpoint: None,
            max_storage_bytes: 5 * MIB,
            when_full: WhenFull::DropOldest,
            max_record_age: None,
            max_record_bytes: limits.default_record_bytes,
            max_request_bytes: limits.default_request_bytes,
            max_records_per_request: limits.max_records_per_request,
            max_attempts: 10,
            auto_submit: true,
            submit_interval: Duration::from_secs(30),
            submit_threshold_records: 500,
            submit_threshold_bytes: 512 * KIB,
            notification_byte_threshold: 0,
            max_queued_bytes: 8 * MIB,
            request_timeout: Duration::from_secs(15),
            wire_format: WireFormat::Json,
            tls_roots: TlsRoots::Platform,
            aggregation: false,
            max_aggregate_bytes: PUT_PAYLOAD_UNIT,
            newline_delimited: false,
        }
    }

    /// Checks every value; the error names the field and the accepted range.
    pub(crate) fn validate(&self) -> Result<()> {
        let service = self.service;
        let limits = service.limits();
        let beyond = |field: &'static str, max: u64, value: u64| {
            // Values past the limits usually come from another service's defaults.
            let hint = if value > 0 {
                format!(" (a configuration made for {service} from the start has its defaults)")
            } else {
                String::new()
            };
            Error::invalid(
                field,
                format!("must be between 1 and {max} for {service}, got {value}{hint}"),
            )
        };
        if self.database_path.trim().is_empty() {
            return Err(Error::invalid("database_path", "must not be empty"));
        }
        if self.max_storage_bytes == 0 {
            return Err(Error::invalid("max_storage_bytes", "must be greater than 0"));
        }
        if self.max_record_bytes == 0 || self.max_record_bytes > limits.max_record_bytes {
            return Err(beyond(
                "max_record_bytes",
                limits.max_record_bytes,
                self.max_record_bytes,
            ));
        }
        if self.max_request_bytes == 0 || self.max_request_bytes > limits.max_request_bytes {
            return Err(beyond(
                "max_request_bytes",
                limits.max_request_bytes,
                self.max_request_bytes,
            ));
        }
        if self.max_record_bytes > self.max_request_bytes {
            return Err(Error::invalid(
                "max_record_bytes",
                "must not exceed max_request_bytes (a record must fit in one request)",
            ));
        }
        if self.max_record_bytes > self.max_storage_bytes {
            return Err(Error::invalid(
                "max_record_bytes",
                "must not exceed max_storage_bytes (a record must fit in the store)",
            ));
        }
        let max_records = limits.max_records_per_request;
        if self.max_records_per_request == 0 || self.max_records_per_request > max_records {
            return Err(beyond(
                "max_records_per_request",
                max_records.into(),
                self.max_records_per_request.into(),
            ));
        }
        if self.wire_format == WireFormat::Cbor && !service.speaks_cbor() {
            return Err(Error::invalid(
                "wire_format",
                format!("{service} accepts JSON only: use WireFormat::Json"),
            ));
        }
        if self.max_attempts == 0 {
            return Err(Error::invalid("max_attempts", "must be at least 1"));
        }
        if self.submit_interval < Duration::from_millis(10) {
            return Err(Error::invalid("submit_interval", "must be at least 10 ms"));
        }
        if self.max_record_age == Some(Duration::ZERO) {
            return Err(Error::invalid(
                "max_record_age",
                "must be greater than 0, or None for no limit",
            ));
        }
        if self.max_queued_bytes < self.max_record_bytes {
            return Err(Error::invalid(
                "max_queued_bytes",
                "must be at least max_record_bytes (a record must fit in the queue)",
            ));
        }
        if self.request_timeout < Duration::from_millis(100) {
            return Err(Error::invalid("request_timeout", "must be at least 100 ms"));
        }
        // KPL aggregates are Kinesis records: their sub-records carry partition keys.
        if self.aggregation && !service.takes_partition_keys() {
            return Err(Error::invalid(
                "aggregation",
                format!("KPL aggregation is for Kinesis Data Streams only, not {service}: set it to false"),
            ));
        }
        if self.aggregation && !(MIN_AGGREGATE_BYTES..=self.max_record_bytes).contains(&self.max_aggregate_bytes) {
            return Err(Error::invalid(
                "max_aggregate_bytes",
                format!(
                    "must be between {MIN_AGGREGATE_BYTES} and max_record_bytes ({}), got {}",
                    self.max_record_bytes, self.max_aggregate_bytes
                ),
            ));
        }
        validate_region(&self.region)?;
        crate::transport::check_tls_roots(self.tls_roots)?;
        Ok(())
    }
}

/// Regions look like `us-east-1`, `cn-north-1`, `us-gov-west-1`.
pub(crate) fn validate_region(region: &str) -> Result<()> {
    let parts: Vec<&str> = region.split('-').collect();
    let valid = parts.len() >= 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()))
        && parts.last().is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()))
        && parts[0].bytes().all(|b| b.is_ascii_lowercase());
    if !valid {
        return Err(Error::invalid(
            "region",
            format!("{region:?} is not an AWS region name such as \"us-east-1\""),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invalid_field(config: &RecorderConfig) -> (&'static str, String) {
        match config.validate() {
            Err(Error::InvalidInput { field, reason }) => (field, reason),
            other => panic!("expected InvalidInput, got {other:?}"),
        }
    }

    #[test]
    fn each_service_starts_from_its_own_limits() {
        let kinesis = RecorderConfig::new("k.db", "eu-west-1");
        assert_eq!(kinesis.service, Service::KinesisDataStreams);
        assert_eq!((kinesis.max_record_bytes, kinesis.max_request_bytes), (MIB, 5 * MIB));
        let firehose = RecorderConfig::for_service(Service::Firehose, "f.db", "eu-west-1");
        assert_eq!(
            (
                firehose.max_record_bytes,
                firehose.max_request_bytes,
                firehose.max_records_per_request
            ),
            (1000 * KIB, 4 * MIB, 500)
        );
        assert!(!firehose.newline_delimited);
        assert!(kinesis.validate().is_ok() && firehose.validate().is_ok());
        // Everything else is the same.
        assert_eq!(
            RecorderConfig {
                service: Service::KinesisDataStreams,
                database_path: "k.db".into(),
                max_record_bytes: MIB,
                max_request_bytes: 5 * MIB,
                ..firehose
            },
            kinesis
        );
    }

    #[test]
    fn firehose_limits_are_enforced() {
        let firehose = RecorderConfig::for_service(Service::Firehose, "f.db", "eu-west-1");
        let (field, reason) = invalid_field(&RecorderConfig {
            max_request_bytes: 4 * MIB + 1,
            ..firehose.clone()
        });
        assert_eq!(field, "max_request_bytes");
        assert!(reason.contains("between 1 and 4194304 for Firehose"), "{reason}");
        let (field, reason) = invalid_field(&RecorderConfig {
            max_record_bytes: 1000 * KIB + 1,
            ..firehose.clone()
        });
        assert_eq!(field, "max_record_bytes");
        assert!(reason.contains("between 1 and 1024000 for Firehose"), "{reason}");
        let (field, _) = invalid_field(&RecorderConfig {
            max_records_per_request: 501,
            ..firehose.clone()
        });
        assert_eq!(field, "max_records_per_request");
        // Kinesis defaults on a Firehose configuration: the error says where the right ones are.
        let (_, reason) = invalid_field(&RecorderConfig {
            service: Service::Firehose,
            ..RecorderConfig::new("k.db", "eu-west-1")
        });
        assert!(reason.contains("made for Firehose from the start"), "{reason}");
        // The same values are fine for Kinesis, up to its own limits.
        assert!(RecorderConfig {
            max_request_bytes: 10 * MIB,
            max_record_bytes: 10 * MIB,
            max_storage_bytes: 10 * MIB,
            max_queued_bytes: 10 * MIB,
            ..RecorderConfig::new("k.db", "eu-west-1")
        }
        .validate()
        .is_ok());
    }

    #[test]
    fn aggregation_is_refused_for_firehose() {
        let (field, reason) = invalid_field(&RecorderConfig {
            aggregation: true,
            ..RecorderConfig::for_service(Service::Firehose, "f.db", "eu-west-1")
        });
        assert_eq!(field, "aggregation");
        assert!(reason.contains("Kinesis Data Streams only, not Firehose"), "{reason}");
        assert!(RecorderConfig {
            aggregation: true,
            ..RecorderConfig::new("k.db", "eu-west-1")
        }
        .validate()
        .is_ok());
    }

    #[test]
    fn cbor_only_where_the_service_speaks_it() {
        let (field, reason) = invalid_field(&RecorderConfig {
            wire_format: WireFormat::Cbor,
            ..RecorderConfig::for_service(Service::Firehose, "f.db", "eu-west-1")
        });
        assert_eq!(field, "wire_format");
        assert!(reason.contains("Firehose accepts JSON only"), "{reason}");
        assert!(RecorderConfig {
            wire_format: WireFormat::Cbor,
            ..RecorderConfig::new("k.db", "eu-west-1")
        }
        .validate()
        .is_ok());
    }
}
