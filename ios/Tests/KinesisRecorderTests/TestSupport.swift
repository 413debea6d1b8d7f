import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import XCTest
@testable import KinesisRecorder

/// The repository root, from this file's location (ios/Tests/KinesisRecorderTests/).
let repoRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent()

enum TestError: Error, CustomStringConvertible {
    case server(String)
    var description: String {
        switch self { case let .server(message): return message }
    }
}

/// A real local Kinesis server (kinesalite, tests/servers/kinesalite.js).
///
/// `KINESIS_ENDPOINT` (set by bindings/swift-test.sh, which starts kinesalite
/// on the host when the tests run in a chroot without node) wins; otherwise
/// the tests start kinesalite themselves with `node` from PATH (or `NODE`),
/// and it exits with the test process (its stdin is a pipe we hold).
final class KinesisTestServer: @unchecked Sendable {
    static let shared = KinesisTestServer()

    private let lock = NSLock()
    private var started: Result<String, Error>?
    private var process: Process?
    private var stdinPipe: Pipe?

    func endpoint() throws -> String {
        lock.lock()
        defer { lock.unlock() }
        if started == nil {
            started = Result { try start() }
        }
        return try started!.get()
    }

    private func start() throws -> String {
        let env = ProcessInfo.processInfo.environment
        if let endpoint = env["KINESIS_ENDPOINT"], !endpoint.isEmpty {
            return endpoint
        }
        let script = repoRoot.appendingPathComponent("tests/servers/kinesalite.js")
        guard let node = env["NODE"] ?? Self.which("node", path: env["PATH"] ?? "") else {
            throw TestError.server("""
                No Kinesis server: set KINESIS_ENDPOINT (bindings/swift-test.sh does) or put node on PATH \
                (and run `bash .ci/install-servers.sh` once) so the tests can start \(script.path)
                """)
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: node)
        process.arguments = [script.path, "0"]
        let stdout = Pipe()
        let stdin = Pipe()
        process.standardOutput = stdout
        process.standardInput = stdin
        try process.run()
        self.process = process
        self.stdinPipe = stdin  // kinesalite.js exits when this pipe closes
        // Read the `LISTENING <port>` line.
        var line = Data()
        let handle = stdout.fileHandleForReading
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = handle.availableData
            if chunk.isEmpty {
                throw TestError.server("kinesalite exited before listening (status \(process.terminationStatus))")
            }
            line.append(chunk)
        }
        let text = String(decoding: line, as: UTF8.self)
        guard let portText = text.split(separator: "\n").first?.split(separator: " ").last,
              text.hasPrefix("LISTENING "), let port = Int(portText) else {
            throw TestError.server("unexpected kinesalite output: \(text)")
        }
        return "http://127.0.0.1:\(port)"
    }

    private static func which(_ name: String, path: String) -> String? {
        for dir in path.split(separator: ":") {
            let candidate = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    deinit {
        process?.terminate()
    }
}

/// Plain HTTP calls to the Kinesis JSON API, to set up streams and read back
/// what the recorder sent. Kinesalite checks that an Authorization header is
/// there, not the signature.
struct KinesisHTTP {
    let endpoint: String
    /// Streams created through this client, to delete after the test.
    let createdStreams = Collector<String>()

    func call(_ target: String, _ body: [String: Any]) async throws -> [String: Any] {
        var request = URLRequest(url: URL(string: endpoint)!)
        request.httpMethod = "POST"
        request.setValue("Kinesis_20131202.\(target)", forHTTPHeaderField: "X-Amz-Target")
        request.setValue("application/x-amz-json-1.1", forHTTPHeaderField: "Content-Type")
        request.setValue("20200101T000000Z", forHTTPHeaderField: "X-Amz-Date")
        request.setValue(
            "AWS4-HMAC-SHA256 Credential=x/20200101/us-east-1/kinesis/aws4_request, SignedHeaders=host, Signature=0",
            forHTTPHeaderField: "Authorization")
        request.httpBody = try JSONSerialization.data(withJSONObject: body)
        let (data, status) = try await Self.send(request)
        guard status == 200 else {
            throw TestError.server("\(target) failed with HTTP \(status): \(String(decoding: data, as: UTF8.self))")
        }
        if data.isEmpty { return [:] }
        return (try JSONSerialization.jsonObject(with: data) as? [String: Any]) ?? [:]
    }

    /// URLSession's completion-handler API: available in every Foundation.
    private static func send(_ request: URLRequest) async throws -> (Data, Int) {
        try await withCheckedThrowingContinuation { continuation in
            URLSession.shared.dataTask(with: request) { data, response, error in
                if let error {
                    continuation.resume(throwing: error)
                } else {
                    let status = (response as? HTTPURLResponse)?.statusCode ?? 0
                    continuation.resume(returning: (data ?? Data(), status))
                }
            }.resume()
        }
    }

    func createStream(_ name: String, shards: Int = 1) async throws {
        _ = try await call("CreateStream", ["StreamName": name, "ShardCount": shards])
        createdStreams.append(name)
        // kinesalite.js makes streams ACTIVE at once; wait for it anyway.
        for _ in 0..<100 {
            let description = try await call("DescribeStream", ["StreamName": name])
            let status = (description["StreamDescription"] as? [String: Any])?["StreamStatus"] as? String
            if status == "ACTIVE" { return }
            try await Task.sleep(nanoseconds: 50_000_000)
        }
        throw TestError.server("stream \(name) never became ACTIVE")
    }

    func shardIds(_ stream: String) async throws -> [String] {
        let description = try await call("DescribeStream", ["StreamName": stream])
        let shards = (description["StreamDescription"] as? [String: Any])?["Shards"] as? [[String: Any]] ?? []
        return shards.compactMap { $0["ShardId"] as? String }
    }

    struct Record: Hashable {
        let data: Data
        let partitionKey: String
    }

    /// Every record of one shard, oldest first.
    func records(_ stream: String, shard: String) async throws -> [Record] {
        let iterator = try await call("GetShardIterator", [
            "StreamName": stream, "ShardId": shard, "ShardIteratorType": "TRIM_HORIZON",
        ])
        var next = iterator["ShardIterator"] as? String
        var result: [Record] = []
        var emptyReads = 0
        while let current = next, emptyReads < 2 {
            let page = try await call("GetRecords", ["ShardIterator": current, "Limit": 10000])
            let records = page["Records"] as? [[String: Any]] ?? []
            emptyReads = records.isEmpty ? emptyReads + 1 : 0
            for record in records {
                guard let base64 = record["Data"] as? String, let data = Data(base64Encoded: base64),
                      let key = record["PartitionKey"] as? String else {
                    throw TestError.server("malformed record \(record)")
                }
                result.append(Record(data: data, partitionKey: key))
            }
            next = page["NextShardIterator"] as? String
        }
        return result
    }

    /// Every record of every shard.
    func allRecords(_ stream: String) async throws -> [Record] {
        var all: [Record] = []
        for shard in try await shardIds(stream) {
            all += try await records(stream, shard: shard)
        }
        return all
    }
}

/// A fresh temporary directory per test, removed afterwards.
func makeTemporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("kinesis-recorder-swift-tests-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

func uniqueStreamName(_ prefix: String = "swift") -> String {
    "\(prefix)-\(UUID().uuidString.prefix(8).lowercased())"
}

/// Thread-safe collector of values produced on the recorder's threads.
final class Collector<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [T] = []

    func append(_ item: T) {
        lock.lock(); defer { lock.unlock() }
        items.append(item)
    }

    var values: [T] {
        lock.lock(); defer { lock.unlock() }
        return items
    }
}

/// A Swift credentials provider that counts its calls.
final class CountingCredentials: CredentialsProvider, @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0

    var calls: Int {
        lock.lock(); defer { lock.unlock() }
        return count
    }

    private func increment() {
        lock.lock(); defer { lock.unlock() }
        count += 1
    }

    func credentials() async throws -> AwsCredentials {
        increment()
        // Real providers await something (Cognito, a backend); so does this one.
        try await Task.sleep(nanoseconds: 1_000_000)
        return AwsCredentials(accessKeyId: "AKIDSWIFT", secretAccessKey: "swift-secret", sessionToken: "tok", expiration: nil)
    }
}

/// Polls `condition` until it holds or `timeout` passes.
func eventually(timeout: TimeInterval = 5, _ condition: () -> Bool) async -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if condition() { return true }
        try? await Task.sleep(nanoseconds: 10_000_000)
    }
    return condition()
}

/// Asserts that `body` throws `RecorderError.InvalidInput`.
func assertInvalidInput(
    _ what: String, file: StaticString = #filePath, line: UInt = #line, _ body: () throws -> Void
) {
    do {
        try body()
        XCTFail("\(what): expected RecorderError.InvalidInput, nothing was thrown", file: file, line: line)
    } catch let error as RecorderError {
        guard case .InvalidInput = error else {
            return XCTFail("\(what): expected InvalidInput, got \(error)", file: file, line: line)
        }
    } catch {
        XCTFail("\(what): expected RecorderError, got \(type(of: error)): \(error)", file: file, line: line)
    }
}
