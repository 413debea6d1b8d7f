//! A direct JNI entry point for single saves (`saveRecord`, `saveRecordWithHashKey`), called by
//! the Kotlin layer's `dev.kinesisrecorder.NativeSaves`. Everything else, `saveRecords` included,
//! stays on the UniFFI (JNA) bindings. Through JNA a save cost ~30 µs and ~15 KB of garbage
//! (RustBuffers and JNA structures per call); a JNI call with a byte array and two strings costs
//! well under a microsecond and allocates nothing on the Java heap. (`saveRecords` through JNI
//! cost 6.8 KB of the size-bound mobile library, more than the margin left; a batch pays JNA's
//! per-call cost once.)
//!
//! Each entry point only converts its arguments and calls the same [`KinesisRecorder`] method the
//! UniFFI scaffolding calls: validation, queueing and errors are the core's.
//!
//! - **Handle.** Kotlin passes the `handle` UniFFI gave its `KinesisRecorder` object: the pointer
//!   of an `Arc<KinesisRecorder>` leaked by `uniffi::ffi::Handle::from_arc` (a test below
//!   checks that this is still how UniFFI lowers the object). It is borrowed, not cloned: the
//!   Kotlin subclass (`JniKinesisRecorder`) counts saves in flight and frees the UniFFI handle
//!   only when `close()` was called *and* the last save returned; a save after `close()` never
//!   reaches Rust (it throws `RecorderException.ShutDown`).
//! - **Strings** cross as UTF-16 (`GetStringRegion` into a stack buffer, `String::from_utf16`),
//!   never as JNI's *modified* UTF-8, which encodes NUL and supplementary characters (emoji)
//!   differently from UTF-8. A lone surrogate is `InvalidInput` (UniFFI 0.32's encoder throws a
//!   `CharacterCodingException` for it, after cloning the object's handle, which then leaks).
//! - **Errors** come back as the return value: `null` for success, else a string whose first
//!   character names the [`RecorderError`] variant (see [`failure_text`]) followed by its reason;
//!   Kotlin throws the same `RecorderException` subclass the UniFFI bindings throw. A panic is
//!   caught and reported as `P` (Kotlin throws UniFFI's `InternalException`), never unwound into
//!   the JVM.
//! - **Registration.** The JVM binds `Java_dev_kinesisrecorder_NativeSaves_saveRecord` by name once the
//!   Kotlin layer has loaded this same file with `System.load` (the file JNA opened) or, on
//!   Android, `System.loadLibrary`. No `JNI_OnLoad`, no `RegisterNatives`.
//!
//! Compiled with the `ffi` feature except for iOS (no JVM there). Raw `jni-sys` declarations
//! keep it to 4.4 KB of the stripped mobile library; the same function with the `jni` crate cost
//! 2.7 times as much in a test library.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;

use jni_sys::{jbyteArray, jclass, jlong, jsize, jstring, JNIEnv};

use super::KinesisRecorder;
use crate::error::Error;
use crate::RecorderError;

/// `NativeSaves.saveRecord(handle, data, streamName, partitionKey?, explicitHashKey?): String?`
///
/// # Safety
/// Called by the JVM with a valid `env`, and with the handle of a live `KinesisRecorder`.
#[no_mangle]
pub unsafe extern "system" fn Java_dev_kinesisrecorder_NativeSaves_saveRecord(
    env: *mut JNIEnv,
    _class: jclass,
    handle: jlong,
    data: jbyteArray,
    stream_name: jstring,
    partition_key: jstring,
    explicit_hash_key: jstring,
) -> jstring {
    let env = Env(env);
    env.answer(|| {
        let recorder = recorder(handle)?;
        let data = env.bytes(data)?;
        let stream_name = env.string(stream_name, "stream name")?.unwrap_or_default();
        let partition_key = env.string(partition_key, "partition key")?;
        let explicit_hash_key = env.string(explicit_hash_key, "explicit hash key")?;
        recorder.save_record_with_hash_key(data, stream_name, partition_key, explicit_hash_key)
    })
}

/// The object behind a UniFFI handle, borrowed for one call.
///
/// # Safety
/// `handle` is the handle UniFFI gave Kotlin for a `KinesisRecorder` that is not freed before
/// the call returns (the Kotlin caller holds it open).
unsafe fn recorder<'a>(handle: jlong) -> Result<&'a KinesisRecorder, Error> {
    let pointer = uniffi::ffi::Handle::from_raw_unchecked(handle as u64).as_pointer::<KinesisRecorder>();
    // A zero handle is a fake `NoHandle` object: nothing to save into.
    pointer.as_ref().ok_or(Error::ShutDown)
}

/// The answer Kotlin decodes: the variant's letter, then its reason, as UTF-16. `P` is a caught
/// panic. Kotlin's table is `NativeSaves.exception`; keep the two in step.
fn failure_text(error: &RecorderError) -> Vec<u16> {
    let (letter, reason) = match error {
        RecorderError::InvalidInput { reason } => ('I', reason.as_str()),
        RecorderError::StorageFull { reason } => ('F', reason.as_str()),
        RecorderError::Overloaded { reason } => ('O', reason.as_str()),
        RecorderError::StorageFailure { reason } => ('S', reason.as_str()),
        RecorderError::Network { reason } => ('N', reason.as_str()),
        RecorderError::Credentials { reason } => ('C', reason.as_str()),
        RecorderError::ShutDown => ('D', ""),
    };
    utf16(letter, reason)
}

fn utf16(letter: char, text: &str) -> Vec<u16> {
    let mut units = vec![letter as u16];
    units.extend(text.encode_utf16());
    units
}

/// The calling thread's JNI environment, valid for the duration of one native call.
#[derive(Clone, Copy)]
struct Env(*mut JNIEnv);

impl Env {
    /// Runs a save and turns its outcome into the Java return value.
    fn answer(self, save: impl FnOnce() -> Result<(), RecorderError>) -> jstring {
        let units = match catch_unwind(AssertUnwindSafe(save)) {
            Ok(Ok(())) => return ptr::null_mut(),
            Ok(Err(error)) => failure_text(&error),
            Err(_) => utf16('P', "a panic in the native save path"),
        };
        // On failure (out of memory) NewString returns null with the Java exception pending,
        // which the JVM throws on return: never a silent success.
        unsafe { ((**self.0).v1_1.NewString)(self.0, units.as_ptr(), units.len() as jsize) }
    }

    /// A copy of a Java `byte[]`.
    fn bytes(self, array: jbyteArray) -> Result<Vec<u8>, Error> {
        if array.is_null() {
            return Err(Error::invalid("data", "null"));
        }
        let len = unsafe { ((**self.0).v1_1.GetArrayLength)(self.0, array) };
        let mut data = Vec::<u8>::with_capacity(len as usize);
        unsafe {
            ((**self.0).v1_1.GetByteArrayRegion)(self.0, array, 0, len, data.as_mut_ptr().cast());
            data.set_len(len as usize);
        }
        Ok(data)
    }

    /// A Java string, read as UTF-16; `None` for null.
    fn string(self, string: jstring, field: &'static str) -> Result<Option<String>, Error> {
        if string.is_null() {
            return Ok(None);
        }
        let len = unsafe { ((**self.0).v1_1.GetStringLength)(self.0, string) };
        // Stream names (128) and partition keys (256) fit on the stack; longer input is invalid
        // anyway and only reaches the validation that says so.
        let mut stack = [0u16; 256];
        let mut heap = Vec::new();
        let units = if len as usize <= stack.len() {
            &mut stack[..len as usize]
        } else {
            heap.resize(len as usize, 0);
            &mut heap[..]
        };
        unsafe { ((**self.0).v1_2.GetStringRegion)(self.0, string, 0, len, units.as_mut_ptr()) };
        String::from_utf16(units)
            .map(Some)
            .map_err(|_| Error::invalid(field, "is not valid UTF-16 (it holds a lone surrogate)"))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::{RecorderConfig, StaticCredentialsProvider};

    /// The JNI path borrows the object behind the handle UniFFI hands Kotlin; if UniFFI ever
    /// changes how it lowers an object, this fails instead of the JVM crashing.
    #[test]
    fn a_uniffi_handle_is_the_object_the_jni_path_borrows() {
        let dir = tempfile::tempdir().unwrap();
        let config = RecorderConfig::new(dir.path().join("s.db").to_str().unwrap(), "us-east-1");
        let credentials = Arc::new(StaticCredentialsProvider::new("AKID", "SECRET", None));
        let object = KinesisRecorder::new(config, credentials).unwrap();
        let expected: *const KinesisRecorder = Arc::as_ptr(&object);
        let handle = <Arc<KinesisRecorder> as uniffi::Lower<crate::UniFfiTag>>::lower(object.clone());
        let borrowed = unsafe { recorder(handle.as_raw() as jlong) }.unwrap();
        assert!(ptr::eq(borrowed, expected));
        borrowed
            .save_record(b"x".to_vec(), "s".into(), Some("k".into()))
            .unwrap();
        // Give the handle back as UniFFI's free function would.
        drop(unsafe { handle.into_arc::<KinesisRecorder>() });
        assert_eq!(Arc::strong_count(&object), 1);
        assert!(matches!(unsafe { recorder(0) }, Err(Error::ShutDown)));
    }

    /// Kotlin (`NativeSaves.exception`) reads the first letter; every variant has its own.
    #[test]
    fn every_error_has_its_own_letter_then_its_reason() {
        let reason = || "why: ✓ 🎉".to_owned();
        let errors = [
            (RecorderError::InvalidInput { reason: reason() }, 'I'),
            (RecorderError::StorageFull { reason: reason() }, 'F'),
            (RecorderError::Overloaded { reason: reason() }, 'O'),
            (RecorderError::StorageFailure { reason: reason() }, 'S'),
            (RecorderError::Network { reason: reason() }, 'N'),
            (RecorderError::Credentials { reason: reason() }, 'C'),
        ];
        for (error, letter) in errors {
            let text = String::from_utf16(&failure_text(&error)).unwrap();
            assert_eq!(text, format!("{letter}{}", reason()));
        }
        assert_eq!(failure_text(&RecorderError::ShutDown), [u16::from(b'D')]);
    }
}
