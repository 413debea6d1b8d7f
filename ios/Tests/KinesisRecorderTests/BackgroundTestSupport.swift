import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
@testable import KinesisRecorder

// Fakes of the system's side of background delivery (what BGTaskScheduler,
// BGProcessingTask and UIApplication do on iOS), and a loopback server that
// never answers. Everything else in the background tests is real: the
// recorder, its SQLite file and kinesalite.

/// Records every request, cancellation and registration, and starts a
/// registered task when the test says the system would.
final class FakeScheduler: ProcessingTaskScheduler, @unchecked Sendable {
    private let lock = NSLock()
    private var handlers: [String: @Sendable (ProcessingTask) -> Void] = [:]
    private var submittedRequests: [ProcessingTaskRequest] = []
    private var pendingRequest: ProcessingTaskRequest?
    /// Thrown by `submit` when set (as BGTaskScheduler does when background
    /// tasks are unavailable).
    var submitError: Error?

    func register(identifier: String, launchHandler: @escaping @Sendable (ProcessingTask) -> Void) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        guard handlers[identifier] == nil else { return false }
        handlers[identifier] = launchHandler
        return true
    }

    func submit(_ request: ProcessingTaskRequest) throws {
        lock.lock()
        defer { lock.unlock() }
        if let submitError { throw submitError }
        submittedRequests.append(request)
        pendingRequest = request
    }

    func cancel(identifier: String) {
        lock.lock()
        defer { lock.unlock() }
        if pendingRequest?.identifier == identifier {
            pendingRequest = nil
        }
    }

    var registered: [String] {
        lock.lock()
        defer { lock.unlock() }
        return Array(handlers.keys)
    }

    var submitted: [ProcessingTaskRequest] {
        lock.lock()
        defer { lock.unlock() }
        return submittedRequests
    }

    /// The request the system would act on later; nil when none.
    var pending: ProcessingTaskRequest? {
        lock.lock()
        defer { lock.unlock() }
        return pendingRequest
    }

    /// What the system does when it runs a task: the pending request is
    /// consumed and the registered handler gets a new task.
    func launch(_ identifier: String) -> FakeTask {
        lock.lock()
        let handler = handlers[identifier]
        if pendingRequest?.identifier == identifier {
            pendingRequest = nil
        }
        lock.unlock()
        let task = FakeTask()
        handler?(task)
        return task
    }
}

final class FakeTask: ProcessingTask, @unchecked Sendable {
    private let lock = NSLock()
    private var expirationHandler: (@Sendable () -> Void)?
    private var completionCalls: [Bool] = []

    func setExpirationHandler(_ handler: @escaping @Sendable () -> Void) {
        lock.lock()
        defer { lock.unlock() }
        expirationHandler = handler
    }

    func setTaskCompleted(success: Bool) {
        lock.lock()
        defer { lock.unlock() }
        completionCalls.append(success)
    }

    /// Every `setTaskCompleted` call, in order.
    var completions: [Bool] {
        lock.lock()
        defer { lock.unlock() }
        return completionCalls
    }

    /// What the system does when the task's time is up.
    func expire() {
        lock.lock()
        let handler = expirationHandler
        lock.unlock()
        handler?()
    }
}

/// `beginBackgroundTask` / `endBackgroundTask`, counted.
final class FakeBackgroundTime: BackgroundTimeProvider, @unchecked Sendable {
    private let lock = NSLock()
    private var nextToken = 1
    private var names: [String] = []
    private var endedTokens: [Int] = []

    func beginBackgroundTime(name: String, onExpiration: @escaping @Sendable () -> Void) -> Int? {
        lock.lock()
        defer { lock.unlock() }
        names.append(name)
        nextToken += 1
        return nextToken
    }

    func endBackgroundTime(_ token: Int) {
        lock.lock()
        defer { lock.unlock() }
        endedTokens.append(token)
    }

    var begun: [String] {
        lock.lock()
        defer { lock.unlock() }
        return names
    }

    var ended: [Int] {
        lock.lock()
        defer { lock.unlock() }
        return endedTokens
    }
}

/// A TCP server on 127.0.0.1 that accepts connections and never answers: a
/// request to it stays in flight until the client gives up.
final class SilentServer: @unchecked Sendable {
    let port: UInt16
    private let listener: Int32
    private let lock = NSLock()
    private var connections: [Int32] = []

    init() throws {
        #if canImport(Glibc)
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let listener = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard listener >= 0 else { throw TestError.server("socket() failed: \(errno)") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let listening = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(listener, $0, length) == 0 && listen(listener, 16) == 0 && getsockname(listener, $0, &length) == 0
            }
        }
        guard listening else {
            close(listener)
            throw TestError.server("bind/listen on 127.0.0.1 failed: \(errno)")
        }
        self.listener = listener
        port = UInt16(bigEndian: address.sin_port)
        Thread.detachNewThread { [weak self] in
            while true {
                let connection = accept(listener, nil, nil)
                guard connection >= 0 else { return }
                guard let self else {
                    close(connection)
                    return
                }
                self.lock.lock()
                self.connections.append(connection)
                self.lock.unlock()
            }
        }
    }

    var endpoint: String { "http://127.0.0.1:\(port)" }

    var acceptedConnections: Int {
        lock.lock()
        defer { lock.unlock() }
        return connections.count
    }

    /// Closes the listener and every connection: clients see a reset, and
    /// new connections are refused.
    func stop() {
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
        lock.lock()
        let open = connections
        connections = []
        lock.unlock()
        for connection in open {
            close(connection)
        }
    }
}

/// A loopback port where nothing listens (connections are refused).
func closedLoopbackEndpoint() throws -> String {
    let server = try SilentServer()
    server.stop()
    return server.endpoint
}
