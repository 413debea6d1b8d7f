package dev.kinesisrecorder.android

import android.content.Context

/**
 * Lets the Rust core verify servers with Android's own trust store (`TlsRoots.PLATFORM`, the
 * default): certificates the user or device management installed, the app's Network Security
 * Config. The verifier (rustls-platform-verifier) calls Android's TrustManager through the JVM,
 * so it needs the app's Context once per process.
 *
 * [KinesisRecorderAndroid.create] calls it. Call it yourself only when you create
 * `dev.kinesisrecorder.ffi.KinesisRecorder` directly on Android; without it such a recorder
 * refuses `TlsRoots.PLATFORM` with `RecorderException.InvalidInput`. Cheap after the first call.
 */
object PlatformTrust {
    /**
     * Android's runtime (ART still reports itself as Dalvik). On a desktop JVM (Robolectric) the
     * native library is a host build: it verifies with the host's trust store, needs no Context
     * and has no such entry point.
     */
    private val onAndroidRuntime = System.getProperty("java.vm.name") == "Dalvik"

    @Volatile
    private var initialized = false

    @JvmStatic
    @Synchronized
    fun initialize(context: Context) {
        if (initialized || !onAndroidRuntime) return
        // The JNI entry point lives in the library the UniFFI bindings load through JNA.
        System.loadLibrary("kinesis_recorder")
        // The verifier keeps the Context for the life of the process: never an Activity's.
        nativeInitialize(context.applicationContext ?: context)
        initialized = true
    }

    @JvmStatic
    private external fun nativeInitialize(context: Context)
}
