package dev.kinesisrecorder.sample

import android.app.Application
import dev.kinesisrecorder.android.AndroidKinesisRecorder
import dev.kinesisrecorder.android.KinesisRecorderAndroid
import dev.kinesisrecorder.awsCredentials
import dev.kinesisrecorder.cognitoCredentials
import dev.kinesisrecorder.credentialsProvider

/**
 * Where the sample sends records: two options.
 *
 * - **AWS** ([COGNITO_IDENTITY_POOL_ID] set): the regional Kinesis endpoint, signed with the
 *   temporary credentials of a Cognito identity pool's guest identities (the pool's guest role
 *   must allow `kinesis:PutRecords` on [STREAM]; see the README's "Credentials"). No AWS keys in
 *   the app.
 * - **Local server** (the default): a kinesalite reached from a device or an emulator through
 *   `adb reverse tcp:4567 tcp:4567` (plain http is only accepted to loopback), with fixed keys it
 *   does not check.
 */
object SampleConfig {
    const val REGION = "us-east-1"
    const val STREAM = "sample-stream"
    /** The AWS option, e.g. "us-east-1:0a1b2c3d-...". Null: the local server. */
    val COGNITO_IDENTITY_POOL_ID: String? = null
    const val LOCAL_ENDPOINT = "http://127.0.0.1:4567"
    const val LOCAL_ACCESS_KEY_ID = "AKIDSAMPLE"
    const val LOCAL_SECRET_ACCESS_KEY = "sample-secret"
    /** The regional endpoint for AWS (null), else the local server. */
    val ENDPOINT: String? get() = if (COGNITO_IDENTITY_POOL_ID != null) null else LOCAL_ENDPOINT

    val target: String
        get() = COGNITO_IDENTITY_POOL_ID?.let { "AWS $REGION, Cognito identity pool $it" } ?: "local server $LOCAL_ENDPOINT"
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
        val pool = SampleConfig.COGNITO_IDENTITY_POOL_ID
        recorder = KinesisRecorderAndroid.create(
            context = this,
            region = SampleConfig.REGION,
            credentials = if (pool != null) {
                cognitoCredentials(pool, SampleConfig.REGION) // the identity id is kept next to the store
            } else {
                credentialsProvider { awsCredentials(SampleConfig.LOCAL_ACCESS_KEY_ID, SampleConfig.LOCAL_SECRET_ACCESS_KEY) }
            },
        ) {
            endpoint = this@SampleApp.endpoint
            // Automatic submission stays on (the core's default): every 30 s while records are
            // pending, at 500 records / 512 KiB, and when the network comes back. What is left
            // when the app leaves the screen goes with the library's background job (on by
            // default: AndroidOptions.backgroundDelivery).
        }
    }
}
