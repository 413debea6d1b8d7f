#if canImport(Network)
// Apple-only shell (never compiled on Linux): NWPathMonitor -> NetworkPolicy
// (NetworkPolicy.swift, tested on Linux) -> setNetworkAvailable.
import Foundation
import Network

/// Tells the recorder when the network comes and goes (`NWPathMonitor`), so
/// submission stops while offline without burning retries and starts as soon
/// as the network is back.
///
/// ```swift
/// let monitor = NetworkAvailabilityMonitor(recorder: recorder, policy: .unmeteredOnly)
/// monitor.start()
/// ```
public final class NetworkAvailabilityMonitor: @unchecked Sendable {
    // @unchecked: immutable references to thread-safe objects; NWPathMonitor
    // calls back on `queue` only.
    private let monitor: NWPathMonitor
    private let recorder: KinesisRecorder
    private let policy: NetworkPolicy
    private let queue = DispatchQueue(label: "dev.kinesisrecorder.network-monitor")

    /// - Parameters:
    ///   - policy: `.unmeteredOnly` sends only on networks that are neither
    ///     expensive (cellular, hotspot) nor constrained (Low Data Mode).
    ///   - requiredInterfaceType: watch only this interface type (for
    ///     example `.wifi`); `nil` watches every interface.
    public init(
        recorder: KinesisRecorder,
        policy: NetworkPolicy = .any,
        requiredInterfaceType: NWInterface.InterfaceType? = nil
    ) {
        self.recorder = recorder
        self.policy = policy
        if let requiredInterfaceType {
            monitor = NWPathMonitor(requiredInterfaceType: requiredInterfaceType)
        } else {
            monitor = NWPathMonitor()
        }
    }

    /// Starts watching; the first path update arrives at once.
    public func start() {
        let recorder = recorder
        let policy = policy
        monitor.pathUpdateHandler = { path in
            let status = NetworkPathStatus(
                satisfied: path.status == .satisfied, isExpensive: path.isExpensive, isConstrained: path.isConstrained
            )
            recorder.setNetworkAvailable(available: policy.allowsDelivery(status))
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
        policy: NetworkPolicy = .any,
        requiredInterfaceType: NWInterface.InterfaceType? = nil
    ) -> NetworkAvailabilityMonitor {
        let monitor = NetworkAvailabilityMonitor(
            recorder: self, policy: policy, requiredInterfaceType: requiredInterfaceType
        )
        monitor.start()
        return monitor
    }
}
#endif
