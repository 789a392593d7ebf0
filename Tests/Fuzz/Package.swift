// swift-tools-version:6.0
import PackageDescription

// The libFuzzer harness, a package of its own so the root `swift build` never sees it: the
// target has no `main` (libFuzzer's `-sanitize=fuzzer` runtime provides one), so it links only
// when built with that flag. `make fuzz` / `make fuzz-smoke` build it with
//   swift build --package-path Tests/Fuzz --scratch-path .build-fuzz -Xswiftc -sanitize=fuzzer,address
let package = Package(
    name: "planter-fuzz",
    products: [.executable(name: "planter-fuzz", targets: ["PlanterFuzz"])],
    dependencies: [.package(name: "planter", path: "../..")],
    targets: [
        .executableTarget(
            name: "PlanterFuzz",
            dependencies: [.product(name: "PlanterHost", package: "planter")],
            path: "Sources/PlanterFuzz"
        ),
    ]
)
