#if canImport(UIKit) && !os(watchOS)
// Apple-only shell (never compiled on Linux): UIKit's notification names and
// UIApplication's background time for AppLifecycleObserver. What to do with
// them is in AppLifecycleObserver.swift and BackgroundDelivery.swift.
import Foundation
import UIKit

extension LifecycleNotifications {
    static let uiKit = LifecycleNotifications(
        didEnterBackground: UIApplication.didEnterBackgroundNotification,
        willEnterForeground: UIApplication.willEnterForegroundNotification,
        willTerminate: UIApplication.willTerminateNotification
    )
}

extension AppLifecycleObserver {
    /// Flushes and submits when the app goes to the background (inside a
    /// background task, so iOS gives it time to finish), and asks for a
    /// submission when it returns to the foreground.
    ///
    /// ```swift
    /// let lifecycle = AppLifecycleObserver(recorder: recorder)  // keep it alive
    /// ```
    public convenience init(recorder: KinesisRecorder, center: NotificationCenter = .default) {
        let delivery = BackgroundDelivery(recorder: recorder, backgroundTime: UIApplicationBackgroundTime())
        self.init(delivery: delivery, center: center, notifications: .uiKit, queue: .main)
    }
}

/// `UIApplication.beginBackgroundTask`: called on the main thread (lifecycle
/// notifications arrive there); ended from any thread.
final class UIApplicationBackgroundTime: BackgroundTimeProvider {
    func beginBackgroundTime(name: String, onExpiration: @escaping @Sendable () -> Void) -> Int? {
        let id = MainActor.assumeIsolated {
            UIApplication.shared.beginBackgroundTask(withName: name) { onExpiration() }
        }
        return id == .invalid ? nil : id.rawValue
    }

    func endBackgroundTime(_ token: Int) {
        let id = UIBackgroundTaskIdentifier(rawValue: token)
        if Thread.isMainThread {
            MainActor.assumeIsolated { UIApplication.shared.endBackgroundTask(id) }
        } else {
            Task { @MainActor in UIApplication.shared.endBackgroundTask(id) }
        }
    }
}
#endif
