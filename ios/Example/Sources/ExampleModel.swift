import Foundation
import Observation
import KinesisRecorder

/// Where the example sends its records: two options.
///
/// - **AWS**: set `COGNITO_IDENTITY_POOL_ID` in the scheme's environment (or
///   `cognitoIdentityPoolId` below) to an identity pool whose guest role may
///   `kinesis:PutRecords` on the stream (see the README's "Credentials"): the
///   regional endpoint, temporary credentials, no AWS keys in the app.
/// - **Local server** (the default): a kinesalite on the Mac
///   (`node tests/servers/kinesalite.js 4567`; the iOS simulator shares the
///   Mac's loopback), or `KINESIS_ENDPOINT` from the scheme's environment,
///   with fixed keys it does not check.
enum ExampleSettings {
    static let region = "us-east-1"
    static let streamName = "example-events"
    /// Listed in BGTaskSchedulerPermittedIdentifiers (project.yml).
    static let backgroundTaskIdentifier = "dev.kinesisrecorder.example.delivery"
    static let cognitoIdentityPoolId: String? = ProcessInfo.processInfo.environment["COGNITO_IDENTITY_POOL_ID"]
    static let localEndpoint = ProcessInfo.processInfo.environment["KINESIS_ENDPOINT"] ?? "http://127.0.0.1:4567"

    static var endpoint: String? { cognitoIdentityPoolId == nil ? localEndpoint : nil }

    static var target: String {
        cognitoIdentityPoolId.map { "AWS \(region), Cognito identity pool \($0)" } ?? "local server \(localEndpoint)"
    }

    static func credentials() throws -> CredentialsProvider {
        if let pool = cognitoIdentityPoolId {
            // The identity id is kept next to the recorder's store.
            return try cognitoCredentials(identityPoolId: pool, region: region)
        }
        return StaticCredentials(accessKeyId: "AKIDEXAMPLE", secretAccessKey: "example-secret")
    }
}

/// The example's state. Everything the UI calls on the main actor is cheap:
/// `save` only validates and queues; submission runs on the recorder's own
/// thread. Created by the `App` while the app launches, so background
/// delivery is registered in time (iOS accepts a task's handler only then).
@MainActor
@Observable
final class ExampleModel {
    private(set) var lastBatchMilliseconds: Double?
    private(set) var stats: RecorderStats?
    private(set) var lastReport: String?
    private(set) var events: [String] = []
    private(set) var failure: String?
    var networkAvailable = true {
        // A real app lets NetworkAvailabilityMonitor do this (see ios/README.md);
        // the toggle simulates going offline.
        didSet { recorder?.setNetworkAvailable(available: networkAvailable) }
    }

    @ObservationIgnored private let recorder: KinesisRecorder?
    #if os(iOS)
    @ObservationIgnored private var lifecycle: AppLifecycleObserver?
    #endif
    @ObservationIgnored private var counter = 0

    init() {
        do {
            let recorder = try KinesisRecorder(
                databasePath: try RecorderConfig.defaultDatabasePath(fileName: "example.db"),
                region: ExampleSettings.region,
                credentials: try ExampleSettings.credentials()
            ) {
                $0.endpoint = ExampleSettings.endpoint
                $0.submitInterval = 10  // seconds; the default comes from the core
            }
            self.recorder = recorder
            #if os(iOS)
            // Flush as the app leaves the screen, and a BGProcessingTask while records are pending.
            do {
                lifecycle = try AppLifecycleObserver(
                    recorder: recorder, backgroundTaskIdentifier: ExampleSettings.backgroundTaskIdentifier
                )
            } catch {
                failure = "Background delivery is off: \(error)"
            }
            #endif
            listen(to: recorder)
            refresh()
        } catch {
            recorder = nil
            failure = "Cannot open the recorder: \(error)"
        }
    }

    /// 1,000 saves in a tight loop on the main actor, timed.
    func saveThousandEvents() {
        guard let recorder else { return }
        let clock = ContinuousClock()
        var failures = 0
        let elapsed = clock.measure {
            for _ in 0..<1_000 {
                counter += 1
                let json = #"{"event":"tap","n":\#(counter),"screen":"example"}"#
                do {
                    try recorder.save(json, to: ExampleSettings.streamName)
                } catch {
                    failures += 1
                }
            }
        }
        lastBatchMilliseconds = Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1e3
        failure = failures > 0 ? "\(failures) saves failed" : nil
        refresh()
    }

    func submitNow() async {
        guard let recorder else { return }
        do {
            let report = try await recorder.submit()
            if report.networkUnavailable {
                lastReport = "Offline: nothing sent, \(report.recordsRemaining) pending"
            } else if let error = report.errors.first {
                lastReport = "\(report.recordsSubmitted) sent; \(error.streamName): \(error.code ?? "error") \(error.message)"
            } else {
                lastReport = "\(report.recordsSubmitted) sent in \(report.requests) requests, \(report.recordsRemaining) pending"
            }
        } catch {
            lastReport = "Submit failed: \(error)"
        }
        refresh()
    }

    func deleteAll() {
        _ = try? recorder?.deleteAllRecords()
        refresh()
    }

    /// Stats read the store: cheap, but not free; the UI refreshes on demand
    /// and on events, not per frame.
    func refresh() {
        guard let recorder else { return }
        stats = try? recorder.stats()
    }

    private func listen(to recorder: KinesisRecorder) {
        let events = recorder.events()
        Task { [weak self] in
            for await event in events {
                guard let self else { return }
                self.events.insert(Self.describe(event), at: 0)
                if self.events.count > 50 { self.events.removeLast() }
                self.refresh()
            }
        }
    }

    private static func describe(_ event: RecorderEvent) -> String {
        switch event {
        case let .recordsSubmitted(stream, count):
            return "\(count) submitted to \(stream)"
        case let .recordsDropped(stream, reason, count):
            return "\(count) dropped from \(stream) (\(reason))"
        case let .storageThresholdCrossed(bytesUsed, threshold):
            return "store at \(bytesUsed) bytes (threshold \(threshold))"
        case let .submissionFailed(stream, _, code, message, willRetry):
            return "\(stream): \(code ?? "failed") \(message)\(willRetry ? " (will retry)" : "")"
        }
    }
}
