package dev.kinesisrecorder.support

import com.sun.net.httpserver.HttpServer
import dev.kinesisrecorder.KinesisRecorder
import dev.kinesisrecorder.StaticCredentialsProvider
import dev.kinesisrecorder.ffi.CredentialsProvider
import dev.kinesisrecorder.ffi.KinesisRecorder
import dev.kinesisrecorder.ffi.RecorderConfig
import java.io.File
import java.net.InetSocketAddress
import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import java.nio.file.Files
import java.util.Collections
import java.util.concurrent.Executors

/** A fresh store path in a new temporary directory. */
fun tempStore(name: String = "records.sqlite"): String =
    File(Files.createTempDirectory("kr-kotlin-test").toFile().apply { deleteOnExit() }, name).path

val testCredentials: CredentialsProvider = StaticCredentialsProvider("AKIDTEST", "test-secret")

/**
 * A recorder on kinesalite (or [endpoint]) with automatic submission off, so each test decides
 * when records leave.
 */
fun testRecorder(
    path: String = tempStore(),
    credentials: CredentialsProvider = testCredentials,
    endpoint: String = Kinesalite.endpoint,
    configure: RecorderConfig.() -> Unit = {},
): KinesisRecorder = KinesisRecorder(path, "us-east-1", credentials) {
    this.endpoint = endpoint
    autoSubmit = false
    configure()
}

/** Names of this process's native threads (Linux /proc), e.g. the recorder's `kr-writer`. */
fun nativeThreadNames(): List<String> =
    File("/proc/self/task").listFiles().orEmpty().mapNotNull { runCatching { File(it, "comm").readText().trim() }.getOrNull() }

fun recorderThreadCount(): Int = nativeThreadNames().count { it == "kr-writer" || it == "kr-worker" }

/**
 * A loopback HTTP proxy in front of [target] that keeps the headers of every request, to check
 * what the recorder signs with.
 */
class RecordingProxy(private val target: String) : AutoCloseable {
    val requests: MutableList<Map<String, String>> = Collections.synchronizedList(mutableListOf())
    private val http = HttpClient.newHttpClient()
    private val executor = Executors.newFixedThreadPool(4)
    private val server = HttpServer.create(InetSocketAddress("127.0.0.1", 0), 0).apply {
        executor = this@RecordingProxy.executor
        createContext("/") { exchange ->
            exchange.use {
                val headers = it.requestHeaders.entries.associate { (k, v) -> k.lowercase() to v.joinToString(",") }
                requests += headers
                val body = it.requestBody.readBytes()
                val forward = HttpRequest.newBuilder(URI.create(target))
                    .POST(HttpRequest.BodyPublishers.ofByteArray(body))
                for (name in listOf("content-type", "x-amz-target", "x-amz-date", "authorization", "x-amz-security-token")) {
                    headers[name]?.let { value -> forward.header(name, value) }
                }
                val response = http.send(forward.build(), HttpResponse.BodyHandlers.ofByteArray())
                response.headers().firstValue("content-type").ifPresent { ct -> it.responseHeaders.add("Content-Type", ct) }
                it.sendResponseHeaders(response.statusCode(), response.body().size.toLong().takeIf { n -> n > 0 } ?: -1)
                it.responseBody.write(response.body())
            }
        }
        start()
    }
    val endpoint: String get() = "http://127.0.0.1:${server.address.port}"

    override fun close() {
        server.stop(0)
        executor.shutdownNow()
    }
}
