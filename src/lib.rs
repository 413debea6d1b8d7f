//! Offline-first recorder for Amazon Kinesis Data Streams and Amazon Data
//! Firehose.
//!
//! Apps save records from any thread, the UI thread included; the recorder
//! keeps them in a local SQLite file and submits them with PutRecords
//! (Kinesis) or PutRecordBatch (Firehose), in full batches, when the network
//! allows. Nothing is lost while the device is
//! offline, however long, within the storage limit the app sets.
//!
//! ```no_run
//! use std::sync::Arc;
//! use kinesis_recorder::{Recorder, RecorderConfig, StaticCredentialsProvider};
//!
//! # async fn demo() -> Result<(), kinesis_recorder::RecorderError> {
//! let config = RecorderConfig::new("/data/app/events.db", "eu-west-1");
//! let credentials = Arc::new(StaticCredentialsProvider::new("AKID", "SECRET", None));
//! let recorder = Recorder::new(config, credentials)?;
//! recorder.save_record(b"{\"event\":\"launch\"}".to_vec(), "app-events", None)?;
//! let report = recorder.submit_all_records().await?;
//! println!("{} submitted, {} pending", report.records_submitted, report.records_remaining);
//! # Ok(()) }
//! ```
//!
//! Layers, one folder each: [`store`] (SQLite only), [`policy`] (pure
//! decisions), [`transport`] (HTTP + SigV4), [`recorder`] (threads and
//! triggers), and `ffi` (the UniFFI surface, plus direct JNI entry points for
//! Kotlin's saves); [`set_log_sink`] forwards the recorder's log to the app.
//! Imports only point down:
//!
//! ```text
//! ffi ─► recorder ─┬─► store ─────┬─► submission
//!                  ├─► policy ────┤
//!                  └─► transport ─┘
//! store ─► record ─► config ─► error        transport ─► config
//! ```
//!
//! `recorder` also uses `record`, `config` and `error` directly, and every
//! module may read [`Service`] (`service.rs`: which services exist, their
//! names and limits); each layer picks its own part by it. `store`,
//! `policy` and `transport` never import each other: the data they
//! pass along (the records read for sending, the service's answer, the
//! settlement) lives in [`submission`], and the recorder's worker hands the
//! store the policy's packing rule when it reads a batch.

mod config;
mod error;
mod logging;
mod policy;
mod record;
mod recorder;
mod service;
mod store;
mod submission;
mod transport;

#[cfg(feature = "ffi")]
mod ffi;

pub use config::{RecorderConfig, TlsRoots, WhenFull, WireFormat, DEFAULT_SUBMIT_DEADLINE, KIB, MIB};
pub use error::{DropReason, RecorderError};
pub use logging::{set_log_sink, LogLevel, LogSink};
pub use recorder::{
    FailureKind, RecordToSave, Recorder, RecorderEvent, RecorderListener, RecorderStats, StreamError, StreamStats,
    SubmitReport,
};
pub use service::Service;
pub use transport::{
    AwsCredentials, CognitoCredentialsProvider, CognitoLoginsProvider, CredentialsProvider, StaticCredentialsProvider,
};

#[cfg(feature = "ffi")]
uniffi::setup_scaffolding!();

/// The store's SQLite set-up, for the benchmark's raw baselines. Not part of
/// the API.
#[doc(hidden)]
pub mod bench_support {
    /// Sets up `conn` as the store sets up its own: pragmas and schema.
    pub fn prepare_raw_store(conn: &mut rusqlite::Connection) -> Result<(), String> {
        crate::store::schema::prepare(conn).map_err(|e| e.to_string())
    }
}

/// Entry points for the fuzz targets in `fuzz/` to reach the crate's parsers
/// and validation. Not part of the API.
#[doc(hidden)]
pub mod fuzzing {
    use crate::submission::EntryResult;
    use crate::transport::wire;

    /// Decodes a PutRecords answer: (entries, rejected entries).
    pub fn decode_put_records(body: &[u8]) -> Result<(usize, usize), String> {
        let results = (wire::KINESIS_PUT_RECORDS.decode)(body)?;
        let rejected = results
            .iter()
            .filter(|e| matches!(e, EntryResult::Rejected { .. }))
            .count();
        Ok((results.len(), rejected))
    }

    /// Decodes a CBOR PutRecords answer: (entries, rejected entries).
    pub fn decode_put_records_cbor(body: &[u8]) -> Result<(usize, usize), String> {
        let results = (wire::KINESIS_PUT_RECORDS_CBOR.decode)(body)?;
        let rejected = results
            .iter()
            .filter(|e| matches!(e, EntryResult::Rejected { .. }))
            .count();
        Ok((results.len(), rejected))
    }

    /// One record to pack: the app's partition key (None: the recorder makes
    /// one up), explicit hash key, data.
    pub type RecordToPack = (Option<String>, Option<String>, Vec<u8>);

    /// One Kinesis record as sent: partition key, explicit hash key, data,
    /// and the indexes of the records it carries (one: sent plain).
    pub type PackedRecord = (String, Option<String>, Vec<u8>, Vec<usize>);

    /// Packs `records` as the worker packs one batch (`max_aggregate_bytes`:
    /// aggregation on) and encodes each Kinesis record as the transport does.
    /// Only the records admitted into the batch come back.
    pub fn pack(
        records: Vec<RecordToPack>,
        max_records: u32,
        max_bytes: u64,
        max_aggregate_bytes: Option<u64>,
    ) -> Vec<PackedRecord> {
        use crate::policy::batch::{Limits, Packer};
        use crate::submission::{Entry, StoredRecord};
        let stored: Vec<StoredRecord> = records
            .into_iter()
            .enumerate()
            .map(|(i, (key, explicit_hash_key, data))| {
                let partition_key = key.clone().unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
                StoredRecord {
                    id: i as i64,
                    size: crate::record::record_size(data.len(), &partition_key),
                    partition_key,
                    key_generated: key.is_none(),
                    explicit_hash_key,
                    data,
                    attempts: 0,
                }
            })
            .collect();
        let mut packer = Packer::new(Limits {
            max_records,
            max_bytes,
            max_aggregate_bytes,
        });
        let admitted = stored.iter().take_while(|r| packer.try_add(r)).count();
        let mut stored = stored;
        stored.truncate(admitted);
        packer
            .into_entries(stored)
            .into_iter()
            .map(|entry| {
                let first = &entry.records()[0];
                let members = entry.records().iter().map(|r| r.id as usize).collect();
                let data = match &entry {
                    Entry::Plain(record) => record.data.clone(),
                    Entry::Aggregate(records) => crate::transport::aggregation::encode(records),
                };
                (
                    first.partition_key.clone(),
                    first.explicit_hash_key.clone(),
                    data,
                    members,
                )
            })
            .collect()
    }

    pub fn parse_error(body: &[u8], error_type_header: Option<&str>) -> (Option<String>, String) {
        wire::parse_error(body, error_type_header)
    }

    /// Validates a save to Kinesis Data Streams; the record's size when valid.
    pub fn validate_record(
        data: Vec<u8>,
        stream: &str,
        partition_key: Option<String>,
        explicit_hash_key: Option<String>,
        max_record_bytes: u64,
    ) -> Result<u64, String> {
        let config = crate::RecorderConfig {
            max_record_bytes,
            ..crate::RecorderConfig::new("fuzz.db", "us-east-1")
        };
        crate::record::new_record(&config, data, stream, partition_key, explicit_hash_key, 0)
            .map(|r| r.size())
            .map_err(|e| e.to_string())
    }
}
