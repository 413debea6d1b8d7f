package dev.kinesisrecorder.support

import java.io.File
import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import java.time.Duration
import java.time.ZoneOffset
import java.time.ZonedDateTime
import java.time.format.DateTimeFormatter
import java.util.Base64
import java.util.concurrent.TimeUnit
import java.util.concurrent.atomic.AtomicInteger

/** The repository root, from `-Drepo.root` (set by the pom), else found from the working directory. */
val repoRoot: File by lazy {
    System.getProperty("repo.root")?.let { File(it).canonicalFile }
        ?: generateSequence(File("").absoluteFile) { it.parentFile }
            .first { File(it, "tests/servers/kinesalite.js").isFile }
}

/**
 * One kinesalite server (tests/servers/kinesalite.js) for the whole test JVM, on 127.0.0.1 and
 * an ephemeral port. It stops when its stdin closes: at JVM exit, or by the shutdown hook.
 */
object Kinesalite {
    private val process: Process by lazy { start() }
    val port: Int by lazy { readPort(process) }
    val endpoint: String get() = "http://127.0.0.1:$port"
    val admin: KinesisAdmin by lazy { KinesisAdmin(endpoint) }

    private val streamCounter = AtomicInteger()
    private val live = ArrayDeque<Pair<String, Int>>()

    /** kinesalite's default shard limit per account and region. */
    private const val SHARD_LIMIT = 10

    /**
     * Creates a new ACTIVE stream with a unique name starting with [prefix]. Streams of earlier
     * tests are deleted, oldest first, to stay under kinesalite's shard limit (tests run one at a
     * time and use at most a few shards each).
     */
    @Synchronized
    fun newStream(prefix: String, shards: Int = 1): String {
        while (live.isNotEmpty() && live.sumOf { it.second } + shards > SHARD_LIMIT) {
            admin.deleteStream(live.removeFirst().first)
        }
        val name = "$prefix-${System.currentTimeMillis() % 100_000}-${streamCounter.incrementAndGet()}"
        admin.createStream(name, shards)
        live.addLast(name to shards)
        return name
    }

    private fun start(): Process {
        val script = File(repoRoot, "tests/servers/kinesalite.js")
        check(script.isFile) { "missing $script" }
        val process = ProcessBuilder("node", script.path, "0")
            .redirectError(ProcessBuilder.Redirect.INHERIT)
            .start()
        Runtime.getRuntime().addShutdownHook(Thread {
            runCatching { process.outputStream.close() }
            if (!process.waitFor(2, TimeUnit.SECONDS)) process.destroy()
        })
        return process
    }

    private fun readPort(process: Process): Int {
        val line = process.inputStream.bufferedReader().readLine()
            ?: error("kinesalite exited before listening (exit ${process.waitFor()}); run `npm ci --prefix tests/servers`")
        val match = Regex("""^LISTENING (\d+)$""").find(line.trim()) ?: error("unexpected kinesalite output: $line")
        return match.groupValues[1].toInt()
    }
}

/** A record as read back from the stream. */
data class StoredRecord(val partitionKey: String, val data: ByteArray) {
    val text: String get() = data.decodeToString()
    override fun equals(other: Any?) = other is StoredRecord && partitionKey == other.partitionKey && data.contentEquals(other.data)
    override fun hashCode() = partitionKey.hashCode() * 31 + data.contentHashCode()
    override fun toString() = "StoredRecord($partitionKey, ${data.size} bytes)"
}

/**
 * An independent Kinesis client in plain HTTP (JSON 1.1), no code of this project: creates
 * streams and reads records back. Local servers only check that the SigV4 headers exist.
 */
class KinesisAdmin(private val endpoint: String) {
    private val http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build()

    fun call(action: String, body: Map<String, Any?>): Map<String, Any?> {
        val date = ZonedDateTime.now(ZoneOffset.UTC).format(DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss'Z'"))
        val request = HttpRequest.newBuilder(URI.create(endpoint))
            .timeout(Duration.ofSeconds(10))
            .header("Content-Type", "application/x-amz-json-1.1")
            .header("X-Amz-Target", "Kinesis_20131202.$action")
            .header("X-Amz-Date", date)
            .header(
                "Authorization",
                "AWS4-HMAC-SHA256 Credential=x/20260101/us-east-1/kinesis/aws4_request, SignedHeaders=host, Signature=0",
            )
            .POST(HttpRequest.BodyPublishers.ofString(Json.write(body)))
            .build()
        val response = http.send(request, HttpResponse.BodyHandlers.ofString())
        check(response.statusCode() == 200) { "$action: HTTP ${response.statusCode()} ${response.body()}" }
        @Suppress("UNCHECKED_CAST")
        return if (response.body().isBlank()) emptyMap() else Json.parse(response.body()) as Map<String, Any?>
    }

    fun createStream(name: String, shards: Int) {
        call("CreateStream", mapOf("StreamName" to name, "ShardCount" to shards))
        repeat(200) {
            val summary = call("DescribeStreamSummary", mapOf("StreamName" to name))["StreamDescriptionSummary"] as Map<*, *>
            if (summary["StreamStatus"] == "ACTIVE") return
            Thread.sleep(25)
        }
        error("stream $name never became ACTIVE")
    }

    /** Deletes [name] and waits until it is gone (kinesalite counts DELETING shards too). */
    fun deleteStream(name: String) {
        call("DeleteStream", mapOf("StreamName" to name))
        repeat(200) {
            try {
                call("DescribeStreamSummary", mapOf("StreamName" to name))
            } catch (e: IllegalStateException) {
                if ("ResourceNotFoundException" in e.message.orEmpty()) return
                throw e
            }
            Thread.sleep(25)
        }
        error("stream $name was never deleted")
    }

    /** Every record of every shard of [stream], from the start. */
    fun readAll(stream: String): List<StoredRecord> {
        val records = mutableListOf<StoredRecord>()
        val shards = call("ListShards", mapOf("StreamName" to stream))["Shards"] as List<*>
        for (shard in shards) {
            var iterator = call(
                "GetShardIterator",
                mapOf("StreamName" to stream, "ShardId" to (shard as Map<*, *>)["ShardId"], "ShardIteratorType" to "TRIM_HORIZON"),
            )["ShardIterator"] as String?
            while (iterator != null) {
                val page = call("GetRecords", mapOf("ShardIterator" to iterator, "Limit" to 10000))
                val batch = page["Records"] as List<*>
                if (batch.isEmpty()) break
                for (r in batch) {
                    r as Map<*, *>
                    records += StoredRecord(r["PartitionKey"] as String, Base64.getDecoder().decode(r["Data"] as String))
                }
                iterator = page["NextShardIterator"] as String?
            }
        }
        return records
    }
}

/** Just enough JSON for the Kinesis API: objects, arrays, strings, numbers, booleans, null. */
object Json {
    fun write(value: Any?): String = StringBuilder().also { write(value, it) }.toString()

    private fun write(value: Any?, out: StringBuilder) {
        when (value) {
            null -> out.append("null")
            is String -> {
                out.append('"')
                for (c in value) {
                    when {
                        c == '"' -> out.append("\\\"")
                        c == '\\' -> out.append("\\\\")
                        c < ' ' -> out.append(String.format("\\u%04x", c.code))
                        else -> out.append(c)
                    }
                }
                out.append('"')
            }
            is Number, is Boolean -> out.append(value.toString())
            is Map<*, *> -> {
                out.append('{')
                value.entries.forEachIndexed { i, (k, v) ->
                    if (i > 0) out.append(',')
                    write(k.toString(), out)
                    out.append(':')
                    write(v, out)
                }
                out.append('}')
            }
            is List<*> -> {
                out.append('[')
                value.forEachIndexed { i, v ->
                    if (i > 0) out.append(',')
                    write(v, out)
                }
                out.append(']')
            }
            else -> error("cannot write ${value::class} as JSON")
        }
    }

    fun parse(text: String): Any? = Parser(text).run { value().also { skipSpace(); check(pos == text.length) { "trailing JSON" } } }

    private class Parser(val s: String) {
        var pos = 0

        fun skipSpace() {
            while (pos < s.length && s[pos].isWhitespace()) pos++
        }

        fun value(): Any? {
            skipSpace()
            return when (val c = s[pos]) {
                '{' -> obj()
                '[' -> arr()
                '"' -> str()
                't' -> literal("true", true)
                'f' -> literal("false", false)
                'n' -> literal("null", null)
                else -> if (c == '-' || c.isDigit()) num() else error("unexpected '$c' at $pos")
            }
        }

        fun literal(word: String, value: Any?): Any? {
            check(s.startsWith(word, pos)) { "bad literal at $pos" }
            pos += word.length
            return value
        }

        fun num(): Number {
            val start = pos
            while (pos < s.length && (s[pos].isDigit() || s[pos] in "+-.eE")) pos++
            val t = s.substring(start, pos)
            return t.toLongOrNull() ?: t.toDouble()
        }

        fun str(): String {
            val out = StringBuilder()
            pos++ // opening quote
            while (true) {
                val c = s[pos++]
                when (c) {
                    '"' -> return out.toString()
                    '\\' -> {
                        when (val e = s[pos++]) {
                            'n' -> out.append('\n')
                            't' -> out.append('\t')
                            'r' -> out.append('\r')
                            'b' -> out.append('\b')
                            'f' -> out.append('\u000c')
                            'u' -> {
                                out.append(s.substring(pos, pos + 4).toInt(16).toChar())
                                pos += 4
                            }
                            else -> out.append(e)
                        }
                    }
                    else -> out.append(c)
                }
            }
        }

        fun obj(): Map<String, Any?> {
            val out = LinkedHashMap<String, Any?>()
            pos++
            skipSpace()
            if (s[pos] == '}') return out.also { pos++ }
            while (true) {
                skipSpace()
                val key = str()
                skipSpace()
                check(s[pos++] == ':') { "expected ':' at ${pos - 1}" }
                out[key] = value()
                skipSpace()
                when (s[pos++]) {
                    ',' -> continue
                    '}' -> return out
                    else -> error("expected ',' or '}' at ${pos - 1}")
                }
            }
        }

        fun arr(): List<Any?> {
            val out = ArrayList<Any?>()
            pos++
            skipSpace()
            if (s[pos] == ']') return out.also { pos++ }
            while (true) {
                out += value()
                skipSpace()
                when (s[pos++]) {
                    ',' -> continue
                    ']' -> return out
                    else -> error("expected ',' or ']' at ${pos - 1}")
                }
            }
        }
    }
}
