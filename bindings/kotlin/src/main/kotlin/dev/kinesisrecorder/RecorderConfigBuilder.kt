package dev.kinesisrecorder

import dev.kinesisrecorder.ffi.RecorderConfig
import dev.kinesisrecorder.ffi.RecorderException
import dev.kinesisrecorder.ffi.Service
import dev.kinesisrecorder.ffi.TlsRoots
import dev.kinesisrecorder.ffi.WhenFull
import dev.kinesisrecorder.ffi.WireFormat
import dev.kinesisrecorder.ffi.defaultRecorderConfig
import java.time.Duration

/**
 * A [RecorderConfig] built with plain `long` / `int` values, for Java (which cannot set the
 * generated class's unsigned fields) and for Kotlin code that prefers a builder to the
 * `recorderConfig { }` block. Starts from the core's defaults for [service]; only what is set
 * differs.
 *
 * ```java
 * RecorderConfig config = new RecorderConfigBuilder(file.getPath(), "eu-west-1")
 *     .maxStorageBytes(20L << 20)
 *     .maxRecordAge(Duration.ofDays(7))
 *     .build();
 * ```
 *
 * A negative size or count throws [RecorderException.InvalidInput] naming the field; the other
 * ranges are checked, as for every configuration, when the recorder is created.
 */
class RecorderConfigBuilder @JvmOverloads constructor(
    databasePath: String,
    region: String,
    service: Service = Service.KINESIS_DATA_STREAMS,
) {
    private val config = defaultRecorderConfig(databasePath, region, service)

    /** A local server or VPC endpoint (`https://`, or `http://` to loopback); null: the region's. */
    fun endpoint(url: String?) = apply { config.endpoint = url }

    fun maxStorageBytes(bytes: Long) = apply { config.maxStorageBytes = unsigned("maxStorageBytes", bytes) }

    fun whenFull(policy: WhenFull) = apply { config.whenFull = policy }

    /** Null keeps records until they are delivered or evicted. */
    fun maxRecordAge(age: Duration?) = apply { config.maxRecordAge = age }

    fun maxRecordBytes(bytes: Long) = apply { config.maxRecordBytes = unsigned("maxRecordBytes", bytes) }

    fun maxRequestBytes(bytes: Long) = apply { config.maxRequestBytes = unsigned("maxRequestBytes", bytes) }

    fun maxRecordsPerRequest(records: Int) =
        apply { config.maxRecordsPerRequest = unsigned("maxRecordsPerRequest", records) }

    fun maxAttempts(attempts: Int) = apply { config.maxAttempts = unsigned("maxAttempts", attempts) }

    fun autoSubmit(enabled: Boolean) = apply { config.autoSubmit = enabled }

    fun submitInterval(interval: Duration) = apply { config.submitInterval = interval }

    fun submitThresholdRecords(records: Long) =
        apply { config.submitThresholdRecords = unsigned("submitThresholdRecords", records) }

    fun submitThresholdBytes(bytes: Long) =
        apply { config.submitThresholdBytes = unsigned("submitThresholdBytes", bytes) }

    fun notificationByteThreshold(bytes: Long) =
        apply { config.notificationByteThreshold = unsigned("notificationByteThreshold", bytes) }

    fun maxQueuedBytes(bytes: Long) = apply { config.maxQueuedBytes = unsigned("maxQueuedBytes", bytes) }

    fun requestTimeout(timeout: Duration) = apply { config.requestTimeout = timeout }

    fun wireFormat(format: WireFormat) = apply { config.wireFormat = format }

    fun tlsRoots(roots: TlsRoots) = apply { config.tlsRoots = roots }

    fun newlineDelimited(enabled: Boolean) = apply { config.newlineDelimited = enabled }

    /** KPL aggregation of small records (Kinesis Data Streams only; consumers must de-aggregate). */
    fun aggregation(enabled: Boolean) = apply { config.aggregation = enabled }

    fun maxAggregateBytes(bytes: Long) = apply { config.maxAggregateBytes = unsigned("maxAggregateBytes", bytes) }

    /** A copy of the configuration built so far (the builder may go on). */
    fun build(): RecorderConfig = config.copy()

    private fun unsigned(field: String, value: Long): ULong =
        if (value >= 0) value.toULong() else throw negative(field, value)

    private fun unsigned(field: String, value: Int): UInt =
        if (value >= 0) value.toUInt() else throw negative(field, value.toLong())

    private fun negative(field: String, value: Long) =
        RecorderException.InvalidInput("$field must not be negative, got $value")
}
