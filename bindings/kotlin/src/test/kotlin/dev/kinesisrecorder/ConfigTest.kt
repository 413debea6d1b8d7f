package dev.kinesisrecorder

import dev.kinesisrecorder.ffi.Service
import dev.kinesisrecorder.ffi.WhenFull
import dev.kinesisrecorder.ffi.defaultRecorderConfig
import org.junit.jupiter.api.Test
import java.time.Duration
import kotlin.test.assertEquals
import kotlin.test.assertNotSame

class ConfigTest {
    @Test
    fun `the DSL starts from the core's defaults and changes only what it sets`() {
        val defaults = defaultRecorderConfig("/data/records.sqlite", "eu-west-1", Service.KINESIS_DATA_STREAMS)
        assertEquals(defaults, recorderConfig("/data/records.sqlite", "eu-west-1"))

        val changed = recorderConfig("/data/records.sqlite", "eu-west-1") {
            maxStorageBytes = 20uL shl 20
            whenFull = WhenFull.REJECT_NEW
            submitInterval = Duration.ofSeconds(5)
        }
        assertEquals(
            defaults.copy(maxStorageBytes = 20uL shl 20, whenFull = WhenFull.REJECT_NEW, submitInterval = Duration.ofSeconds(5)),
            changed,
        )
        assertNotSame(defaults, changed)
        // The core's documented defaults reach Kotlin (read, not restated, by the layer).
        assertEquals(5uL * 1024uL * 1024uL, defaults.maxStorageBytes)
        assertEquals(WhenFull.DROP_OLDEST, defaults.whenFull)
        assertEquals(500u, defaults.maxRecordsPerRequest)
        assertEquals(true, defaults.autoSubmit)
        assertEquals(null, defaults.endpoint)
    }

    @Test
    fun `credentials helpers`() {
        val c = awsCredentials("AKID", "secret")
        assertEquals(null, c.sessionToken)
        assertEquals(null, c.expiration)
        assertEquals("StaticCredentialsProvider(accessKeyId=AKID)", StaticCredentialsProvider("AKID", "secret").toString())
    }
}
