package dev.kinesisrecorder.android

import android.content.Context
import android.net.ConnectivityManager
import android.net.Network
import android.net.NetworkCapabilities
import android.util.Log

/**
 * Follows the app's default network and reports whether records may be sent on it: when it goes
 * away the recorder stops trying (no attempt spent, no battery burnt); when it comes back the
 * recorder submits what is pending at once.
 *
 * Needs `ACCESS_NETWORK_STATE` (declared by the library's manifest). If the callback cannot be
 * registered (permission removed, or the app's 100 callbacks used up) the recorder keeps
 * assuming a network, as without this class.
 */
internal class NetworkMonitor(
    context: Context,
    private val unmeteredOnly: Boolean,
    private val onChange: (available: Boolean) -> Unit,
) : ConnectivityManager.NetworkCallback() {
    private val connectivity = context.getSystemService(ConnectivityManager::class.java)
    private var registered = false

    fun start() {
        val cm = connectivity ?: return
        try {
            val active = cm.activeNetwork
            onChange(active != null && usable(cm.getNetworkCapabilities(active)))
            // Calls onAvailable (+ onCapabilitiesChanged) at once when there is a default network.
            cm.registerDefaultNetworkCallback(this)
            registered = true
        } catch (e: RuntimeException) { // SecurityException, ConnectivityManager.TooManyRequestsException
            Log.w(TAG, "cannot follow the network; assuming it is available", e)
            onChange(true)
        }
    }

    fun stop() {
        if (!registered) return
        registered = false
        try {
            connectivity?.unregisterNetworkCallback(this)
        } catch (e: IllegalArgumentException) {
            // Already unregistered.
        }
    }

    override fun onAvailable(network: Network) {
        // Before API 26 onCapabilitiesChanged may not follow: ask for the capabilities now.
        onChange(usable(connectivity?.getNetworkCapabilities(network)))
    }

    override fun onCapabilitiesChanged(network: Network, capabilities: NetworkCapabilities) {
        onChange(usable(capabilities))
    }

    override fun onLost(network: Network) {
        onChange(false)
    }

    override fun onUnavailable() {
        onChange(false)
    }

    /**
     * Internet capability is enough: VALIDATED is not required, because networks that reach AWS
     * through a VPC endpoint or a proxy may never validate, and a failed request costs no
     * attempt anyway.
     */
    private fun usable(capabilities: NetworkCapabilities?): Boolean =
        capabilities != null &&
            capabilities.hasCapability(NetworkCapabilities.NET_CAPABILITY_INTERNET) &&
            (!unmeteredOnly || capabilities.hasCapability(NetworkCapabilities.NET_CAPABILITY_NOT_METERED))

    private companion object {
        const val TAG = "KinesisRecorder"
    }
}
