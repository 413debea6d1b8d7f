import Foundation

/// Fixed credentials: devices provisioned with keys, and tests.
public final class StaticCredentials: CredentialsProvider {
    private let value: AwsCredentials

    public init(accessKeyId: String, secretAccessKey: String, sessionToken: String? = nil) {
        value = AwsCredentials(
            accessKeyId: accessKeyId, secretAccessKey: secretAccessKey,
            sessionToken: sessionToken, expiration: nil
        )
    }

    public func credentials() async throws -> AwsCredentials { value }
}

/// Credentials from an async closure: Cognito, your backend, the keychain...
///
/// The recorder calls it on its background worker, never on the thread that
/// saves, and only when the credentials it holds are missing or expire within
/// five minutes (set `expiration` on temporary credentials). Throw
/// `RecorderError.Credentials` (or any error) when none can be had: the records
/// wait and the failure shows in `SubmitReport.errors` and a
/// `RecorderEvent.submissionFailed` event.
public final class ClosureCredentialsProvider: CredentialsProvider {
    private let fetch: @Sendable () async throws -> AwsCredentials

    public init(_ fetch: @escaping @Sendable () async throws -> AwsCredentials) {
        self.fetch = fetch
    }

    public func credentials() async throws -> AwsCredentials {
        try await fetch()
    }
}
