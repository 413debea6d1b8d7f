import Foundation

extension RecorderConfig {
    /// The core's defaults for a store file and a region, then your changes:
    ///
    /// ```swift
    /// let config = RecorderConfig(databasePath: path, region: "eu-west-1") {
    ///     $0.maxStorageBytes = 20 * 1024 * 1024
    ///     $0.submitInterval = 60
    /// }
    /// ```
    ///
    /// Every default comes from the Rust core (`defaultRecorderConfig`); none is
    /// restated in Swift.
    public init(databasePath: String, region: String, _ configure: (inout RecorderConfig) -> Void = { _ in }) {
        self = defaultRecorderConfig(databasePath: databasePath, region: region)
        configure(&self)
    }

    /// A store file in Application Support (`<Application Support>/KinesisRecorder/<name>`),
    /// which the OS never purges, unlike the caches or temporary directory the
    /// old `AWSKinesisRecorder` used. Creates the folder if needed. Kept out of
    /// iCloud/iTunes backups: the records are transient. On iOS the folder's data
    /// protection is `completeUntilFirstUserAuthentication`, whatever the app's
    /// default: background delivery can read the store while the device is
    /// locked (after the first unlock since boot).
    public static func defaultDatabasePath(fileName: String = "kinesis-records.db") throws -> String {
        var folder = try FileManager.default.url(
            for: .applicationSupportDirectory, in: .userDomainMask, appropriateFor: nil, create: true
        ).appendingPathComponent("KinesisRecorder", isDirectory: true)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        #if os(iOS) || os(tvOS) || os(watchOS) || os(visionOS)
        var values = URLResourceValues()
        values.isExcludedFromBackup = true
        try? folder.setResourceValues(values)
        try FileManager.default.protectUntilFirstUnlock(folder)
        #endif
        return folder.appendingPathComponent(fileName).path
    }
}
