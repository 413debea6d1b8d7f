import Foundation
import XCTest
@testable import KinesisRecorder

/// Background delivery (what iOS's BGTaskScheduler, BGProcessingTask and
/// beginBackgroundTask would drive) with fakes for the system's side only:
/// the recorder, its SQLite file, kinesalite and a server that never answers
/// are real. Lifecycle moments are posted as notifications, as UIKit does.
final class BackgroundDeliveryTests: XCTestCase {
    private static let identifier = "dev.kinesisrecorder.tests.delivery"
    private static let declarations: [String: Any] = [
        "BGTaskSchedulerPermittedIdentifiers": ["some.other.task", identifier],
        "UIBackgroundModes": ["fetch", "processing"],
    ]
    private static let notifications = LifecycleNotifications(
        didEnterBackground: .init("test.didEnterBackground"),
        willEnterForeground: .init("test.willEnterForeground"),
        willTerminate: .init("test.willTerminate")
    )

    private var directory: URL!
    private var kinesis: KinesisHTTP!
    private let center = NotificationCenter()
    private let scheduler = FakeScheduler()
    private let backgroundTime = FakeBackgroundTime()

    override func setUpWithError() throws {
        directory = try makeTemporaryDirectory()
        kinesis = KinesisHTTP(endpoint: try KinesisTestServer.shared.endpoint())
    }

    override func tearDown() async throws {
        for stream in kinesis?.createdStreams.values ?? [] {
            _ = try? await kinesis.call("DeleteStream", ["StreamName": stream])
        }
        try? FileManager.default.removeItem(at: directory)
    }

    private func makeRecorder(
        endpoint: String? = nil,
        credentials: CredentialsProvider = StaticCredentials(accessKeyId: "AKIDTEST", secretAccessKey: "secret"),
        _ configure: (inout RecorderConfig) -> Void = { _ in }
    ) throws -> KinesisRecorder {
        let endpoint = endpoint ?? kinesis.endpoint
        return try KinesisRecorder(
            databasePath: directory.appendingPathComponent("records.db").path,
            region: "us-east-1",
            credentials: credentials
        ) {
            $0.endpoint = endpoint
            $0.autoSubmit = false  // only what the lifecycle and the task do
            configure(&$0)
        }
    }

    /// The observer as an iOS app creates it with a background task identifier.
    private func observe(_ recorder: KinesisRecorder) throws -> AppLifecycleObserver {
        let delivery = try BackgroundDelivery(
            recorder: recorder, identifier: Self.identifier, infoDictionary: Self.declarations,
            scheduler: scheduler, backgroundTime: backgroundTime
        )
        return AppLifecycleObserver(delivery: delivery, center: center, notifications: Self.notifications, queue: nil)
    }

    /// Posts "the app left the screen" and waits until the extra background
    /// time it asked for is given back.
    private func leaveTheScreen() async {
        let before = backgroundTime.ended.count
        center.post(name: Self.notifications.didEnterBackground, object: nil)
        let ended = await eventually(timeout: 30) { self.backgroundTime.ended.count > before }
        XCTAssertTrue(ended, "the background time was ended")
    }

    private func waitForCompletion(of task: FakeTask) async -> [Bool] {
        _ = await eventually(timeout: 30) { !task.completions.isEmpty }
        return task.completions
    }

    // MARK: - Leaving the screen

    func testAnEmptyStoreAsksForNoBackgroundTask() async throws {
        let recorder = try makeRecorder()
        let observer = try observe(recorder)
        await leaveTheScreen()
        XCTAssertEqual(backgroundTime.begun, [BackgroundDelivery.flushTaskName])
        XCTAssertEqual(scheduler.submitted, [], "no wake-up is requested while the store is empty")
        XCTAssertEqual(scheduler.registered, [Self.identifier])
        _ = observer
    }

    func testLeavingTheScreenDeliversInTheExtraTimeAndWithdrawsTheTaskRequest() async throws {
        let stream = uniqueStreamName("bg-flush")
        try await kinesis.createStream(stream)
        let recorder = try makeRecorder()
        let observer = try observe(recorder)
        for i in 0..<20 { try recorder.save("event \(i)", to: stream) }  // still queued in memory

        await leaveTheScreen()

        let expected = ProcessingTaskRequest(
            identifier: Self.identifier, requiresNetworkConnectivity: true, requiresExternalPower: false
        )
        XCTAssertEqual(scheduler.submitted, [expected], "asked for a task while records were pending")
        XCTAssertNil(scheduler.pending, "withdrawn once everything left: no pointless wake-up")
        XCTAssertEqual(try recorder.stats().pendingRecords, 0)
        let received = try await kinesis.allRecords(stream).map { String(decoding: $0.data, as: UTF8.self) }
        XCTAssertEqual(received.sorted(), (0..<20).map { "event \($0)" }.sorted())
        _ = observer
    }

    func testRecordsSavedOfflineLeaveInTheBackgroundTaskOnce() async throws {
        let stream = uniqueStreamName("bg-offline")
        try await kinesis.createStream(stream)
        let recorder = try makeRecorder()
        let observer = try observe(recorder)
        recorder.setNetworkAvailable(available: false)
        for i in 0..<10 { try recorder.save("offline \(i)", to: stream) }

        await leaveTheScreen()
        XCTAssertEqual(scheduler.pending?.identifier, Self.identifier)
        XCTAssertEqual(scheduler.pending?.requiresNetworkConnectivity, true)
        XCTAssertEqual(try recorder.stats().pendingRecords, 10, "offline: nothing sent, everything kept")

        // Later the system starts the task, with a network.
        recorder.setNetworkAvailable(available: true)
        let task = scheduler.launch(Self.identifier)
        let completions = await waitForCompletion(of: task)
        XCTAssertEqual(completions, [true])
        XCTAssertNil(scheduler.pending, "nothing left: no further task")
        XCTAssertEqual(try recorder.stats().pendingRecords, 0)
        let received = try await kinesis.allRecords(stream)
        XCTAssertEqual(received.count, 10, "each record delivered once")
        XCTAssertEqual(Set(received.map(\.data)), Set((0..<10).map { Data("offline \($0)".utf8) }))
        _ = observer
    }

    /// Requests are signed when the task sends them: credentials that did not
    /// exist when the app left the screen are used inside the task.
    func testTheTaskSignsWithTheCredentialsOfItsOwnTime() async throws {
        let stream = uniqueStreamName("bg-creds")
        try await kinesis.createStream(stream)
        let signedIn = Collector<Bool>()
        let provider = ClosureCredentialsProvider {
            guard !signedIn.values.isEmpty else { throw RecorderError.Credentials(reason: "not signed in yet") }
            return AwsCredentials(accessKeyId: "AKIDLATER", secretAccessKey: "later", sessionToken: nil, expiration: nil)
        }
        let recorder = try makeRecorder(credentials: provider)
        let observer = try observe(recorder)
        for i in 0..<3 { try recorder.save("r\(i)", to: stream) }

        await leaveTheScreen()
        XCTAssertNotNil(scheduler.pending, "a credentials failure is worth another try")
        XCTAssertEqual(try recorder.stats().pendingRecords, 3)

        signedIn.append(true)
        let task = scheduler.launch(Self.identifier)
        let completions = await waitForCompletion(of: task)
        XCTAssertEqual(completions, [true])
        let received = try await kinesis.allRecords(stream)
        XCTAssertEqual(received.count, 3)
        _ = observer
    }

    func testASchedulingFailureIsReportedAndTheRecordsWait() async throws {
        struct Unavailable: Error {}
        scheduler.submitError = Unavailable()
        let recorder = try makeRecorder()
        let observer = try observe(recorder)
        recorder.setNetworkAvailable(available: false)
        try recorder.save("kept", to: "s")

        await leaveTheScreen()
        XCTAssertTrue(observer.schedulingFailure is Unavailable, "\(String(describing: observer.schedulingFailure))")
        XCTAssertEqual(try recorder.stats().pendingRecords, 1)

        scheduler.submitError = nil
        await leaveTheScreen()
        XCTAssertNil(observer.schedulingFailure, "cleared by an accepted request")
        XCTAssertNotNil(scheduler.pending)
    }

    func testComingBackToTheScreenAsksForASubmission() async throws {
        let stream = uniqueStreamName("bg-foreground")
        try await kinesis.createStream(stream)
        let recorder = try makeRecorder()
        let observer = try observe(recorder)
        try recorder.save("back", to: stream)
        try recorder.flush()

        center.post(name: Self.notifications.willEnterForeground, object: nil)
        let delivered = await eventually(timeout: 30) { (try? recorder.stats().pendingRecords) == 0 }
        XCTAssertTrue(delivered, "autoSubmit is off: only the lifecycle asked for this submission")
        let received = try await kinesis.allRecords(stream)
        XCTAssertEqual(received.count, 1)
        _ = observer
    }

    /// `AppLifecycleObserver(recorder:)` on iOS: the flush in the extra time
    /// only, no task identifier, nothing asked of the scheduler.
    func testWithoutATaskIdentifierOnlyTheExtraTimeIsUsed() async throws {
        let stream = uniqueStreamName("bg-plain")
        try await kinesis.createStream(stream)
        let recorder = try makeRecorder()
        let observer = AppLifecycleObserver(
            delivery: BackgroundDelivery(recorder: recorder, backgroundTime: backgroundTime),
            center: center, notifications: Self.notifications, queue: nil
        )
        for i in 0..<5 { try recorder.save("plain \(i)", to: stream) }
        await leaveTheScreen()
        XCTAssertEqual(backgroundTime.begun, [BackgroundDelivery.flushTaskName])
        XCTAssertEqual(scheduler.registered, [])
        let received = try await kinesis.allRecords(stream)
        XCTAssertEqual(received.count, 5)
        _ = observer
    }

    func testAReleasedObserverStopsObserving() throws {
        let recorder = try makeRecorder()
        var observer: AppLifecycleObserver? = try observe(recorder)
        _ = observer
        observer = nil
        center.post(name: Self.notifications.didEnterBackground, object: nil)
        XCTAssertEqual(backgroundTime.begun, [], "no observer left to react")
    }

    // MARK: - Inside the task

    func testServerDownTheTaskKeepsEveryRecordAndAsksAgain() async throws {
        let recorder = try makeRecorder(endpoint: try closedLoopbackEndpoint())
        let observer = try observe(recorder)
        for i in 0..<5 { try recorder.save("r\(i)", to: "s") }

        let task = scheduler.launch(Self.identifier)
        let completions = await waitForCompletion(of: task)
        XCTAssertEqual(completions, [false])
        XCTAssertEqual(scheduler.submitted.count, 1, "another task requested")
        XCTAssertNotNil(scheduler.pending)
        XCTAssertEqual(try recorder.stats().pendingRecords, 5, "every record kept")
        _ = observer
    }

    func testAnExpiredTaskCompletesAtOnceAndKeepsTheRecords() async throws {
        let server = try SilentServer()
        defer { server.stop() }
        let recorder = try makeRecorder(endpoint: server.endpoint) { $0.requestTimeout = 120 }
        let observer = try observe(recorder)
        for i in 0..<5 { try recorder.save("r\(i)", to: "s") }

        let task = scheduler.launch(Self.identifier)
        let inFlight = await eventually(timeout: 30) { server.acceptedConnections > 0 }
        XCTAssertTrue(inFlight, "the submission reached the server")
        XCTAssertEqual(task.completions, [], "still waiting for the server")

        task.expire()
        XCTAssertEqual(task.completions, [false], "completed inside the expiration handler, request still in flight")
        XCTAssertNotNil(scheduler.pending, "another task requested for the records left")
        XCTAssertEqual(try recorder.stats().pendingRecords, 5)

        // The abandoned submission ends when the server goes away (offline,
        // its retries stop at once); a submission asked for now runs after
        // it. The task is not completed a second time; the records stay.
        server.stop()
        recorder.setNetworkAvailable(available: false)
        _ = try await recorder.submit()
        XCTAssertEqual(task.completions, [false])
        XCTAssertEqual(try recorder.stats().pendingRecords, 5)
        _ = observer
    }

    // MARK: - Declarations and decisions

    func testMissingDeclarationsAreTypedErrors() throws {
        let recorder = try makeRecorder()
        func delivery(_ info: [String: Any]?) throws {
            _ = try BackgroundDelivery(
                recorder: recorder, identifier: Self.identifier, infoDictionary: info,
                scheduler: FakeScheduler(), backgroundTime: nil
            )
        }
        assertInvalidInput("no Info.plist") { try delivery(nil) }
        assertInvalidInput("identifier not permitted") {
            try delivery(["BGTaskSchedulerPermittedIdentifiers": ["other"], "UIBackgroundModes": ["processing"]])
        }
        assertInvalidInput("no processing background mode") {
            try delivery(["BGTaskSchedulerPermittedIdentifiers": [Self.identifier], "UIBackgroundModes": ["fetch"]])
        }
        try delivery(Self.declarations)

        let observer = try observe(recorder)
        assertInvalidInput("registered twice") {
            _ = try BackgroundDelivery(
                recorder: recorder, identifier: Self.identifier, infoDictionary: Self.declarations,
                scheduler: scheduler, backgroundTime: nil
            )
        }
        _ = observer
    }

    func testWhenToAskForAnotherTask() {
        func report(remaining: UInt64, offline: Bool = false, errors: [FailureKind] = []) -> SubmitReport {
            SubmitReport(
                recordsSubmitted: 1, kinesisRecordsSubmitted: 1, recordsRetried: 0, recordsDropped: 0, recordsRemaining: remaining,
                requests: 1, networkUnavailable: offline, deadlineReached: false,
                errors: errors.map { StreamError(streamName: "s", kind: $0, code: nil, message: "m") }
            )
        }
        XCTAssertFalse(DeliveryPolicy.shouldSchedule(pendingRecords: 0))
        XCTAssertTrue(DeliveryPolicy.shouldSchedule(pendingRecords: 1))

        let cases: [(String, SubmitReport, Bool, Bool)] = [
            ("all delivered", report(remaining: 0), true, false),
            ("saved meanwhile", report(remaining: 3), true, true),
            ("offline", report(remaining: 3, offline: true), false, true),
            ("network", report(remaining: 3, errors: [.network]), false, true),
            ("throttled", report(remaining: 3, errors: [.throttled]), false, true),
            ("credentials", report(remaining: 3, errors: [.credentials]), false, true),
            ("storage", report(remaining: 3, errors: [.storage]), false, true),
            ("refused stream only", report(remaining: 3, errors: [.streamRejected]), false, false),
            ("refused and throttled", report(remaining: 3, errors: [.streamRejected, .throttled]), false, true),
            ("error, nothing left", report(remaining: 0, errors: [.network]), false, false),
        ]
        for (name, report, success, reschedule) in cases {
            let decision = DeliveryPolicy.afterTask(report)
            XCTAssertEqual(decision.success, success, name)
            XCTAssertEqual(decision.reschedule, reschedule, name)
        }
    }

    func testWhatANetworkPathMeans() {
        let wifi = NetworkPathStatus(satisfied: true, isExpensive: false, isConstrained: false)
        let cellular = NetworkPathStatus(satisfied: true, isExpensive: true, isConstrained: false)
        let lowDataMode = NetworkPathStatus(satisfied: true, isExpensive: false, isConstrained: true)
        let none = NetworkPathStatus(satisfied: false, isExpensive: false, isConstrained: false)
        XCTAssertEqual([wifi, cellular, lowDataMode, none].map(NetworkPolicy.any.allowsDelivery), [true, true, true, false])
        XCTAssertEqual(
            [wifi, cellular, lowDataMode, none].map(NetworkPolicy.unmeteredOnly.allowsDelivery),
            [true, false, false, false]
        )
    }
}
