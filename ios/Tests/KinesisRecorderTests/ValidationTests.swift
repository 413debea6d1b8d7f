import Foundation
import XCTest
@testable import KinesisRecorder

/// Bad input of every kind surfaces as a typed `RecorderError` (never a crash),
/// configuration defaults come from the core, and shutdown is final. No
/// server needed.
final class ValidationTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = try makeTemporaryDirectory()
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    private var databasePath: String { directory.appendingPathComponent("records.db").path }

    private func makeRecorder(_ configure: (inout RecorderConfig) -> Void = { _ in }) throws -> KinesisRecorder {
        try KinesisRecorder(
            databasePath: databasePath, region: "us-east-1",
            credentials: StaticCredentials(accessKeyId: "AKID", secretAccessKey: "secret")
        ) {
            $0.autoSubmit = false
            $0.endpoint = "http://127.0.0.1:9"
            configure(&$0)
        }
    }

    func testDefaultsComeFromTheCore() {
        let fromCore = defaultRecorderConfig(databasePath: "/tmp/x.db", region: "eu-west-1", service: .kinesisDataStreams)
        XCTAssertEqual(RecorderConfig(databasePath: "/tmp/x.db", region: "eu-west-1"), fromCore)
        let changed = RecorderConfig(databasePath: "/tmp/x.db", region: "eu-west-1") {
            $0.maxStorageBytes = 42 * 1024 * 1024
            $0.whenFull = .rejectNew
        }
        XCTAssertEqual(changed.maxStorageBytes, 42 * 1024 * 1024)
        XCTAssertEqual(changed.whenFull, .rejectNew)
        XCTAssertEqual(changed.maxRecordBytes, fromCore.maxRecordBytes, "untouched fields keep the core's defaults")
    }

    func testDefaultDatabasePathIsInApplicationSupport() throws {
        let path = try RecorderConfig.defaultDatabasePath(fileName: "test-\(UUID().uuidString).db")
        XCTAssertTrue(path.contains("KinesisRecorder/"), path)
        XCTAssertTrue(FileManager.default.fileExists(atPath: (path as NSString).deletingLastPathComponent))
    }

    func testInvalidRecordsThrowInvalidInputAndStoreNothing() throws {
        let recorder = try makeRecorder { $0.maxRecordBytes = 1000 }
        assertInvalidInput("empty data") { try recorder.save(Data(), to: "s") }
        assertInvalidInput("empty string") { try recorder.save("", to: "s") }
        assertInvalidInput("257-character partition key") {
            try recorder.save("x", to: "s", partitionKey: String(repeating: "k", count: 257))
        }
        assertInvalidInput("257 two-byte characters") {
            try recorder.save("x", to: "s", partitionKey: String(repeating: "é", count: 257))
        }
        assertInvalidInput("empty partition key") { try recorder.save("x", to: "s", partitionKey: "") }
        for name in ["", "a b", "a/b", "ü", String(repeating: "s", count: 129)] {
            assertInvalidInput("stream name \(name.debugDescription)") { try recorder.save("x", to: name) }
        }
        for key in ["", "-1", "1.0", "abc", " 1", "340282366920938463463374607431768211456"] {
            assertInvalidInput("explicit hash key \(key.debugDescription)") {
                try recorder.save(Data("x".utf8), to: "s", partitionKey: "k", explicitHashKey: key)
            }
        }
        assertInvalidInput("record over maxRecordBytes") {
            try recorder.save(Data(count: 1000), to: "s", partitionKey: "k")
        }
        // The limits themselves are accepted.
        try recorder.save("x", to: String(repeating: "s", count: 128), partitionKey: String(repeating: "é", count: 256))
        try recorder.save(Data(count: 999), to: "s", partitionKey: "k")
        try recorder.flush()
        XCTAssertEqual(try recorder.stats().pendingRecords, 2, "nothing invalid was stored")
    }

    func testInvalidConfigurationsThrowInvalidInput() {
        let cases: [(String, (inout RecorderConfig) -> Void)] = [
            ("empty database path", { $0.databasePath = "" }),
            ("bad region", { $0.region = "moon" }),
            ("upper-case region", { $0.region = "US-EAST-1" }),
            ("empty region", { $0.region = "" }),
            ("plain http to a remote host", { $0.endpoint = "http://kinesis.example.com" }),
            ("unsupported scheme", { $0.endpoint = "ftp://127.0.0.1:4567" }),
            ("not a URL", { $0.endpoint = "not a url" }),
            ("credentials in the URL", { $0.endpoint = "https://user:pw@kinesis.example.com" }),
            ("zero maxStorageBytes", { $0.maxStorageBytes = 0 }),
            ("zero maxRecordBytes", { $0.maxRecordBytes = 0 }),
            ("zero maxRequestBytes", { $0.maxRequestBytes = 0 }),
            ("zero maxRecordsPerRequest", { $0.maxRecordsPerRequest = 0 }),
            ("501 maxRecordsPerRequest", { $0.maxRecordsPerRequest = 501 }),
            ("zero maxAttempts", { $0.maxAttempts = 0 }),
            ("zero submitInterval", { $0.submitInterval = 0 }),
            ("zero maxRecordAge", { $0.maxRecordAge = 0 }),
            ("zero requestTimeout", { $0.requestTimeout = 0 }),
            ("zero maxQueuedBytes", { $0.maxQueuedBytes = 0 }),
            ("record larger than the store", { $0.maxStorageBytes = 1000; $0.maxRecordBytes = 2000 }),
            ("maxAggregateBytes under 1 KiB", { $0.aggregation = true; $0.maxAggregateBytes = 1000 }),
            ("maxAggregateBytes over maxRecordBytes", { $0.aggregation = true; $0.maxAggregateBytes = $0.maxRecordBytes + 1 }),
        ]
        for (what, change) in cases {
            assertInvalidInput(what) { _ = try makeRecorder(change) }
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: databasePath), "no store created for a bad config")
    }

    func testErrorsCarryTheCoresReason() {
        do {
            _ = try makeRecorder { $0.region = "moon" }
            XCTFail("expected an error")
        } catch let error as RecorderError {
            XCTAssertTrue(error.reason?.contains("region") == true, "\(error)")
            XCTAssertTrue(error.localizedDescription.contains("InvalidInput"), error.localizedDescription)
        } catch {
            XCTFail("\(error)")
        }
    }

    func testLimitsAndCounters() throws {
        let recorder = try makeRecorder {
            $0.maxStorageBytes = 123_456
            $0.maxRecordBytes = 1_000
        }
        XCTAssertEqual(recorder.diskByteLimit(), 123_456)
        XCTAssertEqual(recorder.diskBytesUsed(), 0)
        try recorder.save(Data(count: 10), to: "s", partitionKey: "kk")
        try recorder.flush()
        XCTAssertEqual(recorder.diskBytesUsed(), 12, "data + partition key")
        XCTAssertEqual(try recorder.deleteAllRecords(), 1)
        XCTAssertEqual(recorder.diskBytesUsed(), 0)
    }

    func testRejectNewWhenFull() throws {
        let recorder = try makeRecorder {
            $0.maxStorageBytes = 100
            $0.maxRecordBytes = 60
            $0.whenFull = .rejectNew
        }
        try recorder.save(Data(count: 50), to: "s", partitionKey: "k")
        try recorder.flush()
        XCTAssertThrowsError(try {
            try recorder.save(Data(count: 50), to: "s", partitionKey: "k")
            try recorder.flush()
        }()) { error in
            guard case .StorageFull? = error as? RecorderError else { return XCTFail("\(error)") }
        }
    }

    func testShutdownIsFinalAndIdempotent() async throws {
        do {
            let recorder = try makeRecorder()
            try recorder.save("before", to: "s")
            recorder.shutdown()
            recorder.shutdown()
            XCTAssertThrowsError(try recorder.save("after", to: "s")) { error in
                XCTAssertEqual(error as? RecorderError, .ShutDown)
            }
            do {
                _ = try await recorder.submit()
                XCTFail("submit after shutdown must throw")
            } catch let error as RecorderError {
                XCTAssertEqual(error, .ShutDown)
            }
        }
        // The record saved before shutdown was committed; a new recorder sees
        // it. (The old one must be released first: the core keeps the store
        // open until the object goes away, even after shutdown().)
        let reopened = try makeRecorder()
        XCTAssertEqual(try reopened.stats().pendingRecords, 1)
        reopened.shutdown()
    }

    func testCorruptStoreIsAStorageFailureAndCanBeMovedAside() throws {
        try Data(repeating: 0x42, count: 4096).write(to: URL(fileURLWithPath: databasePath))
        XCTAssertThrowsError(try makeRecorder()) { error in
            guard case .StorageFailure? = error as? RecorderError else { return XCTFail("\(error)") }
        }
        let movedTo = try moveAsideStore(path: databasePath)
        XCTAssertTrue(FileManager.default.fileExists(atPath: movedTo))
        XCTAssertFalse(FileManager.default.fileExists(atPath: databasePath))
        let recorder = try makeRecorder()
        try recorder.save("fresh start", to: "s")
        recorder.shutdown()
    }

    /// Saving stays off the UI's critical path: validation and an in-memory
    /// queue, no disk or network I/O on the calling thread.
    func testThousandSavesOnTheMainActorAreFast() async throws {
        let recorder = try makeRecorder()
        let payload = Data(#"{"event":"tap","screen":"home","n":12345}"#.utf8)
        let elapsed = try await MainActor.run { () throws -> TimeInterval in
            let start = Date()
            for _ in 0..<1_000 {
                try recorder.save(payload, to: "ui-events")
            }
            return Date().timeIntervalSince(start)
        }
        print("1,000 saves on the main actor took \(String(format: "%.1f", elapsed * 1000)) ms")
        XCTAssertLessThan(elapsed, 1.0, "1,000 saves took \(elapsed) s")
        try recorder.flush()
        XCTAssertEqual(try recorder.stats().pendingRecords, 1_000)
    }
}
