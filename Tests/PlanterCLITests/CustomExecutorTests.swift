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

    /// Instances are made on first use: checking a plan creates none (a python `pool: 4` would
    /// otherwise start four interpreters to check a file), and a create error fails the phases
    /// that needed the instance, with the plugin's message, while the others run.
    @Test func executorInstancesAreMadeOnFirstUse() async throws {
        let scratch = try Scratch()
        let config = try scratch.write("planter.yaml", """
            executors:
              - {name: broken, plugin: c-echo, config: {fail: true}}
              - {name: echo, plugin: c-echo}
            """)
        let plan = try scratch.write("plan.yaml", """
            - {kind: Phase, id: uses-echo, spec: {selector: {matchLabels: {executor: echo}}}}
            - {kind: Phase, id: uses-broken, spec: {selector: {matchLabels: {executor: broken}}, waitFor: {phases: [uses-echo]}}}
            """)
        let validate = try await CLI.run(["validate", plan, "--config", config])
        #expect(validate.status == 0, "\(validate)")
        #expect(!validate.stderr.contains("configured to fail"), "validate must not create the instance: \(validate)")

        let run = try await CLI.run(["run", plan, "--config", config, "--output", "json"])
        #expect(run.status == 1, "\(run)")
        let result = try run.json()
        #expect(result.statuses == ["uses-broken": "failed", "uses-echo": "succeeded"])
        let message = result.phase("uses-broken")?["attempts"]?.arrayValue?.first?.string("message") ?? ""
        #expect(message.contains("executor broken could not be created") && message.contains("c-echo: configured to fail"),
                "\(run)")
    }

    /// Plugins are loaded (dlopen) when an executor first needs one: checking a plan loads none,
    /// and a run loads only the plugins its phases use. The plugin here records its loading.
    @Test func pluginsAreLoadedOnlyWhenARunUsesThem() async throws {
        let scratch = try Scratch()
        let library = scratch.path("libplanter-minimal.so")
        let recorder = try scratch.write("loaded.c", """
            #include <stdio.h>
            #include <stdlib.h>
            __attribute__((constructor)) static void loaded(void) {
                const char *marker = getenv("PLANTER_TEST_MARKER");
                FILE *file = marker ? fopen(marker, "a") : NULL;
                if (file) { fputs("loaded\\n", file); fclose(file); }
            }
            """)
        let compile = try await CLI.runTool("/usr/bin/cc", ["-shared", "-fPIC", "-Wall", "-Werror", "-I", "Sources/ExecutorAPI/include",
                                                            "-o", library, "examples/executors/minimal.c", recorder],
                                            directory: Self.repository)
        #expect(compile.status == 0, "\(compile)")
        let marker = scratch.path("marker")
        let environment = ["PLANTER_PLUGIN_PATH": scratch.path, "PLANTER_TEST_MARKER": marker]
        let noopPlan = try scratch.write("noop.json", #"[{"kind": "Phase", "id": "only"}]"#)

        let validate = try await CLI.run(["validate", CLI.example("executors/minimal.json")], environment: environment)
        #expect(validate.status == 0, "\(validate)")
        #expect(!scratch.exists("marker"), "validate loaded the plugin")
        let noop = try await CLI.run(["run", noopPlan], environment: environment)
        #expect(noop.status == 0, "\(noop)")
        #expect(!scratch.exists("marker"), "a run that does not use the plugin loaded it")
        let run = try await CLI.run(["run", CLI.example("executors/minimal.json")], environment: environment)
        #expect(run.status == 0, "\(run)")
        #expect((try? String(contentsOfFile: marker, encoding: .utf8)) == "loaded\n", "the run that uses it loads it once")
    }
}
