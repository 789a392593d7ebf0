import Foundation
import NIOHTTP1
import PlanterJSON
import Testing

/// POST /plan and its options, GET /state, GET|POST /diff, POST /apply, drift-aware runs,
/// 409 while running, queue and cancel: over real HTTP against `planter serve`.
@Suite struct PlanTests {
    /// a → b, c: each appends its id to `runs.log`.
    static func threePhases(_ harness: Harness, b: String = "b", aExtra: String = "") -> String {
        let log = harness.path("runs.log")
        return manifest(recordingPhase("a", log: log, extra: aExtra),
                        recordingPhase("b", log: log, waitFor: ["a"], mark: b),
                        recordingPhase("c", log: log))
    }

    @Test func planRunsAndStateShowsTopLevelPhases() async throws {
        try await withServer { server, harness in
            let answer = try await server.plan(Self.threePhases(harness), "wait=true")
            let runId = try #require(answer["runId"]?.stringValue)
            let planId = try #require(answer["planId"]?.stringValue)
            #expect(answer["phaseCount"] == 3)
            #expect(answer["diff"] == ["added": 3, "removed": 0, "changed": 0, "unchanged": 0])
            #expect(answer["result"]?["status"] == "succeeded")
            #expect(answer["result"]?.statuses == ["a": "succeeded", "b": "succeeded", "c": "succeeded"])
            #expect(harness.lines("runs.log").sorted() == ["a", "b", "c"])

            let state = try await server.json("/state")
            #expect(state["phases"]?.ids == ["a", "b", "c"], "the top-level phases other Planters sync from: \(state.serialized)")
            #expect(state["phases"]?.arrayValue?[1]["spec"]?["waitFor"]?["phases"] == ["a"], "canonical spelling")
            #expect(state["planId"]?.stringValue == planId)
            #expect(state["appliedPlanId"]?.stringValue == planId)
            #expect(state.phaseStatuses == ["a": "succeeded", "b": "succeeded", "c": "succeeded"])
            #expect(state["lastRun"]?["runId"]?.stringValue == runId)
            #expect(state["lastRun"]?["status"] == "succeeded")
            #expect(state["activeRunId"]?.isNull == true)
            #expect(state["staged"]?.isNull == true)
        }
    }

    @Test func contentTypesJSONManifestMediaTypeAndYAML() async throws {
        try await withServer { server, harness in
            let log = harness.path("runs.log")
            let viaVendor = try await server.post("/plan?wait=true", manifest(recordingPhase("a", log: log)),
                                                   contentType: "application/vnd.phase-manifest+json; charset=utf-8")
            #expect(viaVendor.status == 200, "\(viaVendor)")
            let yaml = """
                - kind: Phase
                  id: a
                  spec:
                    selector: {matchLabels: {executor: shell}}
                    x-run: {script: "echo a >> \(log)"}
                - kind: Phase
                  id: y
                  spec:
                    selector: {matchLabels: {executor: shell}}
                    wait_for: {phases: [a]}
                    x-run: {script: "echo y >> \(log)"}
                """
            let viaYAML = try await server.post("/plan?wait=true", yaml, contentType: "application/yaml")
            #expect(viaYAML.status == 200, "\(viaYAML)")
            let answer = try viaYAML.json()
            #expect(answer["diff"] == ["added": 1, "removed": 0, "changed": 0, "unchanged": 1], "the YAML phase a equals the JSON one")
            #expect(answer["result"]?.statuses == ["a": "skipped", "y": "succeeded"])
            #expect(harness.lines("runs.log") == ["a", "y"])
        }
    }

    @Test func dryRunShowsWavesAndExecutorsAndStoresNothing() async throws {
        try await withServer { server, harness in
            let plan = Self.threePhases(harness)
            let dry = try await server.plan(plan, "dryRun=true")
            #expect(dry["dryRun"] == true)
            #expect(dry["valid"] == true)
            #expect(dry["phaseCount"] == 3)
            #expect(dry["diff"]?["added"] == ["a", "b", "c"])
            let waves = (dry["waves"]?.arrayValue ?? []).map { wave in
                (wave.arrayValue ?? []).map { "\($0["id"]?.stringValue ?? "?")@\($0["executor"]?.stringValue ?? "?")/\($0["plugin"]?.stringValue ?? "?")" }
            }
            #expect(waves == [["a@shell/shell", "c@shell/shell"], ["b@shell/shell"]], "\(dry.serialized)")
            #expect(dry["waves"]?.arrayValue?.flatMap { $0.arrayValue ?? [] }.allSatisfy { $0["wouldRun"] == true } == true)
            // Nothing started: no run id in the answer, none active, none listed; so nothing can run later.
            #expect(dry["runId"] == nil, "\(dry.serialized)")
            let state = try await server.json("/state")
            #expect(state["activeRunId"]?.isNull == true, "\(state.serialized)")
            #expect(state["planId"]?.isNull == true, "a dry run stores nothing")
            #expect(state["staged"]?.isNull == true, "a dry run stages nothing")
            #expect(state["phases"] == [])
            #expect(try await server.json("/runs")["runs"] == [])
            #expect(harness.lines("runs.log").isEmpty, "a dry run runs nothing")
            let storedPlanId: JSON = FileManager.default.fileExists(atPath: server.stateFile) ? (try server.readStateFile())["planId"] ?? .null : .null
            #expect(storedPlanId.isNull, "nothing stored on disk either")

            // After a real run the same dry run would run nothing, unless forced.
            try await server.plan(plan, "wait=true")
            let again = try await server.plan(plan, "dryRun=true")
            #expect(again["diff"]?["unchanged"] == ["a", "b", "c"])
            #expect(again["waves"]?.arrayValue?.flatMap { $0.arrayValue ?? [] }.allSatisfy { $0["wouldRun"] == false } == true,
                    "\(again.serialized)")
            let forced = try await server.plan(plan, "dryRun=true&force=true")
            #expect(forced["waves"]?.arrayValue?.flatMap { $0.arrayValue ?? [] }.allSatisfy { $0["wouldRun"] == true } == true)
            #expect(harness.lines("runs.log").count == 3)
        }
    }

    @Test func stageThenDiffThenApply() async throws {
        try await withServer { server, harness in
            let nothing = try await server.post("/apply")
            #expect(nothing.status == 404, "\(nothing)")
            #expect(nothing.errorCode == "notFound")
            #expect(nothing.errorMessage.contains("nothing is staged"), "\(nothing)")
            #expect(try await server.json("/diff")["staged"]?.isNull == true, "nothing staged")

            let staged = try await server.plan(Self.threePhases(harness), "stage=true")
            let stagedId = try #require(staged["planId"]?.stringValue)
            #expect(staged["staged"] == true)
            #expect(staged["runId"] == nil)
            var state = try await server.json("/state")
            // Nothing started: none active, none listed; so nothing can run later.
            #expect(state["activeRunId"]?.isNull == true, "\(state.serialized)")
            #expect(try await server.json("/runs")["runs"] == [])
            #expect(harness.lines("runs.log").isEmpty, "staging runs nothing")
            #expect(state["staged"]?["planId"]?.stringValue == stagedId)
            #expect(state["staged"]?["phaseCount"] == 3)
            #expect(state["planId"]?.isNull == true, "a staged plan is not the applied one")

            let diff = try await server.json("/diff")
            #expect(diff["added"] == ["a", "b", "c"])
            #expect(diff["stagedPlanId"]?.stringValue == stagedId)
            #expect(diff["appliedPlanId"]?.isNull == true)

            let applied = try await server.post("/apply?wait=true")
            #expect(applied.status == 200, "\(applied)")
            let answer = try applied.json()
            #expect(answer["planId"]?.stringValue == stagedId)
            #expect(answer["result"]?["status"] == "succeeded")
            #expect(harness.lines("runs.log").sorted() == ["a", "b", "c"])
            state = try await server.json("/state")
            #expect(state["appliedPlanId"]?.stringValue == stagedId)
            #expect(state["staged"]?.isNull == true)
            let runs = try await server.json("/runs")
            #expect(runs["runs"]?.arrayValue?.first?["trigger"] == "apply")

            let again = try await server.post("/apply")
            #expect(again.status == 404, "nothing staged any more: \(again)")
        }
    }

    @Test func diffReportsFieldLevelChangesInCanonicalSpelling() async throws {
        try await withServer { server, harness in
            let log = harness.path("runs.log")
            let camel = manifest(
                recordingPhase("a", log: log, extra: #", "retry": {"maxAttempts": 2}"#),
                shellPhase("b", "echo b >> \(log)", waitFor: ["a"], waitKey: "waitFor"),
                recordingPhase("gone", log: log))
            try await server.plan(camel, "wait=true")

            // The same plan in snake_case spellings is no change at all.
            let snake = manifest(
                recordingPhase("a", log: log, extra: #", "retry": {"max_attempts": 2}"#),
                shellPhase("b", "echo b >> \(log)", waitFor: ["a"], waitKey: "wait_for"),
                recordingPhase("gone", log: log))
            let same = try await server.post("/diff", snake)
            #expect(same.status == 200, "\(same)")
            let sameDiff = try same.json()
            #expect(sameDiff["changed"] == [], "waitFor vs wait_for is no change: \(sameDiff.serialized)")
            #expect(sameDiff["unchanged"] == ["a", "b", "gone"])
            #expect(sameDiff["summary"] == ["added": 0, "removed": 0, "changed": 0, "unchanged": 3])

            // Real changes, written in snake_case, are reported with canonical pointers.
            let edited = manifest(
                recordingPhase("a", log: log, extra: #", "retry": {"max_attempts": 5}, "description": "now documented""#),
                shellPhase("b", "echo B >> \(log)", waitFor: ["a"], waitKey: "wait_for"),
                recordingPhase("new", log: log))
            let answer = try await server.post("/diff", edited)
            #expect(answer.status == 200, "\(answer)")
            let diff = try answer.json()
            #expect(diff["added"] == ["new"])
            #expect(diff["removed"] == ["gone"])
            #expect(diff["unchanged"] == [])
            let changed = diff["changed"]?.arrayValue ?? []
            #expect(changed.map { $0["id"]?.stringValue ?? "?" } == ["a", "b"])
            let aChanges = Dictionary((changed.first?["changes"]?.arrayValue ?? []).map { ($0["path"]?.stringValue ?? "?", $0) },
                                      uniquingKeysWith: { first, _ in first })
            #expect(Set(aChanges.keys) == ["/spec/retry/maxAttempts", "/spec/description"], "\(diff.serialized)")
            #expect(aChanges["/spec/retry/maxAttempts"]?["old"] == 2)
            #expect(aChanges["/spec/retry/maxAttempts"]?["new"] == 5)
            #expect(aChanges["/spec/description"]?["old"]?.isNull == true)
            #expect(aChanges["/spec/description"]?["new"] == "now documented")
            let bChange = changed.last?["changes"]?.arrayValue?.first
            #expect(bChange?["path"] == "/spec/x-run/script")
            #expect(bChange?["old"]?.stringValue == "echo b >> \(log)")
            #expect(bChange?["new"]?.stringValue == "echo B >> \(log)")
            #expect(diff["appliedPlanId"]?.stringValue != nil)

            // POST /diff changes nothing.
            #expect(try await server.json("/state")["phases"]?.ids == ["a", "b", "gone"])
            #expect(try await server.json("/diff")["staged"]?.isNull == true, "POST /diff does not stage")
        }
    }

    @Test func driftAwareRunsExecuteOnlyChangedPhasesAndDependents() async throws {
        try await withServer { server, harness in
            let first = try await server.plan(Self.threePhases(harness), "wait=true")
            #expect(harness.lines("runs.log").sorted() == ["a", "b", "c"])
            let firstRun = try #require(first["runId"]?.stringValue)

            // The identical plan again: nothing runs; everything is skipped as unchanged.
            let second = try await server.plan(Self.threePhases(harness), "wait=true")
            #expect(second["diff"] == ["added": 0, "removed": 0, "changed": 0, "unchanged": 3])
            #expect(second["result"]?.statuses == ["a": "skipped", "b": "skipped", "c": "skipped"])
            #expect(second["result"]?["phases"]?.arrayValue?.allSatisfy { $0["message"]?.stringValue?.contains("unchanged") == true } == true,
                    "\(second.serialized)")
            #expect(harness.lines("runs.log").count == 3, "a second identical plan runs nothing")

            // Changing a runs a and b (which waits on it), not c.
            let third = try await server.plan(Self.threePhases(harness, aExtra: #", "description": "changed""#), "wait=true")
            #expect(third["diff"]?["changed"] == 1)
            #expect(third["result"]?.statuses == ["a": "succeeded", "b": "succeeded", "c": "skipped"])
            #expect(harness.lines("runs.log").sorted() == ["a", "a", "b", "b", "c"])
            let thirdRun = try #require(third["runId"]?.stringValue)
            let state = try await server.json("/state")
            #expect(state["phaseStatus"]?["a"]?["runId"]?.stringValue == thirdRun)
            #expect(state["phaseStatus"]?["c"]?["runId"]?.stringValue == firstRun, "c last ran in the first run")

            // Changing only the leaf b runs b alone.
            try await server.plan(Self.threePhases(harness, b: "b2", aExtra: #", "description": "changed""#), "wait=true")
            #expect(harness.lines("runs.log").sorted() == ["a", "a", "b", "b", "b2", "c"])

            // force runs everything.
            let forced = try await server.plan(Self.threePhases(harness, b: "b2", aExtra: #", "description": "changed""#), "wait=true&force=true")
            #expect(forced["result"]?.statuses == ["a": "succeeded", "b": "succeeded", "c": "succeeded"])
            #expect(harness.lines("runs.log").count == 9)
        }
    }

    @Test func failedPhasesRunAgainOnTheNextPlan() async throws {
        try await withServer { server, harness in
            let log = harness.path("runs.log")
            let flag = harness.path("ok")
            let plan = manifest(recordingPhase("a", log: log),
                                shellPhase("flaky", "echo flaky >> \(log); test -f \(flag)", waitFor: ["a"]),
                                recordingPhase("after", log: log, waitFor: ["flaky"]))
            let first = try await server.plan(plan, "wait=true")
            #expect(first["result"]?["status"] == "failed")
            #expect(first["result"]?.statuses == ["a": "succeeded", "flaky": "failed", "after": "skipped"])
            try harness.write("ok", "")
            let second = try await server.plan(plan, "wait=true")
            #expect(second["result"]?["status"] == "succeeded")
            #expect(second["result"]?.statuses == ["a": "skipped", "flaky": "succeeded", "after": "succeeded"])
            #expect(harness.lines("runs.log") == ["a", "flaky", "flaky", "after"])
        }
    }

    @Test func conflictWhileRunningQueueAndCancel() async throws {
        try await withServer { server, harness in
            let log = harness.path("runs.log")
            // 60 s: only the cancel can end it before waitForRun gives up.
            let slow = manifest(shellPhase("slow", "echo slow >> \(log); sleep 60; echo slow-done >> \(log)"))
            let started = try await server.plan(slow)
            let runId = try #require(started["runId"]?.stringValue)
            let planId = try #require(started["planId"]?.stringValue)
            #expect(await eventually(within: 5) { harness.lines("runs.log") == ["slow"] })

            let before = try await server.json("/state")
            #expect(before["activeRunId"]?.stringValue == runId)
            #expect(before.phaseStatuses["slow"] == "running")

            // Every way to start something else is a 409 naming the running run.
            let other = manifest(recordingPhase("other", log: log))
            let conflict = try await server.post("/plan", other)
            #expect(conflict.status == 409, "\(conflict)")
            #expect(conflict.errorCode == "conflict")
            #expect(try conflict.json()["error"]?["runId"]?.stringValue == runId)
            #expect(conflict.errorMessage.contains(runId))
            for (path, body) in [("/apply", nil), ("/RELOAD", nil), ("/phases/slow/run", nil)] as [(String, String?)] {
                let answer = try await server.post(path, body)
                #expect(answer.status == 409, "\(path): \(answer)")
            }
            let staged = try await server.plan(other, "stage=true")
            #expect(staged["staged"] == true, "staging is allowed while running")
            let after = try await server.json("/state")
            #expect(after["planId"]?.stringValue == planId, "a refused plan changes nothing")
            #expect(after["phases"]?.ids == ["slow"])

            let queued = try await server.plan(other, "queue=true")
            #expect(queued["queued"] == true)
            #expect(queued["position"] == 1)
            #expect(queued["runningRunId"]?.stringValue == runId)
            #expect(try await server.json("/state")["queued"] == 1)

            let running = try await server.json("/runs/\(runId)")
            #expect(running["status"] == "running")

            // Cancel: the run ends cancelled (its sleep killed), then the queued plan runs.
            let cancel = try await server.post("/runs/\(runId)/cancel")
            #expect(cancel.status == 202, "\(cancel)")
            #expect(try cancel.json()["cancelling"] == true)
            let ended = try await server.waitForRun(runId)
            #expect(ended["status"] == "cancelled", "\(ended.serialized)")
            #expect(await eventually(within: 10) { harness.lines("runs.log").contains("other") })
            #expect(!harness.lines("runs.log").contains("slow-done"))
            let state = try await server.waitForState("the queued plan ran") { $0.phaseStatuses["other"] == "succeeded" && $0["activeRunId"]?.isNull == true }
            #expect(state["phases"]?.ids == ["other"])

            let late = try await server.post("/runs/\(runId)/cancel")
            #expect(late.status == 409, "\(late)")
            let unknown = try await server.post("/runs/no-such-run/cancel")
            #expect(unknown.status == 404, "\(unknown)")
            #expect(unknown.errorCode == "notFound")
        }
    }
}
