// The Android library: the UniFFI-generated Kotlin, the Kotlin layer shared with the JVM build
// (bindings/kotlin/src/main/kotlin), the Android glue in src/main/kotlin, and
// libkinesis_recorder.so for each ABI, built by cargo-ndk into src/main/jniLibs.
//
// Consumed as implementation("dev.kinesisrecorder:kinesis-recorder-android:0.1.0").
import org.jetbrains.kotlin.gradle.dsl.JvmTarget

plugins {
    alias(libs.plugins.android.library)
    alias(libs.plugins.kotlin.android)
    `maven-publish`
}

group = "dev.kinesisrecorder"
version = "0.1.0"

/** The repository root (this project lives in <root>/android). */
val repoRoot: File = rootDir.parentFile
/** Where bindings/generate.sh writes the Kotlin bindings (target/bindings/kotlin). */
val generatedBindings: File = repoRoot.resolve("target/bindings/kotlin")
val jniLibsDir: File = file("src/main/jniLibs")

val buildRust = providers.gradleProperty("kinesisRecorder.buildRust").map(String::toBoolean).orElse(true)
val generateBindingsEnabled = providers.gradleProperty("kinesisRecorder.generateBindings").map(String::toBoolean).orElse(true)
val abis = providers.gradleProperty("kinesisRecorder.abis").orElse("arm64-v8a,armeabi-v7a,x86_64")

android {
    namespace = "dev.kinesisrecorder"
    compileSdk = 35

    defaultConfig {
        minSdk = 24
        consumerProguardFiles("consumer-rules.pro")
    }

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
        // The generated bindings map Rust's Duration / SystemTime to java.time.Duration / Instant,
        // which need API 26 or desugaring below it. Apps with minSdk < 26 enable it too (AGP
        // checks this through the AAR metadata).
        isCoreLibraryDesugaringEnabled = true
    }

    sourceSets {
        getByName("main") {
            java.srcDirs(
                "src/main/kotlin",
                repoRoot.resolve("bindings/kotlin/src/main/kotlin"),
                generatedBindings,
            )
            jniLibs.srcDir(jniLibsDir)
        }
    }

    buildTypes {
        release {
            // A library is not minified itself; consumer-rules.pro travels in the AAR to the app.
            isMinifyEnabled = false
        }
    }

    publishing {
        singleVariant("release") {
            withSourcesJar()
        }
    }
}

kotlin {
    compilerOptions {
        jvmTarget.set(JvmTarget.JVM_17)
        // UniFFI's generated code uses unsigned types.
        optIn.add("kotlin.ExperimentalUnsignedTypes")
    }
}

// --- rustls-platform-verifier's Android component -----------------------------------------------

/**
 * TlsRoots.PLATFORM (the default) verifies servers with Android's TrustManager through a small
 * Kotlin class, org.rustls.platformverifier.CertificateVerifier, that the Rust crate ships as an
 * AAR inside the sources of its `rustls-platform-verifier-android` crate (the version Cargo.lock
 * pins, so the Kotlin and Rust halves always match). This task takes that AAR's classes.jar from
 * the crate sources cargo downloaded (`cargo metadata`), with no Maven repository involved.
 */
val rustlsPlatformVerifierJar: Provider<RegularFile> =
    layout.buildDirectory.file("rustls-platform-verifier/classes.jar")
val extractRustlsPlatformVerifier by tasks.registering {
    group = "build"
    description = "Extracts rustls-platform-verifier's Android classes (from the crate sources) for this AAR."
    val cargoLock = repoRoot.resolve("Cargo.lock")
    val output = rustlsPlatformVerifierJar
    inputs.file(cargoLock)
    outputs.file(output)
    doLast {
        val process = ProcessBuilder("cargo", "metadata", "--format-version", "1", "--locked")
            .directory(cargoLock.parentFile)
            .redirectError(ProcessBuilder.Redirect.INHERIT)
            .start()
        val metadata = process.inputStream.bufferedReader().readText()
        check(process.waitFor() == 0) { "cargo metadata failed" }
        @Suppress("UNCHECKED_CAST")
        val packages = (groovy.json.JsonSlurper().parseText(metadata) as Map<String, Any>)["packages"] as List<Map<String, Any>>
        val crate = packages.single { it["name"] == "rustls-platform-verifier-android" }
        val version = crate["version"] as String
        val aar = File(File(crate["manifest_path"] as String).parentFile,
            "maven/rustls/rustls-platform-verifier/$version/rustls-platform-verifier-$version.aar")
        check(aar.isFile) { "$aar not found: does this rustls-platform-verifier-android still ship its AAR?" }
        val jar = output.get().asFile
        jar.parentFile.mkdirs()
        java.util.zip.ZipFile(aar).use { zip ->
            val entry = zip.getEntry("classes.jar") ?: error("$aar has no classes.jar")
            zip.getInputStream(entry).use { input -> jar.outputStream().use { input.copyTo(it) } }
        }
    }
}

dependencies {
    // rustls-platform-verifier's Kotlin component (see extractRustlsPlatformVerifier below),
    // packed into this AAR (libs/) so apps need no extra repository or dependency.
    implementation(files(rustlsPlatformVerifierJar).builtBy(extractRustlsPlatformVerifier))
    // The AAR of JNA carries libjnidispatch.so for every Android ABI. `api`: the generated
    // bindings expose JNA types (RustBuffer is a com.sun.jna.Structure).
    api("net.java.dev.jna:jna:${libs.versions.jna.get()}@aar")
    // Flow, suspend functions and Dispatchers.Main for Android.
    api(libs.kotlinx.coroutines.android)
    coreLibraryDesugaring(libs.desugar.jdk.libs)
}

// --- Native library and bindings --------------------------------------------------------------

/**
 * cargo ndk -t arm64-v8a -t armeabi-v7a -t x86_64 -o android/kinesis-recorder/src/main/jniLibs \
 *   build --profile release-mobile --lib --no-default-features --features mobile
 *
 * Needs `cargo install cargo-ndk`, `rustup target add aarch64-linux-android armv7-linux-androideabi
 * x86_64-linux-android`, and an NDK (SDK Manager > SDK Tools > NDK); cargo-ndk finds it through
 * ANDROID_NDK_HOME or the SDK's ndk/ directory.
 */
val cargoNdk by tasks.registering(Exec::class) {
    group = "build"
    description = "Builds libkinesis_recorder.so for Android (cargo-ndk, profile release-mobile) into src/main/jniLibs."
    onlyIf { buildRust.get() }
    workingDir = repoRoot
    val targets = abis.get().split(',').map(String::trim).filter(String::isNotEmpty).flatMap { listOf("-t", it) }
    commandLine(
        listOf("cargo", "ndk") + targets + listOf(
            "-o", jniLibsDir.path,
            "build", "--profile", "release-mobile", "--lib", "--no-default-features", "--features", "mobile",
        ),
    )
    // cargo-ndk also looks for the NDK under ANDROID_HOME/ndk when ANDROID_NDK_HOME is not set.
    environment("ANDROID_HOME", android.sdkDirectory.path)
    inputs.files(repoRoot.resolve("Cargo.toml"), repoRoot.resolve("Cargo.lock"))
    inputs.dir(repoRoot.resolve("src"))
    inputs.property("abis", abis)
    outputs.dir(jniLibsDir)
}

/** bindings/generate.sh kotlin: builds the host library and generates target/bindings/kotlin. */
val generateBindings by tasks.registering(Exec::class) {
    group = "build"
    description = "Generates the UniFFI Kotlin bindings into target/bindings/kotlin (bindings/generate.sh kotlin)."
    onlyIf { generateBindingsEnabled.get() }
    workingDir = repoRoot
    commandLine("bash", "bindings/generate.sh", "kotlin")
    inputs.files(repoRoot.resolve("Cargo.toml"), repoRoot.resolve("Cargo.lock"), repoRoot.resolve("uniffi.toml"))
    inputs.dir(repoRoot.resolve("src"))
    outputs.dir(generatedBindings)
}

tasks.named("preBuild") {
    dependsOn(cargoNdk, generateBindings)
}

// --- Publishing -------------------------------------------------------------------------------
// ./gradlew :kinesis-recorder:publishToMavenLocal               (then mavenLocal() in the app)
// ./gradlew :kinesis-recorder:publishReleasePublicationToLocalRepository  (android/build/repo)

publishing {
    publications {
        register<MavenPublication>("release") {
            groupId = "dev.kinesisrecorder"
            artifactId = "kinesis-recorder-android"
            version = project.version.toString()
            afterEvaluate {
                from(components["release"])
            }
            pom {
                name.set("kinesis-recorder for Android")
                description.set("Offline-first recorder for Amazon Kinesis Data Streams: SQLite store, background submission, Rust core.")
                url.set("https://github.com/kinesis-recorder/kinesis-recorder")
                licenses {
                    license {
                        name.set("Apache-2.0")
                        url.set("https://www.apache.org/licenses/LICENSE-2.0.txt")
                    }
                }
            }
        }
    }
    repositories {
        maven {
            name = "local"
            url = uri(rootProject.layout.buildDirectory.dir("repo"))
        }
    }
}
