//! The UniFFI surface: [`KinesisRecorder`] for Kotlin and Swift, a thin
//! wrapper that forwards every call to [`Recorder`]. No logic lives here; the
//! records, enums, errors and foreign traits it uses are the core's own,
//! exported where they are defined.
//!
//! The save family also has direct JNI entry points for Kotlin (`jni`): they call the same
//! methods of [`KinesisRecorder`] at a fraction of JNA's cost.

#[cfg(not(target_os = "ios"))]
mod jni;

use std::sync::Arc;
use std::time::Duration;

use crate::{
    CognitoCredentialsProvider, CognitoLoginsProvider, CredentialsProvider, RecordToSave, Recorder, RecorderConfig,
    RecorderError, RecorderListener, RecorderStats, Service, SubmitReport,
};

/// The recorder as Kotlin and Swift see it. See [`Recorder`] for the meaning
/// of each call.
#[derive(uniffi::Object)]
pub struct KinesisRecorder {
    inner: Recorder,
}

#[uniffi::export]
impl KinesisRecorder {
    /// Opens (or creates) the store and starts the background threads.
    #[uniffi::constructor]
    pub fn new(config: RecorderConfig, credentials: Arc<dyn CredentialsProvider>) -> Result<Arc<Self>, RecorderError> {
        Ok(Arc::new(KinesisRecorder {
            inner: Recorder::new(config, credentials)?,
        }))
    }

    /// Validates and queues a record; no I/O on the calling thread.
    pub fn save_record(
        &self,
        data: Vec<u8>,
        stream_name: String,
        partition_key: Option<String>,
    ) -> Result<(), RecorderError> {
        self.inner.save_record(data, &stream_name, partition_key)
    }

    /// Like `save_record`, with an explicit hash key.
    pub fn save_record_with_hash_key(
        &self,
        data: Vec<u8>,
        stream_name: String,
        partition_key: Option<String>,
        explicit_hash_key: Option<String>,
    ) -> Result<(), RecorderError> {
        self.inner
            .save_record_with_hash_key(data, &stream_name, partition_key, explicit_hash_key)
    }

    /// Many records in one call: all validated, then all queued or none.
    pub fn save_records(&self, records: Vec<RecordToSave>) -> Result<(), RecorderError> {
        self.inner.save_records(records)
    }

    /// Blocks until every record saved so far is on disk.
    pub fn flush(&self) -> Result<(), RecorderError> {
        self.inner.flush()
    }

    /// Submits everything pending, within 60 s; runs on the recorder's own thread.
    pub async fn submit_all_records(&self) -> Result<SubmitReport, RecorderError> {
        self.inner.submit_all_records().await
    }

    /// Submits everything pending and returns by `deadline` at the latest;
    /// what is not delivered by then stays pending.
    pub async fn submit_all_records_within(&self, deadline: Duration) -> Result<SubmitReport, RecorderError> {
        self.inner.submit_all_records_within(deadline).await
    }

    /// Asks for a submission without waiting for it.
    pub fn request_submit(&self) {
        self.inner.request_submit()
    }

    pub fn set_network_available(&self, available: bool) {
        self.inner.set_network_available(available)
    }

    pub fn delete_all_records(&self) -> Result<u64, RecorderError> {
        self.inner.delete_all_records()
    }

    pub fn disk_bytes_used(&self) -> u64 {
        self.inner.disk_bytes_used()
    }

    pub fn disk_file_bytes(&self) -> u64 {
        self.inner.disk_file_bytes()
    }

    pub fn disk_byte_limit(&self) -> u64 {
        self.inner.disk_byte_limit()
    }

    pub fn stats(&self) -> Result<RecorderStats, RecorderError> {
        self.inner.stats()
    }

    pub fn set_listener(&self, listener: Option<Arc<dyn RecorderListener>>) {
        self.inner.set_listener(listener)
    }

    /// Commits queued saves and stops the background threads.
    pub fn shutdown(&self) {
        self.inner.shutdown()
    }
}

/// The default configuration of `service` for a store file and a region (its
/// size limits follow the service); change the fields you need (Kotlin
/// `copy(...)`, Swift `var`).
#[uniffi::export]
pub fn default_recorder_config(database_path: String, region: String, service: Service) -> RecorderConfig {
    RecorderConfig::for_service(service, database_path, region)
}

/// Temporary credentials from an Amazon Cognito identity pool (see
/// [`CognitoCredentialsProvider`]): `endpoint` overrides the regional one,
/// `logins` (none: guests) gives the user's tokens at each use.
#[uniffi::export]
pub fn cognito_credentials_provider(
    identity_pool_id: String,
    region: String,
    endpoint: Option<String>,
    logins: Option<Arc<dyn CognitoLoginsProvider>>,
) -> Result<Arc<dyn CredentialsProvider>, RecorderError> {
    let mut provider = CognitoCredentialsProvider::new(identity_pool_id, &region)?;
    if let Some(endpoint) = endpoint {
        provider = provider.with_endpoint(&endpoint)?;
    }
    if let Some(logins) = logins {
        provider = provider.with_logins(logins);
    }
    Ok(Arc::new(provider))
}

/// Moves an unusable store file aside; returns where it went.
#[uniffi::export]
pub fn move_aside_store(path: String) -> Result<String, RecorderError> {
    Recorder::move_aside_store(&path)
}

/// A credentials or logins provider written in Kotlin or Swift that threw
/// something other than a `RecorderError` surfaces as a credentials error.
impl From<uniffi::UnexpectedUniFFICallbackError> for RecorderError {
    fn from(error: uniffi::UnexpectedUniFFICallbackError) -> Self {
        RecorderError::Credentials {
            reason: format!("the app's credentials callback failed: {}", error.reason),
        }
    }
}
