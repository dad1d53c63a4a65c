// swift-tools-version: 6.1
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
        // Server side: the versions on this machine (machines/swift-packages-b.md).
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1", traits: []),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth", from: "2.5.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        // Tests only: load /openapi.yaml as a YAML parser would (it once was invalid YAML).
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS"),
        // oneDNN's integer GEMM for the int8 inference path (Debian: libdnnl-dev).
        .systemLibrary(name: "CDNNL", path: "Sources/CDNNL"),
        .target(name: "IntentKernels", dependencies: ["CBLAS", "CDNNL"], swiftSettings: kernelSettings),
        .target(name: "Tokenization", swiftSettings: kernelSettings),
        .target(name: "IntentModel", dependencies: ["IntentKernels", "Tokenization", "CBLAS"], swiftSettings: kernelSettings),
        .target(name: "Training", dependencies: ["IntentModel", "IntentKernels", "IntentData", "Tokenization"], swiftSettings: kernelSettings),
        .target(name: "IntentData", dependencies: [.product(name: "CSV", package: "CSV.swift")], swiftSettings: swiftSettings),
        // The loop's pure values: cron schedules, job and adapter lifecycles, dataset assembly. No I/O.
        .target(name: "LoopCore", dependencies: ["IntentData", "GateStatistics", .product(name: "Crypto", package: "swift-crypto")], swiftSettings: swiftSettings),
        // The gate's statistics: exact McNemar, paired bootstrap, Wilson intervals, per-class metrics. No I/O.
        .target(name: "GateStatistics", swiftSettings: swiftSettings),
        // Server-rendered SVG charts (bar and line), escaped for inline use in pages. No I/O.
        .target(name: "SVGCharts", swiftSettings: swiftSettings),
        // `intentloop simulate`'s pure parts: the dataset split, the simulated agents, the report and its chart. No I/O.
        .target(name: "Simulation", dependencies: ["IntentData", "GateStatistics", "SVGCharts"], swiftSettings: swiftSettings),
        .target(
            name: "IntentStore",
            dependencies: [
                "IntentData", "LoopCore",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "IntentServer",
            dependencies: [
                "IntentStore", "IntentModel", "IntentData", "Training", "Tokenization", "LoopCore", "IntentKernels", "GateStatistics", "SVGCharts",
                "Simulation",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "intentloop-bench",
            dependencies: [
                "IntentModel", "IntentKernels", "IntentData", "Tokenization", "Training",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "intentloop",
            dependencies: [
                "IntentModel", "Tokenization", "IntentData", "Training", "IntentStore", "IntentServer", "LoopCore", "GateStatistics", "Simulation",
                "SVGCharts",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TrainingTests", dependencies: ["Training", "IntentModel", "IntentKernels", "IntentData", "Tokenization", "IntentTestSupport"],
            exclude: ["Goldens"], swiftSettings: swiftSettings
        ),
        .testTarget(name: "CLITests", swiftSettings: swiftSettings),
        // A real PostgreSQL for the database-backed tests: the project's embedded launcher, one
        // cluster per test run, a fresh database per test.
        .target(
            name: "IntentTestSupport",
            dependencies: ["IntentStore", .product(name: "PostgresNIO", package: "postgres-nio"), .product(name: "Logging", package: "swift-log")],
            path: "Tests/IntentTestSupport", swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "IntentStoreTests",
            dependencies: [
                "IntentStore", "IntentData", "IntentTestSupport", "LoopCore",
                .product(name: "PostgresNIO", package: "postgres-nio"), .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "IntentServerTests",
            dependencies: [
                "IntentServer", "IntentStore", "IntentModel", "IntentData", "Training", "IntentTestSupport", "LoopCore",
                .product(name: "Yams", package: "Yams"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "IntentDataTests", dependencies: ["IntentData"], swiftSettings: swiftSettings),
        .testTarget(name: "LoopCoreTests", dependencies: ["LoopCore", "IntentData", "GateStatistics"], swiftSettings: swiftSettings),
        .testTarget(name: "GateStatisticsTests", dependencies: ["GateStatistics", "IntentTestSupport"], exclude: ["Goldens"], swiftSettings: swiftSettings),
        .testTarget(name: "SVGChartsTests", dependencies: ["SVGCharts"], swiftSettings: swiftSettings),
        .testTarget(name: "SimulationTests", dependencies: ["Simulation", "IntentData", "GateStatistics"], swiftSettings: swiftSettings),
        .testTarget(name: "IntentKernelsTests", dependencies: ["IntentKernels", "IntentTestSupport"], swiftSettings: swiftSettings),
        .testTarget(
            name: "TokenizationTests", dependencies: ["Tokenization"],
            exclude: ["Goldens"], swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "IntentModelTests", dependencies: ["IntentModel", "IntentKernels", "Tokenization", "IntentTestSupport"],
            exclude: ["Goldens"], swiftSettings: swiftSettings
        ),
    ],
    swiftLanguageModes: [.v6]
)
