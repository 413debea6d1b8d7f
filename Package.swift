// swift-tools-version:5.9
//
// Swift package of kinesis-recorder: the UniFFI-generated bindings plus a thin
// idiomatic layer (ios/Sources/KinesisRecorder), over the Rust core.
//
// The generated sources and the native library are build output:
//   - Apple platforms: run `ios/build-xcframework.sh` (macOS + Xcode) first; it
//     produces ios/build/KinesisRecorderFFI.xcframework and the generated Swift.
//     Release tags pin a prebuilt XCFramework by URL and checksum instead
//     (`releaseXCFramework` below).
//   - Linux: run `bindings/generate.sh swift` (or `bindings/swift-test.sh`,
//     which also runs the tests against a local Kinesis server).
import PackageDescription

/// Set by the release process: a zipped KinesisRecorderFFI.xcframework and its
/// `swift package compute-checksum`. When nil, the locally built one is used.
let releaseXCFramework: (url: String, checksum: String)? = nil

#if os(Linux)
// The prebuilt host library, copied by bindings/generate.sh. The linker needs
// an absolute path (-L and the rpath the test binary loads it from).
let nativeLibDir = Context.packageDirectory + "/ios/build/lib"
let ffiTarget: Target = .systemLibrary(
    name: "KinesisRecorderFFI",
    path: "ios/build/KinesisRecorderFFI"
)
let nativeLinkerSettings: [LinkerSetting] = [
    .linkedLibrary("kinesis_recorder"),
    .unsafeFlags(["-L", nativeLibDir, "-Xlinker", "-rpath", "-Xlinker", nativeLibDir]),
]
#else
let ffiTarget: Target
if let release = releaseXCFramework {
    ffiTarget = .binaryTarget(name: "KinesisRecorderFFI", url: release.url, checksum: release.checksum)
} else {
    // Built by ios/build-xcframework.sh.
    ffiTarget = .binaryTarget(name: "KinesisRecorderFFI", path: "ios/build/KinesisRecorderFFI.xcframework")
}
// The static library inside the XCFramework needs these system libraries.
let nativeLinkerSettings: [LinkerSetting] = [
    .linkedFramework("Security"),
    .linkedFramework("SystemConfiguration"),
]
#endif

let package = Package(
    name: "KinesisRecorder",
    platforms: [.iOS(.v15), .macOS(.v12)],
    products: [
        .library(name: "KinesisRecorder", targets: ["KinesisRecorder"]),
    ],
    targets: [
        ffiTarget,
        .target(
            name: "KinesisRecorder",
            dependencies: ["KinesisRecorderFFI"],
            path: "ios/Sources/KinesisRecorder",
            linkerSettings: nativeLinkerSettings
        ),
        .testTarget(
            name: "KinesisRecorderTests",
            dependencies: ["KinesisRecorder"],
            path: "ios/Tests/KinesisRecorderTests"
        ),
        // The save-path benchmark (bindings/swift-bench.sh); not a product.
        .executableTarget(
            name: "KinesisRecorderBench",
            dependencies: ["KinesisRecorder"],
            path: "ios/Bench/KinesisRecorderBench"
        ),
    ]
)
