//! Offline-first recorder for Amazon Kinesis Data Streams.
//!
//! Apps save records from any thread, the UI thread included; the recorder
//! keeps them in a local SQLite file and submits them with PutRecords, in
//! full batches, when the network allows. Nothing is lost while the device is
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
//! triggers), and `ffi` (the UniFFI surface).

mod config;
mod error;
mod policy;
mod record;
mod recorder;
mod store;
mod transport;

#[cfg(feature = "ffi")]
mod ffi;

pub use config::{RecorderConfig, WhenFull, WireFormat, KIB, MIB};
pub use error::{DropReason, RecorderError};
pub use recorder::{FailureKind, Recorder, RecorderEvent, RecorderListener, RecorderStats, StreamError, StreamStats, SubmitReport};
pub use transport::{AwsCredentials, CredentialsProvider, StaticCredentialsProvider};

#[cfg(feature = "ffi")]
uniffi::setup_scaffolding!();
