// The idiomatic Kotlin layer over the UniFFI-generated bindings (package
// dev.kinesisrecorder.ffi). Shared by the JVM build (bindings/kotlin) and the
// Android library (android/kinesis-recorder). Thin on purpose: every decision
// (defaults, validation, batching, retries) is the Rust core's.
package dev.kinesisrecorder

import dev.kinesisrecorder.ffi.CredentialsProvider
import dev.kinesisrecorder.ffi.KinesisRecorder
import dev.kinesisrecorder.ffi.RecorderConfig
import dev.kinesisrecorder.ffi.RecorderException
import dev.kinesisrecorder.ffi.defaultRecorderConfig

/**
 * The core's default configuration for [databasePath] and [region], changed by [configure].
 *
 * The defaults come from the Rust core (`defaultRecorderConfig`); nothing is restated here, so
 * only the fields you set differ:
 *
 * ```
 * val config = recorderConfig(file.path, "eu-west-1") {
 *     maxStorageBytes = 20uL shl 20
 *     whenFull = WhenFull.REJECT_NEW
 *     submitInterval = Duration.ofSeconds(10)
 * }
 * ```
 *
 * Values are checked when the recorder is created (`RecorderException.InvalidInput` names the
 * field and the accepted range).
 */
fun recorderConfig(
    databasePath: String,
    region: String,
    configure: RecorderConfig.() -> Unit = {},
): RecorderConfig = defaultRecorderConfig(databasePath, region).apply(configure)

/**
 * Opens (or creates) the store at [databasePath] and starts the recorder, with the core's
 * defaults changed by [configure].
 *
 * Opening touches the SQLite file (milliseconds): call it once at start-up, off the UI thread if
 * you can. Close the recorder (`use {}` or `close()`) when done: that commits queued saves and
 * stops its threads.
 *
 * Its saves (`saveRecord`, `saveRecordWithHashKey`, `saveRecords`) take a direct JNI path: about
 * a microsecond and no garbage per save, where the generated constructor's object goes through
 * JNA. After `close()` a save throws [RecorderException.ShutDown]; every other call throws
 * `IllegalStateException`.
 *
 * @throws RecorderException.InvalidInput for a bad configuration value.
 * @throws RecorderException.StorageFailure when the file is not a usable store (see
 *   `moveAsideStore`).
 */
@Throws(RecorderException::class)
fun KinesisRecorder(
    databasePath: String,
    region: String,
    credentials: CredentialsProvider,
    configure: RecorderConfig.() -> Unit = {},
): KinesisRecorder = JniKinesisRecorder(recorderConfig(databasePath, region, configure), credentials)
