// The save family on a direct JNI path (src/ffi/jni.rs in the Rust crate), next to the UniFFI
// (JNA) bindings that serve every other call. Shared by the JVM build and the Android library.
package dev.kinesisrecorder

import com.sun.jna.NativeLibrary
import dev.kinesisrecorder.ffi.CredentialsProvider
import dev.kinesisrecorder.ffi.InternalException
import dev.kinesisrecorder.ffi.KinesisRecorder
import dev.kinesisrecorder.ffi.RecordToSave
import dev.kinesisrecorder.ffi.RecorderConfig
import dev.kinesisrecorder.ffi.RecorderException
import java.io.File
import java.util.concurrent.atomic.AtomicLong

/**
 * The [KinesisRecorder] this layer hands out (`KinesisRecorder(path, region, credentials) {}`,
 * `KinesisRecorderAndroid.create`): the UniFFI object, whose `saveRecord` and
 * `saveRecordWithHashKey` go through [NativeSaves] instead of JNA. Through JNA a save costs tens
 * of microseconds and ~15 KB of garbage; through JNI about a microsecond and no allocation. Same
 * validation (the core's), same exceptions, thrown synchronously. `saveRecords` stays on JNA
 * (one call per batch) behind the same guard.
 *
 * JNI borrows the UniFFI handle for the length of a call, so the handle must outlive every save
 * in flight. [state] counts them: bit 0 is set while open, and each save in flight adds 2. A save
 * enters only while bit 0 is set (else it throws [RecorderException.ShutDown], never reaching
 * Rust); `close()` clears the bit; whoever brings the count to 0 — `close()` itself, or the
 * last save to return — frees the handle through UniFFI's own `destroy()`, which stops the
 * recorder. So `close()` racing saves on other threads neither crashes nor leaks, and each of
 * those saves is either queued or refused with `ShutDown`.
 */
internal class JniKinesisRecorder(config: RecorderConfig, credentials: CredentialsProvider) :
    KinesisRecorder(config, credentials) {
    private val state = AtomicLong(OPEN)

    /** False when this class loader cannot bind the JNI entry point: saves then go through JNA. */
    private val direct: Boolean = try {
        NativeSaves.load()
    } catch (e: Throwable) {
        super.destroy()
        throw e
    }

    @Throws(RecorderException::class)
    override fun saveRecord(data: ByteArray, streamName: String, partitionKey: String?) {
        if (!direct) return whileOpen { super.saveRecord(data, streamName, partitionKey) }
        val failure = whileOpen { NativeSaves.saveRecord(it, data, streamName, partitionKey, null) }
        if (failure != null) throw NativeSaves.exception(failure)
    }

    @Throws(RecorderException::class)
    override fun saveRecordWithHashKey(
        data: ByteArray,
        streamName: String,
        partitionKey: String?,
        explicitHashKey: String?,
    ) {
        if (!direct) return whileOpen { super.saveRecordWithHashKey(data, streamName, partitionKey, explicitHashKey) }
        val failure = whileOpen { NativeSaves.saveRecord(it, data, streamName, partitionKey, explicitHashKey) }
        if (failure != null) throw NativeSaves.exception(failure)
    }

    /** Through UniFFI (one JNA call per batch), behind the same guard: `ShutDown` after close. */
    @Throws(RecorderException::class)
    override fun saveRecords(records: List<RecordToSave>) = whileOpen { super.saveRecords(records) }

    /** Runs [call] with the UniFFI handle, which stays valid until [call] returns. */
    private inline fun <T> whileOpen(call: (handle: Long) -> T): T {
        while (true) {
            val current = state.get()
            if (current and OPEN == 0L) throw RecorderException.ShutDown()
            if (state.compareAndSet(current, current + IN_FLIGHT)) break
        }
        try {
            return call(handle)
        } finally {
            if (state.addAndGet(-IN_FLIGHT) == 0L) super.destroy()
        }
    }

    override fun destroy() {
        while (true) {
            val current = state.get()
            if (current and OPEN == 0L) return
            if (state.compareAndSet(current, current - OPEN)) {
                if (current == OPEN) super.destroy()
                return
            }
        }
    }

    private companion object {
        const val OPEN = 1L
        const val IN_FLIGHT = 2L
    }
}

/**
 * The JNI entry point (`Java_dev_kinesisrecorder_NativeSaves_saveRecord` in the native library):
 * null when the record was queued, or a failure: the `RecorderError` variant's letter followed by
 * its reason ([exception]).
 */
internal object NativeSaves {
    /** Data, stream name, partition key or null, explicit hash key or null. */
    @JvmStatic
    external fun saveRecord(
        handle: Long,
        data: ByteArray,
        streamName: String,
        partitionKey: String?,
        explicitHashKey: String?,
    ): String?

    /** The exception the UniFFI bindings throw for the same error (src/ffi/jni.rs `failure_text`). */
    fun exception(failure: String): Exception {
        val reason = failure.substring(1)
        return when (failure[0]) {
            'I' -> RecorderException.InvalidInput(reason)
            'F' -> RecorderException.StorageFull(reason)
            'O' -> RecorderException.Overloaded(reason)
            'S' -> RecorderException.StorageFailure(reason)
            'N' -> RecorderException.Network(reason)
            'C' -> RecorderException.Credentials(reason)
            'D' -> RecorderException.ShutDown()
            else -> InternalException(reason)
        }
    }

    /** Null until [load] ran in this class loader, then whether the entry point is bound. */
    @Volatile
    private var bound: Boolean? = null

    /**
     * Makes the JVM bind the `external` functions above to the library the UniFFI bindings use.
     * JNA opens it with `dlopen`, which the JVM's JNI linking does not see, so it is loaded once
     * more through the JVM, as the same file: `System.load` of the file JNA opened (JVM, found
     * through `jna.library.path` and the like), or `System.loadLibrary` when JNA left the search
     * to the system linker (Android, where the library is in the app's native library directory).
     * Either way the process holds one copy of the library. Call after the UniFFI bindings have
     * loaded it (any recorder constructed).
     *
     * The JVM binds a native library to one class loader only. Where these classes are loaded by
     * several (Robolectric's sandboxes, an application server), the first binds it and the others
     * get false: their saves take the JNA path, with the same behaviour and errors, only slower.
     */
    @Synchronized
    fun load(): Boolean {
        bound?.let { return it }
        // The name the UniFFI bindings load (their `findLibraryName`).
        val name = System.getProperty("uniffi.component.kinesis_recorder.libraryOverride") ?: "kinesis_recorder"
        val file: File? = NativeLibrary.getInstance(name).file
        val loaded = try {
            if (file != null && file.isAbsolute && file.isFile) System.load(file.path) else System.loadLibrary(name)
            true
        } catch (e: UnsatisfiedLinkError) {
            if (e.message?.contains("another classloader") != true) throw e
            false
        }
        bound = loaded
        return loaded
    }
}
