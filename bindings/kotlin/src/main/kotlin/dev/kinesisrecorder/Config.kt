// The idiomatic Kotlin layer over the UniFFI-generated bindings (package
// dev.kinesisrecorder.ffi). Shared by the JVM build (bindings/kotlin) and the
// Android library (android/kinesis-recorder). Thin on purpose: every decision
// (defaults, validation, batching, retries) is the Rust core's.
package dev.kinesisrecorder

import dev.kinesisrecorder.ffi.CredentialsProvider
import dev.kinesisrecorder.ffi.KinesisRecorder
import dev.kinesisrecorder.ffi.RecorderConfig
import dev.kinesisrecorder.ffi.RecorderException
import dev.kinesisrecorder.ffi.Service
import dev.kinesisrecorder.ffi.defaultRecorderConfig

/**
 * The core's default configuration for [databasePath] and [region] (Kinesis Data Streams),
 * changed by [configure].
 *
 * The defaults come from the Rust core (`defaultRecorderConfig`); nothing is restated here, so
 * only the fields you set differ. They follow the service (Firehose: 1,000 KiB records, 4 MiB
 * requests), so choose it with the overload that takes one rather than in [configure]:
 *
 * ```
 * val config = recorderConfig(file.path, "eu-west-1") {
 *     maxStorageBytes = 20uL shl 20
 *     whenFull = WhenFull.REJECT_NEW
 *     submitInterval = Duration.ofSeconds(10)
 * }
 * val firehose = recorderConfig(other.path, "eu-west-1", Service.FIREHOSE) { newlineDelimited = true }
 * ```
 *
 * Values are checked when the recorder is created (`RecorderException.InvalidInput` names the
 * field and the accepted range).
 */
fun recorderConfig(
    databasePath: String,
    region: String,
    configure: RecorderConfig.() -> Unit = {},
): RecorderConfig = recorderConfig(databasePath, region, Service.KINESIS_DATA_STREAMS, configure)

/** The core's default configuration of [service] (its limits included), changed by [configure]. */
fun recorderConfig(
    databasePath: String,
    region: String,
    service: Service,
    configure: RecorderConfig.() -> Unit = {},
): RecorderConfig = defaultRecorderConfig(databasePath, region, service).apply(configure)

/**
 * Opens (or creates) the store at [databasePath] and starts the recorder (Kinesis Data Streams),
 * with the core's defaults changed by [configure].
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
 * @throws RecorderException.InvalidInput for a bad configuration value, or a store of the other
 *   service.
 * @throws RecorderException.StorageFailure when the file is not a usable store (see
 *   `moveAsideStore`).
 */
@Throws(RecorderException::class)
fun KinesisRecorder(
    databasePath: String,
    region: String,
    credentials: CredentialsProvider,
    configure: RecorderConfig.() -> Unit = {},
): KinesisRecorder = KinesisRecorder(databasePath, region, credentials, Service.KINESIS_DATA_STREAMS, configure)

/**
 * Like the recorder above, for [service]: `Service.FIREHOSE` sends to Firehose delivery streams
 * (`PutRecordBatch`, no partition keys). A store file belongs to one service: give each recorder
 * its own file.
 */
@Throws(RecorderException::class)
fun KinesisRecorder(
    databasePath: String,
    region: String,
    credentials: CredentialsProvider,
    service: Service,
    configure: RecorderConfig.() -> Unit = {},
): KinesisRecorder = JniKinesisRecorder(recorderConfig(databasePath, region, service, configure), credentials)
