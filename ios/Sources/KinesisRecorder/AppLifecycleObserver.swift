import Foundation

/// The three moments of an app's life the recorder reacts to, as
/// notification names (UIKit's on iOS: see Apple/AppLifecycle+UIKit.swift).
struct LifecycleNotifications {
    var didEnterBackground: Notification.Name
    var willEnterForeground: Notification.Name
    var willTerminate: Notification.Name
}

/// Watches the app's lifecycle for one recorder:
///
/// - leaving the screen: commits queued saves and submits within the extra
///   time iOS gives (`beginBackgroundTask`), and, when created with a
///   background task identifier, asks for a `BGProcessingTask` (network
///   required) while records are pending, so they leave even if the app is
///   never opened again;
/// - back on the screen: asks for a submission;
/// - about to end: commits queued saves.
///
/// On iOS create it with `AppLifecycleObserver(recorder:)` or
/// `AppLifecycleObserver(recorder:backgroundTaskIdentifier:)` and keep it
/// alive; releasing it stops the observation (a registered background task
/// keeps working for the life of the process).
public final class AppLifecycleObserver {
    let delivery: BackgroundDelivery
    private let observers: ObserverTokens

    init(
        delivery: BackgroundDelivery,
        center: NotificationCenter,
        notifications: LifecycleNotifications,
        queue: OperationQueue?
    ) {
        self.delivery = delivery
        observers = ObserverTokens(center: center)
        observers.add(notifications.didEnterBackground, queue: queue) { delivery.appDidEnterBackground() }
        observers.add(notifications.willEnterForeground, queue: queue) { delivery.appWillEnterForeground() }
        observers.add(notifications.willTerminate, queue: queue) { delivery.appWillTerminate() }
    }

    /// Why the last request for a background task failed (for example:
    /// Background App Refresh turned off, or the simulator), nil once a
    /// request is accepted. The records wait for the next chance either way.
    public var schedulingFailure: Error? {
        delivery.schedulingFailure
    }
}

/// Removes the observers when the `AppLifecycleObserver` goes away.
private final class ObserverTokens {
    private let center: NotificationCenter
    private var tokens: [NSObjectProtocol] = []

    init(center: NotificationCenter) {
        self.center = center
    }

    func add(_ name: Notification.Name, queue: OperationQueue?, _ action: @escaping () -> Void) {
        tokens.append(center.addObserver(forName: name, object: nil, queue: queue) { _ in action() })
    }

    deinit {
        for token in tokens {
            center.removeObserver(token)
        }
    }
}
