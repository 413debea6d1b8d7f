import Foundation

// Background delivery: every decision, in plain Swift that builds and is
// tested on Linux. The calls into Apple's frameworks (BackgroundTasks, UIKit)
// are a few lines each in Apple/, behind the three protocols below; the tests
// put fakes behind them and a real recorder, SQLite file and Kinesis server
// behind everything else.

/// A `BGProcessingTaskRequest`, as the system is asked for it.
struct ProcessingTaskRequest: Equatable {
    var identifier: String
    var requiresNetworkConnectivity: Bool
    var requiresExternalPower: Bool
}

/// The system's task scheduler (`BGTaskScheduler` on iOS).
protocol ProcessingTaskScheduler: AnyObject {
    /// Registers the launch handler of `identifier`; false when the system refuses.
    func register(identifier: String, launchHandler: @escaping @Sendable (ProcessingTask) -> Void) -> Bool
    /// Replaces any pending request with the same identifier.
    func submit(_ request: ProcessingTaskRequest) throws
    func cancel(identifier: String)
}

/// A running background task (`BGProcessingTask` on iOS).
protocol ProcessingTask: AnyObject {
    /// Called by the system shortly before the task's time is up.
    func setExpirationHandler(_ handler: @escaping @Sendable () -> Void)
    func setTaskCompleted(success: Bool)
}

/// Extra time to finish work after the app left the screen
/// (`UIApplication.beginBackgroundTask` on iOS).
protocol BackgroundTimeProvider: AnyObject {
    /// Returns a token for `endBackgroundTime`, or nil when the system gives no time.
    func beginBackgroundTime(name: String, onExpiration: @escaping @Sendable () -> Void) -> Int?
    func endBackgroundTime(_ token: Int)
}

/// The decisions of background delivery, as pure functions.
enum DeliveryPolicy {
    /// A background task is asked for only while records wait: an empty store
    /// costs no wake-up at all.
    static func shouldSchedule(pendingRecords: UInt64) -> Bool {
        pendingRecords > 0
    }

    /// After a submission inside a background task: whether it succeeded, and
    /// whether to ask for another task. Records left for a reason that may
    /// pass by itself (no network, throttling, credentials, a storage hiccup,
    /// or saves made meanwhile) ask for another task; records held only by a
    /// refused stream (not found, access denied) wait for the app's fix and
    /// its next trip to the background, instead of waking the device in vain.
    static func afterTask(_ report: SubmitReport) -> (success: Bool, reschedule: Bool) {
        let success = report.errors.isEmpty && !report.networkUnavailable
        guard report.recordsRemaining > 0 else { return (success, false) }
        let retryable = report.networkUnavailable || report.errors.isEmpty
            || report.errors.contains { $0.kind != .streamRejected }
        return (success, retryable)
    }
}

/// Background delivery for one recorder.
///
/// - When the app leaves the screen: commit queued saves, ask for a
///   `BGProcessingTask` (network required) if records are pending, and submit
///   inside the extra time `beginBackgroundTask` gives; if everything left,
///   cancel the task request again.
/// - Inside the task: submit (the core signs each request as it sends it:
///   nothing is pre-signed), ask for another task when records remain for a
///   retryable reason, and end promptly when the system says time is up. The
///   records stay in the store whatever happens.
final class BackgroundDelivery: @unchecked Sendable {
    // @unchecked: immutable references; `schedulingFailure` is behind `lock`.
    let recorder: KinesisRecorder
    private let taskRequest: ProcessingTaskRequest?
    private let scheduler: ProcessingTaskScheduler?
    private let backgroundTime: BackgroundTimeProvider?
    private let lock = NSLock()
    private var lastSchedulingFailure: Error?

    /// Name of the extra time asked for when the app leaves the screen.
    static let flushTaskName = "KinesisRecorder.flush"

    /// How long the submission may take when the app leaves the screen: iOS
    /// gives about 30 s of extra time, and the flush and the task request
    /// come first. Records not delivered by then wait for the task.
    static let leavingSubmitDeadline: TimeInterval = 25

    /// Without a scheduler: only the flush in the extra background time.
    init(recorder: KinesisRecorder, backgroundTime: BackgroundTimeProvider?) {
        self.recorder = recorder
        self.backgroundTime = backgroundTime
        scheduler = nil
        taskRequest = nil
    }

    /// With background tasks: checks what the app declared, then registers
    /// the task's launch handler (on iOS this must happen before the app
    /// finishes launching).
    ///
    /// - Throws: `RecorderError.InvalidInput` when `infoDictionary` does not
    ///   list `identifier` in `BGTaskSchedulerPermittedIdentifiers`, lacks the
    ///   `processing` background mode, or the scheduler refuses the
    ///   registration (a second registration of the same identifier).
    init(
        recorder: KinesisRecorder,
        identifier: String,
        requiresExternalPower: Bool = false,
        infoDictionary: [String: Any]?,
        scheduler: ProcessingTaskScheduler,
        backgroundTime: BackgroundTimeProvider?
    ) throws {
        try Self.checkDeclarations(identifier: identifier, infoDictionary: infoDictionary)
        self.recorder = recorder
        self.scheduler = scheduler
        self.backgroundTime = backgroundTime
        taskRequest = ProcessingTaskRequest(
            identifier: identifier, requiresNetworkConnectivity: true, requiresExternalPower: requiresExternalPower
        )
        // The handler holds the delivery: the system may start a task at any
        // time for the life of the process.
        let registered = scheduler.register(identifier: identifier) { [self] task in run(task) }
        guard registered else {
            throw RecorderError.InvalidInput(reason: """
                the background task "\(identifier)" could not be registered: register it once, \
                before the app finishes launching
                """)
        }
    }

    static func checkDeclarations(identifier: String, infoDictionary: [String: Any]?) throws {
        let permitted = infoDictionary?["BGTaskSchedulerPermittedIdentifiers"] as? [String] ?? []
        guard permitted.contains(identifier) else {
            throw RecorderError.InvalidInput(reason: """
                "\(identifier)" is not in the app's Info.plist BGTaskSchedulerPermittedIdentifiers \
                (found \(permitted)): add it there
                """)
        }
        let modes = infoDictionary?["UIBackgroundModes"] as? [String] ?? []
        guard modes.contains("processing") else {
            throw RecorderError.InvalidInput(reason: """
                the app's Info.plist UIBackgroundModes lacks "processing" (found \(modes)): \
                add it (Signing & Capabilities > Background Modes > Background processing)
                """)
        }
    }

    /// The last error the scheduler gave when a task was asked for (for
    /// example: background tasks unavailable on this device), nil after a
    /// request it accepted.
    var schedulingFailure: Error? {
        lock.lock()
        defer { lock.unlock() }
        return lastSchedulingFailure
    }

    // MARK: - App lifecycle

    /// The app left the screen.
    func appDidEnterBackground() {
        let wait = BoundedWait<SubmitReport>()
        let time = backgroundTime.map { BackgroundTimeGrant(provider: $0) }
        time?.begin(name: Self.flushTaskName) { wait.cancel() }
        Task.detached(priority: .utility) { [self] in
            let outcome = await wait.run { [self] in
                try recorder.flush()
                // Ask for the task before submitting: the app may be
                // suspended in the middle of the submission.
                scheduleIfPending()
                return try await recorder.submit(within: Self.leavingSubmitDeadline)
            }
            if case let .finished(.success(report)) = outcome, report.recordsRemaining == 0 {
                cancelTaskRequest()
            }
            time?.end()
        }
    }

    /// The app is back on the screen.
    func appWillEnterForeground() {
        recorder.requestSubmit()
    }

    /// The app is about to end: commit the saves still queued in memory.
    func appWillTerminate() {
        _ = try? recorder.flush()
    }

    // MARK: - The background task

    /// Runs one background task from the system.
    func run(_ task: ProcessingTask) {
        let completion = Once()
        let wait = BoundedWait<SubmitReport>()
        task.setExpirationHandler { [self] in
            // Time is up: stop waiting (the core keeps every record it has not
            // delivered) and complete the task before the handler returns.
            wait.cancel()
            completion.run {
                scheduleIfPending()
                task.setTaskCompleted(success: false)
            }
        }
        Task.detached(priority: .utility) { [self] in
            // The system says nothing of a processing task's time: the core
            // stops by its default deadline (60 s) and the records left ask
            // for another task; the expiration bounds the wait either way.
            let outcome = await wait.run { [self] in
                try recorder.flush()
                return try await recorder.submit()
            }
            guard case let .finished(result) = outcome else { return }
            completion.run {
                switch result {
                case let .success(report):
                    let decision = DeliveryPolicy.afterTask(report)
                    if decision.reschedule {
                        schedule()
                    }
                    task.setTaskCompleted(success: decision.success)
                case .failure:
                    scheduleIfPending()
                    task.setTaskCompleted(success: false)
                }
            }
        }
    }

    // MARK: - Scheduling

    private func scheduleIfPending() {
        // A store that cannot be read is assumed to hold records: better one
        // wake-up too many than records left behind.
        let pending = (try? recorder.stats().pendingRecords) ?? 1
        if DeliveryPolicy.shouldSchedule(pendingRecords: pending) {
            schedule()
        }
    }

    private func schedule() {
        guard let scheduler, let taskRequest else { return }
        let failure: Error?
        do {
            try scheduler.submit(taskRequest)
            failure = nil
        } catch {
            failure = error
        }
        lock.lock()
        lastSchedulingFailure = failure
        lock.unlock()
    }

    private func cancelTaskRequest() {
        guard let scheduler, let taskRequest else { return }
        scheduler.cancel(identifier: taskRequest.identifier)
    }
}

/// One grant of extra background time, ended exactly once: by the work when
/// it finishes, or by the expiration handler (which must end it before it
/// returns).
private final class BackgroundTimeGrant: @unchecked Sendable {
    // @unchecked: `token` is behind `lock`.
    private let provider: BackgroundTimeProvider
    private let lock = NSLock()
    private var token: Int?
    private var ended = false

    init(provider: BackgroundTimeProvider) {
        self.provider = provider
    }

    func begin(name: String, onExpiration: @escaping @Sendable () -> Void) {
        let token = provider.beginBackgroundTime(name: name) { [self] in
            onExpiration()
            end()
        }
        lock.lock()
        if ended, let token {
            // Expired before `beginBackgroundTime` even returned.
            lock.unlock()
            provider.endBackgroundTime(token)
            return
        }
        self.token = token
        lock.unlock()
    }

    func end() {
        lock.lock()
        let token = ended ? nil : self.token
        ended = true
        lock.unlock()
        if let token {
            provider.endBackgroundTime(token)
        }
    }
}

/// Runs a block at most once, whoever calls first.
final class Once: @unchecked Sendable {
    // @unchecked: `done` is behind `lock`.
    private let lock = NSLock()
    private var done = false

    func run(_ body: () -> Void) {
        lock.lock()
        let first = !done
        done = true
        lock.unlock()
        if first {
            body()
        }
    }
}

/// Waits for an async operation, or until `cancel()`, whichever comes first.
///
/// The operation itself goes on: a submission in the core cannot be stopped
/// from Swift, and it keeps every record it does not deliver. Only the
/// waiting ends, so a background task can be completed in time.
final class BoundedWait<Value>: @unchecked Sendable {
    // @unchecked: `outcome` and `continuation` are behind `lock`.
    enum Outcome {
        case finished(Result<Value, Error>)
        case cancelled
    }

    private let lock = NSLock()
    private var outcome: Outcome?
    private var continuation: CheckedContinuation<Outcome, Never>?

    func cancel() {
        resolve(.cancelled)
    }

    func run(_ operation: @escaping @Sendable () async throws -> Value) async -> Outcome {
        Task { [self] in
            do {
                resolve(.finished(.success(try await operation())))
            } catch {
                resolve(.finished(.failure(error)))
            }
        }
        return await withCheckedContinuation { continuation in
            lock.lock()
            if let outcome {
                lock.unlock()
                continuation.resume(returning: outcome)
            } else {
                self.continuation = continuation
                lock.unlock()
            }
        }
    }

    private func resolve(_ result: Outcome) {
        lock.lock()
        guard outcome == nil else {
            lock.unlock()
            return
        }
        outcome = result
        let waiting = continuation
        continuation = nil
        lock.unlock()
        waiting?.resume(returning: result)
    }
}
