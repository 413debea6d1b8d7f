package dev.kinesisrecorder.support

import java.io.File
import java.net.URI
import java.net.URLEncoder
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import java.time.Duration
import java.util.concurrent.TimeUnit
import java.util.concurrent.atomic.AtomicInteger

/**
 * One moto server (tests/servers/moto.sh, signatures unchecked) for the whole test JVM, on
 * 127.0.0.1 and an ephemeral port: Kinesis, Cognito Identity, and Firehose with S3 destinations,
 * all on one port. It stops when its stdin closes (JVM exit, or the shutdown hook).
 */
object Moto {
    private val process: Process by lazy { start() }
    val port: Int by lazy { readPort(process) }
    val endpoint: String get() = "http://127.0.0.1:$port"
    val admin: KinesisAdmin by lazy { KinesisAdmin(endpoint) }

    private val counter = AtomicInteger()
    private val http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build()

    /** A new ACTIVE Kinesis stream with a unique name. */
    fun newStream(prefix: String): String {
        val name = "$prefix-${System.currentTimeMillis() % 100_000}-${counter.incrementAndGet()}"
        admin.createStream(name, 1)
        return name
    }

    /** A new identity pool that allows guests; its id (`us-east-1:guid`). */
    fun newIdentityPool(): String =
        cognito("CreateIdentityPool", mapOf("IdentityPoolName" to "kotlin_${counter.incrementAndGet()}", "AllowUnauthenticatedIdentities" to true))["IdentityPoolId"] as String

    /** How many identities moto holds for [pool]. */
    fun identityCount(pool: String): Int =
        (cognito("ListIdentities", mapOf("IdentityPoolId" to pool, "MaxResults" to 60))["Identities"] as List<*>).size

    /** A Cognito Identity admin call (signed calls; moto reads only the credential scope). */
    private fun cognito(action: String, body: Map<String, Any?>): Map<String, Any?> {
        val request = HttpRequest.newBuilder(URI.create(endpoint))
            .timeout(Duration.ofSeconds(10))
            .header("Content-Type", "application/x-amz-json-1.1")
            .header("X-Amz-Target", "AWSCognitoIdentityService.$action")
            .header("Authorization", authorization("cognito-identity"))
            .POST(HttpRequest.BodyPublishers.ofString(Json.write(body)))
            .build()
        val response = http.send(request, HttpResponse.BodyHandlers.ofString())
        check(response.statusCode() == 200) { "$action: HTTP ${response.statusCode()} ${response.body()}" }
        @Suppress("UNCHECKED_CAST")
        return Json.parse(response.body()) as Map<String, Any?>
    }

    /**
     * A new bucket and a Direct PUT delivery stream writing to it (prefix `<stream>/`), with
     * unique names: (bucket, delivery stream).
     */
    fun newDeliveryStream(prefix: String): Pair<String, String> {
        val n = counter.incrementAndGet()
        val bucket = "kotlin-$n"
        val stream = "$prefix-${System.currentTimeMillis() % 100_000}-$n"
        s3("PUT", "/$bucket")
        val destination = mapOf(
            "RoleARN" to "arn:aws:iam::123456789012:role/firehose-test",
            "BucketARN" to "arn:aws:s3:::$bucket",
            "Prefix" to "$stream/",
        )
        firehose(
            "CreateDeliveryStream",
            mapOf(
                "DeliveryStreamName" to stream,
                "DeliveryStreamType" to "DirectPut",
                "ExtendedS3DestinationConfiguration" to destination,
            ),
        )
        return bucket to stream
    }

    /** The bodies of the S3 objects under [prefix], in key order (moto writes one per call). */
    fun s3Objects(bucket: String, prefix: String): List<ByteArray> {
        val listing = String(s3("GET", "/$bucket?list-type=2&prefix=${URLEncoder.encode(prefix, Charsets.UTF_8)}"))
        return Regex("<Key>([^<]+)</Key>").findAll(listing).map { it.groupValues[1] }.sorted()
            .map { key -> s3("GET", "/$bucket/$key") }.toList()
    }

    /** A Firehose admin call (signed calls; moto reads only the credential scope). */
    private fun firehose(action: String, body: Map<String, Any?>) {
        val request = HttpRequest.newBuilder(URI.create(endpoint))
            .timeout(Duration.ofSeconds(30))
            .header("Content-Type", "application/x-amz-json-1.1")
            .header("X-Amz-Target", "Firehose_20150804.$action")
            .header("Authorization", authorization("firehose"))
            .POST(HttpRequest.BodyPublishers.ofString(Json.write(body)))
            .build()
        val response = http.send(request, HttpResponse.BodyHandlers.ofString())
        check(response.statusCode() == 200) { "$action: HTTP ${response.statusCode()} ${response.body()}" }
    }

    /** An S3 call, path-style. */
    private fun s3(method: String, path: String): ByteArray {
        val request = HttpRequest.newBuilder(URI.create(endpoint + path))
            .timeout(Duration.ofSeconds(30))
            .header("Authorization", authorization("s3"))
            .method(method, HttpRequest.BodyPublishers.noBody())
            .build()
        val response = http.send(request, HttpResponse.BodyHandlers.ofByteArray())
        check(response.statusCode() == 200) { "$method $path: HTTP ${response.statusCode()} ${String(response.body())}" }
        return response.body()
    }

    private fun authorization(service: String) =
        "AWS4-HMAC-SHA256 Credential=x/20260101/us-east-1/$service/aws4_request, SignedHeaders=host, Signature=0"

    private fun start(): Process {
        val script = File(repoRoot, "tests/servers/moto.sh")
        check(script.isFile) { "missing $script" }
        val process = ProcessBuilder("bash", script.path, "0")
            .redirectError(ProcessBuilder.Redirect.INHERIT)
            .start()
        Runtime.getRuntime().addShutdownHook(Thread {
            runCatching { process.outputStream.close() }
            if (!process.waitFor(2, TimeUnit.SECONDS)) process.destroy()
        })
        return process
    }

    private fun readPort(process: Process): Int {
        val lines = process.inputStream.bufferedReader()
        while (true) {
            val line = lines.readLine()
                ?: error("moto exited before listening (exit ${process.waitFor()}); run `bash .ci/install-servers.sh`")
            Regex("""^LISTENING (\d+)$""").find(line.trim())?.let { return it.groupValues[1].toInt() }
        }
    }
}
