import Foundation
import PlanterJSON
import Testing

/// The README's "writing a custom executor" instructions, followed to the letter.
@Suite struct CustomExecutorTests {
    static var repository: URL { CLI.examples.deletingLastPathComponent() }

    @Test func theMinimalCExecutorBuildsWithCCAndRuns() async throws {
        let scratch = try Scratch()
        let library = scratch.path("libplanter-minimal.so")
        // The command line written at the top of examples/executors/minimal.c.
        let compile = try await CLI.runTool("/usr/bin/cc", ["-shared", "-fPIC", "-Wall", "-Wextra", "-Werror",
                                                            "-I", "Sources/ExecutorAPI/include", "-o", library,
                                                            "examples/executors/minimal.c"], directory: Self.repository)
        #expect(compile.status == 0, "\(compile)")
        let outcome = try await CLI.run(["run", CLI.example("executors/minimal.json"), "--output", "json"],
                                        environment: ["PLANTER_PLUGIN_PATH": scratch.path])
        #expect(outcome.status == 0, "\(outcome)")
        let result = try outcome.json()
        #expect(result.statuses == ["first": "succeeded", "second": "succeeded"])
        #expect(result.phase("first")?.string("plugin") == "minimal")
        #expect(result.phase("first")?["outputs"] == ["ran": true])
        #expect(result.phase("second")?.string("output") == "minimal executor ran\n")
    }

    @Test func theSwiftExampleExecutorRuns() async throws {
        let outcome = try await CLI.run(["run", CLI.example("executors/swift-hello.json"), "--output", "json"])
        #expect(outcome.status == 0, "\(outcome)")
        let greet = try #require(try outcome.json().phase("greet"))
        #expect(greet.string("plugin") == "swift-hello")
        #expect(greet.string("output") == "Hello, Planter!\n")
        #expect(greet["outputs"] == ["greeting": "Hello, Planter!"])
    }
}
