import ExecutorRuntime
import Foundation
import PlanterCore
import PlanterJSON
import Synchronization
import Testing

@testable import PlanterHost

@Suite struct RunnerTests {
    /// A phase body that records itself; with a barrier it stays running until the barrier
    /// opens, so overlaps are certain rather than likely.
    func tracking(_ tracker: Tracker, barrier: Barrier? = nil, fail: Set<String> = []) -> ScriptedExecutor {
        ScriptedExecutor { request, _ in
            tracker.enter(request.phaseId)
            barrier?.arriveAndWait()
            tracker.leave()
            return fail.contains(request.phaseId) ? .failed("boom") : ExecuteResult(status: .succeeded)
        }
    }

    func phases(_ specs: [(String, String)], executor: String = "t") -> String {
        "[" + specs.map { id, extra in
            #"{"kind":"Phase","id":"\#(id)","spec":{"selector":{"matchLabels":{"executor":"\#(executor)"}}\#(extra.isEmpty ? "" : "," + extra)}}"#
        }.joined(separator: ",") + "]"
    }

    @Test func dependenciesFirstThenManifestOrderWithOneWorker() throws {
        let tracker = Tracker()
        let plan = try makePlan(phases([
            ("d", #""waitFor":{"phases":["b","c"]}"#), ("c", ""), ("b", #""waitFor":{"phases":["a"]}"#), ("a", ""),
        ]), executors: ["t": tracking(tracker)])
        let (result, _) = run(plan, parallel: 1)
        #expect(result.status == .succeeded)
        #expect(tracker.order == ["c", "a", "b", "d"])
    }

    @Test func independentPhasesRunInParallelUpToTheLimit() throws {
        // The first three phases wait for each other: they finish only if three run at once.
        let tracker = Tracker()
        let barrier = Barrier(count: 3)
        let plan = try makePlan(phases((1...6).map { ("p\($0)", "") }), executors: ["t": tracking(tracker, barrier: barrier)])
        let (result, events) = run(plan, parallel: 3)
        #expect(result.status == .succeeded)
        #expect(!barrier.broken, "three phases were never running at once at --parallel 3")
        #expect(tracker.peak == 3, "never more than the limit: \(tracker.peak)")
        #expect(Self.peakInFlight(events) <= 3, "the run's own events never show more than three attempts in flight")

        let tracker1 = Tracker()
        let (result1, events1) = run(try makePlan(phases((1...4).map { ("p\($0)", "") }), executors: ["t": tracking(tracker1)]),
                                     parallel: 1)
        #expect(result1.status == .succeeded)
        #expect(tracker1.peak == 1)
        #expect(Self.peakInFlight(events1) == 1)
    }

    /// The most attempts between their attemptStarted and attemptFinished events at once.
    static func peakInFlight(_ events: [RunEvent]) -> Int {
        var running = 0
        var peak = 0
        for event in events {
            if event.kind == .attemptStarted { running += 1 }
            if event.kind == .attemptFinished { running -= 1 }
            peak = max(peak, running)
        }
        return peak
    }

    @Test func retriesUseExponentialBackoffAndStopAtMaxAttempts() throws {
        let calls = Tracker()
        let flaky = ScriptedExecutor { request, _ in
            calls.enter(request.phaseId)
            calls.leave()
            return request.attempt < 3 ? .failed("attempt \(request.attempt) failed") : ExecuteResult(status: .succeeded)
        }
        let plan = try makePlan(phases([("flaky", #""retry":{"maxAttempts":4,"x-initialDelay":"20ms","x-factor":3}"#)]),
                                executors: ["t": flaky])
        let (result, events) = run(plan)
        #expect(result.phase("flaky").status == .succeeded)
        #expect(result.phase("flaky").attempts.map(\.status) == [.failed, .failed, .succeeded])
        let delays = events.filter { $0.kind == .retryScheduled }.compactMap { $0.details["delayMs"]?.intValue }
        #expect(delays == [20, 60])
        let gap = result.phase("flaky").attempts[1].startedAt.milliseconds(since: result.phase("flaky").attempts[0].endedAt!)
        #expect(gap >= 19)

        let always = try makePlan(phases([("bad", #""retry":{"maxAttempts":3}"#)]), executors: ["t": ScriptedExecutor { _, _ in .failed("no") }])
        let (failed, failedEvents) = run(always)
        #expect(failed.phase("bad").attempts.count == 3)
        #expect(failedEvents.filter { $0.kind == .retryScheduled }.count == 2, "no wait after the last attempt")
        #expect(failed.status == .failed)
    }

    @Test func invalidResultsAreNotRetried() throws {
        let plan = try makePlan(phases([("a", #""retry":{"maxAttempts":5}"#)]),
                                executors: ["t": ScriptedExecutor { _, _ in ExecuteResult(status: .invalid, message: "payload.script missing") }])
        let (result, _) = run(plan)
        #expect(result.phase("a").attempts.count == 1)
        #expect(result.phase("a").message.contains("payload.script missing"))
    }

    @Test func backoffArithmetic() {
        var policy = BackoffPolicy()
        policy.initialDelay = PlanDuration(milliseconds: 100)
        policy.factor = 2
        policy.maxDelay = PlanDuration(milliseconds: 500)
        policy.jitter = 0
        #expect((1...5).map { policy.delay(afterAttempt: $0, random: 0.9).milliseconds } == [100, 200, 400, 500, 500])
        policy.jitter = 0.5
        #expect(policy.delay(afterAttempt: 1, random: 0).milliseconds == 50)
        #expect(policy.delay(afterAttempt: 1, random: 0.5).milliseconds == 100)
        #expect(policy.delay(afterAttempt: 3, random: 0.999).milliseconds == 500, "jitter never exceeds maxDelay")
    }

    @Test func attemptTimeLimitCancelsAndCountsAsFailed() throws {
        // Each attempt waits until its call is cancelled (giving up after 10 s) and counts the
        // cancels it saw: the limit must cancel the call, not only label the attempt.
        let cancels = Mutex(0)
        let plan = try makePlan(phases([("slow", #""x-timeout":"50ms","retry":{"maxAttempts":2}"#)]),
                                executors: ["t": ScriptedExecutor { _, call in
                                    let result = waitForCancel(call)
                                    if call.isCancelled { cancels.withLock { $0 += 1 } }
                                    return result
                                }])
        let (result, _) = run(plan)
        #expect(cancels.withLock { $0 } == 2, "both attempts' calls were cancelled by the time limit")
        let phase = result.phase("slow")
        #expect(phase.status == .timedOut)
        #expect(phase.attempts.map(\.status) == [.timedOut, .timedOut])
        #expect(phase.message.contains("timed out after 50ms"))
        #expect(result.status == .failed)
    }

    @Test func waitForTimeoutNamesWhatItWaitedFor() throws {
        // slowdep ends only after impatient has given up, however slow the machine.
        let gaveUp = EventTrigger { ($0.kind == .phaseFinished || $0.kind == .phaseSkipped) && $0.phaseId == "impatient" }
        let plan = try makePlan(phases([
            ("slowdep", ""), ("fast", ""),
            ("impatient", #""waitFor":{"phases":["slowdep","fast"],"timeout":"80ms"}"#),
        ]), executors: ["t": ScriptedExecutor { request, _ in
            if request.phaseId == "slowdep" && !gaveUp.wait() { return .failed("impatient never gave up") }
            return ExecuteResult(status: .succeeded)
        }])
        let (result, _) = run(plan, parallel: 2, sinks: [gaveUp])
        #expect(result.phase("slowdep").status == .succeeded, "\(result.phase("slowdep").message)")
        let phase = result.phase("impatient")
        #expect(phase.status == .failed)
        #expect(phase.message == "waitFor.timeout 80ms expired while waiting for: slowdep")
        #expect(phase.attempts.isEmpty)
    }

    @Test func raiseStopsTheRunAndSkipsDependents() throws {
        let tracker = Tracker()
        let plan = try makePlan(phases([
            ("bad", ""), ("child", #""waitFor":{"phases":["bad"]}"#), ("later", #""waitFor":{"phases":["other"]}"#), ("other", ""),
        ]), executors: ["t": tracking(tracker, fail: ["bad"])])
        let (result, _) = run(plan, parallel: 1)
        #expect(result.status == .failed)
        #expect(result.failedPhase == "bad")
        #expect(result.phase("child").status == .skipped)
        #expect(result.phase("child").message == "waits for bad, which failed")
        #expect(result.phase("other").status == .skipped, "no new phase starts after a raise")
        #expect(tracker.order == ["bad"])
    }

    @Test func continueLetsDependentsRunAndAttachesHandlerLabels() throws {
        let tracker = Tracker()
        let plan = try makePlan(phases([
            ("bad", ##""onFailure":{"action":"continue","spec":{"message":["bad failed, carrying on"],"labels":{"mode":"fallback"},"notify":{"slack":"#ops"}}}"##),
            ("child", #""waitFor":{"phases":["bad"]}"#),
        ]), executors: ["t": tracking(tracker, fail: ["bad"])])
        let (result, events) = run(plan)
        #expect(result.phase("bad").status == .failed)
        #expect(result.phase("bad").labels["mode"] == "fallback")
        #expect(result.phase("child").status == .succeeded)
        #expect(events.contains { $0.kind == .handlerMessage && $0.message == "bad failed, carrying on" })
        #expect(events.contains { $0.kind == .notify && $0.details["targets"]?["slack"] == ["#ops"] })
        // A continue-failure does not fail the run.
        #expect(result.status == .succeeded)
    }

    @Test func abortCancelsRunningPhasesAtOnce() throws {
        // bad fails once long is running; long runs until cancelled (waitForCancel gives up,
        // failing it, after 10 s), so only the abort can end it cancelled.
        let longStarted = Latch()
        let longCancelled = Mutex(false)
        let plan = try makePlan(phases([
            ("long", ""), ("bad", #""onFailure":{"action":"abort"}"#),
        ]), executors: ["t": ScriptedExecutor { request, call in
            if request.phaseId == "long" {
                longStarted.signal()
                let result = waitForCancel(call)
                longCancelled.withLock { $0 = call.isCancelled }
                return result
            }
            return longStarted.wait() ? .failed("boom") : .failed("long never started")
        }])
        let (result, _) = run(plan, parallel: 2)
        #expect(longCancelled.withLock { $0 }, "the abort cancelled long's call")
        #expect(result.phase("long").status == .cancelled)
        #expect(result.phase("long").message.contains("run aborted: phase bad failed"))
        #expect(result.status == .failed)
    }

    @Test func onUsePhasesRunOnlyWhenNeeded() throws {
        let tracker = Tracker()
        let plan = try makePlan(phases([
            ("cache", #""instanceMode":"onUse""#), ("unused", #""instanceMode":"onUse""#),
            ("build", #""waitFor":{"phases":["cache"]}"#),
        ]), executors: ["t": tracking(tracker)])
        let (result, _) = run(plan)
        #expect(tracker.order == ["cache", "build"])
        #expect(result.phase("unused").status == .skipped)
    }

    @Test func outputsFlowToDependentsAsInputs() throws {
        let seen = Tracker()
        let plan = try makePlan(phases([("fetch", ""), ("build", #""waitFor":{"phases":["fetch"]}"#)]),
                                executors: ["t": ScriptedExecutor { request, _ in
                                    if request.phaseId == "fetch" {
                                        return ExecuteResult(status: .succeeded, outputs: ["revision": "abc123"])
                                    }
                                    seen.enter(request.inputs["fetch"]?["revision"]?.stringValue ?? "none")
                                    return ExecuteResult(status: .succeeded)
                                }])
        let (result, _) = run(plan)
        #expect(seen.order == ["abc123"])
        #expect(result.phase("fetch").outputs["revision"] == "abc123")
    }

    @Test func secretsAreMaskedInOutputMessagesAndEvents() throws {
        let plan = try makePlan(phases([("leaky", "")]), executors: ["t": ScriptedExecutor { _, call in
            var line = "token=hunter2-secret\n"
            line.withUTF8 { call.output(.stdout, UnsafeRawBufferPointer($0)) }
            return ExecuteResult(status: .failed, message: "failed with hunter2-secret")
        }])
        let (result, events) = run(plan, masker: SecretMasker(secrets: ["hunter2-secret"]))
        #expect(result.phase("leaky").output.text == "token=***\n")
        #expect(result.phase("leaky").message == "failed with ***")
        #expect(!events.contains { $0.message.contains("hunter2") })
    }

    @Test func outputTailIsBoundedAndCountsTheRest() {
        var tail = OutputTail(limit: 10, masker: SecretMasker(secrets: []))
        for _ in 0..<5 {
            var chunk = "0123456789"
            chunk.withUTF8 { _ = tail.append(UnsafeRawBufferPointer($0)) }
        }
        let snapshot = tail.snapshot
        #expect(snapshot.text == "0123456789")
        #expect(snapshot.totalBytes == 50)
        #expect(snapshot.droppedBytes == 40)
    }

    @Test func cancellingARunCancelsRunningAndSkipsTheRest() throws {
        let started = DispatchSemaphore(value: 0)
        let plan = try makePlan(phases([("long", ""), ("after", #""waitFor":{"phases":["long"]}"#)]),
                                executors: ["t": ScriptedExecutor { _, call in
                                    started.signal()
                                    return waitForCancel(call)
                                }])
        let runner = Runner(plan: plan, options: RunOptions(runId: "r", parallel: 1))
        // Cancel once the long phase is really running, however busy the machine is.
        DispatchQueue.global().async {
            started.wait()
            runner.cancel(reason: "user asked")
        }
        let result = runner.runBlocking()
        #expect(result.status == .cancelled)
        #expect(result.phase("long").status == .cancelled)
        #expect(result.phase("after").status == .skipped)
    }

    @Test func everyStateChangeIsAnEvent() throws {
        let plan = try makePlan(phases([("a", "")]), executors: ["t": ScriptedExecutor { _, _ in ExecuteResult(status: .succeeded) }])
        let (_, events) = run(plan)
        #expect(events.map(\.kind) == [.runStarted, .attemptStarted, .attemptFinished, .phaseFinished, .runFinished])
        let json = events[1].json
        #expect(json["runId"] == "r-test")
        #expect(json["phaseId"] == "a")
        #expect(json["attempt"] == 1)
        #expect(json["type"] == "attemptStarted")
        #expect(json["time"]?.stringValue?.hasSuffix("Z") == true)
    }

    @Test func wavesGroupPhasesThatCanRunTogether() throws {
        let plan = try makePlan(phases([("a", ""), ("b", #""waitFor":{"phases":["a"]}"#), ("c", ""), ("d", #""waitFor":{"phases":["b","c"]}"#)]),
                                executors: ["t": ScriptedExecutor { _, _ in ExecuteResult(status: .succeeded) }])
        #expect(plan.graph.waves().map { $0.map { plan.phases[$0].id } } == [["a", "c"], ["b"], ["d"]])
    }
}

/// `planter run -o json` streams a large result with `writeCompactJSON`: it must be the very bytes of
/// the tree it no longer builds.
extension RunnerTests {
    @Test func streamedJSONIsTheCompactTreeByteForByte() throws {
        let list = (0..<40).map { ("p\($0)", $0 == 0 ? "" : #""waitFor":{"phases":["p\#($0 - 1)"]}"#) }
        let plan = try makePlan(phases(list), executors: ["t": ScriptedExecutor { request, _ in
            request.phaseId == "p7" ? .failed("boom \"p7\"") : ExecuteResult(status: .succeeded)
        }])
        let (result, _) = run(plan)
        var tree = JSONWriter()
        tree.write(result.json)
        var chunks: [[UInt8]] = []
        result.writeCompactJSON(chunkBytes: 512) { chunks.append($0) }
        #expect(chunks.count > 2)  // it did stream
        #expect(String(decoding: chunks.joined(), as: UTF8.self) == tree.string)
    }
}
