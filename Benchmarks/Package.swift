// swift-tools-version:6.1
// Earshot benchmarks (ordo-one/benchmark). Run from this folder: `swift package benchmark`.
// Kept apart from the main package so `make test` never builds the benchmark harness.
import PackageDescription

/// A path dependency's identity is its folder name, which differs between clones: derive it.
let earshot = String(Context.packageDirectory.split(separator: "/").dropLast().last ?? "main").lowercased()

let package = Package(
    name: "EarshotBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "AudioBenchmarks",
            dependencies: [
                .product(name: "EarshotAudio", package: earshot),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "AudioBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "DSPBenchmarks",
            dependencies: [.product(name: "EarshotDSP", package: earshot), .product(name: "Benchmark", package: "benchmark")],
            path: "DSPBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "VADBenchmarks",
            dependencies: [.product(name: "EarshotVAD", package: earshot), .product(name: "EarshotBundles", package: earshot),
                           .product(name: "Benchmark", package: "benchmark")],
            path: "VADBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "InferenceBenchmarks",
            dependencies: [.product(name: "EarshotInference", package: earshot), .product(name: "Benchmark", package: "benchmark")],
            path: "InferenceBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
