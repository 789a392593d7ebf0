import Foundation
import PlanterJSON
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The client commands (apply, diff, status, runs, logs, rerun, cancel, stop, reload, health)
/// against a real `planter serve`, with the exit codes a script relies on.
@Suite struct ClientTests {
    @Test func applyWaitExitsAsRunDoes() async throws {
        let server = try await Served()
        let scratch = try Scratch()
        let good = try scratch.write("good.json", manifest(
            shellPhase("fetch", "echo fetched"),
            shellPhase("build", "echo built > \(scratch.path("built"))", waitFor: ["fetch"])))
        let ok = try await server.run(["apply", good, "--wait"])
        #expect(ok.status == 0, "\(ok)")
        #expect(ok.stdout.contains("✓ fetch") && ok.stdout.contains("✓ build"), "live lines per phase: \(ok)")
        #expect(ok.stdout.contains("│ fetch: fetched"), "the phase's output, as planter run shows it: \(ok)")
        #expect(ok.stdout.range(of: #"run \S+ succeeded in"#, options: .regularExpression) != nil, "\(ok)")
        #expect(scratch.exists("built"), "the server ran the plan")

        let bad = try scratch.write("bad.json", manifest(
            shellPhase("compile", "echo 'error: missing semicolon' >&2; exit 7"),
            shellPhase("ship", "touch \(scratch.path("shipped"))", waitFor: ["compile"])))
        let failed = try await server.run(["apply", bad, "--wait"])
        #expect(failed.status == 1, "\(failed)")
        #expect(failed.stdout.contains("✗ compile") && failed.stdout.contains("exit 7"), "\(failed)")
        #expect(failed.stdout.contains("skipped"), "\(failed)")
        #expect(!scratch.exists("shipped"))

        let invalid = try scratch.write("invalid.json", manifest(shellPhase("a", "true", waitFor: ["prefligth"])))
        let refused = try await server.run(["apply", invalid, "--wait"])
        #expect(refused.status == 2, "\(refused)")
        #expect(refused.stderr.contains("/0/spec/waitFor/phases/0") && refused.stderr.contains("prefligth"), "\(refused)")
        #expect(refused.stdout.isEmpty, "\(refused)")

        // Warnings on standard error, as planter run prints them; errors with --strict.
        let warned = try scratch.write("warned.json", #"[{"kind": "Phase", "id": "w", "spec": {"descripton": "typo"}}]"#)
        let warnings = try await server.run(["apply", warned, "--wait"])
        #expect(warnings.status == 0 && warnings.stderr.contains("warning: /0/spec/descripton"), "\(warnings)")
        let strict = try await server.run(["apply", warned, "--wait", "--strict"])
        #expect(strict.status == 2 && strict.stderr.contains("error: /0/spec/descripton"), "\(strict)")

        // JSON: the POST /plan answer with the run's result, parseable, and the same exit code.
        let json = try await server.run(["apply", bad, "--wait", "-o", "json", "--force"])
        #expect(json.status == 1, "\(json)")
        let answer = try json.json()
        #expect(answer["result"]?.string("status") == "failed", "\(json)")
        #expect(answer["result"]?.statuses == ["compile": "failed", "ship": "skipped"], "\(json)")
        #expect(answer.string("runId") == answer["result"]?.string("runId"))
    }

    @Test func unreachableServerIsExitThree() async throws {
        // The port of a server that has stopped: nothing listens there any more.
        let stopped = try await Served()
        let port = stopped.port
        stopped.stop()
        for command in [["status"], ["apply", CLI.example("hello.json"), "--wait"], ["logs", "--follow"], ["health"]] {
            let outcome = try await CLI.run(command, environment: ["PLANTER_SERVER": "http://127.0.0.1:\(port)", "PLANTER_TOKEN": ""])
            #expect(outcome.status == 3, "\(command): \(outcome)")
            #expect(outcome.stderr.split(separator: "\n").count == 1, "one clear line: \(outcome)")
            #expect(outcome.stderr.contains("cannot reach Planter at http://127.0.0.1:\(port)"), "\(outcome)")
            #expect(outcome.stderr.contains("refused"), "says why: \(outcome)")
        }
        let badURL = try await CLI.run(["status", "--server", "ftp://example"])
        #expect(badURL.status == 2, "\(badURL)")
    }

    @Test func wrongOrMissingTokenIsExitFour() async throws {
        let server = try await Served()
        let wrong = try await server.run(["status"], environment: ["PLANTER_TOKEN": "not-the-token"])
        #expect(wrong.status == 4, "\(wrong)")
        #expect(wrong.stderr.contains("refused the token"), "\(wrong)")
        #expect(wrong.stderr.split(separator: "\n").count == 1, "\(wrong)")
        let missing = try await server.run(["apply", CLI.example("hello.json"), "--wait"], environment: ["PLANTER_TOKEN": ""])
        #expect(missing.status == 4, "\(missing)")
        #expect(missing.stderr.contains("PLANTER_TOKEN"), "says how to give one: \(missing)")
        // --token wins over the environment.
        let flag = try await server.run(["status", "--token", Served.token], environment: ["PLANTER_TOKEN": "not-the-token"])
        #expect(flag.status == 0, "\(flag)")
        // Health needs no token.
        let health = try await server.run(["health"], environment: ["PLANTER_TOKEN": ""])
        #expect(health.status == 0, "\(health)")
        #expect(health.stdout.hasPrefix("ok: Planter"), "\(health)")
    }

    @Test func missingNamespaceRunOrPhaseIsExitFive() async throws {
        let server = try await Served()
        let ghost = try await server.run(["status", "--namespace", "ghost"])
        #expect(ghost.status == 5, "\(ghost)")
        #expect(ghost.stderr.contains("no namespace \"ghost\""), "\(ghost)")
        let ghostEnv = try await server.run(["runs"], environment: ["PLANTER_NAMESPACE": "ghost"])
        #expect(ghostEnv.status == 5, "\(ghostEnv)")
        let run = try await server.run(["logs", "--run", "no-such-run", "--follow"])
        #expect(run.status == 5, "\(run)")
        #expect(run.stderr.contains("no run no-such-run"), "\(run)")
        let cancel = try await server.run(["cancel", "no-such-run"])
        #expect(cancel.status == 5, "\(cancel)")
        let nothing = try await server.run(["cancel"])
        #expect(nothing.status == 5 && nothing.stderr.contains("no run is in progress"), "\(nothing)")

        // A plan creates its namespace; then the same commands work there.
        let applied = try await server.run(["apply", CLI.example("hello.json"), "--wait", "--namespace", "team-a"])
        #expect(applied.status == 0, "\(applied)")
        let status = try await server.run(["status", "-o", "json"], environment: ["PLANTER_NAMESPACE": "team-a"])
        #expect(status.status == 0, "\(status)")
        #expect(try status.json()["total"]?.intValue ?? 0 > 0, "\(status)")
        let rerun = try await server.run(["rerun", "no-such-phase", "--namespace", "team-a"])
        #expect(rerun.status == 5, "\(rerun)")
    }

    @Test func structuredOutputParses() async throws {
        let server = try await Served()
        let scratch = try Scratch()
        let plan = try scratch.write("plan.yaml", """
            - kind: Phase
              id: greet
              spec:
                selector: {matchLabels: {executor: shell}}
                x-run: {script: "printf 'hello\\\\nworld\\\\n'"}
            """)
        let applied = try await server.run(["apply", plan, "--wait", "-o", "json"])
        #expect(applied.status == 0, "\(applied)")
        let runId = try #require(try applied.json().string("runId"))

        let status = try await server.run(["status", "--output", "json"])
        #expect(try status.json()["phases"]?["greet"]?.stringValue == "succeeded", "\(status)")
        let runs = try await server.run(["runs", "-o", "json"])
        #expect(try runs.json()["runs"]?.arrayValue?.first?.string("runId") == runId, "\(runs)")
        let logs = try await server.run(["logs", "--run", runId, "-o", "json"])
        let events = try logs.json()["events"]?.arrayValue ?? []
        #expect(events.contains { $0.string("type") == "runFinished" }, "\(logs)")

        // YAML: the same document as the JSON, read back by a YAML parser.
        for command in [["status"], ["runs"], ["logs", "--run", runId], ["plugins"], ["validate", plan]] {
            let asJSON = try await server.run(command + ["-o", "json"])
            let asYAML = try await server.run(command + ["-o", "yaml"])
            #expect(asJSON.status == 0 && asYAML.status == 0, "\(command): \(asJSON)\n\(asYAML)")
            try await expectSameDocument(yaml: asYAML.stdout, json: asJSON.stdout, command)
        }
        // The run's output has a newline: a literal block.
        let yamlLogs = try await server.run(["logs", "--run", runId, "--phase", "greet", "-o", "yaml"])
        #expect(yamlLogs.stdout.contains("message: |\n"), "\(yamlLogs)")
        // Values YAML could misread (booleans, numbers, dates, indicators, leading or trailing spaces,
        // blank lines, tabs) come back as they were, read by PyYAML from `-o yaml`.
        let outputs = ##"{"int": 1, "float": 1.5, "big": 1e+20, "small": 2.5e-07, "neg": -2, "t": true, "n": null, "yes": "yes", "No": "No", "num": "1.5", "##
            + ##""date": "2026-12-02", "dash": "- x", "colon": "a: b", "hash": "#c", "empty": "", "lead": " lead", "trail": "trail ", "##
            + ##""uni": "é ü", "tab": "a\tb", "nested": {"a": [1, [2, []], {}], "b": {}, "": "empty key"}, "##
            + ##""multi": "  indented\nline  \n\n\nx\n", "nl": "\n", "blank": "a\n   \nb", "text": "one\ntwo\n"}"##
        let tricky = try scratch.write("tricky.json", manifest(shellPhase("tricky",
            "cat > \"$PLANTER_OUTPUTS\" <<'EOF'\n\(outputs)\nEOF\nprintf 'first\\n  second\\n\\n\\tthird  \\n'")))
        let yamlRun = try await server.run(["apply", tricky, "--wait", "-o", "yaml"])
        #expect(yamlRun.status == 0, "\(yamlRun)")
        let yamlPath = try scratch.write("run.yaml", yamlRun.stdout)
        let expectedPath = try scratch.write("outputs.json", outputs)
        let check = try await CLI.runTool("/usr/bin/python3", ["-c", """
            import json, sys, yaml
            run = yaml.safe_load(open(sys.argv[1]))
            phase = [p for p in run["result"]["phases"] if p["id"] == "tricky"][0]
            want = json.load(open(sys.argv[2]))
            assert phase["outputs"] == want, repr(phase["outputs"]) + " != " + repr(want)
            assert phase["output"] == "first\\n  second\\n\\n\\tthird  \\n", repr(phase["output"])
            """, yamlPath, expectedPath])
        #expect(check.status == 0, "\(check)\n--- yaml\n\(yamlRun.stdout)")

        // `planter run` takes -o yaml too.
        let local = try await CLI.run(["run", plan, "-o", "yaml"])
        #expect(local.status == 0 && local.stdout.contains("status: succeeded"), "\(local)")
    }

    @Test func logsFollowEndsWithTheRun() async throws {
        let server = try await Served()
        let scratch = try Scratch()
        let gate = scratch.path("gate")
        let plan = try scratch.write("plan.json", manifest(
            shellPhase("wait-gate", "while [ ! -e \(gate) ]; do sleep 0.05; done; echo through"),
            shellPhase("after", "echo after", waitFor: ["wait-gate"])))
        let applied = try await server.run(["apply", plan])
        #expect(applied.status == 0, "\(applied)")
        #expect(applied.stdout.contains("started"), "\(applied)")
        let follower = try Child(["logs", "--follow"], environment: CLI.environment(server.client))
        try await Task.sleep(nanoseconds: 500_000_000)
        #expect(follower.isRunning, "logs --follow must wait for the run to end")
        #expect(FileManager.default.createFile(atPath: gate, contents: nil))
        let followed = try await follower.finish(timeout: 30)
        #expect(followed.status == 0, "\(followed)")
        #expect(followed.stdout.contains("│ wait-gate: through") && followed.stdout.contains("✓ after"), "\(followed)")
        #expect(followed.stdout.range(of: #"run \S+ succeeded"#, options: .regularExpression) != nil, "\(followed)")

        // A run that fails: exit 1; following it after its end shows it whole and exits the same.
        let failing = try scratch.write("failing.json", manifest(shellPhase("boom", "sleep 0.3; exit 3")))
        #expect(try await server.run(["apply", failing]).status == 0)
        let live = try await server.run(["logs", "-f", "-o", "json"])
        #expect(live.status == 1, "\(live)")
        let lines = live.stdout.split(separator: "\n").map { try? JSONParser.parse(String($0)) }
        #expect(!lines.isEmpty && lines.allSatisfy { $0 != nil }, "one JSON event per line: \(live)")
        #expect(lines.last??.string("type") == "runFinished", "\(live)")
        let after = try await server.run(["logs", "--follow"])
        #expect(after.status == 1 && after.stdout.contains("✗ boom"), "\(after)")
    }

    @Test func rerunRunsThePhase() async throws {
        let server = try await Served()
        let scratch = try Scratch()
        let plan = try scratch.write("plan.json", manifest(
            shellPhase("count", "echo x >> \(scratch.path("count.txt"))"),
            shellPhase("next", "echo x >> \(scratch.path("next.txt"))", waitFor: ["count"]),
            shellPhase("other", "echo x >> \(scratch.path("other.txt"))")))
        #expect(try await server.run(["apply", plan, "--wait"]).status == 0)
        let rerun = try await server.run(["rerun", "count", "--wait"])
        #expect(rerun.status == 0, "\(rerun)")
        #expect(try lines(scratch.path("count.txt")) == 2, "the phase ran again")
        #expect(try lines(scratch.path("next.txt")) == 1, "its dependent did not")
        let withDependents = try await server.run(["rerun", "count", "--with-dependents", "--wait", "-o", "json"])
        #expect(withDependents.status == 0, "\(withDependents)")
        #expect(try lines(scratch.path("count.txt")) == 3 && lines(scratch.path("next.txt")) == 2)
        #expect(try lines(scratch.path("other.txt")) == 1)
        #expect(try withDependents.json()["result"]?.string("trigger") == "rerun", "\(withDependents)")
        // Without --wait: the run's id, at once.
        let started = try await server.run(["rerun", "other"])
        #expect(started.status == 0 && started.stdout.contains("run "), "\(started)")
    }

    @Test func diffShowsTheChangedField() async throws {
        let server = try await Served()
        let scratch = try Scratch()
        let first = try scratch.write("v1.json", manifest(shellPhase("build", "echo v1"), shellPhase("test", "echo test")))
        #expect(try await server.run(["apply", first, "--wait"]).status == 0)
        let second = try scratch.write("v2.json", manifest(shellPhase("build", "echo v2"), shellPhase("lint", "echo lint")))
        let diff = try await server.run(["diff", second])
        #expect(diff.status == 0, "\(diff)")
        #expect(diff.stdout.contains("~ build"), "\(diff)")
        #expect(diff.stdout.contains(#"/spec/x-run/script: "echo v1" → "echo v2""#), "\(diff)")
        #expect(diff.stdout.contains("+ lint") && diff.stdout.contains("- test"), "\(diff)")
        let json = try await server.run(["diff", second, "-o", "json"])
        let changed = try json.json()["changed"]?.arrayValue?.first
        #expect(changed?.string("id") == "build", "\(json)")
        #expect(changed?["changes"]?.arrayValue?.first?.string("path") == "/spec/x-run/script")

        // Staged: nothing yet, then the staged plan's diff; nothing ran.
        #expect(try await server.run(["diff", "--staged"]).stdout.contains("nothing is staged"))
        let staged = try await server.run(["apply", second, "--stage"])
        #expect(staged.status == 0 && staged.stdout.contains("staged"), "\(staged)")
        let stagedDiff = try await server.run(["diff", "--staged"])
        #expect(stagedDiff.stdout.contains("~ build") && stagedDiff.stdout.contains("+ lint"), "\(stagedDiff)")
        let dry = try await server.run(["apply", second, "--dry-run"])
        #expect(dry.status == 0 && dry.stdout.contains("dry run") && dry.stdout.contains("~ build"), "\(dry)")
        let apply = try await server.run(["apply", "--staged", "--wait"])
        #expect(apply.status == 0 && apply.stdout.contains("✓ lint"), "\(apply)")
        #expect(try await server.run(["diff", second]).stdout.contains("2 unchanged"))
    }

    @Test func cancelStopReloadAndHealth() async throws {
        let server = try await Served()
        let scratch = try Scratch()
        let plan = try scratch.write("slow.json", manifest(shellPhase("slow", "echo started; sleep 30")))
        #expect(try await server.run(["apply", plan]).status == 0)
        // Ctrl-C stops following, not the run.
        let interrupted = try Child(["logs", "--follow"], environment: CLI.environment(server.client))
        // Its first line means it is following, its Ctrl-C handler in place: a signal sent earlier, while
        // the process starts on a loaded machine, could meet a disposition it inherited instead.
        #expect(await eventually(within: 10) { !interrupted.outputSoFar.isEmpty }, "the follower printed nothing")
        interrupted.signal(SIGINT)
        let left = try await interrupted.finish(timeout: 10)
        #expect(left.status == 130 && left.stderr.contains("it goes on"), "\(left)")
        let busy = try await server.run(["apply", plan, "--force"])
        #expect(busy.status == 1 && busy.stderr.contains("in progress"), "the run goes on: \(busy)")

        let follower = try Child(["logs", "--follow"], environment: CLI.environment(server.client))
        try await Task.sleep(nanoseconds: 300_000_000)
        let cancel = try await server.run(["cancel"])
        #expect(cancel.status == 0 && cancel.stdout.contains("cancelling"), "\(cancel)")
        let followed = try await follower.finish(timeout: 20)
        #expect(followed.status == 1, "a cancelled run exits 1, as planter run does: \(followed)")
        #expect(followed.seconds < 15, "\(followed)")

        let reload = try await server.run(["reload"])
        #expect(reload.status == 0 && reload.stdout.contains("state reloaded"), "\(reload)")
        let health = try await server.run(["health", "--url", server.url + "/health", "-o", "json"])
        #expect(health.status == 0, "\(health)")
        #expect(try health.json().string("status") == "ok", "\(health)")
        let wrongPath = try await server.run(["health", "--url", server.url + "/nope"])
        #expect(wrongPath.status != 0, "\(wrongPath)")

        let stop = try await server.run(["stop"])
        #expect(stop.status == 0 && stop.stdout.contains("stopping"), "\(stop)")
        #expect(await eventually(within: 15) { !server.isRunning }, "the server exits after planter stop")
        let gone = try await server.run(["health"])
        #expect(gone.status == 3, "\(gone)")
    }

    @Test func prefixNamespaceStandardInputAndHealthDefaults() async throws {
        let server = try await Served(environment: ["PLANTER_PREFIX": "/api/v1"])
        let prefixed = server.url + "/api/v1"
        let plan = manifest(shellPhase("hello", "echo hello from stdin"))
        let applied = try await CLI.run(["apply", "-", "--wait", "--namespace", "team-a"], environment: server.client.merging(
            ["PLANTER_SERVER": prefixed + "/"]) { $1 }, input: plan)
        #expect(applied.status == 0 && applied.stdout.contains("│ hello: hello from stdin"), "\(applied)")
        let status = try await server.run(["status", "--server", prefixed, "--namespace", "team-a"])
        #expect(status.status == 0 && status.stdout.hasPrefix("namespace team-a: plan "), "\(status)")
        let other = try await server.run(["status", "--server", prefixed])
        #expect(other.status == 0 && other.stdout.contains("no plan applied"), "the default namespace is another: \(other)")
        let unprefixed = try await server.run(["status"])
        #expect(unprefixed.status == 5, "\(unprefixed)")

        // health: with no server named, the server's own PORT and PLANTER_PREFIX (a container's HEALTHCHECK).
        let local = try await CLI.run(["health"], environment: ["PLANTER_SERVER": "", "PORT": String(server.port), "PLANTER_PREFIX": "api/v1/"])
        #expect(local.status == 0 && local.stdout.contains("\(prefixed)/health"), "\(local)")
        let named = try await CLI.run(["health", "--server", prefixed], environment: ["PORT": "1"])
        #expect(named.status == 0, "--server wins over PORT: \(named)")
    }

    @Test func progressBarForPlansLongerThanTheScreen() async throws {
        let scratch = try Scratch()
        let big = try scratch.write("big.json", "[" + (1...60).map { #"{"kind": "Phase", "id": "p\#($0)"}"# }.joined(separator: ",") + "]")
        let small = try scratch.write("small.json", "[" + (1...3).map { #"{"kind": "Phase", "id": "p\#($0)"}"# }.joined(separator: ",") + "]")

        // On a 24-row terminal: 60 phases get the bar, 3 get a line each.
        let onTerminal = try await PseudoTerminal.run(["run", big], rows: 24)
        #expect(onTerminal.status == 0, "\(onTerminal.output)")
        #expect(onTerminal.output.contains("60/60"), "\(onTerminal.output)")
        #expect(onTerminal.output.contains("\r\u{1B}[K"), "redrawn in place: \(onTerminal.output)")
        #expect(!onTerminal.output.contains("p17 "), "no line per phase: \(onTerminal.output)")
        let few = try await PseudoTerminal.run(["run", small], rows: 24)
        #expect(few.status == 0 && few.output.contains("p2") && !few.output.contains("3/3"), "\(few.output)")
        let tall = try await PseudoTerminal.run(["run", big], rows: 100)
        #expect(tall.output.contains("p17 ") && !tall.output.contains("60/60"), "a screen taller than the plan: lines: \(tall.output)")

        // Forced, without a terminal; and off again.
        let forced = try await CLI.run(["run", big, "--progress", "bar"])
        #expect(forced.stdout.contains("[####################] 60/60  ✓ 60 ✗ 0 - 0"), "\(forced)")
        let env = try await CLI.run(["run", small], environment: ["PLANTER_PROGRESS": "bar"])
        #expect(env.stdout.contains("3/3"), "\(env)")
        let lines = try await CLI.run(["run", big])
        #expect(!lines.stdout.contains("60/60") && lines.stdout.contains("p17 "), "not a terminal: lines: \(lines)")

        // The client follows a server's run the same way, failures kept on screen above the bar.
        let server = try await Served()
        let failing = try scratch.write("failing.json", "[" + (1...40).map { #"{"kind": "Phase", "id": "p\#($0)"}"# }.joined(separator: ",")
            + "," + shellPhase("broken", "exit 4") + "]")
        let client = try await PseudoTerminal.run(["apply", failing, "--wait"], environment: server.client, rows: 24)
        #expect(client.status == 1, "\(client.output)")
        #expect(client.output.contains("41/41") && client.output.contains("✗ 1"), "\(client.output)")
        #expect(client.output.contains("broken") && client.output.contains("failed"), "\(client.output)")
    }
}

/// The number of lines of a file.
private func lines(_ path: String) throws -> Int {
    try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").count
}

/// The YAML, read by PyYAML, is the JSON document.
private func expectSameDocument(yaml: String, json: String, _ command: [String],
                                sourceLocation: SourceLocation = #_sourceLocation) async throws {
    let scratch = try Scratch()
    let yamlPath = try scratch.write("out.yaml", yaml)
    let jsonPath = try scratch.write("out.json", json)
    let script = "import json, sys, yaml; a = yaml.safe_load(open(sys.argv[1])); b = json.load(open(sys.argv[2])); "
        + "sys.exit(0 if a == b else 'differ: ' + repr(a) + ' vs ' + repr(b))"
    let check = try await CLI.runTool("/usr/bin/python3", ["-c", script, yamlPath, jsonPath])
    #expect(check.status == 0, "\(command): the YAML is not the JSON document:\n\(check)\n--- yaml\n\(yaml)", sourceLocation: sourceLocation)
}
