package dev.kinesisrecorder

import dev.kinesisrecorder.ffi.CredentialsProvider
import dev.kinesisrecorder.ffi.DropReason
import dev.kinesisrecorder.ffi.FailureKind
import dev.kinesisrecorder.ffi.KinesisRecorderInterface
import dev.kinesisrecorder.ffi.RecordToSave
import dev.kinesisrecorder.ffi.RecorderConfig
import dev.kinesisrecorder.ffi.RecorderEvent
import dev.kinesisrecorder.ffi.RecorderException
import dev.kinesisrecorder.ffi.RecorderStats
import dev.kinesisrecorder.ffi.StreamError
import dev.kinesisrecorder.ffi.SubmitReport
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.future.future
import kotlinx.coroutines.runBlocking
import java.time.Duration
import java.util.concurrent.CompletableFuture

/**
 * The recorder for Java callers: every call of [KinesisRecorderInterface] without Kotlin's
 * `suspend` functions and unsigned types. Submissions block or return a [CompletableFuture];
 * sizes and counts are `long`; events reach a plain [EventListener].
 *
 * ```java
 * try (JavaRecorder recorder = JavaRecorder.open(
 *         new RecorderConfigBuilder(file.getPath(), "eu-west-1").maxStorageBytes(20L << 20).build(),
 *         Credentials.blockingCredentials(backend::fetchCredentials))) {
 *     recorder.saveRecord(json, "clicks", userId);
 *     recorder.submitAllRecordsAsync().thenAccept(report -> log(report.getRecordsSubmitted()));
 * }
 * ```
 *
 * On Android, wrap the recorder `KinesisRecorderAndroid.create` returns: `new
 * JavaRecorder(androidRecorder)` (its network, lifecycle and background delivery keep working).
 */
class JavaRecorder(
    /** The recorder this one calls: a `KinesisRecorder` or an `AndroidKinesisRecorder`. */
    val recorder: KinesisRecorderInterface,
) : AutoCloseable {
    /** Saves [data] with a random partition key. Validated and queued; no I/O on this thread. */
    @Throws(RecorderException::class)
    fun saveRecord(data: ByteArray, streamName: String) = recorder.saveRecord(data, streamName, null)

    @Throws(RecorderException::class)
    fun saveRecord(data: ByteArray, streamName: String, partitionKey: String?) =
        recorder.saveRecord(data, streamName, partitionKey)

    /** Saves [text] as UTF-8, like the AWS recorder's `saveRecord(String, streamName)`. */
    @Throws(RecorderException::class)
    fun saveRecord(text: String, streamName: String) = recorder.saveRecord(text, streamName)

    @Throws(RecorderException::class)
    fun saveRecord(text: String, streamName: String, partitionKey: String?) =
        recorder.saveRecord(text, streamName, partitionKey)

    @Throws(RecorderException::class)
    fun saveRecordWithHashKey(data: ByteArray, streamName: String, partitionKey: String?, explicitHashKey: String?) =
        recorder.saveRecordWithHashKey(data, streamName, partitionKey, explicitHashKey)

    /** All validated, then all queued or none. */
    @Throws(RecorderException::class)
    fun saveRecords(records: List<RecordToSave>) = recorder.saveRecords(records)

    /** Blocks until every record saved so far is on disk. */
    @Throws(RecorderException::class)
    fun flush() = recorder.flush()

    /**
     * Submits everything pending and blocks until done, like the AWS recorder's
     * `submitAllRecords()`: not on the main thread. The work runs on the recorder's own thread.
     */
    @Throws(RecorderException::class, InterruptedException::class)
    fun submitAllRecords(): Report = runBlocking { Report(recorder.submitAllRecords()) }

    /**
     * Submits everything pending without blocking: the future completes with the [Report], or
     * exceptionally with the [RecorderException] (`IllegalStateException` once closed).
     * Cancelling it abandons the wait, not the submission.
     */
    fun submitAllRecordsAsync(): CompletableFuture<Report> = futures.future { Report(recorder.submitAllRecords()) }

    /**
     * [submitAllRecords] that returns by [deadline] at the latest: what is not delivered by then
     * stays pending ([Report.deadlineReached]). A zero deadline throws `InvalidInput`.
     */
    @Throws(RecorderException::class, InterruptedException::class)
    fun submitAllRecords(deadline: Duration): Report = runBlocking { Report(recorder.submitAllRecordsWithin(deadline)) }

    /** [submitAllRecordsAsync] with a [deadline], as [submitAllRecords] with one. */
    fun submitAllRecordsAsync(deadline: Duration): CompletableFuture<Report> =
        futures.future { Report(recorder.submitAllRecordsWithin(deadline)) }

    /** Asks the recorder's thread to submit everything pending and returns at once. */
    fun submitInBackground() = recorder.requestSubmit()

    /** Tells the recorder whether the network is available (the Android library does it itself). */
    fun setNetworkAvailable(available: Boolean) = recorder.setNetworkAvailable(available)

    /** Deletes every pending record; returns how many (`RecordsDropped` events, reason `DELETED`). */
    @Throws(RecorderException::class)
    fun deleteAllRecords(): Long = recorder.deleteAllRecords().toLong()

    /** Bytes of pending records (data + partition keys): what counts against the limit. */
    fun diskBytesUsed(): Long = recorder.diskBytesUsed().toLong()

    /** Bytes the store's files take on disk. */
    fun diskFileBytes(): Long = recorder.diskFileBytes().toLong()

    /** The configuration's `maxStorageBytes`. */
    fun diskByteLimit(): Long = recorder.diskByteLimit().toLong()

    @Throws(RecorderException::class)
    fun stats(): Stats = Stats(recorder.stats())

    /**
     * Calls [listener] with every event from now on, in order, on the recorder's event thread
     * (it may call the recorder; return quickly). Any number of listeners (and Kotlin `events()`
     * collectors) may listen at once. Close the returned handle to stop; an exception the
     * listener throws is dropped with its event.
     */
    fun addListener(listener: EventListener): AutoCloseable {
        val hub = EventHub.of(recorder)
        val sink: (RecorderEvent) -> Unit = { event -> runCatching { listener.onEvent(Event.of(event)) } }
        hub.subscribe(recorder, sink)
        return AutoCloseable { hub.unsubscribe(recorder, sink) }
    }

    /** Commits queued saves and stops the recorder's threads; later calls throw. */
    override fun close() {
        (recorder as? AutoCloseable)?.close() ?: recorder.shutdown()
    }

    /** Receives the recorder's events: see [addListener]. */
    fun interface EventListener {
        fun onEvent(event: Event)
    }

    /** [RecorderEvent] with `long` counts. */
    sealed class Event {
        /** The service acknowledged [count] records of [streamName]. */
        class RecordsSubmitted(val streamName: String, val count: Long) : Event()

        /** [count] records of [streamName] left the store undelivered (the AWS recorder's dead letters). */
        class RecordsDropped(val streamName: String, val reason: DropReason, val count: Long) : Event()

        /** Stored bytes rose past the configuration's `notificationByteThreshold`. */
        class StorageThresholdCrossed(val bytesUsed: Long, val threshold: Long) : Event()

        /** A request for [streamName] failed; the records are kept (retried when [willRetry]). */
        class SubmissionFailed(
            val streamName: String,
            val kind: FailureKind,
            val code: String?,
            val message: String,
            val willRetry: Boolean,
        ) : Event()

        companion object {
            @JvmStatic
            fun of(event: RecorderEvent): Event = when (event) {
                is RecorderEvent.RecordsSubmitted -> RecordsSubmitted(event.streamName, event.count.toLong())
                is RecorderEvent.RecordsDropped -> RecordsDropped(event.streamName, event.reason, event.count.toLong())
                is RecorderEvent.StorageThresholdCrossed ->
                    StorageThresholdCrossed(event.bytesUsed.toLong(), event.threshold.toLong())
                is RecorderEvent.SubmissionFailed ->
                    SubmissionFailed(event.streamName, event.kind, event.code, event.message, event.willRetry)
            }
        }
    }

    /** [SubmitReport] with `long` counts. */
    class Report(report: SubmitReport) {
        /** Records acknowledged by the service. */
        val recordsSubmitted: Long = report.recordsSubmitted.toLong()

        /** Kinesis records those records went out in (fewer with KPL aggregation on). */
        val kinesisRecordsSubmitted: Long = report.kinesisRecordsSubmitted.toLong()

        /** Per-record rejections that will be retried. */
        val recordsRetried: Long = report.recordsRetried.toLong()

        /** Records that left undelivered (attempts exhausted, expired). */
        val recordsDropped: Long = report.recordsDropped.toLong()

        /** Records still pending when the call returned. */
        val recordsRemaining: Long = report.recordsRemaining.toLong()

        /** PutRecords (or PutRecordBatch) calls made. */
        val requests: Long = report.requests.toLong()

        /** Nothing was sent because the network was marked unavailable. */
        val networkUnavailable: Boolean = report.networkUnavailable

        /** The call's deadline came before everything was sent (what is left stays pending). */
        val deadlineReached: Boolean = report.deadlineReached

        /** One entry per stream whose submission stopped on an error (the records are kept). */
        val errors: List<StreamError> = report.errors

        override fun toString() =
            "Report(submitted=$recordsSubmitted, kinesisRecords=$kinesisRecordsSubmitted, retried=$recordsRetried, dropped=$recordsDropped, " +
                "remaining=$recordsRemaining, requests=$requests, networkUnavailable=$networkUnavailable, " +
                "deadlineReached=$deadlineReached, errors=$errors)"
    }

    /** [RecorderStats] with `long` counts. */
    class Stats(stats: RecorderStats) {
        val pendingRecords: Long = stats.pendingRecords.toLong()
        val pendingBytes: Long = stats.pendingBytes.toLong()
        val fileBytes: Long = stats.fileBytes.toLong()
        val queuedRecords: Long = stats.queuedRecords.toLong()
        val oldestPendingAge: Duration? = stats.oldestPendingAge
        val streams: List<StreamStats> = stats.streams.map(::StreamStats)
        val networkAvailable: Boolean = stats.networkAvailable
        val accountError: String? = stats.accountError
        val accountRetryIn: Duration? = stats.accountRetryIn
        val recordsSubmitted: Long = stats.recordsSubmitted.toLong()
        val kinesisRecordsSubmitted: Long = stats.kinesisRecordsSubmitted.toLong()
        val recordsRetried: Long = stats.recordsRetried.toLong()
        val recordsThrottled: Long = stats.recordsThrottled.toLong()
        val requestsSent: Long = stats.requestsSent.toLong()
        val requestsFailed: Long = stats.requestsFailed.toLong()
        val clockCorrections: Long = stats.clockCorrections.toLong()
        val recordsDroppedStorageFull: Long = stats.recordsDroppedStorageFull.toLong()
        val recordsDroppedExpired: Long = stats.recordsDroppedExpired.toLong()
        val recordsDroppedAttemptsExhausted: Long = stats.recordsDroppedAttemptsExhausted.toLong()
        val recordsDroppedDeleted: Long = stats.recordsDroppedDeleted.toLong()
    }

    /** [dev.kinesisrecorder.ffi.StreamStats] with `long` counts. */
    class StreamStats(stats: dev.kinesisrecorder.ffi.StreamStats) {
        val streamName: String = stats.streamName
        val pendingRecords: Long = stats.pendingRecords.toLong()
        val pendingBytes: Long = stats.pendingBytes.toLong()
        val oldestPendingAge: Duration? = stats.oldestPendingAge
        val retryIn: Duration? = stats.retryIn
        val lastError: String? = stats.lastError
    }

    companion object {
        /** Where [submitAllRecordsAsync] waits: a submission itself runs on the recorder's thread. */
        private val futures = CoroutineScope(SupervisorJob() + Dispatchers.Default)

        /**
         * Opens (or creates) the store of [config] (see [RecorderConfigBuilder]) and starts the
         * recorder, with the direct JNI save path of `KinesisRecorder(path, region, credentials)`.
         */
        @JvmStatic
        @Throws(RecorderException::class)
        fun open(config: RecorderConfig, credentials: CredentialsProvider): JavaRecorder =
            JavaRecorder(JniKinesisRecorder(config, credentials))
    }
}
