import Foundation

/// Which networks the recorder may send on.
public enum NetworkPolicy: Sendable {
    /// Any network that reaches the internet.
    case any
    /// Only networks that are neither expensive (cellular, a personal
    /// hotspot) nor constrained (Low Data Mode), like Android's
    /// `unmeteredOnly`.
    case unmeteredOnly

    /// What a network path update means for delivery: true when the recorder
    /// may send.
    func allowsDelivery(_ path: NetworkPathStatus) -> Bool {
        guard path.satisfied else { return false }
        switch self {
        case .any:
            return true
        case .unmeteredOnly:
            return !path.isExpensive && !path.isConstrained
        }
    }
}

/// The parts of an `NWPath` the recorder looks at.
struct NetworkPathStatus: Equatable {
    /// `NWPath.status == .satisfied`: a route to the internet exists.
    var satisfied: Bool
    var isExpensive: Bool
    var isConstrained: Bool
}
