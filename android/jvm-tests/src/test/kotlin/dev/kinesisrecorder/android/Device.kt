package dev.kinesisrecorder.android

import android.app.job.JobInfo
import android.app.job.JobParameters
import android.app.job.JobScheduler
import android.net.ConnectivityManager
import android.net.Network
import android.net.NetworkCapabilities
import android.os.Bundle
import android.os.Looper
import android.os.PersistableBundle
import org.robolectric.RuntimeEnvironment
import org.robolectric.Shadows.shadowOf
import org.robolectric.shadows.ShadowNetworkCapabilities
import java.net.ServerSocket
import kotlin.time.Duration
import kotlin.time.Duration.Companion.seconds
import kotlin.time.TimeSource

/** Helpers for the Robolectric tests: the network as ConnectivityManager shows it, jobs, time. */
object Device {
    val connectivity: ConnectivityManager
        get() = RuntimeEnvironment.getApplication().getSystemService(ConnectivityManager::class.java)!!

    val jobScheduler: JobScheduler
        get() = RuntimeEnvironment.getApplication().getSystemService(JobScheduler::class.java)!!

    /** The network every callback is told about. */
    val network: Network get() = connectivity.activeNetwork ?: error("Robolectric has no default network")

    fun wifi(): NetworkCapabilities = capabilities(
        NetworkCapabilities.TRANSPORT_WIFI,
        NetworkCapabilities.NET_CAPABILITY_INTERNET,
        NetworkCapabilities.NET_CAPABILITY_NOT_METERED,
    )

    fun cellular(): NetworkCapabilities =
        capabilities(NetworkCapabilities.TRANSPORT_CELLULAR, NetworkCapabilities.NET_CAPABILITY_INTERNET)

    private fun capabilities(transport: Int, vararg capabilities: Int): NetworkCapabilities =
        ShadowNetworkCapabilities.newInstance().also { caps ->
            val shadow = shadowOf(caps)
            shadow.addTransportType(transport)
            capabilities.forEach { shadow.addCapability(it) }
        }

    /** What the default network is before a recorder starts watching it. */
    fun startOn(capabilities: NetworkCapabilities) {
        shadowOf(connectivity).setNetworkCapabilities(network, capabilities)
    }

    /** The default-network callbacks registered so far (the recorder's among them). */
    val callbacks: Set<ConnectivityManager.NetworkCallback>
        get() = shadowOf(connectivity).networkCallbacks

    /** The default network goes away, as the system reports it. */
    fun loseNetwork() {
        callbacks.forEach { it.onLost(network) }
    }

    /** A default network with [capabilities] arrives, as the system reports it. */
    fun gainNetwork(capabilities: NetworkCapabilities) {
        shadowOf(connectivity).setNetworkCapabilities(network, capabilities)
        callbacks.forEach {
            it.onAvailable(network)
            it.onCapabilitiesChanged(network, capabilities)
        }
    }

    /** The capabilities of the default network change (Wi-Fi to cellular, ...). */
    fun changeNetwork(capabilities: NetworkCapabilities) {
        shadowOf(connectivity).setNetworkCapabilities(network, capabilities)
        callbacks.forEach { it.onCapabilitiesChanged(network, capabilities) }
    }

    fun pendingJob(id: Int = AndroidOptions.DEFAULT_BACKGROUND_JOB_ID): JobInfo? = jobScheduler.getPendingJob(id)

    /** What JobScheduler hands to `onStartJob` (a hidden constructor, public in android-all). */
    fun jobParameters(id: Int = AndroidOptions.DEFAULT_BACKGROUND_JOB_ID): JobParameters =
        JobParameters(null, null, id, PersistableBundle(), Bundle(), null, 0, false, false, false, null, null, network)

    /** Runs what is posted to the main looper (Robolectric's paused looper) until [condition]. */
    fun idleMainUntil(timeout: Duration = 20.seconds, what: String, condition: () -> Boolean) =
        waitUntil(timeout, what) {
            shadowOf(Looper.getMainLooper()).idle()
            condition()
        }
}

/** Polls [condition] every 20 ms; fails with [what] after [timeout]. */
fun waitUntil(timeout: Duration = 20.seconds, what: String, condition: () -> Boolean) {
    val start = TimeSource.Monotonic.markNow()
    while (!condition()) {
        check(start.elapsedNow() < timeout) { "timed out after $timeout waiting until $what" }
        Thread.sleep(20)
    }
}

/** An endpoint on loopback where nothing listens: every connection is refused. */
fun deadEndpoint(): String {
    val port = ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress()).use { it.localPort }
    return "http://127.0.0.1:$port"
}
