#if canImport(BackgroundTasks) && canImport(UIKit) && os(iOS)
// Apple-only shell (never compiled on Linux): BGTaskScheduler and
// BGProcessingTask behind the protocols of BackgroundDelivery.swift, where
// every decision is made (and tested on Linux with fakes).
import BackgroundTasks
import Foundation
import UIKit

extension AppLifecycleObserver {
    /// Everything `init(recorder:)` does, plus background delivery: while
    /// records are pending as the app leaves the screen, a `BGProcessingTask`
    /// (network required) is requested under `backgroundTaskIdentifier`; iOS
    /// starts it later, even if the app is never opened again, and the
    /// recorder submits inside it. An empty store requests nothing.
    ///
    /// Call it before `application(_:didFinishLaunchingWithOptions:)` returns
    /// (or in a SwiftUI `App`'s `init`), once per process. The app's
    /// Info.plist lists the identifier in `BGTaskSchedulerPermittedIdentifiers`
    /// and has `processing` in `UIBackgroundModes`.
    ///
    /// - Throws: `RecorderError.InvalidInput` when a declaration is missing or
    ///   the identifier is already registered.
    public convenience init(
        recorder: KinesisRecorder,
        backgroundTaskIdentifier: String,
        requiresExternalPower: Bool = false,
        center: NotificationCenter = .default
    ) throws {
        let delivery = try BackgroundDelivery(
            recorder: recorder,
            identifier: backgroundTaskIdentifier,
            requiresExternalPower: requiresExternalPower,
            infoDictionary: Bundle.main.infoDictionary,
            scheduler: SystemTaskScheduler(),
            backgroundTime: UIApplicationBackgroundTime()
        )
        self.init(delivery: delivery, center: center, notifications: .uiKit, queue: .main)
    }
}

final class SystemTaskScheduler: ProcessingTaskScheduler {
    func register(identifier: String, launchHandler: @escaping @Sendable (ProcessingTask) -> Void) -> Bool {
        BGTaskScheduler.shared.register(forTaskWithIdentifier: identifier, using: nil) { task in
            launchHandler(SystemProcessingTask(task))
        }
    }

    func submit(_ request: ProcessingTaskRequest) throws {
        let system = BGProcessingTaskRequest(identifier: request.identifier)
        system.requiresNetworkConnectivity = request.requiresNetworkConnectivity
        system.requiresExternalPower = request.requiresExternalPower
        try BGTaskScheduler.shared.submit(system)
    }

    func cancel(identifier: String) {
        BGTaskScheduler.shared.cancel(taskRequestWithIdentifier: identifier)
    }
}

final class SystemProcessingTask: ProcessingTask {
    private let task: BGTask

    init(_ task: BGTask) {
        self.task = task
    }

    func setExpirationHandler(_ handler: @escaping @Sendable () -> Void) {
        task.expirationHandler = { handler() }
    }

    func setTaskCompleted(success: Bool) {
        task.setTaskCompleted(success: success)
    }
}
#endif
