package dev.kinesisrecorder

import dev.kinesisrecorder.ffi.AwsCredentials
import dev.kinesisrecorder.ffi.CredentialsProvider
import dev.kinesisrecorder.ffi.RecorderEvent
import dev.kinesisrecorder.ffi.RecorderException
import dev.kinesisrecorder.ffi.SubmitReport
import dev.kinesisrecorder.support.Kinesalite
import dev.kinesisrecorder.support.RecordingProxy
import dev.kinesisrecorder.support.testRecorder
import kotlinx.coroutines.delay
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withContext
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.Timeout
import java.time.Instant
import java.util.concurrent.atomic.AtomicInteger
import kotlin.test.assertEquals
import kotlin.test.assertTrue
import kotlin.test.fail

/** Credentials providers written in Kotlin: called off the saving thread, keys used, failures typed. */
@Timeout(120)
class CredentialsTest {
    /** A provider as an app would write it: an interface implementation with a suspending call. */
    class CountingProvider(private val sessionToken: String?) : CredentialsProvider {
        val calls = AtomicInteger()
        val threads: MutableSet<String> = java.util.Collections.synchronizedSet(mutableSetOf())

        override suspend fun credentials(): AwsCredentials {
            calls.incrementAndGet()
            threads += Thread.currentThread().name
            delay(20) // a suspending fetch, as from a backend
            return AwsCredentials("AKIDKOTLIN", "kotlin-secret", sessionToken, Instant.now().plusSeconds(3600))
        }
    }

    @Test
    fun `a Kotlin provider is called and its keys sign the requests`(): Unit = runBlocking {
        val stream = Kinesalite.newStream("kt-creds")
        val provider = CountingProvider(sessionToken = "kotlin-session-token")
        RecordingProxy(Kinesalite.endpoint).use { proxy ->
            testRecorder(credentials = provider, endpoint = proxy.endpoint).use { recorder ->
                repeat(10) { recorder.saveRecord("signed $it", stream, "k$it") }
                val report = recorder.submitAllRecords()
                assertEquals(emptyList(), report.errors)
                assertEquals(10uL, report.recordsSubmitted)
                // A second submission reuses the cached credentials (they expire in an hour).
                recorder.saveRecord("again", stream, "k")
                assertEquals(1uL, recorder.submitAllRecords().recordsSubmitted)
            }
            assertEquals(1, provider.calls.get(), "fresh credentials are cached")
            val puts = proxy.requests.filter { it["x-amz-target"] == "Kinesis_20131202.PutRecords" }
            assertTrue(puts.isNotEmpty())
            for (headers in puts) {
                val auth = headers["authorization"] ?: fail("no Authorization header: $headers")
                assertTrue(auth.startsWith("AWS4-HMAC-SHA256 Credential=AKIDKOTLIN/"), auth)
                assertTrue("/us-east-1/kinesis/aws4_request" in auth, auth)
                assertEquals("kotlin-session-token", headers["x-amz-security-token"])
            }
        }
        assertEquals(11, Kinesalite.admin.readAll(stream).size)
    }

    @Test
    fun `a lambda provider works, and the saving thread never runs it`(): Unit = runBlocking {
        val stream = Kinesalite.newStream("kt-lambda")
        val calls = AtomicInteger()
        val saver = Thread.currentThread().name
        val provider = credentialsProvider {
            calls.incrementAndGet()
            assertTrue(Thread.currentThread().name != saver)
            withContext(kotlinx.coroutines.Dispatchers.IO) { delay(10) }
            awsCredentials("AKIDLAMBDA", "lambda-secret")
        }
        testRecorder(credentials = provider).use { recorder ->
            repeat(5) { recorder.saveRecord("lambda $it", stream, "k") }
            assertEquals(0, calls.get(), "saving never asks for credentials")
            assertEquals(5uL, recorder.submitAllRecords().recordsSubmitted)
        }
        assertEquals(1, calls.get())
        assertEquals(5, Kinesalite.admin.readAll(stream).size)
    }

    /** The records wait, the failure is typed and names the cause, and nothing crashes. */
    private suspend fun assertCredentialsFailure(provider: CredentialsProvider, expectedInMessage: String) {
        val stream = Kinesalite.newStream("kt-badcreds")
        testRecorder(credentials = provider).use { recorder ->
            val events = java.util.Collections.synchronizedList(mutableListOf<RecorderEvent>())
            recorder.setListener(object : dev.kinesisrecorder.ffi.RecorderListener {
                override fun onEvent(event: RecorderEvent) {
                    events += event
                }
            })
            repeat(3) { recorder.saveRecord("waiting $it", stream, "k") }
            val message = try {
                val report: SubmitReport = recorder.submitAllRecords()
                assertEquals(0uL, report.recordsSubmitted)
                assertEquals(3uL, report.recordsRemaining, "the records wait for credentials")
                val error = report.errors.singleOrNull() ?: fail("expected one stream error: $report")
                assertEquals(stream, error.streamName)
                error.message
            } catch (e: RecorderException.Credentials) {
                e.reason
            }
            assertTrue("credentials" in message.lowercase(), message)
            assertTrue(expectedInMessage in message, message)
            val failed = events.filterIsInstance<RecorderEvent.SubmissionFailed>().single()
            assertTrue(failed.willRetry)
            assertEquals(3uL, recorder.stats().pendingRecords)
            // The recorder is still usable afterwards.
            recorder.saveRecord("still fine", stream, "k")
            recorder.flush()
            assertEquals(4uL, recorder.stats().pendingRecords)
        }
        assertEquals(0, Kinesalite.admin.readAll(stream).size)
    }

    @Test
    fun `a provider throwing a plain Kotlin exception surfaces as a credentials error`(): Unit = runBlocking {
        val provider = object : CredentialsProvider {
            override suspend fun credentials(): AwsCredentials = throw IllegalStateException("backend is down")
        }
        assertCredentialsFailure(provider, "backend is down")
    }

    @Test
    fun `a provider throwing RecorderException Credentials keeps its reason`(): Unit = runBlocking {
        val provider = object : CredentialsProvider {
            override suspend fun credentials(): AwsCredentials = throw RecorderException.Credentials("user signed out")
        }
        assertCredentialsFailure(provider, "user signed out")
    }

    @Test
    fun `a throwing lambda provider surfaces as a credentials error`(): Unit = runBlocking {
        assertCredentialsFailure(credentialsProvider { error("no identity pool") }, "no identity pool")
    }

    @Test
    fun `a provider returning empty keys is refused`(): Unit = runBlocking {
        assertCredentialsFailure(StaticCredentialsProvider("", "secret"), "empty")
    }
}
