package dev.kinesisrecorder

import dev.kinesisrecorder.ffi.FailureKind
import dev.kinesisrecorder.ffi.RecorderException
import dev.kinesisrecorder.support.Moto
import dev.kinesisrecorder.support.RecordingProxy
import dev.kinesisrecorder.support.tempStore
import dev.kinesisrecorder.support.testRecorder
import kotlinx.coroutines.delay
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.Timeout
import org.junit.jupiter.api.assertThrows
import java.util.concurrent.atomic.AtomicInteger
import kotlin.test.assertEquals
import kotlin.test.assertTrue
import kotlin.test.fail

/** The built-in Cognito Identity provider from Kotlin, against moto's cognito-identity and Kinesis. */
@Timeout(180)
class CognitoTest {
    private val idp = "cognito-idp.us-east-1.amazonaws.com/us-east-1_KotlinTest"

    @Test
    fun `guests then a signed-in user send with the pool's credentials and keep one identity`(): Unit = runBlocking {
        val pool = Moto.newIdentityPool()
        val stream = Moto.newStream("kt-cognito")
        val path = tempStore()
        val loginCalls = AtomicInteger()
        RecordingProxy(Moto.endpoint).use { kinesis ->
            val guest = cognitoCredentials(pool, "us-east-1", endpoint = Moto.endpoint)
            testRecorder(path, credentials = guest, endpoint = kinesis.endpoint).use { recorder ->
                repeat(5) { recorder.saveRecord("guest $it", stream, "k$it") }
                val report = recorder.submitAllRecords()
                assertEquals(emptyList(), report.errors)
                assertEquals(5uL, report.recordsSubmitted)
            }
            // A new recorder on the same store, with a suspending logins lambda: the identity is kept.
            val user = cognitoCredentials(pool, "us-east-1", Moto.endpoint) {
                loginCalls.incrementAndGet()
                delay(5)
                mapOf(idp to "id-token")
            }
            testRecorder(path, credentials = user, endpoint = kinesis.endpoint).use { recorder ->
                repeat(3) { recorder.saveRecord("user $it", stream, "k$it") }
                assertEquals(3uL, recorder.submitAllRecords().recordsSubmitted)
                recorder.saveRecord("again", stream, "k")
                assertEquals(1uL, recorder.submitAllRecords().recordsSubmitted)
            }
            val puts = kinesis.requests.filter { it["x-amz-target"] == "Kinesis_20131202.PutRecords" }
            assertEquals(3, puts.size)
            for (headers in puts) {
                val auth = headers["authorization"] ?: fail("no Authorization header: $headers")
                assertTrue(auth.startsWith("AWS4-HMAC-SHA256 Credential=TESTACCESSKEY12345/"), auth)
                assertEquals("ABC12345", headers["x-amz-security-token"], "moto's session token")
            }
        }
        assertEquals(2, loginCalls.get(), "the logins are asked at each use")
        assertEquals(9, Moto.admin.readAll(stream).size)
        assertEquals(1, Moto.identityCount(pool), "one identity for both recorders")
    }

    @Test
    fun `a throwing logins lambda keeps the records and says why`(): Unit = runBlocking {
        val pool = Moto.newIdentityPool()
        val stream = Moto.newStream("kt-cognito-fail")
        val credentials = cognitoCredentials(pool, "us-east-1", Moto.endpoint) { error("no session") }
        testRecorder(credentials = credentials, endpoint = Moto.endpoint).use { recorder ->
            repeat(2) { recorder.saveRecord("kept $it", stream, "k") }
            val report = recorder.submitAllRecords()
            val error = report.errors.singleOrNull() ?: fail("expected one stream error: $report")
            assertEquals(FailureKind.CREDENTIALS, error.kind)
            assertTrue("logins lambda threw" in error.message && "no session" in error.message, error.message)
            assertEquals(2uL, recorder.stats().pendingRecords)
        }
        assertEquals(0, Moto.identityCount(pool), "nothing asked of Cognito without logins")
    }

    @Test
    fun `a malformed pool id is refused at once`() {
        assertThrows<RecorderException.InvalidInput> { cognitoCredentials("my-pool", "us-east-1") }
        assertThrows<RecorderException.InvalidInput> { cognitoCredentials("eu-west-1:0a1b2c3d", "us-east-1") }
        assertThrows<RecorderException.InvalidInput> {
            cognitoCredentials("us-east-1:0a1b2c3d", "us-east-1", endpoint = "http://cognito.example.com")
        }
    }
}
