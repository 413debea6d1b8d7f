package dev.kinesisrecorder.android

import android.content.ComponentCallbacks2
import android.content.Context
import android.content.res.Configuration
import android.util.Log
import dev.kinesisrecorder.JniKinesisRecorder
import dev.kinesisrecorder.ffi.CredentialsProvider
import dev.kinesisrecorder.ffi.KinesisRecorder
import dev.kinesisrecorder.ffi.KinesisRecorderInterface
import dev.kinesisrecorder.ffi.RecorderConfig
import dev.kinesisrecorder.ffi.RecorderEvent
import dev.kinesisrecorder.ffi.RecorderException
import dev.kinesisrecorder.ffi.RecorderListener
import dev.kinesisrecorder.ffi.Service
import dev.kinesisrecorder.ffi.SubmitReport
import dev.kinesisrecorder.recorderConfig
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.cancel
import kotlinx.coroutines.launch
import java.io.File
import java.util.concurrent.atomic.AtomicBoolean
import java.util.concurrent.atomic.AtomicReference
import kotlin.coroutines.cancellation.CancellationException

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
    /**
     * Deliver pending records in the background with a JobScheduler job ([RecorderJobService]),
     * even after the process is gone: scheduled when the UI leaves the screen with records
     * pending, or when a submission ends for lack of network; it waits for a network (an
     * unmetered one with [unmeteredOnly]) and survives reboots. Never scheduled while the store
     * is empty. Needs the recorder created in `Application.onCreate` (the job's process finds it
     * there) and the library's manifest entries (merged into the app by default).
     */
    val backgroundDelivery: Boolean = true,
    /** The JobScheduler job id of [backgroundDelivery]; change it if the app's own jobs use it. */
    val backgroundJobId: Int = DEFAULT_BACKGROUND_JOB_ID,
) {
    companion object {
        /** "KR" in ASCII. */
        const val DEFAULT_BACKGROUND_JOB_ID: Int = 0x4B52
    }
}

/**
 * A [KinesisRecorder] wired to the Android platform: the store in the app's no-backup directory,
 * submission paused while offline, a flush when the app goes to the background, and a
 * JobScheduler job that delivers what is left after that ([AndroidOptions.backgroundDelivery]).
 * Every recorder call is available on this object (it implements [KinesisRecorderInterface])
 * together with the Kotlin extensions of `dev.kinesisrecorder` (`events()`, `statsFlow()`,
 * `submitInBackground()`).
 *
 * Keep one per process, typically created in `Application.onCreate` and never closed. [close]
 * unregisters the callbacks, commits queued saves and stops the recorder's threads.
 */
class AndroidKinesisRecorder internal constructor(
    context: Context,
    /** The underlying recorder. */
    val recorder: KinesisRecorder,
    private val options: AndroidOptions,
    /** The configuration's `autoSubmit`: whether a returning network submits by itself. */
    private val autoSubmit: Boolean,
) : KinesisRecorderInterface by recorder, AutoCloseable {
    private val appContext = context.applicationContext ?: context
    private val closed = AtomicBoolean(false)
    private val scope = CoroutineScope(SupervisorJob() + Dispatchers.IO)
    private val network: NetworkMonitor? =
        if (options.watchNetwork) NetworkMonitor(appContext, options.unmeteredOnly, ::onNetworkChanged) else null
    /** Last availability reported by [network]; null before the first report. */
    private val networkAvailable = AtomicReference<Boolean?>(null)
    internal val background: BackgroundDelivery? =
        if (options.backgroundDelivery) {
            BackgroundDelivery(recorder, DeliveryJob(appContext, options.backgroundJobId, options.unmeteredOnly), scope)
        } else {
            null
        }

    /** The app's listener ([setListener], or the hub behind `events()`), beside [background]'s. */
    @Volatile private var appListener: RecorderListener? = null
    private val listener = object : RecorderListener {
        override fun onEvent(event: RecorderEvent) {
            background?.onEvent(event)
            appListener?.onEvent(event)
        }
    }

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
        if (background != null) recorder.setListener(listener)
        network?.start()
        if (options.flushWhenHidden) appContext.registerComponentCallbacks(componentCallbacks)
    }

    private fun onNetworkChanged(available: Boolean) {
        if (closed.get()) return
        recorder.setNetworkAvailable(available)
        // Capabilities change often (signal, bandwidth): act on the change of availability only.
        val was = networkAvailable.getAndSet(available)
        if (was != false && !available) background?.onNetworkLost()
        // Pending records leave at once, not at the next interval of automatic submission.
        if (was == false && available && autoSubmit) recorder.requestSubmit()
    }

    /**
     * The listener slot is shared with background delivery: this one receives every event, as
     * on a plain recorder.
     */
    override fun setListener(listener: RecorderListener?) {
        if (background == null) recorder.setListener(listener) else appListener = listener
    }

    override suspend fun submitAllRecords(): SubmitReport =
        recorder.submitAllRecords().also { report -> background?.afterSubmission(report) }

    override suspend fun submitAllRecordsWithin(deadline: java.time.Duration): SubmitReport =
        recorder.submitAllRecordsWithin(deadline).also { report -> background?.afterSubmission(report) }

    /**
     * Commits queued saves on a background thread, schedules the delivery job if records wait
     * ([AndroidOptions.backgroundDelivery]), then submits; once the store is empty the job is
     * cancelled again. Returns at once; safe to call from the main thread (for example in
     * `Activity.onStop`).
     */
    fun flushInBackground() {
        if (closed.get()) return
        scope.launch {
            try {
                recorder.flush()
                background?.scheduleIfPending()
                recorder.submitAllRecords()
                background?.cancelIfEmpty()
            } catch (e: CancellationException) {
                throw e
            } catch (e: RecorderException) {
                Log.w(TAG, "flush or submission failed", e)
            } catch (e: IllegalStateException) {
                // Closed meanwhile.
            }
        }
    }

    override fun close() {
        if (!closed.compareAndSet(false, true)) return
        KinesisRecorderAndroid.unregister(this)
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
    /**
     * The recorder that [RecorderJobService] delivers for: the one created with
     * [AndroidOptions.backgroundDelivery], until closed. A process started by JobScheduler runs
     * `Application.onCreate` before the job, so a recorder created there is always found.
     */
    @Volatile
    internal var backgroundRecorder: AndroidKinesisRecorder? = null
        private set

    @Synchronized
    private fun register(recorder: AndroidKinesisRecorder) {
        check(backgroundRecorder == null) {
            "a recorder with backgroundDelivery is already open in this process: close it first, or create " +
                "this one with AndroidOptions(backgroundDelivery = false)"
        }
        backgroundRecorder = recorder
    }

    @Synchronized
    internal fun unregister(recorder: AndroidKinesisRecorder) {
        if (backgroundRecorder === recorder) backgroundRecorder = null
    }

    /** File name of the default store, in [defaultDatabaseFile]'s directory. */
    const val DEFAULT_DATABASE_NAME: String = "records.sqlite"

    /** File name of the default Firehose store ([createFirehose]), beside the Kinesis one. */
    const val FIREHOSE_DATABASE_NAME: String = "firehose-records.sqlite"

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
     * Opening reads the SQLite file (milliseconds): call it once, in `Application.onCreate` (where
     * background delivery needs it: see [AndroidOptions.backgroundDelivery]).
     *
     * @throws IllegalStateException when [options] ask for background delivery while another
     *   recorder of this process has it.
     * @throws RecorderException.InvalidInput for a bad configuration value, or a store of the
     *   other service.
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
    ): AndroidKinesisRecorder =
        createFor(Service.KINESIS_DATA_STREAMS, context, region, credentials, options, databaseFile, configure)

    /**
     * Like [create], for Amazon Data Firehose: records go to delivery streams with
     * `PutRecordBatch`, without partition keys, within Firehose's limits (the defaults of the
     * configuration follow them). Its store is [FIREHOSE_DATABASE_NAME], so it runs beside a
     * Kinesis recorder; one recorder per process delivers in the background, so give the other
     * one `AndroidOptions(backgroundDelivery = false)`.
     */
    @JvmStatic
    @JvmOverloads
    @Throws(RecorderException::class)
    fun createFirehose(
        context: Context,
        region: String,
        credentials: CredentialsProvider,
        options: AndroidOptions = AndroidOptions(),
        databaseFile: File = defaultDatabaseFile(context, FIREHOSE_DATABASE_NAME),
        configure: RecorderConfig.() -> Unit = {},
    ): AndroidKinesisRecorder =
        createFor(Service.FIREHOSE, context, region, credentials, options, databaseFile, configure)

    private fun createFor(
        service: Service,
        context: Context,
        region: String,
        credentials: CredentialsProvider,
        options: AndroidOptions,
        databaseFile: File,
        configure: RecorderConfig.() -> Unit,
    ): AndroidKinesisRecorder {
        databaseFile.parentFile?.mkdirs()
        val config = recorderConfig(databaseFile.path, region, service, configure)
        // Saves go through the direct JNI path (NativeSaves), as with the JVM's KinesisRecorder(...).
        val recorder = JniKinesisRecorder(config, credentials)
        val android = try {
            AndroidKinesisRecorder(context, recorder, options, config.autoSubmit)
        } catch (e: Throwable) {
            recorder.close()
            throw e
        }
        if (options.backgroundDelivery) {
            try {
                register(android)
            } catch (e: IllegalStateException) {
                android.close()
                throw e
            }
        }
        return android
    }
}
