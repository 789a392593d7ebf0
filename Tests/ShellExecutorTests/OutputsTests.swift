import ExecutorRuntime
import Foundation
import PlanterDeployment
import PlanterHost
import PlanterJSON
import PlanterTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

// Outputs between phases: PLANTER_INPUTS (a JSON file with the outputs of the phases a phase
// waits for, keyed by phase id) and PLANTER_OUTPUTS (where the process may write its outputs).

@Suite struct ShellOutputsTests {
    @Test func inputsFileHoldsTheRequestInputs() throws {
        let run = try Fixture.run(["script": "cat \"$PLANTER_INPUTS\""],
                                  inputs: ["fetch": ["revision": "abc123", "files": [1, 2]], "lint": [:]])
        #expect(run.result.status == .succeeded, "\(run.result)")
        #expect(run.stdout == #"{"fetch":{"revision":"abc123","files":[1,2]},"lint":{}}"# + "\n")
    }

    @Test func outputsFileBecomesTheOutputs() throws {
        let run = try Fixture.run(["script": #"printf '{"version": "1.2.3",\n "ok": true}' > "$PLANTER_OUTPUTS""#])
        #expect(run.result.status == .succeeded, "\(run.result)")
        #expect(run.result.outputs == ["version": "1.2.3", "ok": true])
    }

    @Test func noOrEmptyOutputsFileMeansNoOutputs() throws {
        let none = try Fixture.run(["script": "true"])
        #expect(none.result.status == .succeeded)
        #expect(none.result.outputs.isEmpty)
        let empty = try Fixture.run(["script": ": > \"$PLANTER_OUTPUTS\""])
        #expect(empty.result.status == .succeeded, "\(empty.result)")
        #expect(empty.result.outputs.isEmpty)
    }

    @Test func filesAreRemovedAfterTheAttempt() throws {
        let dir = try TempDir()
        let run = try Fixture.run(["script": .string(
            "dirname \"$PLANTER_INPUTS\" > \(dir.path)/where; echo '{}' > \"$PLANTER_OUTPUTS\"; touch \"$(dirname \"$PLANTER_OUTPUTS\")/extra\"")])
        #expect(run.result.status == .succeeded, "\(run.result)")
        let folder = try #require(dir.readLine("where"))
        #expect(folder.hasPrefix("/"))
        #expect(access(folder, F_OK) != 0, "\(folder) was left behind")
    }

    @Test func invalidOutputsJSONFailsWithLineAndColumn() throws {
        let run = try Fixture.run(["script": #"printf '{\n  "a": 1,\n  "b": }' > "$PLANTER_OUTPUTS""#])
        #expect(run.result.status == .failed)
        #expect(run.result.exitCode == 0)
        #expect(run.result.message.contains("PLANTER_OUTPUTS"), "\(run.result.message)")
        #expect(run.result.message.contains("line 3, column 8"), "\(run.result.message)")
    }

    @Test func outputsMustBeAnObject() throws {
        let run = try Fixture.run(["script": "echo '[1, 2]' > \"$PLANTER_OUTPUTS\""])
        #expect(run.result.status == .failed)
        #expect(run.result.message.contains("must hold a JSON object, got an array"), "\(run.result.message)")
    }

    @Test func outputsOverTheLimitFailClearly() throws {
        let script = "printf '{\"data\": \"%0200d\"}' 0 > \"$PLANTER_OUTPUTS\""
        let big = try Fixture.run(["script": .string(script)], config: ["maxOutputsBytes": 100, "killGraceMs": 200])
        #expect(big.result.status == .failed)
        #expect(big.result.message.contains("outputs too large"), "\(big.result.message)")
        #expect(big.result.message.contains("212 bytes"), "\(big.result.message)")
        #expect(big.result.message.contains("maxOutputsBytes"), "\(big.result.message)")
        let fits = try Fixture.run(["script": .string(script)], config: ["maxOutputsBytes": 212, "killGraceMs": 200])
        #expect(fits.result.status == .succeeded, "\(fits.result)")
    }

    @Test func defaultLimitIsOneMebibyte() throws {
        // Exactly 1 MiB of JSON (`{"a":"`, 1,048,568 x, `"}`), then one byte more.
        let script = "head -c 1048568 /dev/zero | tr '\\0' x | { printf '{\"a\":\"'; cat; printf '\"}'; } > \"$PLANTER_OUTPUTS\""
        let run = try Fixture.run(["script": .string(script)])
        #expect(run.result.status == .succeeded, "\(run.result)")
        #expect(run.result.outputs["a"]?.stringValue?.count == 1_048_568)
        let over = try Fixture.run(["script": .string(script.replacingOccurrences(of: "1048568", with: "1048569"))])
        #expect(over.result.status == .failed)
        #expect(over.result.message.contains("outputs too large"), "\(over.result.message)")
    }

    @Test func inputsFilesAreRewrittenForEveryAttempt() throws {
        let dir = try TempDir()
        do {
            let executor = try Fixture.executor(config: ["killGraceMs": 200, "tempDir": .string(dir.path)])
            func attempt(_ inputs: JSONObject) throws -> (path: String, outputs: String, text: String) {
                let collector = Collector(cap: 1 << 16)
                let result = executor.execute(
                    Fixture.request(["script": #"echo "$PLANTER_INPUTS"; echo "$PLANTER_OUTPUTS"; cat "$PLANTER_INPUTS""#],
                                    inputs: inputs),
                    call: CallContext(output: { collector.append($0, $1) }))
                let run = collector.run(result)
                #expect(run.result.status == .succeeded, "\(run.result)")
                let lines = run.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
                try #require(lines.count >= 3, "\(run.stdout)")
                return (lines[0], lines[1], lines[2...].joined(separator: "\n"))
            }
            let long = try attempt(["build": ["artifact": "a-rather-long-value-to-be-cut-later"]])
            let short = try attempt(["lint": [:]])
            #expect(long.path.hasPrefix(dir.path + "/planter-shell-\(getpid())-"), "\(long.path)")
            #expect(long.text == #"{"build":{"artifact":"a-rather-long-value-to-be-cut-later"}}"# + "\n")
            // The same slot, rewritten in place and cut to the new length.
            #expect(short.path == long.path)
            #expect(short.text == #"{"lint":{}}"# + "\n")
            // Outputs paths are never reused: a straggler cannot write into a later attempt's outputs.
            #expect(short.outputs != long.outputs)
        }
    }

    @Test func foldersLeftByDeadProcessesAreRemoved() throws {
        let dir = try TempDir()
        let finished = Process()
        finished.executableURL = URL(fileURLWithPath: "/bin/true")
        try finished.run()
        finished.waitUntilExit()
        let deadPid = finished.processIdentifier
        let dead = dir.path + "/planter-shell-\(deadPid)-gone01"
        let locked = dir.path + "/planter-shell-\(deadPid)-held01"  // its pid means nothing here: another namespace
        let alive = dir.path + "/planter-shell-1-alive1"  // pid 1 never exits
        let other = dir.path + "/planter-shell-notapid-x"
        for folder in [dead, locked, alive, other] {
            #expect(mkdir(folder, 0o700) == 0)
            #expect(creat(folder + "/.lock", 0o600) >= 0)
            #expect(creat(folder + "/none.inputs.json", 0o600) >= 0)
        }
        let unlocked = dir.path + "/planter-shell-\(deadPid)-nolock"  // from before folders had locks
        let oldStaging = dir.path + "/.planter-shell-new-\(deadPid)-crash1"  // its host died setting it up
        let youngStaging = dir.path + "/.planter-shell-new-\(deadPid)-young1"  // maybe being set up elsewhere
        for folder in [unlocked, oldStaging, youngStaging] {
            #expect(mkdir(folder, 0o700) == 0)
            #expect(creat(folder + "/none.inputs.json", 0o600) >= 0)
        }
        var twoMinutesAgo = [timeval(tv_sec: time(nil) - 120, tv_usec: 0), timeval(tv_sec: time(nil) - 120, tv_usec: 0)]
        #expect(utimes(oldStaging, &twoMinutesAgo) == 0)
        let holder = open(locked + "/.lock", O_RDWR)
        #expect(flock(holder, LOCK_EX) == 0)
        var made = ""
        do {
            let executor = try Fixture.executor(config: ["killGraceMs": 200, "tempDir": .string(dir.path)])
            let run = executor.execute(Fixture.request(["script": "dirname \"$PLANTER_OUTPUTS\""]), call: CallContext())
            #expect(run.status == .succeeded)
            made = (try? FileManager.default.contentsOfDirectory(atPath: dir.path))?
                .first { $0.hasPrefix("planter-shell-\(getpid())-") } ?? ""
        }
        close(holder)
        // The new folder had its final name, its lock and no staging leftover.
        #expect(made.count == "planter-shell-\(getpid())-".count + 6, "\(made)")
        for gone in [dead, unlocked, oldStaging] {
            #expect(access(gone, F_OK) != 0, "\(gone) was left behind")
        }
        for kept in [locked, alive, other, youngStaging] {
            #expect(access(kept + "/none.inputs.json", F_OK) == 0, "\(kept) was removed")
            unlink(kept + "/none.inputs.json")
            unlink(kept + "/.lock")
            rmdir(kept)
        }
        let left = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        #expect(left.isEmpty, "\(left)")
    }

    @Test func aPhaseThatReplacesItsInputsFileDoesNotDisturbTheNext() throws {
        let dir = try TempDir()
        try dir.write("target", "untouched\n")
        do {
            let executor = try Fixture.executor(config: ["killGraceMs": 200, "tempDir": .string(dir.path)])
            func attempt(_ script: String, _ inputs: JSONObject) -> Run {
                let collector = Collector(cap: 1 << 16)
                let result = executor.execute(Fixture.request(["script": .string(script)], inputs: inputs),
                                              call: CallContext(output: { collector.append($0, $1) }))
                return collector.run(result)
            }
            let replaced = [
                #"rm "$PLANTER_INPUTS""#,
                #"rm "$PLANTER_INPUTS"; mkdir "$PLANTER_INPUTS""#,
                #"rm "$PLANTER_INPUTS"; ln -s "\#(dir.path)/target" "$PLANTER_INPUTS""#,
                #"rm "$PLANTER_INPUTS"; mkfifo "$PLANTER_INPUTS""#,
                #"echo '{"forged":1}' > "$PLANTER_INPUTS.new"; mv "$PLANTER_INPUTS.new" "$PLANTER_INPUTS""#,
                #"ln "$PLANTER_INPUTS" "$PLANTER_INPUTS.kept""#,
                #"chmod 0 "$PLANTER_INPUTS""#,
            ]
            for (index, script) in replaced.enumerated() {
                #expect(attempt(script, ["up": ["n": .int(Int64(index))]]).result.status == .succeeded)
                let next = attempt(#"cat "$PLANTER_INPUTS""#, ["up": ["n": .int(Int64(index + 100))]])
                #expect(next.result.status == .succeeded, "after \(script): \(next.result)")
                #expect(next.stdout == #"{"up":{"n":\#(index + 100)}}"# + "\n", "after \(script)")
            }
        }
        #expect(dir.readLine("target") == "untouched")
    }

    @Test func badTempDirIsRefused() throws {
        let plugin = try Fixture.plugin()
        #expect { _ = try plugin.makeExecutor(name: "s", config: ["tempDir": "relative/path"]) } throws: { error in
            "\(error)".contains("config.tempDir must be an absolute path")
        }
        #expect { _ = try plugin.makeExecutor(name: "s", config: ["tempDir": "/nonexistent/planter"]) } throws: { error in
            "\(error)".contains("/nonexistent/planter")
        }
    }

    @Test func configAndPayloadEnvCannotRedirectTheFiles() throws {
        let run = try Fixture.run(
            // printenv prints every entry of a name: a duplicate would show.
            ["command": ["printenv", "PLANTER_INPUTS", "PLANTER_OUTPUTS"], "env": ["PLANTER_OUTPUTS": "/tmp/payload-outputs"]],
            config: ["killGraceMs": 200, "env": ["PLANTER_INPUTS": "/tmp/config-inputs", "PLANTER_OUTPUTS": "/tmp/config-outputs"]])
        #expect(run.result.status == .succeeded, "\(run.result)")
        let lines = run.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 2, "\(run.stdout)")
        #expect(lines.allSatisfy { $0.contains("/planter-shell-") && !$0.hasPrefix("/tmp/config") && !$0.hasPrefix("/tmp/payload") },
                "\(lines)")
    }

    @Test func outputsOfAFailedRunAreIgnored() throws {
        let run = try Fixture.run(["script": "echo 'not json' > \"$PLANTER_OUTPUTS\"; exit 4"])
        #expect(run.result.status == .failed)
        #expect(run.result.message == "exit 4")
    }

    @Test func badMaxOutputsBytesIsRefused() throws {
        let plugin = try Fixture.plugin()
        #expect { _ = try plugin.makeExecutor(name: "s", config: ["maxOutputsBytes": -1]) } throws: { error in
            "\(error)".contains("config.maxOutputsBytes")
        }
    }

    @Test func outputsFlowFromPhaseToPhaseThroughTheRunner() throws {
        var catalog = PluginCatalog()
        catalog.add(try Fixture.plugin())
        var deployment = Deployment()
        deployment.executors = [ExecutorDefinition(name: "shell", plugin: "shell", config: ["killGraceMs": 200])]
        let registry = ExecutorRegistry(deployment: deployment, catalog: catalog, environment: [:])
        let selector: JSON = ["matchLabels": ["executor": "shell"]]
        let manifest: JSON = [
            ["kind": "Phase", "id": "produce", "spec": [
                "selector": selector,
                "x-run": ["script": #"printf '{"version": "1.2.3", "files": ["a", "b"]}' > "$PLANTER_OUTPUTS""#],
            ]],
            ["kind": "Phase", "id": "consume", "spec": [
                "selector": selector, "waitFor": ["phases": ["produce"]],
                "x-run": ["script": #"""
                    cat "$PLANTER_INPUTS"
                    v=$(sed -n 's/.*"version":"\([^"]*\)".*/\1/p' "$PLANTER_INPUTS")
                    printf '{"seen": "%s"}' "$v" > "$PLANTER_OUTPUTS"
                    """#],
            ]],
            ["kind": "Phase", "id": "report", "spec": [
                "selector": selector, "waitFor": ["phases": ["consume", "produce"]],
                "x-run": ["script": #"cat "$PLANTER_INPUTS""#],
            ]],
        ]
        let plan: Plan
        switch PlanValidator.validate(text: Array(manifest.serialized.utf8), format: .automatic, registry: registry) {
        case .failure(let failure): throw failure
        case .success(let valid): plan = valid
        }
        let result = Runner(plan: plan, options: RunOptions(runId: "r-outputs", parallel: 2)).runBlocking()
        let phases = Dictionary(uniqueKeysWithValues: result.phases.map { ($0.id, $0) })
        let produce = try #require(phases["produce"])
        let consume = try #require(phases["consume"])
        let report = try #require(phases["report"])
        #expect(produce.status == .succeeded && consume.status == .succeeded && report.status == .succeeded,
                "\(result.phases.map { "\($0.id): \($0.status) \($0.message)" })")
        #expect(produce.outputs == ["version": "1.2.3", "files": ["a", "b"]])
        #expect(consume.output.text == #"{"produce":{"version":"1.2.3","files":["a","b"]}}"# + "\n")
        #expect(consume.outputs == ["seen": "1.2.3"])
        // Keyed by phase id: every phase it waits for.
        let reportInputs = try JSONParser.parse(report.output.text)
        #expect(reportInputs["consume"] == ["seen": "1.2.3"])
        #expect(reportInputs["produce"] == ["version": "1.2.3", "files": ["a", "b"]])
        #expect(reportInputs.objectValue?.count == 2)
    }
}

extension String {
    func trimmingSuffix() -> String { String(self.filter { $0 != "\n" }) }
}
