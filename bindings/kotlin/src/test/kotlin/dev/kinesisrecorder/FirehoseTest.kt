package dev.kinesisrecorder

import dev.kinesisrecorder.ffi.KinesisRecorder
import dev.kinesisrecorder.ffi.RecordToSave
import dev.kinesisrecorder.ffi.RecorderException
import dev.kinesisrecorder.ffi.Service
import dev.kinesisrecorder.ffi.WireFormat
import dev.kinesisrecorder.support.Moto
import dev.kinesisrecorder.support.tempStore
import dev.kinesisrecorder.support.testCredentials
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.Timeout
import java.io.File
import kotlin.test.assertContentEquals
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertTrue

/** The Firehose recorder from Kotlin: a round trip through moto's Firehose to S3, and its bad inputs. */
@Timeout(180)
class FirehoseTest {
    private fun firehose(path: String = tempStore(), configure: dev.kinesisrecorder.ffi.RecorderConfig.() -> Unit = {}) =
        KinesisRecorder(path, "us-east-1", testCredentials, Service.FIREHOSE) {
            endpoint = Moto.endpoint
            autoSubmit = false
            configure()
        }

    @Test
    fun `the configuration follows the service`() {
        val config = recorderConfig("/data/firehose.sqlite", "eu-west-1", Service.FIREHOSE)
        assertEquals(Service.FIREHOSE, config.service)
        assertEquals(1_024_000uL, config.maxRecordBytes)
        assertEquals(4uL * 1024uL * 1024uL, config.maxRequestBytes)
        assertEquals(false, config.newlineDelimited)
        assertEquals(Service.KINESIS_DATA_STREAMS, recorderConfig("/data/k.sqlite", "eu-west-1").service)
    }

    @Test
    fun `records reach S3 through moto byte for byte`(): Unit = runBlocking {
        val (bucket, lines) = Moto.newDeliveryStream("kt-lines")
        firehose { newlineDelimited = true }.use { recorder ->
            recorder.saveRecord("""{"event":"open"}""", lines)
            recorder.saveRecords(listOf("""{"event":"tap","x":1}""", """{"event":"close"}""").map {
                RecordToSave(it.encodeToByteArray(), lines, null, null)
            })
            val report = recorder.submitAllRecords()
            assertEquals(3uL, report.recordsSubmitted, report.toString())
            assertEquals(1uL, report.requests)
        }
        val objects = Moto.s3Objects(bucket, "$lines/")
        assertEquals(1, objects.size)
        assertEquals("{\"event\":\"open\"}\n{\"event\":\"tap\",\"x\":1}\n{\"event\":\"close\"}\n", objects[0].decodeToString())

        // Binary records, no newline: one S3 object per call of at most 500 records.
        val (binaryBucket, binary) = Moto.newDeliveryStream("kt-binary")
        val records = (0 until 700).map { i -> ByteArray(1 + i % 50) { j -> (i * 31 + j).toByte() } }
        firehose().use { recorder ->
            records.forEach { recorder.saveRecord(it, binary) }
            val report = recorder.submitAllRecords()
            assertEquals(700uL, report.recordsSubmitted, report.toString())
            assertEquals(2uL, report.requests)
            assertEquals(0uL, recorder.stats().pendingRecords)
        }
        val bodies = Moto.s3Objects(binaryBucket, "$binary/").map { it.toList() }.sortedBy { it.size }
        val expected = records.chunked(500).map { chunk -> chunk.flatMap { it.toList() } }.sortedBy { it.size }
        assertEquals(expected, bodies)
    }

    @Test
    fun `bad inputs are refused and nothing is stored`() {
        firehose().use { recorder ->
            val withKey = assertFailsWith<RecorderException.InvalidInput> { recorder.saveRecord("x", "d", "key") }
            assertTrue("partition key" in withKey.reason, withKey.reason)
            assertFailsWith<RecorderException.InvalidInput> { recorder.saveRecordWithHashKey("x".encodeToByteArray(), "d", null, "7") }
            val oversized = assertFailsWith<RecorderException.InvalidInput> { recorder.saveRecord(ByteArray(1_024_001), "d") }
            assertTrue("limit is 1024000" in oversized.reason, oversized.reason)
            recorder.flush()
            assertEquals(0uL, recorder.stats().pendingRecords)
        }
        val cbor = assertFailsWith<RecorderException.InvalidInput> { firehose { wireFormat = WireFormat.CBOR }.close() }
        assertTrue("JSON only" in cbor.reason, cbor.reason)
        val aggregation = assertFailsWith<RecorderException.InvalidInput> { firehose { aggregation = true }.close() }
        assertTrue("aggregation" in aggregation.reason && "Kinesis Data Streams only" in aggregation.reason, aggregation.reason)
    }

    @Test
    fun `a store of the other service is refused and kept`() {
        val path = tempStore()
        KinesisRecorder(path, "us-east-1", testCredentials) { autoSubmit = false }.use { it.saveRecord("kept", "s") }
        val before = File(path).readBytes()
        val error = assertFailsWith<RecorderException.InvalidInput> { firehose(path).close() }
        assertTrue("Kinesis Data Streams" in error.reason && "Firehose" in error.reason, error.reason)
        assertContentEquals(before, File(path).readBytes())
        KinesisRecorder(path, "us-east-1", testCredentials) { autoSubmit = false }.use {
            assertEquals(1uL, it.stats().pendingRecords)
        }
    }
}
