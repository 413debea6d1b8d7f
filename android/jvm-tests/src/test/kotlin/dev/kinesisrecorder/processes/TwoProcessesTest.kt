package dev.kinesisrecorder.processes

import dev.kinesisrecorder.android.KinesisRecorderAndroid
import dev.kinesisrecorder.support.Kinesalite
import org.junit.Test
import java.io.BufferedReader
import java.io.File
import java.nio.file.Files
import java.util.concurrent.TimeUnit
import kotlin.test.assertEquals
import kotlin.test.assertTrue

/**
 * An app with two processes (`com.example.app` and `com.example.app:remote`) as two JVMs, both
 * running the one-line set-up at once on the same app directory: each opens its own store by the
 * library's default layout, both save, and kinesalite gets every record exactly once. The
 * control: two processes on one file (the layout before) cannot both open it.
 */
class TwoProcessesTest {
    private val app = "com.example.app"

    private class Child(val process: Process) {
        val output: BufferedReader = process.inputStream.bufferedReader()
        fun line(): String = output.readLine() ?: "<exited ${process.waitFor()}>"
    }

    private fun start(appDir: File, processName: String, stream: String, count: Int): Child {
        val java = File(System.getProperty("java.home"), "bin/java").path
        val native = System.getProperty("native.lib.dir") ?: error("-Dnative.lib.dir is not set (run through the pom)")
        return Child(
            ProcessBuilder(
                java, "-Djna.library.path=$native", "-cp", System.getProperty("java.class.path"),
                "dev.kinesisrecorder.processes.AppProcessKt",
                appDir.path, processName, app, Kinesalite.endpoint, stream, count.toString(),
            ).redirectError(ProcessBuilder.Redirect.INHERIT).start(),
        )
    }

    private fun Child.go() = process.outputStream.run {
        write("go\n".toByteArray())
        flush()
    }

    private fun Child.finish(): String {
        val last = line()
        assertTrue(process.waitFor(120, TimeUnit.SECONDS), "the process ended")
        return last
    }

    @Test
    fun everyProcessOpensItsOwnStoreAndEverythingIsDeliveredOnce() {
        val stream = Kinesalite.newStream("two-processes", 2)
        val appDir = Files.createTempDirectory("kr-app").toFile()
        val count = 300
        val main = start(appDir, app, stream, count)
        val remote = start(appDir, "$app:remote", stream, count)
        // Both hold their stores at the same time, as two processes of an app do.
        assertEquals("OPEN records.sqlite", main.line())
        assertEquals("OPEN records-remote.sqlite", remote.line())
        main.go()
        remote.go()
        assertEquals("DONE", main.finish())
        assertEquals("DONE", remote.finish())
        assertEquals(0, main.process.exitValue())
        assertEquals(0, remote.process.exitValue())

        val delivered = Kinesalite.admin.readAll(stream).map { it.text }.groupingBy { it }.eachCount()
        val expected = (0 until count).flatMap { listOf("$app #$it", "$app:remote #$it") }
        assertEquals(expected.toSet(), delivered.keys, "every record of both processes delivered")
        assertEquals(emptyMap(), delivered.filterValues { it != 1 }, "each exactly once")
        assertEquals(
            setOf("records.sqlite", "records-remote.sqlite"),
            File(appDir, "kinesis-recorder").list()!!.filter { it.endsWith(".sqlite") }.toSet(),
        )
    }

    @Test
    fun twoProcessesOnOneStoreFile() {
        // What the one-line set-up did before: the same file in every process.
        val appDir = Files.createTempDirectory("kr-app").toFile()
        val first = start(appDir, app, "unused", 0)
        assertEquals("OPEN records.sqlite", first.line())
        val second = start(appDir, app, "unused", 0)
        val refused = second.finish()
        assertTrue(refused.startsWith("OPEN-FAILED"), refused)
        assertEquals(3, second.process.exitValue())
        first.go()
        assertEquals("DONE", first.finish())
    }

    @Test
    fun processDatabaseNames() {
        val name = KinesisRecorderAndroid.DEFAULT_DATABASE_NAME
        assertEquals("records.sqlite", KinesisRecorderAndroid.processDatabaseName(name, app, app))
        assertEquals("records-remote.sqlite", KinesisRecorderAndroid.processDatabaseName(name, "$app:remote", app))
        assertEquals(
            "firehose-records-sync.sqlite",
            KinesisRecorderAndroid.processDatabaseName(KinesisRecorderAndroid.FIREHOSE_DATABASE_NAME, "$app:sync", app),
        )
        assertEquals(
            "records-com.example.crash.sqlite",
            KinesisRecorderAndroid.processDatabaseName(name, "com.example.crash", app),
        )
        assertEquals("records-a_b.sqlite", KinesisRecorderAndroid.processDatabaseName(name, "$app:a/b", app))
    }
}
