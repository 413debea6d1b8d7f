package dev.kinesisrecorder

import dev.kinesisrecorder.ffi.LogLevel
import dev.kinesisrecorder.ffi.LogSink
import dev.kinesisrecorder.ffi.setLogSink
import dev.kinesisrecorder.support.tempStore
import dev.kinesisrecorder.support.testRecorder
import org.junit.jupiter.api.Test
import java.util.Collections
import kotlin.test.assertEquals
import kotlin.test.assertTrue

/**
 * The core's log reaches a sink written in Kotlin through the generated `LogSink` interface and
 * `setLogSink` alone (what an `android.util.Log` forwarder needs), filtered by level.
 */
class LogSinkTest {
    @Test
    fun `a Kotlin sink gets the core's log lines at the level it asked for`() {
        val lines = Collections.synchronizedList(mutableListOf<Triple<LogLevel, String, String>>())
        val sink = object : LogSink {
            override fun log(level: LogLevel, target: String, message: String) {
                lines.add(Triple(level, target, message))
            }
        }
        setLogSink(sink, LogLevel.DEBUG)
        try {
            testRecorder(tempStore(), endpoint = "http://127.0.0.1:9").use { recorder ->
                recorder.setNetworkAvailable(false)
                assertTrue(
                    lines.contains(
                        Triple(LogLevel.DEBUG, "kinesis_recorder::recorder", "network availability changed available=false"),
                    ),
                    lines.toString(),
                )
                setLogSink(sink, LogLevel.WARN)
                val before = lines.size
                recorder.setNetworkAvailable(true) // a debug line: not forwarded at WARN
                recorder.saveRecord("x", "kotlin-logged")
                recorder.deleteAllRecords()
                assertEquals(
                    listOf(Triple(LogLevel.WARN, "kinesis_recorder::recorder::events", "records dropped stream=kotlin-logged reason=deleted count=1")),
                    lines.drop(before).filter { it.third.contains("kotlin-logged") || it.first == LogLevel.DEBUG },
                )
            }
        } finally {
            setLogSink(null, LogLevel.ERROR)
        }
    }
}
