import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import KinesisRecorder
import XCTest
@testable import ExampleModel

/// The example app's model, as its buttons drive it, against a real recorder,
/// SQLite file and kinesalite (`KINESIS_ENDPOINT`, set by bindings/swift-test.sh).
@MainActor
final class ExampleModelTests: XCTestCase {
    private var directory: URL!

    override func setUp() async throws {
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("example-model-tests-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDown() async throws {
        try? FileManager.default.removeItem(at: directory)
    }

    private func endpoint() throws -> String {
        try XCTUnwrap(
            ProcessInfo.processInfo.environment["KINESIS_ENDPOINT"],
            "KINESIS_ENDPOINT names the Kinesis server (bindings/swift-test.sh starts kinesalite and sets it)"
        )
    }

    private func makeModel(stream: String) throws -> ExampleModel {
        var settings = ExampleSettings()
        settings.cognitoIdentityPoolId = nil
        settings.localEndpoint = try endpoint()
        settings.streamName = stream
        settings.databasePath = directory.appendingPathComponent("example.db").path
        return ExampleModel(settings: settings)
    }

    /// kinesalite's CreateStream (it checks that a SigV4 header is there, not its signature).
    private func createStream(_ name: String) async throws {
        var request = URLRequest(url: URL(string: try endpoint())!)
        request.httpMethod = "POST"
        request.setValue("Kinesis_20131202.CreateStream", forHTTPHeaderField: "X-Amz-Target")
        request.setValue("application/x-amz-json-1.1", forHTTPHeaderField: "Content-Type")
        request.setValue("20200101T000000Z", forHTTPHeaderField: "X-Amz-Date")
        request.setValue(
            "AWS4-HMAC-SHA256 Credential=x/20200101/us-east-1/kinesis/aws4_request, SignedHeaders=host, Signature=0",
            forHTTPHeaderField: "Authorization")
        request.httpBody = Data(#"{"StreamName":"\#(name)","ShardCount":1}"#.utf8)
        let status: Int = try await withCheckedThrowingContinuation { continuation in
            URLSession.shared.dataTask(with: request) { _, response, error in
                if let error {
                    continuation.resume(throwing: error)
                } else {
                    continuation.resume(returning: (response as? HTTPURLResponse)?.statusCode ?? 0)
                }
            }.resume()
        }
        XCTAssertEqual(status, 200, "CreateStream \(name)")
        // kinesalite.js makes streams ACTIVE at once (createStreamMs: 0).
    }

    private func eventually(_ condition: () -> Bool) async -> Bool {
        for _ in 0..<500 {
            if condition() { return true }
            try? await Task.sleep(nanoseconds: 10_000_000)
        }
        return condition()
    }

    private func stream() -> String {
        "example-\(UUID().uuidString.prefix(8).lowercased())"
    }

    /// Records announced as submitted to `stream` by the event log's lines.
    private func submitted(to stream: String, in events: [String]) -> Int {
        events.compactMap { line -> Int? in
            guard line.hasSuffix(" submitted to \(stream)") else { return nil }
            return Int(line.prefix { $0 != " " })
        }.reduce(0, +)
    }

    func testSaveSubmitAndDeleteAsTheButtonsDo() async throws {
        let stream = stream()
        try await createStream(stream)
        let model = try makeModel(stream: stream)
        XCTAssertNil(model.failure)

        await model.saveThousandEvents()
        XCTAssertNil(model.failure)
        XCTAssertNotNil(model.lastBatchMilliseconds)
        // On disk when the refresh ran (awaitFlush), unless automatic submission (500 records) already sent some.
        let stats = try XCTUnwrap(model.stats)
        XCTAssertEqual(stats.pendingRecords + stats.recordsSubmitted, 1_000)

        await model.submitNow()
        let report = try XCTUnwrap(model.lastReport)
        XCTAssertTrue(report.hasSuffix(" sent in \(report.split(separator: " ")[3]) requests, 0 pending"), report)
        XCTAssertEqual(model.stats?.pendingRecords, 0)
        XCTAssertEqual(model.stats?.recordsSubmitted, 1_000)
        let announced = await eventually { self.submitted(to: stream, in: model.events) == 1_000 }
        XCTAssertTrue(announced, "\(model.events)")

        model.networkAvailable = false  // nothing leaves while the next 1,000 are deleted
        await model.saveThousandEvents()
        await model.deleteAll()
        XCTAssertEqual(model.lastReport, "1000 deleted")
        XCTAssertEqual(model.stats?.pendingRecords, 0)
        let dropped = await eventually { model.events.first == "1000 dropped from \(stream) (deleted)" }
        XCTAssertTrue(dropped, "\(model.events)")
    }

    func testOfflineToggleKeepsEverything() async throws {
        let stream = stream()
        try await createStream(stream)
        let model = try makeModel(stream: stream)
        model.networkAvailable = false
        await model.saveThousandEvents()
        await model.submitNow()
        XCTAssertEqual(model.lastReport, "Offline: nothing sent, 1000 pending")
        XCTAssertEqual(model.stats?.networkAvailable, false)
        XCTAssertEqual(model.stats?.requestsSent, 0)
        // Back online: the recorder submits by itself; "Submit now" sends whatever is left.
        model.networkAvailable = true
        await model.submitNow()
        XCTAssertEqual(model.stats?.pendingRecords, 0)
        let delivered = await eventually { self.submitted(to: stream, in: model.events) == 1_000 }
        XCTAssertTrue(delivered, "\(model.events)")
    }

    func testAStreamThatDoesNotExistIsReportedAndLogged() async throws {
        let stream = stream()  // never created
        let model = try makeModel(stream: stream)
        await model.saveThousandEvents()
        await model.submitNow()
        let report = try XCTUnwrap(model.lastReport)
        XCTAssertTrue(report.hasPrefix("0 sent; \(stream): ResourceNotFoundException"), report)
        let logged = await eventually {
            model.events.contains { $0.hasPrefix("\(stream): ResourceNotFoundException Stream \(stream)") }
        }
        XCTAssertTrue(logged, "\(model.events)")
        XCTAssertEqual(model.stats?.pendingRecords, 1_000)
    }

    func testARecorderThatCannotOpenIsShownNotThrown() async throws {
        var settings = ExampleSettings()
        settings.cognitoIdentityPoolId = nil
        settings.localEndpoint = try endpoint()
        settings.databasePath = directory.path  // a directory, not a file
        let model = ExampleModel(settings: settings)
        let failure = try XCTUnwrap(model.failure)
        XCTAssertTrue(failure.hasPrefix("Cannot open the recorder: "), failure)
        XCTAssertNil(model.stats)
    }

    func testEveryEventHasALine() async {
        XCTAssertEqual(
            ExampleModel.describe(.submissionFailed(
                streamName: "s", kind: .throttled, code: "ThrottlingException", message: "slow down", willRetry: true
            )),
            "s: ThrottlingException slow down (will retry)"
        )
        XCTAssertEqual(
            ExampleModel.describe(.storageThresholdCrossed(bytesUsed: 120, threshold: 100)),
            "store at 120 bytes (threshold 100)"
        )
        XCTAssertEqual(
            ExampleModel.describe(.recordsDropped(streamName: "s", reason: .expired, count: 3)),
            "3 dropped from s (expired)"
        )
    }
}
