package dev.kinesisrecorder.bench;

import dev.kinesisrecorder.ConfigKt;
import dev.kinesisrecorder.StaticCredentialsProvider;
import dev.kinesisrecorder.ffi.KinesisRecorder;
import dev.kinesisrecorder.ffi.RecordToSave;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import kotlin.Unit;

/**
 * What both benchmark programs save, as the Rust benchmark (benches/perf.rs) does: 100-byte
 * payloads, 32-character partition keys, one stream; recorders with automatic submission off,
 * so only the save path and the writer thread run.
 */
final class Subjects {
    static final String STREAM = "bench-stream";
    static final int PAYLOAD_BYTES = 100;
    static final int KEY_CHARS = 32;

    private Subjects() {}

    /** Distinct payloads (any byte) and keys (hex), reused round-robin. */
    static byte[][] payloads(int count) {
        Random random = new Random(42);
        byte[][] payloads = new byte[count][PAYLOAD_BYTES];
        for (byte[] p : payloads) random.nextBytes(p);
        return payloads;
    }

    static String[] keys(int count) {
        Random random = new Random(7);
        String[] keys = new String[count];
        for (int i = 0; i < count; i++) {
            StringBuilder key = new StringBuilder(KEY_CHARS);
            while (key.length() < KEY_CHARS) key.append(Long.toHexString(random.nextLong() & Long.MAX_VALUE));
            keys[i] = key.substring(0, KEY_CHARS);
        }
        return keys;
    }

    static List<RecordToSave> batch(byte[][] payloads, String[] keys, int size) {
        List<RecordToSave> records = new ArrayList<>(size);
        for (int i = 0; i < size; i++) {
            records.add(new RecordToSave(payloads[i % payloads.length], STREAM, keys[i % keys.length], null));
        }
        return records;
    }

    /** The recorder the Kotlin layer hands out (`KinesisRecorder(path, region, credentials) {}`): JNI saves. */
    static KinesisRecorder jniRecorder() throws Exception {
        return ConfigKt.KinesisRecorder(store(), "us-east-1", credentials(), config -> {
            config.setAutoSubmit(false);
            config.setEndpoint("http://127.0.0.1:9");
            return Unit.INSTANCE;
        });
    }

    /** A recorder of the generated constructor: saves through UniFFI's JNA bindings, as before. */
    static KinesisRecorder uniffiRecorder() throws Exception {
        var config = ConfigKt.recorderConfig(store(), "us-east-1", c -> {
            c.setAutoSubmit(false);
            c.setEndpoint("http://127.0.0.1:9");
            return Unit.INSTANCE;
        });
        return new KinesisRecorder(config, credentials());
    }

    private static StaticCredentialsProvider credentials() {
        return new StaticCredentialsProvider("AKIDBENCH", "bench-secret-value", null);
    }

    private static String store() throws IOException {
        Path dir = Files.createTempDirectory("kr-kotlin-bench");
        dir.toFile().deleteOnExit();
        return dir.resolve("bench.sqlite").toString();
    }
}
