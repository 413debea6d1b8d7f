import Foundation
import XCTest
@testable import KinesisRecorder

/// A listener that calls back into the recorder (the natural reaction to
/// `StorageThresholdCrossed`) neither deadlocks nor makes saves fail.
final class ReentrantListenerTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = try makeTemporaryDirectory()
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    private final class Calls: @unchecked Sendable {
        private let lock = NSLock()
        private var items: [String] = []
        func add(_ call: String) { lock.lock(); items.append(call); lock.unlock() }
        var all: [String] { lock.lock(); defer { lock.unlock() }; return items }
    }

    func testAListenerThatCallsBackIntoTheRecorderNeitherDeadlocksNorOverloadsSaves() throws {
        // Nothing listens on port 9: submissions fail at once, records stay.
        // A queue of about 600 saves (room for a loaded machine's pauses): a
        // listener that held the writer for its second of sleep (up to 2,000 saves)
        // would overflow it.
        let recorder = try KinesisRecorder(
            databasePath: directory.appendingPathComponent("records.db").path, region: "us-east-1",
            credentials: StaticCredentials(accessKeyId: "a", secretAccessKey: "b")
        ) {
            $0.autoSubmit = false
            $0.endpoint = "http://127.0.0.1:9"
            $0.notificationByteThreshold = 2_000
            $0.maxRecordBytes = 1024
            $0.maxQueuedBytes = 65_536
        }
        let calls = Calls()
        recorder.setListener { [weak recorder] event in
            guard case .storageThresholdCrossed = event, let recorder else { return }
            // From the listener itself: look, try to send, make room.
            do {
                try recorder.flush()
                calls.add("stats: \(try recorder.stats().pendingRecords) pending")
                // Swift's way to call the async submit from a synchronous
                // listener: a task, not awaited here.
                Task {
                    _ = try? await recorder.submit()
                    calls.add("submit")
                }
                calls.add("delete: \(try recorder.deleteAllRecords())")
            } catch {
                calls.add("failed: \(error)")
            }
            Thread.sleep(forTimeInterval: 1)  // a slow listener: saves must not pile up behind it
        }

        let finished = DispatchSemaphore(value: 0)
        let overloaded = Calls()
        Thread.detachNewThread {
            for i in 0..<1_000 {
                do {
                    try recorder.save(Data(repeating: 7, count: 100), to: "reentrant", partitionKey: "k\(i)")
                } catch RecorderError.Overloaded {
                    overloaded.add("\(i)")
                } catch {
                    overloaded.add("\(i): \(error)")
                }
                Thread.sleep(forTimeInterval: 0.0005)
            }
            try? recorder.flush()
            finished.signal()
        }
        XCTAssertEqual(finished.wait(timeout: .now() + 60), .success, "saves and flush finished: no deadlock")
        XCTAssertEqual(overloaded.all, [], "saves failed behind a re-entrant listener")
        let deadline = Date().addingTimeInterval(10)
        while !calls.all.contains("submit") && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        let made = calls.all
        XCTAssertTrue(made.contains("submit") && made.contains { $0.hasPrefix("delete") }, "\(made)")
        XCTAssertFalse(made.contains { $0.hasPrefix("failed") }, "\(made)")
        let stats = try recorder.stats()
        XCTAssertEqual(stats.recordsDroppedDeleted + stats.pendingRecords, 1_000, "\(stats)")
        recorder.setListener(listener: nil)
    }
}
