//! Transport: turns a batch of stored records into a signed HTTPS request,
//! sends it, and reads the answer into per-record results or a call failure
//! (the types of `crate::submission`). It decides nothing: the upload policy
//! reads what it returns.
//!
//! - [`endpoint`]: region and endpoint override to URL, TLS rules.
//! - [`credentials`]: the provider trait and the cache in front of it.
//! - [`cognito`]: the built-in Amazon Cognito Identity provider.
//! - [`signing`]: SigV4 with `aws-sigv4`.
//! - [`tls`]: which certificates are trusted (the platform's verifier or bundled roots).
//! - [`clock`]: the device clock's offset from the service's, learned from
//!   a refusal's `Date` header, for signing.
//! - [`wire`]: request and response bodies of each service API (JSON, CBOR).
//! - `aggregation`: the KPL aggregated record.

pub(crate) mod aggregation;
mod cbor;
mod clock;
pub(crate) mod cognito;
pub(crate) mod credentials;
pub(crate) mod endpoint;
mod signing;
mod tls;
pub(crate) mod wire;

use std::sync::Arc;
use std::time::Duration;

use crate::config::{RecorderConfig, TlsRoots};
use crate::error::{RecorderError, Result};
use crate::submission::{CallFailure, Entry, EntryResult};
use clock::SkewCorrection;
pub use cognito::{CognitoCredentialsProvider, CognitoLoginsProvider};
use credentials::CredentialsCache;
pub use credentials::{AwsCredentials, CredentialsProvider, StaticCredentialsProvider};
pub(crate) use tls::check_available as check_tls_roots;
use wire::{Api, WireRecord};

/// Largest response body read; an answer for 500 records is ~60 KiB.
const MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;

/// One service's batch API (Kinesis PutRecords or Firehose PutRecordBatch)
/// over HTTPS, signed.
pub(crate) struct Transport {
    client: reqwest::Client,
    url: reqwest::Url,
    region: String,
    api: &'static Api,
    credentials: CredentialsCache,
    skew: SkewCorrection,
}

impl Transport {
    pub fn new(config: &RecorderConfig, api: &'static Api, provider: Arc<dyn CredentialsProvider>) -> Result<Self> {
        let url = endpoint::resolve(&config.region, config.endpoint.as_deref(), api.endpoint_prefix)?;
        Ok(Transport {
            client: http_client(&url, config.request_timeout, config.tls_roots)?,
            url,
            region: config.region.clone(),
            api,
            credentials: CredentialsCache::new(provider, config.request_timeout),
            skew: SkewCorrection::default(),
        })
    }

    /// Forgets cached credentials so the next call asks the provider again.
    pub async fn invalidate_credentials(&self) {
        self.credentials.invalidate().await;
    }

    /// Once the store is open: a built-in Cognito provider keeps its
    /// identity id next to it and times its calls out and trusts certificates
    /// like this transport.
    pub fn bind_credentials_to_store(&self, config: &RecorderConfig) -> Result<()> {
        match self.credentials.cognito() {
            Some(cognito) => cognito.bind_to_store(&config.database_path, config.request_timeout, config.tls_roots),
            None => Ok(()),
        }
    }

    /// Clock-skew corrections made since the last call.
    pub fn take_clock_corrections(&self) -> u64 {
        self.skew.take_corrections()
    }

    /// Sends one batch of one stream and reads the results, one per Kinesis
    /// record (an aggregate is one).
    ///
    /// `before_send` is asked right before each send, after the credentials
    /// and the signature (which may take long): when it says no, nothing is
    /// sent and the answer is `None`. A refusal for the device's clock is
    /// signed again with the service's time, once.
    pub async fn put_records(
        &self,
        stream: &str,
        batch: &[Entry],
        mut before_send: impl FnMut() -> bool,
    ) -> Option<Result<Vec<EntryResult>, CallFailure>> {
        let body = bytes::Bytes::from(encode(self.api, stream, batch));
        let mut signed_again = false;
        loop {
            let credentials = match self.credentials.get().await {
                Ok(credentials) => credentials,
                // Fetching credentials needs the network too; failing there is
                // no more the credentials' fault than a failed PutRecords.
                Err(RecorderError::Network { reason }) => return Some(Err(CallFailure::Network(reason))),
                Err(other) => return Some(Err(CallFailure::Credentials(other.to_string()))),
            };
            let signed_at = self.skew.now();
            let headers = match signing::sign(&self.url, &self.region, self.api, &credentials, &body, signed_at) {
                Ok(headers) => headers,
                Err(e) => return Some(Err(CallFailure::Credentials(format!("cannot sign the request: {e}")))),
            };
            if !before_send() {
                return None;
            }
            let (answer, server_date) = post(&self.client, &self.url, headers, body.clone()).await;
            let mut answer = answer.and_then(|body| (self.api.decode)(&body).map_err(CallFailure::Malformed));
            if let Err(CallFailure::Service { message, .. }) = &mut answer {
                // The message goes to logs, events and stats: never the keys.
                *message = wire::redact_keys(message, batch.iter().flat_map(Entry::records));
            }
            match &answer {
                Err(CallFailure::Service { code, .. })
                    if !signed_again && self.skew.learn(signed_at, code.as_deref(), server_date.as_deref()) =>
                {
                    signed_again = true;
                }
                _ => return Some(answer),
            }
        }
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
/// why there is none (the service's error type and message parsed); and the
/// server's `Date` header, from which a wrong device clock is corrected.
pub(crate) async fn post(
    client: &reqwest::Client,
    url: &reqwest::Url,
    headers: Vec<(String, String)>,
    body: impl Into<reqwest::Body>,
) -> (Result<Vec<u8>, CallFailure>, Option<String>) {
    let mut request = client.post(url.clone()).body(body);
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let response = match request.send().await {
        Ok(response) => response,
        Err(e) => return (Err(CallFailure::Network(describe(&e))), None),
    };
    let status = response.status();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let (error_type_header, server_date) = (header("x-amzn-errortype"), header("date"));
    let body = match read_body(response).await {
        Ok(body) => body,
        Err(failure) => return (Err(failure), server_date),
    };
    if status.is_success() {
        return (Ok(body), server_date);
    }
    let (code, message) = wire::parse_error(&body, error_type_header.as_deref());
    let failure = CallFailure::Service {
        status: status.as_u16(),
        code,
        message,
    };
    (Err(failure), server_date)
}

/// The HTTP client of every call: rustls with the certificates `roots`
/// chooses, no redirects (a redirected signed request is a misconfigured
/// endpoint, not something to follow), bounded connect and request times.
pub(crate) fn http_client(url: &reqwest::Url, request_timeout: Duration, roots: TlsRoots) -> Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .use_rustls_tls()
        .https_only(false) // endpoint::resolve already refused http:// to anything but loopback
        .timeout(request_timeout)
        .connect_timeout(request_timeout.min(Duration::from_secs(10)))
        .pool_idle_timeout(Duration::from_secs(60))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("kinesis-recorder/", env!("CARGO_PKG_VERSION")));
    // Plain http:// (loopback only) trusts nothing, so it needs no certificates.
    if url.scheme() == "https" {
        builder = builder.use_preconfigured_tls(tls::client_config(roots)?);
    }
    builder
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
