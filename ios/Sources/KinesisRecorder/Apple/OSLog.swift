#if canImport(os)
// Apple-only shell (never compiled on Linux): the core's log lines to
// os.Logger. The forwarding itself (setLogSink, level filter) is tested on
// Linux with a Swift sink.
import Foundation
import os

/// Writes the recorder's log lines to the unified log (Xcode's console,
/// Console.app, `log stream --predicate 'subsystem == "dev.kinesisrecorder"'`),
/// as public text: they hold stream names, counts and error texts, never
/// record data or credentials.
public final class OSLogSink: LogSink {
    private let logger: Logger

    public init(subsystem: String = "dev.kinesisrecorder", category: String = "recorder") {
        logger = Logger(subsystem: subsystem, category: category)
    }

    public func log(level: LogLevel, target: String, message: String) {
        logger.log(level: level.osLogType, "\(message, privacy: .public)")
    }
}

extension LogLevel {
    /// Errors as errors, warnings as notices (kept on disk), the rest as info / debug.
    var osLogType: OSLogType {
        switch self {
        case .error: return .error
        case .warn: return .default
        case .info: return .info
        case .debug, .trace: return .debug
        }
    }
}

/// Sends the recorder's log lines at `level` or more severe to `os.Logger`
/// (subsystem `dev.kinesisrecorder` unless you name yours).
public func forwardLogsToOSLog(level: LogLevel = .info, subsystem: String = "dev.kinesisrecorder") throws {
    try setLogSink(sink: OSLogSink(subsystem: subsystem), level: level)
}
#endif
