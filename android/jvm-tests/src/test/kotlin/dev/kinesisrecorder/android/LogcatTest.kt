package dev.kinesisrecorder.android

import android.util.Log
import dev.kinesisrecorder.StaticCredentialsProvider
import dev.kinesisrecorder.ffi.LogLevel
import dev.kinesisrecorder.saveRecord
import dev.kinesisrecorder.support.Kinesalite
import dev.kinesisrecorder.support.tempStore
import kotlinx.coroutines.runBlocking
import org.junit.After
import org.junit.Test
import org.junit.runner.RunWith
import org.robolectric.RobolectricTestRunner
import org.robolectric.RuntimeEnvironment
import org.robolectric.annotation.Config
import org.robolectric.shadows.ShadowLog
import java.io.File
import kotlin.test.assertEquals
import kotlin.test.assertTrue

/**
 * The core's log in logcat (android.util.Log, as Robolectric's ShadowLog records it): on by
 * default at WARN from the first `create`, more on request, off on request, and never a record's
 * data, partition key or a secret.
 */
@RunWith(RobolectricTestRunner::class)
@Config(sdk = [35])
class LogcatTest {
    private val app get() = RuntimeEnvironment.getApplication()
    private val toClose = mutableListOf<AutoCloseable>()

    @After
    fun closeAll() {
        toClose.asReversed().forEach { it.close() }
        KinesisRecorderAndroid.logToLogcat(KinesisRecorderAndroid.DEFAULT_LOG_LEVEL)
    }

    private fun logcat(): List<ShadowLog.LogItem> = ShadowLog.getLogsForTag(KinesisRecorderAndroid.LOG_TAG)

    private fun recorder(secret: String, endpoint: String = Kinesalite.endpoint): AndroidKinesisRecorder =
        KinesisRecorderAndroid.create(
            app, "us-east-1", StaticCredentialsProvider("AKIDLOGCAT", secret, "$secret-token"),
            AndroidOptions(backgroundDelivery = false), File(tempStore()),
        ) {
            this.endpoint = endpoint
            autoSubmit = false
        }.also { toClose += it }

    /** As in a fresh process: no `logToLogcat` call yet (the flag lives as long as the class). */
    private fun freshProcess() {
        KinesisRecorderAndroid::class.java.getDeclaredField("logConfigured").apply { isAccessible = true }.setBoolean(null, false)
        KinesisRecorderAndroid.logToLogcat(null)
        KinesisRecorderAndroid::class.java.getDeclaredField("logConfigured").apply { isAccessible = true }.setBoolean(null, false)
        ShadowLog.clear()
    }

    @Test
    fun warningsReachLogcatByDefaultAndDebugLinesOnRequest() {
        Device.startOn(Device.wifi())
        freshProcess()
        val stream = Kinesalite.newStream("android-logcat")
        val recorder = recorder("logcat-secret")
        recorder.saveRecord("x", stream)
        recorder.setNetworkAvailable(false) // a DEBUG line: not at the default level
        recorder.deleteAllRecords() // a WARN line, from the event thread
        waitUntil(what = "the warning reaches logcat") { logcat().isNotEmpty() }
        val line = logcat().single()
        assertEquals(Log.WARN, line.type)
        assertEquals("records dropped stream=$stream reason=deleted count=1", line.msg)

        KinesisRecorderAndroid.logToLogcat(LogLevel.DEBUG)
        recorder.setNetworkAvailable(true)
        assertTrue(
            logcat().any { it.type == Log.DEBUG && it.msg == "network availability changed available=true" },
            logcat().joinToString("\n") { it.msg },
        )

        KinesisRecorderAndroid.logToLogcat(null)
        ShadowLog.clear()
        recorder.setNetworkAvailable(false)
        recorder.saveRecord("y", stream)
        recorder.deleteAllRecords()
        recorder.flush()
        assertEquals(emptyList(), logcat().map { it.msg }, "off")
    }

    @Test
    fun noRecordDataKeysOrSecretsEvenAtTrace() {
        Device.startOn(Device.wifi())
        KinesisRecorderAndroid.logToLogcat(LogLevel.TRACE)
        ShadowLog.clear()
        val stream = Kinesalite.newStream("android-logcat-trace")
        val secret = "s3cr3t-${System.nanoTime()}"
        val payload = "PAYLOAD-${System.nanoTime()}"
        val key = "KEY-${System.nanoTime()}"
        val recorder = recorder(secret)
        repeat(3) { recorder.saveRecord(payload, stream, key) }
        recorder.saveRecord(payload, "android-logcat-no-such-stream", key)
        val report = runBlocking { recorder.submitAllRecords() } // one stream delivered, one refused
        assertEquals(3uL, report.recordsSubmitted)
        recorder.deleteAllRecords()
        recorder("$secret-unreachable", endpoint = "http://127.0.0.1:9").apply {
            saveRecord(payload, stream, key)
            runBlocking { submitAllRecords() } // a network failure
        }
        recorder.flush()

        val lines = logcat().map { it.msg }
        assertTrue(lines.size > 5, "the recorder logged at TRACE: $lines")
        assertTrue(lines.any { "android-logcat-no-such-stream" in it }, "the refusal is there: $lines")
        for (line in lines) {
            for (hidden in listOf(payload, key, secret)) assertTrue(hidden !in line, "'$hidden' in '$line'")
        }
    }
}
