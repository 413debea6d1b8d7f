import Foundation
import Observation
import KinesisRecorder

/// Where the example sends its records: two options.
///
/// - **AWS**: set `COGNITO_IDENTITY_POOL_ID` in the scheme's environment (or
///   `cognitoIdentityPoolId`) to an identity pool whose guest role may
///   `kinesis:PutRecords` on the stream (see the README's "Credentials"): the
///   regional endpoint, temporary credentials, no AWS keys in the app.
/// - **Local server** (the default): a kinesalite on the Mac
///   (`node tests/servers/kinesalite.js 4567`; the iOS simulator shares the
///   Mac's loopback), or `KINESIS_ENDPOINT` from the scheme's environment,
///   with fixed keys it does not check.
public struct ExampleSettings: Sendable {
    public var region = "us-east-1"
    public var streamName = "example-events"
    /// Listed in BGTaskSchedulerPermittedIdentifiers (project.yml).
    public var backgroundTaskIdentifier = "dev.kinesisrecorder.example.delivery"
    public var cognitoIdentityPoolId: String? = ProcessInfo.processInfo.environment["COGNITO_IDENTITY_POOL_ID"]
    public var localEndpoint = ProcessInfo.processInfo.environment["KINESIS_ENDPOINT"] ?? "http://127.0.0.1:4567"
    /// nil: `RecorderConfig.defaultDatabasePath(fileName: "example.db")`.
    public var databasePath: String?

    public init() {}

    /// nil (the regional endpoint) with an identity pool, else the local server.
    public var endpoint: String? { cognitoIdentityPoolId == nil ? localEndpoint : nil }

    public var target: String {
        cognitoIdentityPoolId.map { "AWS \(region), Cognito identity pool \($0)" } ?? "local server \(localEndpoint)"
    }

    public func credentials() throws -> CredentialsProvider {
        if let pool = cognitoIdentityPoolId {
            // The identity id is kept next to the recorder's store.
            return try cognitoCredentials(identityPoolId: pool, region: region)
        }
        return StaticCredentials(accessKeyId: "AKIDEXAMPLE", secretAccessKey: "example-secret")
    }
}

/// The example's state and everything it does; the SwiftUI views only show it.
/// Everything the UI calls on the main actor is cheap: `save` only validates
/// and queues; submission runs on the recorder's own thread; waiting for the
/// disk (`awaitFlush`, `awaitDeleteAllRecords`) happens off the main actor.
/// Created by the `App` while the app launches, so background delivery is
/// registered in time (iOS accepts a task's handler only then).
@MainActor
@Observable
public final class ExampleModel {
    public private(set) var lastBatchMilliseconds: Double?
    public private(set) var stats: RecorderStats?
    public private(set) var lastReport: String?
    public private(set) var events: [String] = []
    public private(set) var failure: String?
    public var networkAvailable = true {
        // A real app lets NetworkAvailabilityMonitor do this (see ios/README.md);
        // the toggle simulates going offline.
        didSet { recorder?.setNetworkAvailable(available: networkAvailable) }
    }

    @ObservationIgnored public let settings: ExampleSettings
    @ObservationIgnored private let recorder: KinesisRecorder?
    #if os(iOS)
    @ObservationIgnored private var lifecycle: AppLifecycleObserver?
    #endif
    @ObservationIgnored private var counter = 0

    public init(settings: ExampleSettings = ExampleSettings()) {
        self.settings = settings
        do {
            let recorder = try KinesisRecorder(
                databasePath: try settings.databasePath ?? RecorderConfig.defaultDatabasePath(fileName: "example.db"),
                region: settings.region,
                credentials: try settings.credentials()
            ) {
                $0.endpoint = settings.endpoint
                $0.submitInterval = 10  // seconds; the default comes from the core
            }
            self.recorder = recorder
            #if os(iOS)
            // Flush as the app leaves the screen, and a BGProcessingTask while records are pending.
            do {
                lifecycle = try AppLifecycleObserver(
                    recorder: recorder, backgroundTaskIdentifier: settings.backgroundTaskIdentifier
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

    /// 1,000 saves in a tight loop on the main actor, timed; then, off the
    /// main actor, waits until they are on disk and shows the new count.
    public func saveThousandEvents() async {
        guard let recorder else { return }
        let clock = ContinuousClock()
        var failures = 0
        let elapsed = clock.measure {
            for _ in 0..<1_000 {
                counter += 1
                let json = #"{"event":"tap","n":\#(counter),"screen":"example"}"#
                do {
                    try recorder.save(json, to: settings.streamName)
                } catch {
                    failures += 1
                }
            }
        }
        lastBatchMilliseconds = Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1e3
        failure = failures > 0 ? "\(failures) saves failed" : nil
        do {
            try await recorder.awaitFlush()
        } catch {
            failure = "Cannot write the records: \(error)"
        }
        refresh()
    }

    public func submitNow() async {
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

    /// Deletes every pending record, waiting for the disk off the main actor.
    public func deleteAll() async {
        guard let recorder else { return }
        do {
            let deleted = try await recorder.awaitDeleteAllRecords()
            lastReport = "\(deleted) deleted"
        } catch {
            lastReport = "Delete failed: \(error)"
        }
        refresh()
    }

    /// Stats read the store: cheap, but not free; the UI refreshes on demand
    /// and on events, not per frame.
    public func refresh() {
        guard let recorder else { return }
        stats = try? recorder.stats()
    }

    private func listen(to recorder: KinesisRecorder) {
        // Ends when the recorder is released with this model (its stream finishes).
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

    /// One line of the event log.
    public nonisolated static func describe(_ event: RecorderEvent) -> String {
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
