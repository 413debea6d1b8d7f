#if canImport(UIKit) && !os(watchOS)
import Foundation
import UIKit

/// Flushes and submits when the app goes to the background (inside a
/// background task, so iOS gives it time to finish), and asks for a submission
/// when it returns to the foreground.
///
/// ```swift
/// let lifecycle = AppLifecycleObserver(recorder: recorder)  // keep it alive
/// ```
@MainActor
public final class AppLifecycleObserver {
    private let recorder: KinesisRecorder
    private let observers: ObserverTokens
    private var backgroundTask: UIBackgroundTaskIdentifier = .invalid

    public init(recorder: KinesisRecorder, center: NotificationCenter = .default) {
        self.recorder = recorder
        observers = ObserverTokens(center: center)
        observers.append(center.addObserver(
            forName: UIApplication.didEnterBackgroundNotification, object: nil, queue: .main
        ) { [weak self] _ in
            MainActor.assumeIsolated { self?.didEnterBackground() }
        })
        observers.append(center.addObserver(
            forName: UIApplication.willEnterForegroundNotification, object: nil, queue: .main
        ) { [weak self] _ in
            MainActor.assumeIsolated { self?.recorder.requestSubmit() }
        })
        observers.append(center.addObserver(
            forName: UIApplication.willTerminateNotification, object: nil, queue: .main
        ) { [weak self] _ in
            // Saves are queued in memory for a few milliseconds: commit them.
            MainActor.assumeIsolated { _ = try? self?.recorder.flush() }
        })
    }

    private func didEnterBackground() {
        guard backgroundTask == .invalid else { return }
        let recorder = self.recorder
        backgroundTask = UIApplication.shared.beginBackgroundTask(withName: "KinesisRecorder.flush") { [weak self] in
            // Time is up: the recorder keeps whatever was not sent.
            MainActor.assumeIsolated { self?.endBackgroundTask() }
        }
        Task { [weak self] in
            _ = try? await recorder.flushAndSubmit()
            self?.endBackgroundTask()
        }
    }

    private func endBackgroundTask() {
        guard backgroundTask != .invalid else { return }
        UIApplication.shared.endBackgroundTask(backgroundTask)
        backgroundTask = .invalid
    }
}
/// Removes the observers when the `AppLifecycleObserver` goes away (a
/// nonisolated holder, so no main-actor state is touched from `deinit`).
private final class ObserverTokens: @unchecked Sendable {
    // @unchecked: appended to on the main actor during init only, read in deinit.
    private let center: NotificationCenter
    private var tokens: [NSObjectProtocol] = []

    init(center: NotificationCenter) {
        self.center = center
    }

    func append(_ token: NSObjectProtocol) {
        tokens.append(token)
    }

    deinit {
        for token in tokens {
            center.removeObserver(token)
        }
    }
}
#endif
