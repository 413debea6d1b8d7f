//! Credentials: the [`CredentialsProvider`] trait apps implement (in Rust,
//! Kotlin or Swift), a static implementation, and the cache that asks the
//! provider only when the credentials it has are about to expire.
//!
//! Credentials live in memory only: never in the store, never in logs (the
//! `Debug` of [`AwsCredentials`] redacts the secrets).

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

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
/// say): the records wait too. Await, never block the calling thread.
#[cfg_attr(feature = "ffi", uniffi::export(with_foreign))]
#[async_trait::async_trait]
pub trait CredentialsProvider: Send + Sync {
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

/// Credentials expiring within this margin are refreshed before use, so a
/// request never leaves with credentials that expire in flight.
const REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);

pub(crate) struct CredentialsCache {
    provider: Arc<dyn CredentialsProvider>,
    cached: tokio::sync::Mutex<Option<AwsCredentials>>,
    /// How long the provider may take: a hung one must not stop the worker
    /// (every stream, compaction, every `submit_all_records` caller).
    timeout: Duration,
}

impl CredentialsCache {
    pub fn new(provider: Arc<dyn CredentialsProvider>, timeout: Duration) -> Self {
        CredentialsCache {
            provider,
            cached: tokio::sync::Mutex::new(None),
            timeout,
        }
    }

    /// Cached credentials while they are fresh, otherwise the provider's.
    pub async fn get(&self) -> Result<AwsCredentials, String> {
        let mut cached = self.cached.lock().await;
        if let Some(credentials) = cached.as_ref().filter(|c| is_fresh(c, SystemTime::now())) {
            return Ok(credentials.clone());
        }
        let fresh = tokio::time::timeout(self.timeout, self.provider.credentials())
            .await
            .map_err(|_| {
                format!(
                    "the credentials provider timed out: no answer within {} ms (request_timeout); \
                     the records are kept and it is asked again later",
                    self.timeout.as_millis()
                )
            })?
            .map_err(|e| e.to_string())?;
        if fresh.access_key_id.is_empty() || fresh.secret_access_key.is_empty() {
            return Err("the credentials provider returned an empty access key id or secret".to_owned());
        }
        *cached = Some(fresh.clone());
        Ok(fresh)
    }

    pub async fn invalidate(&self) {
        *self.cached.lock().await = None;
    }
}

fn is_fresh(credentials: &AwsCredentials, now: SystemTime) -> bool {
    credentials
        .expiration
        .is_none_or(|expiry| expiry > now + REFRESH_MARGIN)
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

    #[test]
    fn caches_until_shortly_before_expiry() {
        let long = Arc::new(Counting {
            calls: AtomicU32::new(0),
            lifetime: Some(Duration::from_secs(3600)),
        });
        let cache = CredentialsCache::new(long.clone(), Duration::from_secs(5));
        run(async {
            cache.get().await.unwrap();
            cache.get().await.unwrap();
        });
        assert_eq!(long.calls.load(Ordering::SeqCst), 1);

        let short = Arc::new(Counting {
            calls: AtomicU32::new(0),
            lifetime: Some(Duration::from_secs(60)),
        });
        let cache = CredentialsCache::new(short.clone(), Duration::from_secs(5));
        run(async {
            cache.get().await.unwrap();
            cache.get().await.unwrap();
        });
        assert_eq!(short.calls.load(Ordering::SeqCst), 2);
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
        let error = run(cache.get()).unwrap_err();
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
