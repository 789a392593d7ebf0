import Foundation
import PlanterJSON
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `planter run`: dry runs, failures, events, time limits, signals and secrets.
@Suite struct RunTests {
    @Test func dryRunShowsWavesAndRunsNothing() async throws {
        let scratch = try Scratch()
        let plan = try scratch.write("plan.json", manifest(
            shellPhase("first", "touch \(scratch.path("first"))"),
            shellPhase("second", "touch \(scratch.path("second"))", waitFor: ["first"]),
            #"{"kind": "Phase", "id": "note", "spec": {"selector": {"matchLabels": {"executor": "c-echo"}}}}"#))

        let text = try await CLI.run(["run", plan, "--dry-run"])
        #expect(text.status == 0, "\(text)")
        #expect(text.stdout.contains("dry run: 3 phases in 2 waves"), "\(text)")
        #expect(text.stdout.contains("wave 1:") && text.stdout.contains("wave 2:"), "\(text)")
        #expect(text.stdout.contains("executor shell (plugin shell)"), "\(text)")
        #expect(text.stdout.contains("executor c-echo (plugin c-echo)"), "\(text)")

        let json = try await CLI.run(["run", plan, "--dry-run", "--output", "json"])
        #expect(json.status == 0, "\(json)")
        let report = try json.json()
        #expect(report["dryRun"] == true)
        let waves = (report["waves"]?.arrayValue ?? []).map { wave in
            (wave.arrayValue ?? []).map { "\($0.string("id") ?? "?")@\($0.string("executor") ?? "?")/\($0.string("plugin") ?? "?")" }
        }
        #expect(waves == [["first@shell/shell", "note@c-echo/c-echo"], ["second@shell/shell"]])
        #expect(scratch.contents() == ["plan.json"], "a dry run must not run the phases")

        // The same plan for real does create the files, so the check above means something.
        let real = try await CLI.run(["run", plan, "--quiet"])
        #expect(real.status == 0, "\(real)")
        #expect(scratch.exists("first") && scratch.exists("second"))
    }

    @Test func failingPhaseExitsOneAndSkipsDependents() async throws {
        let scratch = try Scratch()
        let plan = try scratch.write("plan.json", manifest(
            shellPhase("compile", "echo 'error: missing semicolon' >&2; exit 7"),
            shellPhase("ship", "touch \(scratch.path("shipped"))", waitFor: ["compile"])))
        let outcome = try await CLI.run(["run", plan, "--output", "json"])
        #expect(outcome.status == 1, "\(outcome)")
        let result = try outcome.json()
        #expect(result.string("status") == "failed")
        #expect(result.string("failedPhase") == "compile")
        #expect(result.statuses == ["compile": "failed", "ship": "skipped"])
        let compile = try #require(result.phase("compile"))
        #expect(compile["attempts"]?.arrayValue?.first?["exitCode"] == 7)
        #expect(compile.string("output") == "error: missing semicolon\n")
        #expect(result.phase("ship")?.string("message")?.contains("compile") == true)
        #expect(!scratch.exists("shipped"))

        let text = try await CLI.run(["run", plan])
        #expect(text.status == 1, "\(text)")
        #expect(text.stdout.contains("exit 7"), "\(text)")
    }

    @Test func retriesUpToMaxAttemptsThenFails() async throws {
        let scratch = try Scratch()
        let plan = try scratch.write("plan.json", manifest(
            shellPhase("flaky", "echo try >> \(scratch.path("count")); exit 1",
                       extra: #", "retry": {"maxAttempts": 3, "x-initialDelay": "50ms", "x-factor": 1, "x-jitter": 0}"#)))
        let outcome = try await CLI.run(["run", plan, "--output", "json"])
        #expect(outcome.status == 1, "\(outcome)")
        let flaky = try #require(try outcome.json().phase("flaky"))
        #expect(flaky.attemptStatuses == ["failed", "failed", "failed"])
        let count = try String(contentsOfFile: scratch.path("count"), encoding: .utf8)
        #expect(count == "try\ntry\ntry\n")
    }

    @Test func eventsFileHasJSONLines() async throws {
        let scratch = try Scratch()
        let events = scratch.path("events.jsonl")
        let outcome = try await CLI.run(["run", CLI.example("hello.json"), "--events", events, "--quiet"],
                                        environment: ["TMPDIR": scratch.path])
        #expect(outcome.status == 0, "\(outcome)")
        let text = try String(contentsOfFile: events, encoding: .utf8)
        let lines = text.split(separator: "\n")
        #expect(text.hasSuffix("\n"))
        var parsed: [JSON] = []
        for line in lines {
            do {
                parsed.append(try JSONParser.parse(String(line)))
            } catch {
                Issue.record("not a JSON line: \(line) (\(error))")
            }
        }
        let types = parsed.compactMap { $0.string("type") }
        #expect(types.first == "runStarted")
        #expect(types.last == "runFinished")
        #expect(parsed.last?["details"]?["status"] == "succeeded")
        #expect(types.filter { $0 == "attemptStarted" }.count == 7, "6 phases, one retried: \(types)")
        #expect(types.filter { $0 == "phaseFinished" }.count == 6, "\(types)")
        #expect(types.contains("retryScheduled"))
        #expect(types.contains("handlerMessage"))
        let runIds = Set(parsed.compactMap { $0.string("runId") })
        #expect(runIds.count == 1, "one run id on every line")
        let testAttempts = parsed.filter { $0.string("type") == "attemptStarted" && $0.string("phaseId") == "test" }
        #expect(testAttempts.compactMap { $0["attempt"]?.intValue } == [1, 2])
        // Every phase starts before it finishes.
        for id in ["fetch", "lint", "build", "test", "docs", "package"] {
            let start = types.indices.first { types[$0] == "attemptStarted" && parsed[$0].string("phaseId") == id }
            let end = types.indices.first { types[$0] == "phaseFinished" && parsed[$0].string("phaseId") == id }
            #expect(start != nil && end != nil && start! < end!, "\(id)")
        }
    }

    @Test func eventsFileThatCannotBeWrittenIsAnError() async throws {
        let scratch = try Scratch()
        let outcome = try await CLI.run(["run", CLI.example("seed-style.json"), "--events", scratch.path("no/such/dir/e.jsonl")])
        #expect(outcome.status == 2, "\(outcome)")
        #expect(outcome.stderr.contains("cannot write events"), "\(outcome)")
    }

    @Test func attemptTimeLimitIsEnforced() async throws {
        let scratch = try Scratch()
        let plan = try scratch.write("plan.json", manifest(
            // 60 s: past CLI.run's 20 s watchdog, so only the time limit lets the run end.
            shellPhase("slow", "echo started; sleep 60", extra: #", "x-timeout": "300ms""#)))
        let outcome = try await CLI.run(["run", plan, "--output", "json"])
        #expect(outcome.status == 1, "\(outcome)")
        let slow = try #require(try outcome.json().phase("slow"))
        // The shell plugin enforces timeoutMs itself too; whichever deadline fires first, the
        // attempt is a timeout.
        #expect(slow.string("status") == "timedOut", "\(outcome)")
        #expect(slow.string("message")?.contains("timed out after 300") == true, "\(outcome)")
        #expect(slow.attemptStatuses.count == 1)
        #expect(slow.string("output") == "started\n")
    }

    @Test func parallelOneRunsOnePhaseAtATime() async throws {
        let scratch = try Scratch()
        let log = scratch.path("log")
        let script = { (id: String) in "echo start-\(id) >> \(log); echo end-\(id) >> \(log)" }
        let plan = try scratch.write("plan.json", manifest(shellPhase("a", script("a")), shellPhase("b", script("b")),
                                                           shellPhase("c", script("c"))))
        let outcome = try await CLI.run(["run", plan, "--parallel", "1", "--output", "json"])
        #expect(outcome.status == 0, "\(outcome)")
        let lines = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(lines == ["start-a", "end-a", "start-b", "end-b", "start-c", "end-c"])
        // The run's own record: each phase starts after the one before it ended (independent
        // phases all start at once when the limit does not hold, before any has ended).
        let result = try outcome.json()
        func time(_ id: String, _ key: String) -> String { result.phase(id)?.string(key) ?? "" }
        #expect(time("b", "startedAt") >= time("a", "endedAt"), "\(outcome)")
        #expect(time("c", "startedAt") >= time("b", "endedAt"), "\(outcome)")

        let zero = try await CLI.run(["run", plan, "--parallel", "0"])
        #expect(zero.status != 0 && zero.status != 1, "--parallel 0 is a usage error: \(zero)")
    }

    @Test(arguments: [SIGINT, SIGTERM])
    func signalCancelsTheRunningPhaseAndKillsItsProcess(signal: Int32) async throws {
        let scratch = try Scratch()
        let events = scratch.path("events.jsonl")
        let pidFile = scratch.path("sleep.pid")
        let plan = try scratch.write("plan.json", manifest(
            // 120 s: past finish's 60 s watchdog, so only the signal lets the run end.
            shellPhase("long", "echo $$ > \(pidFile); exec sleep 120"),
            shellPhase("after", "touch \(scratch.path("after"))", waitFor: ["long"])))
        let child = try Child(["run", plan, "--output", "json", "--events", events], environment: CLI.environment())
        // The events file is written in large chunks, so the phase itself says it has started.
        let started = await eventually(within: 30) {
            ((try? String(contentsOfFile: pidFile, encoding: .utf8)) ?? "").hasSuffix("\n")
        }
        #expect(started, "the long phase never started")
        child.signal(signal)
        let outcome = try await child.finish(timeout: 60)
        #expect(outcome.status == 1, "\(outcome)")
        let result = try outcome.json()
        #expect(result.string("status") == "cancelled")
        #expect(result.statuses == ["long": "cancelled", "after": "skipped"])
        #expect(result.phase("long")?.string("message")?.contains("interrupted by signal") == true, "\(outcome)")
        #expect(!scratch.exists("after"))
        let eventLog = try String(contentsOfFile: events, encoding: .utf8)
        #expect(eventLog.contains(#""type":"attemptStarted""#), "\(eventLog)")
        #expect(eventLog.contains(#""type":"runFinished""#), "the events file is complete after a cancel")

        // The phase's process is gone too, not orphaned.
        let sleepPid = Int32((try String(contentsOfFile: pidFile, encoding: .utf8)).trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        #expect(sleepPid > 0)
        let gone = await eventually(within: 10) { kill(sleepPid, 0) != 0 && errno == ESRCH }
        #expect(gone, "sleep (pid \(sleepPid)) survived the cancelled run")
        if !gone { kill(sleepPid, SIGKILL) }
    }

    @Test func secretsReachTheShellMaskedAndOnlyWhereGranted() async throws {
        let scratch = try Scratch()
        let secret = "s3cr3t-\(UUID().uuidString.prefix(8))"
        let config = try scratch.write("planter.yaml", """
            secrets:
              API_TOKEN: {env: PLANTER_CLI_TEST_TOKEN}
            executors:
              - name: shell
                plugin: shell
                secrets: [API_TOKEN]
              - name: plain
                plugin: shell
            """)
        let plan = try scratch.write("plan.json", manifest(
            shellPhase("uses", #"test "$API_TOKEN" = "\#(secret)" || exit 9; echo "token=$API_TOKEN""#),
            #"{"kind": "Phase", "id": "other", "spec": {"selector": {"matchLabels": {"executor": "plain"}}, "# +
                #""x-run": {"script": "test -z \"$API_TOKEN\" || exit 8; echo no token here"}}}"#))
        let events = scratch.path("events.jsonl")
        let outcome = try await CLI.run(["run", plan, "--config", config, "--output", "json", "--events", events],
                                        environment: ["PLANTER_CLI_TEST_TOKEN": secret])
        #expect(outcome.status == 0, "\(outcome)")
        let result = try outcome.json()
        #expect(result.statuses == ["uses": "succeeded", "other": "succeeded"],
                "exit 9: the secret did not arrive; exit 8: it leaked to an executor without the grant")
        #expect(result.phase("uses")?.string("output") == "token=***\n")
        #expect(!outcome.stdout.contains(secret), "the secret is masked in the result")
        #expect(!outcome.stderr.contains(secret))
        let eventLog = try String(contentsOfFile: events, encoding: .utf8)
        #expect(eventLog.contains("token=***"), "output events are recorded, masked")
        #expect(!eventLog.contains(secret), "the secret is masked in the events file")

        let text = try await CLI.run(["run", plan, "--config", config], environment: ["PLANTER_CLI_TEST_TOKEN": secret])
        #expect(text.status == 0, "\(text)")
        #expect(text.stdout.contains("token=***"), "\(text)")
        #expect(!text.stdout.contains(secret), "live progress is masked too")

        // Without the variable the config is invalid, with a pointer to the secret.
        let missing = try await CLI.run(["run", plan, "--config", config])
        #expect(missing.status == 2, "\(missing)")
        #expect(missing.stderr.contains("/secrets/API_TOKEN"), "\(missing)")
        #expect(missing.stderr.contains("PLANTER_CLI_TEST_TOKEN"), "\(missing)")
    }
}

@Suite struct PluginsCommandTests {
    @Test func listsShellAndCEcho() async throws {
        let outcome = try await CLI.run(["plugins", "--output", "json"])
        #expect(outcome.status == 0, "\(outcome)")
        let report = try outcome.json()
        #expect(report["hostABIVersion"] == 1)
        let plugins = report["plugins"]?.arrayValue ?? []
        for name in ["shell", "c-echo"] {
            let plugin = plugins.first { $0.string("name") == name }
            #expect(plugin != nil, "plugin \(name) not found: \(outcome)")
            #expect(plugin?["abiVersion"] == 1)
            #expect(plugin?.string("path")?.hasSuffix("libplanter-\(name).so") == true)
            #expect(plugin?.string("version")?.isEmpty == false)
        }
        #expect(report["failures"] == [], "\(outcome)")
        #expect(report.string("deployment") == "built-in default")
        let executors = (report["executors"]?.arrayValue ?? []).compactMap { executor -> String? in
            guard executor["available"] == true else { return nil }
            return "\(executor.string("name") ?? "?")=\(executor.string("plugin") ?? "?")"
        }
        // The built-in deployment: noop plus one executor per plugin found, named after it.
        let expected = ["noop=noop"] + plugins.compactMap { $0.string("name") }.map { "\($0)=\($0)" }
        #expect(Set(executors) == Set(expected))
        #expect(Set(executors).isSuperset(of: ["noop=noop", "shell=shell", "c-echo=c-echo"]))
    }

    @Test func textListingNamesThePlugins() async throws {
        let outcome = try await CLI.run(["plugins"])
        #expect(outcome.status == 0, "\(outcome)")
        #expect(outcome.stdout.contains("shell 1.") && outcome.stdout.contains("c-echo 1."), "\(outcome)")
        #expect(outcome.stdout.contains("ABI 1"))
    }

    @Test func planterConfigVariableIsHonoured() async throws {
        let outcome = try await CLI.run(["plugins", "--output", "json"],
                                        environment: ["PLANTER_CONFIG": CLI.example("deployments/prod.yaml")])
        #expect(outcome.status == 0, "\(outcome)")
        #expect(try outcome.json().string("deployment")?.hasSuffix("deployments/prod.yaml") == true)
    }
}
