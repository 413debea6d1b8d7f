package dev.kinesisrecorder.android

import android.util.Log
import dev.kinesisrecorder.ffi.KinesisRecorderInterface
import dev.kinesisrecorder.ffi.RecorderEvent
import dev.kinesisrecorder.ffi.RecorderException
import dev.kinesisrecorder.ffi.SubmitReport
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.launch
import java.util.concurrent.atomic.AtomicBoolean
import kotlin.coroutines.cancellation.CancellationException

/**
 * Keeps the delivery job ([DeliveryJob]) scheduled exactly while records wait and the process
 * may not be there to send them: scheduled when the UI leaves the screen with records pending,
 * or when a submission ends for lack of network; cancelled as soon as the store is empty again,
 * so an empty store never wakes the device up. The decisions are [DeliveryPolicy]'s.
 *
 * Store reads and JobScheduler calls run in [scope] (a background dispatcher), never on the
 * recorder's threads (events) or the main thread (callbacks).
 */
internal class BackgroundDelivery(
    private val recorder: KinesisRecorderInterface,
    private val job: DeliveryJob,
    private val scope: CoroutineScope,
) {
    /** Set while [RecorderJobService] runs this recorder's job: it finishes the job itself. */
    private val jobRunning = AtomicBoolean(false)

    /** Conflated: a drain of many batches asks for one store read, not one per batch. */
    private val emptinessChecks = Channel<Unit>(Channel.CONFLATED)

    init {
        scope.launch {
            for (check in emptinessChecks) guarded("check the store") { cancelIfEmpty() }
        }
    }

    /** On the recorder's thread: hands off at once. */
    fun onEvent(event: RecorderEvent) {
        when {
            DeliveryPolicy.endedForLackOfNetwork(event) -> scheduleInBackground()
            DeliveryPolicy.mayHaveEmptied(event) -> emptinessChecks.trySend(Unit)
        }
    }

    /** The default network went away (or stopped meeting the app's rule). */
    fun onNetworkLost() = scheduleInBackground()

    /** After a submission the app asked for. */
    fun afterSubmission(report: SubmitReport) {
        if (DeliveryPolicy.endedForLackOfNetwork(report)) scheduleInBackground()
    }

    /** Blocking (a store read, a JobScheduler call): call it off the main thread. */
    fun scheduleIfPending() {
        if (DeliveryPolicy.worthScheduling(recorder.stats())) job.scheduleIfAbsent()
    }

    /** Blocking, like [scheduleIfPending]. */
    fun cancelIfEmpty() {
        if (!jobRunning.get() && DeliveryPolicy.nothingToDeliver(recorder.stats())) job.cancel()
    }

    /**
     * The job's work: submits everything pending and says whether JobScheduler should run the job
     * again. Records are kept whatever happens; cancelling the caller (`onStopJob`) abandons the
     * wait, not the submission, which ends on the recorder's thread.
     */
    suspend fun deliverFromJob(): Boolean {
        jobRunning.set(true)
        return try {
            DeliveryPolicy.rescheduleAfter(recorder.submitAllRecords())
        } catch (e: CancellationException) {
            throw e
        } catch (e: RecorderException) {
            Log.w(TAG, "background delivery failed; the job runs again after its backoff", e)
            true
        } catch (e: IllegalStateException) {
            false // Closed by the app: its records wait for the next start.
        } finally {
            jobRunning.set(false)
        }
    }

    private fun scheduleInBackground() {
        scope.launch { guarded("schedule the delivery job") { scheduleIfPending() } }
    }

    private inline fun guarded(what: String, block: () -> Unit) {
        try {
            block()
        } catch (e: CancellationException) {
            throw e
        } catch (e: RecorderException) {
            Log.w(TAG, "cannot $what", e)
        } catch (e: IllegalStateException) {
            // The recorder was closed meanwhile.
        }
    }

    private companion object {
        const val TAG = "KinesisRecorder"
    }
}
