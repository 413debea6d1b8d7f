// One process of an app with several processes, for TwoProcessesTest: a JVM of its own that
// opens its recorder where the Android library's default layout puts it for its process name.
package dev.kinesisrecorder.processes

import dev.kinesisrecorder.KinesisRecorder
import dev.kinesisrecorder.StaticCredentialsProvider
import dev.kinesisrecorder.android.KinesisRecorderAndroid
import dev.kinesisrecorder.ffi.RecorderException
import dev.kinesisrecorder.saveRecord
import kotlinx.coroutines.runBlocking
import java.io.File
import kotlin.system.exitProcess

/**
 * Usage: AppProcess APP_DIR PROCESS_NAME MAIN_PROCESS_NAME ENDPOINT STREAM COUNT
 *
 * Opens the store `APP_DIR/kinesis-recorder/<KinesisRecorderAndroid.processDatabaseName>` with the
 * default configuration (automatic submission on), prints `OPEN <file>` (or `OPEN-FAILED <error>`
 * and exits 3), waits for a line on stdin, saves COUNT records `PROCESS_NAME #i`, waits until
 * they are delivered, prints `DONE` and exits 0.
 */
fun main(args: Array<String>) {
    val (appDir, processName, mainProcessName, endpoint, stream) = args
    val count = args[5].toInt()
    val store = File(
        File(appDir, "kinesis-recorder"),
        KinesisRecorderAndroid.processDatabaseName(
            KinesisRecorderAndroid.DEFAULT_DATABASE_NAME,
            processName,
            mainProcessName,
        ),
    )
    store.parentFile.mkdirs()
    val recorder = try {
        KinesisRecorder(store.path, "us-east-1", StaticCredentialsProvider("AKIDPROC", "secret")) {
            this.endpoint = endpoint
        }
    } catch (e: RecorderException) {
        println("OPEN-FAILED $e")
        exitProcess(3)
    }
    println("OPEN ${store.name}")
    readlnOrNull()
    recorder.use {
        repeat(count) { i -> it.saveRecord("$processName #$i", stream) }
        it.flush()
        while (it.stats().pendingRecords > 0uL) runBlocking { it.submitAllRecords() }
    }
    println("DONE")
    exitProcess(0)
}
