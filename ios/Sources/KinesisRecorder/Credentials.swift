import Foundation

/// Temporary credentials from an Amazon Cognito identity pool, the way apps
/// sign in to Kinesis without shipping AWS keys. Built into the library:
/// `GetId` once per install (the identity id is kept next to the recorder's
/// store), `GetCredentialsForIdentity` when the credentials are about to
/// expire, in memory only.
///
/// ```swift
/// // Guests (the pool allows unauthenticated identities):
/// let credentials = try cognitoCredentials(identityPoolId: "eu-west-1:0a1b2c3d-...", region: "eu-west-1")
/// // Signed-in users: the logins, asked before each use, so a refreshed token is used at once.
/// let credentials = try cognitoCredentials(identityPoolId: poolId, region: "eu-west-1") {
///     ["cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf": try await auth.idToken()]
/// }
/// ```
///
/// `logins` returns provider name to token (empty: a guest); what it throws
/// becomes `RecorderError.Credentials`. `endpoint` replaces
/// `https://cognito-identity.{region}.amazonaws.com` (`http://` only to
/// loopback). A malformed pool id, or one of another region, throws
/// `RecorderError.InvalidInput`.
public func cognitoCredentials(
    identityPoolId: String,
    region: String,
    endpoint: String? = nil,
    logins: (@Sendable () async throws -> [String: String])? = nil
) throws -> CredentialsProvider {
    try cognitoCredentialsProvider(
        identityPoolId: identityPoolId, region: region, endpoint: endpoint,
        logins: logins.map(ClosureLoginsProvider.init)
    )
}

/// The app's Cognito logins from an async closure.
final class ClosureLoginsProvider: CognitoLoginsProvider {
    private let fetch: @Sendable () async throws -> [String: String]

    init(_ fetch: @escaping @Sendable () async throws -> [String: String]) {
        self.fetch = fetch
    }

    func logins() async throws -> [String: String] {
        try await fetch()
    }
}

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
/// five minutes, or half their lifetime when that is shorter (set
/// `expiration` on temporary credentials). Throw
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
