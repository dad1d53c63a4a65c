// swift-tools-version: 6.0
import PackageDescription

// One settings list for every target (Hummingbird's convention).
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

// Numerical targets are compiled with full optimisation even in debug builds so that the
// test suite (which runs the real base model) stays fast; their checks are `precondition`s
// at function entry, which `-O` keeps. On x86-64 they target AVX2 + FMA (Haswell and later,
// every server CPU of the last decade): Swift's SIMD8<Float> becomes one ymm register and
// `addProduct` one FMA instruction instead of a libm call.
#if arch(x86_64)
let cpuFlags = ["-target-cpu", "haswell"]
#else
let cpuFlags: [String] = []
#endif
let kernelSettings: [SwiftSetting] = swiftSettings + [
    .unsafeFlags(["-O"] + cpuFlags),
]

let package = Package(
    name: "IntentLoop",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "intentloop", targets: ["intentloop"]),
        .library(name: "IntentModel", targets: ["IntentModel"]),
        .library(name: "Tokenization", targets: ["Tokenization"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/yaslab/CSV.swift", from: "2.5.2"),
    ],
    targets: [
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS"),
        .target(name: "IntentKernels", dependencies: ["CBLAS"], swiftSettings: kernelSettings),
        .target(name: "Tokenization", swiftSettings: kernelSettings),
        .target(name: "IntentModel", dependencies: ["IntentKernels", "Tokenization", "CBLAS"], swiftSettings: kernelSettings),
        .target(name: "Training", dependencies: ["IntentModel", "IntentKernels", "IntentData", "Tokenization"], swiftSettings: kernelSettings),
        .target(name: "IntentData", dependencies: [.product(name: "CSV", package: "CSV.swift")], swiftSettings: swiftSettings),
        .executableTarget(
            name: "intentloop-bench",
            dependencies: [
                "IntentModel", "IntentKernels", "IntentData", "Tokenization",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "intentloop",
            dependencies: [
                "IntentModel", "Tokenization", "IntentData", "Training",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TrainingTests", dependencies: ["Training", "IntentModel", "IntentKernels", "IntentData", "Tokenization"],
            exclude: ["Goldens"], swiftSettings: swiftSettings
        ),
        .testTarget(name: "CLITests", swiftSettings: swiftSettings),
        .testTarget(name: "IntentDataTests", dependencies: ["IntentData"], swiftSettings: swiftSettings),
        .testTarget(name: "IntentKernelsTests", dependencies: ["IntentKernels"], swiftSettings: swiftSettings),
        .testTarget(
            name: "TokenizationTests", dependencies: ["Tokenization"],
            exclude: ["Goldens"], swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "IntentModelTests", dependencies: ["IntentModel", "IntentKernels", "Tokenization"],
            exclude: ["Goldens"], swiftSettings: swiftSettings
        ),
    ],
    swiftLanguageModes: [.v6]
)
