package dev.kinesisrecorder.android

import dev.kinesisrecorder.saveRecord
import dev.kinesisrecorder.support.Kinesalite
import dev.kinesisrecorder.support.testCredentials
import kotlinx.coroutines.runBlocking
import org.junit.After
import org.junit.Test
import org.junit.runner.RunWith
import org.robolectric.RobolectricTestRunner
import org.robolectric.RuntimeEnvironment
import org.robolectric.annotation.Config
import org.robolectric.shadows.ShadowApplication
import java.io.File
import kotlin.test.assertEquals
import kotlin.test.assertNotNull
import kotlin.test.assertNull

/**
 * The one-line set-up in two processes of an app, as Android's `Application.getProcessName()`
 * (API 28+, Robolectric's) names them: each gets its own default store, only the main process's
 * recorder takes background delivery, and both deliver. (Two real processes: TwoProcessesTest.)
 */
@RunWith(RobolectricTestRunner::class)
@Config(sdk = [35])
class ProcessesTest {
    private val app get() = RuntimeEnvironment.getApplication()
    private val toClose = mutableListOf<AutoCloseable>()

    @After
    fun closeAll() {
        toClose.asReversed().forEach { it.close() }
        ShadowApplication.setProcessName(app.packageName)
    }

    /** What an app writes in `Application.onCreate`, which runs in each of its processes. */
    private fun oneLineSetUp(): AndroidKinesisRecorder =
        KinesisRecorderAndroid.create(app, "us-east-1", testCredentials) {
            endpoint = Kinesalite.endpoint
            autoSubmit = false
        }.also { toClose += it }

    @Test
    fun eachProcessOpensItsOwnDefaultStoreAndOnlyTheMainOneDeliversInTheBackground() {
        Device.startOn(Device.wifi())
        val stream = Kinesalite.newStream("android-processes")
        val directory = File(app.noBackupFilesDir, "kinesis-recorder")

        ShadowApplication.setProcessName(app.packageName)
        assertEquals(File(directory, "records.sqlite"), KinesisRecorderAndroid.defaultDatabaseFile(app))
        val main = oneLineSetUp()
        assertNotNull(main.background, "the main process's recorder delivers in the background")

        ShadowApplication.setProcessName("${app.packageName}:remote")
        assertEquals(File(directory, "records-remote.sqlite"), KinesisRecorderAndroid.defaultDatabaseFile(app))
        assertEquals(
            File(directory, "firehose-records-remote.sqlite"),
            KinesisRecorderAndroid.defaultDatabaseFile(app, KinesisRecorderAndroid.FIREHOSE_DATABASE_NAME),
        )
        val remote = oneLineSetUp() // the same call: neither the store's lock nor the job's registration refuses it
        assertNull(remote.background, "the job's service runs in the main process: not this one's")

        repeat(20) {
            main.saveRecord("main $it", stream)
            remote.saveRecord("remote $it", stream)
        }
        assertEquals(20uL, runBlocking { main.submitAllRecords() }.recordsSubmitted)
        assertEquals(20uL, runBlocking { remote.submitAllRecords() }.recordsSubmitted)
        val expected = List(20) { listOf("main $it", "remote $it") }.flatten().sorted()
        assertEquals(expected, Kinesalite.admin.readAll(stream).map { it.text }.sorted())
        assertEquals(
            setOf("records.sqlite", "records-remote.sqlite"),
            directory.list()!!.filter { it.endsWith(".sqlite") }.toSet(),
        )
    }
}
