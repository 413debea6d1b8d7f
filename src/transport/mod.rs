//! Transport: turns a batch of stored records into a signed HTTPS request,
//! sends it, and reads the answer into per-record results or a call failure
//! (the types of `crate::submission`). It decides nothing: the upload policy
//! reads what it returns.
//!
//! - [`endpoint`]: region and endpoint override to URL, TLS rules.
//! - [`credentials`]: the provider trait and the cache in front of it.
//! - [`cognito`]: the built-in Amazon Cognito Identity provider.
//! - [`signing`]: SigV4 with `aws-sigv4`.
//! - [`wire`]: request and response bodies of each service API (JSON, CBOR).
//! - `aggregation`: the KPL aggregated record.

pub(crate) mod aggregation;
mod cbor;
pub(crate) mod cognito;
pub(crate) mod credentials;
pub(crate) mod endpoint;
mod signing;
pub(crate) mod wire;

use std::sync::Arc;
use std::time::Duration;

use crate::config::RecorderConfig;
use crate::error::{RecorderError, Result};
use crate::submission::{CallFailure, Entry, EntryResult};
pub use cognito::{CognitoCredentialsProvider, CognitoLoginsProvider};
use credentials::CredentialsCache;
pub use credentials::{AwsCredentials, CredentialsProvider, StaticCredentialsProvider};
use wire::{Api, WireRecord};

/// Largest response body read; a PutRecords answer for 500 records is ~60 KiB.
const MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;

/// One service API (Kinesis PutRecords today) over HTTPS, signed.
pub(crate) struct Transport {
    client: reqwest::Client,
    url: reqwest::Url,
    region: String,
    api: &'static Api,
    credentials: CredentialsCache,
}

impl Transport {
    pub fn new(config: &RecorderConfig, api: &'static Api, provider: Arc<dyn CredentialsProvider>) -> Result<Self> {
        let url = endpoint::resolve(&config.region, config.endpoint.as_deref(), api.endpoint_prefix)?;
        Ok(Transport {
            client: http_client(config.request_timeout)?,
            url,
            region: config.region.clone(),
            api,
            credentials: CredentialsCache::new(provider),
        })
    }

    /// Forgets cached credentials so the next call asks the provider again.
    pub async fn invalidate_credentials(&self) {
        self.credentials.invalidate().await;
    }

    /// Once the store is open: a built-in Cognito provider keeps its
    /// identity id next to it and times its calls out like this transport's.
    pub fn bind_credentials_to_store(&self, config: &RecorderConfig) -> Result<()> {
        match self.credentials.cognito() {
            Some(cognito) => cognito.bind_to_store(&config.database_path, config.request_timeout),
            None => Ok(()),
        }
    }

    /// Sends one batch of one stream and reads the results, one per Kinesis
    /// record (an aggregate is one).
    pub async fn put_records(&self, stream: &str, batch: &[Entry]) -> Result<Vec<EntryResult>, CallFailure> {
        let body = encode(self.api, stream, batch);
        let credentials = self.credentials.get().await.map_err(|error| match error {
            // Fetching credentials needs the network too; failing there is no
            // more the credentials' fault than a failed PutRecords.
            RecorderError::Network { reason } => CallFailure::Network(reason),
            other => CallFailure::Credentials(other.to_string()),
        })?;
        let headers = signing::sign(&self.url, &self.region, self.api, &credentials, &body)
            .map_err(|e| CallFailure::Credentials(format!("cannot sign the request: {e}")))?;
        let body = post(&self.client, &self.url, headers, body).await?;
        (self.api.decode)(&body).map_err(CallFailure::Malformed)
    }
}

/// The request body of `batch`: aggregates are encoded first, then every
/// Kinesis record goes into the API's body.
fn encode(api: &Api, stream: &str, batch: &[Entry]) -> Vec<u8> {
    let aggregates: Vec<Vec<u8>> = batch
        .iter()
        .filter_map(|entry| match entry {
            Entry::Plain(_) => None,
            Entry::Aggregate(records) => Some(aggregation::encode(records)),
        })
        .collect();
    let mut aggregates = aggregates.iter();
    let records: Vec<WireRecord<'_>> = batch
        .iter()
        .map(|entry| {
            let first = &entry.records()[0];
            WireRecord {
                data: match entry {
                    Entry::Plain(record) => &record.data,
                    Entry::Aggregate(_) => aggregates.next().expect("one aggregate encoded per aggregate entry"),
                },
                partition_key: &first.partition_key,
                explicit_hash_key: first.explicit_hash_key.as_deref(),
            }
        })
        .collect();
    (api.encode)(stream, &records)
}

/// One POST of an AWS JSON (or CBOR) protocol: the body of a 2xx answer, or
/// why there is none (the service's error type and message parsed).
pub(crate) async fn post(
    client: &reqwest::Client,
    url: &reqwest::Url,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
) -> Result<Vec<u8>, CallFailure> {
    let mut request = client.post(url.clone()).body(body);
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let response = request.send().await.map_err(|e| CallFailure::Network(describe(&e)))?;
    let status = response.status();
    let error_type_header = response
        .headers()
        .get("x-amzn-errortype")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = read_body(response).await?;
    if status.is_success() {
        return Ok(body);
    }
    let (code, message) = wire::parse_error(&body, error_type_header.as_deref());
    Err(CallFailure::Service {
        status: status.as_u16(),
        code,
        message,
    })
}

/// The HTTP client of every call: rustls, no redirects (a redirected signed
/// request is a misconfigured endpoint, not something to follow), bounded
/// connect and request times.
pub(crate) fn http_client(request_timeout: Duration) -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .use_rustls_tls()
        .https_only(false) // endpoint::resolve already refused http:// to anything but loopback
        .timeout(request_timeout)
        .connect_timeout(request_timeout.min(Duration::from_secs(10)))
        .pool_idle_timeout(Duration::from_secs(60))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("kinesis-recorder/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| crate::error::Error::Network(format!("cannot build the HTTP client: {e}")))
}

async fn read_body(mut response: reqwest::Response) -> Result<Vec<u8>, CallFailure> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| CallFailure::Network(describe(&e)))? {
        if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err(CallFailure::Malformed(format!(
                "response larger than {MAX_RESPONSE_BYTES} bytes"
            )));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The error and its causes on one line (reqwest's Display omits the cause).
fn describe(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
