// The program of the shrink check (src/test/kotlin/.../ShrinkCheckTest.kt): ProGuard shrinks it
// with the sample, the library, JNA and Kotlin, as R8 shrinks a release app, and it then runs on
// the shrunk classes in a JVM of its own.
package dev.kinesisrecorder.shrinkcheck

import dev.kinesisrecorder.KinesisRecorder
import dev.kinesisrecorder.awsCredentials
import dev.kinesisrecorder.credentialsProvider
import dev.kinesisrecorder.events
import dev.kinesisrecorder.ffi.RecordToSave
import dev.kinesisrecorder.ffi.RecorderEvent
import dev.kinesisrecorder.ffi.RecorderException
import dev.kinesisrecorder.saveRecord
import kotlinx.coroutines.CoroutineStart
import kotlinx.coroutines.async
import kotlinx.coroutines.flow.filterIsInstance
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import java.time.Instant
import java.util.concurrent.atomic.AtomicInteger
import kotlin.system.exitProcess
import kotlin.time.Duration.Companion.seconds

/**
 * Saves COUNT records `shrink-0` .. `shrink-{COUNT-1}` to STREAM at ENDPOINT and submits them,
 * crossing the native boundary every way UniFFI's Kotlin does: calls with structures in and out
 * (RustBuffer), a typed error, a Kotlin credentials provider and an event listener called from
 * Rust threads (JNA callbacks), and an async call completed through a continuation callback.
 * Prints `round trip: ...` and exits 0, or says what broke and exits 1.
 *
 * Usage: RoundTrip ENDPOINT STREAM DATABASE_PATH COUNT
 */
fun main(args: Array<String>) {
    if (args.size != 4) {
        System.err.println("usage: RoundTrip ENDPOINT STREAM DATABASE_PATH COUNT")
        exitProcess(2)
    }
    try {
        println(roundTrip(endpoint = args[0], stream = args[1], databasePath = args[2], count = args[3].toInt()))
    } catch (e: Throwable) {
        System.err.println("round trip failed:")
        e.printStackTrace()
        exitProcess(1)
    }
}

private fun roundTrip(endpoint: String, stream: String, databasePath: String, count: Int): String {
    require(count >= 3) { "COUNT must be at least 3" }
    val credentialCalls = AtomicInteger()
    val credentials = credentialsProvider {
        credentialCalls.incrementAndGet()
        awsCredentials("AKIDSHRINK", "shrink-secret", "shrink-token", Instant.now().plusSeconds(3600))
    }
    return KinesisRecorder(databasePath, "us-east-1", credentials) {
        this.endpoint = endpoint
        autoSubmit = false
    }.use { recorder ->
        runBlocking {
            val delivered = async(start = CoroutineStart.UNDISPATCHED) {
                recorder.events().filterIsInstance<RecorderEvent.RecordsSubmitted>().first()
            }
            recorder.saveRecord("shrink-0", stream)
            recorder.saveRecordWithHashKey("shrink-1".encodeToByteArray(), stream, "key-1", "1")
            recorder.saveRecords(
                List(count - 2) { RecordToSave("shrink-${it + 2}".encodeToByteArray(), stream, "key-${it + 2}", null) },
            )
            val refused = runCatching { recorder.saveRecord(ByteArray(0), stream, null) }.exceptionOrNull()
            check(refused is RecorderException.InvalidInput) { "an empty record should be InvalidInput, got $refused" }

            recorder.flush()
            val report = recorder.submitAllRecords()
            check(report.recordsSubmitted == count.toULong() && report.errors.isEmpty()) { "submission: $report" }
            val event = withTimeout(10.seconds) { delivered.await() }
            check(recorder.stats().pendingRecords == 0uL) { "records left: ${recorder.stats()}" }
            check(credentialCalls.get() >= 1) { "the credentials provider was never called" }
            "round trip: ${report.recordsSubmitted} submitted in ${report.requests} request(s); " +
                "first event ${event.count} to ${event.streamName}; credentials fetched ${credentialCalls.get()}x; " +
                "empty record refused: ${refused.message}"
        }
    }
}
