package dev.kinesisrecorder.sample

import android.app.Application
import dev.kinesisrecorder.android.AndroidKinesisRecorder
import dev.kinesisrecorder.android.KinesisRecorderAndroid
import dev.kinesisrecorder.awsCredentials
import dev.kinesisrecorder.credentialsProvider

/**
 * Where the sample sends records. Defaults suit a local kinesalite reached from a device or an
 * emulator through `adb reverse tcp:4567 tcp:4567` (plain http is only accepted to loopback).
 * For AWS: set [ENDPOINT] to null, and replace the static keys by temporary credentials (Cognito,
 * your backend): never ship long-term keys in an app.
 */
object SampleConfig {
    const val REGION = "us-east-1"
    val ENDPOINT: String? = "http://127.0.0.1:4567"
    const val STREAM = "sample-stream"
    const val ACCESS_KEY_ID = "AKIDSAMPLE"
    const val SECRET_ACCESS_KEY = "sample-secret"
}

/**
 * One recorder for the whole process, created with the application: a process that JobScheduler
 * starts to deliver records in the background runs this first, so the library's job finds it.
 */
open class SampleApp : Application() {
    lateinit var recorder: AndroidKinesisRecorder
        private set

    /** Where records go; the JVM tests point it at their own kinesalite. */
    protected open val endpoint: String? get() = SampleConfig.ENDPOINT

    override fun onCreate() {
        super.onCreate()
        recorder = KinesisRecorderAndroid.create(
            context = this,
            region = SampleConfig.REGION,
            credentials = credentialsProvider { awsCredentials(SampleConfig.ACCESS_KEY_ID, SampleConfig.SECRET_ACCESS_KEY) },
        ) {
            endpoint = this@SampleApp.endpoint
            // Automatic submission stays on (the core's default): every 30 s while records are
            // pending, at 500 records / 512 KiB, and when the network comes back. What is left
            // when the app leaves the screen goes with the library's background job (on by
            // default: AndroidOptions.backgroundDelivery).
        }
    }
}
