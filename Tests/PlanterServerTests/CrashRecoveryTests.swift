import Foundation
import PlanterJSON
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `kill -9` of a real `planter serve` in the middle of a phase: the restart on the same root
/// kills what the phase left running (its shell and the shell's background job), names each
/// kill in the log, reads the run as `interrupted`, and only then lets POST /apply run the
/// phase again, once. Processes that merely look alike (another owner token, another run)
/// are left alone. And the original Planter's state file loads as the applied plan.
@Suite struct CrashRecoveryTests {
    @Test func sigkillMidPhaseKillsWhatThePhaseLeftBeforeTheResumeRunsItOnce() async throws {
        try await withHarness { harness in
            let log = harness.path("runs.log")
            let gate = harness.path("gate")
            let pids = harness.path("pids")
            // The first attempt records its shell's pid and its background sleep's, then waits on
            // the sleep; the resumed attempt finds the gate and ends at once.
            let script = "if [ -f \(gate) ]; then echo resumed >> \(log); exit 0; fi; echo start >> \(log); "
                + "sleep 30 & echo \"$$ $!\" > \(pids).tmp && mv \(pids).tmp \(pids); wait"
            let first = try await harness.start()
            let answer = try await first.plan(manifest(recordingPhase("before", log: log), shellPhase("deploy", script, waitFor: ["before"])))
            let runId = try #require(answer["runId"]?.stringValue)
            #expect(await eventually(within: 20) { FileManager.default.fileExists(atPath: pids) }, "\(first.log())")
            let recorded = (try? String(contentsOfFile: pids, encoding: .utf8))?.split(separator: " ").compactMap { pid_t($0.trimmingCharacters(in: .whitespacesAndNewlines)) } ?? []
            try #require(recorded.count == 2, "pids file: \(recorded)")
            let (shell, sleeper) = (recorded[0], recorded[1])
            let shellStart = try #require(startTime(of: shell)), sleeperStart = try #require(startTime(of: sleeper))
            defer { for (pid, start) in [(shell, shellStart), (sleeper, sleeperStart)] { killIfSame(pid, start) } }
            // The run was durable before its first phase started.
            #expect(try first.readStateFile()["inFlightRunId"]?.stringValue == runId)
            // The history commits each attempt and outcome as it happens (the state file keeps the
            // run as it started): once GET /logs shows before done and deploy started, they are durable.
            let saved = await eventually(within: 10) {
                let events = (try? await first.json("/logs?runId=\(runId)"))?["events"]?.arrayValue ?? []
                return events.contains { $0["phaseId"] == "before" && $0["type"] == "phaseFinished" }
                    && events.contains { $0["phaseId"] == "deploy" && $0["type"] == "attemptStarted" }
            }
            let logged = (try? await first.json("/logs?runId=\(runId)"))?.serialized ?? "no answer"
            #expect(saved, "\(logged)")
            let token = try String(contentsOfFile: first.root + "/state/instance", encoding: .utf8)
                .trimmingCharacters(in: .whitespacesAndNewlines)

            // Look-alikes that must survive: the same run id under another owner token, and
            // this Planter's token under another run id.
            let strangers = [
                try Decoy(environment: ["PLANTER_OWNER": String(token.reversed()), "PLANTER_RUN_ID": runId,
                                        "PLANTER_PHASE_ID": "deploy", "PLANTER_ATTEMPT": "1"]),
                try Decoy(environment: ["PLANTER_OWNER": token, "PLANTER_RUN_ID": runId + "-other",
                                        "PLANTER_PHASE_ID": "deploy", "PLANTER_ATTEMPT": "1"]),
            ]
            defer { for stranger in strangers { stranger.stop() } }

            // SIGKILL to planter alone: its phase processes are orphaned and keep running.
            kill(first.pid, SIGKILL)
            #expect(await first.waitForExit(timeout: 20) == 128 + SIGKILL)
            #expect(isAlive(shell, shellStart) && isAlive(sleeper, sleeperStart), "the orphans run on until the restart")

            let second = try await harness.start()
            // Listening means start-up is over: the kills came before it.
            #expect(!isAlive(shell, shellStart), "the phase's shell \(shell) is gone\n\(second.log())")
            #expect(!isAlive(sleeper, sleeperStart), "its background sleep \(sleeper) is gone\n\(second.log())")
            let startLog = second.log()
            for pid in [shell, sleeper] {
                #expect(startLog.contains("killed a process left running by interrupted run \(runId): pid \(pid) "), "\(startLog)")
            }
            #expect(startLog.contains("phase deploy attempt 1"), "\(startLog)")
            #expect(startLog.contains("start time \(shellStart)"), "\(startLog)")
            for stranger in strangers { #expect(stranger.isRunning, "a look-alike with another token or run is left alone") }

            let run = try await second.json("/runs/\(runId)")
            #expect(run["status"] == "interrupted", "\(run.serialized)")
            let deploy = run["phases"]?.arrayValue?.first { $0["id"] == "deploy" }
            #expect(deploy?["status"] == "failed", "\(run.serialized)")
            #expect(deploy?["message"]?.stringValue?.hasPrefix("interrupted:") == true, "\(run.serialized)")
            #expect(run.statuses["before"] == "succeeded")

            try harness.write("gate", "")
            let resumed = try await second.post("/apply?wait=true")
            #expect(resumed.status == 200, "\(resumed)")
            let result = try resumed.json()["result"]
            #expect(result?["status"] == "succeeded", "\(result?.serialized ?? "")")
            #expect(result?.statuses == ["before": "skipped", "deploy": "succeeded"])
            #expect(harness.lines("runs.log") == ["before", "start", "resumed"], "the phase ran once more, and only once")
            #expect(try await second.json("/runs/\(runId)")["status"] == "interrupted", "the interrupted run stays so")
        }
    }

    @Test func aPythonPoolWorkerDiesWithPlanterAndWhatItsPhaseStartedIsKilledAtTheRestart() async throws {
        try await withHarness { harness in
            let log = harness.path("runs.log"), gate = harness.path("gate"), pids = harness.path("pids")
            try harness.write("planter.yaml", "executors:\n  - name: py\n    plugin: python\n    config: {pool: 1}\n")
            let code = """
                import os, subprocess
                if os.path.exists(\(JSON.string(gate).serialized)):
                    open(\(JSON.string(log).serialized), "a").write("resumed\\n")
                else:
                    child = subprocess.Popen(["sleep", "30"])
                    with open(\(JSON.string(pids + ".tmp").serialized), "w") as f:
                        f.write("%d %d" % (os.getpid(), child.pid))
                    os.rename(\(JSON.string(pids + ".tmp").serialized), \(JSON.string(pids).serialized))
                    child.wait()
                """
            let phase = #"{"kind": "Phase", "id": "py", "spec": {"selector": {"matchLabels": {"executor": "py"}}, "x-run": {"code": \#(JSON.string(code).serialized)}}}"#
            let arguments = ["--config", harness.path("planter.yaml")]
            let first = try await harness.start(arguments: arguments)
            let runId = try #require(try await first.plan(manifest(phase))["runId"]?.stringValue)
            #expect(await eventually(within: 20) { FileManager.default.fileExists(atPath: pids) }, "\(first.log())")
            let recorded = (try? String(contentsOfFile: pids, encoding: .utf8))?.split(separator: " ").compactMap { pid_t($0) } ?? []
            try #require(recorded.count == 2, "pids file: \(recorded)")
            let (worker, sleeper) = (recorded[0], recorded[1])
            let workerStart = try #require(startTime(of: worker)), sleeperStart = try #require(startTime(of: sleeper))
            defer { for (pid, start) in [(worker, workerStart), (sleeper, sleeperStart)] { killIfSame(pid, start) } }

            kill(first.pid, SIGKILL)
            #expect(await first.waitForExit(timeout: 20) == 128 + SIGKILL)
            // PR_SET_PDEATHSIG: the kernel kills the worker as Planter dies.
            #expect(await eventually(within: 20) { !isAlive(worker, workerStart) }, "the pool worker \(worker) died with Planter")

            let second = try await harness.start(arguments: arguments)
            #expect(!isAlive(sleeper, sleeperStart), "the phase's subprocess \(sleeper) is gone\n\(second.log())")
            #expect(second.log().contains("interrupted run \(runId): pid \(sleeper) "), "\(second.log())")
            #expect(try await second.json("/runs/\(runId)")["status"] == "interrupted")
            try harness.write("gate", "")
            let resumed = try await second.post("/apply?wait=true")
            #expect(try resumed.json()["result"]?.statuses == ["py": "succeeded"], "\(resumed)")
            #expect(harness.lines("runs.log") == ["resumed"])
        }
    }

    @Test func aRunThatEarlierVersionsLeftRunningAndInterruptedReadsInterrupted() async throws {
        try await withHarness { harness in
            let root = harness.path("root")
            try FileManager.default.createDirectory(atPath: root + "/state", withIntermediateDirectories: true)
            let phase = shellPhase("a", "true")
            // What a crash used to leave after the restart: status running, interrupted beside it.
            let file = """
                {"format": "planter-state/1", "planId": "p-1", "submittedAt": "2026-11-29T10:00:00.000Z", "phases": [\(phase)],
                 "phaseStatus": {}, "staged": null, "inFlightRunId": null,
                 "runs": [{"runId": "r-old", "status": "running", "startedAt": "2026-11-29T10:00:00.000Z",
                           "endedAt": "2026-11-29T10:00:01.000Z", "durationMs": 1000, "summary": {"running": 1},
                           "phases": [{"id": "a", "status": "running", "executor": "shell", "plugin": "shell",
                                       "attempts": [{"attempt": 1, "status": "running", "startedAt": "2026-11-29T10:00:00.500Z"}],
                                       "outputs": {}, "output": ""}],
                           "planId": "p-1", "trigger": "plan", "interrupted": true}]}
                """
            try file.write(toFile: root + "/state/state.json", atomically: true, encoding: .utf8)
            let server = try await harness.start()
            let run = try await server.json("/runs/r-old")
            #expect(run["status"] == "interrupted", "\(run.serialized)")
            #expect(run.statuses == ["a": "failed"], "\(run.serialized)")
            #expect(try await server.json("/state")["interruptedRunId"] == "r-old")
        }
    }

    @Test func theOriginalPlantersStateFileLoadsAsTheAppliedPlan() async throws {
        try await withHarness { harness in
            let root = harness.path("root")
            try FileManager.default.createDirectory(atPath: root + "/state", withIntermediateDirectories: true)
            // What the original Planter writes: an array of phases, PascalCase at the top, snake_case inside.
            let original = """
                [
                  {"Kind": "Phase", "Id": "preflight", "Spec": {"description": "Check the host",
                    "selector": {"match_labels": {"phase": "preflight"}}, "wait_for": null, "retry": {"max_attempts": 2},
                    "on_failure": null, "on_success": null, "instance_mode": null}},
                  {"Kind": "Phase", "Id": "initialization", "Spec": {"description": "Generate IDs",
                    "selector": {"match_labels": {"phase": "initialization"}}, "wait_for": {"phases": ["preflight"]},
                    "retry": {"max_attempts": 5},
                    "on_failure": {"action": "continue", "spec": {"message": ["continuing with defaults"], "labels": {"mode": "fallback"}}},
                    "on_success": null, "instance_mode": null}}
                ]
                """
            try original.write(toFile: root + "/state/state.json", atomically: true, encoding: .utf8)
            let server = try await harness.start()
            #expect(server.log().contains("written by the original Planter"), "\(server.log())")
            #expect(!server.log().contains("corrupt"), "\(server.log())")
            let leftAside = try FileManager.default.contentsOfDirectory(atPath: root + "/state").filter { $0.contains("corrupt") }
            #expect(leftAside.isEmpty, "nothing moved aside: \(leftAside)")

            let state = try await server.json("/state")
            #expect(state["phases"]?.ids == ["preflight", "initialization"], "\(state.serialized)")
            let phases = state["phases"]?.arrayValue ?? []
            #expect(phases.last?["spec"]?["waitFor"]?["phases"] == ["preflight"], "\(state.serialized)")
            #expect(phases.last?["spec"]?["retry"]?["maxAttempts"] == 5)
            #expect(phases.last?["spec"]?["onFailure"]?["action"] == "continue")
            #expect(state.phaseStatuses.isEmpty || state.phaseStatuses.values.allSatisfy { $0 == "pending" },
                    "nothing has run: \(state.serialized)")
            #expect(try await server.json("/runs")["runs"]?.arrayValue?.isEmpty == true)

            // The next save writes this Planter's own format, with the same plan.
            _ = try await server.plan(manifest(recordingPhase("next", log: harness.path("runs.log"))), "stage=true")
            let file = try server.readStateFile()
            #expect(file["format"] == "planter-state/1", "\(file.serialized)")
            #expect(file["phases"]?.ids == ["preflight", "initialization"])
        }
    }
}

// MARK: Processes, read from /proc

/// Field 22 of /proc/PID/stat (start time in clock ticks since boot), nil when there is no
/// such process or it is a zombie.
private func startTime(of pid: pid_t) -> UInt64? {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
        let close = stat.lastIndex(of: ")") else { return nil }
    // Fields from 3 (state) on follow the last ')'.
    let fields = stat[stat.index(after: close)...].split(separator: " ")
    guard fields.count > 19, fields[0] != "Z", fields[0] != "X" else { return nil }
    return UInt64(fields[19])
}

/// The process `pid` that started at `start` is still running (not a zombie).
private func isAlive(_ pid: pid_t, _ start: UInt64) -> Bool { startTime(of: pid) == start }

/// Cleanup after a failed test: the orphans must not outlive it.
private func killIfSame(_ pid: pid_t, _ start: UInt64) {
    if isAlive(pid, start) { kill(pid, SIGKILL) }
}

/// A `sleep` started by the test with a phase-like environment.
private final class Decoy: @unchecked Sendable {
    let process = Process()

    init(environment: [String: String]) throws {
        process.executableURL = URL(fileURLWithPath: "/bin/sleep")
        process.arguments = ["60"]
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("PLANTER_") }
        for (key, value) in environment { env[key] = value }
        process.environment = env
        try process.run()
    }

    var isRunning: Bool { process.isRunning && startTime(of: process.processIdentifier) != nil }

    func stop() {
        // SIGKILL: the test runner's signal mask may block SIGTERM in what it starts.
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }
}
