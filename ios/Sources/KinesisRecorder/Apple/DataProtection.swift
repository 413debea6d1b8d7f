#if os(iOS) || os(tvOS) || os(watchOS) || os(visionOS)
// Apple-only shell (never compiled on Linux): the store's data protection class.
import Foundation

extension FileManager {
    /// The store's folder and what is in it (stores created before, their `-wal`)
    /// are readable from the first unlock after a reboot on, screen locked or not,
    /// so background delivery can read them; files created later inherit it.
    func protectUntilFirstUnlock(_ folder: URL) throws {
        let attributes: [FileAttributeKey: Any] = [.protectionKey: FileProtectionType.completeUntilFirstUserAuthentication]
        try setAttributes(attributes, ofItemAtPath: folder.path)
        for name in try contentsOfDirectory(atPath: folder.path) {
            try setAttributes(attributes, ofItemAtPath: folder.appendingPathComponent(name).path)
        }
    }
}
#endif
