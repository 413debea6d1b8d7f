import Foundation
import XCTest
@testable import KinesisRecorder

/// What the Swift layer promises as Kotlin's does: every `events()` stream
/// gets every event (no replacement, no loss past a buffer), the calls that
/// wait for the disk have async variants, and the core's log reaches a Swift
/// handler. No server needed: deletions and network changes make the events
/// and log lines.
final class ParityTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = try makeTemporaryDirectory()
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    private func makeRecorder() throws -> KinesisRecorder {
        try KinesisRecorder(
            databasePath: directory.appendingPathComponent("records.db").path, region: "us-east-1",
            credentials: StaticCredentials(accessKeyId: "a", secretAccessKey: "b")
        ) {
            $0.autoSubmit = false
            $0.endpoint = "http://127.0.0.1:9"
        }
    }

    /// One record in each of `streams` streams, then deleted: one `.recordsDropped` event per stream.
    private func dropOnePerStream(_ recorder: KinesisRecorder, streams: Int, round: Int) throws {
        for i in 0..<streams {
            try recorder.save("x", to: "round\(round)-stream\(i)")
        }
        XCTAssertEqual(try recorder.deleteAllRecords(), UInt64(streams))
    }

    private func drain(_ events: AsyncStream<RecorderEvent>) -> Task<[RecorderEvent], Never> {
        Task {
            var seen: [RecorderEvent] = []
            for await event in events { seen.append(event) }
            return seen
        }
    }

    func testEveryStreamGetsEveryEventWithoutLoss() async throws {
        var recorder: KinesisRecorder? = try makeRecorder()
        // Three streams, none read until 600 events have happened (the old
        // single stream kept only the newest 256, and each new call ended the previous one).
        let streams = (0..<3).map { _ in recorder!.events() }
        let probe = recorder!.events()
        for round in 0..<2 {
            try dropOnePerStream(recorder!, streams: 300, round: round)
        }
        // Events reach the streams from the recorder's event thread: wait
        // until all 600 have, then a stream opened now sees only what follows.
        var passed = 0
        for await _ in probe {
            passed += 1
            if passed == 600 { break }
        }
        let late = recorder!.events()
        try dropOnePerStream(recorder!, streams: 5, round: 2)
        let readers = (streams + [late]).map(drain)
        // Released: the core lets go of the listener, and every stream finishes.
        recorder = nil
        var results: [[RecorderEvent]] = []
        for reader in readers {
            results.append(await reader.value)
        }
        for seen in results.prefix(3) {
            XCTAssertEqual(seen.count, 605)
            XCTAssertEqual(seen, results[0], "every stream gets the same events in the same order")
        }
        XCTAssertEqual(Set(results[0].prefix(300)).count, 300)
        XCTAssertTrue(results[0].contains(.recordsDropped(streamName: "round1-stream299", reason: .deleted, count: 1)))
        XCTAssertEqual(results[3], Array(results[0].suffix(5)))
    }

    func testAStreamThatEndsLeavesTheOthersListening() async throws {
        let recorder = try makeRecorder()
        let dropped = { (round: Int, streams: Int) in
            Set((0..<streams).map { RecorderEvent.recordsDropped(streamName: "round\(round)-stream\($0)", reason: .deleted, count: 1) })
        }
        do {
            let stopped = recorder.events()
            let kept = recorder.events()
            let stoppedReader = drain(stopped)
            stoppedReader.cancel()
            let stoppedSeen = await stoppedReader.value
            XCTAssertEqual(stoppedSeen, [])
            try dropOnePerStream(recorder, streams: 3, round: 0)
            var iterator = kept.makeAsyncIterator()
            var keptSeen = Set<RecorderEvent>()
            for _ in 0..<3 {
                if let event = await iterator.next() { keptSeen.insert(event) }
            }
            XCTAssertEqual(keptSeen, dropped(0, 3))
        }
        // Both streams are gone, and the recorder's listener with them; a new stream installs it again.
        let again = recorder.events()
        try dropOnePerStream(recorder, streams: 2, round: 1)
        recorder.shutdown()
        var iterator = again.makeAsyncIterator()
        var seen = Set<RecorderEvent>()
        for _ in 0..<2 {
            if let event = await iterator.next() { seen.insert(event) }
        }
        XCTAssertEqual(seen, dropped(1, 2))
    }

    @MainActor
    func testFlushAndDeleteHaveAsyncVariantsForTheMainActor() async throws {
        let recorder = try makeRecorder()
        for i in 0..<200 {
            try recorder.save("record \(i)", to: "s")
        }
        try await recorder.awaitFlush()
        XCTAssertEqual(try recorder.stats().pendingRecords, 200, "committed when awaitFlush returns")
        let deleted = try await recorder.awaitDeleteAllRecords()
        XCTAssertEqual(deleted, 200)
        XCTAssertEqual(try recorder.stats().pendingRecords, 0)
        recorder.shutdown()
        do {
            _ = try await recorder.awaitDeleteAllRecords()
            XCTFail("deleted after shutdown")
        } catch RecorderError.ShutDown {}
    }

    func testTheCoresLogReachesASwiftHandlerAtTheLevelAsked() throws {
        let stream = uniqueStreamName("logged")
        let recorder = try makeRecorder()
        let debug = Collector<(LogLevel, String, String)>()
        try setLogHandler(level: .debug) { debug.append(($0, $1, $2)) }
        defer { try? setLogSink(sink: nil, level: .error) }
        recorder.setNetworkAvailable(available: false)
        XCTAssertTrue(debug.values.contains {
            $0.0 == .debug && $0.1.hasPrefix("kinesis_recorder") && $0.2 == "network availability changed available=false"
        }, "\(debug.values)")

        let warnings = Collector<(LogLevel, String, String)>()
        try setLogHandler(level: .warn) { warnings.append(($0, $1, $2)) }
        let debugLines = debug.values.count
        recorder.setNetworkAvailable(available: true)  // a debug line: not forwarded at .warn
        try recorder.save("x", to: stream)
        XCTAssertEqual(try recorder.deleteAllRecords(), 1)
        XCTAssertEqual(
            warnings.values.filter { $0.2.contains(stream) }.map { $0.2 },
            ["records dropped stream=\(stream) reason=deleted count=1"]
        )
        XCTAssertTrue(warnings.values.allSatisfy { $0.0 == .warn || $0.0 == .error }, "\(warnings.values)")
        XCTAssertEqual(debug.values.count, debugLines, "the replaced handler hears nothing more")

        try setLogSink(sink: nil, level: .trace)
        let warned = warnings.values.count
        try recorder.save("y", to: stream)
        _ = try recorder.deleteAllRecords()
        XCTAssertEqual(warnings.values.count, warned, "nothing after the sink is cleared")
        recorder.shutdown()
    }
}
