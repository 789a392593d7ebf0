// swift-tools-version:6.0
import PackageDescription

// Architecture, by folder:
//   Sources/ExecutorAPI      the executor C ABI (one header) that plugins implement
//   Sources/PlanterJSON      a small, fast JSON value type, parser and writer shared by host and plugins
//   Sources/ProcessSupport   C helpers to spawn process groups, watch them with pidfds and kill them
//   Sources/ExecutorKit      the Swift SDK for writing a plugin on top of the C ABI, and the child-process
//                            watcher the process-running plugins share
//   Sources/CFFI             libffi, for the native executor
//   Sources/Core             the shared vocabulary: problems, labels, durations, backoff, log levels, secrets masking
//   Sources/Document         JSON and YAML documents with positions, and strict field reading (ObjectReader)
//   Sources/ExecutorRuntime  the host side of executors: the Executor protocol, requests and results, the
//                            dlopen loader, the subprocess protocol; used by the host and the executor host
//   Sources/Deployment       the deployment config (planter.yaml): model, decoding, secrets, and dispatch of a
//                            phase to the executor instance that serves it (created on first use)
//   Sources/CSQLite          SQLite (Debian's libsqlite3-dev), for the history store
//   Sources/Store            PlanterStore: the embedded history (plans, runs, attempts, events) in SQLite
//   Sources/CHiredis         hiredis 0.14 (Debian's libhiredis-dev), for PlanterRedis
//   Sources/Redis            PlanterRedis: a Redis client on its own thread, and the history in Redis (REDIS_URL)
//   Sources/CNATS            nats.c (Debian's libnats-dev), for the NATS client
//   Sources/Messaging        PlanterMessaging: the NATS client (connections, headers, request/reply, JetStream)
//   Sources/Workers          PlanterWorkers: worker pools over JetStream (`planter worker`, the remote executor)
//   Sources/Host             the engine: manifest → validation → graph → runner → service → store
//   Sources/Server           the HTTP API (Hummingbird) over the Host's PlanterService, and the protocol's
//                            NATS session interface (Sessions/)
//   Sources/ExecutorContract the contract checks every executor must pass (tests and `planter plugins check`)
//   Sources/ExecutorHost     planter-executor-host: serves any plugin .so over the subprocess protocol
//   Sources/Commands         PlanterCommands: `planter run` and `validate` and the CLI's output (tables, JSON/YAML, progress)
//   Sources/planter          `planter`: a launcher in C that execs planter-run (run, validate) or planter-full (the rest)
//   Sources/planter-run      run/validate linking only the engine, for a fast start
//   Sources/planter-full     every command: serve, worker, plugins and the clients of a running server
//   Plugins/*                executor plugins, each a dynamic library that exports only the ABI entry

/// An executor plugin: a dynamic library product `planter-<name>` whose only export is
/// `planter_executor_entry` (the linker version script `exports.map` in its folder).
func executorPlugin(_ name: String, target: String, path: String, dependencies: [Target.Dependency])
    -> (product: Product, target: Target)
{
    (
        .library(name: "planter-\(name)", type: .dynamic, targets: [target]),
        .target(
            name: target,
            dependencies: dependencies,
            path: path,
            exclude: ["README.md", "exports.map"],
            linkerSettings: [.unsafeFlags(["-Xlinker", "--version-script=\(Context.packageDirectory)/\(path)/exports.map"])]
        )
    )
}

let plugins = [
    executorPlugin("shell", target: "ShellExecutor", path: "Plugins/shell", dependencies: ["ExecutorKit", "ProcessSupport"]),
    executorPlugin("python", target: "PythonExecutor", path: "Plugins/python", dependencies: ["ExecutorKit", "ProcessSupport"]),
    executorPlugin("container", target: "ContainerExecutor", path: "Plugins/container",
                   dependencies: ["ExecutorKit", "ProcessSupport"]),
    executorPlugin("http", target: "HTTPExecutor", path: "Plugins/http",
                   dependencies: ["ExecutorKit", .product(name: "AsyncHTTPClient", package: "async-http-client")]),
    executorPlugin("native", target: "NativeExecutor", path: "Plugins/native", dependencies: ["ExecutorKit", "CFFI"]),
    executorPlugin("c-echo", target: "CEchoExecutor", path: "Plugins/examples/c-echo", dependencies: ["ExecutorAPI"]),
    executorPlugin("swift-hello", target: "SwiftHelloExecutor", path: "Plugins/examples/swift-hello",
                   dependencies: ["ExecutorKit"]),
]

/// A test target per module; tests drive the real thing (plugins loaded with dlopen, real servers).
func tests(_ name: String, _ dependencies: [Target.Dependency]) -> Target {
    .testTarget(name: name, dependencies: dependencies, path: "Tests/\(name)")
}

let package = Package(
    name: "planter",
    products: [
        .executable(name: "planter", targets: ["planter"]),
        .executable(name: "planter-run", targets: ["planter-run"]),
        .executable(name: "planter-full", targets: ["planter-full"]),
        .executable(name: "planter-executor-host", targets: ["planter-executor-host"]),
        // The engine for embedders, with the modules its API speaks in.
        .library(name: "PlanterHost",
                 targets: ["PlanterHost", "PlanterDeployment", "PlanterDocument", "ExecutorRuntime", "PlanterCore"]),
        // What a process that only runs phases needs (planter-executor-host, a remote worker).
        .library(name: "ExecutorRuntime", targets: ["ExecutorRuntime", "PlanterCore"]),
        .library(name: "ExecutorKit", targets: ["ExecutorKit"]),
    ] + plugins.map(\.product),
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
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
        .systemLibrary(name: "CFFI", path: "Sources/CFFI"),
        .systemLibrary(name: "CSQLite", path: "Sources/CSQLite"),
        .systemLibrary(name: "CHiredis", path: "Sources/CHiredis"),
        .systemLibrary(name: "CNATS", path: "Sources/CNATS"),
        .target(name: "ExecutorKit", dependencies: ["ExecutorAPI", "PlanterJSON", "ProcessSupport"], path: "Sources/ExecutorKit"),
        .target(name: "PlanterCore", dependencies: ["PlanterJSON"], path: "Sources/Core"),
        .target(name: "PlanterDocument", dependencies: ["PlanterCore", "PlanterJSON", .product(name: "Yams", package: "Yams")],
                path: "Sources/Document"),
        .target(name: "ExecutorRuntime", dependencies: ["PlanterCore", "PlanterJSON", "ExecutorAPI", "ExecutorKit", "ProcessSupport"],
                path: "Sources/ExecutorRuntime"),
        .target(name: "PlanterDeployment", dependencies: ["PlanterCore", "PlanterDocument", "PlanterJSON", "ExecutorRuntime"],
                path: "Sources/Deployment"),
        .target(name: "PlanterStore", dependencies: ["CSQLite", "PlanterCore", "PlanterJSON"], path: "Sources/Store"),
        .target(name: "PlanterRedis", dependencies: ["CHiredis", "PlanterCore", "PlanterJSON", "PlanterStore"], path: "Sources/Redis"),
        .target(name: "PlanterMessaging", dependencies: ["CNATS", "PlanterCore"], path: "Sources/Messaging"),
        .target(name: "PlanterWorkers", dependencies: ["PlanterMessaging", "ExecutorRuntime", "PlanterDeployment", "PlanterCore", "PlanterJSON"],
                path: "Sources/Workers"),
        .target(
            name: "PlanterHost",
            dependencies: ["PlanterCore", "PlanterDocument", "PlanterJSON", "ExecutorRuntime", "PlanterDeployment", "ProcessSupport",
                           "PlanterStore"],
            path: "Sources/Host"
        ),
        .target(
            name: "PlanterServer",
            dependencies: [
                "PlanterHost", "PlanterDeployment", "PlanterDocument", "PlanterCore", "PlanterJSON", "PlanterStore", "PlanterMessaging",
                "PlanterWorkers", "PlanterRedis", "ProcessSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            path: "Sources/Server",
            resources: [.copy("openapi.yaml"), .copy("Dashboard/Assets")]
        ),
        .target(name: "ExecutorContract", dependencies: ["ExecutorRuntime", "PlanterCore", "PlanterJSON"], path: "Sources/ExecutorContract"),
        // `planter run` and `validate` with their output: shared by both programs below.
        .target(name: "PlanterCommands",
                dependencies: ["PlanterHost", "PlanterDeployment", "PlanterCore", "PlanterJSON",
                               .product(name: "ArgumentParser", package: "swift-argument-parser")],
                path: "Sources/Commands"),
        // What people type: a launcher in C (libc only) that execs planter-run for run/validate and
        // planter-full for everything else.
        .executableTarget(name: "planter", path: "Sources/planter",
                          // swiftc links the Swift runtime into every program (its registration object needs
                          // it); linked statically, the launcher loads no Swift library before its exec.
                          linkerSettings: [.unsafeFlags(["-static-stdlib"])]),
        .executableTarget(name: "planter-run", dependencies: ["PlanterCommands", "PlanterCore",
                                                              .product(name: "ArgumentParser", package: "swift-argument-parser")],
                          path: "Sources/planter-run"),
        .executableTarget(
            name: "planter-full",
            dependencies: [
                "PlanterCommands", "PlanterHost", "PlanterServer", "ExecutorContract", "PlanterDeployment", "ExecutorRuntime",
                "PlanterCore", "PlanterWorkers", "PlanterMessaging",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                // The client commands (apply, logs, …); already linked for the server.
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            path: "Sources/planter-full"
        ),
        .executableTarget(name: "planter-executor-host", dependencies: ["ExecutorRuntime", "PlanterCore", "PlanterJSON"],
                          path: "Sources/ExecutorHost"),
        // Shared by the plugin test targets: finding a built plugin, collecting a call's output, a test HTTP server, a runc rootfs.
        .target(name: "PlanterTestSupport", dependencies: ["ExecutorRuntime", "ExecutorKit", "PlanterCore", "PlanterJSON"], path: "Tests/Support"),
        tests("PlanterJSONTests", ["PlanterJSON"]),
        tests("ExecutorKitTests", ["ExecutorKit", "ProcessSupport", "PlanterTestSupport"]),
        tests("PlanterHostTests", ["PlanterHost", "PlanterDeployment", "PlanterDocument", "ExecutorRuntime", "PlanterCore", "PlanterJSON"]),
        tests("ExecutorAPITests", ["ExecutorRuntime", "PlanterCore", "PlanterJSON"]),
        tests("ShellExecutorTests", ["PlanterHost", "PlanterDeployment", "ExecutorRuntime", "PlanterJSON", "PlanterTestSupport"]),
        tests("PlanterCLITests", ["PlanterJSON"]),
        tests("PlanterStoreTests", ["PlanterStore", "PlanterJSON"]),
        tests("PlanterRedisTests", ["PlanterRedis", "PlanterStore", "PlanterJSON", "PlanterTestSupport"]),
        tests("PlanterMessagingTests", ["PlanterMessaging", "PlanterTestSupport"]),
        tests("PlanterServerTests", [
            "PlanterServer", "PlanterHost", "PlanterJSON", "PlanterMessaging", "PlanterTestSupport", "PlanterDocument",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
        ]),
        // Routes, auth and error bodies in-process (no socket, no signals); ProcessTests keep signals and restarts.
        tests("PlanterServerRouteTests", [
            "PlanterServer", "PlanterHost", "PlanterJSON", "PlanterCore", "PlanterDeployment", "PlanterDocument", "PlanterTestSupport",
            .product(name: "HummingbirdTesting", package: "hummingbird"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        tests("SubprocessExecutorTests", ["PlanterHost", "PlanterDeployment", "ExecutorRuntime", "PlanterCore", "PlanterJSON", "PlanterTestSupport"]),
        tests("PythonExecutorTests", ["ExecutorRuntime", "PlanterCore", "PlanterJSON", "PlanterTestSupport"]),
        tests("ContainerExecutorTests", ["ExecutorRuntime", "PlanterJSON", "PlanterTestSupport"]),
        tests("HTTPExecutorTests", ["ExecutorRuntime", "PlanterCore", "PlanterJSON", "PlanterTestSupport"]),
        tests("NativeExecutorTests", ["ExecutorRuntime", "PlanterDocument", "PlanterJSON", "PlanterTestSupport"]),
        // The contract checks over every built-in plugin, in process and isolated.
        tests("ExecutorContractTests", ["ExecutorContract", "ExecutorRuntime", "PlanterJSON", "PlanterTestSupport"]),
    ] + plugins.map(\.target)
)
