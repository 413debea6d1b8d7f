//! The built-in Amazon Cognito Identity credentials provider: temporary
//! credentials for an identity pool, so an app ships no AWS keys. The
//! enhanced flow, as the AWS mobile SDKs' `CognitoCachingCredentialsProvider`
//! ran it: `GetId` once per install and pool, then `GetCredentialsForIdentity`
//! whenever the credentials are about to expire. Both are unsigned JSON 1.1
//! calls to `cognito-identity.{region}.amazonaws.com` (or an override).
//!
//! - **Guests and signed-in users.** The app's optional
//!   [`CognitoLoginsProvider`] is asked at every use; new logins (a refreshed
//!   token, a sign-in) get new credentials at once. An identity whose linked
//!   logins are all gone (a sign-out) is replaced by a new one, since Cognito
//!   refuses it without them.
//! - **One identity per install.** The identity id is kept next to the store
//!   ([`identity_file`]); the credentials only in memory.
//! - **Errors that say what to do.** An identity Cognito no longer knows is
//!   forgotten and `GetId` asked again, once; refusals name the cause and
//!   the fix; network failures are `RecorderError::Network`, so they cost
//!   the records nothing, like any other network error.

mod identity_file;

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::Url;
use serde::{Deserialize, Serialize};

use super::credentials::{AwsCredentials, CredentialsProvider, Fetched};
use super::{endpoint, http_client, post};
use crate::error::{Error, RecorderError};
use crate::submission::CallFailure;
use identity_file::{Identity, IdentityFile};

/// The app's sign-in state for Cognito: login provider name to token, for
/// example `cognito-idp.{region}.amazonaws.com/{userPoolId}` to the user's
/// ID token, or `accounts.google.com` to a Google ID token. Asked before
/// each use of the credentials, from the recorder's worker (never the thread
/// that saves), so it may refresh an expired token first. An empty map means
/// a guest (an unauthenticated identity).
#[cfg_attr(feature = "ffi", uniffi::export(with_foreign))]
#[async_trait::async_trait]
pub trait CognitoLoginsProvider: Send + Sync {
    async fn logins(&self) -> Result<HashMap<String, String>, RecorderError>;
}

type Logins = HashMap<String, String>;

const GET_ID: &str = "GetId";
const GET_CREDENTIALS: &str = "GetCredentialsForIdentity";

/// Calls made without a recorder time out like the recorder's by default.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15);

/// Temporary credentials from an Amazon Cognito identity pool. Give it to
/// [`crate::Recorder::new`]: the recorder then keeps the pool's identity id
/// next to its store, so the install keeps one identity across restarts.
///
/// ```no_run
/// # fn demo() -> Result<(), kinesis_recorder::RecorderError> {
/// use std::sync::Arc;
/// use kinesis_recorder::{CognitoCredentialsProvider, Recorder, RecorderConfig};
///
/// let credentials = CognitoCredentialsProvider::new("eu-west-1:8f1c1a3e-0000-4000-8000-5f2a0c1e9d7b", "eu-west-1")?;
/// let recorder = Recorder::new(RecorderConfig::new("events.db", "eu-west-1"), Arc::new(credentials))?;
/// # Ok(()) }
/// ```
pub struct CognitoCredentialsProvider {
    identity_pool_id: String,
    url: Url,
    logins: Option<Arc<dyn CognitoLoginsProvider>>,
    /// Set by the recorder once its store is open.
    store: OnceLock<StoreBinding>,
    state: tokio::sync::Mutex<State>,
}

struct StoreBinding {
    file: IdentityFile,
    /// With the recorder's request timeout.
    client: reqwest::Client,
    /// The recorder's request timeout, which also bounds the app's logins
    /// callback (it may hang like any credentials provider).
    timeout: Duration,
}

#[derive(Default)]
struct State {
    /// Whether `identity` was read from the identity file yet.
    loaded: bool,
    identity: Option<Identity>,
    /// The credentials in use and the logins they were fetched with.
    cached: Option<(Fetched, Logins)>,
}

/// Why an exchange with Cognito failed.
enum Failure {
    /// Cognito does not know the identity, or calls it invalid (deleted,
    /// corrupt): get a new one.
    IdentityUnusable(String),
    Other(RecorderError),
}

impl From<RecorderError> for Failure {
    fn from(error: RecorderError) -> Self {
        Failure::Other(error)
    }
}

impl CognitoCredentialsProvider {
    /// A provider for `identity_pool_id` (`region:guid`, as the Cognito
    /// console shows it) in `region`, for guests (unauthenticated
    /// identities) until [`Self::with_logins`] says otherwise.
    pub fn new(identity_pool_id: impl Into<String>, region: &str) -> Result<Self, RecorderError> {
        let identity_pool_id = identity_pool_id.into();
        let pool_region = identity_pool_id.split_once(':').and_then(|(pool_region, guid)| {
            let guid_ok = !guid.is_empty() && guid.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
            guid_ok.then_some(pool_region)
        });
        match pool_region {
            None => {
                return Err(Error::invalid(
                    "identity_pool_id",
                    format!("{identity_pool_id:?} is not an identity pool id such as \"us-east-1:0a1b2c3d-...\""),
                )
                .into())
            }
            Some(pool_region) if pool_region != region => {
                return Err(Error::invalid(
                    "identity_pool_id",
                    format!("{identity_pool_id:?} is a pool of region {pool_region}, not {region}"),
                )
                .into())
            }
            Some(_) => {}
        }
        Ok(CognitoCredentialsProvider {
            url: endpoint::resolve(region, None, "cognito-identity")?,
            identity_pool_id,
            logins: None,
            store: OnceLock::new(),
            state: tokio::sync::Mutex::new(State::default()),
        })
    }

    /// Sends the calls to `endpoint` instead of the regional one (`https://`,
    /// or `http://` to a loopback host).
    pub fn with_endpoint(mut self, endpoint: &str) -> Result<Self, RecorderError> {
        let region = self.identity_pool_id.split(':').next().unwrap_or_default();
        self.url = endpoint::resolve(region, Some(endpoint), "cognito-identity")?;
        Ok(self)
    }

    /// Authenticated identities: `logins` is asked for the user's tokens at
    /// each use (an empty map: a guest).
    pub fn with_logins(mut self, logins: Arc<dyn CognitoLoginsProvider>) -> Self {
        self.logins = Some(logins);
        self
    }

    /// The identity kept next to the store at `database_path`, as
    /// (identity pool id, identity id): what `kinesis-recorder status` shows.
    pub fn stored_identity(database_path: &str) -> Option<(String, String)> {
        IdentityFile::next_to(database_path)
            .read()
            .map(|(pool, identity)| (pool, identity.identity_id))
    }

    /// Keeps the identity id next to the store at `database_path` (read at
    /// the first use) and times calls out after `timeout`. The first
    /// recorder to open its store with this provider keeps it.
    pub(crate) fn bind_to_store(&self, database_path: &str, timeout: Duration) -> crate::error::Result<()> {
        if self.store.get().is_none() {
            let _first_wins = self.store.set(StoreBinding {
                file: IdentityFile::next_to(database_path),
                client: http_client(timeout)?,
                timeout,
            });
        }
        Ok(())
    }

    /// Forgets the credentials (not the identity), so the next use fetches
    /// new ones: after Kinesis called them expired.
    pub(crate) async fn invalidate(&self) {
        self.state.lock().await.cached = None;
    }

    async fn current_logins(&self) -> Result<Logins, RecorderError> {
        let Some(provider) = &self.logins else {
            return Ok(Logins::new());
        };
        let timeout = self.store.get().map_or(DEFAULT_TIMEOUT, |binding| binding.timeout);
        let logins = tokio::time::timeout(timeout, provider.logins())
            .await
            .unwrap_or_else(|_| {
                Err(RecorderError::Credentials {
                    reason: format!(
                        "no answer within {} ms (request_timeout); asked again later",
                        timeout.as_millis()
                    ),
                })
            });
        logins.map_err(|error| {
            let reason = match error {
                RecorderError::Credentials { reason } => reason,
                other => other.to_string(),
            };
            RecorderError::Credentials {
                reason: format!("the Cognito logins callback failed: {reason}"),
            }
        })
    }

    fn remember(&self, state: &mut State, identity: Option<Identity>) {
        if state.identity == identity {
            return;
        }
        if let Some(binding) = self.store.get() {
            if let Err(error) = binding.file.set(&self.identity_pool_id, identity.as_ref()) {
                tracing::warn!(%error, "cannot keep the Cognito identity id next to the store");
            }
        }
        state.identity = identity;
    }

    /// The identity `GetId` answered: a new one (a guest's), or the one
    /// linked to the logins sent.
    fn new_identity(&self, answer: Result<Output, CallFailure>, logins: &Logins) -> Result<String, RecorderError> {
        let identity_id = answer
            .map_err(|failure| self.refused(GET_ID, failure, logins))?
            .identity_id
            .filter(|id| is_word(id))
            .ok_or_else(|| unusable(GET_ID, "no IdentityId"))?;
        tracing::info!(%identity_id, "new Cognito identity");
        Ok(identity_id)
    }

    /// What `GetCredentialsForIdentity` answered: the credentials, and the
    /// identity id Cognito answered with (another one when it merged
    /// identities).
    fn read_credentials(
        &self,
        answer: Result<Output, CallFailure>,
        identity_id: &str,
        logins: &Logins,
    ) -> Result<(AwsCredentials, String), Failure> {
        let output = match answer {
            Ok(output) => output,
            Err(CallFailure::Service {
                code: Some(code),
                message,
                ..
            }) if code == "ResourceNotFoundException" || code == "ValidationException" => {
                return Err(Failure::IdentityUnusable(format!("{code}: {message}")))
            }
            Err(failure) => return Err(self.refused(GET_CREDENTIALS, failure, logins).into()),
        };
        let credentials = output.credentials.map(|c| *c).unwrap_or_default();
        let text = |value: Option<String>, name: &str| {
            value
                .filter(|v| !v.is_empty())
                .ok_or_else(|| unusable(GET_CREDENTIALS, &format!("no Credentials.{name}")))
        };
        // Epoch seconds, whole or not.
        let expiration = credentials
            .expiration
            .filter(|seconds| seconds.is_finite() && *seconds > 0.0)
            .map(|seconds| Duration::from_secs(seconds as u64))
            .ok_or_else(|| unusable(GET_CREDENTIALS, "no Credentials.Expiration in epoch seconds"))?;
        let credentials = AwsCredentials {
            access_key_id: text(credentials.access_key_id, "AccessKeyId")?,
            secret_access_key: text(credentials.secret_key, "SecretKey")?,
            session_token: Some(text(credentials.session_token, "SessionToken")?),
            expiration: Some(UNIX_EPOCH + expiration),
        };
        let answered_id = output
            .identity_id
            .filter(|id| is_word(id))
            .unwrap_or_else(|| identity_id.to_owned());
        Ok((credentials, answered_id))
    }

    /// One unsigned JSON 1.1 call.
    async fn call(&self, operation: &str, input: &Input<'_>) -> Result<Output, CallFailure> {
        let unbound;
        let client = match self.store.get() {
            Some(binding) => &binding.client,
            None => {
                unbound = http_client(DEFAULT_TIMEOUT).map_err(|e| CallFailure::Network(e.to_string()))?;
                &unbound
            }
        };
        let headers = vec![
            ("content-type".to_owned(), "application/x-amz-json-1.1".to_owned()),
            (
                "x-amz-target".to_owned(),
                format!("AWSCognitoIdentityService.{operation}"),
            ),
        ];
        let body = serde_json::to_vec(input).expect("serializing plain strings cannot fail");
        // Cognito calls are unsigned: the Date header has nothing to correct.
        let body = post(client, &self.url, headers, body).await.0?;
        serde_json::from_slice(&body).map_err(|e| CallFailure::Malformed(format!("not the expected JSON: {e}")))
    }

    /// The error an app sees for a failed call: the network and Cognito's
    /// own trouble are network errors (retried, nothing lost); refusals are
    /// credentials errors that name the fix.
    fn refused(&self, operation: &str, failure: CallFailure, logins: &Logins) -> RecorderError {
        let pool = &self.identity_pool_id;
        let (status, code, message) = match failure {
            CallFailure::Network(reason) => {
                return RecorderError::Network {
                    reason: format!("Cognito Identity {operation}: {reason}"),
                }
            }
            CallFailure::Malformed(reason) => return unusable(operation, &reason),
            CallFailure::Credentials(reason) => return RecorderError::Credentials { reason },
            CallFailure::Service { status, code, message } => (status, code.unwrap_or_default(), message),
        };
        let guest = logins.is_empty();
        let fix = match code.as_str() {
            "TooManyRequestsException" | "LimitExceededException" | "InternalErrorException" => {
                return RecorderError::Network {
                    reason: format!("Cognito Identity {operation} is busy ({code}: {message}); will retry"),
                }
            }
            _ if code.is_empty() && (status >= 500 || status == 429) => {
                return RecorderError::Network {
                    reason: format!("Cognito Identity {operation} answered HTTP {status}: {message}"),
                }
            }
            "NotAuthorizedException" if guest => {
                "guest access is off for this identity pool, or this identity has logins linked: turn on \
                 unauthenticated identities in the pool, or supply the user's logins"
            }
            "NotAuthorizedException" => {
                "a login token was refused (expired, or the provider name does not match the pool's \
                 identity providers): return a fresh token from the logins callback"
            }
            "InvalidIdentityPoolConfigurationException" if guest => {
                "the identity pool has no IAM role for unauthenticated identities: set one in the pool"
            }
            "InvalidIdentityPoolConfigurationException" => {
                "the identity pool has no IAM role for authenticated identities: set one in the pool"
            }
            "ResourceNotFoundException" => "check the identity pool id and its region",
            _ => "see the message",
        };
        RecorderError::Credentials {
            reason: format!("Cognito Identity {operation} for pool {pool} refused ({code}: {message}): {fix}"),
        }
    }
}

/// The identity after a successful exchange: the id Cognito answered with,
/// and the logins used now linked to it.
fn linked(kept: Option<&Identity>, identity_id: String, logins: &Logins) -> Identity {
    let mut login_providers = kept.map(|i| i.login_providers.clone()).unwrap_or_default();
    for provider in logins.keys() {
        if !login_providers.contains(provider) && is_word(provider) {
            login_providers.push(provider.clone());
        }
    }
    Identity {
        identity_id,
        login_providers,
    }
}

/// One word of the identity file: an identity id (`region:guid`) or a login
/// provider name, never spaces or line breaks.
fn is_word(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_graphic())
}

fn unusable(operation: &str, reason: &str) -> RecorderError {
    RecorderError::Network {
        reason: format!("Cognito Identity answered {operation} unusably: {reason}"),
    }
}

#[async_trait::async_trait]
impl CredentialsProvider for CognitoCredentialsProvider {
    /// Cached credentials while fresh and the logins unchanged; otherwise
    /// new ones, for the kept identity or a new one.
    async fn credentials(&self) -> Result<AwsCredentials, RecorderError> {
        let logins = self.current_logins().await?;
        let mut state = self.state.lock().await;
        if let Some((fetched, used)) = &state.cached {
            if *used == logins && fetched.is_fresh(SystemTime::now()) {
                return Ok(fetched.credentials.clone());
            }
        }
        state.cached = None;
        if !state.loaded {
            state.loaded = true;
            state.identity = self
                .store
                .get()
                .and_then(|binding| binding.file.get(&self.identity_pool_id));
        }
        let signed_out = state.identity.as_ref().is_some_and(|identity| {
            !identity.login_providers.is_empty() && identity.login_providers.iter().all(|p| !logins.contains_key(p))
        });
        if signed_out {
            self.remember(&mut state, None);
        }
        let mut retried = false;
        loop {
            let identity_id = match &state.identity {
                Some(identity) => identity.identity_id.clone(),
                None => {
                    let input = Input {
                        identity_pool_id: Some(&self.identity_pool_id),
                        identity_id: None,
                        logins: &logins,
                    };
                    let answer = self.call(GET_ID, &input).await;
                    let identity_id = self.new_identity(answer, &logins)?;
                    let identity = Identity {
                        identity_id: identity_id.clone(),
                        login_providers: Vec::new(),
                    };
                    self.remember(&mut state, Some(identity));
                    identity_id
                }
            };
            let input = Input {
                identity_pool_id: None,
                identity_id: Some(&identity_id),
                logins: &logins,
            };
            let answer = self.call(GET_CREDENTIALS, &input).await;
            match self.read_credentials(answer, &identity_id, &logins) {
                Ok((credentials, answered_id)) => {
                    let identity = linked(state.identity.as_ref(), answered_id, &logins);
                    self.remember(&mut state, Some(identity));
                    state.cached = Some((Fetched::now(credentials.clone()), logins));
                    return Ok(credentials);
                }
                Err(Failure::IdentityUnusable(reason)) if !retried => {
                    tracing::warn!(%identity_id, %reason, "Cognito cannot use the kept identity; getting a new one");
                    self.remember(&mut state, None);
                    retried = true;
                }
                Err(Failure::IdentityUnusable(reason)) => {
                    return Err(RecorderError::Credentials {
                        reason: format!(
                            "Cognito Identity refused a new identity of pool {} too ({reason}): check the pool",
                            self.identity_pool_id
                        ),
                    })
                }
                Err(Failure::Other(error)) => return Err(error),
            }
        }
    }
}

/// The input of both calls.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Input<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    identity_pool_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    identity_id: Option<&'a str>,
    #[serde(skip_serializing_if = "HashMap::is_empty")]
    logins: &'a Logins,
}

/// The output of both calls, every field optional, checked where used: the
/// identity id at the top, the credentials in `Credentials` (note
/// `SecretKey`, and the expiration in epoch seconds). One shape serves both
/// levels, so the mobile library carries one JSON reader, not two. No
/// `Debug`: it holds the secrets.
#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct Output {
    identity_id: Option<String>,
    credentials: Option<Box<Output>>,
    access_key_id: Option<String>,
    secret_key: Option<String>,
    session_token: Option<String>,
    expiration: Option<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_ids_are_checked() {
        assert!(CognitoCredentialsProvider::new("us-east-1:0a1b2c3d-0000-4000-8000-5f2a0c1e9d7b", "us-east-1").is_ok());
        for (pool, region) in [
            ("", "us-east-1"),
            ("us-east-1", "us-east-1"),
            ("us-east-1:", "us-east-1"),
            ("us-east-1:a b", "us-east-1"),
            ("eu-west-1:0a1b2c3d", "us-east-1"),
            ("nowhere:0a1b2c3d", "nowhere"),
        ] {
            assert!(
                matches!(
                    CognitoCredentialsProvider::new(pool, region),
                    Err(RecorderError::InvalidInput { .. })
                ),
                "{pool:?} in {region}"
            );
        }
        let provider = CognitoCredentialsProvider::new("cn-north-1:0a1b2c3d", "cn-north-1").unwrap();
        assert_eq!(
            provider.url.as_str(),
            "https://cognito-identity.cn-north-1.amazonaws.com.cn/"
        );
        assert!(matches!(
            provider.with_endpoint("http://10.0.0.1:5000"),
            Err(RecorderError::InvalidInput { .. })
        ));
    }

    #[test]
    fn requests_are_json_1_1_with_logins_only_when_given() {
        let none = Logins::new();
        let body = serde_json::to_value(Input {
            identity_pool_id: Some("us-east-1:p"),
            identity_id: None,
            logins: &none,
        })
        .unwrap();
        assert_eq!(body, serde_json::json!({"IdentityPoolId": "us-east-1:p"}));
        let logins = Logins::from([("cognito-idp.us-east-1.amazonaws.com/us-east-1_X".into(), "tok".into())]);
        let body = serde_json::to_value(Input {
            identity_pool_id: None,
            identity_id: Some("us-east-1:i"),
            logins: &logins,
        })
        .unwrap();
        assert_eq!(
            body,
            serde_json::json!({"IdentityId": "us-east-1:i",
                "Logins": {"cognito-idp.us-east-1.amazonaws.com/us-east-1_X": "tok"}})
        );
    }
}
