package dev.kinesisrecorder

import dev.kinesisrecorder.ffi.DropReason
import dev.kinesisrecorder.ffi.RecorderEvent
import dev.kinesisrecorder.ffi.RecorderException
import dev.kinesisrecorder.ffi.RecorderListener
import dev.kinesisrecorder.support.Kinesalite
import dev.kinesisrecorder.support.testRecorder
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.flow.take
import kotlinx.coroutines.flow.toList
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.Timeout
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertTrue
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.Duration.Companion.seconds

/** Listener events as a Flow, and stats as a Flow. */
@Timeout(120)
class EventsTest {
    /**
     * Collects [flow] into a channel. Dispatchers.Unconfined runs the collection up to its first
     * suspension before `launch` returns, so the listener is installed when this returns.
     */
    private fun <T> CoroutineScope.collectNow(flow: kotlinx.coroutines.flow.Flow<T>): Pair<Channel<T>, kotlinx.coroutines.Job> {
        val channel = Channel<T>(Channel.UNLIMITED)
        val job = launch(Dispatchers.Unconfined) { flow.collect { channel.send(it) } }
        return channel to job
    }

    @Test
    fun `events flow reports submitted, failed and dropped records to every collector`(): Unit = runBlocking {
        val stream = Kinesalite.newStream("kt-events")
        val missing = "kt-missing-stream-${System.nanoTime()}"
        testRecorder().use { recorder ->
            val (first, firstJob) = collectNow(recorder.events())
            val (second, secondJob) = collectNow(recorder.events())

            repeat(7) { recorder.saveRecord("event $it", stream, "k") }
            assertEquals(7uL, recorder.submitAllRecords().recordsSubmitted)

            for (events in listOf(first, second)) {
                val submitted = withTimeout(10.seconds) { events.receive() }
                assertEquals(RecorderEvent.RecordsSubmitted(stream, 7uL), submitted)
            }

            // A stream that does not exist: the service rejects it, the records stay.
            recorder.saveRecord("lost", missing, "k")
            val report = recorder.submitAllRecords()
            assertEquals("ResourceNotFoundException", report.errors.single().code)
            val failed = withTimeout(10.seconds) { first.receive() } as RecorderEvent.SubmissionFailed
            assertEquals(missing, failed.streamName)
            assertEquals("ResourceNotFoundException", failed.code)
            assertTrue(failed.message.isNotBlank())
            secondJob.cancel() // one collector leaves; the other still hears

            assertEquals(1uL, recorder.deleteAllRecords())
            val dropped = withTimeout(10.seconds) { first.receive() }
            assertEquals(RecorderEvent.RecordsDropped(missing, DropReason.DELETED, 1uL), dropped)
            firstJob.cancel()
        }
    }

    @Test
    fun `storage threshold event`(): Unit = runBlocking {
        val stream = Kinesalite.newStream("kt-threshold")
        testRecorder(configure = { notificationByteThreshold = 1000uL }).use { recorder ->
            val (events, job) = collectNow(recorder.events())
            repeat(20) { recorder.saveRecord(ByteArray(100) { 1 }, stream, "k") }
            val crossed = withTimeout(10.seconds) { events.receive() } as RecorderEvent.StorageThresholdCrossed
            assertEquals(1000uL, crossed.threshold)
            assertTrue(crossed.bytesUsed > 1000uL)
            job.cancel()
        }
    }

    @Test
    fun `a throwing listener does not take the recorder down`(): Unit = runBlocking {
        val stream = Kinesalite.newStream("kt-badlistener")
        testRecorder().use { recorder ->
            val calls = java.util.concurrent.atomic.AtomicInteger()
            recorder.setListener(object : RecorderListener {
                override fun onEvent(event: RecorderEvent) {
                    calls.incrementAndGet()
                    throw IllegalStateException("listener bug")
                }
            })
            repeat(3) { recorder.saveRecord("x$it", stream, "k") }
            assertEquals(3uL, recorder.submitAllRecords().recordsSubmitted)
            recorder.saveRecord("y", stream, "k")
            assertEquals(1uL, recorder.submitAllRecords().recordsSubmitted)
            assertEquals(2, calls.get())
            recorder.setListener(null)
        }
        assertEquals(4, Kinesalite.admin.readAll(stream).size)
    }

    @Test
    fun `a listener that calls back into the recorder neither deadlocks nor overloads saves`() {
        val stream = Kinesalite.newStream("kt-reentrant")
        // A queue of about 600 saves (room for a loaded machine's pauses): a listener that held the
        // writer for its second of sleep (up to 2,000 saves) would overflow it.
        testRecorder(configure = {
            notificationByteThreshold = 2_000uL
            maxRecordBytes = 1024uL
            maxQueuedBytes = 65_536uL
        }).use { recorder ->
            val calls = java.util.Collections.synchronizedList(mutableListOf<String>())
            recorder.setListener(object : RecorderListener {
                override fun onEvent(event: RecorderEvent) {
                    if (event !is RecorderEvent.StorageThresholdCrossed) return
                    // The natural reaction, from the listener itself: look, send, make room.
                    recorder.flush()
                    calls += "stats: ${recorder.stats().pendingRecords} pending"
                    calls += "submit: ${runBlocking { recorder.submitAllRecords() }.recordsSubmitted}"
                    calls += "delete: ${recorder.deleteAllRecords()}"
                    Thread.sleep(1_000) // a slow listener: saves must not pile up behind it
                }
            })
            val saver = java.util.concurrent.Executors.newSingleThreadExecutor()
            val overloaded = saver.submit<Int> {
                var overloaded = 0
                repeat(1_000) { i ->
                    try {
                        recorder.saveRecord(ByteArray(100) { 7 }, stream, "k$i")
                    } catch (e: RecorderException.Overloaded) {
                        overloaded++
                    }
                    Thread.sleep(0, 500_000)
                }
                recorder.flush()
                overloaded
            }.get(60, java.util.concurrent.TimeUnit.SECONDS) // a deadlock fails here
            saver.shutdown()
            assertEquals(0, overloaded, "saves failed with Overloaded behind a re-entrant listener")
            assertTrue(calls.any { it.startsWith("submit") } && calls.any { it.startsWith("delete") }, "$calls")
            val stats = recorder.stats()
            assertEquals(1_000uL, stats.recordsSubmitted + stats.recordsDroppedDeleted + stats.pendingRecords, "$stats")
            recorder.setListener(null)
        }
    }

    @Test
    fun `statsFlow follows pending records`(): Unit = runBlocking {
        val stream = Kinesalite.newStream("kt-stats")
        testRecorder().use { recorder ->
            repeat(12) { recorder.saveRecord("s$it", stream, "k") }
            recorder.flush()
            val snapshot = recorder.statsFlow(50.milliseconds).first()
            assertEquals(12uL, snapshot.pendingRecords)
            assertEquals(stream, snapshot.streams.single().streamName)
            assertTrue(snapshot.networkAvailable)

            recorder.setNetworkAvailable(false)
            val offline = recorder.submitAllRecords()
            assertTrue(offline.networkUnavailable)
            assertEquals(12uL, offline.recordsRemaining)
            recorder.setNetworkAvailable(true)

            launch { recorder.submitAllRecords() }
            val seen = withTimeout(10.seconds) {
                recorder.statsFlow(20.milliseconds).take(500).first { it.pendingRecords == 0uL }
            }
            assertEquals(12uL, seen.recordsSubmitted)
            assertEquals(3, recorder.statsFlow(10.milliseconds).take(3).toList().size)
        }
    }

    @Test
    fun `collecting events of a closed recorder fails cleanly`(): Unit = runBlocking {
        val recorder = testRecorder()
        recorder.close()
        assertFailsWith<IllegalStateException> { recorder.events().first() }
        assertFailsWith<IllegalStateException> { recorder.statsFlow().first() }
    }
}
