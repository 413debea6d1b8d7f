package dev.kinesisrecorder

import dev.kinesisrecorder.ffi.AwsCredentials
import dev.kinesisrecorder.ffi.CredentialsProvider
import dev.kinesisrecorder.ffi.KinesisRecorder
import dev.kinesisrecorder.ffi.RecorderEvent
import dev.kinesisrecorder.ffi.RecorderException
import dev.kinesisrecorder.ffi.RecorderListener
import dev.kinesisrecorder.ffi.moveAsideStore
import dev.kinesisrecorder.support.Kinesalite
import dev.kinesisrecorder.support.recorderThreadCount
import dev.kinesisrecorder.support.tempStore
import dev.kinesisrecorder.support.testRecorder
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.async
import kotlinx.coroutines.delay
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import org.junit.jupiter.api.Assumptions.assumeTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.Timeout
import org.junit.jupiter.api.parallel.Isolated
import java.io.File
import java.lang.ref.WeakReference
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertFalse
import kotlin.test.assertNull
import kotlin.test.assertTrue

/** Objects are closed without leaks; after close, calls fail cleanly. */
@Timeout(120)
@Isolated
class LifecycleTest {
    private fun awaitCondition(what: String, condition: () -> Boolean) {
        val deadline = System.nanoTime() + 10_000_000_000
        while (!condition()) {
            check(System.nanoTime() < deadline) { "timed out waiting for $what" }
            System.gc()
            Thread.sleep(20)
        }
    }

    @Test
    fun `use closes the recorder, stops its threads and fails later calls cleanly`() {
        assumeTrue(File("/proc/self/task").isDirectory, "thread names are read from Linux /proc")
        awaitCondition("no recorder threads from earlier tests") { recorderThreadCount() == 0 }
        val recorder = testRecorder()
        recorder.use {
            it.saveRecord("x", "some-stream", "k")
            // A Rust thread names itself once it runs: wait for both names.
            awaitCondition("a writer and a worker thread while open") { recorderThreadCount() == 2 }
        }
        assertTrue(recorder.uniffiIsDestroyed)
        assertEquals(0, recorderThreadCount(), "threads joined by close()")

        // Saves (the JNI path) refuse with the recorder's own error; other calls as UniFFI does.
        assertFailsWith<RecorderException.ShutDown> { recorder.saveRecord("x", "some-stream", "k") }
        assertFailsWith<IllegalStateException> { recorder.stats() }
        assertFailsWith<IllegalStateException> { runBlocking { recorder.submitAllRecords() } }
        recorder.close() // a second close is a no-op
        recorder.destroy()
    }

    @Test
    fun `many open and close cycles leak no threads, providers or listeners`() {
        assumeTrue(File("/proc/self/task").isDirectory, "thread names are read from Linux /proc")
        awaitCondition("no recorder threads from earlier tests") { recorderThreadCount() == 0 }
        val providers = mutableListOf<WeakReference<CredentialsProvider>>()
        val listeners = mutableListOf<WeakReference<RecorderListener>>()
        val path = tempStore()
        repeat(20) { i ->
            val provider = object : CredentialsProvider {
                override suspend fun credentials() = AwsCredentials("AKID", "secret", null, null)
            }
            val listener = object : RecorderListener {
                override fun onEvent(event: RecorderEvent) {}
            }
            providers += WeakReference(provider)
            listeners += WeakReference(listener)
            KinesisRecorder(recorderConfig(path, "us-east-1") { autoSubmit = false }, provider).use { recorder ->
                recorder.setListener(listener)
                recorder.saveRecord("cycle $i", "cycles", "k")
                awaitCondition("the threads of recorder $i") { recorderThreadCount() == 2 }
            }
            assertEquals(0, recorderThreadCount(), "the threads of recorder $i joined by close()")
        }
        assertEquals(0, recorderThreadCount())
        // Rust released its references to the Kotlin callbacks: they can be collected.
        awaitCondition("Kotlin providers and listeners released by Rust") {
            providers.all { it.get() == null } && listeners.all { it.get() == null }
        }
        // Nothing lost across the 20 recorders on one file.
        testRecorder(path).use { assertEquals(20uL, it.stats().pendingRecords) }
    }

    @Test
    fun `shutdown keeps the object but refuses work with ShutDown`(): Unit = runBlocking {
        val recorder = testRecorder()
        recorder.saveRecord("before", "s", "k")
        recorder.shutdown()
        recorder.shutdown() // idempotent
        assertFailsWith<RecorderException.ShutDown> { recorder.saveRecord("after", "s", "k") }
        assertFailsWith<RecorderException.ShutDown> { recorder.submitAllRecords() }
        recorder.close()
    }

    @Test
    fun `closing while a submission waits on a slow provider does not hang or crash`(): Unit = runBlocking {
        val stream = Kinesalite.newStream("kt-close-busy")
        val entered = CompletableDeferred<Unit>()
        val slow = object : CredentialsProvider {
            override suspend fun credentials(): AwsCredentials {
                entered.complete(Unit)
                delay(60_000)
                error("unreachable")
            }
        }
        val recorder = testRecorder(credentials = slow)
        recorder.saveRecord("pending", stream, "k")
        val submission = async(Dispatchers.IO) {
            runCatching { recorder.submitAllRecords() }
        }
        entered.await()
        recorder.shutdown()
        val outcome = withTimeout(10_000) { submission.await() }
        // Interrupted by shutdown: either a report with the record still pending, or ShutDown.
        outcome.onSuccess { assertEquals(0uL, it.recordsSubmitted) }
        outcome.onFailure { assertTrue(it is RecorderException.ShutDown, "unexpected $it") }
        recorder.close()
        // The record is still on disk for next time.
    }

    @Test
    fun `an unusable store file is a StorageFailure, and moveAsideStore recovers`() {
        val path = tempStore()
        File(path).writeText("this is not a SQLite database, just garbage ".repeat(200))
        val error = assertFailsWith<RecorderException.StorageFailure> { testRecorder(path).close() }
        assertTrue("not a usable record store" in error.reason, error.reason)
        val moved = moveAsideStore(path)
        assertTrue(File(moved).isFile)
        assertFalse(File(path).exists())
        testRecorder(path).use { assertEquals(0uL, it.stats().pendingRecords) }
        assertFailsWith<RecorderException.StorageFailure> { moveAsideStore(File(path).parent + "/does-not-exist") }
    }

    @Test
    fun `disk accounting matches the AWS recorder's calls`() {
        testRecorder(configure = { maxStorageBytes = 4096uL; maxRecordBytes = 1024uL; maxQueuedBytes = 4096uL }).use { recorder ->
            assertEquals(4096uL, recorder.diskByteLimit())
            assertEquals(0uL, recorder.diskBytesUsed())
            recorder.saveRecord(ByteArray(99) { 7 }, "s", "k") // 99 + 1 bytes
            recorder.flush()
            assertEquals(100uL, recorder.diskBytesUsed())
            assertEquals(1uL, recorder.deleteAllRecords())
            assertEquals(0uL, recorder.diskBytesUsed())
            assertNull(recorder.stats().oldestPendingAge)
        }
    }
}
