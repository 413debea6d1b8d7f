package dev.kinesisrecorder

import dev.kinesisrecorder.ffi.RecorderException
import dev.kinesisrecorder.support.Kinesalite
import dev.kinesisrecorder.support.StoredRecord
import dev.kinesisrecorder.support.testRecorder
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.async
import kotlinx.coroutines.awaitAll
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.Timeout
import java.util.concurrent.CountDownLatch
import java.util.concurrent.Executors
import java.util.concurrent.TimeUnit
import kotlin.random.Random
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertTrue
import kotlin.time.Duration
import kotlin.time.Duration.Companion.milliseconds

/** Save from many threads and coroutines, submit to kinesalite, read back and compare bytes. */
@Timeout(120)
class RoundTripTest {
    @Test
    fun `records saved from threads and coroutines arrive byte for byte`(): Unit = runBlocking {
        val stream = Kinesalite.newStream("kt-roundtrip", shards = 2)
        val expected = java.util.concurrent.ConcurrentLinkedQueue<StoredRecord>()
        testRecorder().use { recorder ->
            // 8 plain threads, started together.
            val pool = Executors.newFixedThreadPool(8)
            val start = CountDownLatch(1)
            val futures = (0 until 8).map { t ->
                pool.submit {
                    start.await()
                    val random = Random(t)
                    repeat(50) { i ->
                        val key = "thread-$t-$i-é✓" // non-ASCII partition keys survive too
                        val data = random.nextBytes(1 + random.nextInt(2048)) // any byte, 0x00 included
                        recorder.saveRecord(data, stream, key)
                        expected += StoredRecord(key, data)
                    }
                }
            }
            start.countDown()
            futures.forEach { it.get(30, TimeUnit.SECONDS) }
            pool.shutdown()

            // 8 coroutines on the default dispatcher, through the Kotlin overloads.
            (0 until 8).map { c ->
                async(Dispatchers.Default) {
                    repeat(50) { i ->
                        val key = "coroutine-$c-$i"
                        if (i % 2 == 0) {
                            recorder.saveRecord("text $c/$i ✓", stream, key)
                            expected += StoredRecord(key, "text $c/$i ✓".encodeToByteArray())
                        } else {
                            val data = byteArrayOf(c.toByte(), i.toByte(), 0, -1)
                            recorder.saveRecordWithHashKey(data, stream, key, "0")
                            expected += StoredRecord(key, data)
                        }
                    }
                }
            }.awaitAll()

            val report = recorder.submitAllRecords()
            assertEquals(emptyList(), report.errors)
            assertEquals(800uL, report.recordsSubmitted)
            assertEquals(0uL, report.recordsRemaining)
            assertTrue(report.requests >= 2uL, "800 records need at least 2 requests of 500: $report")

            val stats = recorder.stats()
            assertEquals(0uL, stats.pendingRecords)
            assertEquals(800uL, stats.recordsSubmitted)
        }

        val actual = Kinesalite.admin.readAll(stream)
        assertEquals(expected.size, actual.size)
        assertEquals(expected.groupingBy { it }.eachCount(), actual.groupingBy { it }.eachCount())
    }

    @Test
    fun `with aggregation on, unkeyed records travel in a few KPL aggregated records`(): Unit = runBlocking {
        val stream = Kinesalite.newStream("kt-aggregation")
        assertEquals(false, recorderConfig("/x", "eu-west-1").aggregation, "off by default")
        assertEquals(25_000uL, recorderConfig("/x", "eu-west-1").maxAggregateBytes, "one 25 KB PUT payload unit")
        testRecorder(configure = { aggregation = true }).use { recorder ->
            repeat(300) { recorder.saveRecord(ByteArray(100) { b -> (it + b).toByte() }, stream, null) }
            val report = recorder.submitAllRecords()
            assertEquals(emptyList(), report.errors)
            assertEquals(300uL, report.recordsSubmitted)
            // 300 sub-records of 106 encoded bytes fill two aggregates of at most 25,000 bytes.
            assertEquals(2uL, report.kinesisRecordsSubmitted)
            assertEquals(2uL, recorder.stats().kinesisRecordsSubmitted)
        }
        val kpl = byteArrayOf(0xF3.toByte(), 0x89.toByte(), 0x9A.toByte(), 0xC2.toByte())
        val actual = Kinesalite.admin.readAll(stream)
        assertEquals(2, actual.size)
        assertTrue(actual.all { it.data.copyOf(4).contentEquals(kpl) && it.data.size <= 25_000 - it.partitionKey.length })
    }

    @Test
    fun `1,000 saves return without waiting for the disk or the network`(): Unit = runBlocking {
        val stream = Kinesalite.newStream("kt-fastsave")
        testRecorder().use { recorder ->
            repeat(200) { recorder.saveRecord("warm-up $it", stream, "k") } // JIT, JNI binding
            val start = System.nanoTime()
            repeat(1_000) { recorder.saveRecord("{\"event\":\"tap\",\"n\":$it}", stream, "k") }
            val elapsedMs = (System.nanoTime() - start) / 1e6
            // The cost is the JNI call and the core's validation and queueing, not I/O: the records
            // are not even on disk yet. Timings are the benchmark's business (bindings/kotlin-bench.sh).
            println("1,000 saves on the calling thread: %.2f ms".format(elapsedMs))
            assertTrue(elapsedMs < 2_000, "1,000 saves took $elapsedMs ms")
            assertEquals(1_200uL, recorder.submitAllRecords().recordsSubmitted)
        }
    }

    @Test
    fun `a missing partition key becomes a random one`(): Unit = runBlocking {
        val stream = Kinesalite.newStream("kt-randomkey")
        testRecorder().use { recorder ->
            repeat(20) { recorder.saveRecord("no key $it".encodeToByteArray(), stream) }
            assertEquals(20uL, recorder.submitAllRecords().recordsSubmitted)
        }
        val actual = Kinesalite.admin.readAll(stream)
        assertEquals((0 until 20).map { "no key $it" }.toSet(), actual.map { it.text }.toSet())
        assertEquals(20, actual.map { it.partitionKey }.toSet().size, "one distinct key per record")
        actual.forEach { java.util.UUID.fromString(it.partitionKey) }
    }

    @Test
    fun `records survive closing and reopening the store`(): Unit = runBlocking {
        val stream = Kinesalite.newStream("kt-reopen")
        val path = dev.kinesisrecorder.support.tempStore()
        testRecorder(path).use { recorder ->
            repeat(30) { recorder.saveRecord("kept $it", stream, "k$it") }
        } // closed without submitting: the queue is committed
        testRecorder(path).use { recorder ->
            assertEquals(30uL, recorder.stats().pendingRecords)
            assertEquals(30uL, recorder.submitAllRecords().recordsSubmitted)
        }
        assertEquals((0 until 30).map { "kept $it" }.toSet(), Kinesalite.admin.readAll(stream).map { it.text }.toSet())
    }

    @Test
    fun `submitInBackground delivers and reports`(): Unit = runBlocking {
        val stream = Kinesalite.newStream("kt-background")
        testRecorder().use { recorder ->
            repeat(10) { recorder.saveRecord("bg $it", stream, "k") }
            val result = kotlinx.coroutines.CompletableDeferred<Result<dev.kinesisrecorder.ffi.SubmitReport>>()
            recorder.submitInBackground(this) { result.complete(it) }
            assertEquals(10uL, result.await().getOrThrow().recordsSubmitted)

            // The fire-and-forget form returns at once; the records leave on the recorder's thread.
            repeat(5) { recorder.saveRecord("ff $it", stream, "k") }
            recorder.submitInBackground()
            val deadline = System.nanoTime() + 10_000_000_000
            while (recorder.stats().recordsSubmitted < 15uL && System.nanoTime() < deadline) Thread.sleep(20)
            assertEquals(15uL, recorder.stats().recordsSubmitted)
        }
        assertEquals(15, Kinesalite.admin.readAll(stream).size)
    }

    @Test
    fun `a submit returns by its deadline and keeps what it could not send`(): Unit = runBlocking {
        // Nothing listens on port 1: without a deadline the call would retry for seconds.
        testRecorder(endpoint = "http://127.0.0.1:1").use { recorder ->
            repeat(3) { recorder.saveRecord("d $it", "kt-deadline", "k") }
            val start = System.nanoTime()
            val report = recorder.submitAllRecords(500.milliseconds)
            val elapsedMs = (System.nanoTime() - start) / 1_000_000
            assertTrue(elapsedMs < 1_500, "returned after $elapsedMs ms")
            assertTrue(report.deadlineReached, "$report")
            assertEquals(3uL, report.recordsRemaining)
            assertEquals(3uL, recorder.stats().pendingRecords)
            assertFailsWith<RecorderException.InvalidInput> { recorder.submitAllRecords(Duration.ZERO) }
        }
    }
}
