import ExecutorRuntime
import PlanterCore
import PlanterDeployment
import PlanterJSON
import Synchronization

/// The scheduling state of one run and every transition on it. All of it is guarded by
/// `monitor`; methods marked "locked" expect the caller to hold it. Workers (Runner) pop
/// ready phases, call executors unlocked, and come back to record results; the clock
/// thread fires timers (retry backoff, waitFor timeouts, attempt time limits).
final class RunEngine: @unchecked Sendable {
    /// One attempt in flight: what the worker needs outside the lock.
    struct Job {
        let index: Int
        let attempt: Int
        let binding: ExecutorBinding
        let request: ExecuteRequest
        let call: CallContext
        let output: AttemptOutput
    }

    enum TimerAction: Comparable {
        case retry(Int)
        case waitForTimeout(Int)
        case attemptTimeout(Int, attempt: Int)
    }

    struct Timer: Comparable {
        let deadline: Int64
        let sequence: Int
        let action: TimerAction

        static func < (lhs: Timer, rhs: Timer) -> Bool {
            (lhs.deadline, lhs.sequence) < (rhs.deadline, rhs.sequence)
        }
    }

    let plan: Plan
    let options: RunOptions
    let sinks: [any EventSink]
    let monitor = Monitor()
    let workAvailable: Condition
    let clockChanged: Condition
    let done: Condition

    // Guarded by monitor.
    var records: [PhaseRecord]
    var included: [Bool]
    var remaining: [Int]
    var ready = MinHeap<Int>()
    var timers = MinHeap<Timer>()
    var timerSequence = 0
    var calls: [Int: CallContext] = [:]
    var timedOut = Set<Int>()
    var unfinished = 0
    var running = 0
    var idleWorkers = 0
    var stopping = false
    /// Paused (pause control): no attempt starts; running ones finish, timers still fire.
    var paused = false
    var cancelledByUser = false
    var failedPhase: Int?
    var finished = false
    var startedAt = Timestamp.now()
    var startedMonotonic: Int64 = 0
    var endedAt = Timestamp.now()

    init(plan: Plan, options: RunOptions, sinks: [any EventSink]) {
        self.plan = plan
        self.options = options
        self.sinks = sinks
        workAvailable = Condition(monitor)
        clockChanged = Condition(monitor)
        done = Condition(monitor)
        records = plan.phases.indices.map { index in
            PhaseRecord(id: plan.phases[index].id, executor: plan.bindings[index].name, plugin: plan.bindings[index].plugin)
        }
        included = RunEngine.selectPhases(plan: plan, selection: options.selection)
        let included = included
        remaining = plan.graph.dependencies.map { dependencies in dependencies.filter { included[$0] }.count }
    }

    /// Selected immediate phases, plus every selected onUse phase that something included
    /// waits for (an unselected one counts as satisfied by its previous outputs).
    static func selectPhases(plan: Plan, selection: [Bool]?) -> [Bool] {
        let selected = { (index: Int) in selection?[index] ?? true }
        var included = plan.phases.indices.map { index in
            selected(index) && plan.phases[index].spec.instanceMode != .onUse
        }
        var stack = included.indices.filter { included[$0] }
        while let index = stack.popLast() {
            for dependency in plan.graph.dependencies[index]
            where !included[dependency] && selected(dependency) && plan.phases[dependency].spec.instanceMode == .onUse {
                included[dependency] = true
                stack.append(dependency)
            }
        }
        return included
    }

    // MARK: Start (locked)

    func start() {
        startedAt = .now()
        startedMonotonic = Monitor.monotonicNow()
        emit(RunEvent(time: startedAt, runId: options.runId, kind: .runStarted,
                      message: "run started: \(included.filter { $0 }.count) of \(records.count) phases",
                      details: ["phases": .int(Int64(records.count)), "parallel": .int(Int64(options.parallel))]))
        // What validation let through with a warning (an open value such as instanceMode "parallel")
        // is part of the run's record, next to what it did.
        for warning in plan.warnings {
            emit(RunEvent(runId: options.runId, kind: .log, level: .warning, message: "manifest: \(warning)",
                          details: ["path": .string(warning.path)]))
        }
        for index in records.indices {
            if !included[index] {
                let onUse = plan.phases[index].spec.instanceMode == .onUse && (options.selection?[index] ?? true)
                skip(index, onUse ? "instanceMode onUse: no phase in this run waits for it" : options.unselectedMessage)
                continue
            }
            unfinished += 1
            if remaining[index] == 0 {
                records[index].status = .waiting
                ready.push(index)
            } else if let timeout = plan.phases[index].spec.waitFor?.timeout {
                schedule(.waitForTimeout(index), at: MonotonicTime.deadline(after: timeout, from: startedMonotonic))
            }
        }
        checkDone()
    }

    // MARK: Attempts

    /// Locked. Turns a ready phase into a job for the calling worker.
    func startAttempt(_ index: Int) -> Job {
        let phase = plan.phases[index]
        let binding = plan.bindings[index]
        let attempt = records[index].attempts.count + 1
        let now = Timestamp.now()
        records[index].status = .running
        records[index].attempts.append(AttemptRecord(attempt: attempt, status: .running, startedAt: now, message: ""))
        running += 1
        let timeout = phase.spec.executionTimeout
        let request = makeRequest(index, attempt: attempt, binding: binding)
        let output = AttemptOutput(tail: OutputTail(limit: options.outputTailBytes, masker: options.masker),
                                   previous: records[index].output, sinks: sinks, runId: options.runId,
                                   phaseId: phase.id, attempt: attempt)
        let sinks = self.sinks, runId = options.runId, masker = options.masker, phaseId = phase.id
        let outputHandler: CallContext.OutputHandler = { stream, bytes in output.append(stream, bytes) }
        let logHandler: CallContext.LogHandler = { level, message in
            let event = RunEvent(runId: runId, phaseId: phaseId, attempt: attempt, kind: .log, level: level,
                                 message: masker.mask(message))
            for sink in sinks { sink.receive(event) }
        }
        let call = CallContext(output: outputHandler, log: logHandler)
        calls[index] = call
        if let timeout {
            schedule(.attemptTimeout(index, attempt: attempt), at: MonotonicTime.deadline(after: timeout))
        }
        if stopping { call.cancel(reason: "run stopping") }
        emit(RunEvent(time: now, runId: options.runId, phaseId: phase.id, attempt: attempt, kind: .attemptStarted,
                      message: "attempt \(attempt)/\(request.maxAttempts) on \(binding.name)",
                      details: ["status": "running", "executor": .string(binding.name)]))
        return Job(index: index, attempt: attempt, binding: binding, request: request, call: call, output: output)
    }

    func maxAttempts(_ index: Int) -> Int { plan.phases[index].spec.retry?.maxAttempts ?? 1 }

    /// Locked. Records what an executor returned and moves the phase (and run) on.
    func finishAttempt(_ job: Job, _ result: ExecuteResult) {
        let index = job.index
        let now = Timestamp.now()
        running -= 1
        calls[index] = nil
        if let text = result.output { job.output.appendText(text) }
        records[index].output = job.output.finish()
        let outcome = AttemptOutcome(
            result: result, limit: plan.phases[index].spec.executionTimeout,
            elapsedMs: now.milliseconds(since: records[index].attempts[job.attempt - 1].startedAt),
            hostTimedOut: timedOut.remove(index) != nil, callCancelled: job.call.isCancelled,
            cancelReason: job.call.reason, masker: options.masker)
        let status = outcome.status
        var message = outcome.message
        var attempt = records[index].attempts[job.attempt - 1]
        attempt.status = status
        attempt.endedAt = now
        attempt.exitCode = result.exitCode
        attempt.message = message
        attempt.worker = result.worker
        records[index].attempts[job.attempt - 1] = attempt
        var details: JSONObject = ["status": .string(status.rawValue), "durationMs": .int(attempt.durationMs ?? 0)]
        if let code = result.exitCode { details.appendUnchecked("exitCode", .int(Int64(code))) }
        if let worker = result.worker { details.appendUnchecked("worker", .string(worker)) }
        emit(RunEvent(time: now, runId: options.runId, phaseId: records[index].id, attempt: job.attempt,
                      kind: .attemptFinished, level: status == .succeeded ? .info : .warning, message: message,
                      details: details))

        if status == .succeeded {
            records[index].outputs = options.masker.isEmpty ? result.outputs : (options.masker.mask(.object(result.outputs)).objectValue ?? JSONObject())
            finalize(index, .succeeded, message)
            runHandler(index, plan.phases[index].spec.onSuccess)
            release(index, fromWorker: true)
        } else if (status == .failed || status == .timedOut) && result.status != .invalid
                    && job.attempt < maxAttempts(index) && !stopping {
            let backoff = options.backoff.overridden(by: plan.phases[index].spec.retry)
            let delay = backoff.delay(afterAttempt: job.attempt, random: options.random())
            records[index].status = .waiting
            emit(RunEvent(runId: options.runId, phaseId: records[index].id, attempt: job.attempt, kind: .retryScheduled,
                          level: .warning, message: "attempt \(job.attempt) \(status.rawValue); retrying in \(delay)",
                          details: ["delayMs": .int(delay.milliseconds), "nextAttempt": .int(Int64(job.attempt + 1))]))
            schedule(.retry(index), at: MonotonicTime.deadline(after: delay))
        } else {
            if result.status == .invalid { message = "invalid request: \(message)" }
            finalize(index, status, message)
            fail(index)
        }
        checkDone()
    }

    // MARK: Transitions (locked)

    /// A phase reached its final status.
    func finalize(_ index: Int, _ status: PhaseStatus, _ message: String) {
        records[index].status = status
        records[index].message = message
        unfinished -= 1
        var details: JSONObject = ["status": .string(status.rawValue)]
        // The history keeps them with the outcome: a run resumed after a crash hands them to dependents.
        if !records[index].outputs.isEmpty { details.appendUnchecked("outputs", .object(records[index].outputs)) }
        emit(RunEvent(runId: options.runId, phaseId: records[index].id, attempt: records[index].attempts.count,
                      kind: .phaseFinished, level: status == .succeeded ? .info : .error, message: message, details: details))
    }

    /// `blocked`: skipped because the run failed or was cancelled before it could run (not
    /// because it was left out: unchanged, not part of a rerun).
    func skip(_ index: Int, _ message: String, blocked: Bool = false) {
        records[index].status = .skipped
        records[index].message = message
        emit(RunEvent(runId: options.runId, phaseId: records[index].id, kind: .phaseSkipped, message: message,
                      details: blocked ? ["status": "skipped", "blocked": true] : ["status": "skipped"]))
    }

    /// The phase failed for good: its onFailure handler decides what happens to the run.
    func fail(_ index: Int) {
        let handler = plan.phases[index].spec.onFailure
        runHandler(index, handler)
        switch handler?.action ?? .raise {
        case .continue:
            release(index, fromWorker: true)
        case .raise:
            stop(after: index, cancelRunning: false)
        case .abort:
            stop(after: index, cancelRunning: true)
        }
    }

    func stop(after index: Int, cancelRunning: Bool) {
        if failedPhase == nil { failedPhase = index }
        stopping = true
        while let waiting = ready.pop() { records[waiting].status = .pending }
        if cancelRunning {
            for (_, call) in calls { call.cancel(reason: "run aborted: phase \(records[index].id) failed") }
        }
    }

    /// Handler messages become events, labels go on the phase's result, notify targets
    /// become notify events (delivery is not Planter's job yet).
    func runHandler(_ index: Int, _ handler: Handler?) {
        guard let handler else { return }
        let id = records[index].id
        for message in handler.messages {
            emit(RunEvent(runId: options.runId, phaseId: id, kind: .handlerMessage,
                          level: records[index].status == .succeeded ? .info : .warning, message: message))
        }
        for label in handler.labels { records[index].labels[label.key] = label.value }
        if let notify = handler.notify {
            var targets = JSONObject()
            if !notify.email.isEmpty { targets.appendUnchecked("email", .array(notify.email.map(JSON.string))) }
            if !notify.slack.isEmpty { targets.appendUnchecked("slack", .array(notify.slack.map(JSON.string))) }
            emit(RunEvent(runId: options.runId, phaseId: id, kind: .notify, message: handler.messages.first ?? "",
                          details: ["status": .string(records[index].status.rawValue), "targets": .object(targets)]))
        }
    }

    /// Dependents of a phase that succeeded (or failed with continue) may now be ready.
    func release(_ index: Int, fromWorker: Bool) {
        var pushed = 0
        for dependent in plan.graph.dependents[index] where included[dependent] {
            remaining[dependent] -= 1
            if remaining[dependent] == 0 && records[dependent].status == .pending && !stopping {
                records[dependent].status = .waiting
                ready.push(dependent)
                pushed += 1
            }
        }
        // The calling worker takes one itself; wake others only for the rest.
        wakeWorkers(fromWorker ? pushed - 1 : pushed)
    }

    func wakeWorkers(_ count: Int) {
        for _ in 0..<min(max(0, count), idleWorkers) { workAvailable.signal() }
    }

    func schedule(_ action: TimerAction, at deadline: Int64) {
        timerSequence += 1
        let wasFirst = timers.min.map { deadline < $0.deadline } ?? true
        timers.push(Timer(deadline: deadline, sequence: timerSequence, action: action))
        if wasFirst { clockChanged.signal() }
    }

    /// Clock thread, locked: one due timer.
    func fire(_ timer: Timer) {
        switch timer.action {
        case .retry(let index):
            guard records[index].status == .waiting else { return }
            if stopping {
                let last = records[index].attempts.last
                finalize(index, last?.status ?? .failed, (last?.message ?? "") + " (no retry: the run is stopping)")
            } else {
                ready.push(index)
                wakeWorkers(1)
            }
        case .waitForTimeout(let index):
            guard records[index].status == .pending, !stopping else { return }
            let waitingFor = plan.graph.dependencies[index].filter { included[$0] && records[$0].status != .succeeded }
                .map { records[$0].id }
            let timeout = plan.phases[index].spec.waitFor?.timeout ?? PlanDuration(milliseconds: 0)
            finalize(index, .failed, "waitFor.timeout \(timeout) expired while waiting for: \(waitingFor.joined(separator: ", "))")
            fail(index)
        case .attemptTimeout(let index, let attempt):
            guard records[index].status == .running, records[index].attempts.count == attempt, let call = calls[index] else { return }
            timedOut.insert(index)
            let limit = plan.phases[index].spec.executionTimeout ?? PlanDuration(milliseconds: 0)
            call.cancel(reason: "timed out after \(limit) (x-timeout)")
        }
        checkDone()
    }

    /// Pause: no new attempt starts until resume; running attempts go on. Returns false when
    /// there is nothing to change (already so, or the run is over).
    func setPaused(_ pause: Bool, reason: String) -> Bool {
        guard !finished, !stopping, paused != pause else { return false }
        paused = pause
        emit(RunEvent(runId: options.runId, kind: .log, message: pause ? "run paused: \(reason)" : "run resumed: \(reason)",
                      details: ["control": .string(pause ? "pause" : "resume")]))
        if !pause { wakeWorkers(ready.count) }
        return true
    }

    /// Cancels the whole run (user request, shutdown); with `killingRunning` false, running
    /// attempts finish and are recorded (a Planter that lost its lease).
    func cancel(reason: String, killingRunning: Bool = true) {
        guard !finished else { return }
        cancelledByUser = true
        stopping = true
        while let waiting = ready.pop() { records[waiting].status = .pending }
        if killingRunning { for (_, call) in calls { call.cancel(reason: reason) } }
        checkDone()
    }

    /// The run is over when every included phase is final, or when it is stopping and
    /// nothing runs any more: what never started is then skipped, saying why.
    func checkDone() {
        guard !finished else { return }
        if unfinished > 0 {
            guard stopping && running == 0 else { return }
            let cause = failedPhase.map { records[$0].id }
            for index in records.indices where included[index] && !records[index].status.isFinal {
                unfinished -= 1
                if records[index].status == .waiting, let last = records[index].attempts.last {
                    records[index].status = last.status
                    records[index].message = last.message + " (no retry: the run is stopping)"
                    continue
                }
                let blocked = plan.graph.dependencies[index].first { included[$0] && records[$0].status != .succeeded
                    && !(records[$0].status.isFinal && plan.phases[$0].spec.onFailure?.action == .continue) }
                if let blocked, records[blocked].status.isFinal {
                    skip(index, "waits for \(records[blocked].id), which \(records[blocked].status.rawValue)", blocked: true)
                } else if cancelledByUser {
                    skip(index, "run cancelled", blocked: true)
                } else {
                    skip(index, "run stopped after \(cause ?? "a phase") failed", blocked: true)
                }
            }
        }
        finished = true
        endedAt = .now()
        let status = status
        emit(RunEvent(time: endedAt, runId: options.runId, kind: .runFinished, level: status == .succeeded ? .info : .error,
                      message: "run \(status.rawValue)", details: ["status": .string(status.rawValue),
                                                                    "durationMs": .int(endedAt.milliseconds(since: startedAt))]))
        workAvailable.broadcast()
        clockChanged.broadcast()
        done.broadcast()
    }

    var status: RunStatus {
        if !finished { return .running }
        if cancelledByUser { return .cancelled }
        if failedPhase != nil { return .failed }
        return .succeeded
    }

    var result: RunResult {
        RunResult(runId: options.runId, status: status, startedAt: startedAt, endedAt: finished ? endedAt : .now(),
                  phases: records, failedPhase: failedPhase.map { records[$0].id })
    }

    /// Builds the event only when someone listens: a 100,000-phase run with no sinks
    /// should not format 300,000 messages.
    func emit(_ event: @autoclosure () -> RunEvent) {
        guard !sinks.isEmpty else { return }
        let event = event()
        for sink in sinks { sink.receive(event) }
    }
}
