import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import XCTest
@testable import KinesisRecorder

/// moto (tests/servers/moto.sh): Kinesis, Cognito Identity, and Firehose with S3, on one port;
/// one server for the Cognito and Firehose tests.
///
/// `MOTO_ENDPOINT` (set by bindings/swift-test.sh, which starts moto on the
/// host when the tests run in a chroot without Python) wins; otherwise the
/// tests start it with `bash tests/servers/moto.sh 0` (after
/// `bash .ci/install-servers.sh`), and it exits with the test process.
final class MotoTestServer: @unchecked Sendable {
    static let shared = MotoTestServer()

    private let lock = NSLock()
    private var started: Result<String, Error>?
    #if os(macOS) || os(Linux)
    private var process: Process?
    private var stdinPipe: Pipe?
    #endif

    func endpoint() throws -> String {
        lock.lock()
        defer { lock.unlock() }
        if started == nil {
            started = Result { try start() }
        }
        return try started!.get()
    }

    private func start() throws -> String {
        if let endpoint = ProcessInfo.processInfo.environment["MOTO_ENDPOINT"], !endpoint.isEmpty {
            return endpoint
        }
        #if os(macOS) || os(Linux)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [repoRoot.appendingPathComponent("tests/servers/moto.sh").path, "0"]
        let stdout = Pipe()
        let stdin = Pipe()
        process.standardOutput = stdout
        process.standardInput = stdin
        try process.run()
        self.process = process
        self.stdinPipe = stdin  // moto.sh exits when this pipe closes
        var text = ""
        let handle = stdout.fileHandleForReading
        while true {
            if let line = text.split(separator: "\n").first(where: { $0.hasPrefix("LISTENING ") }),
               let port = Int(line.split(separator: " ").last ?? "") {
                return "http://127.0.0.1:\(port)"
            }
            let chunk = handle.availableData
            if chunk.isEmpty {
                throw TestError.server("""
                    moto exited before listening: set MOTO_ENDPOINT (bindings/swift-test.sh does) or run \
                    `bash .ci/install-servers.sh` so the tests can start tests/servers/moto.sh
                    """)
            }
            text += String(decoding: chunk, as: UTF8.self)
        }
        #else
        // No processes on iOS: the simulator gets moto from its host (TEST_RUNNER_MOTO_ENDPOINT).
        throw TestError.server("set MOTO_ENDPOINT to a moto server (tests/servers/moto.sh) on the host")
        #endif
    }

    #if os(macOS) || os(Linux)
    deinit {
        process?.terminate()
    }
    #endif
}

/// moto's Cognito Identity admin calls (signed calls: moto reads only the
/// credential scope).
struct CognitoAdmin {
    let endpoint: String

    func call(_ action: String, _ body: [String: Any]) async throws -> [String: Any] {
        var request = URLRequest(url: URL(string: endpoint)!)
        request.httpMethod = "POST"
        request.setValue("AWSCognitoIdentityService.\(action)", forHTTPHeaderField: "X-Amz-Target")
        request.setValue("application/x-amz-json-1.1", forHTTPHeaderField: "Content-Type")
        request.setValue(
            "AWS4-HMAC-SHA256 Credential=x/20200101/us-east-1/cognito-identity/aws4_request, SignedHeaders=host, Signature=0",
            forHTTPHeaderField: "Authorization")
        request.httpBody = try JSONSerialization.data(withJSONObject: body)
        let (data, status): (Data, Int) = try await withCheckedThrowingContinuation { continuation in
            URLSession.shared.dataTask(with: request) { data, response, error in
                if let error {
                    continuation.resume(throwing: error)
                } else {
                    continuation.resume(returning: (data ?? Data(), (response as? HTTPURLResponse)?.statusCode ?? 0))
                }
            }.resume()
        }
        guard status == 200 else {
            throw TestError.server("\(action) failed with HTTP \(status): \(String(decoding: data, as: UTF8.self))")
        }
        return (try JSONSerialization.jsonObject(with: data) as? [String: Any]) ?? [:]
    }

    func newIdentityPool() async throws -> String {
        let answer = try await call("CreateIdentityPool", [
            "IdentityPoolName": "swift_\(UUID().uuidString.prefix(8))", "AllowUnauthenticatedIdentities": true,
        ])
        guard let pool = answer["IdentityPoolId"] as? String else { throw TestError.server("no pool in \(answer)") }
        return pool
    }

    func identityCount(_ pool: String) async throws -> Int {
        let answer = try await call("ListIdentities", ["IdentityPoolId": pool, "MaxResults": 60])
        return (answer["Identities"] as? [Any])?.count ?? 0
    }
}

/// The logins closure's calls.
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    var value: Int { lock.lock(); defer { lock.unlock() }; return count }
    func increment() { lock.lock(); defer { lock.unlock() }; count += 1 }
}

/// The built-in Cognito Identity provider from Swift, against moto.
final class CognitoTests: XCTestCase {
    func testGuestThenSignedInUserKeepOneIdentityAndDeliver() async throws {
        let endpoint = try MotoTestServer.shared.endpoint()
        let cognito = CognitoAdmin(endpoint: endpoint)
        let kinesis = KinesisHTTP(endpoint: endpoint)
        let pool = try await cognito.newIdentityPool()
        let stream = uniqueStreamName("cognito")
        try await kinesis.createStream(stream)
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("records.db").path
        func recorder(_ credentials: CredentialsProvider) throws -> KinesisRecorder {
            try KinesisRecorder(databasePath: path, region: "us-east-1", credentials: credentials) {
                $0.endpoint = endpoint
                $0.autoSubmit = false
            }
        }

        let guest = try recorder(try cognitoCredentials(identityPoolId: pool, region: "us-east-1", endpoint: endpoint))
        for i in 0..<4 { try guest.save("guest \(i)", to: stream) }
        let first = try await guest.submit()
        XCTAssertTrue(first.errors.isEmpty, "\(first.errors)")
        XCTAssertEqual(first.recordsSubmitted, 4)
        guest.shutdown()

        let calls = Counter()
        let user = try recorder(try cognitoCredentials(identityPoolId: pool, region: "us-east-1", endpoint: endpoint) {
            calls.increment()
            try await Task.sleep(nanoseconds: 1_000_000)
            return ["cognito-idp.us-east-1.amazonaws.com/us-east-1_SwiftTest": "id-token"]
        })
        for i in 0..<3 { try user.save("user \(i)", to: stream) }
        let second = try await user.submit()
        XCTAssertTrue(second.errors.isEmpty, "\(second.errors)")
        XCTAssertEqual(second.recordsSubmitted, 3)
        user.shutdown()

        XCTAssertEqual(calls.value, 1, "the logins closure was asked")
        let delivered = try await kinesis.allRecords(stream)
        XCTAssertEqual(delivered.count, 7)
        let identities = try await cognito.identityCount(pool)
        XCTAssertEqual(identities, 1, "one identity for both recorders")
    }

    func testAMalformedPoolIdIsRefusedAtOnce() {
        assertInvalidInput("not a pool id") { _ = try cognitoCredentials(identityPoolId: "my-pool", region: "us-east-1") }
        assertInvalidInput("another region") {
            _ = try cognitoCredentials(identityPoolId: "eu-west-1:0a1b2c3d", region: "us-east-1")
        }
    }
}
