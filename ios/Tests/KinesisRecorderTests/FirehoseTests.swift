import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import XCTest
@testable import KinesisRecorder

/// moto's Firehose and S3 in plain HTTP: a bucket and a delivery stream to
/// set up, the S3 objects to read back (signed calls: moto reads only the
/// credential scope).
struct FirehoseS3Admin {
    let endpoint: String

    private func send(_ method: String, _ path: String, service: String, target: String? = nil,
                      body: [String: Any]? = nil) async throws -> Data {
        var request = URLRequest(url: URL(string: endpoint + path)!)
        request.httpMethod = method
        request.setValue(
            "AWS4-HMAC-SHA256 Credential=x/20200101/us-east-1/\(service)/aws4_request, SignedHeaders=host, Signature=0",
            forHTTPHeaderField: "Authorization")
        if let target {
            request.setValue(target, forHTTPHeaderField: "X-Amz-Target")
            request.setValue("application/x-amz-json-1.1", forHTTPHeaderField: "Content-Type")
        }
        if let body {
            request.httpBody = try JSONSerialization.data(withJSONObject: body)
        }
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
            throw TestError.server("\(method) \(path) failed with HTTP \(status): \(String(decoding: data, as: UTF8.self))")
        }
        return data
    }

    /// A bucket and a Direct PUT delivery stream writing to it under `<stream>/`.
    func createDeliveryStream(_ stream: String, bucket: String) async throws {
        _ = try await send("PUT", "/\(bucket)", service: "s3")
        _ = try await send("POST", "/", service: "firehose", target: "Firehose_20150804.CreateDeliveryStream", body: [
            "DeliveryStreamName": stream,
            "DeliveryStreamType": "DirectPut",
            "ExtendedS3DestinationConfiguration": [
                "RoleARN": "arn:aws:iam::123456789012:role/firehose-test",
                "BucketARN": "arn:aws:s3:::\(bucket)",
                "Prefix": "\(stream)/",
            ],
        ])
    }

    /// The objects under `<stream>/`, in key order: moto writes one per call.
    func objects(_ stream: String, bucket: String) async throws -> [Data] {
        let listing = String(decoding: try await send("GET", "/\(bucket)?list-type=2&prefix=\(stream)/", service: "s3"),
                             as: UTF8.self)
        let keys = listing.components(separatedBy: "<Key>").dropFirst()
            .compactMap { $0.components(separatedBy: "</Key>").first }.sorted()
        var bodies: [Data] = []
        for key in keys {
            bodies.append(try await send("GET", "/\(bucket)/\(key)", service: "s3"))
        }
        return bodies
    }
}

/// The Firehose recorder from Swift: a round trip through moto's Firehose to
/// S3, its own default store, and its bad inputs.
final class FirehoseTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = try makeTemporaryDirectory()
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    private let credentials = StaticCredentials(accessKeyId: "AKIDSWIFT", secretAccessKey: "swift-secret")

    private func firehose(_ name: String = "firehose.db", endpoint: String = "http://127.0.0.1:9",
                          _ configure: (inout RecorderConfig) -> Void = { _ in }) throws -> KinesisRecorder {
        try KinesisRecorder.firehose(
            region: "us-east-1", credentials: credentials,
            databasePath: directory.appendingPathComponent(name).path
        ) {
            $0.endpoint = endpoint
            $0.autoSubmit = false
            configure(&$0)
        }
    }

    func testRecordsReachS3ThroughMoto() async throws {
        let endpoint = try MotoTestServer.shared.endpoint()
        let admin = FirehoseS3Admin(endpoint: endpoint)
        let stream = uniqueStreamName("swift-firehose")
        let bucket = "swift-\(UUID().uuidString.prefix(8).lowercased())"
        try await admin.createDeliveryStream(stream, bucket: bucket)

        let recorder = try firehose(endpoint: endpoint) { $0.newlineDelimited = true }
        try recorder.save(#"{"event":"open"}"#, to: stream)
        try recorder.save(json: ["event": "tap"], to: stream)
        try recorder.save(Data([0x00, 0xff, 0x7b]), to: stream)
        let report = try await recorder.submit()
        XCTAssertEqual(report.recordsSubmitted, 3, "\(report)")
        XCTAssertEqual(report.requests, 1)
        XCTAssertEqual(try recorder.stats().pendingRecords, 0)

        let objects = try await admin.objects(stream, bucket: bucket)
        XCTAssertEqual(objects.count, 1)
        var expected = Data(#"{"event":"open"}"#.utf8) + Data("\n".utf8)
        expected += try JSONEncoder().encode(["event": "tap"]) + Data("\n".utf8)
        expected += Data([0x00, 0xff, 0x7b, 0x0a])
        XCTAssertEqual(objects.first, expected, "every byte, one record per line")
    }

    func testTheConfigurationAndTheStoreFollowTheService() throws {
        let config = RecorderConfig(databasePath: "/tmp/f.db", region: "eu-west-1", service: .firehose)
        XCTAssertEqual(config.service, .firehose)
        XCTAssertEqual(config.maxRecordBytes, 1_024_000)
        XCTAssertEqual(config.maxRequestBytes, 4 * 1024 * 1024)
        XCTAssertEqual(RecorderConfig(databasePath: "/tmp/k.db", region: "eu-west-1").service, .kinesisDataStreams)
        let kinesisPath = try RecorderConfig.defaultDatabasePath(for: .kinesisDataStreams)
        let firehosePath = try RecorderConfig.defaultDatabasePath(for: .firehose)
        XCTAssertNotEqual(kinesisPath, firehosePath, "both recorders can run side by side")
        XCTAssertTrue(firehosePath.hasSuffix("firehose-records.db"), firehosePath)
    }

    func testBadInputsThrowInvalidInputAndStoreNothing() throws {
        let recorder = try firehose()
        assertInvalidInput("a partition key") { try recorder.save("x", to: "d", partitionKey: "k") }
        assertInvalidInput("an explicit hash key") {
            try recorder.save(Data("x".utf8), to: "d", explicitHashKey: "7")
        }
        assertInvalidInput("a record over 1,000 KiB") { try recorder.save(Data(count: 1_024_001), to: "d") }
        assertInvalidInput("a 65-character delivery stream name") {
            try recorder.save("x", to: String(repeating: "d", count: 65))
        }
        try recorder.flush()
        XCTAssertEqual(try recorder.stats().pendingRecords, 0)
        assertInvalidInput("CBOR") { _ = try self.firehose("cbor.db") { $0.wireFormat = .cbor } }
    }

    func testAStoreOfTheOtherServiceIsRefusedAndKept() throws {
        let path = directory.appendingPathComponent("shared.db").path
        do {
            let kinesis = try KinesisRecorder(databasePath: path, region: "us-east-1", credentials: credentials) {
                $0.autoSubmit = false
            }
            try kinesis.save("kept", to: "s")
            kinesis.shutdown()
        }
        do {
            _ = try firehose("shared.db")
            XCTFail("a Kinesis store was opened for Firehose")
        } catch let RecorderError.InvalidInput(reason) {
            XCTAssertTrue(reason.contains("Kinesis Data Streams") && reason.contains("Firehose"), reason)
        }
        let kinesis = try KinesisRecorder(databasePath: path, region: "us-east-1", credentials: credentials) {
            $0.autoSubmit = false
        }
        XCTAssertEqual(try kinesis.stats().pendingRecords, 1, "the store was kept")
    }
}
