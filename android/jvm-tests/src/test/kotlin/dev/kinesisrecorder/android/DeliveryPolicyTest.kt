package dev.kinesisrecorder.android

import dev.kinesisrecorder.ffi.DropReason
import dev.kinesisrecorder.ffi.FailureKind
import dev.kinesisrecorder.ffi.RecorderEvent
import dev.kinesisrecorder.ffi.RecorderStats
import dev.kinesisrecorder.ffi.StreamError
import dev.kinesisrecorder.ffi.SubmitReport
import org.junit.Test
import kotlin.test.assertEquals
import kotlin.test.assertFalse
import kotlin.test.assertTrue

/** The decisions of background delivery, on a plain JVM (no Android, no recorder). */
class DeliveryPolicyTest {
    private fun report(remaining: ULong, networkUnavailable: Boolean = false, vararg errors: FailureKind) = SubmitReport(
        recordsSubmitted = 10uL,
        kinesisRecordsSubmitted = 10uL,
        recordsRetried = 0uL,
        recordsDropped = 0uL,
        recordsRemaining = remaining,
        requests = 1uL,
        networkUnavailable = networkUnavailable,
        deadlineReached = false,
        errors = errors.map { StreamError("s-$it", it, null, "failed: $it") },
    )

    private fun stats(pending: ULong, queued: ULong) = RecorderStats(
        pendingRecords = pending,
        pendingBytes = pending * 100uL,
        fileBytes = pending * 100uL,
        queuedRecords = queued,
        oldestPendingAge = null,
        streams = emptyList(),
        networkAvailable = true,
        accountError = null,
        accountRetryIn = null,
        recordsSubmitted = 0uL,
        kinesisRecordsSubmitted = 0uL,
        recordsRetried = 0uL,
        recordsThrottled = 0uL,
        requestsSent = 0uL,
        requestsFailed = 0uL,
        clockCorrections = 0uL,
        recordsDroppedStorageFull = 0uL,
        recordsDroppedExpired = 0uL,
        recordsDroppedAttemptsExhausted = 0uL,
        recordsDroppedDeleted = 0uL,
    )

    private fun failed(kind: FailureKind) = RecorderEvent.SubmissionFailed("s", kind, null, "m", true)

    @Test
    fun theJobWaitsForTheNetworkTheAppAllows() {
        assertEquals(DeliveryPolicy.Network.ANY, DeliveryPolicy.requiredNetwork(unmeteredOnly = false))
        assertEquals(DeliveryPolicy.Network.UNMETERED, DeliveryPolicy.requiredNetwork(unmeteredOnly = true))
    }

    @Test
    fun anEmptyStoreIsNeverWorthAWakeUp() {
        assertFalse(DeliveryPolicy.worthScheduling(stats(pending = 0uL, queued = 0uL)))
        assertTrue(DeliveryPolicy.nothingToDeliver(stats(pending = 0uL, queued = 0uL)))
        assertTrue(DeliveryPolicy.worthScheduling(stats(pending = 1uL, queued = 0uL)))
        assertTrue(DeliveryPolicy.worthScheduling(stats(pending = 0uL, queued = 1uL)), "queued saves are records too")
    }

    @Test
    fun onlyANetworkFailureHandsAnAutomaticSubmissionToTheJob() {
        assertTrue(DeliveryPolicy.endedForLackOfNetwork(failed(FailureKind.NETWORK)))
        for (kind in FailureKind.entries - FailureKind.NETWORK) {
            assertFalse(DeliveryPolicy.endedForLackOfNetwork(failed(kind)), "$kind")
        }
        assertFalse(DeliveryPolicy.endedForLackOfNetwork(RecorderEvent.RecordsSubmitted("s", 1uL)))
    }

    @Test
    fun deliveriesAndDropsMayEmptyTheStore() {
        assertTrue(DeliveryPolicy.mayHaveEmptied(RecorderEvent.RecordsSubmitted("s", 1uL)))
        assertTrue(DeliveryPolicy.mayHaveEmptied(RecorderEvent.RecordsDropped("s", DropReason.DELETED, 1uL)))
        assertFalse(DeliveryPolicy.mayHaveEmptied(failed(FailureKind.NETWORK)))
        assertFalse(DeliveryPolicy.mayHaveEmptied(RecorderEvent.StorageThresholdCrossed(1uL, 1uL)))
    }

    @Test
    fun anAppSubmissionEndsForLackOfNetworkOnlyWithRecordsLeft() {
        assertTrue(DeliveryPolicy.endedForLackOfNetwork(report(5uL, networkUnavailable = true)))
        assertTrue(DeliveryPolicy.endedForLackOfNetwork(report(5uL, false, FailureKind.NETWORK)))
        assertFalse(DeliveryPolicy.endedForLackOfNetwork(report(0uL, networkUnavailable = true)))
        assertFalse(DeliveryPolicy.endedForLackOfNetwork(report(5uL, false, FailureKind.STREAM_REJECTED)))
        assertFalse(DeliveryPolicy.endedForLackOfNetwork(report(5uL, false, FailureKind.THROTTLED)))
    }

    @Test
    fun theJobRunsAgainOnlyWhenRecordsRemainForAReasonThatPasses() {
        assertFalse(DeliveryPolicy.rescheduleAfter(report(0uL)), "drained")
        assertFalse(DeliveryPolicy.rescheduleAfter(report(0uL, false, FailureKind.NETWORK)), "drained despite an error")
        assertTrue(DeliveryPolicy.rescheduleAfter(report(3uL, networkUnavailable = true)))
        assertTrue(DeliveryPolicy.rescheduleAfter(report(3uL)), "per-record retries wait for their backoff")
        for (kind in listOf(FailureKind.NETWORK, FailureKind.THROTTLED, FailureKind.CREDENTIALS)) {
            assertTrue(DeliveryPolicy.rescheduleAfter(report(3uL, false, kind)), "$kind passes by itself")
        }
        for (kind in listOf(FailureKind.STREAM_REJECTED, FailureKind.STORAGE)) {
            assertFalse(DeliveryPolicy.rescheduleAfter(report(3uL, false, kind)), "$kind waits for a fix")
        }
        assertTrue(
            DeliveryPolicy.rescheduleAfter(report(3uL, false, FailureKind.STREAM_REJECTED, FailureKind.NETWORK)),
            "one stream refused, another cut off: run again for the other",
        )
    }
}
