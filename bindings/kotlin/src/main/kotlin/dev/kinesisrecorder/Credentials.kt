package dev.kinesisrecorder

import dev.kinesisrecorder.ffi.AwsCredentials
import dev.kinesisrecorder.ffi.CognitoLoginsProvider
import dev.kinesisrecorder.ffi.CredentialsProvider
import dev.kinesisrecorder.ffi.RecorderException
import dev.kinesisrecorder.ffi.cognitoCredentialsProvider
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
 * Temporary credentials from an Amazon Cognito identity pool, the way mobile apps sign in to
 * Kinesis without shipping AWS keys. Built into the library: `GetId` once per install (the
 * identity id is kept next to the recorder's store), `GetCredentialsForIdentity` when the
 * credentials are about to expire, in memory only.
 *
 * ```
 * // Guests (the pool allows unauthenticated identities):
 * val credentials = cognitoCredentials("eu-west-1:0a1b2c3d-...", "eu-west-1")
 * // Signed-in users: the logins, asked before each use, so a refreshed token is used at once.
 * val credentials = cognitoCredentials(poolId, "eu-west-1") {
 *     mapOf("cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf" to auth.currentIdToken())
 * }
 * ```
 *
 * [logins] returns provider name to token (an empty map: a guest); it runs on a background
 * coroutine, may suspend, and what it throws becomes [RecorderException.Credentials]. [endpoint]
 * replaces `https://cognito-identity.{region}.amazonaws.com` (`http://` only to loopback).
 * A malformed pool id, or one of another region, throws [RecorderException.InvalidInput].
 */
@Throws(RecorderException::class)
fun cognitoCredentials(
    identityPoolId: String,
    region: String,
    endpoint: String? = null,
    logins: (suspend () -> Map<String, String>)? = null,
): CredentialsProvider = cognitoCredentialsProvider(identityPoolId, region, endpoint, logins?.let(::LambdaLogins))

private class LambdaLogins(private val fetch: suspend () -> Map<String, String>) : CognitoLoginsProvider {
    override suspend fun logins(): Map<String, String> =
        try {
            fetch()
        } catch (e: CancellationException) {
            throw e
        } catch (e: RecorderException) {
            throw e
        } catch (e: Exception) {
            throw RecorderException.Credentials("the logins lambda threw $e")
        }
}

/**
 * Fixed keys, for devices provisioned with keys, local servers and tests. Apps shipped to users
 * should prefer temporary credentials: [cognitoCredentials], or their own backend through
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
 * minutes, or within half their lifetime when that is shorter (set [AwsCredentials.expiration]
 * for temporary credentials). It may take its time
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
