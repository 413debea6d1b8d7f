import Foundation
import XCTest
@testable import KinesisRecorder

/// End to end against a real local Kinesis server (kinesalite): saves from
/// many threads and tasks, submission, and the records read back over HTTP.
final class SubmissionTests: XCTestCase {
    private var directory: URL!
    private var endpoint: String!
    private var kinesis: KinesisHTTP!

    override func setUpWithError() throws {
        directory = try makeTemporaryDirectory()
        endpoint = try KinesisTestServer.shared.endpoint()
        kinesis = KinesisHTTP(endpoint: endpoint)
    }

    override func tearDown() async throws {
        // kinesalite allows 10 shards per account: delete what the test created.
        for stream in kinesis?.createdStreams.values ?? [] {
            _ = try? await kinesis.call("DeleteStream", ["StreamName": stream])
        }
        try? FileManager.default.removeItem(at: directory)
    }

    private func makeRecorder(
        credentials: CredentialsProvider = StaticCredentials(accessKeyId: "AKIDTEST", secretAccessKey: "secret"),
        _ configure: (inout RecorderConfig) -> Void = { _ in }
    ) throws -> KinesisRecorder {
        let endpoint = self.endpoint
        return try KinesisRecorder(
            databasePath: directory.appendingPathComponent("records.db").path,
            region: "us-east-1",
            credentials: credentials
        ) {
            $0.endpoint = endpoint
            $0.autoSubmit = false
            configure(&$0)
        }
    }

    private static func payload(_ worker: String, _ index: Int) -> Data {
        var data = Data("\(worker)-\(index)|".utf8)
        data.append(contentsOf: [UInt8](repeating: UInt8(index % 256), count: index % 40))
        if index % 50 == 0 { data.append(contentsOf: Array(0...255) as [UInt8]) }  // every byte value
        return data
    }

    func testConcurrentSavesFromThreadsAndTasksAreAllDeliveredIntact() async throws {
        let stream = uniqueStreamName("concurrent")
        try await kinesis.createStream(stream, shards: 2)
        let recorder = try makeRecorder()
        let perWorker = 200
        let errors = Collector<Error>()

        // 4 OS threads at once...
        DispatchQueue.concurrentPerform(iterations: 4) { thread in
            for i in 0..<perWorker {
                do {
                    try recorder.save(Self.payload("thread\(thread)", i), to: stream, partitionKey: "thread\(thread)-\(i % 7)")
                } catch {
                    errors.append(error)
                }
            }
        }
        // ...and 4 concurrent tasks.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for task in 0..<4 {
                group.addTask {
                    for i in 0..<perWorker {
                        try recorder.save(Self.payload("task\(task)", i), to: stream, partitionKey: "task\(task)-\(i % 5)")
                    }
                }
            }
            try await group.waitForAll()
        }
        XCTAssertTrue(errors.values.isEmpty, "saves failed: \(errors.values)")

        var expected: [KinesisHTTP.Record] = []
        for worker in (0..<4).map({ "thread\($0)" }) + (0..<4).map({ "task\($0)" }) {
            for i in 0..<perWorker {
                let key = worker.hasPrefix("thread") ? "\(worker)-\(i % 7)" : "\(worker)-\(i % 5)"
                expected.append(.init(data: Self.payload(worker, i), partitionKey: key))
            }
        }

        try recorder.flush()
        let before = try recorder.stats()
        XCTAssertEqual(before.pendingRecords, UInt64(expected.count))
        XCTAssertEqual(before.queuedRecords, 0)
        XCTAssertEqual(recorder.diskBytesUsed(), before.pendingBytes)

        let report = try await recorder.submit()
        XCTAssertEqual(report.errors, [])
        XCTAssertEqual(report.recordsSubmitted, UInt64(expected.count))
        XCTAssertEqual(report.recordsRemaining, 0)
        XCTAssertGreaterThanOrEqual(report.requests, 4, "at most 500 records per PutRecords")

        let received = try await kinesis.allRecords(stream)
        XCTAssertEqual(received.count, expected.count, "no record lost or duplicated")
        XCTAssertEqual(Set(received), Set(expected), "bytes and partition keys intact")
        // Per partition key, Kinesis keeps the order of one writer's saves.
        let thread0 = received.filter { $0.partitionKey == "thread0-0" }.map(\.data)
        XCTAssertEqual(thread0, stride(from: 0, to: perWorker, by: 7).map { Self.payload("thread0", $0) })

        let after = try recorder.stats()
        XCTAssertEqual(after.pendingRecords, 0)
        XCTAssertEqual(after.recordsSubmitted, UInt64(expected.count))
        XCTAssertEqual(recorder.diskBytesUsed(), 0)
        recorder.shutdown()
    }

    func testGeneratedPartitionKeysAndExplicitHashKeys() async throws {
        let stream = uniqueStreamName("hashkeys")
        try await kinesis.createStream(stream, shards: 2)
        let recorder = try makeRecorder()
        try recorder.save("random key", to: stream)
        try recorder.save(Data("low".utf8), to: stream, partitionKey: "k", explicitHashKey: "0")
        try recorder.save(Data("high".utf8), to: stream, partitionKey: "k",
                          explicitHashKey: "340282366920938463463374607431768211455")  // 2^128 - 1
        let report = try await recorder.submit()
        XCTAssertEqual(report.recordsSubmitted, 3)

        let shards = try await kinesis.shardIds(stream).sorted()
        XCTAssertEqual(shards.count, 2)
        let first = try await kinesis.records(stream, shard: shards[0])
        let last = try await kinesis.records(stream, shard: shards[1])
        XCTAssertTrue(first.contains { $0.data == Data("low".utf8) }, "hash key 0 goes to the first shard")
        XCTAssertTrue(last.contains { $0.data == Data("high".utf8) }, "hash key 2^128-1 goes to the last shard")
        let random = (first + last).first { $0.data == Data("random key".utf8) }
        XCTAssertNotNil(random.flatMap { UUID(uuidString: $0.partitionKey) }, "a missing partition key becomes a UUID")
    }

    func testAggregationPacksUnkeyedRecordsIntoKPLAggregatedRecords() async throws {
        let defaults = RecorderConfig(databasePath: "/tmp/x.db", region: "eu-west-1")
        XCTAssertFalse(defaults.aggregation, "off by default")
        XCTAssertEqual(defaults.maxAggregateBytes, 25_000, "one 25 KB PUT payload unit")
        let stream = uniqueStreamName("aggregation")
        try await kinesis.createStream(stream)
        let recorder = try makeRecorder { $0.aggregation = true }
        for i in 0..<300 {
            try recorder.save(Data((0..<100).map { UInt8(truncatingIfNeeded: i + $0) }), to: stream)
        }
        let report = try await recorder.submit()
        XCTAssertEqual(report.recordsSubmitted, 300)
        // 300 sub-records of 106 encoded bytes fill two aggregates of at most 25,000 bytes.
        XCTAssertEqual(report.kinesisRecordsSubmitted, 2)
        XCTAssertEqual(try recorder.stats().kinesisRecordsSubmitted, 2)

        let records = try await kinesis.allRecords(stream)
        XCTAssertEqual(records.count, 2)
        for record in records {
            XCTAssertEqual([UInt8](record.data.prefix(4)), [0xF3, 0x89, 0x9A, 0xC2], "the KPL magic number")
            XCTAssertLessThanOrEqual(record.data.count + record.partitionKey.utf8.count, 25_000)
        }
    }

    func testSwiftCredentialsProviderIsAskedOnceAndCached() async throws {
        let stream = uniqueStreamName("creds")
        try await kinesis.createStream(stream)
        let provider = CountingCredentials()
        let recorder = try makeRecorder(credentials: provider)
        try recorder.save("one", to: stream)
        var report = try await recorder.submit()
        XCTAssertEqual(report.recordsSubmitted, 1)
        try recorder.save(Data("two".utf8), to: stream, partitionKey: "p")
        report = try await recorder.submit()
        XCTAssertEqual(report.recordsSubmitted, 1)
        XCTAssertEqual(provider.calls, 1, "credentials without expiry are cached")
        let received = try await kinesis.allRecords(stream).map(\.data)
        XCTAssertEqual(Set(received), [Data("one".utf8), Data("two".utf8)])
    }

    func testThrowingCredentialsProviderSurfacesAsTypedErrorAndKeepsRecords() async throws {
        let stream = uniqueStreamName("nocreds")
        try await kinesis.createStream(stream)
        let available = Collector<Bool>()  // empty: no credentials yet
        let provider = ClosureCredentialsProvider {
            guard !available.values.isEmpty else {
                throw RecorderError.Credentials(reason: "not signed in yet")
            }
            return AwsCredentials(accessKeyId: "AKID", secretAccessKey: "secret", sessionToken: nil, expiration: nil)
        }
        let recorder = try makeRecorder(credentials: provider)
        let events = Collector<RecorderEvent>()
        recorder.setListener { events.append($0) }
        for i in 0..<3 { try recorder.save("r\(i)", to: stream) }

        let failed = try await recorder.submit()
        XCTAssertEqual(failed.recordsSubmitted, 0)
        XCTAssertEqual(failed.recordsRemaining, 3, "the records wait for credentials")
        XCTAssertEqual(failed.errors.count, 1)
        XCTAssertEqual(failed.errors.first?.streamName, stream)
        XCTAssertEqual(failed.errors.first?.kind, .credentials)
        XCTAssertTrue(failed.errors.first?.message.contains("not signed in yet") == true, "\(failed.errors)")
        let failure = events.values.first {
            if case .submissionFailed(stream, .credentials, _, let message, true) = $0 { return message.contains("not signed in yet") }
            return false
        }
        XCTAssertNotNil(failure, "SubmissionFailed(willRetry: true) event; got \(events.values)")
        // A credentials failure concerns the account, not the stream: every stream waits.
        XCTAssertTrue(try recorder.stats().accountError?.contains("not signed in yet") == true)

        // Credentials arrive: the same records go out.
        available.append(true)
        let delivered = try await recorder.submit()
        XCTAssertEqual(delivered.recordsSubmitted, 3)
        XCTAssertEqual(delivered.errors, [])
        let received = try await kinesis.allRecords(stream)
        XCTAssertEqual(received.count, 3)
    }

    func testProviderThrowingAnyOtherSwiftErrorBecomesCredentialsError() async throws {
        struct TokenServiceUnavailable: Error {}
        let stream = uniqueStreamName("othererror")
        try await kinesis.createStream(stream)
        let recorder = try makeRecorder(credentials: ClosureCredentialsProvider { throw TokenServiceUnavailable() })
        try recorder.save("x", to: stream)
        let report = try await recorder.submit()
        XCTAssertEqual(report.recordsRemaining, 1)
        let message = try XCTUnwrap(report.errors.first?.message)
        XCTAssertTrue(message.contains("TokenServiceUnavailable"), message)
        XCTAssertTrue(message.contains("credentials"), message)
    }

    func testEventsStreamReportsSubmissionThresholdAndDeletion() async throws {
        let stream = uniqueStreamName("events")
        try await kinesis.createStream(stream)
        let recorder = try makeRecorder { $0.notificationByteThreshold = 100 }
        let events = recorder.events()
        let collected = Task { () -> [RecorderEvent] in
            var seen: [RecorderEvent] = []
            for await event in events {
                seen.append(event)
                if case .recordsDropped(_, .deleted, _) = event { break }
            }
            return seen
        }
        for i in 0..<10 { try recorder.save(Data(repeating: UInt8(i), count: 20), to: stream, partitionKey: "p") }
        let report = try await recorder.submit()
        XCTAssertEqual(report.recordsSubmitted, 10)
        try recorder.save("to delete", to: stream)
        try recorder.save("to delete too", to: stream)
        XCTAssertEqual(try recorder.deleteAllRecords(), 2)

        let seen = await collected.value
        XCTAssertTrue(seen.contains {
            if case let .storageThresholdCrossed(bytesUsed, 100) = $0 { return bytesUsed >= 100 }
            return false
        }, "\(seen)")
        XCTAssertTrue(seen.contains(.recordsSubmitted(streamName: stream, count: 10)), "\(seen)")
        XCTAssertTrue(seen.contains(.recordsDropped(streamName: stream, reason: .deleted, count: 2)), "\(seen)")
        XCTAssertEqual(try recorder.stats().recordsDroppedDeleted, 2)
    }

    func testAutomaticSubmissionAtThresholdNotifiesListenerFromBackgroundThread() async throws {
        let stream = uniqueStreamName("auto")
        try await kinesis.createStream(stream)
        let recorder = try makeRecorder {
            $0.autoSubmit = true
            $0.submitThresholdRecords = 5
        }
        let events = Collector<RecorderEvent>()
        recorder.setListener { events.append($0) }
        for i in 0..<5 { try recorder.save("auto \(i)", to: stream) }
        let submitted = await eventually(timeout: 10) {
            events.values.contains(.recordsSubmitted(streamName: stream, count: 5))
        }
        XCTAssertTrue(submitted, "no automatic submission; events: \(events.values)")
        let received = try await kinesis.allRecords(stream)
        XCTAssertEqual(received.count, 5)
    }

    func testNetworkUnavailableKeepsRecordsUntilItComesBack() async throws {
        let stream = uniqueStreamName("offline")
        try await kinesis.createStream(stream)
        let recorder = try makeRecorder()
        recorder.setNetworkAvailable(available: false)
        try recorder.save("while offline", to: stream)
        let offline = try await recorder.submit()
        XCTAssertTrue(offline.networkUnavailable)
        XCTAssertEqual(offline.recordsSubmitted, 0)
        XCTAssertEqual(offline.recordsRemaining, 1)
        XCTAssertFalse(try recorder.stats().networkAvailable)

        recorder.setNetworkAvailable(available: true)
        let online = try await recorder.flushAndSubmit()
        XCTAssertFalse(online.networkUnavailable)
        XCTAssertEqual(online.recordsSubmitted, 1)
    }

    func testMissingStreamIsReportedPerStreamAndDoesNotBlockOthers() async throws {
        let good = uniqueStreamName("good")
        let missing = uniqueStreamName("missing")
        try await kinesis.createStream(good)
        let recorder = try makeRecorder()
        try recorder.save("lost?", to: missing)
        try recorder.save("fine", to: good)
        let report = try await recorder.submit()
        XCTAssertEqual(report.recordsSubmitted, 1, "the good stream is not blocked")
        XCTAssertEqual(report.recordsRemaining, 1, "the other record is kept")
        XCTAssertEqual(report.errors.map(\.streamName), [missing])
        XCTAssertEqual(report.errors.first?.code, "ResourceNotFoundException")
    }

    func testUnreachableEndpointIsANetworkFailureThatKeepsRecords() async throws {
        let recorder = try KinesisRecorder(
            databasePath: directory.appendingPathComponent("unreachable.db").path,
            region: "us-east-1",
            credentials: StaticCredentials(accessKeyId: "AKID", secretAccessKey: "secret")
        ) {
            $0.endpoint = "http://127.0.0.1:9"  // discard port: nothing listens
            $0.autoSubmit = false
            $0.requestTimeout = 1
        }
        try recorder.save("kept", to: "stream")
        let report = try await recorder.submit()
        XCTAssertEqual(report.recordsRemaining, 1)
        XCTAssertEqual(report.errors.count, 1)
        XCTAssertEqual(try recorder.stats().pendingRecords, 1)
    }

    func testSubmitReturnsByItsDeadlineAndKeepsTheRest() async throws {
        // Nothing listens: without a deadline the call retries for seconds.
        let recorder = try makeRecorder { $0.endpoint = "http://127.0.0.1:9" }
        for i in 0..<3 {
            try recorder.save("kept \(i)", to: "stream")
        }
        let start = Date()
        let report = try await recorder.submit(within: 0.5)
        let elapsed = Date().timeIntervalSince(start)
        XCTAssertLessThan(elapsed, 1.5)
        XCTAssertTrue(report.deadlineReached, "\(report)")
        XCTAssertEqual(report.recordsRemaining, 3)
        XCTAssertEqual(try recorder.stats().pendingRecords, 3)
        do {
            _ = try await recorder.submit(within: 0)
            XCTFail("a zero deadline was accepted")
        } catch let RecorderError.InvalidInput(reason) {
            XCTAssertTrue(reason.contains("deadline"), reason)
        }
    }
}
