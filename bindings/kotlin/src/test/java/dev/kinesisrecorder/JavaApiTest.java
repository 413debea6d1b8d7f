package dev.kinesisrecorder;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kinesisrecorder.ffi.AwsCredentials;
import dev.kinesisrecorder.ffi.CredentialsProvider;
import dev.kinesisrecorder.ffi.DropReason;
import dev.kinesisrecorder.ffi.FailureKind;
import dev.kinesisrecorder.ffi.RecordToSave;
import dev.kinesisrecorder.ffi.RecorderConfig;
import dev.kinesisrecorder.ffi.RecorderException;
import dev.kinesisrecorder.ffi.WhenFull;
import dev.kinesisrecorder.support.Kinesalite;
import dev.kinesisrecorder.support.RecordingProxy;
import dev.kinesisrecorder.support.StoredRecord;
import dev.kinesisrecorder.support.SupportKt;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The recorder used from Java, as an app written in Java would: no Kotlin suspend function,
 * no unsigned type, no Kotlin lambda; against kinesalite, records read back.
 */
@Timeout(120)
class JavaApiTest {
    static RecorderConfigBuilder config(String endpoint) {
        return new RecorderConfigBuilder(SupportKt.tempStore("records.sqlite"), "us-east-1")
                .endpoint(endpoint)
                .autoSubmit(false);
    }

    static CredentialsProvider fixedKeys() {
        return new StaticCredentialsProvider("AKIDJAVA", "java-secret", null);
    }

    static List<String> texts(String stream) {
        return Kinesalite.INSTANCE.getAdmin().readAll(stream).stream()
                .map(StoredRecord::getText)
                .sorted()
                .collect(Collectors.toList());
    }

    @Test
    void savesSubmitsAndReadsStatsWithLongs() throws Exception {
        String stream = Kinesalite.INSTANCE.newStream("java-api", 1);
        RecorderConfig config = config(Kinesalite.INSTANCE.getEndpoint())
                .maxStorageBytes(1L << 20)
                .whenFull(WhenFull.REJECT_NEW)
                .maxRecordAge(Duration.ofDays(7))
                .build();
        try (JavaRecorder recorder = JavaRecorder.open(config, fixedKeys())) {
            recorder.saveRecord("text 1".getBytes(StandardCharsets.UTF_8), stream);
            recorder.saveRecord("text 2".getBytes(StandardCharsets.UTF_8), stream, "user-2");
            recorder.saveRecord("text 3", stream);
            recorder.saveRecord("text 4", stream, "user-4");
            recorder.saveRecordWithHashKey("text 5".getBytes(StandardCharsets.UTF_8), stream, "k", "0");
            recorder.saveRecords(List.of(
                    new RecordToSave("text 6".getBytes(StandardCharsets.UTF_8), stream, "k", null),
                    new RecordToSave("text 7".getBytes(StandardCharsets.UTF_8), stream, null, null)));
            recorder.flush();

            JavaRecorder.Stats stats = recorder.stats();
            assertEquals(7L, stats.getPendingRecords());
            assertEquals(1, stats.getStreams().size());
            assertEquals(stream, stats.getStreams().get(0).getStreamName());
            assertEquals(7L, stats.getStreams().get(0).getPendingRecords());
            long used = recorder.diskBytesUsed();
            assertEquals(stats.getPendingBytes(), used);
            assertTrue(used > 7 * 6, "data and partition keys count: " + used);
            assertEquals(1L << 20, recorder.diskByteLimit());
            assertTrue(recorder.diskFileBytes() > 0);

            JavaRecorder.Report report = recorder.submitAllRecords(); // blocking, like the AWS recorder
            assertEquals(List.of(), report.getErrors());
            assertEquals(7L, report.getRecordsSubmitted());
            assertEquals(7L, report.getKinesisRecordsSubmitted()); // no aggregation: one each
            assertEquals(0L, report.getRecordsRemaining());
            assertEquals(1L, report.getRequests());
            assertEquals(7L, recorder.stats().getRecordsSubmitted());
            assertEquals(0L, recorder.diskBytesUsed());
        }
        assertEquals(List.of("text 1", "text 2", "text 3", "text 4", "text 5", "text 6", "text 7"), texts(stream));
    }

    @Test
    void submitsWithACompletableFuture() throws Exception {
        String stream = Kinesalite.INSTANCE.newStream("java-future", 1);
        try (JavaRecorder recorder = JavaRecorder.open(config(Kinesalite.INSTANCE.getEndpoint()).build(), fixedKeys())) {
            for (int i = 0; i < 50; i++) recorder.saveRecord("future " + i, stream, "k" + i);
            CompletableFuture<JavaRecorder.Report> future = recorder.submitAllRecordsAsync();
            long submitted = future.thenApply(JavaRecorder.Report::getRecordsSubmitted).get(60, TimeUnit.SECONDS);
            assertEquals(50L, submitted);
            recorder.saveRecord("within a deadline", stream);
            JavaRecorder.Report within = recorder.submitAllRecordsAsync(Duration.ofSeconds(30)).get(60, TimeUnit.SECONDS);
            assertEquals(1L, within.getRecordsSubmitted());
            assertTrue(!within.getDeadlineReached());
            recorder.saveRecord("blocking within a deadline", stream);
            assertEquals(1L, recorder.submitAllRecords(Duration.ofSeconds(30)).getRecordsSubmitted());
            assertThrows(RecorderException.InvalidInput.class, () -> recorder.submitAllRecords(Duration.ZERO));
        }
        assertEquals(52, texts(stream).size());

        // Exceptionally, with the recorder's error, once closed.
        JavaRecorder closed = JavaRecorder.open(config(Kinesalite.INSTANCE.getEndpoint()).build(), fixedKeys());
        closed.close();
        ExecutionException failed = assertThrows(ExecutionException.class,
                () -> closed.submitAllRecordsAsync().get(60, TimeUnit.SECONDS));
        assertInstanceOf(IllegalStateException.class, failed.getCause());
    }

    @Test
    void listenersGetEventsWithLongCounts() throws Exception {
        String stream = Kinesalite.INSTANCE.newStream("java-events", 1);
        List<JavaRecorder.Event> first = Collections.synchronizedList(new ArrayList<>());
        List<JavaRecorder.Event> second = Collections.synchronizedList(new ArrayList<>());
        try (JavaRecorder recorder = JavaRecorder.open(config(Kinesalite.INSTANCE.getEndpoint()).build(), fixedKeys())) {
            AutoCloseable one = recorder.addListener(first::add);
            try (AutoCloseable two = recorder.addListener(second::add)) {
                for (int i = 0; i < 3; i++) recorder.saveRecord("event " + i, stream);
                recorder.submitAllRecords(); // returns once its events were delivered
                recorder.saveRecord("deleted", stream);
                assertEquals(1L, recorder.deleteAllRecords());
                recorder.flush();
            }
            one.close();
            recorder.saveRecord("unheard", stream);
            recorder.submitAllRecords();
        }
        for (List<JavaRecorder.Event> events : List.of(first, second)) {
            assertEquals(2, events.size(), events.toString());
            JavaRecorder.Event.RecordsSubmitted submitted =
                    assertInstanceOf(JavaRecorder.Event.RecordsSubmitted.class, events.get(0));
            assertEquals(stream, submitted.getStreamName());
            assertEquals(3L, submitted.getCount());
            JavaRecorder.Event.RecordsDropped dropped =
                    assertInstanceOf(JavaRecorder.Event.RecordsDropped.class, events.get(1));
            assertEquals(DropReason.DELETED, dropped.getReason());
            assertEquals(1L, dropped.getCount());
        }
    }

    @Test
    void aBlockingJavaProviderRefreshesCredentials() throws Exception {
        String stream = Kinesalite.INSTANCE.newStream("java-creds", 1);
        AtomicInteger calls = new AtomicInteger();
        Set<String> threads = Collections.synchronizedSet(new TreeSet<>());
        String saver = Thread.currentThread().getName();
        // Four-second credentials are kept for half their lifetime, then fetched again.
        CredentialsProvider provider = Credentials.blockingCredentials(() -> {
            int n = calls.incrementAndGet();
            threads.add(Thread.currentThread().getName());
            Thread.sleep(10); // a blocking fetch, as from a backend
            return new AwsCredentials("AKIDJAVA" + n, "java-secret", "java-token-" + n, Instant.now().plusSeconds(4));
        });
        try (RecordingProxy proxy = new RecordingProxy(Kinesalite.INSTANCE.getEndpoint());
                JavaRecorder recorder = JavaRecorder.open(config(proxy.getEndpoint()).build(), provider)) {
            recorder.saveRecord("first", stream);
            assertEquals(0, calls.get(), "saving never asks for credentials");
            assertEquals(1L, recorder.submitAllRecords().getRecordsSubmitted());
            Thread.sleep(2500);
            recorder.saveRecord("second", stream);
            assertEquals(1L, recorder.submitAllRecords().getRecordsSubmitted());
            assertTrue(calls.get() >= 2, "credentials about to expire are fetched again: " + calls.get());
            assertTrue(!threads.contains(saver), threads.toString());
            List<String> tokens = proxy.getRequests().stream()
                    .filter(h -> "Kinesis_20131202.PutRecords".equals(h.get("x-amz-target")))
                    .map(h -> h.get("x-amz-security-token"))
                    .collect(Collectors.toList());
            assertEquals(2, tokens.size(), tokens.toString());
            assertTrue(tokens.get(0).startsWith("java-token-") && tokens.get(1).startsWith("java-token-"), tokens.toString());
            assertTrue(!tokens.get(0).equals(tokens.get(1)), "the refreshed token signs: " + tokens);
        }

        // What the provider throws becomes a credentials error of the submission; records wait.
        CredentialsProvider failing = Credentials.blockingCredentials(() -> {
            throw new java.io.IOException("backend unreachable");
        });
        try (JavaRecorder recorder = JavaRecorder.open(config(Kinesalite.INSTANCE.getEndpoint()).build(), failing)) {
            recorder.saveRecord("waits", stream);
            JavaRecorder.Report report = recorder.submitAllRecords();
            assertEquals(0L, report.getRecordsSubmitted());
            assertEquals(1L, report.getRecordsRemaining());
            assertEquals(FailureKind.CREDENTIALS, report.getErrors().get(0).getKind());
            assertTrue(report.getErrors().get(0).getMessage().contains("backend unreachable"),
                    report.getErrors().get(0).getMessage());
        }
    }

    @Test
    void aggregationPacksSmallRecordsIntoOneKinesisRecord() throws Exception {
        String stream = Kinesalite.INSTANCE.newStream("java-aggregation", 1);
        RecorderConfig config = config(Kinesalite.INSTANCE.getEndpoint())
                .aggregation(true)
                .maxAggregateBytes(25_000)
                .build();
        try (JavaRecorder recorder = JavaRecorder.open(config, fixedKeys())) {
            for (int i = 0; i < 5; i++) recorder.saveRecord("event " + i, stream);
            recorder.flush();
            JavaRecorder.Report report = recorder.submitAllRecords();
            assertEquals(List.of(), report.getErrors());
            assertEquals(5L, report.getRecordsSubmitted());
            assertEquals(1L, report.getKinesisRecordsSubmitted());
            assertEquals(1L, recorder.stats().getKinesisRecordsSubmitted());
        }
    }

    @Test
    void badValuesAreTypedErrors() throws Exception {
        RecorderConfigBuilder builder = config(Kinesalite.INSTANCE.getEndpoint());
        RecorderException.InvalidInput negative =
                assertThrows(RecorderException.InvalidInput.class, () -> builder.maxStorageBytes(-1));
        assertTrue(negative.getReason().contains("maxStorageBytes"), negative.getReason());
        assertThrows(RecorderException.InvalidInput.class, () -> builder.maxAttempts(-3));
        assertThrows(RecorderException.InvalidInput.class, () -> builder.maxAggregateBytes(-1));
        // Out of the core's range: refused when the recorder is created.
        RecorderConfig tooMany = builder.maxRecordsPerRequest(501).build();
        assertThrows(RecorderException.InvalidInput.class, () -> JavaRecorder.open(tooMany, fixedKeys()));
        try (JavaRecorder recorder = JavaRecorder.open(config(Kinesalite.INSTANCE.getEndpoint()).build(), fixedKeys())) {
            assertThrows(RecorderException.InvalidInput.class, () -> recorder.saveRecord(new byte[0], "s"));
            assertThrows(RecorderException.InvalidInput.class, () -> recorder.saveRecord("x", "bad stream name!"));
        }
    }
}
