import Foundation

// The recorder's log (the Rust core's `tracing` events) for Swift: a closure
// as the core's `LogSink`. On Apple platforms `forwardLogsToOSLog()`
// (Apple/OSLog.swift) sends it to the unified log instead.

/// Sends the recorder's log lines at `level` or more severe to `handler`,
/// for every recorder of the process, replacing any previous sink
/// (`setLogSink(sink: nil, level: .error)` stops forwarding). The lines carry
/// stream names, counts and error texts, never record data or credentials.
///
/// `handler` runs on the thread that logged (often a recorder thread): return
/// quickly, and do not call the recorder from it.
public func setLogHandler(
    level: LogLevel = .info,
    _ handler: @escaping @Sendable (_ level: LogLevel, _ target: String, _ message: String) -> Void
) throws {
    try setLogSink(sink: ClosureLogSink(handler), level: level)
}

/// A closure as a `LogSink`.
public final class ClosureLogSink: LogSink {
    private let handler: @Sendable (LogLevel, String, String) -> Void

    public init(_ handler: @escaping @Sendable (LogLevel, String, String) -> Void) {
        self.handler = handler
    }

    public func log(level: LogLevel, target: String, message: String) {
        handler(level, target, message)
    }
}
