package dev.kinesisrecorder

import dev.kinesisrecorder.ffi.KinesisRecorder
import dev.kinesisrecorder.ffi.RecorderConfig
import dev.kinesisrecorder.ffi.RecorderException
import dev.kinesisrecorder.support.testRecorder
import dev.kinesisrecorder.support.tempStore
import org.junit.jupiter.api.AfterAll
import org.junit.jupiter.api.DynamicTest
import org.junit.jupiter.api.DynamicTest.dynamicTest
import org.junit.jupiter.api.TestFactory
import org.junit.jupiter.api.TestInstance
import org.junit.jupiter.api.Timeout
import java.time.Duration
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertTrue

/** Every bad input surfaces as the typed RecorderException.InvalidInput and stores nothing. */
@Timeout(60)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class BadInputTest {
    private val recorder = testRecorder()

    @AfterAll
    fun close() = recorder.close()

    private fun invalid(name: String, expected: String, block: () -> Unit): DynamicTest = dynamicTest(name) {
        val error = assertFailsWith<RecorderException.InvalidInput> { block() }
        assertTrue(expected in error.reason, "reason \"${error.reason}\" should mention \"$expected\"")
        recorder.flush()
        assertEquals(0uL, recorder.stats().pendingRecords, "nothing stored")
    }

    @TestFactory
    fun `bad records`(): List<DynamicTest> {
        val data = "payload".encodeToByteArray()
        return listOf(
            invalid("empty data", "data") { recorder.saveRecord(ByteArray(0), "ok-stream", "k") },
            invalid("empty string data", "data") { recorder.saveRecord("", "ok-stream") },
            invalid("257-character partition key", "partition key") { recorder.saveRecord(data, "ok-stream", "k".repeat(257)) },
            invalid("257-character non-ASCII partition key", "partition key") { recorder.saveRecord(data, "ok-stream", "é".repeat(257)) },
            invalid("empty partition key", "partition key") { recorder.saveRecord(data, "ok-stream", "") },
            invalid("stream name with a space", "stream name") { recorder.saveRecord(data, "bad stream", "k") },
            invalid("stream name with a slash", "stream name") { recorder.saveRecord(data, "a/b", "k") },
            invalid("empty stream name", "stream name") { recorder.saveRecord(data, "", "k") },
            invalid("129-character stream name", "stream name") { recorder.saveRecord(data, "s".repeat(129), "k") },
            invalid("non-decimal explicit hash key", "explicit hash key") { recorder.saveRecordWithHashKey(data, "ok-stream", "k", "0x10") },
            invalid("negative explicit hash key", "explicit hash key") { recorder.saveRecordWithHashKey(data, "ok-stream", "k", "-1") },
            invalid("explicit hash key of 2^128", "explicit hash key") {
                recorder.saveRecordWithHashKey(data, "ok-stream", "k", "340282366920938463463374607431768211456")
            },
            invalid("empty explicit hash key", "explicit hash key") { recorder.saveRecordWithHashKey(data, "ok-stream", "k", "") },
            invalid("record over max_record_bytes", "data") { recorder.saveRecord(ByteArray(1024 * 1024 + 1), "ok-stream", "k") },
        )
    }

    private fun invalidConfig(name: String, expected: String, configure: RecorderConfig.() -> Unit): DynamicTest = dynamicTest(name) {
        val error = assertFailsWith<RecorderException.InvalidInput> {
            KinesisRecorder(recorderConfig(tempStore(), "us-east-1", configure), testCredentialsProvider).close()
        }
        assertTrue(expected in error.reason, "reason \"${error.reason}\" should mention \"$expected\"")
    }

    private val testCredentialsProvider = StaticCredentialsProvider("AKID", "secret")

    @TestFactory
    fun `bad configurations`(): List<DynamicTest> = listOf(
        invalidConfig("region with a space", "region") { region = "us east 1" },
        invalidConfig("region without a number", "region") { region = "useast" },
        invalidConfig("upper-case region", "region") { region = "US-EAST-1" },
        invalidConfig("empty region", "region") { region = "" },
        invalidConfig("plain http to a non-loopback host", "https") { endpoint = "http://example.com" },
        invalidConfig("plain http to a private address", "https") { endpoint = "http://10.0.0.1:4567" },
        invalidConfig("endpoint that is not a URL", "endpoint") { endpoint = "not a url" },
        invalidConfig("endpoint with credentials", "endpoint") { endpoint = "https://user:pw@example.com" },
        invalidConfig("ftp endpoint", "endpoint") { endpoint = "ftp://example.com" },
        invalidConfig("empty database path", "database_path") { databasePath = "" },
        invalidConfig("zero max_storage_bytes", "max_storage_bytes") { maxStorageBytes = 0uL },
        invalidConfig("zero max_record_bytes", "max_record_bytes") { maxRecordBytes = 0uL },
        invalidConfig("zero max_request_bytes", "max_request_bytes") { maxRequestBytes = 0uL },
        invalidConfig("zero max_records_per_request", "max_records_per_request") { maxRecordsPerRequest = 0u },
        invalidConfig("501 max_records_per_request", "max_records_per_request") { maxRecordsPerRequest = 501u },
        invalidConfig("zero max_attempts", "max_attempts") { maxAttempts = 0u },
        invalidConfig("zero max_record_age", "max_record_age") { maxRecordAge = Duration.ZERO },
        invalidConfig("1 ms submit_interval", "submit_interval") { submitInterval = Duration.ofMillis(1) },
        invalidConfig("zero request_timeout", "request_timeout") { requestTimeout = Duration.ZERO },
        invalidConfig("max_queued_bytes below a record", "max_queued_bytes") { maxQueuedBytes = 1uL },
        invalidConfig("record larger than the store", "max_record_bytes") { maxStorageBytes = 1000uL },
        invalidConfig("request over 10 MiB", "max_request_bytes") { maxRequestBytes = 10uL * 1024uL * 1024uL + 1uL },
        invalidConfig("aggregate under 1 KiB", "max_aggregate_bytes") { aggregation = true; maxAggregateBytes = 1000uL },
        invalidConfig("aggregate over the record limit", "max_aggregate_bytes") { aggregation = true; maxAggregateBytes = maxRecordBytes + 1uL },
    )
}
