package dev.kinesisrecorder.android

import android.app.job.JobParameters
import android.app.job.JobService
import android.util.Log
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.Job
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.cancel
import kotlinx.coroutines.launch

/**
 * Delivers pending records when JobScheduler runs the job of [AndroidOptions.backgroundDelivery],
 * in the app's process (started for it if needed, `Application.onCreate` first). Declared by the
 * library's manifest with `BIND_JOB_SERVICE`; the work is [BackgroundDelivery.deliverFromJob].
 */
class RecorderJobService : JobService() {
    private val scope = CoroutineScope(SupervisorJob() + Dispatchers.Default)

    /** Main thread only (onStartJob / onStopJob). */
    private var delivery: Job? = null

    override fun onStartJob(params: JobParameters): Boolean {
        val background = KinesisRecorderAndroid.backgroundRecorder?.background
        if (background == null) {
            Log.w(TAG, "no recorder with backgroundDelivery: create it in Application.onCreate")
            return false
        }
        delivery = scope.launch { jobFinished(params, background.deliverFromJob()) }
        return true
    }

    /** The system took the job back (constraint lost, time up): stop waiting, run it again later. */
    override fun onStopJob(params: JobParameters): Boolean {
        delivery?.cancel()
        return true
    }

    override fun onDestroy() {
        scope.cancel()
        super.onDestroy()
    }

    private companion object {
        const val TAG = "KinesisRecorder"
    }
}
