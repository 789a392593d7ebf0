import PlanterCore
import PlanterJSON
import PlanterStore

/// Runs: starting one (which phases, with what options), recording its outcome in the state,
/// saving progress while it runs, reruns of one phase, cancel, and waiting for the end.
extension PlanterService {
    /// Phases to run: by default those added or changed since the applied plan, those whose
    /// last outcome was not success, and everything that waits on them.
    func selection(for plan: Plan, diff: PlanDiff, force: Bool) -> [Bool]? {
        if force { return nil }
        let changed = Set(diff.added + diff.changed.map(\.id))
        let roots = plan.phases.indices.filter { index in
            let id = plan.phases[index].id
            return changed.contains(id) || state.phaseStates[id]?.status != .succeeded
        }
        return plan.graph.downstream(of: roots)
    }

    /// Starts a run of `plan`. `diff` (against the applied plan) picks what runs unless `force`
    /// or an explicit selection says otherwise.
    func startRun(plan: Plan, stored: StoredPlan, trigger: RunEntry.Trigger, diff: PlanDiff?, force: Bool,
                  selection explicit: [Bool]? = nil, unselectedMessage: String? = nil, triggeredBy: String? = nil,
                  session: String? = nil) -> ActiveRun {
        var options = RunOptions(parallel: configuration.parallel)
        options.backoff = setup.deployment.backoff
        options.outputTailBytes = setup.deployment.outputTailBytes
        options.masker = setup.registry.masker
        options.selection = explicit
            ?? selection(for: plan, diff: diff ?? PlanDiff(old: state.current?.manifest, new: plan.manifest), force: force)
        options.unselectedMessage = unselectedMessage ?? "unchanged since the last run, which it passed"
        options.previousOutputs = state.phaseStates.mapValues(\.outputs)
        options.owner = owner
        options.namespace = configuration.namespace
        options.capacity = configuration.capacity
        if let lease = configuration.lease {
            // With a lease, the run's start (its state, in flight) reaches Redis before its first phase.
            let replica = history?.replica
            options.mayStartPhase = { lease.mayStartPhases && replica?.stateIsWritten != false }
        }
        // With a history, events reach the EventLog once committed (History forwards them).
        let runner = Runner(plan: plan, options: options, sinks: [logSink] + extraSinks)
        let runId = options.runId
        if trigger != .rerun {
            // This plan is now the applied one; phases it no longer has are forgotten.
            history?.record(plan: stored)
            state.current = stored
            let ids = Set(plan.phases.map(\.id))
            state.phaseStates = state.phaseStates.filter { ids.contains($0.key) }
        }
        state.inFlightRunId = runId
        let entry = RunEntry(result: runner.snapshot(), planId: stored.planId, trigger: trigger, triggeredBy: triggeredBy)
        state.record(entry)
        history?.record(run: entry)
        // Durable before the first phase starts: after a crash, the next start knows which
        // run's processes to look for (they carry its id and our token from their exec on).
        saveLogged()
        // Bound and announced (`.start`) before the run's first event is published.
        let sessionId = session ?? newSessionId()
        if let sessionId, let runStarting = configuration.runStarting {
            runStarting(RunStart(runId: runId, planId: stored.planId, sessionId: sessionId, manifest: plan.manifest, trigger: trigger))
        }
        let task = Task { [runner] in await runner.run() }
        let run = ActiveRun(runId: runId, planId: stored.planId, trigger: trigger, triggeredBy: triggeredBy, sessionId: sessionId,
                            runner: runner, task: task)
        active = run
        Task { await self.finish(run) }
        return run
    }

    private func finish(_ run: ActiveRun) async {
        let result = await run.task.value
        recordOutcomes(result)
        let entry = run.entry(result)
        state.record(entry)
        history?.record(run: entry)
        // Committed before a waiter's answer (or the next request) can report the run ended.
        await history?.flush()
        state.inFlightRunId = nil
        active = nil
        saveLogged()
        for waiter in endWaiters.removeValue(forKey: run.runId) ?? [] { waiter.resume() }
        if history != nil, configuration.retention != Retention() {
            Task { if let line = await self.pruneHistory() { self.logSink.receive(RunEvent(runId: "", kind: .log, message: line)) } }
        }
        if !queue.isEmpty && accepting {
            let next = queue.removeFirst()
            // The applied plan has changed since it was queued: its diff is taken now.
            _ = startRun(plan: next.plan, stored: next.stored, trigger: .plan, diff: nil, force: next.force, triggeredBy: next.triggeredBy,
                         session: next.session)
        }
    }

    /// Returns once the run's result is in the history and it is no longer active: a wait=true
    /// answer that came before would let the caller's next request find the run in progress.
    func runRecorded(_ runId: String) async {
        guard active?.runId == runId else { return }
        await withCheckedContinuation { endWaiters[runId, default: []].append($0) }
    }

    /// Copies final outcomes of the phases a run executed into the per-phase state.
    func recordOutcomes(_ result: RunResult) {
        for record in result.phases where record.status.isFinal && !record.attempts.isEmpty || record.status == .failed {
            state.phaseStates[record.id] = PhaseState(status: record.status, runId: result.runId, message: record.message,
                                                      outputs: record.outputs, labels: record.labels, updatedAt: record.endedAt)
        }
        for record in result.phases where record.status == .skipped && record.message.hasPrefix("waits for") {
            state.phaseStates[record.id] = PhaseState(status: .skipped, runId: result.runId, message: record.message)
        }
    }

    /// For a save while a run is in progress (shutdown, STOP): the run as far as it got.
    func mergeActiveProgress() {
        guard let active else { return }
        let snapshot = active.runner.snapshot()
        recordOutcomes(snapshot)
        state.record(active.entry(snapshot))
    }

    /// POST /phases/:id/run: that phase alone, or with everything that waits on it.
    public func rerun(_ id: String, withDependents: Bool, wait: Bool, triggeredBy: String? = nil) async throws(ServiceError) -> JSON {
        guard accepting else { throw .unavailable("Planter is shutting down") }
        try checkLease()
        if let active { throw .conflict("run \(active.runId) is in progress", runId: active.runId) }
        guard let current = state.current else { throw .notFound("no plan has been applied") }
        let plan: Plan
        switch PlanValidator.validate(manifest: current.manifest, registry: setup.registry) {
        case .success(let valid): plan = valid
        case .failure(let failure): throw .invalid(failure.problems)
        }
        guard let index = plan.graph.indexByID[id] else { throw .notFound("no phase \"\(id)\" in the applied plan") }
        var selection = withDependents ? plan.graph.downstream(of: [index]) : [Bool](repeating: false, count: plan.phases.count)
        selection[index] = true
        let run = startRun(plan: plan, stored: current, trigger: .rerun, diff: nil, force: false, selection: selection,
                           unselectedMessage: "not part of this rerun", triggeredBy: triggeredBy)
        return await runAnswer(run, stored: current, plan: plan, diff: nil, wait: wait)
    }

    /// POST /runs/:id/cancel. `id` is the active run's id (cancels it), or the plan id of a
    /// queued plan (a queued plan has no run yet: it is taken off the queue).
    /// The lease is lost for good: nothing more of the run starts here (the next holder resumes
    /// it); attempts running now finish and are recorded.
    public func abandonActiveRun(reason: String) -> String? {
        guard let active else { return nil }
        active.runner.cancel(reason: reason, killingRunning: false)
        return active.runId
    }

    public func cancel(runOrQueuedPlan id: String) throws(ServiceError) -> JSON {
        if let active, active.runId == id {
            active.runner.cancel(reason: "cancelled through the API")
            return ["runId": .string(id), "cancelling": true]
        }
        if let index = queue.firstIndex(where: { $0.stored.planId == id }) {
            queue.remove(at: index)
            return ["planId": .string(id), "dequeued": true]
        }
        if state.run(id) != nil { throw .conflict("run \(id) has already ended", runId: id) }
        throw .notFound("no run \(id)")
    }

    /// A session id for a run that was given none, when runs are mirrored on sessions.
    func newSessionId() -> String? {
        configuration.runStarting == nil ? nil : "session-" + Self.randomUUID()
    }

    /// A version 4 UUID, lowercase (the original Planter's `session-<uuid v4>`).
    static func randomUUID() -> String {
        var bytes = (0..<16).map { _ in UInt8.random(in: 0...255) }
        bytes[6] = bytes[6] & 0x0f | 0x40
        bytes[8] = bytes[8] & 0x3f | 0x80
        let hex = bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }
        return [hex[0..<4], hex[4..<6], hex[6..<8], hex[8..<10], hex[10..<16]].map { $0.joined() }.joined(separator: "-")
    }

    /// Pause (`pause: true`) or resume the active run `id`: no phase starts while paused,
    /// running ones finish (POST /runs/:id/pause|resume, a session's `.control`).
    public func setPaused(_ pause: Bool, runId id: String) throws(ServiceError) -> JSON {
        guard let active, active.runId == id else {
            if state.run(id) != nil { throw .conflict("run \(id) has already ended", runId: id) }
            throw .notFound("no run \(id)")
        }
        let changed = pause ? active.runner.pause(reason: "through the API") : active.runner.resume(reason: "through the API")
        return ["runId": .string(id), "paused": .bool(active.runner.isPaused), "changed": .bool(changed)]
    }

    /// The active run's session and pause state, for the session interface.
    public var activeRunSession: (runId: String, sessionId: String?, paused: Bool)? {
        active.map { ($0.runId, $0.sessionId, $0.runner.isPaused) }
    }

    /// Waits for a run to end (SSE follow, wait=true).
    public func waitForRun(_ runId: String) async -> RunResult? {
        if let active, active.runId == runId { return await active.task.value }
        return state.run(runId)?.result
    }

    public var activeRunId: String? { active?.runId }

    /// The run ids of a plan, for `GET /logs?planId=`.
    public func runIds(ofPlan planId: String) -> Set<String> {
        var ids = Set(state.runs.filter { $0.planId == planId }.map(\.result.runId))
        if let active, active.planId == planId { ids.insert(active.runId) }
        return ids
    }

    /// The last interrupted run, unless a later plan, apply or resume has run since (which
    /// resumed it: phases that had succeeded were not run again).
    var pendingInterruptedRun: RunEntry? {
        guard let interrupted = state.runs.last(where: \.interrupted) else { return nil }
        let resumed = state.runs.contains { $0.trigger != .rerun && $0.result.startedAt > interrupted.result.startedAt }
        return resumed ? nil : interrupted
    }
}
