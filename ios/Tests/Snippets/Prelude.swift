// The app's own names that the README snippets use, declared so the snippets
// type-check (they are never run). See extract.sh.
import Foundation
import KinesisRecorder

struct BackendCredentials {
    let id: String
    let secret: String
    let token: String?
    let expiry: Date?
}

struct Backend {
    func credentials() async throws -> AwsCredentials { fatalError() }
    func temporaryCredentials() async throws -> BackendCredentials { fatalError() }
}

struct AppEvent: Encodable {}

var backend: Backend { fatalError() }
var myBackend: Backend { fatalError() }
var recorder: KinesisRecorder { fatalError() }
var json: [UInt8] { fatalError() }
var data: Data { fatalError() }
var event: AppEvent { fatalError() }
var userId: String { fatalError() }
func log(_ items: Any...) {}

// Cognito and Firehose snippets.
struct Auth {
    func freshIdToken() async throws -> String { fatalError() }
}

var provider: CredentialsProvider { fatalError() }
var poolId: String { fatalError() }
var auth: Auth { fatalError() }
