package dev.kinesisrecorder.android

import android.app.job.JobInfo
import android.app.job.JobScheduler
import android.content.ComponentName
import android.content.Context
import android.util.Log

/**
 * The one JobScheduler job that delivers pending records in the background ([RecorderJobService]):
 * waits for a network ([DeliveryPolicy.requiredNetwork]), backs off exponentially from
 * [BACKOFF_MILLIS] when it asks for a reschedule, and survives reboots (`setPersisted`, which
 * needs `RECEIVE_BOOT_COMPLETED`, declared by the library's manifest).
 */
internal class DeliveryJob(context: Context, private val jobId: Int, unmeteredOnly: Boolean) {
    private val appContext = context.applicationContext ?: context
    private val scheduler: JobScheduler? = appContext.getSystemService(JobScheduler::class.java)
    private val networkType = when (DeliveryPolicy.requiredNetwork(unmeteredOnly)) {
        DeliveryPolicy.Network.ANY -> JobInfo.NETWORK_TYPE_ANY
        DeliveryPolicy.Network.UNMETERED -> JobInfo.NETWORK_TYPE_UNMETERED
    }

    /**
     * Schedules the job unless it is already pending or running: scheduling an id again would
     * stop a running job and reset its backoff.
     */
    fun scheduleIfAbsent() {
        val jobs = scheduler ?: return
        try {
            if (jobs.getPendingJob(jobId) != null) return
            val job = JobInfo.Builder(jobId, ComponentName(appContext, RecorderJobService::class.java))
                .setRequiredNetworkType(networkType)
                .setBackoffCriteria(BACKOFF_MILLIS, JobInfo.BACKOFF_POLICY_EXPONENTIAL)
                .setPersisted(true)
                .build()
            if (jobs.schedule(job) != JobScheduler.RESULT_SUCCESS) Log.w(TAG, "JobScheduler refused the delivery job")
        } catch (e: RuntimeException) {
            // IllegalArgumentException: the service or RECEIVE_BOOT_COMPLETED was removed from the
            // merged manifest. Never crash the app over it: records wait for the next start.
            Log.w(TAG, "cannot schedule the delivery job", e)
        }
    }

    fun cancel() {
        scheduler?.cancel(jobId)
    }

    companion object {
        /** JobScheduler's default initial backoff; it doubles up to the system's cap (5 hours). */
        const val BACKOFF_MILLIS: Long = 30_000
        private const val TAG = "KinesisRecorder"
    }
}
