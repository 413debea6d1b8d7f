package dev.kinesisrecorder.bench;

import dev.kinesisrecorder.ffi.KinesisRecorder;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * Every call timed: the latency distribution of single saves from Kotlin's recorder (the JNI
 * path) next to a {@link ConcurrentLinkedQueue} offer of the same bytes, in the same run, and the
 * time of 1,000 saves in a loop. JMH (SaveBenchmark) gives averages and allocation; this gives
 * the tail, which averages hide.
 *
 * Pacing as in the Rust benchmark's row 1: bursts of 100 back-to-back saves, then a 2 ms sleep,
 * so the writer commits throughout and the queue never fills. Each call is timed with
 * System.nanoTime (~20-30 ns of the figure is the clock). A call over 1 ms is attributed to the
 * collector when a collection ran during its burst (GarbageCollectorMXBean counts read between
 * bursts), or to the scheduler when the calling thread waited on the run queue during its burst
 * for at least half the call's time (Linux's /proc/thread-self/schedstat, read between bursts):
 * on 2 cores the JVM's compiler and collector threads and the recorder's writer take turns with
 * the caller. The tail is also shown split the way the Rust benchmark splits it: the first call
 * of a burst against the other 99, and calls in bursts during which the thread never waited on
 * the run queue. Allocation: the calling thread's allocated bytes (ThreadMXBean) over the timed
 * saves. Two more figures show what a wake-up costs: saves after the writer parked (a pause
 * longer than its lingers: the save wakes it, a system call on the caller's thread), next to the
 * machine's own cost of waking a parked thread (LockSupport.unpark), in the same run.
 *
 * Usage: SaveLatency [--quick]. Prints a table; exits 1 only if a save allocates more than 256
 * bytes on the Java heap (the bound; not a timing), never on a timing.
 */
public final class SaveLatency {
    static final int BURST = 100;
    static final long PAUSE_MS = 2;
    /** Longer than the writer's lingers (5 x 2 ms), so that it has parked. */
    static final long IDLE_MS = 50;
    static final long ALLOCATION_BOUND = 256;

    interface Save {
        void save(int i) throws Exception;
    }

    interface Step {
        void run() throws Exception;
    }

    record Run(String name, long[] samples, long overOneMs, long overOneMsDuringGc, long overOneMsQueued,
               double bytesPerSave, long gcCount, long gcMillis, long[] firstOfBurst, long[] restOfBurst,
               long[] unqueuedBursts, int bursts, int unqueued) {}

    public static void main(String[] args) throws Exception {
        boolean quick = Arrays.asList(args).contains("--quick");
        int warmup = quick ? 5_000 : 50_000;
        int timed = quick ? 10_000 : 100_000;
        int loops = quick ? 5 : 50;
        int afterIdle = quick ? 20 : 200;
        int wakeUps = quick ? 100 : 1_000;

        byte[][] payloads = Subjects.payloads(1024);
        String[] keys = Subjects.keys(1024);
        ConcurrentLinkedQueue<byte[]> queue = new ConcurrentLinkedQueue<>();
        try (KinesisRecorder recorder = Subjects.jniRecorder()) {
            Save baseline = i -> queue.offer(payloads[i & 1023]);
            Save withKey = i -> recorder.saveRecord(payloads[i & 1023], Subjects.STREAM, keys[i & 1023]);
            Save withoutKey = i -> recorder.saveRecord(payloads[i & 1023], Subjects.STREAM, null);
            Step drainBaseline = queue::clear;
            Step flush = recorder::flush;

            List<Run> runs = List.of(
                    timeEach("ConcurrentLinkedQueue.offer (baseline)", baseline, drainBaseline, warmup, timed),
                    timeEach("saveRecord, with key", withKey, flush, warmup, timed),
                    timeEach("saveRecord, without key", withoutKey, flush, warmup, timed));
            long[] loopBaseline = timeAfterPause(baseline, drainBaseline, loops, PAUSE_MS, 1_000);
            long[] loopSaves = timeAfterPause(withKey, flush, loops, PAUSE_MS, 1_000);
            long[] idleSaves = timeAfterPause(withKey, flush, afterIdle, IDLE_MS, 1);
            long[] wakeUpCosts = timeWakeUps(wakeUps);
            print(runs, loopBaseline, loopSaves, quick, warmup, timed, loops);
            printWakeUps(idleSaves, wakeUpCosts);

            Run saves = runs.get(1);
            if (saves.bytesPerSave() > ALLOCATION_BOUND || runs.get(2).bytesPerSave() > ALLOCATION_BOUND) {
                System.out.printf("FAILED: a save allocates more than %d bytes on the Java heap%n", ALLOCATION_BOUND);
                System.exit(1);
            }
        }
    }

    /** Warms up, then times each of `timed` calls, in bursts separated by a pause. */
    static Run timeEach(String name, Save save, Step betweenBursts, int warmup, int timed) throws Exception {
        for (int i = 0; i < warmup; i++) {
            save.save(i);
            if (i % BURST == BURST - 1) betweenBursts.run();
        }
        betweenBursts.run();
        long[] samples = new long[timed];
        int bursts = (timed + BURST - 1) / BURST;
        boolean[] gcInBurst = new boolean[bursts];
        long[] queuedInBurst = new long[bursts];
        var threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long gcCountBefore = gcCount();
        long gcMillisBefore = gcMillis();
        long allocated = 0;
        for (int burst = 0; burst * BURST < timed; burst++) {
            long gcBefore = gcCount();
            long queuedBefore = runQueueNanos();
            long bytesBefore = threads.getCurrentThreadAllocatedBytes();
            int end = Math.min(timed, (burst + 1) * BURST);
            for (int i = burst * BURST; i < end; i++) {
                long start = System.nanoTime();
                save.save(i);
                samples[i] = System.nanoTime() - start;
            }
            allocated += threads.getCurrentThreadAllocatedBytes() - bytesBefore;
            queuedInBurst[burst] = queuedBefore < 0 ? -1 : runQueueNanos() - queuedBefore;
            gcInBurst[burst] = gcCount() != gcBefore;
            betweenBursts.run();
            Thread.sleep(PAUSE_MS);
        }
        long over = 0;
        long overDuringGc = 0;
        long overQueued = 0;
        long[] first = new long[bursts];
        long[] rest = new long[timed - bursts];
        long[] unqueued = new long[timed];
        int restCount = 0;
        int unqueuedCount = 0;
        int unqueuedBursts = 0;
        for (int i = 0; i < timed; i++) {
            int burst = i / BURST;
            if (samples[i] > 1_000_000) {
                over++;
                if (gcInBurst[burst]) overDuringGc++;
                else if (queuedInBurst[burst] >= samples[i] / 2) overQueued++;
            }
            if (i % BURST == 0) first[burst] = samples[i];
            else rest[restCount++] = samples[i];
            if (queuedInBurst[burst] == 0) {
                unqueued[unqueuedCount++] = samples[i];
                if (i % BURST == 0) unqueuedBursts++;
            }
        }
        Arrays.sort(samples);
        Arrays.sort(first);
        Arrays.sort(rest, 0, restCount);
        long[] unqueuedSamples = Arrays.copyOf(unqueued, unqueuedCount);
        Arrays.sort(unqueuedSamples);
        return new Run(name, samples, over, overDuringGc, overQueued, (double) allocated / timed,
                gcCount() - gcCountBefore, gcMillis() - gcMillisBefore, first, Arrays.copyOf(rest, restCount),
                unqueuedSamples, bursts, unqueuedBursts);
    }

    /**
     * `count` samples, each the time of `calls` calls back to back after `betweenSamples` and a
     * pause of `pauseMs`: 1,000 saves in a loop after the bursts' pause, or one save after the
     * writer parked (IDLE_MS).
     */
    static long[] timeAfterPause(Save save, Step betweenSamples, int count, long pauseMs, int calls) throws Exception {
        long[] samples = new long[count];
        for (int sample = 0; sample < count; sample++) {
            betweenSamples.run();
            Thread.sleep(pauseMs);
            long start = System.nanoTime();
            for (int i = 0; i < calls; i++) save.save(sample * calls + i);
            samples[sample] = System.nanoTime() - start;
        }
        betweenSamples.run();
        Arrays.sort(samples);
        return samples;
    }

    /** The machine's cost of waking a parked thread: LockSupport.unpark, timed, after a pause. */
    static long[] timeWakeUps(int count) throws Exception {
        AtomicInteger wakeUps = new AtomicInteger();
        Thread sleeper = new Thread(() -> {
            while (!Thread.currentThread().isInterrupted()) {
                LockSupport.park();
                wakeUps.incrementAndGet();
            }
        });
        sleeper.setDaemon(true);
        sleeper.start();
        long[] samples = new long[count];
        for (int i = 0; i < count; i++) {
            // Until the previous unpark was taken and the thread parked again.
            while (wakeUps.get() < i || sleeper.getState() != Thread.State.WAITING) Thread.onSpinWait();
            Thread.sleep(PAUSE_MS);
            long start = System.nanoTime();
            LockSupport.unpark(sleeper);
            samples[i] = System.nanoTime() - start;
        }
        sleeper.interrupt();
        sleeper.join();
        Arrays.sort(samples);
        return samples;
    }

    /** Nanoseconds this thread has waited on the run queue (Linux schedstat), or -1 elsewhere. */
    static long runQueueNanos() {
        try {
            String[] fields = Files.readString(SCHEDSTAT).trim().split(" ");
            return Long.parseLong(fields[1]);
        } catch (Exception e) {
            return -1;
        }
    }

    static final Path SCHEDSTAT = Path.of("/proc/thread-self/schedstat");

    static long gcCount() {
        long count = 0;
        for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) count += gc.getCollectionCount();
        return count;
    }

    static long gcMillis() {
        long millis = 0;
        for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) millis += gc.getCollectionTime();
        return millis;
    }

    static long percentile(long[] sorted, double p) {
        if (sorted.length == 0) return 0;
        return sorted[Math.min(sorted.length - 1, (int) Math.ceil(p * sorted.length) - 1)];
    }

    static String micros(long nanos) {
        return String.format(Locale.ROOT, nanos < 10_000 ? "%.2f µs" : "%.0f µs", nanos / 1000.0);
    }

    static void printWakeUps(long[] idleSaves, long[] wakeUps) {
        System.out.printf(Locale.ROOT, "saveRecord after %d ms idle (the writer parked: the save wakes it), %d saves:"
                        + " p50 %s, p99 %s, max %s%n", IDLE_MS, idleSaves.length, micros(percentile(idleSaves, 0.5)),
                micros(percentile(idleSaves, 0.99)), micros(idleSaves[idleSaves.length - 1]));
        System.out.printf(Locale.ROOT, "waking a parked thread on this machine (LockSupport.unpark after a %d ms pause),"
                        + " %d times: p50 %s, p99 %s, max %s%n", PAUSE_MS, wakeUps.length, micros(percentile(wakeUps, 0.5)),
                micros(percentile(wakeUps, 0.99)), micros(wakeUps[wakeUps.length - 1]));
    }

    static void print(List<Run> runs, long[] loopBaseline, long[] loopSaves, boolean quick, int warmup, int timed,
                      int loops) {
        System.out.printf(Locale.ROOT, "%nSaveLatency (%s): %,d warm-up calls, then %,d timed calls each, in bursts of %d"
                        + " with %d ms pauses; 100-byte payloads, 32-character keys; %s%n",
                quick ? "quick" : "full", warmup, timed, BURST, PAUSE_MS, Runtime.version());
        System.out.printf("%n| %-40s | %9s | %9s | %9s | %9s | %9s | %-24s | %10s | %-12s |%n",
                "call", "p50", "p90", "p99", "p99.9", "max", "calls > 1 ms (GC, queued)", "B/call", "GCs (ms)");
        System.out.println("|" + "-".repeat(42) + "|" + "-----------|".repeat(5) + "-".repeat(26) + "|" + "-".repeat(12)
                + "|" + "-".repeat(14) + "|");
        for (Run run : runs) {
            long[] s = run.samples();
            System.out.printf(Locale.ROOT, "| %-40s | %9s | %9s | %9s | %9s | %9s | %-24s | %10.1f | %-12s |%n",
                    run.name(), micros(percentile(s, 0.50)), micros(percentile(s, 0.90)), micros(percentile(s, 0.99)),
                    micros(percentile(s, 0.999)), micros(s[s.length - 1]),
                    run.overOneMs() + " (" + run.overOneMsDuringGc() + ", " + run.overOneMsQueued() + ")",
                    run.bytesPerSave(),
                    run.gcCount() + " (" + run.gcMillis() + ")");
        }
        System.out.println();
        for (Run run : runs) {
            System.out.printf(Locale.ROOT, "- %s: first call of each burst p50 %s, p99 %s; the other %d p50 %s, p99 %s,"
                            + " p99.9 %s; the %d of %d bursts in which the thread never waited on the run queue:"
                            + " p99 %s, p99.9 %s, max %s%n",
                    run.name(), micros(percentile(run.firstOfBurst(), 0.5)), micros(percentile(run.firstOfBurst(), 0.99)),
                    BURST - 1, micros(percentile(run.restOfBurst(), 0.5)), micros(percentile(run.restOfBurst(), 0.99)),
                    micros(percentile(run.restOfBurst(), 0.999)), run.unqueued(), run.bursts(),
                    micros(percentile(run.unqueuedBursts(), 0.99)), micros(percentile(run.unqueuedBursts(), 0.999)),
                    micros(percentile(run.unqueuedBursts(), 1.0)));
        }
        double ratio = (double) percentile(runs.get(1).samples(), 0.50) / Math.max(1, percentile(runs.get(0).samples(), 0.50));
        System.out.printf(Locale.ROOT, "%nsaveRecord p50 / baseline p50: %.1fx%n", ratio);
        System.out.printf(Locale.ROOT, "1,000 calls in a loop (%d times): saveRecord median %.3f ms, max %.3f ms;"
                        + " ConcurrentLinkedQueue.offer median %.3f ms, max %.3f ms%n",
                loops, percentile(loopSaves, 0.5) / 1e6, loopSaves[loopSaves.length - 1] / 1e6,
                percentile(loopBaseline, 0.5) / 1e6, loopBaseline[loopBaseline.length - 1] / 1e6);
    }
}
