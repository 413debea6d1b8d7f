import Foundation

extension RecorderConfig {
    /// The core's defaults for a store file, a region and a service (Kinesis
    /// Data Streams unless you say otherwise), then your changes:
    ///
    /// ```swift
    /// let config = RecorderConfig(databasePath: path, region: "eu-west-1") {
    ///     $0.maxStorageBytes = 20 * 1024 * 1024
    ///     $0.submitInterval = 60
    /// }
    /// let firehose = RecorderConfig(databasePath: other, region: "eu-west-1", service: .firehose) {
    ///     $0.newlineDelimited = true
    /// }
    /// ```
    ///
    /// Every default comes from the Rust core (`defaultRecorderConfig`); none
    /// is restated in Swift. The size limits follow the service (Firehose:
    /// 1,000 KiB records, 4 MiB requests), so choose it here, not in `configure`.
    public init(
        databasePath: String, region: String, service: Service = .kinesisDataStreams,
        _ configure: (inout RecorderConfig) -> Void = { _ in }
    ) {
        self = defaultRecorderConfig(databasePath: databasePath, region: region, service: service)
        configure(&self)
    }

    /// A store file in Application Support (`<Application Support>/KinesisRecorder/<name>`),
    /// which the OS never purges, unlike the caches or temporary directory the
    /// old `AWSKinesisRecorder` used. Creates the folder if needed. Kept out of
    /// iCloud/iTunes backups: the records are transient.
    public static func defaultDatabasePath(fileName: String = "kinesis-records.db") throws -> String {
        var folder = try FileManager.default.url(
            for: .applicationSupportDirectory, in: .userDomainMask, appropriateFor: nil, create: true
        ).appendingPathComponent("KinesisRecorder", isDirectory: true)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        #if os(iOS) || os(tvOS) || os(watchOS) || os(visionOS)
        var values = URLResourceValues()
        values.isExcludedFromBackup = true
        try? folder.setResourceValues(values)
        #endif
        return folder.appendingPathComponent(fileName).path
    }

    /// The default store of `service`: `kinesis-records.db`, or
    /// `firehose-records.db` for Firehose, so both recorders can run side by side.
    public static func defaultDatabasePath(for service: Service) throws -> String {
        switch service {
        case .kinesisDataStreams: return try defaultDatabasePath()
        case .firehose: return try defaultDatabasePath(fileName: "firehose-records.db")
        }
    }
}
