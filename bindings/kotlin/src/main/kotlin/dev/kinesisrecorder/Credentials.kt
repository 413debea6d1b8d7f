package dev.kinesisrecorder

import dev.kinesisrecorder.ffi.AwsCredentials
import dev.kinesisrecorder.ffi.CredentialsProvider
import dev.kinesisrecorder.ffi.RecorderException
import java.time.Instant
import kotlin.coroutines.cancellation.CancellationException

/** [AwsCredentials] with the optional fields left out. */
fun awsCredentials(
    accessKeyId: String,
    secretAccessKey: String,
    sessionToken: String? = null,
    expiration: Instant? = null,
): AwsCredentials = AwsCredentials(accessKeyId, secretAccessKey, sessionToken, expiration)

/**
 * Fixed keys, for devices provisioned with keys, local servers and tests. Apps shipped to users
 * should prefer temporary credentials (Cognito identity pools, their own backend): see
 * [credentialsProvider].
 */
class StaticCredentialsProvider(
    private val credentials: AwsCredentials,
) : CredentialsProvider {
    constructor(accessKeyId: String, secretAccessKey: String, sessionToken: String? = null) :
        this(awsCredentials(accessKeyId, secretAccessKey, sessionToken))

    override suspend fun credentials(): AwsCredentials = credentials

    override fun toString(): String = "StaticCredentialsProvider(accessKeyId=${credentials.accessKeyId})"
}

/**
 * A [CredentialsProvider] from a suspending lambda, called on a background coroutine when the
 * recorder needs credentials: when it has none, or when the ones it has expire within five
 * minutes (set [AwsCredentials.expiration] for temporary credentials). It may take its time
 * (network calls are fine) and is never called on the thread that saves.
 *
 * ```
 * val provider = credentialsProvider {
 *     val c = myBackend.fetchTemporaryCredentials()   // suspend fun
 *     awsCredentials(c.accessKeyId, c.secretKey, c.sessionToken, c.expiration)
 * }
 * ```
 *
 * Anything the lambda throws becomes [RecorderException.Credentials] (the message says what was
 * thrown): the records wait, and the submission reports it per stream (`SubmitReport.errors`,
 * `RecorderEvent.SubmissionFailed`). Throw `RecorderException.Credentials(reason)` yourself to
 * choose the message.
 */
fun credentialsProvider(fetch: suspend () -> AwsCredentials): CredentialsProvider = LambdaCredentialsProvider(fetch)

private class LambdaCredentialsProvider(private val fetch: suspend () -> AwsCredentials) : CredentialsProvider {
    override suspend fun credentials(): AwsCredentials =
        try {
            fetch()
        } catch (e: CancellationException) {
            throw e
        } catch (e: RecorderException) {
            throw e
        } catch (e: Exception) {
            throw RecorderException.Credentials("the credentials provider threw $e")
        }
}
