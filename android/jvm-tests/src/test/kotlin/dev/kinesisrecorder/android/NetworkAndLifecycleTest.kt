package dev.kinesisrecorder.android

import android.app.job.JobInfo
import android.content.ComponentCallbacks2
import dev.kinesisrecorder.saveRecord
import dev.kinesisrecorder.support.Kinesalite
import dev.kinesisrecorder.support.RecordingProxy
import dev.kinesisrecorder.support.tempStore
import dev.kinesisrecorder.support.testCredentials
import dev.kinesisrecorder.ffi.RecorderConfig
import kotlinx.coroutines.runBlocking
import org.junit.After
import org.junit.Test
import org.junit.runner.RunWith
import org.robolectric.RobolectricTestRunner
import org.robolectric.RuntimeEnvironment
import org.robolectric.annotation.Config
import java.io.File
import kotlin.test.assertEquals
import kotlin.test.assertFalse
import kotlin.test.assertNotNull
import kotlin.test.assertNull
import kotlin.test.assertTrue

/**
 * The Android glue run for real: Robolectric's ConnectivityManager, Application and JobScheduler,
 * the real recorder (native library through JNA) and kinesalite on loopback, behind a proxy that
 * counts the requests that reach it.
 */
@RunWith(RobolectricTestRunner::class)
@Config(sdk = [35])
class NetworkAndLifecycleTest {
    private val app get() = RuntimeEnvironment.getApplication()
    private val toClose = mutableListOf<AutoCloseable>()

    @After
    fun closeAll() {
        toClose.asReversed().forEach { it.close() }
    }

    private fun proxyTo(target: String) = RecordingProxy(target).also { toClose += it }

    private fun recorder(
        endpoint: String,
        options: AndroidOptions = AndroidOptions(),
        configure: RecorderConfig.() -> Unit = {},
    ): AndroidKinesisRecorder =
        KinesisRecorderAndroid.create(app, "us-east-1", testCredentials, options, File(tempStore())) {
            this.endpoint = endpoint
            configure()
        }.also { toClose += it }

    private fun AndroidKinesisRecorder.saveNumbered(stream: String, count: Int, prefix: String): List<String> =
        List(count) { "$prefix-$it" }.onEach { saveRecord(it, stream) }

    private fun readBack(stream: String): List<String> = Kinesalite.admin.readAll(stream).map { it.text }

    @Test
    fun networkLostStopsEveryRequestAndItsReturnDeliversEverythingOnce() {
        Device.startOn(Device.wifi())
        val stream = Kinesalite.newStream("android-net")
        val proxy = proxyTo(Kinesalite.endpoint)
        val recorder = recorder(proxy.endpoint) // automatic submission on, as in apps
        assertEquals(1, Device.callbacks.size, "the recorder follows the default network")
        assertTrue(recorder.stats().networkAvailable)

        Device.loseNetwork()
        assertFalse(recorder.stats().networkAvailable)
        val saved = recorder.saveNumbered(stream, 200, "offline") // saves go on
        recorder.flush()
        val report = runBlocking { recorder.submitAllRecords() }
        assertTrue(report.networkUnavailable)
        assertEquals(200uL, report.recordsRemaining)
        Thread.sleep(500) // room for any request that should not be made
        assertEquals(0, proxy.requests.size, "no request while the network is lost")
        assertNotNull(Device.pendingJob(), "records wait for a network: the delivery job is scheduled")

        Device.gainNetwork(Device.wifi())
        waitUntil(what = "the pending records are delivered") { recorder.stats().pendingRecords == 0uL }
        assertEquals(saved.sorted(), readBack(stream).sorted(), "every record delivered, once")
        assertEquals(1, proxy.requests.size, "200 records: one PutRecords call")
        waitUntil(what = "the job is cancelled once the store is empty") { Device.pendingJob() == null }
    }

    @Test
    fun unmeteredOnlySendsNothingOnAMeteredNetworkAndEverythingOnWifi() {
        Device.startOn(Device.cellular())
        val stream = Kinesalite.newStream("android-unmetered")
        val proxy = proxyTo(Kinesalite.endpoint)
        val recorder = recorder(proxy.endpoint, AndroidOptions(unmeteredOnly = true))
        assertFalse(recorder.stats().networkAvailable, "a metered network does not count")

        val saved = recorder.saveNumbered(stream, 50, "metered")
        recorder.flush()
        assertTrue(runBlocking { recorder.submitAllRecords() }.networkUnavailable)
        Thread.sleep(500)
        assertEquals(0, proxy.requests.size, "nothing sent on a metered network")
        val job = assertNotNull(Device.pendingJob(), "the submission ended for lack of network")
        assertEquals(JobInfo.NETWORK_TYPE_UNMETERED, @Suppress("DEPRECATION") job.networkType)

        Device.changeNetwork(Device.wifi())
        waitUntil(what = "the records are delivered on Wi-Fi") { recorder.stats().pendingRecords == 0uL }
        assertEquals(saved.sorted(), readBack(stream).sorted())
        assertTrue(proxy.requests.isNotEmpty())
    }

    @Test
    fun leavingTheScreenCommitsQueuedSavesAndSubmitsThem() {
        Device.startOn(Device.wifi())
        val stream = Kinesalite.newStream("android-hidden")
        // No automatic submission: what is delivered here was submitted by onTrimMemory.
        val recorder = recorder(Kinesalite.endpoint) { autoSubmit = false }
        val saved = recorder.saveNumbered(stream, 30, "hidden") // queued, no flush

        app.onTrimMemory(ComponentCallbacks2.TRIM_MEMORY_UI_HIDDEN)
        waitUntil(what = "the queued saves are delivered") { readBack(stream).size == saved.size }
        assertEquals(saved.sorted(), readBack(stream).sorted())
        waitUntil(what = "no job is left once the store is empty") { Device.pendingJob() == null }
    }

    @Test
    fun leavingTheScreenWithTheServerDownSchedulesTheJobWithItsConstraints() {
        Device.startOn(Device.wifi())
        val stream = Kinesalite.newStream("android-hidden-down")
        val proxy = proxyTo(deadEndpoint()) // answers no request: the recorder sees a network failure
        val recorder = recorder(proxy.endpoint) { autoSubmit = false }
        recorder.saveNumbered(stream, 30, "kept")

        app.onTrimMemory(ComponentCallbacks2.TRIM_MEMORY_UI_HIDDEN)
        waitUntil(what = "a submission reaches the proxy") { proxy.requests.isNotEmpty() }
        val job = assertNotNull(Device.pendingJob(), "records are pending as the UI leaves: the job is scheduled")
        assertEquals(RecorderJobService::class.java.name, job.service.className)
        assertEquals(JobInfo.NETWORK_TYPE_ANY, @Suppress("DEPRECATION") job.networkType)
        assertTrue(job.isPersisted, "survives a reboot")
        assertEquals(DeliveryJob.BACKOFF_MILLIS, job.initialBackoffMillis)
        assertEquals(JobInfo.BACKOFF_POLICY_EXPONENTIAL, job.backoffPolicy)
        val stats = recorder.stats()
        assertEquals(0uL, stats.queuedRecords, "queued saves were committed")
        assertEquals(30uL, stats.pendingRecords, "every record kept")
    }

    @Test
    fun anEmptyStoreNeverSchedulesTheJob() {
        Device.startOn(Device.wifi())
        val recorder = recorder(deadEndpoint())
        app.onTrimMemory(ComponentCallbacks2.TRIM_MEMORY_UI_HIDDEN)
        Device.loseNetwork()
        runBlocking { recorder.submitAllRecords() }
        Thread.sleep(500) // the background checks run on another thread
        assertNull(Device.pendingJob(), "no wake-up while the store is empty")
    }

    @Test
    fun onlyOneRecorderPerProcessDeliversInTheBackground() {
        Device.startOn(Device.wifi())
        recorder(Kinesalite.endpoint)
        val second = runCatching { recorder(Kinesalite.endpoint) }
        assertTrue(second.exceptionOrNull() is IllegalStateException, "got $second")
        recorder(Kinesalite.endpoint, AndroidOptions(backgroundDelivery = false)) // without it: fine
    }
}
