import Foundation
import NIOHTTP1
import PlanterJSON
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The real `planter serve` process: shutdown by SIGTERM and POST /STOP, restarts that
/// restore state, kill -9 during a run and its resumption, SIGHUP and POST /RELOAD, a
/// corrupt state file, sync-from between two servers.
@Suite struct ProcessTests {
    @Test func sigtermSavesStateAndARestartRestoresIt() async throws {
        try await withHarness { harness in
            let log = harness.path("runs.log")
            let plan = manifest(recordingPhase("a", log: log), recordingPhase("b", log: log, waitFor: ["a"]))
            let first = try await harness.start()
            let answer = try await first.plan(plan, "wait=true")
            let planId = try #require(answer["planId"]?.stringValue)
            let staged = try await first.plan(manifest(recordingPhase("next", log: log)), "stage=true")
            // Remove the file written after the run, so only the shutdown can write it again.
            try FileManager.default.removeItem(atPath: first.stateFile)

            first.signal(SIGTERM)
            let status = await first.waitForExit(timeout: 15)
            #expect(status == 0, "exit status after SIGTERM:\n\(first.log())")
            #expect(first.log().contains("state saved"), "\(first.log())")
            let file = try first.readStateFile()
            #expect(file["planId"]?.stringValue == planId)
            #expect(file["phases"]?.ids == ["a", "b"], "the state file has the top-level phases too")

            let second = try await harness.start()
            let state = try await second.json("/state")
            #expect(state["planId"]?.stringValue == planId)
            #expect(state["phases"]?.ids == ["a", "b"])
            #expect(state.phaseStatuses == ["a": "succeeded", "b": "succeeded"])
            #expect(state["staged"]?["planId"] == staged["planId"])
            #expect(try await second.json("/runs")["runs"]?.arrayValue?.count == 1)
            #expect(try await second.json("/diff")["added"] == ["next"], "GET /diff works on the restored staged plan")
            // The restored state drives drift: the same plan runs nothing.
            let again = try await second.plan(plan, "wait=true")
            #expect(again["result"]?.statuses == ["a": "skipped", "b": "skipped"])
            #expect(harness.lines("runs.log") == ["a", "b"])
        }
    }

    @Test func sigtermDuringARunCancelsItAfterTheGraceAndExitsZero() async throws {
        try await withHarness { harness in
            let log = harness.path("runs.log")
            let server = try await harness.start(environment: ["PLANTER_SHUTDOWN_GRACE": "0.3"])
            // 60 s: long past the 0.3 s grace, and past waitForExit's 30 s; only the grace ends it in time.
            let answer = try await server.plan(manifest(shellPhase("slow", "echo start >> \(log); sleep 60; echo done >> \(log)")))
            let runId = try #require(answer["runId"]?.stringValue)
            #expect(await eventually(within: 5) { harness.lines("runs.log") == ["start"] })
            server.signal(SIGTERM)
            let status = await server.waitForExit(timeout: 30)
            #expect(status == 0, "\(server.log())")
            #expect(server.log().contains("state saved"))
            let file = try server.readStateFile()
            #expect(file["inFlightRunId"]?.isNull == true)
            let run = file["runs"]?.arrayValue?.first { $0["runId"]?.stringValue == runId }
            #expect(run?["status"] == "cancelled", "\(file.serialized)")
            #expect(harness.lines("runs.log") == ["start"])
        }
    }

    @Test func stopEndpointSavesAndExitsAndARestartRestores() async throws {
        try await withHarness { harness in
            let log = harness.path("runs.log")
            let first = try await harness.start()
            let answer = try await first.plan(manifest(recordingPhase("a", log: log)), "wait=true")
            let planId = try #require(answer["planId"]?.stringValue)
            try FileManager.default.removeItem(atPath: first.stateFile)

            let stop = try await first.post("/STOP")
            #expect(stop.status == 202, "\(stop)")
            #expect(try stop.json()["stopping"] == true)
            let status = await first.waitForExit(timeout: 15)
            #expect(status == 0, "\(first.log())")
            #expect(first.log().contains("POST /STOP"), "\(first.log())")
            #expect(try first.readStateFile()["planId"]?.stringValue == planId)

            let second = try await harness.start()
            let state = try await second.json("/state")
            #expect(state["planId"]?.stringValue == planId)
            #expect(state.phaseStatuses == ["a": "succeeded"])
        }
    }

    @Test func killDashNineDuringARunThenRestartMarksItInterruptedAndApplyResumesIt() async throws {
        try await withHarness { harness in
            let log = harness.path("runs.log")
            let gate = harness.path("gate")
            // a and solo finish at once; b starts, then waits for the gate file; c waits for b.
            // (b also ends once the harness folder is gone: after the kill -9 it is an orphan.)
            let plan = manifest(
                recordingPhase("a", log: log),
                recordingPhase("solo", log: log),
                shellPhase("b", "echo b-start >> \(log); while [ ! -f \(gate) ] && [ -d \(harness.path("")) ]; do sleep 0.05; done; echo b >> \(log)", waitFor: ["a"]),
                recordingPhase("c", log: log, waitFor: ["b"]))
            let first = try await harness.start()
            let answer = try await first.plan(plan)
            let runId = try #require(answer["runId"]?.stringValue)
            let planId = try #require(answer["planId"]?.stringValue)
            #expect(await eventually(within: 10) { harness.lines("runs.log").contains("b-start") })
            // What GET /logs shows is committed: once it shows a and solo finished, a restart knows it.
            let saved = await eventually(within: 5) {
                let events = (try? await first.json("/logs?runId=\(runId)&level=info"))?["events"]?.arrayValue ?? []
                let finished = Set(events.filter { $0["type"] == "phaseFinished" }.compactMap { $0["phaseId"]?.stringValue })
                return finished.isSuperset(of: ["a", "solo"])
            }
            #expect(saved, "progress committed during the run")
            #expect((try? first.readStateFile())?["inFlightRunId"]?.stringValue == runId)

            first.kill()  // SIGKILL to planter and every phase process below it
            #expect(first.poll() == 128 + SIGKILL)

            let second = try await harness.start()
            #expect(second.log().contains("was interrupted"), "\(second.log())")
            let state = try await second.json("/state")
            #expect(state["interruptedRunId"]?.stringValue == runId, "\(state.serialized)")
            #expect(state["planId"]?.stringValue == planId)
            #expect(state["activeRunId"]?.isNull == true)
            let runs = try await second.json("/runs")["runs"]?.arrayValue ?? []
            #expect(runs.first?["runId"]?.stringValue == runId)
            #expect(runs.first?["interrupted"] == true, "\(runs)")
            #expect(try await second.json("/runs/\(runId)")["interrupted"] == true)

            try harness.write("gate", "")
            let resumed = try await second.post("/apply?wait=true")
            #expect(resumed.status == 200, "\(resumed)")
            let result = try resumed.json()
            #expect(result["planId"]?.stringValue == planId)
            #expect(result["result"]?["status"] == "succeeded", "\(result.serialized)")
            #expect(result["result"]?.statuses == ["a": "skipped", "solo": "skipped", "b": "succeeded", "c": "succeeded"])
            // a and solo ran once; b started twice and finished once; c ran once.
            let lines = harness.lines("runs.log")
            #expect(lines.filter { $0 == "a" }.count == 1, "\(lines)")
            #expect(lines.filter { $0 == "solo" }.count == 1, "\(lines)")
            #expect(lines.filter { $0 == "b-start" }.count == 2, "\(lines)")
            #expect(lines.filter { $0 == "b" }.count == 1, "\(lines)")
            #expect(lines.filter { $0 == "c" }.count == 1, "\(lines)")
            #expect(try await second.json("/runs")["runs"]?.arrayValue?.first?["trigger"] == "resume")
            // Resumed once: a second apply has nothing to do.
            #expect(try await second.post("/apply").status == 404)
        }
    }

    @Test func aNewPlanAlsoResumesAnInterruptedRun() async throws {
        try await withHarness { harness in
            let log = harness.path("runs.log")
            let gate = harness.path("gate")
            let plan = manifest(
                recordingPhase("a", log: log),
                shellPhase("b", "echo b-start >> \(log); while [ ! -f \(gate) ] && [ -d \(harness.path("")) ]; do sleep 0.05; done; echo b >> \(log)", waitFor: ["a"]))
            let first = try await harness.start()
            let runId = try #require(try await first.plan(plan)["runId"]?.stringValue)
            // a's end in GET /logs means it is committed in the history.
            #expect(await eventually(within: 10) {
                let events = (try? await first.json("/logs?runId=\(runId)&phaseId=a"))?["events"]?.arrayValue ?? []
                return harness.lines("runs.log").contains("b-start") && events.contains { $0["type"] == "phaseFinished" }
            })
            first.kill()
            let second = try await harness.start()
            #expect(try await second.json("/state")["interruptedRunId"]?.stringValue == runId)
            try harness.write("gate", "")
            let answer = try await second.plan(plan, "wait=true")
            #expect(answer["result"]?.statuses == ["a": "skipped", "b": "succeeded"])
            #expect(harness.lines("runs.log") == ["a", "b-start", "b-start", "b"])
            // The plan resumed it: there is nothing left for POST /apply to resume.
            let apply = try await second.post("/apply?wait=true")
            #expect(apply.status == 404, "\(apply)")
            #expect(harness.lines("runs.log") == ["a", "b-start", "b-start", "b"], "whatever it answers, nothing runs again")
        }
    }

    @Test func sighupAndReloadReadTheEditedStateFile() async throws {
        try await withHarness { harness in
            let log = harness.path("runs.log")
            let server = try await harness.start()
            try await server.plan(manifest(recordingPhase("a", log: log), recordingPhase("b", log: log)), "wait=true")
            #expect(try await server.json("/state")["phases"]?.ids == ["a", "b"])

            /// Rewrites the state file with another plan id and only the first phase.
            func edit(planId: String) throws {
                guard case .object(var object) = try server.readStateFile() else { throw TestFailure("state file is not an object") }
                object["planId"] = .string(planId)
                object["phases"] = .array(Array((object["phases"]?.arrayValue ?? []).prefix(1)))
                let temporary = server.stateFile + ".edit"
                try JSON.object(object).serialized.write(toFile: temporary, atomically: false, encoding: .utf8)
                #expect(rename(temporary, server.stateFile) == 0)
            }

            try edit(planId: "edited-for-sighup")
            server.signal(SIGHUP)
            let reloaded = try await server.waitForState("SIGHUP reload") { $0["planId"] == "edited-for-sighup" }
            #expect(reloaded["phases"]?.ids == ["a"])
            #expect(server.isRunning, "SIGHUP reloads, it does not end the process")
            #expect(server.log().contains("SIGHUP: state reloaded"), "\(server.log())")

            try edit(planId: "edited-for-reload")
            let answer = try await server.post("/RELOAD")
            #expect(answer.status == 200, "\(answer)")
            #expect(try answer.json()["reloaded"] == true)
            #expect(try answer.json()["planId"] == "edited-for-reload")
            #expect(try await server.json("/state")["planId"] == "edited-for-reload")

            // A broken file is refused and moved aside; the state in memory stays.
            try "{ not json".write(toFile: server.stateFile, atomically: true, encoding: .utf8)
            let broken = try await server.post("/RELOAD")
            #expect(broken.status == 400, "\(broken)")
            #expect(try await server.json("/state")["planId"] == "edited-for-reload")
        }
    }

    @Test func aCorruptStateFileIsMovedAsideWithAWarning() async throws {
        try await withHarness { harness in
            let stateFolder = harness.path("root/state")
            try FileManager.default.createDirectory(atPath: stateFolder, withIntermediateDirectories: true)
            try "{\"format\": \"planter-state/1\", \"phases\": [".write(toFile: stateFolder + "/state.json", atomically: true, encoding: .utf8)
            let server = try await harness.start()
            let state = try await server.json("/state")
            #expect(state["planId"]?.isNull == true)
            let moved = try FileManager.default.contentsOfDirectory(atPath: stateFolder).filter { $0 != "state.json" && $0.hasPrefix("state.json") }
            #expect(moved.count == 1, "\(moved)")
            if let name = moved.first {
                #expect(server.log().contains(name), "the warning names the new path: \(server.log())")
            }
        }
    }

    @Test func syncFromTakesTheRemotePlanOnceAtStart() async throws {
        try await withHarness { harness in
            let log = harness.path("runs.log")
            let remote = try await harness.start(root: "remote")
            let answer = try await remote.plan(manifest(recordingPhase("a", log: log), recordingPhase("b", log: log, waitFor: ["a"])),
                                               "wait=true")
            let planId = try #require(answer["planId"]?.stringValue)

            let local = try await harness.start(root: "local", environment: ["PLANTER_SYNC_FROM": remote.base + "/"])
            let state = try await local.json("/state")
            #expect(state["planId"]?.stringValue == planId, "\(local.log())")
            #expect(state["phases"] == (try await remote.json("/state"))["phases"])
            #expect(state.phaseStatuses == ["a": "pending", "b": "pending"], "syncing takes the plan, it runs nothing")
            #expect(harness.lines("runs.log") == ["a", "b"])
            #expect(try local.readStateFile()["planId"]?.stringValue == planId, "the adopted plan is saved")

            // With local state already there, a restart does not sync again.
            try await remote.plan(manifest(recordingPhase("z", log: log)), "wait=true")
            local.signal(SIGTERM)
            #expect(await local.waitForExit(timeout: 15) == 0)
            let restarted = try await harness.start(root: "local", environment: ["PLANTER_SYNC_FROM": remote.base])
            #expect(try await restarted.json("/state")["planId"]?.stringValue == planId)

            // A remote that is down is not fatal.
            remote.kill()
            let orphan = try await harness.start(root: "orphan", environment: ["PLANTER_SYNC_FROM": remote.base])
            #expect(try await orphan.get("/health").status == 200)
            #expect(orphan.log().contains("sync-from"), "\(orphan.log())")
        }
    }

    @Test func syncFromPollsTheRemoteWithAnInterval() async throws {
        try await withHarness { harness in
            let log = harness.path("runs.log")
            let remote = try await harness.start(root: "remote")
            let first = try await remote.plan(manifest(recordingPhase("a", log: log)), "wait=true")
            let local = try await harness.start(root: "local", environment: ["PLANTER_SYNC_FROM": remote.base, "PLANTER_SYNC_INTERVAL": "1"])
            #expect(try await local.json("/state")["planId"] == first["planId"])

            let second = try await remote.plan(manifest(recordingPhase("a", log: log), recordingPhase("b", log: log)), "wait=true")
            let secondId = try #require(second["planId"]?.stringValue)
            let synced = try await local.waitForState(timeout: 6, "the periodic sync") { $0["planId"]?.stringValue == secondId }
            #expect(synced["phases"]?.ids == ["a", "b"])

            // One way: the remote overrides a local plan at the next poll.
            try await local.plan(manifest(recordingPhase("local", log: log)), "wait=true")
            let overridden = try await local.waitForState(timeout: 6, "the remote wins") { $0["planId"]?.stringValue == secondId }
            #expect(overridden["phases"]?.ids == ["a", "b"])

            // A remote that goes down is logged and retried, never fatal. (AsyncHTTPClient retries a
            // refused connection until the request's 10 s deadline, so the warning takes that long.)
            remote.kill()
            let logged = await eventually(within: 14) { local.log().contains("sync-from: the remote is unreachable") }
            #expect(logged, "\(local.log())")
            #expect(local.isRunning)
            #expect(try await local.get("/health").status == 200)
            #expect(try await local.json("/state")["planId"]?.stringValue == secondId, "the last synced plan stays")
        }
    }
}
