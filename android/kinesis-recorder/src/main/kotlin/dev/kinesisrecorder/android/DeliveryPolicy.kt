package dev.kinesisrecorder.android

import dev.kinesisrecorder.ffi.FailureKind
import dev.kinesisrecorder.ffi.RecorderEvent
import dev.kinesisrecorder.ffi.RecorderStats
import dev.kinesisrecorder.ffi.SubmitReport

/**
 * Every decision of background delivery that is not an Android call, in plain Kotlin so it is
 * unit-tested on a plain JVM. [DeliveryJob] and [RecorderJobService] only carry them out.
 */
internal object DeliveryPolicy {
    /** The network a delivery job waits for. */
    enum class Network { ANY, UNMETERED }

    fun requiredNetwork(unmeteredOnly: Boolean): Network = if (unmeteredOnly) Network.UNMETERED else Network.ANY

    /**
     * A job is scheduled only while records wait (on disk or still queued for it): an empty store
     * never wakes the device up.
     */
    fun worthScheduling(stats: RecorderStats): Boolean = stats.pendingRecords > 0uL || stats.queuedRecords > 0uL

    /** Nothing left to deliver: a scheduled job can go. */
    fun nothingToDeliver(stats: RecorderStats): Boolean = !worthScheduling(stats)

    /**
     * An automatic submission that stopped because the network failed under it (connection
     * refused, timeout, DNS, 5xx): the job, which waits for a network, takes over.
     */
    fun endedForLackOfNetwork(event: RecorderEvent): Boolean =
        event is RecorderEvent.SubmissionFailed && event.kind == FailureKind.NETWORK

    /** Events after which the store may have become empty. */
    fun mayHaveEmptied(event: RecorderEvent): Boolean =
        event is RecorderEvent.RecordsSubmitted || event is RecorderEvent.RecordsDropped

    /** A submission the app ran itself (not the job) that left records for lack of network. */
    fun endedForLackOfNetwork(report: SubmitReport): Boolean =
        report.recordsRemaining > 0uL &&
            (report.networkUnavailable || report.errors.any { it.kind == FailureKind.NETWORK })

    /**
     * After the job's submission: whether JobScheduler should run the job again (after its
     * backoff). Yes when records remain for a reason that passes by itself: no network (or the
     * app's network rule said no), a network failure, throttling, credentials that could not be
     * had, or per-record rejections waiting for their retry. No when the store is drained, or
     * when what remains waits for a fix: a stream the service refuses (not found, access denied)
     * or a failing store; the next trigger (the UI leaving the screen) schedules again, and the
     * core retries those streams on its own backoff while the app runs.
     */
    fun rescheduleAfter(report: SubmitReport): Boolean {
        if (report.recordsRemaining == 0uL) return false
        if (report.networkUnavailable) return true
        if (report.errors.isEmpty()) return true // per-record retries, or records saved meanwhile
        return report.errors.any { it.kind in RETRYABLE }
    }

    private val RETRYABLE = setOf(FailureKind.NETWORK, FailureKind.THROTTLED, FailureKind.CREDENTIALS)
}
