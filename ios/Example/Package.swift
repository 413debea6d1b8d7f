// swift-tools-version:5.9
//
// The example as a Swift package, to run it on a Mac without generating an
// Xcode project: `swift run` here (after ios/build-xcframework.sh, which
// includes the macOS slice), or open this folder in Xcode. For the iOS app,
// use project.yml (XcodeGen).
import Foundation
import PackageDescription

// A path dependency's identity is its folder name (the clone's name).
let rootIdentity = URL(fileURLWithPath: Context.packageDirectory)
    .deletingLastPathComponent().deletingLastPathComponent().lastPathComponent.lowercased()

let package = Package(
    name: "KinesisRecorderExample",
    platforms: [.macOS(.v14), .iOS(.v17)],
    dependencies: [
        .package(path: "../.."),
    ],
    targets: [
        .executableTarget(
            name: "KinesisRecorderExample",
            dependencies: [.product(name: "KinesisRecorder", package: rootIdentity)],
            path: "Sources"
        ),
    ]
)
