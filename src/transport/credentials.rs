//! Credentials: the [`CredentialsProvider`] trait apps implement (in Rust,
//! Kotlin or Swift), a static implementation, and the cache that asks the
//! provider only when the credentials it has are about to expire. The
//! built-in Cognito Identity provider lives in [`super::cognito`].
//!
//! Credentials live in memory only: never in the store, never in logs (the
//! `Debug` of [`AwsCredentials`] redacts the secrets).

use std::any::Any;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::cognito::CognitoCredentialsProvider;
use crate::error::RecorderError;

/// AWS credentials: long-term keys, or temporary ones with a session token and
/// an expiry.
#[derive(Clone, PartialEq, Eq)]
#[cfg_attr(feature = "ffi", derive(uniffi::Record))]
pub struct AwsCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
    /// When temporary credentials stop working; the recorder asks for new
    /// ones shortly before.
    pub expiration: Option<SystemTime>,
}

impl fmt::Debug for AwsCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"** redacted **")
            .field("session_token", &self.session_token.as_ref().map(|_| "** redacted **"))
            .field("expiration", &self.expiration)
            .finish()
    }
}

/// Supplies credentials to sign requests: static keys, Cognito, the app's
/// backend... Called from the recorder's background worker, never from the
/// thread that saves; it may make network calls, within `request_timeout`:
/// a call that takes longer is abandoned (dropped: a Kotlin coroutine or a
/// Swift task is cancelled), reported as a `Credentials` failure that says
/// it timed out, and made again later; the records wait. Return
/// `RecorderError::Credentials` when none can be had (waiting for a sign-in,
/// say), or `RecorderError::Network` when the network failed: the records
/// wait either way. Await, never block the calling thread.
///
/// (`Any` lets the recorder recognise its own Cognito provider and give it a
/// place next to the store for its identity id; every type is `Any`.)
#[cfg_attr(feature = "ffi", uniffi::export(with_foreign))]
#[async_trait::async_trait]
pub trait CredentialsProvider: Any + Send + Sync {
    async fn credentials(&self) -> Result<AwsCredentials, RecorderError>;
}

/// Fixed credentials, for devices provisioned with keys and for tests.
#[derive(Debug, Clone)]
pub struct StaticCredentialsProvider {
    credentials: AwsCredentials,
}

impl StaticCredentialsProvider {
    pub fn new(
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<String>,
        session_token: Option<String>,
    ) -> Self {
        StaticCredentialsProvider {
            credentials: AwsCredentials {
                access_key_id: access_key_id.into(),
                secret_access_key: secret_access_key.into(),
                session_token,
                expiration: None,
            },
        }
    }
}

#[async_trait::async_trait]
impl CredentialsProvider for StaticCredentialsProvider {
    async fn credentials(&self) -> Result<AwsCredentials, RecorderError> {
        Ok(self.credentials.clone())
    }
}

/// Credentials are refreshed this long before they expire at the most, so a
/// request never leaves with credentials that expire in flight.
const REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);

/// Credentials and when they were fetched.
#[derive(Clone)]
pub(crate) struct Fetched {
    pub credentials: AwsCredentials,
    pub at: SystemTime,
}

impl Fetched {
    pub fn now(credentials: AwsCredentials) -> Self {
        Fetched {
            credentials,
            at: SystemTime::now(),
        }
    }

    /// Whether they can still be used at `now`: until the smaller of five
    /// minutes and half their lifetime before they expire, so one-hour
    /// credentials last 55 minutes and 90-second ones 45 seconds (rather than
    /// being fetched again for every request).
    pub fn is_fresh(&self, now: SystemTime) -> bool {
        let Some(expiry) = self.credentials.expiration else {
            return true;
        };
        let lifetime = expiry.duration_since(self.at).unwrap_or_default();
        expiry > now + REFRESH_MARGIN.min(lifetime / 2)
    }
}

/// What signs the transport's requests, within a time limit.
pub(crate) struct CredentialsCache {
    source: Source,
    /// How long fetching may take: a hung provider must not stop the worker
    /// (every stream, compaction, every `submit_all_records` caller).
    timeout: Duration,
}

/// The app's provider behind a cache, or the built-in Cognito provider,
/// which keeps its own cache because it must see a change of the app's
/// logins at every use.
enum Source {
    Provider {
        provider: Arc<dyn CredentialsProvider>,
        cached: tokio::sync::Mutex<Option<Fetched>>,
    },
    Cognito(Arc<CognitoCredentialsProvider>),
}

impl CredentialsCache {
    pub fn new(provider: Arc<dyn CredentialsProvider>, timeout: Duration) -> Self {
        let any: Arc<dyn Any + Send + Sync> = provider.clone();
        let source = match any.downcast::<CognitoCredentialsProvider>() {
            Ok(cognito) => Source::Cognito(cognito),
            Err(_) => Source::Provider {
                provider,
                cached: tokio::sync::Mutex::new(None),
            },
        };
        CredentialsCache { source, timeout }
    }

    /// The built-in Cognito provider, when that is what signs.
    pub fn cognito(&self) -> Option<&CognitoCredentialsProvider> {
        match &self.source {
            Source::Cognito(cognito) => Some(cognito),
            Source::Provider { .. } => None,
        }
    }

    /// Cached credentials while they are fresh, otherwise the provider's,
    /// or a `Credentials` error once the time limit is over. (The built-in
    /// Cognito provider bounds each of its calls and the app's logins
    /// callback itself: one limit for its two requests would cut the second.)
    pub async fn get(&self) -> Result<AwsCredentials, RecorderError> {
        let (provider, cached) = match &self.source {
            Source::Cognito(cognito) => return cognito.credentials().await,
            Source::Provider { provider, cached } => (provider, cached),
        };
        tokio::time::timeout(self.timeout, Self::fetch(provider, cached))
            .await
            .unwrap_or_else(|_| {
                Err(RecorderError::Credentials {
                    reason: format!(
                        "the credentials provider timed out: no answer within {} ms (request_timeout); \
                         the records are kept and it is asked again later",
                        self.timeout.as_millis()
                    ),
                })
            })
    }

    async fn fetch(
        provider: &Arc<dyn CredentialsProvider>,
        cached: &tokio::sync::Mutex<Option<Fetched>>,
    ) -> Result<AwsCredentials, RecorderError> {
        let mut cached = cached.lock().await;
        if let Some(fetched) = cached.as_ref().filter(|c| c.is_fresh(SystemTime::now())) {
            return Ok(fetched.credentials.clone());
        }
        let fresh = provider.credentials().await?;
        if fresh.access_key_id.is_empty() || fresh.secret_access_key.is_empty() {
            return Err(RecorderError::Credentials {
                reason: "the credentials provider returned an empty access key id or secret".to_owned(),
            });
        }
        *cached = Some(Fetched::now(fresh.clone()));
        Ok(fresh)
    }

    /// Forgets cached credentials so the next call fetches new ones.
    pub async fn invalidate(&self) {
        match &self.source {
            Source::Cognito(cognito) => cognito.invalidate().await,
            Source::Provider { cached, .. } => *cached.lock().await = None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    struct Counting {
        calls: AtomicU32,
        lifetime: Option<Duration>,
    }

    #[async_trait::async_trait]
    impl CredentialsProvider for Counting {
        async fn credentials(&self) -> Result<AwsCredentials, RecorderError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            Ok(AwsCredentials {
                access_key_id: "AKID".into(),
                secret_access_key: "secret".into(),
                session_token: Some("token".into()),
                expiration: self.lifetime.map(|l| SystemTime::now() + l),
            })
        }
    }

    fn run<T>(f: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap()
            .block_on(f)
    }

    fn calls_for_two_uses(lifetime: Option<Duration>) -> u32 {
        let provider = Arc::new(Counting {
            calls: AtomicU32::new(0),
            lifetime,
        });
        let cache = CredentialsCache::new(provider.clone(), Duration::from_secs(5));
        run(async {
            cache.get().await.unwrap();
            cache.get().await.unwrap();
        });
        provider.calls.load(Ordering::SeqCst)
    }

    #[test]
    fn caches_until_shortly_before_expiry() {
        let minute = |m: u64| Some(Duration::from_secs(60 * m));
        assert_eq!(calls_for_two_uses(None), 1, "credentials that never expire");
        assert_eq!(calls_for_two_uses(minute(60)), 1, "one-hour credentials");
        // Shorter than the five-minute margin: kept for half their lifetime,
        // not fetched again for every request.
        assert_eq!(calls_for_two_uses(minute(1)), 1, "one-minute credentials");
        assert_eq!(
            calls_for_two_uses(Some(Duration::from_secs(90))),
            1,
            "moto's 90-second credentials"
        );
        assert_eq!(calls_for_two_uses(Some(Duration::ZERO)), 2, "already expired");
    }

    #[test]
    fn the_margin_is_five_minutes_or_half_the_lifetime() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let fetched = |lifetime: u64| Fetched {
            credentials: AwsCredentials {
                access_key_id: "AKID".into(),
                secret_access_key: "secret".into(),
                session_token: None,
                expiration: Some(t0 + Duration::from_secs(lifetime)),
            },
            at: t0,
        };
        let at = |s: u64| t0 + Duration::from_secs(s);
        // One hour: refreshed five minutes before the end.
        assert!(fetched(3600).is_fresh(at(3600 - 301)));
        assert!(!fetched(3600).is_fresh(at(3600 - 300)));
        // 90 seconds: half the lifetime (45 s) is the smaller margin.
        assert!(fetched(90).is_fresh(at(44)));
        assert!(!fetched(90).is_fresh(at(45)));
        // Ten minutes: exactly at the boundary, both rules give five minutes.
        assert!(fetched(600).is_fresh(at(299)));
        assert!(!fetched(600).is_fresh(at(300)));
        // Expiry in the past of the fetch (a wrong clock): never fresh.
        let mut stale = fetched(0);
        stale.credentials.expiration = Some(t0 - Duration::from_secs(10));
        assert!(!stale.is_fresh(t0));
    }

    #[test]
    fn invalidate_forces_a_refresh() {
        let provider = Arc::new(Counting {
            calls: AtomicU32::new(0),
            lifetime: None,
        });
        let cache = CredentialsCache::new(provider.clone(), Duration::from_secs(5));
        run(async {
            cache.get().await.unwrap();
            cache.invalidate().await;
            cache.get().await.unwrap();
        });
        assert_eq!(provider.calls.load(Ordering::SeqCst), 2);
    }

    struct Hung;

    #[async_trait::async_trait]
    impl CredentialsProvider for Hung {
        async fn credentials(&self) -> Result<AwsCredentials, RecorderError> {
            std::future::pending().await
        }
    }

    #[test]
    fn a_provider_that_never_answers_times_out() {
        let cache = CredentialsCache::new(Arc::new(Hung), Duration::from_millis(50));
        let error = run(cache.get()).unwrap_err().to_string();
        assert!(error.contains("timed out"), "{error}");
    }

    #[test]
    fn debug_never_shows_secrets() {
        let text = format!(
            "{:?}",
            StaticCredentialsProvider::new("AKID", "very-secret", Some("tok-secret".into()))
        );
        assert!(!text.contains("very-secret") && !text.contains("tok-secret"), "{text}");
    }
}
