package dev.kinesisrecorder.android

import android.content.ComponentCallbacks2
import android.content.Context
import android.content.res.Configuration
import android.util.Log
import dev.kinesisrecorder.ffi.CredentialsProvider
import dev.kinesisrecorder.ffi.KinesisRecorder
import dev.kinesisrecorder.ffi.KinesisRecorderInterface
import dev.kinesisrecorder.ffi.RecorderConfig
import dev.kinesisrecorder.ffi.RecorderException
import dev.kinesisrecorder.recorderConfig
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.cancel
import kotlinx.coroutines.launch
import java.io.File
import java.util.concurrent.atomic.AtomicBoolean

/** Android glue around a [KinesisRecorder]: what [KinesisRecorderAndroid.create] returns. */
class AndroidOptions(
    /** Follow the default network and pause submission while there is none. */
    val watchNetwork: Boolean = true,
    /** With [watchNetwork]: only submit on unmetered networks (Wi-Fi, Ethernet). */
    val unmeteredOnly: Boolean = false,
    /**
     * When the app's UI leaves the screen (`onTrimMemory(TRIM_MEMORY_UI_HIDDEN)` or a later
     * level): commit queued saves to disk and ask for a submission, while the process is still
     * likely to run.
     */
    val flushWhenHidden: Boolean = true,
)

/**
 * A [KinesisRecorder] wired to the Android platform: the store in the app's no-backup directory,
 * submission paused while offline, a flush when the app goes to the background. Every recorder
 * call is available on this object (it implements [KinesisRecorderInterface]) together with the
 * Kotlin extensions of `dev.kinesisrecorder` (`events()`, `statsFlow()`, `submitInBackground()`).
 *
 * Keep one per process, typically created in `Application.onCreate` and never closed. [close]
 * unregisters the callbacks, commits queued saves and stops the recorder's threads.
 */
class AndroidKinesisRecorder internal constructor(
    context: Context,
    /** The underlying recorder. */
    val recorder: KinesisRecorder,
    private val options: AndroidOptions,
) : KinesisRecorderInterface by recorder, AutoCloseable {
    private val appContext = context.applicationContext ?: context
    private val closed = AtomicBoolean(false)
    private val scope = CoroutineScope(SupervisorJob() + Dispatchers.IO)
    private val network: NetworkMonitor? =
        if (options.watchNetwork) NetworkMonitor(appContext, options.unmeteredOnly, ::onNetworkChanged) else null

    private val componentCallbacks = object : ComponentCallbacks2 {
        override fun onTrimMemory(level: Int) {
            // UI_HIDDEN (20) and the background levels above it; not the RUNNING_* levels below.
            if (level >= ComponentCallbacks2.TRIM_MEMORY_UI_HIDDEN) flushInBackground()
        }

        override fun onConfigurationChanged(newConfig: Configuration) {}

        @Deprecated("Deprecated in Java")
        override fun onLowMemory() = flushInBackground()
    }

    init {
        network?.start()
        if (options.flushWhenHidden) appContext.registerComponentCallbacks(componentCallbacks)
    }

    private fun onNetworkChanged(available: Boolean) {
        if (!closed.get()) recorder.setNetworkAvailable(available)
    }

    /**
     * Commits queued saves on a background thread, then asks for a submission. Returns at once;
     * safe to call from the main thread (for example in `Activity.onStop`).
     */
    fun flushInBackground() {
        if (closed.get()) return
        scope.launch {
            try {
                recorder.flush()
                recorder.requestSubmit()
            } catch (e: RecorderException) {
                Log.w(TAG, "flush failed", e)
            } catch (e: IllegalStateException) {
                // Closed meanwhile.
            }
        }
    }

    override fun close() {
        if (!closed.compareAndSet(false, true)) return
        network?.stop()
        if (options.flushWhenHidden) appContext.unregisterComponentCallbacks(componentCallbacks)
        scope.cancel()
        recorder.close()
    }

    private companion object {
        const val TAG = "KinesisRecorder"
    }
}

/** Entry point of the Android library. */
object KinesisRecorderAndroid {
    /** File name of the default store, in [defaultDatabaseFile]'s directory. */
    const val DEFAULT_DATABASE_NAME: String = "records.sqlite"

    /**
     * The default store: `noBackupFilesDir/kinesis-recorder/records.sqlite`. Persistent (not a
     * cache the system may purge, unlike the AWS iOS recorder's temporary directory), private to
     * the app, and left out of Auto Backup and device transfers: pending records belong to this
     * install.
     */
    @JvmStatic
    @JvmOverloads
    fun defaultDatabaseFile(context: Context, name: String = DEFAULT_DATABASE_NAME): File =
        File(File(context.noBackupFilesDir, "kinesis-recorder"), name)

    /**
     * Opens (or creates) the store at [databaseFile] and starts a recorder for [region] with the
     * core's defaults changed by [configure], plus the Android glue of [options].
     *
     * Opening reads the SQLite file (milliseconds): call it once, in `Application.onCreate` or
     * on a background thread.
     *
     * @throws RecorderException.InvalidInput for a bad configuration value.
     * @throws RecorderException.StorageFailure when the file is not a usable store; see
     *   `dev.kinesisrecorder.ffi.moveAsideStore` to move it aside and start a new one.
     */
    @JvmStatic
    @JvmOverloads
    @Throws(RecorderException::class)
    fun create(
        context: Context,
        region: String,
        credentials: CredentialsProvider,
        options: AndroidOptions = AndroidOptions(),
        databaseFile: File = defaultDatabaseFile(context),
        configure: RecorderConfig.() -> Unit = {},
    ): AndroidKinesisRecorder {
        databaseFile.parentFile?.mkdirs()
        PlatformTrust.initialize(context)
        val recorder = KinesisRecorder(recorderConfig(databaseFile.path, region, configure), credentials)
        return try {
            AndroidKinesisRecorder(context, recorder, options)
        } catch (e: Throwable) {
            recorder.close()
            throw e
        }
    }
}
