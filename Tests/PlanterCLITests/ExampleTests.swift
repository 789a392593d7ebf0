import Foundation
import PlanterJSON
import Testing

/// Every file under examples/ runs as examples/README.md says it does.
@Suite struct ExampleTests {
    @Test(arguments: ["hello.json", "hello.yaml"])
    func helloRunsWithRetryAndContinue(file: String) async throws {
        let scratch = try Scratch()
        // TMPDIR is where the flaky phase keeps its marker file: nothing may be left there.
        let outcome = try await CLI.run(["run", CLI.example(file), "--output", "json"], environment: ["TMPDIR": scratch.path])
        #expect(outcome.status == 0, "\(outcome)")
        let result = try outcome.json()
        #expect(result.string("status") == "succeeded")
        #expect(result.statuses == ["fetch": "succeeded", "lint": "succeeded", "build": "succeeded",
                                    "test": "succeeded", "docs": "failed", "package": "succeeded"])
        #expect(result["summary"] == ["succeeded": 5, "failed": 1])
        for phase in result.phases {
            #expect(phase.string("executor") == "shell")
            #expect(phase.string("plugin") == "shell")
        }

        let test = try #require(result.phase("test"))
        #expect(test.attemptStatuses == ["failed", "succeeded"], "the flaky phase fails once, then passes")
        #expect(test["attempts"]?.arrayValue?.first?["exitCode"] == 1)
        #expect(test.string("output")?.contains("1 test failed (flaky)") == true)
        #expect(test.string("output")?.contains("tests passed") == true)

        let docs = try #require(result.phase("docs"))
        #expect(docs.attemptStatuses == ["failed"])
        #expect(docs["attempts"]?.arrayValue?.first?["exitCode"] == 3)
        #expect(docs["labels"] == ["docs": "missing"], "onFailure labels go on the phase result")

        let package = try #require(result.phase("package"))
        #expect(package.string("output") == "packaging hello 1.0.0\n")
        #expect(result.phase("lint")?.string("output") == "lint: 0 warnings\n")
        #expect(result.phase("build")?.string("output") == "compiling\nbuilt hello\n")

        // Dependencies were respected: build started after fetch ended, package after test.
        func time(_ id: String, _ key: String) -> String { result.phase(id)?.string(key) ?? "" }
        #expect(time("build", "startedAt") >= time("fetch", "endedAt"))
        #expect(time("package", "startedAt") >= time("test", "endedAt"))
        #expect(time("package", "startedAt") >= time("docs", "endedAt"))
        #expect(scratch.contents().isEmpty, "the flaky phase cleans up its marker: \(scratch.contents())")
    }

    @Test func helloTextOutputShowsProgressAndSummary() async throws {
        let scratch = try Scratch()
        let outcome = try await CLI.run(["run", CLI.example("hello.json")], environment: ["TMPDIR": scratch.path])
        #expect(outcome.status == 0, "\(outcome)")
        #expect(outcome.stdout.contains("retrying in 100ms"))
        #expect(outcome.stdout.contains("docs generator missing, shipping without docs"))
        #expect(outcome.stdout.contains("succeeded in"))
        #expect(outcome.stdout.contains("5 succeeded, 1 failed"))
    }

    @Test func helloJSONAndYAMLAreTheSamePlan() async throws {
        let json = try await CLI.run(["run", CLI.example("hello.json"), "--dry-run", "--output", "json"])
        let yaml = try await CLI.run(["run", CLI.example("hello.yaml"), "--dry-run", "--output", "json"])
        #expect(json.status == 0, "\(json)")
        #expect(yaml.status == 0, "\(yaml)")
        #expect(try json.json()["waves"] == yaml.json()["waves"])
        #expect(try yaml.json()["warnings"] == [], "every spelling in hello.yaml is understood")
        let waves = try json.json()["waves"]?.arrayValue?.map { wave in
            (wave.arrayValue ?? []).compactMap { $0.string("id") }
        }
        #expect(waves == [["fetch", "lint"], ["build"], ["test", "docs"], ["package"]])
    }

    @Test func seedStyleRunsOnNoop() async throws {
        let outcome = try await CLI.run(["run", CLI.example("seed-style.json"), "--output", "json"])
        #expect(outcome.status == 0, "\(outcome)")
        let result = try outcome.json()
        #expect(result.string("status") == "succeeded")
        #expect(result.statuses == ["preflight": "succeeded", "initialization": "succeeded", "migration": "succeeded",
                                    "warmup": "succeeded", "rollout": "succeeded", "report": "skipped"])
        for phase in result.phases {
            #expect(phase.string("executor") == "noop")
            #expect(phase.string("plugin") == "noop")
        }
        #expect(result.phase("rollout")?["labels"] == ["release": "done"], "onSuccess labels are applied")
        #expect(result.phase("initialization")?["labels"] == nil, "onFailure labels only on failure")
        #expect(result.phase("report")?.string("message")?.contains("onUse") == true)
    }

    @Test func seedStyleValidatesWithoutWarnings() async throws {
        let outcome = try await CLI.run(["validate", CLI.example("seed-style.json"), "--output", "json"])
        #expect(outcome.status == 0, "\(outcome)")
        #expect(try outcome.json() == ["valid": true, "errors": [], "warnings": []])
    }

    @Test func swapRunsOnShellUnderDev() async throws {
        let outcome = try await CLI.run(["run", CLI.example("swap.json"), "--config", CLI.example("deployments/dev.yaml"),
                                         "--output", "json"])
        #expect(outcome.status == 0, "\(outcome)")
        let result = try outcome.json()
        #expect(result.statuses == ["compile": "succeeded", "publish": "succeeded", "announce": "succeeded"])
        let compile = try #require(result.phase("compile"))
        let publish = try #require(result.phase("publish"))
        #expect(compile.string("executor") == "build")
        #expect(compile.string("plugin") == "shell")
        #expect(compile.string("output") == "compiling for dev\n")
        #expect(publish.string("executor") == "build")
        #expect(publish.string("plugin") == "shell")
        #expect(publish.string("output") == "publishing to dev from /tmp/planter-dev-artifacts\n")
        #expect(result.phase("announce")?.string("plugin") == "noop")
    }

    @Test func swapIsServedDifferentlyUnderProd() async throws {
        // prod.yaml as shipped, but with its root filesystem made here (what `make rootfs` does).
        let scratch = try Scratch()
        let rootfs = scratch.path("rootfs")
        for folder in ["bin", "proc", "dev", "tmp", "planter"] {
            try FileManager.default.createDirectory(atPath: rootfs + "/" + folder, withIntermediateDirectories: true)
        }
        guard FileManager.default.isExecutableFile(atPath: "/bin/busybox") else {
            Issue.record("busybox-static is not installed (make deps installs it)")
            return
        }
        try FileManager.default.copyItem(atPath: "/bin/busybox", toPath: rootfs + "/bin/busybox")
        for tool in ["sh", "echo"] { try FileManager.default.createSymbolicLink(atPath: rootfs + "/bin/" + tool, withDestinationPath: "busybox") }
        let shipped = try String(contentsOfFile: CLI.example("deployments/prod.yaml"), encoding: .utf8)
        #expect(shipped.contains("/var/lib/planter/rootfs/busybox"))
        let config = try scratch.write("prod.yaml", shipped.replacingOccurrences(of: "/var/lib/planter/rootfs/busybox", with: rootfs))

        let outcome = try await CLI.run(["run", CLI.example("swap.json"), "--config", config, "--output", "json"], timeout: 60)
        #expect(outcome.status == 0, "\(outcome)")
        let result = try outcome.json()
        #expect(result.statuses == ["compile": "succeeded", "publish": "succeeded", "announce": "succeeded"], "\(outcome)")
        // The same label now runs in a container, through the isolated container plugin.
        for id in ["compile", "publish"] {
            let phase = try #require(result.phase(id))
            #expect(phase.string("executor") == "build")
            #expect(phase.string("plugin") == "container")
        }
        #expect(result.phase("compile")?.string("output") == "compiling for prod\n")
        #expect(result.phase("publish")?.string("output") == "publishing to prod from /planter\n")
        #expect(result.phase("announce")?.string("plugin") == "noop")
    }

    @Test func deploymentsListTheirExecutors() async throws {
        let dev = try await CLI.run(["plugins", "--config", CLI.example("deployments/dev.yaml"), "--output", "json"])
        let prod = try await CLI.run(["plugins", "--config", CLI.example("deployments/prod.yaml"), "--output", "json"])
        #expect(dev.status == 0, "\(dev)")
        #expect(prod.status == 0, "\(prod)")
        func executors(_ outcome: Outcome) throws -> [String] {
            try (outcome.json()["executors"]?.arrayValue ?? []).map {
                "\($0.string("name") ?? "?")=\($0.string("plugin") ?? "?")\($0["match"]?.objectValue?.isEmpty == false ? " \($0["match"]!.serialized)" : "")"
            }
        }
        #expect(try executors(dev) == ["noop=noop", "build=shell"])
        #expect(try executors(prod) == ["noop=noop", "build=container"])
    }

    @Test func readmeMentionsEveryExample() throws {
        let readme = try String(contentsOfFile: CLI.example("README.md"), encoding: .utf8)
        for file in ["hello.json", "hello.yaml", "seed-style.json", "swap.json", "deployments/dev.yaml", "deployments/prod.yaml"] {
            #expect(readme.contains(file), "examples/README.md does not mention \(file)")
            #expect(FileManager.default.fileExists(atPath: CLI.example(file)))
        }
    }
}
