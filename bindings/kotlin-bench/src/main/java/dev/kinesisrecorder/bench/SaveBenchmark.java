package dev.kinesisrecorder.bench;

import dev.kinesisrecorder.ffi.KinesisRecorder;
import dev.kinesisrecorder.ffi.RecordToSave;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * The Kotlin save path, per record saved: ns/op (average time) and, with `-prof gc`, bytes
 * allocated on the Java heap per record (gc.alloc.rate.norm).
 *
 * Every invocation is a burst of 100 records; between bursts (outside the measured time) the
 * recorder is flushed, so the save queue never fills and each burst starts as an app's would:
 * the first save wakes the writer thread, which commits while the rest are saved (on this
 * machine's 2 cores, as on a phone's). The baseline is a plain {@link ConcurrentLinkedQueue}
 * offer of the same byte arrays, measured the same way in the same run; `uniffiSaveRecord` is
 * the JNA path every save took before (the generated constructor's object still takes it).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class SaveBenchmark {
    static final int BURST = 100;

    private final byte[][] payloads = Subjects.payloads(BURST);
    private final String[] keys = Subjects.keys(BURST);
    private final List<RecordToSave> batch = Subjects.batch(payloads, keys, BURST);
    private final ConcurrentLinkedQueue<byte[]> queue = new ConcurrentLinkedQueue<>();
    private KinesisRecorder jni;
    private KinesisRecorder uniffi;

    @Setup(Level.Trial)
    public void open() throws Exception {
        jni = Subjects.jniRecorder();
        uniffi = Subjects.uniffiRecorder();
    }

    /** Between bursts, not measured: what was saved goes to disk, the baseline's queue empties. */
    @Setup(Level.Invocation)
    public void betweenBursts() throws Exception {
        jni.flush();
        uniffi.flush();
        queue.clear();
    }

    @TearDown(Level.Trial)
    public void close() throws Exception {
        jni.close();
        uniffi.close();
    }

    @Benchmark
    @OperationsPerInvocation(BURST)
    public void baselineQueueOffer() {
        for (int i = 0; i < BURST; i++) queue.offer(payloads[i]);
    }

    @Benchmark
    @OperationsPerInvocation(BURST)
    public void saveRecordWithKey() throws Exception {
        for (int i = 0; i < BURST; i++) jni.saveRecord(payloads[i], Subjects.STREAM, keys[i]);
    }

    @Benchmark
    @OperationsPerInvocation(BURST)
    public void saveRecordWithoutKey() throws Exception {
        for (int i = 0; i < BURST; i++) jni.saveRecord(payloads[i], Subjects.STREAM, null);
    }

    /** One `saveRecords` call of 100 records (through UniFFI's JNA bindings); the figure is per record. */
    @Benchmark
    @OperationsPerInvocation(BURST)
    public void saveRecords100() throws Exception {
        jni.saveRecords(batch);
    }

    @Benchmark
    @OperationsPerInvocation(BURST)
    public void uniffiSaveRecordWithKey() throws Exception {
        for (int i = 0; i < BURST; i++) uniffi.saveRecord(payloads[i], Subjects.STREAM, keys[i]);
    }
}
