import ExecutorRuntime
import Foundation
import PlanterDeployment
import PlanterJSON
import Synchronization
import Testing

@testable import PlanterHost

/// PlanterService without HTTP: drift-aware runs, staging, persistence and resume.
@Suite struct ServiceTests {
    final class Calls: Sendable {
        let ids = Mutex<[String]>([])
        func record(_ id: String) { ids.withLock { $0.append(id) } }
        @discardableResult
        func take() -> [String] {
            ids.withLock { ids in
                defer { ids.removeAll() }
                return ids
            }
        }
    }

    func makeService(root: String, calls: Calls, fail: Set<String> = [], slow: Set<String> = []) -> PlanterService {
        var deployment = Deployment()
        deployment.executors = [ExecutorDefinition(name: "t", plugin: "t")]
        deployment.defaultExecutor = "t"
        let failing = Mutex(fail)
        let executor = ScriptedExecutor { request, call in
            calls.record(request.phaseId)
            if slow.contains(request.phaseId) { return waitForCancel(call) }
            if failing.withLock({ $0.contains(request.phaseId) }) { return .failed("boom") }
            return ExecuteResult(status: .succeeded, outputs: ["by": .string(request.runId)])
        }
        let registry = ExecutorRegistry(deployment: deployment, catalog: PluginCatalog(), builtIns: ["t": executor], environment: [:])
        let setup = DeploymentSetup(deployment: deployment, catalog: PluginCatalog(), registry: registry)
        var configuration = ServiceConfiguration()
        configuration.parallel = 1
        configuration.shutdownGrace = .milliseconds(100)
        return PlanterService(setup: setup, configuration: configuration, stateFile: StateFile(root: root))
    }

    func manifest(_ phases: [(String, [String])], descriptions: [String: String] = [:]) -> JSON {
        .array(phases.map { id, deps in
            var spec: JSONObject = [:]
            if let text = descriptions[id] { spec["description"] = .string(text) }
            if !deps.isEmpty { spec["waitFor"] = ["phases": .array(deps.map(JSON.string))] }
            return ["kind": "Phase", "id": .string(id), "spec": .object(spec)]
        })
    }

    func temporaryRoot() -> String {
        let path = NSTemporaryDirectory() + "planter-service-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test func driftAwareRunsExecuteOnlyWhatChangedAndItsDependents() async throws {
        let calls = Calls()
        let service = makeService(root: temporaryRoot(), calls: calls)
        _ = await service.start()
        let plan = manifest([("a", []), ("b", ["a"]), ("c", [])])
        _ = try await service.submit(plan, options: SubmitOptions(wait: true))
        #expect(calls.take() == ["a", "b", "c"])

        let again = try await service.submit(plan, options: SubmitOptions(wait: true))
        #expect(calls.take().isEmpty, "an identical plan runs nothing")
        #expect(again["diff"]?["unchanged"] == 3)
        #expect(again["result"]?["phases"]?.arrayValue?.allSatisfy { $0["status"] == "skipped" } == true)

        _ = try await service.submit(manifest([("a", []), ("b", ["a"]), ("c", [])], descriptions: ["a": "new"]),
                                     options: SubmitOptions(wait: true))
        #expect(calls.take() == ["a", "b"], "the changed phase and what waits on it")

        _ = try await service.submit(plan, options: SubmitOptions(wait: true, force: true))
        #expect(calls.take() == ["a", "b", "c"], "force runs everything")
    }

    @Test func failedPhasesRunAgainUntilTheySucceed() async throws {
        let calls = Calls()
        let service = makeService(root: temporaryRoot(), calls: calls, fail: ["b"])
        _ = await service.start()
        let plan = manifest([("a", []), ("b", ["a"]), ("c", ["b"])])
        let first = try await service.submit(plan, options: SubmitOptions(wait: true))
        #expect(first["result"]?["status"] == "failed")
        #expect(calls.take() == ["a", "b"])
        _ = try await service.submit(plan, options: SubmitOptions(wait: true))
        #expect(calls.take() == ["b"], "b failed again, so c never ran; a is unchanged and passed")
    }

    @Test func stagingApplyAndDiff() async throws {
        let calls = Calls()
        let service = makeService(root: temporaryRoot(), calls: calls)
        _ = await service.start()
        await #expect(throws: ServiceError.self) { try await service.apply(wait: true) }
        _ = try await service.submit(manifest([("a", [])]), options: SubmitOptions(wait: true))
        _ = try await service.submit(manifest([("a", []), ("b", ["a"])], descriptions: ["a": "changed"]),
                                     options: SubmitOptions(stage: true))
        #expect(calls.take() == ["a"], "staging runs nothing")
        let diff = await service.stagedDiffAnswer()
        #expect(diff["added"] == ["b"])
        #expect(diff["changed"]?.arrayValue?.first?["changes"]?.arrayValue?.first?["path"] == "/spec/description")
        _ = try await service.apply(wait: true)
        #expect(calls.take() == ["a", "b"])
        await #expect(throws: ServiceError.self) { try await service.apply(wait: true) }
    }

    @Test func aSecondPlanWhileRunningIsAConflictUnlessQueued() async throws {
        let calls = Calls()
        let service = makeService(root: temporaryRoot(), calls: calls, slow: ["slow"])
        _ = await service.start()
        let answer = try await service.submit(manifest([("slow", [])]), options: SubmitOptions())
        let runId = try #require(answer["runId"]?.stringValue)
        do {
            _ = try await service.submit(manifest([("x", [])]), options: SubmitOptions())
            Issue.record("expected a conflict")
        } catch {
            guard case .conflict(let message, let running) = error else { Issue.record("\(error)"); return }
            #expect(running == runId)
            #expect(message.contains(runId))
        }
        let queued = try await service.submit(manifest([("x", [])]), options: SubmitOptions(queue: true))
        #expect(queued["queued"] == true)
        _ = try await service.cancel(runOrQueuedPlan: runId)
        let cancelled = await service.waitForRun(runId)
        #expect(cancelled?.status == .cancelled)
        let ranQueued = await eventually { calls.ids.withLock { $0.contains("x") } }
        #expect(ranQueued, "the queued plan ran after the first")
        #expect(calls.take().last == "x")
    }

    @Test func stateSurvivesARestartAndInterruptedRunsResume() async throws {
        let root = temporaryRoot()
        let calls = Calls()
        let service = makeService(root: root, calls: calls)
        _ = await service.start()
        _ = try await service.submit(manifest([("a", []), ("b", ["a"])]), options: SubmitOptions(wait: true))
        try await service.save()

        // Simulate a crash mid-run: the state file says a run was in flight, b never finished.
        var state = try #require({ if case .loaded(let s) = StateFile(root: root).load() { return s } else { return nil } }())
        state.inFlightRunId = state.runs.last?.result.runId
        state.phaseStates["b"]?.status = .running
        // The run's record agrees: b had not ended (the service now trusts the record's outcomes).
        if var last = state.runs.last, let b = last.result.phases.firstIndex(where: { $0.id == "b" }) {
            last.result.status = .running
            last.result.phases[b].status = .running
            last.result.phases[b].attempts[0].status = .running
            state.record(last)
        }
        try StateFile(root: root).save(state)

        let restarted = makeService(root: root, calls: calls)
        let warnings = await restarted.start()
        #expect(warnings.contains { $0.contains("interrupted") })
        let stateAnswer = await restarted.stateAnswer()
        #expect(stateAnswer["phases"]?.arrayValue?.count == 2)
        #expect(stateAnswer["interruptedRunId"]?.stringValue != nil)
        calls.take()
        _ = try await restarted.apply(wait: true)
        #expect(calls.take() == ["b"], "resume runs what had not succeeded, not a")
    }

    @Test func aCorruptStateFileIsMovedAsideNotDiscarded() async throws {
        let root = temporaryRoot()
        try FileManager.default.createDirectory(atPath: root + "/state", withIntermediateDirectories: true)
        try "{ not json".write(toFile: root + "/state/state.json", atomically: true, encoding: .utf8)
        let service = makeService(root: root, calls: Calls())
        let warnings = await service.start()
        let warning = try #require(warnings.first)
        #expect(warning.contains("corrupt"))
        let moved = try FileManager.default.contentsOfDirectory(atPath: root + "/state").filter { $0.contains("corrupt") }
        #expect(moved.count == 1)
        #expect(warning.contains(moved[0]))
        #expect(try String(contentsOfFile: root + "/state/" + moved[0], encoding: .utf8) == "{ not json")
    }

    @Test func invalidPlansChangeNothing() async throws {
        let calls = Calls()
        let service = makeService(root: temporaryRoot(), calls: calls)
        _ = await service.start()
        _ = try await service.submit(manifest([("a", [])]), options: SubmitOptions(wait: true))
        let before = await service.stateAnswer()
        await #expect(throws: ServiceError.self) {
            try await service.submit(manifest([("a", ["missing"])]), options: SubmitOptions(wait: true))
        }
        let after = await service.stateAnswer()
        #expect(before["planId"] == after["planId"])
        #expect(before["phases"] == after["phases"])
    }

    @Test func rerunOnePhaseOrWithDependents() async throws {
        let calls = Calls()
        let service = makeService(root: temporaryRoot(), calls: calls)
        _ = await service.start()
        _ = try await service.submit(manifest([("a", []), ("b", ["a"]), ("c", [])]), options: SubmitOptions(wait: true))
        calls.take()
        _ = try await service.rerun("a", withDependents: false, wait: true)
        #expect(calls.take() == ["a"])
        _ = try await service.rerun("a", withDependents: true, wait: true)
        #expect(calls.take() == ["a", "b"])
        let phase = try await service.phaseAnswer("a")
        #expect(phase["attempts"]?.arrayValue?.count == 1)
        #expect(phase["status"] == "succeeded")
    }
}
