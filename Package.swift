// swift-tools-version:6.0
import PackageDescription

// Architecture, by folder:
//   Sources/ExecutorAPI      the executor C ABI (one header) that plugins implement
//   Sources/PlanterJSON      a small, fast JSON value type, parser and writer shared by host and plugins
//   Sources/ProcessSupport   C helpers to spawn process groups, watch them with pidfds and kill them
//   Sources/ExecutorKit      the Swift SDK for writing a plugin on top of the C ABI
//   Sources/Host             the engine: manifest, validation, graph, runner, executors (dlopen loader)
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
        .executableTarget(
            name: "planter",
            dependencies: ["PlanterHost", .product(name: "ArgumentParser", package: "swift-argument-parser")],
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
        .testTarget(
            name: "PlanterHostTests",
            dependencies: ["PlanterHost", "PlanterJSON"],
            path: "Tests/PlanterHostTests"
        ),
    ]
)
