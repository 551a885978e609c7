// swift-tools-version: 6.1
import PackageDescription

import class Foundation.ProcessInfo

let package = Package(
    name: "casewatch",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "casewatch", targets: ["casewatch"]),
        .library(name: "CaseCatalog", targets: ["CaseCatalog"]),
        .library(name: "CaseMatcher", targets: ["CaseMatcher"]),
        .library(name: "LogSources", targets: ["LogSources"]),
        .library(name: "Alerting", targets: ["Alerting"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swiftlang/swift-subprocess", from: "1.0.2"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
    ],
    targets: [
        // C libraries: one system-library target each, a module map over one shim header.
        .systemLibrary(
            name: "CVectorscan", path: "Sources/CVectorscan", pkgConfig: "libhs",
            providers: [.apt(["libhyperscan-dev"])]),
        .systemLibrary(
            name: "CPCRE2", path: "Sources/CPCRE2", pkgConfig: "libpcre2-8",
            providers: [.apt(["libpcre2-dev"])]),
        .systemLibrary(
            name: "CSystemd", path: "Sources/CSystemd", pkgConfig: "libsystemd",
            providers: [.apt(["libsystemd-dev"])]),
        .systemLibrary(
            name: "CZlib", path: "Sources/CZlib", pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]),

        .target(
            name: "CaseCatalog",
            dependencies: [.product(name: "Yams", package: "Yams")]),
        .target(
            name: "CaseMatcher",
            dependencies: ["CaseCatalog", "LogSources", "CVectorscan", "CPCRE2"]),
        .target(
            name: "LogSources",
            dependencies: [
                "CaseCatalog", "CZlib", "CSystemd",
                .product(name: "Subprocess", package: "swift-subprocess"),
            ]),
        .target(
            name: "Alerting",
            dependencies: [
                "CaseCatalog", "CaseMatcher", "LogSources",
            ]),
        .target(
            name: "Daemon",
            dependencies: [
                "CaseCatalog", "CaseMatcher", "LogSources", "Alerting", "CSystemd",
                .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ]),
        .executableTarget(
            name: "casewatch",
            dependencies: [
                "CaseCatalog", "CaseMatcher", "LogSources", "Alerting", "Daemon",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]),

        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "CaseCatalogTests", dependencies: ["CaseCatalog", "TestSupport"]),
        .testTarget(
            name: "CaseMatcherTests",
            dependencies: ["CaseMatcher", "CaseCatalog", "LogSources", "Alerting", "TestSupport"]),
        .testTarget(name: "AlertingTests", dependencies: ["Alerting", "CaseMatcher", "CaseCatalog", "TestSupport"]),
        .testTarget(name: "LogSourcesTests", dependencies: ["LogSources", "CaseCatalog", "TestSupport"]),
        .testTarget(name: "DaemonTests", dependencies: ["Daemon", "CaseCatalog", "Alerting", "LogSources", "TestSupport", .product(name: "Logging", package: "swift-log")]),
        // `casewatch run` against a real systemd-journald of the tests' own.
        .testTarget(name: "DaemonEndToEndTests", dependencies: ["casewatch", "LogSources", "TestSupport"]),
        // Runs the built `casewatch` binary as a user would.
        .testTarget(name: "EndToEndTests", dependencies: ["casewatch", "CaseCatalog", "TestSupport"]),
    ]
)

// Benchmarks (package-benchmark) build only when asked for, so the test build stays lean:
//   CASEWATCH_BENCHMARKS=1 swift package benchmark
if ProcessInfo.processInfo.environment["CASEWATCH_BENCHMARKS"] != nil {
    package.dependencies.append(
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]))
    package.targets.append(
        .executableTarget(
            name: "Matcher",
            dependencies: [
                "CaseCatalog", "CaseMatcher", "LogSources", "Alerting",
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/Matcher",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]))
}
