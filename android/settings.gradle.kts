// Android library of kinesis-recorder (and its sample app), for Android Studio / Gradle.
// Open this `android/` directory in Android Studio. See README.md here.
pluginManagement {
    repositories {
        google()
        mavenCentral()
        gradlePluginPortal()
    }
}

dependencyResolutionManagement {
    repositoriesMode.set(RepositoriesMode.FAIL_ON_PROJECT_REPOS)
    repositories {
        google()
        mavenCentral()
    }
}

rootProject.name = "kinesis-recorder-android"
include(":kinesis-recorder")
include(":sample")
