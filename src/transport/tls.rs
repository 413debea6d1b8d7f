//! Which certificates the HTTPS client trusts ([`TlsRoots`]): the one place
//! the certificate verifier is chosen, as a rustls configuration for reqwest.
//!
//! `Platform` asks the operating system (rustls-platform-verifier), so
//! certificates installed by the user or by device management, corporate
//! TLS inspection and Android's Network Security Config apply as they do to
//! the platform's own HTTP stack. `Bundled` trusts only Mozilla's roots
//! compiled into the library (webpki-roots, feature `bundled-roots`, which
//! the mobile libraries leave out).

use std::sync::Arc;

use rustls::{ClientConfig, RootCertStore};
use rustls_platform_verifier::BuilderVerifierExt;

use crate::config::TlsRoots;
use crate::error::{Error, Result};

/// The TLS configuration of the HTTPS client for `roots`.
pub(crate) fn client_config(roots: TlsRoots) -> Result<ClientConfig> {
    let builder = ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Network(format!("cannot set up TLS: {e}")))?;
    let mut config = match roots {
        TlsRoots::Platform => {
            #[cfg(target_os = "android")]
            android::ensure_initialized()?;
            builder
                .with_platform_verifier()
                .map_err(|e| {
                    Error::invalid(
                        "tls_roots",
                        format!("the platform's certificate verifier is unavailable ({e}); use TlsRoots::Bundled"),
                    )
                })?
                .with_no_client_auth()
        }
        TlsRoots::Bundled => builder.with_root_certificates(bundled_roots()?).with_no_client_auth(),
    };
    // reqwest leaves ALPN to a preconfigured client: offer what this build speaks.
    config.alpn_protocols = if cfg!(feature = "http2") {
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    } else {
        vec![b"http/1.1".to_vec()]
    };
    Ok(config)
}

/// Refuses a choice this build cannot honour (`RecorderConfig::validate`).
pub(crate) fn check_available(roots: TlsRoots) -> Result<()> {
    if roots == TlsRoots::Bundled && !cfg!(feature = "bundled-roots") {
        return bundled_roots().map(drop);
    }
    Ok(())
}

#[cfg(feature = "bundled-roots")]
fn bundled_roots() -> Result<RootCertStore> {
    Ok(RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    })
}

#[cfg(not(feature = "bundled-roots"))]
fn bundled_roots() -> Result<RootCertStore> {
    Err(Error::invalid(
        "tls_roots",
        "Bundled: this build has no roots compiled in (the mobile libraries leave out the `bundled-roots` \
         feature); use Platform",
    ))
}

/// Android's verifier calls into the JVM, so it needs the app's Context
/// before the first connection: the Android library passes it through this
/// JNI entry point when it creates a recorder.
#[cfg(target_os = "android")]
mod android {
    use std::sync::atomic::{AtomicBool, Ordering};

    use jni::objects::{JClass, JObject};
    use jni::JNIEnv;

    use crate::error::{Error, Result};

    static INITIALIZED: AtomicBool = AtomicBool::new(false);

    /// `dev.kinesisrecorder.android.PlatformTrust.nativeInitialize(Context)`, given the
    /// application's Context.
    #[no_mangle]
    pub extern "system" fn Java_dev_kinesisrecorder_android_PlatformTrust_nativeInitialize(
        mut env: JNIEnv,
        _class: JClass,
        context: JObject,
    ) {
        match rustls_platform_verifier::android::init_with_env(&mut env, context) {
            Ok(()) => INITIALIZED.store(true, Ordering::Release),
            Err(error) => {
                if !env.exception_check().unwrap_or(true) {
                    let _ = env.throw_new(
                        "java/lang/IllegalStateException",
                        format!("cannot set up the platform's certificate verifier: {error}"),
                    );
                }
            }
        }
    }

    /// Without the Context the verifier would panic in the first handshake:
    /// refuse the configuration instead.
    pub(super) fn ensure_initialized() -> Result<()> {
        if INITIALIZED.load(Ordering::Acquire) {
            return Ok(());
        }
        Err(Error::invalid(
            "tls_roots",
            "TlsRoots.PLATFORM on Android needs the app's Context: create the recorder with \
             KinesisRecorderAndroid.create(context, ...) or call PlatformTrust.initialize(context) first",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_roots_are_offered_only_by_builds_that_have_them() {
        check_available(TlsRoots::Platform).unwrap();
        let bundled = check_available(TlsRoots::Bundled);
        assert_eq!(bundled.is_ok(), cfg!(feature = "bundled-roots"), "{bundled:?}");
        if let Err(error) = bundled {
            assert!(
                matches!(error, Error::InvalidInput { field: "tls_roots", .. }),
                "{error:?}"
            );
            assert!(error.to_string().contains("use Platform"), "{error}");
        }
    }

    #[test]
    fn the_tls_configuration_offers_the_http_versions_of_this_build() {
        let config = client_config(TlsRoots::Platform).unwrap();
        let offered: &[&[u8]] = if cfg!(feature = "http2") {
            &[b"h2", b"http/1.1"]
        } else {
            &[b"http/1.1"]
        };
        assert_eq!(config.alpn_protocols, offered);
    }
}
