// swift-tools-version:6.0
import PackageDescription

// Architecture, by folder:
//   Sources/ExecutorAPI      the executor C ABI (one header) that plugins implement
//   Sources/PlanterJSON      a small, fast JSON value type, parser and writer shared by host and plugins
//   Sources/ProcessSupport   C helpers to spawn process groups, watch them with pidfds and kill them
//   Sources/ExecutorKit      the Swift SDK for writing a plugin on top of the C ABI
//   Sources/Host             the engine: manifest, validation, graph, runner, executors (dlopen loader)
//   Sources/Server           the HTTP API (Hummingbird) over the Host's PlanterService
//   Sources/planter          the command-line tool
//   Plugins/*                executor plugins, each a dynamic library that exports the ABI entry
let package = Package(
    name: "planter",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "planter", targets: ["planter"]),
        .library(name: "PlanterHost", targets: ["PlanterHost"]),
        .library(name: "ExecutorKit", targets: ["ExecutorKit"]),
        .library(name: "planter-shell", type: .dynamic, targets: ["ShellExecutor"]),
        .library(name: "planter-c-echo", type: .dynamic, targets: ["CEchoExecutor"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
    ],
    targets: [
        .target(name: "ExecutorAPI", path: "Sources/ExecutorAPI", exclude: ["README.md"]),
        .target(name: "PlanterJSON", path: "Sources/PlanterJSON"),
        .target(name: "ProcessSupport", path: "Sources/ProcessSupport"),
        .target(
            name: "ExecutorKit",
            dependencies: ["ExecutorAPI", "PlanterJSON"],
            path: "Sources/ExecutorKit"
        ),
        .target(
            name: "PlanterHost",
            dependencies: ["ExecutorAPI", "PlanterJSON", .product(name: "Yams", package: "Yams")],
            path: "Sources/Host"
        ),
        .target(
            name: "PlanterServer",
            dependencies: [
                "PlanterHost", "PlanterJSON",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            path: "Sources/Server",
            resources: [.copy("openapi.yaml")]
        ),
        .executableTarget(
            name: "planter",
            dependencies: [
                "PlanterHost", "PlanterServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Sources/planter"
        ),
        .target(
            name: "ShellExecutor",
            dependencies: ["ExecutorKit", "ProcessSupport"],
            path: "Plugins/shell",
            exclude: ["README.md", "exports.map"],
            // Export only planter_executor_entry (see Plugins/shell/exports.map).
            linkerSettings: [
                .unsafeFlags(["-Xlinker", "--version-script=\(Context.packageDirectory)/Plugins/shell/exports.map"])
            ]
        ),
        .target(
            name: "CEchoExecutor",
            dependencies: ["ExecutorAPI"],
            path: "Plugins/examples/c-echo",
            exclude: ["README.md", "exports.map"],
            // Export only planter_executor_entry (see Plugins/examples/c-echo/exports.map).
            linkerSettings: [
                .unsafeFlags(["-Xlinker", "--version-script=\(Context.packageDirectory)/Plugins/examples/c-echo/exports.map"])
            ]
        ),
        .testTarget(
            name: "ExecutorAPITests",
            dependencies: ["PlanterHost", "PlanterJSON"],
            path: "Tests/ExecutorAPITests"
        ),
        .testTarget(
            name: "ShellExecutorTests",
            dependencies: ["PlanterHost", "PlanterJSON"],
            path: "Tests/ShellExecutorTests"
        ),
        .testTarget(name: "PlanterJSONTests", dependencies: ["PlanterJSON"], path: "Tests/PlanterJSONTests"),
        .testTarget(name: "PlanterCLITests", dependencies: ["PlanterJSON"], path: "Tests/PlanterCLITests"),
        .testTarget(
            name: "PlanterHostTests",
            dependencies: ["PlanterHost", "PlanterJSON"],
            path: "Tests/PlanterHostTests"
        ),
    ]
)
