package dev.kinesisrecorder.android

import dev.kinesisrecorder.ffi.RecorderConfig
import dev.kinesisrecorder.saveRecord
import dev.kinesisrecorder.support.Kinesalite
import dev.kinesisrecorder.support.tempStore
import dev.kinesisrecorder.support.testCredentials
import org.junit.After
import org.junit.Test
import org.junit.runner.RunWith
import org.robolectric.Robolectric
import org.robolectric.RobolectricTestRunner
import org.robolectric.RuntimeEnvironment
import org.robolectric.Shadows.shadowOf
import org.robolectric.annotation.Config
import java.io.File
import java.net.InetAddress
import java.net.ServerSocket
import java.net.Socket
import java.time.Duration
import java.util.concurrent.CopyOnWriteArrayList
import kotlin.concurrent.thread
import kotlin.test.assertEquals
import kotlin.test.assertFalse
import kotlin.test.assertTrue

/**
 * The delivery job as JobScheduler runs it: the service built by Robolectric, `onStartJob` called
 * by hand (Robolectric's JobScheduler records jobs but never runs them), the real recorder and
 * kinesalite behind it.
 */
@RunWith(RobolectricTestRunner::class)
@Config(sdk = [35])
class RecorderJobServiceTest {
    private val app get() = RuntimeEnvironment.getApplication()
    private val toClose = mutableListOf<AutoCloseable>()

    @After
    fun closeAll() {
        toClose.asReversed().forEach { it.close() }
    }

    /** As `Application.onCreate` would: the recorder the job finds. Saves [count] records. */
    private fun recorderWithPending(endpoint: String, stream: String, count: Int, configure: RecorderConfig.() -> Unit = {}) =
        KinesisRecorderAndroid.create(app, "us-east-1", testCredentials, databaseFile = File(tempStore())) {
            this.endpoint = endpoint
            autoSubmit = false // only the job submits
            configure()
        }.also { recorder ->
            toClose += recorder
            repeat(count) { recorder.saveRecord("job-$it", stream) }
            recorder.flush()
        }

    private fun startedService() = Robolectric.buildService(RecorderJobService::class.java).create().get()

    @Test
    fun deliversAndFinishesWithoutReschedule() {
        Device.startOn(Device.wifi())
        val stream = Kinesalite.newStream("android-job")
        val recorder = recorderWithPending(Kinesalite.endpoint, stream, 40)
        val service = startedService()

        assertTrue(service.onStartJob(Device.jobParameters()), "the work goes on after onStartJob returns")
        waitUntil(what = "jobFinished") { shadowOf(service).isJobFinished }
        assertFalse(shadowOf(service).isRescheduleNeeded, "nothing left: no reschedule")
        assertEquals(List(40) { "job-$it" }.sorted(), Kinesalite.admin.readAll(stream).map { it.text }.sorted())
        assertEquals(0uL, recorder.stats().pendingRecords)
    }

    @Test
    fun withTheServerDownFinishesAskingForARescheduleAndKeepsEveryRecord() {
        Device.startOn(Device.wifi())
        val recorder = recorderWithPending(deadEndpoint(), "android-job-down", 40)
        val service = startedService()

        assertTrue(service.onStartJob(Device.jobParameters()))
        waitUntil(what = "jobFinished") { shadowOf(service).isJobFinished }
        assertTrue(shadowOf(service).isRescheduleNeeded, "records remain for a network failure")
        assertEquals(40uL, recorder.stats().pendingRecords)
    }

    @Test
    fun onStopJobAbandonsTheWaitAsksForARescheduleAndKeepsEveryRecord() {
        Device.startOn(Device.wifi())
        // A server that accepts connections and never answers: the submission hangs until the
        // request timeout, as on a network that drops everything.
        val silent = ServerSocket(0, 50, InetAddress.getLoopbackAddress()).also { toClose += it }
        val accepted = CopyOnWriteArrayList<Socket>()
        thread(isDaemon = true) {
            runCatching { while (true) accepted += silent.accept() }
        }
        val recorder = recorderWithPending("http://127.0.0.1:${silent.localPort}", "android-job-stopped", 25) {
            requestTimeout = Duration.ofSeconds(3)
        }
        val service = startedService()

        assertTrue(service.onStartJob(Device.jobParameters()))
        waitUntil(what = "the request reaches the silent server") { accepted.isNotEmpty() }
        assertTrue(service.onStopJob(Device.jobParameters()), "a stopped job asks to run again")
        Thread.sleep(4_000) // past the request timeout: the abandoned submission has ended
        assertFalse(shadowOf(service).isJobFinished, "after onStopJob the job is the system's again")
        assertEquals(25uL, recorder.stats().pendingRecords)
    }

    @Test
    fun withoutARecorderTheJobHasNothingToDo() {
        assertFalse(startedService().onStartJob(Device.jobParameters()))
    }
}
