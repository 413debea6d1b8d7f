import Foundation

// Swift conveniences over the generated `KinesisRecorder` class. Every call
// forwards to the Rust core; nothing here decides anything.

extension KinesisRecorder {
    /// Opens (or creates) the store and starts the recorder's background threads.
    ///
    /// - Parameters:
    ///   - databasePath: the SQLite file; see `RecorderConfig.defaultDatabasePath()`.
    ///   - region: the AWS region, e.g. `"eu-west-1"`.
    ///   - service: where records go: Kinesis Data Streams (the default) or
    ///     Firehose. A store file belongs to one service.
    ///   - credentials: where signing credentials come from.
    ///   - configure: changes to the core's default configuration.
    public convenience init(
        databasePath: String,
        region: String,
        service: Service = .kinesisDataStreams,
        credentials: CredentialsProvider,
        configure: (inout RecorderConfig) -> Void = { _ in }
    ) throws {
        try self.init(
            config: RecorderConfig(databasePath: databasePath, region: region, service: service, configure),
            credentials: credentials
        )
    }

    /// A Firehose recorder: records go to delivery streams with
    /// `PutRecordBatch`, without partition keys, within Firehose's limits. Its
    /// store defaults to `RecorderConfig.defaultDatabasePath(for: .firehose)`,
    /// beside the Kinesis recorder's.
    public static func firehose(
        region: String,
        credentials: CredentialsProvider,
        databasePath: String? = nil,
        configure: (inout RecorderConfig) -> Void = { _ in }
    ) throws -> KinesisRecorder {
        try KinesisRecorder(
            databasePath: databasePath ?? RecorderConfig.defaultDatabasePath(for: .firehose),
            region: region, service: .firehose, credentials: credentials, configure: configure
        )
    }

    /// Validates and queues a record: no disk or network I/O on the calling
    /// thread, so the main actor may call it. A `nil` partition key becomes a
    /// random UUID (Firehose records take none).
    ///
    /// - Throws: `RecorderError.InvalidInput` (nothing stored), `.StorageFull`,
    ///   `.Overloaded` (try again shortly), `.ShutDown`.
    public func save(
        _ data: Data,
        to streamName: String,
        partitionKey: String? = nil,
        explicitHashKey: String? = nil
    ) throws {
        if let explicitHashKey {
            try saveRecordWithHashKey(
                data: data, streamName: streamName,
                partitionKey: partitionKey, explicitHashKey: explicitHashKey
            )
        } else {
            try saveRecord(data: data, streamName: streamName, partitionKey: partitionKey)
        }
    }

    /// Saves the UTF-8 bytes of `string`.
    public func save(_ string: String, to streamName: String, partitionKey: String? = nil) throws {
        try save(Data(string.utf8), to: streamName, partitionKey: partitionKey)
    }

    /// Saves `value` encoded as JSON.
    public func save<T: Encodable>(
        json value: T,
        to streamName: String,
        partitionKey: String? = nil,
        encoder: JSONEncoder = JSONEncoder()
    ) throws {
        try save(try encoder.encode(value), to: streamName, partitionKey: partitionKey)
    }

    /// Submits everything pending and returns what happened, by `deadline`
    /// (seconds) at the latest; the work runs on the recorder's own thread.
    /// The streams take turns, one batch each; what is not delivered by the
    /// deadline stays pending (`SubmitReport.deadlineReached`). Per-stream
    /// failures (stream not found, access denied, credentials unavailable,
    /// network) are in `SubmitReport.errors`; the records stay. A deadline of
    /// 0 or less throws `RecorderError.InvalidInput`.
    @discardableResult
    public func submit(within deadline: TimeInterval = 60) async throws -> SubmitReport {
        try await submitAllRecordsWithin(deadline: max(deadline, 0))
    }

    /// Commits queued saves to disk, then submits within `deadline` seconds.
    /// What an app does when it goes to the background (iOS gives about
    /// 30 s). Runs the blocking `flush()` off the caller's thread.
    @discardableResult
    public func flushAndSubmit(within deadline: TimeInterval = 60) async throws -> SubmitReport {
        try await Task.detached(priority: .utility) { [self] in try self.flush() }.value
        return try await submit(within: deadline)
    }

    /// The recorder's events as an `AsyncStream`.
    ///
    /// The recorder has one listener slot: this installs a new listener, which
    /// finishes the stream of any previous `events()` call (and replaces a
    /// listener set with `setListener`). The stream also finishes when the
    /// recorder is released. Events are produced on the recorder's threads and
    /// buffered here (newest `bufferSize` kept) so the recorder never waits
    /// for the consumer.
    public func events(bufferSize: Int = 256) -> AsyncStream<RecorderEvent> {
        let (stream, continuation) = AsyncStream.makeStream(
            of: RecorderEvent.self, bufferingPolicy: .bufferingNewest(bufferSize)
        )
        setListener(listener: ContinuationListener(continuation))
        return stream
    }

    /// Installs a closure as the listener. It runs on the recorder's event
    /// thread, one event at a time, in order; it may call the recorder back
    /// (`flush()`, `stats()`, `submit()`, `deleteAllRecords()`).
    public func setListener(_ onEvent: @escaping @Sendable (RecorderEvent) -> Void) {
        setListener(listener: ClosureListener(onEvent))
    }
}

/// Feeds an `AsyncStream`; finishes it when the core lets go of the listener
/// (replaced, or the recorder released).
final class ContinuationListener: RecorderListener {
    private let continuation: AsyncStream<RecorderEvent>.Continuation

    init(_ continuation: AsyncStream<RecorderEvent>.Continuation) {
        self.continuation = continuation
    }

    func onEvent(event: RecorderEvent) {
        continuation.yield(event)
    }

    deinit {
        continuation.finish()
    }
}

/// A closure as a `RecorderListener`.
public final class ClosureListener: RecorderListener {
    private let handler: @Sendable (RecorderEvent) -> Void

    public init(_ handler: @escaping @Sendable (RecorderEvent) -> Void) {
        self.handler = handler
    }

    public func onEvent(event: RecorderEvent) {
        handler(event)
    }
}

extension RecorderError {
    /// The core's explanation (what was wrong and how to fix it); `nil` for
    /// `.ShutDown`.
    public var reason: String? {
        switch self {
        case let .InvalidInput(reason), let .StorageFull(reason), let .Overloaded(reason),
             let .StorageFailure(reason), let .Network(reason), let .Credentials(reason):
            return reason
        case .ShutDown:
            return nil
        }
    }
}
