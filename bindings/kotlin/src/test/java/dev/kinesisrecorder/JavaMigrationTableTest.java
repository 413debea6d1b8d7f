package dev.kinesisrecorder;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kinesisrecorder.ffi.AwsCredentials;
import dev.kinesisrecorder.ffi.CredentialsProvider;
import dev.kinesisrecorder.ffi.DropReason;
import dev.kinesisrecorder.ffi.FailureKind;
import dev.kinesisrecorder.ffi.RecorderException;
import dev.kinesisrecorder.ffi.StreamError;
import dev.kinesisrecorder.ffi.WhenFull;
import dev.kinesisrecorder.support.Kinesalite;
import dev.kinesisrecorder.support.KinesaliteKt;
import dev.kinesisrecorder.support.Moto;
import dev.kinesisrecorder.support.StoredRecord;
import dev.kinesisrecorder.support.SupportKt;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The migration table of android/README.md ("Migrating from the AWS SDK's KinesisRecorder"), as
 * Java code: one entry per row, keyed by the row's AWS call, each run against a real server. The
 * table is read from the README, so a row added there without code here fails the test.
 */
@Timeout(240)
class JavaMigrationTableTest {
    interface Row {
        void run() throws Exception;
    }

    static final CredentialsProvider KEYS = new StaticCredentialsProvider("AKIDJAVA", "java-secret", null);

    static JavaRecorder open(RecorderConfigBuilder config, CredentialsProvider credentials) throws RecorderException {
        return JavaRecorder.open(config.build(), credentials);
    }

    static RecorderConfigBuilder kinesalite() {
        return new RecorderConfigBuilder(SupportKt.tempStore("records.sqlite"), "us-east-1")
                .endpoint(Kinesalite.INSTANCE.getEndpoint())
                .autoSubmit(false);
    }

    static List<StoredRecord> read(String stream) {
        return Kinesalite.INSTANCE.getAdmin().readAll(stream);
    }

    static String text(StoredRecord record) {
        return new String(record.getData(), StandardCharsets.UTF_8);
    }

    final Map<String, Row> rows = new LinkedHashMap<>();

    {
        rows.put("`new KinesisRecorder(dir, region, credentialsProvider, config)`", () -> {
            String stream = Kinesalite.INSTANCE.newStream("java-mig-new", 1);
            String path = SupportKt.tempStore("records.sqlite");
            try (JavaRecorder recorder = JavaRecorder.open(
                    new RecorderConfigBuilder(path, "us-east-1")
                            .endpoint(Kinesalite.INSTANCE.getEndpoint())
                            .autoSubmit(false)
                            .build(),
                    KEYS)) {
                recorder.saveRecord("created", stream);
                recorder.flush();
            }
            assertTrue(new File(path).isFile(), "the store is a file at the given path");
            try (JavaRecorder reopened = open(new RecorderConfigBuilder(path, "us-east-1")
                    .endpoint(Kinesalite.INSTANCE.getEndpoint()).autoSubmit(false), KEYS)) {
                assertEquals(1L, reopened.submitAllRecords().getRecordsSubmitted(), "kept across instances");
            }
        });
        rows.put("`saveRecord(byte[] data, streamName)`", () -> {
            String stream = Kinesalite.INSTANCE.newStream("java-mig-bytes", 1);
            try (JavaRecorder recorder = open(kinesalite(), KEYS)) {
                recorder.saveRecord(new byte[] {0, 1, 2, (byte) 0xff}, stream);
                recorder.saveRecord(new byte[] {3}, stream);
                assertEquals(2L, recorder.submitAllRecords().getRecordsSubmitted());
            }
            List<StoredRecord> records = read(stream);
            assertEquals(2, records.size());
            assertFalse(records.get(0).getPartitionKey().equals(records.get(1).getPartitionKey()),
                    "a random key per record");
            assertEquals(4, records.stream().filter(r -> r.getData().length == 4).findFirst().orElseThrow().getData().length);
        });
        rows.put("`saveRecord(String data, streamName)`", () -> {
            String stream = Kinesalite.INSTANCE.newStream("java-mig-text", 1);
            try (JavaRecorder recorder = open(kinesalite(), KEYS)) {
                recorder.saveRecord("héllo ✓", stream);
                recorder.submitAllRecords();
            }
            assertEquals("héllo ✓", text(read(stream).get(0)));
        });
        rows.put("`KinesisRecorderConfig.withPartitionKey(key)` (one static key)", () -> {
            String stream = Kinesalite.INSTANCE.newStream("java-mig-key", 1);
            try (JavaRecorder recorder = open(kinesalite(), KEYS)) {
                recorder.saveRecord("a".getBytes(StandardCharsets.UTF_8), stream, "device-42");
                recorder.saveRecord("b", stream, "device-42");
                recorder.submitAllRecords();
            }
            assertEquals(List.of("device-42", "device-42"),
                    read(stream).stream().map(StoredRecord::getPartitionKey).collect(Collectors.toList()));
        });
        rows.put("`submitAllRecords()` (blocks; not on the main thread)", () -> {
            String stream = Kinesalite.INSTANCE.newStream("java-mig-submit", 1);
            try (JavaRecorder recorder = open(kinesalite(), KEYS)) {
                for (int i = 0; i < 10; i++) recorder.saveRecord("blocking " + i, stream);
                JavaRecorder.Report report = recorder.submitAllRecords();
                assertEquals(10L, report.getRecordsSubmitted());
                assertEquals(0L, report.getRecordsRemaining());
                for (int i = 0; i < 5; i++) recorder.saveRecord("async " + i, stream);
                assertEquals(5L, recorder.submitAllRecordsAsync().get(60, TimeUnit.SECONDS).getRecordsSubmitted());
                recorder.saveRecord("background", stream);
                recorder.flush(); // committed: pending until the background submission delivers it
                assertEquals(1L, recorder.stats().getPendingRecords());
                recorder.submitInBackground();
                for (int i = 0; i < 600 && recorder.stats().getPendingRecords() > 0; i++) Thread.sleep(50);
            }
            assertEquals(16, read(stream).size());
        });
        rows.put("`deleteAllRecords()`", () -> {
            try (JavaRecorder recorder = open(kinesalite(), KEYS)) {
                for (int i = 0; i < 3; i++) recorder.saveRecord("doomed " + i, "java-mig-never-sent");
                long deleted = recorder.deleteAllRecords();
                assertEquals(3L, deleted);
                assertEquals(0L, recorder.stats().getPendingRecords());
            }
        });
        rows.put("`getDiskBytesUsed()`", () -> {
            try (JavaRecorder recorder = open(kinesalite(), KEYS)) {
                assertEquals(0L, recorder.diskBytesUsed());
                recorder.saveRecord("12345", "java-mig-bytes-used", "k");
                recorder.flush();
                long used = recorder.diskBytesUsed();
                assertEquals(6L, used, "data + partition key");
            }
        });
        rows.put("`getDiskByteLimit()` / `withMaxStorageSize(5 MiB)`", () -> {
            try (JavaRecorder recorder = open(kinesalite(), KEYS)) {
                assertEquals(5L << 20, recorder.diskByteLimit(), "5 MiB by default, as the AWS recorder");
            }
            try (JavaRecorder recorder = open(kinesalite().maxStorageBytes(100).maxRecordBytes(100).whenFull(WhenFull.REJECT_NEW), KEYS)) {
                assertEquals(100L, recorder.diskByteLimit());
                recorder.saveRecord(new byte[90], "java-mig-full", "k");
                assertThrows(RecorderException.StorageFull.class,
                        () -> recorder.saveRecord(new byte[90], "java-mig-full", "k"));
            }
        });
        rows.put("`DeadLetterListener.onRecordsDropped(stream, records)`", () -> {
            List<JavaRecorder.Event> events = Collections.synchronizedList(new ArrayList<>());
            try (JavaRecorder recorder = open(kinesalite().maxStorageBytes(100).maxRecordBytes(100), KEYS);
                    AutoCloseable listening = recorder.addListener(events::add)) {
                recorder.saveRecord(new byte[60], "java-mig-dead", "k");
                recorder.saveRecord(new byte[60], "java-mig-dead", "k"); // evicts the first
                recorder.flush(); // returns once its events reached the listener
            }
            JavaRecorder.Event.RecordsDropped dropped = events.stream()
                    .filter(e -> e instanceof JavaRecorder.Event.RecordsDropped)
                    .map(e -> (JavaRecorder.Event.RecordsDropped) e)
                    .findFirst()
                    .orElseThrow(() -> new AssertionError("no RecordsDropped in " + events));
            assertEquals("java-mig-dead", dropped.getStreamName());
            assertEquals(DropReason.STORAGE_FULL, dropped.getReason());
            assertEquals(1L, dropped.getCount());
        });
        rows.put("`AmazonClientException` from submit", () -> {
            List<JavaRecorder.Event> events = Collections.synchronizedList(new ArrayList<>());
            try (JavaRecorder recorder = open(kinesalite(), KEYS);
                    AutoCloseable listening = recorder.addListener(events::add)) {
                recorder.saveRecord("nowhere", "java-mig-no-such-stream");
                JavaRecorder.Report report = recorder.submitAllRecords();
                assertEquals(1L, report.getRecordsRemaining(), "records are kept");
                StreamError error = report.getErrors().get(0);
                assertEquals("java-mig-no-such-stream", error.getStreamName());
                assertEquals(FailureKind.STREAM_REJECTED, error.getKind());
                assertEquals("ResourceNotFoundException", error.getCode());
            }
            assertInstanceOf(JavaRecorder.Event.SubmissionFailed.class, events.get(0), events.toString());
            // Typed, checked exceptions for bad calls: nothing stored.
            try (JavaRecorder recorder = open(kinesalite(), KEYS)) {
                RecorderException.InvalidInput invalid = assertThrows(RecorderException.InvalidInput.class,
                        () -> recorder.saveRecord("x", "java-mig", "k".repeat(257)));
                assertTrue(invalid.getReason().contains("partition key"), invalid.getReason());
                assertEquals(0L, recorder.stats().getPendingRecords() + recorder.stats().getQueuedRecords());
            }
        });
        rows.put("`CognitoCachingCredentialsProvider(context, poolId, region)`", () -> {
            String pool = Moto.INSTANCE.newIdentityPool();
            String stream = Moto.INSTANCE.newStream("java-mig-cognito");
            String path = SupportKt.tempStore("records.sqlite");
            AtomicInteger loginCalls = new AtomicInteger();
            CredentialsProvider guest = Credentials.cognitoCredentials(pool, "us-east-1", Moto.INSTANCE.getEndpoint());
            CredentialsProvider user = Credentials.blockingCognitoCredentials(pool, "us-east-1",
                    Moto.INSTANCE.getEndpoint(), () -> {
                        loginCalls.incrementAndGet();
                        return Map.of("cognito-idp.us-east-1.amazonaws.com/us-east-1_JavaTest", "id-token");
                    });
            for (CredentialsProvider credentials : List.of(guest, user)) {
                try (JavaRecorder recorder = open(new RecorderConfigBuilder(path, "us-east-1")
                        .endpoint(Moto.INSTANCE.getEndpoint()).autoSubmit(false), credentials)) {
                    recorder.saveRecord("cognito", stream);
                    JavaRecorder.Report report = recorder.submitAllRecords();
                    assertEquals(List.of(), report.getErrors());
                    assertEquals(1L, report.getRecordsSubmitted());
                }
            }
            assertEquals(1, loginCalls.get());
            assertEquals(2, Moto.INSTANCE.getAdmin().readAll(stream).size());
            assertEquals(1, Moto.INSTANCE.identityCount(pool), "one identity per store, as the caching provider");
            assertThrows(RecorderException.InvalidInput.class, () -> Credentials.cognitoCredentials("my-pool", "us-east-1"));
        });
        rows.put("`AWSCredentialsProvider`", () -> {
            String stream = Kinesalite.INSTANCE.newStream("java-mig-provider", 1);
            AtomicInteger calls = new AtomicInteger();
            CredentialsProvider provider = Credentials.blockingCredentials(() -> {
                calls.incrementAndGet();
                return new AwsCredentials("AKIDJAVA", "secret", null, null);
            });
            try (JavaRecorder recorder = open(kinesalite(), provider)) {
                recorder.saveRecord("signed", stream);
                assertEquals(1L, recorder.submitAllRecords().getRecordsSubmitted());
            }
            assertEquals(1, calls.get());
        });
    }

    /** The first cell of each row of the README's migration table. */
    static List<String> tableRows() throws Exception {
        File readme = new File(KinesaliteKt.getRepoRoot(), "android/README.md");
        List<String> lines = Files.readAllLines(readme.toPath());
        int start = -1;
        for (int i = 0; i < lines.size(); i++) {
            if (lines.get(i).startsWith("## Migrating from the AWS SDK")) start = i;
        }
        assertTrue(start >= 0, "no migration section in " + readme);
        List<String> rows = new ArrayList<>();
        boolean inTable = false;
        for (int i = start + 1; i < lines.size(); i++) {
            String line = lines.get(i);
            if (!line.startsWith("|")) {
                if (inTable) break;
                continue;
            }
            inTable = true;
            String first = line.substring(1, line.indexOf(" |", 1)).trim();
            if (first.startsWith("AWS ") || first.startsWith("---")) continue; // header, separator
            rows.add(first);
        }
        return rows;
    }

    @Test
    void everyRowOfTheMigrationTableRunsInJava() throws Exception {
        List<String> table = tableRows();
        assertEquals(12, table.size(), table.toString());
        assertEquals(table, new ArrayList<>(rows.keySet()), "the README's rows and this test's, in order");
        for (String row : table) {
            try {
                rows.get(row).run();
            } catch (Throwable e) {
                throw new AssertionError("row " + row + ": " + e, e);
            }
        }
    }
}
