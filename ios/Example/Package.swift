// swift-tools-version:5.9
//
// The example as a Swift package:
//   - ExampleModel: everything the app does (recorder, saving, submitting, events), as a library
//     that builds and is tested on Linux too (Tests/ExampleModelTests, run by bindings/swift-test.sh
//     against kinesalite);
//   - KinesisRecorderExample: the SwiftUI app around it (Apple platforms only). `swift run` here on a
//     Mac (after ios/build-xcframework.sh, which includes the macOS slice), or open this folder in
//     Xcode. For the iOS app, use project.yml (XcodeGen).
import Foundation
import PackageDescription

// A path dependency's identity is its folder name (the clone's name).
let rootIdentity = URL(fileURLWithPath: Context.packageDirectory)
    .deletingLastPathComponent().deletingLastPathComponent().lastPathComponent.lowercased()

var targets: [Target] = [
    .target(
        name: "ExampleModel",
        dependencies: [.product(name: "KinesisRecorder", package: rootIdentity)],
        path: "Sources/ExampleModel"
    ),
    .testTarget(
        name: "ExampleModelTests",
        dependencies: ["ExampleModel"],
        path: "Tests/ExampleModelTests",
        // Swift 6.0's libswiftObservation.so on Linux refers to a symbol it does not export
        // (swift::threading::fatal); the tests never reach it.
        linkerSettings: [.unsafeFlags(["-Xlinker", "--allow-shlib-undefined"], .when(platforms: [.linux]))]
    ),
]
#if !os(Linux)
targets.append(
    .executableTarget(
        name: "KinesisRecorderExample",
        dependencies: ["ExampleModel", .product(name: "KinesisRecorder", package: rootIdentity)],
        path: "Sources/KinesisRecorderExample"
    )
)
#endif

let package = Package(
    name: "KinesisRecorderExample",
    platforms: [.macOS(.v14), .iOS(.v17)],
    dependencies: [
        .package(path: "../.."),
    ],
    targets: targets
)
