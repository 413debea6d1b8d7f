// Save-path benchmark of the Swift bindings (issue 10): the same measurement as the JVM's
// SaveLatency (bindings/kotlin-bench), so the README can put Rust, Kotlin and Swift side by side.
//
//   bash bindings/swift-bench.sh            release build, 50,000 warm-up + 100,000 timed saves
//   bash bindings/swift-bench.sh --quick    what CI runs (bindings/swift-test.sh): brief, no timing asserted
//
// Every call is timed (DispatchTime, monotonic), in bursts of 100 back-to-back calls separated by
// a flush and a 2 ms pause, as in the Rust benchmark's row 1: the writer commits throughout and
// the queue never fills. Records: 100-byte payloads, 32-character partition keys, one stream;
// automatic submission off. The baseline, in the same run: appending the same Data to an array
// under an NSLock (what an in-memory Swift queue costs).
import Dispatch
import Foundation
import KinesisRecorder

let quick = CommandLine.arguments.contains("--quick")
let warmup = quick ? 5_000 : 50_000
let timed = quick ? 10_000 : 100_000
let loops = quick ? 5 : 50
let burst = 100
let stream = "bench-stream"

var generator = SystemRandomNumberGenerator()
let payloads: [Data] = (0..<1024).map { _ in Data((0..<100).map { _ in UInt8.random(in: 0...255, using: &generator) }) }
let keys: [String] = (0..<1024).map { _ in
    String((0..<32).map { _ in "0123456789abcdef".randomElement(using: &generator)! })
}

let directory = FileManager.default.temporaryDirectory
    .appendingPathComponent("kr-swift-bench-\(ProcessInfo.processInfo.processIdentifier)")
try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
let recorder = try KinesisRecorder(
    databasePath: directory.appendingPathComponent("bench.sqlite").path,
    region: "us-east-1",
    credentials: StaticCredentials(accessKeyId: "AKIDBENCH", secretAccessKey: "bench-secret-value")
) {
    $0.autoSubmit = false
    $0.endpoint = "http://127.0.0.1:9"
}

final class LockedArray {
    private let lock = NSLock()
    private var items: [Data] = []
    func append(_ data: Data) {
        lock.lock()
        items.append(data)
        lock.unlock()
    }
    func clear() {
        lock.lock()
        items.removeAll(keepingCapacity: true)
        lock.unlock()
    }
}
let baselineQueue = LockedArray()

struct Subject {
    let name: String
    let call: (Int) throws -> Void
    let betweenBursts: () throws -> Void
}

let subjects = [
    Subject(name: "Array.append under NSLock (baseline)",
            call: { baselineQueue.append(payloads[$0 & 1023]) }, betweenBursts: { baselineQueue.clear() }),
    Subject(name: "save, with key",
            call: { try recorder.save(payloads[$0 & 1023], to: stream, partitionKey: keys[$0 & 1023]) },
            betweenBursts: { try recorder.flush() }),
    Subject(name: "save, without key",
            call: { try recorder.save(payloads[$0 & 1023], to: stream) }, betweenBursts: { try recorder.flush() }),
]

func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

func percentile(_ sorted: [UInt64], _ p: Double) -> UInt64 {
    sorted[min(sorted.count - 1, Int((p * Double(sorted.count)).rounded(.up)) - 1)]
}

func micros(_ nanos: UInt64) -> String {
    String(format: nanos < 10_000 ? "%.2f µs" : "%.0f µs", Double(nanos) / 1000)
}

func pad(_ s: String, _ width: Int) -> String {
    s.count >= width ? s : s + String(repeating: " ", count: width - s.count)
}

func timeEach(_ subject: Subject) throws -> [UInt64] {
    for i in 0..<warmup {
        try subject.call(i)
        if i % burst == burst - 1 { try subject.betweenBursts() }
    }
    try subject.betweenBursts()
    var samples = [UInt64](repeating: 0, count: timed)
    var i = 0
    while i < timed {
        let end = min(timed, i + burst)
        while i < end {
            let start = now()
            try subject.call(i)
            samples[i] = now() - start
            i += 1
        }
        try subject.betweenBursts()
        usleep(2_000)
    }
    return samples.sorted()
}

func timeLoops(_ subject: Subject) throws -> [UInt64] {
    var times: [UInt64] = []
    for loop in 0..<loops {
        try subject.betweenBursts()
        usleep(2_000)
        let start = now()
        for i in 0..<1_000 { try subject.call(loop * 1_000 + i) }
        times.append(now() - start)
    }
    try subject.betweenBursts()
    return times.sorted()
}

print("\nKinesisRecorderBench (\(quick ? "quick" : "full")): \(warmup) warm-up calls, then \(timed) timed calls each, "
    + "in bursts of \(burst) with 2 ms pauses; 100-byte payloads, 32-character keys")
print("\n| \(pad("call", 38)) | p50       | p90       | p99       | p99.9     | max       | calls > 1 ms |")
print("|\(String(repeating: "-", count: 40))|-----------|-----------|-----------|-----------|-----------|--------------|")
var medians: [UInt64] = []
for subject in subjects {
    let s = try timeEach(subject)
    medians.append(percentile(s, 0.5))
    let cells = [0.5, 0.9, 0.99, 0.999].map { pad(micros(percentile(s, $0)), 9) }.joined(separator: " | ")
    print("| \(pad(subject.name, 38)) | \(cells) | \(pad(micros(s.last!), 9)) | \(pad(String(s.filter { $0 > 1_000_000 }.count), 12)) |")
}
print(String(format: "\nsave p50 / baseline p50: %.1fx", Double(medians[1]) / Double(max(1, medians[0]))))
let loopSaves = try timeLoops(subjects[1])
let loopBaseline = try timeLoops(subjects[0])
print(String(format: "1,000 calls in a loop (%d times): save median %.3f ms, max %.3f ms; baseline median %.3f ms, max %.3f ms",
             loops, Double(percentile(loopSaves, 0.5)) / 1e6, Double(loopSaves.last!) / 1e6,
             Double(percentile(loopBaseline, 0.5)) / 1e6, Double(loopBaseline.last!) / 1e6))
recorder.shutdown()
try? FileManager.default.removeItem(at: directory)
