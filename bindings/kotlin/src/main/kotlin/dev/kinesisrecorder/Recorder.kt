package dev.kinesisrecorder

import dev.kinesisrecorder.ffi.KinesisRecorderInterface
import dev.kinesisrecorder.ffi.RecorderEvent
import dev.kinesisrecorder.ffi.RecorderException
import dev.kinesisrecorder.ffi.RecorderListener
import dev.kinesisrecorder.ffi.RecorderStats
import dev.kinesisrecorder.ffi.SubmitReport
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.Job
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.channels.SendChannel
import kotlinx.coroutines.channels.awaitClose
import kotlinx.coroutines.delay
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.buffer
import kotlinx.coroutines.flow.callbackFlow
import kotlinx.coroutines.flow.flow
import kotlinx.coroutines.flow.flowOn
import kotlinx.coroutines.launch
import kotlinx.coroutines.withContext
import java.util.WeakHashMap
import java.util.concurrent.CopyOnWriteArrayList
import kotlin.coroutines.cancellation.CancellationException
import kotlin.time.Duration
import kotlin.time.Duration.Companion.seconds
import kotlin.time.toJavaDuration

/** Saves [data] with a random partition key (records spread evenly over the shards). */
@Throws(RecorderException::class)
fun KinesisRecorderInterface.saveRecord(data: ByteArray, streamName: String): Unit =
    saveRecord(data, streamName, null)

/**
 * Saves [data] as UTF-8, like the AWS recorder's `saveRecord(String, streamName)`. Like every
 * save: validated and queued, no I/O on the calling thread (the UI thread may call it).
 */
@Throws(RecorderException::class)
fun KinesisRecorderInterface.saveRecord(data: String, streamName: String, partitionKey: String? = null): Unit =
    saveRecord(data.encodeToByteArray(), streamName, partitionKey)

/** [KinesisRecorderInterface.flush] (waits for the disk) on [Dispatchers.IO]. */
@Throws(RecorderException::class)
suspend fun KinesisRecorderInterface.awaitFlush(): Unit = withContext(Dispatchers.IO) { flush() }

/**
 * Submits everything pending and returns by [deadline] at the latest: the streams take turns, one
 * batch each, and what is not delivered by then stays pending (`SubmitReport.deadlineReached`).
 * What an app calls when it goes to the background, with the time the system gives it.
 * `submitAllRecords()` has a 60 s deadline. A zero or negative deadline is
 * [RecorderException.InvalidInput].
 */
@Throws(RecorderException::class)
suspend fun KinesisRecorderInterface.submitAllRecords(deadline: Duration): SubmitReport =
    submitAllRecordsWithin(if (deadline.isPositive()) deadline.toJavaDuration() else java.time.Duration.ZERO)

/**
 * Fire-and-forget submission: asks the recorder's own thread to submit everything pending and
 * returns at once. Results arrive as events ([events]) and in [KinesisRecorderInterface.stats].
 */
fun KinesisRecorderInterface.submitInBackground(): Unit = requestSubmit()

/**
 * Submits in a coroutine of [scope] and hands the outcome to [onResult]: the [SubmitReport], or a
 * failure holding the [RecorderException] (or `IllegalStateException` once the recorder is
 * closed). Cancelling the returned job abandons the wait, not the submission.
 */
fun KinesisRecorderInterface.submitInBackground(
    scope: CoroutineScope,
    onResult: (Result<SubmitReport>) -> Unit,
): Job = scope.launch {
    val result = try {
        Result.success(submitAllRecords())
    } catch (e: CancellationException) {
        throw e
    } catch (e: Exception) {
        Result.failure(e)
    }
    onResult(result)
}

/**
 * The recorder's [RecorderEvent]s while collected. Any number of collectors may collect at once;
 * each gets every event from the moment its collection starts. The recorder's one listener slot
 * is used for it: do not also call `setListener` on the same object.
 *
 * Events are buffered without bound, so the recorder's threads never wait for a slow collector
 * (events are per batch and per failure, not per record). The flow fails with
 * `IllegalStateException` when collected on a closed recorder.
 */
fun KinesisRecorderInterface.events(): Flow<RecorderEvent> {
    val recorder = this
    return callbackFlow {
        val hub = EventHub.of(recorder)
        hub.subscribe(recorder, channel)
        awaitClose { hub.unsubscribe(recorder, channel) }
    }.buffer(Channel.UNLIMITED)
}

/**
 * A [RecorderStats] snapshot now and then every [interval], read on [Dispatchers.IO] (a snapshot
 * queries the store). Fails with the [RecorderException] of a failed read, or
 * `IllegalStateException` once the recorder is closed.
 */
fun KinesisRecorderInterface.statsFlow(interval: Duration = 1.seconds): Flow<RecorderStats> {
    require(interval.isPositive()) { "interval must be positive, got $interval" }
    return flow {
        while (true) {
            emit(stats())
            delay(interval)
        }
    }.flowOn(Dispatchers.IO)
}

/** Fans the recorder's single listener out to the collectors of [events]. */
private class EventHub : RecorderListener {
    private val sinks = CopyOnWriteArrayList<SendChannel<RecorderEvent>>()

    override fun onEvent(event: RecorderEvent) {
        for (sink in sinks) sink.trySend(event)
    }

    @Synchronized
    fun subscribe(recorder: KinesisRecorderInterface, sink: SendChannel<RecorderEvent>) {
        if (sinks.isEmpty()) recorder.setListener(this)
        sinks.add(sink)
    }

    @Synchronized
    fun unsubscribe(recorder: KinesisRecorderInterface, sink: SendChannel<RecorderEvent>) {
        if (sinks.remove(sink) && sinks.isEmpty()) {
            // Closed meanwhile: the listener went with the recorder.
            try {
                recorder.setListener(null)
            } catch (_: IllegalStateException) {
            }
        }
    }

    companion object {
        // Weak keys: a hub never outlives its recorder's Kotlin object (and holds no reference to it).
        private val hubs = WeakHashMap<KinesisRecorderInterface, EventHub>()

        fun of(recorder: KinesisRecorderInterface): EventHub =
            synchronized(hubs) { hubs.getOrPut(recorder) { EventHub() } }
    }
}
