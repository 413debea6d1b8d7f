import Foundation
import XCTest
@testable import KinesisRecorder

/// Objects handed to the core (credentials provider, listener) and the
/// recorder itself are released; the recorder's threads end.
final class LifetimeTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = try makeTemporaryDirectory()
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    private final class Listener: RecorderListener, @unchecked Sendable {
        func onEvent(event: RecorderEvent) {}
    }

    private func makeRecorder(_ credentials: CredentialsProvider, name: String = "records.db") throws -> KinesisRecorder {
        try KinesisRecorder(
            databasePath: directory.appendingPathComponent(name).path, region: "us-east-1",
            credentials: credentials
        ) {
            $0.autoSubmit = false
            $0.endpoint = "http://127.0.0.1:9"
        }
    }

    func testRecorderProviderAndListenerAreReleased() async throws {
        weak var weakRecorder: KinesisRecorder?
        weak var weakProvider: CountingCredentials?
        weak var weakListener: Listener?
        do {
            let provider = CountingCredentials()
            let listener = Listener()
            let recorder = try makeRecorder(provider)
            recorder.setListener(listener: listener)
            weakRecorder = recorder
            weakProvider = provider
            weakListener = listener
            try recorder.save("x", to: "s")
            // The provider is called (the request then fails: nothing listens).
            _ = try await recorder.submit()
            XCTAssertEqual(provider.calls, 1)
        }
        XCTAssertNil(weakRecorder, "the recorder is released with its last reference")
        let released = await eventually { weakProvider == nil && weakListener == nil }
        XCTAssertTrue(released, "the core let go of the Swift provider (\(weakProvider == nil)) and listener (\(weakListener == nil))")
    }

    func testReplacedListenerIsReleased() async throws {
        let recorder = try makeRecorder(StaticCredentials(accessKeyId: "a", secretAccessKey: "b"))
        weak var weakListener: Listener?
        do {
            let listener = Listener()
            weakListener = listener
            recorder.setListener(listener: listener)
            recorder.setListener(listener: nil)
        }
        XCTAssertNil(weakListener, "setListener(nil) releases the Swift listener")
        recorder.shutdown()
    }

    func testEventsStreamFinishesWhenTheRecorderIsReleased() async throws {
        var recorder: KinesisRecorder? = try makeRecorder(StaticCredentials(accessKeyId: "a", secretAccessKey: "b"))
        let events = recorder!.events()
        let finished = Task { () -> Bool in
            for await _ in events {}
            return true
        }
        recorder = nil
        let result = await finished.value
        XCTAssertTrue(result)
    }

    #if os(Linux)
    /// Opening and releasing many recorders leaves no thread behind.
    func testNoThreadsLeakAcrossManyRecorders() throws {
        func threadCount() -> Int {
            (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task").count) ?? -1
        }
        // Warm up Foundation/Dispatch threads first.
        try makeRecorder(StaticCredentials(accessKeyId: "a", secretAccessKey: "b"), name: "warm.db").shutdown()
        let before = threadCount()
        for i in 0..<30 {
            let recorder = try makeRecorder(StaticCredentials(accessKeyId: "a", secretAccessKey: "b"), name: "r\(i).db")
            try recorder.save("x", to: "s")
            if i % 2 == 0 { recorder.shutdown() }  // the others: released without shutdown
        }
        let after = threadCount()
        XCTAssertLessThanOrEqual(after, before + 2, "threads before \(before), after \(after)")
    }
    #endif
}
