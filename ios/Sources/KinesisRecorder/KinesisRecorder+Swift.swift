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
        try await awaitFlush()
        return try await submit(within: deadline)
    }

    /// `flush()` (waits for the disk) off the caller's thread, so the main
    /// actor never blocks on it. Like Kotlin's `awaitFlush()`.
    public func awaitFlush() async throws {
        try await Task.detached(priority: .utility) { [self] in try self.flush() }.value
    }

    /// `deleteAllRecords()` (waits for the disk) off the caller's thread.
    /// Returns how many records were deleted.
    @discardableResult
    public func awaitDeleteAllRecords() async throws -> UInt64 {
        try await Task.detached(priority: .utility) { [self] in try self.deleteAllRecords() }.value
    }

    /// The recorder's events, from the moment of the call, while the stream
    /// is iterated. Any number of streams may be open at once; each gets every
    /// event (the same contract as Kotlin's `events()` flow).
    ///
    /// Every stream buffers without bound, so the recorder's threads never
    /// wait for a slow consumer and no event is dropped (events are per batch
    /// and per failure, not per record). A stream finishes when its task is
    /// cancelled or the recorder is released. The recorder's one listener slot
    /// is used for this: do not also call `setListener` on the same recorder.
    public func events() -> AsyncStream<RecorderEvent> {
        let (stream, continuation) = AsyncStream.makeStream(of: RecorderEvent.self, bufferingPolicy: .unbounded)
        EventHub.of(self).subscribe(continuation, recorder: self)
        return stream
    }

    /// Installs a closure as the listener. It runs on the recorder's event
    /// thread, one event at a time, in order; it may call the recorder back
    /// (`flush()`, `stats()`, `submit()`, `deleteAllRecords()`).
    public func setListener(_ onEvent: @escaping @Sendable (RecorderEvent) -> Void) {
        setListener(listener: ClosureListener(onEvent))
    }
}

/// Fans the recorder's single listener out to every stream of `events()`.
/// The core holds it while a stream is open; when the recorder is released
/// the core lets go of it and every stream finishes.
final class EventHub: RecorderListener, @unchecked Sendable {
    // @unchecked: `streams` and `recorder` are only touched under `lock`.
    private let lock = NSLock()
    private var streams: [UUID: AsyncStream<RecorderEvent>.Continuation] = [:]
    private weak var recorder: KinesisRecorder?

    private static let hubsLock = NSLock()
    /// One hub per recorder while it has streams; weak, so neither outlives the other.
    private static var hubs: [ObjectIdentifier: WeakHub] = [:]

    private struct WeakHub {
        weak var hub: EventHub?
    }

    static func of(_ recorder: KinesisRecorder) -> EventHub {
        hubsLock.lock()
        defer { hubsLock.unlock() }
        hubs = hubs.filter { $0.value.hub != nil }
        let key = ObjectIdentifier(recorder)
        // A hub left by a released recorder at the same address is not this one's.
        if let hub = hubs[key]?.hub, hub.belongs(to: recorder) {
            return hub
        }
        let hub = EventHub()
        hub.recorder = recorder
        hubs[key] = WeakHub(hub: hub)
        return hub
    }

    private func belongs(to recorder: KinesisRecorder) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        return self.recorder === recorder
    }

    func subscribe(_ continuation: AsyncStream<RecorderEvent>.Continuation, recorder: KinesisRecorder) {
        let id = UUID()
        continuation.onTermination = { [weak self] _ in self?.unsubscribe(id) }
        lock.lock()
        defer { lock.unlock() }
        if streams.isEmpty {
            recorder.setListener(listener: self)
        }
        streams[id] = continuation
    }

    private func unsubscribe(_ id: UUID) {
        lock.lock()
        defer { lock.unlock() }
        if streams.removeValue(forKey: id) != nil, streams.isEmpty {
            recorder?.setListener(listener: nil)
        }
    }

    func onEvent(event: RecorderEvent) {
        lock.lock()
        let open = Array(streams.values)
        lock.unlock()
        for stream in open {
            stream.yield(event)
        }
    }

    deinit {
        for stream in streams.values {
            stream.finish()
        }
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
