// swift-tools-version:6.1
// Earshot: an edge speech runtime. See ARCHITECTURE.md for what each target owns.
import PackageDescription

/// One set of compiler settings for every Swift target (STYLE.md §15).
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "Earshot",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "earshot", targets: ["earshot"]),
        .executable(name: "earshot-collector", targets: ["earshot-collector"]),
        .library(name: "EarshotAudio", targets: ["EarshotAudio"]),
        .library(name: "EarshotMonitoring", targets: ["EarshotMonitoring"]),
        .library(name: "EarshotDSP", targets: ["EarshotDSP"]),
        .library(name: "EarshotInference", targets: ["EarshotInference"]),
        .library(name: "EarshotRecognizer", targets: ["EarshotRecognizer"]),
        .library(name: "EarshotVAD", targets: ["EarshotVAD"]),
        .library(name: "EarshotBundles", targets: ["EarshotBundles"]),
        .library(name: "EarshotEdge", targets: ["EarshotEdge"]),
        .library(name: "EarshotServer", targets: ["EarshotServer"]),
        .library(name: "EarshotCollector", targets: ["EarshotCollector"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
    ],
    targets: [
        // C system libraries (Debian -dev packages, found through pkg-config).
        .systemLibrary(name: "CALSA", pkgConfig: "alsa", providers: [.apt(["libasound2-dev"])]),
        .systemLibrary(name: "CSndFile", pkgConfig: "sndfile", providers: [.apt(["libsndfile1-dev"])]),
        .systemLibrary(name: "CZlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CSampleRate", pkgConfig: "samplerate", providers: [.apt(["libsamplerate0-dev"])]),

        // Libraries.
        .target(name: "EarshotMonitoring", swiftSettings: swiftSettings),
        .target(name: "EarshotDSP", swiftSettings: swiftSettings),
        .target(name: "CEarshotKernels"),
        .target(name: "EarshotInference", dependencies: ["CEarshotKernels"], swiftSettings: swiftSettings),
        .target(name: "EarshotBundles", dependencies: ["EarshotDSP", "EarshotInference", "EarshotMonitoring", .product(name: "Crypto", package: "swift-crypto")],
                swiftSettings: swiftSettings),
        .target(name: "EarshotVAD", dependencies: ["EarshotDSP", "EarshotInference", "EarshotBundles"], swiftSettings: swiftSettings),
        .target(name: "EarshotEdge", dependencies: ["EarshotAudio", "EarshotVAD", "EarshotRecognizer", "EarshotBundles", "EarshotMonitoring"],
                swiftSettings: swiftSettings),
        .target(name: "EarshotServer", dependencies: ["EarshotEdge", "EarshotAudio", "EarshotBundles", "EarshotRecognizer", "EarshotMonitoring",
                                                     .product(name: "Hummingbird", package: "hummingbird"),
                                                     .product(name: "Logging", package: "swift-log")],
                swiftSettings: swiftSettings),
        .target(name: "CPocketSphinx", linkerSettings: [.linkedLibrary("dl")]),
        .target(name: "EarshotSphinx", dependencies: ["CPocketSphinx", "EarshotEdge", "EarshotRecognizer"], swiftSettings: swiftSettings),
        .target(name: "EarshotSpool", dependencies: ["EarshotMonitoring", .product(name: "GRDB", package: "GRDB.swift")], swiftSettings: swiftSettings),
        .target(name: "EarshotSync", dependencies: ["EarshotSpool", "EarshotMonitoring", "EarshotEdge", "EarshotBundles", "CZlib"], swiftSettings: swiftSettings),
        .target(name: "EarshotCollector", dependencies: ["EarshotMonitoring", "CZlib",
                                                        .product(name: "Hummingbird", package: "hummingbird"),
                                                        .product(name: "HummingbirdTLS", package: "hummingbird"),
                                                        .product(name: "Logging", package: "swift-log"),
                                                        .product(name: "GRDB", package: "GRDB.swift"),
                                                        .product(name: "PostgresNIO", package: "postgres-nio"),
                                                        .product(name: "Crypto", package: "swift-crypto"),
                                                        .product(name: "Yams", package: "Yams")],
                swiftSettings: swiftSettings),
        .target(name: "EarshotConfig", dependencies: [.product(name: "Yams", package: "Yams")], swiftSettings: swiftSettings),
        .target(name: "EarshotRecognizer", dependencies: ["EarshotDSP", "EarshotInference", "EarshotBundles"], swiftSettings: swiftSettings),
        .target(name: "EarshotAudio", dependencies: ["CALSA", "CSndFile", "CSampleRate"], swiftSettings: swiftSettings),

        // Command-line entry point: wiring and presentation only.
        .executableTarget(
            name: "earshot",
            dependencies: [
                "EarshotAudio", "EarshotMonitoring", "EarshotDSP", "EarshotInference", "EarshotRecognizer", "EarshotBundles", "EarshotVAD", "EarshotEdge", "EarshotServer", "EarshotConfig", "EarshotSpool", "EarshotSync", "EarshotSphinx",
                .product(name: "ArgumentParser", package: "swift-argument-parser"), .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),

        .executableTarget(
            name: "earshot-collector",
            dependencies: ["EarshotCollector", "EarshotMonitoring", "EarshotBundles", .product(name: "ArgumentParser", package: "swift-argument-parser"),
                           .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings
        ),

        // Tests.
        .target(name: "EarshotTestSupport", dependencies: ["EarshotAudio", "EarshotMonitoring"], path: "Tests/EarshotTestSupport",
                swiftSettings: swiftSettings),
        .testTarget(name: "EarshotDSPTests", dependencies: ["EarshotDSP", "EarshotAudio", "EarshotTestSupport"],
                    resources: [.copy("Vectors")], swiftSettings: swiftSettings),
        .testTarget(name: "EarshotInferenceTests", dependencies: ["EarshotInference", "CEarshotKernels", "EarshotDSP", "EarshotTestSupport"],
                    resources: [.copy("Vectors")], swiftSettings: swiftSettings),
        .testTarget(name: "EarshotVADTests", dependencies: ["EarshotVAD", "EarshotBundles", "EarshotDSP", "EarshotInference", "EarshotTestSupport"],
                    exclude: ["Vectors"], swiftSettings: swiftSettings),
        .testTarget(name: "EarshotRecognizerTests", dependencies: ["EarshotRecognizer", "EarshotBundles", "EarshotAudio", "EarshotDSP",
                                                                  "EarshotMonitoring", "EarshotTestSupport"],
                    swiftSettings: swiftSettings),
        .testTarget(name: "EarshotEdgeTests", dependencies: ["EarshotEdge", "EarshotAudio", "EarshotBundles", "EarshotRecognizer", "EarshotVAD",
                                                            "EarshotTestSupport", .product(name: "Crypto", package: "swift-crypto")],
                    swiftSettings: swiftSettings),
        .testTarget(name: "EarshotServerTests", dependencies: ["EarshotServer", "EarshotEdge", "EarshotTestSupport"], swiftSettings: swiftSettings),
        .testTarget(name: "EarshotSpoolTests", dependencies: ["EarshotSpool", "EarshotMonitoring", "EarshotTestSupport"], swiftSettings: swiftSettings),
        .testTarget(name: "EarshotSyncTests", dependencies: ["EarshotSync", "EarshotSpool", "EarshotEdge", "EarshotTestSupport"], swiftSettings: swiftSettings),
        .testTarget(name: "EarshotCollectorTests", dependencies: ["EarshotCollector", "EarshotMonitoring", "EarshotSync", "EarshotSpool",
                                                                  "EarshotTestSupport", "EarshotBundles", "EarshotEdge", "EarshotAudio", "earshot-collector", "earshot"],
                    swiftSettings: swiftSettings),
        .testTarget(name: "EarshotConfigTests", dependencies: ["EarshotConfig"], swiftSettings: swiftSettings),
        .testTarget(name: "EarshotMonitoringTests", dependencies: ["EarshotMonitoring"], resources: [.copy("Vectors")],
                    swiftSettings: swiftSettings),
        .testTarget(name: "EarshotAudioTests", dependencies: ["EarshotAudio", "EarshotMonitoring", "EarshotTestSupport"],
                    swiftSettings: swiftSettings),
        .testTarget(name: "EarshotCLITests", dependencies: ["earshot", "EarshotAudio", "EarshotEdge", "EarshotTestSupport"],
                    swiftSettings: swiftSettings),
    ]
)
