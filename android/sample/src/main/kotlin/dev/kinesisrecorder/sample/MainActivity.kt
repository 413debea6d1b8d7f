package dev.kinesisrecorder.sample

import android.app.Activity
import android.os.Bundle
import android.view.ViewGroup.LayoutParams.MATCH_PARENT
import android.view.ViewGroup.LayoutParams.WRAP_CONTENT
import android.widget.Button
import android.widget.LinearLayout
import android.widget.ScrollView
import android.widget.Switch
import android.widget.TextView
import dev.kinesisrecorder.events
import dev.kinesisrecorder.ffi.RecorderEvent
import dev.kinesisrecorder.ffi.RecorderException
import dev.kinesisrecorder.statsFlow
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.MainScope
import kotlinx.coroutines.cancel
import kotlinx.coroutines.launch
import kotlin.time.Duration.Companion.milliseconds

/**
 * Offline batching off the UI's critical path: each save on the main thread is validated and
 * queued; the disk and the network are the recorder's own threads' business. The button shows
 * what 1,000 saves really cost on this device (the JNI save path, no I/O; the README's "Cost of a
 * save" has the JVM's figures). Views are built in code so the sources compile without resources.
 */
class MainActivity : Activity() {
    private lateinit var scope: CoroutineScope
    private val recorder get() = (application as SampleApp).recorder

    private lateinit var saveResult: TextView
    private lateinit var statsText: TextView
    private lateinit var eventLog: TextView
    private var saved = 0

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        scope = MainScope()

        val column = LinearLayout(this).apply {
            orientation = LinearLayout.VERTICAL
            setPadding(32, 32, 32, 32)
        }
        fun add(view: android.view.View) = column.addView(view, LinearLayout.LayoutParams(MATCH_PARENT, WRAP_CONTENT))

        add(TextView(this).apply { text = "Sending to ${SampleConfig.target}" })
        add(Button(this).apply {
            tag = TAG_SAVE
            text = "Save 1,000 events (on the main thread)"
            setOnClickListener { saveThousand() }
        })
        saveResult = TextView(this).apply { tag = TAG_SAVE_RESULT }.also(::add)
        add(Switch(this).apply {
            tag = TAG_NETWORK
            text = "Network available (simulate offline)"
            isChecked = true
            setOnCheckedChangeListener { _, on -> recorder.setNetworkAvailable(on) }
        })
        add(Button(this).apply {
            tag = TAG_SUBMIT
            text = "Submit now"
            setOnClickListener { submitNow() }
        })
        statsText = TextView(this).apply { tag = TAG_STATS }.also(::add)
        eventLog = TextView(this).also(::add)

        setContentView(ScrollView(this).apply { addView(column) })

        scope.launch {
            recorder.statsFlow(500.milliseconds).collect { s ->
                statsText.text = "pending: ${s.pendingRecords} records, ${s.pendingBytes} bytes" +
                    " (queued ${s.queuedRecords})\nsubmitted: ${s.recordsSubmitted}, requests: ${s.requestsSent}" +
                    " (${s.requestsFailed} failed)\nnetwork: ${if (s.networkAvailable) "available" else "unavailable"}" +
                    s.streams.mapNotNull { it.lastError?.let { e -> "\n${it.streamName}: $e" } }.joinToString("")
            }
        }
        scope.launch {
            recorder.events().collect { event -> log(describe(event)) }
        }
    }

    /** Times the 1,000 `saveRecord` calls only (the payloads are built first) and shows the result. */
    private fun saveThousand() {
        val now = System.currentTimeMillis()
        val payloads = Array(1_000) { """{"event":"tap","n":${saved + it},"at":$now}""".encodeToByteArray() }
        val start = System.nanoTime() // monotonic, and real time under Robolectric too
        try {
            for (payload in payloads) recorder.saveRecord(payload, SampleConfig.STREAM, null)
            val nanos = System.nanoTime() - start
            saved += 1_000
            saveResult.text = "1,000 saves took %.2f ms on the main thread (%.2f µs per save; a 60 Hz frame is 16.7 ms). Total saved: %d"
                .format(nanos / 1e6, nanos / 1e6, saved)
        } catch (e: RecorderException) {
            saveResult.text = "save failed: ${e.message}"
        }
    }

    private fun submitNow() {
        scope.launch {
            try {
                val report = recorder.submitAllRecords() // suspends; the work runs on the recorder's thread
                log(
                    "submit: ${report.recordsSubmitted} sent, ${report.recordsRemaining} remaining" +
                        (if (report.networkUnavailable) " (offline)" else "") +
                        report.errors.joinToString("") { "\n  ${it.streamName}: ${it.code ?: ""} ${it.message}" },
                )
            } catch (e: RecorderException) {
                log("submit failed: ${e.message}")
            }
        }
    }

    private fun describe(event: RecorderEvent): String = when (event) {
        is RecorderEvent.RecordsSubmitted -> "sent ${event.count} to ${event.streamName}"
        is RecorderEvent.RecordsDropped -> "dropped ${event.count} of ${event.streamName}: ${event.reason}"
        is RecorderEvent.StorageThresholdCrossed -> "storage above ${event.threshold} bytes (${event.bytesUsed})"
        is RecorderEvent.SubmissionFailed ->
            "failed ${event.streamName}: ${event.code ?: ""} ${event.message}" + if (event.willRetry) " (will retry)" else ""
    }

    private fun log(line: String) {
        eventLog.text = (line + "\n" + eventLog.text).take(4_000)
    }

    override fun onDestroy() {
        scope.cancel()
        super.onDestroy()
    }

    /** View tags, for tests (views are built in code, without resource ids). */
    companion object {
        const val TAG_SAVE = "save"
        const val TAG_SAVE_RESULT = "save-result"
        const val TAG_NETWORK = "network"
        const val TAG_SUBMIT = "submit"
        const val TAG_STATS = "stats"
    }
}
