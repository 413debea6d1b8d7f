#if canImport(Network)
import Foundation
import Network

/// Tells the recorder when the network comes and goes (`NWPathMonitor`), so
/// submission stops while offline without burning retries and starts as soon
/// as the network is back.
///
/// ```swift
/// let monitor = NetworkAvailabilityMonitor(recorder: recorder)
/// monitor.start()
/// ```
public final class NetworkAvailabilityMonitor: @unchecked Sendable {
    // @unchecked: `monitor` and `recorder` are immutable references to
    // thread-safe objects; NWPathMonitor calls back on `queue` only.
    private let monitor: NWPathMonitor
    private let recorder: KinesisRecorder
    private let queue = DispatchQueue(label: "dev.kinesisrecorder.network-monitor")

    /// - Parameter requiredInterfaceType: watch only this interface type (for
    ///   example `.wifi` to send only on Wi-Fi); `nil` watches every interface.
    public init(recorder: KinesisRecorder, requiredInterfaceType: NWInterface.InterfaceType? = nil) {
        self.recorder = recorder
        if let requiredInterfaceType {
            monitor = NWPathMonitor(requiredInterfaceType: requiredInterfaceType)
        } else {
            monitor = NWPathMonitor()
        }
    }

    /// Starts watching; the first path update arrives at once.
    public func start() {
        let recorder = self.recorder
        monitor.pathUpdateHandler = { path in
            recorder.setNetworkAvailable(available: path.status == .satisfied)
        }
        monitor.start(queue: queue)
    }

    /// Stops watching (an `NWPathMonitor` cannot be restarted: create a new one).
    public func cancel() {
        monitor.cancel()
    }

    deinit {
        monitor.cancel()
    }
}

extension KinesisRecorder {
    /// Starts a `NetworkAvailabilityMonitor` for this recorder. Keep the
    /// returned monitor alive as long as it should run.
    public func monitorNetworkAvailability(
        requiredInterfaceType: NWInterface.InterfaceType? = nil
    ) -> NetworkAvailabilityMonitor {
        let monitor = NetworkAvailabilityMonitor(recorder: self, requiredInterfaceType: requiredInterfaceType)
        monitor.start()
        return monitor
    }
}
#endif
