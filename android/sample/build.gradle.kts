// Sample app: saves 1,000 events on the main thread and shows how long it took, a network
// toggle, pending records from stats, and "Submit now". See ../README.md.
import org.jetbrains.kotlin.gradle.dsl.JvmTarget

plugins {
    alias(libs.plugins.android.application)
    alias(libs.plugins.kotlin.android)
}

android {
    namespace = "dev.kinesisrecorder.sample"
    compileSdk = 35

    defaultConfig {
        applicationId = "dev.kinesisrecorder.sample"
        minSdk = 24
        targetSdk = 35
        versionCode = 1
        versionName = "0.1.0"
    }

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
        isCoreLibraryDesugaringEnabled = true // java.time below API 26, as the library needs
    }

    sourceSets {
        getByName("main") {
            java.srcDirs("src/main/kotlin")
        }
    }

    buildTypes {
        release {
            // Minified, so the library's consumer-rules.pro (JNA + UniFFI) is exercised.
            isMinifyEnabled = true
            proguardFiles(getDefaultProguardFile("proguard-android-optimize.txt"))
            signingConfig = signingConfigs.getByName("debug") // a sample: not for distribution
        }
    }
}

kotlin {
    compilerOptions {
        jvmTarget.set(JvmTarget.JVM_17)
        optIn.add("kotlin.ExperimentalUnsignedTypes")
    }
}

dependencies {
    implementation(project(":kinesis-recorder"))
    coreLibraryDesugaring(libs.desugar.jdk.libs)
}
