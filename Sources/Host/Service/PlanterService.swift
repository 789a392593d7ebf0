import PlanterCore
import PlanterDeployment
import PlanterJSON
import Synchronization

/// The server's heart: the applied and staged plans, each phase's last outcome, the run in
/// progress and the history, persisted to the state file. One run at a time; drift-aware
/// runs execute only what changed, what did not succeed, and what waits on those.
public actor PlanterService {
    public let setup: DeploymentSetup
    public let configuration: ServiceConfiguration
    public let stateFile: StateFile
    public let eventLog: EventLog
    private let extraSinks: [any EventSink]

    var state = PlanterState()
    var active: ActiveRun?
    var queue: [QueuedPlan] = []
    private var accepting = true
    /// Set while a progress save is scheduled: ProgressSink reads it on the runner's threads
    /// and makes no task for an event that a scheduled save will cover.
    nonisolated let saveScheduled = Atomic<Bool>(false)
    /// This Planter's instance token (InstanceToken), given to every run: its phase
    /// processes carry it, so the next start can find what a crash left running.
    var owner: String?
    /// Callers of wait=true, resumed once finish() has recorded their run.
    private var endWaiters: [String: [CheckedContinuation<Void, Never>]] = [:]

    struct ActiveRun {
        let runId: String
        let planId: String
        let trigger: RunEntry.Trigger
        let runner: Runner
        let task: Task<RunResult, Never>
    }

    struct QueuedPlan {
        let plan: Plan
        let stored: StoredPlan
        let force: Bool
    }

    public init(setup: DeploymentSetup, configuration: ServiceConfiguration = ServiceConfiguration(), stateFile: StateFile,
                eventLog: EventLog = EventLog(), sinks: [any EventSink] = []) {
        self.setup = setup
        self.configuration = configuration
        self.stateFile = stateFile
        self.eventLog = eventLog
        extraSinks = sinks
    }

    // MARK: Start-up, reload, save

    /// Loads the state file. A run that was in flight when the process died is marked
    /// interrupted, after whatever its phases left running has been killed (see
    /// PlanterService+Recovery.swift); the next apply or plan resumes it. Returns warnings
    /// for the log. Call it before serving: nothing may resume before the kills.
    public func start() -> [String] {
        var warnings: [String] = []
        loadOwner(&warnings)
        switch stateFile.load() {
        case .missing:
            break
        case .loaded(let loaded):
            state = loaded
            upgradeInterruptedRuns()
            if loaded.migratedFromOriginal {
                warnings.append("the state file \(stateFile.path) was written by the original Planter: loaded its "
                    + "\(loaded.current?.manifest.phases.count ?? 0) phases as the applied plan (none has run here); "
                    + "the next save writes this Planter's format")
            }
            for problem in loaded.loadProblems.prefix(20) {
                warnings.append("the stored plan breaks a rule of this version, kept as it is (a new plan replaces it): \(problem)")
            }
            if let runId = state.inFlightRunId {
                recoverInterruptedRun(runId, &warnings)
                warnings.append("run \(runId) was interrupted when Planter stopped; POST /apply or a new plan resumes it")
                state.inFlightRunId = nil
                trySave(&warnings)
            }
        case .corrupt(let movedTo, let reason):
            warnings.append("the state file \(stateFile.path) is corrupt (\(reason)); moved it to \(movedTo) and started empty")
        }
        return warnings
    }

    /// Replaces the in-memory state with the state file's (SIGHUP, POST /RELOAD).
    public func reload() throws(ServiceError) -> JSON {
        if let active { throw .conflict("cannot reload while run \(active.runId) is in progress", runId: active.runId) }
        switch stateFile.load() {
        case .missing:
            throw .notFound("no state file at \(stateFile.path)")
        case .loaded(let loaded):
            state = loaded
            state.inFlightRunId = nil
            return ["reloaded": true, "planId": state.current.map { .string($0.planId) } ?? .null,
                    "phases": .int(Int64(state.current?.manifest.phases.count ?? 0))]
        case .corrupt(let movedTo, let reason):
            throw .invalid([.error("", "state file is corrupt (\(reason)); moved it to \(movedTo); the state in memory is unchanged")])
        }
    }

    public func save() throws {
        mergeActiveProgress()
        try stateFile.save(state)
    }

    func trySave(_ warnings: inout [String]) {
        do { try save() } catch { warnings.append("could not save state: \(error)") }
    }

    private func saveLogged() {
        do {
            try save()
        } catch {
            eventLog.receive(RunEvent(runId: "", kind: .log, level: .error, message: "could not save state: \(error)"))
        }
    }

    // MARK: Plans

    /// POST /plan. Validates, diffs against the applied plan, and then (by options) answers
    /// a dry run, stages, queues, or stores the plan as current and starts a run.
    /// Validation needs no state, so it runs on the caller's task, outside the actor: plans
    /// validate in parallel and only the diff and the run start are serialized.
    public nonisolated func submit(_ document: JSON, options: SubmitOptions) async throws(ServiceError) -> JSON {
        let plan = try validate(document, strict: options.strict || configuration.strict)
        return try await submit(plan, options: options)
    }

    private func submit(_ plan: Plan, options: SubmitOptions) async throws(ServiceError) -> JSON {
        guard accepting || options.dryRun else { throw .unavailable("Planter is shutting down and accepts no plans") }
        let diff = PlanDiff(old: state.current?.manifest, new: plan.manifest)
        if options.dryRun {
            return dryRunAnswer(plan, diff: diff, force: options.force)
        }
        let stored = StoredPlan(manifest: plan.manifest)
        if options.stage {
            state.staged = stored
            saveLogged()
            return answer(stored, plan: plan, diff: diff, extra: ["staged": true])
        }
        if let active {
            guard options.queue else {
                throw .conflict("run \(active.runId) is in progress; retry when it ends, or add queue=true", runId: active.runId)
            }
            queue.append(QueuedPlan(plan: plan, stored: stored, force: options.force))
            return answer(stored, plan: plan, diff: diff, extra: ["queued": true, "position": .int(Int64(queue.count)),
                                                                  "runningRunId": .string(active.runId)])
        }
        let run = startRun(plan: plan, stored: stored, trigger: .plan, force: options.force)
        return await runAnswer(run, stored: stored, plan: plan, diff: diff, wait: options.wait)
    }

    /// POST /apply: runs the staged plan; with nothing staged, resumes an interrupted run.
    public func apply(wait: Bool) async throws(ServiceError) -> JSON {
        guard accepting else { throw .unavailable("Planter is shutting down") }
        if let active { throw .conflict("run \(active.runId) is in progress", runId: active.runId) }
        if let staged = state.staged {
            let plan: Plan
            switch PlanValidator.validate(manifest: staged.manifest, registry: setup.registry) {
            case .success(let valid): plan = valid
            case .failure(let failure): throw .invalid(failure.problems)
            }
            let diff = PlanDiff(old: state.current?.manifest, new: plan.manifest)
            state.staged = nil
            let run = startRun(plan: plan, stored: staged, trigger: .apply, force: false)
            return await runAnswer(run, stored: staged, plan: plan, diff: diff, wait: wait)
        }
        if pendingInterruptedRun != nil, let current = state.current {
            let plan: Plan
            switch PlanValidator.validate(manifest: current.manifest, registry: setup.registry) {
            case .success(let valid): plan = valid
            case .failure(let failure): throw .invalid(failure.problems)
            }
            let run = startRun(plan: plan, stored: current, trigger: .resume, force: false)
            return await runAnswer(run, stored: current, plan: plan, diff: PlanDiff(old: current.manifest, new: plan.manifest), wait: wait)
        }
        throw .notFound("nothing is staged: POST /plan?stage=true first")
    }

    /// GET /diff (staged vs applied) and POST /diff (a manifest vs applied).
    /// POST /diff: a manifest against the applied plan (GET /diff is `stagedDiffAnswer`).
    public func diff(_ document: JSON, strict: Bool = false) throws(ServiceError) -> JSON {
        let manifest = try validate(document, strict: strict || configuration.strict).manifest
        guard case .object(var object) = PlanDiff(old: state.current?.manifest, new: manifest).json else { return .null }
        object["appliedPlanId"] = state.current.map { .string($0.planId) } ?? .null
        return .object(object)
    }

    /// Sync-from: take another Planter's `/state` phases as the current plan (one way).
    public func adopt(remoteState json: JSON) throws(ServiceError) -> Bool {
        guard let phases = json["phases"] else { throw .invalid([.error("/phases", "the remote state has no phases")]) }
        let plan = try validate(phases, strict: configuration.strict)
        if let current = state.current, current.manifest == plan.manifest { return false }
        if active != nil { return false }
        let planId = json["planId"]?.stringValue ?? json["appliedPlanId"]?.stringValue ?? StoredPlan.newPlanID()
        state.current = StoredPlan(planId: planId, manifest: plan.manifest)
        let ids = Set(plan.phases.map(\.id))
        state.phaseStates = state.phaseStates.filter { ids.contains($0.key) }
        saveLogged()
        return true
    }

    private nonisolated func validate(_ document: JSON, strict: Bool = false) throws(ServiceError) -> Plan {
        switch PlanValidator.validate(document: document, registry: setup.registry, strict: strict) {
        case .success(let plan): return plan
        case .failure(let failure): throw .invalid(failure.problems)
        }
    }

    // MARK: Runs

    /// Phases to run: by default those added or changed since the applied plan, those whose
    /// last outcome was not success, and everything that waits on them.
    func selection(for plan: Plan, force: Bool) -> [Bool]? {
        if force { return nil }
        let diff = PlanDiff(old: state.current?.manifest, new: plan.manifest)
        let changed = Set(diff.added + diff.changed.map(\.id))
        let roots = plan.phases.indices.filter { index in
            let id = plan.phases[index].id
            return changed.contains(id) || state.phaseStates[id]?.status != .succeeded
        }
        return plan.graph.downstream(of: roots)
    }

    private func startRun(plan: Plan, stored: StoredPlan, trigger: RunEntry.Trigger, force: Bool,
                          selection explicit: [Bool]? = nil, unselectedMessage: String? = nil) -> ActiveRun {
        var options = RunOptions(parallel: configuration.parallel)
        options.backoff = setup.deployment.backoff
        options.outputTailBytes = setup.deployment.outputTailBytes
        options.masker = setup.registry.masker
        options.selection = explicit ?? selection(for: plan, force: force)
        options.unselectedMessage = unselectedMessage ?? "unchanged since the last run, which it passed"
        options.previousOutputs = state.phaseStates.mapValues(\.outputs)
        options.owner = owner
        let progress = ProgressSink(service: self)
        let runner = Runner(plan: plan, options: options, sinks: [eventLog, progress] + extraSinks)
        let runId = options.runId
        let previous = state.current?.manifest
        if trigger != .rerun {
            // This plan is now the applied one; phases it no longer has are forgotten.
            state.current = stored
            let ids = Set(plan.phases.map(\.id))
            state.phaseStates = state.phaseStates.filter { ids.contains($0.key) }
            _ = previous
        }
        state.inFlightRunId = runId
        state.record(RunEntry(result: runner.snapshot(), planId: stored.planId, trigger: trigger))
        // Durable before the first phase starts: after a crash, the next start knows which
        // run's processes to look for (they carry its id and our token from their exec on).
        saveLogged()
        let task = Task { [runner] in await runner.run() }
        let run = ActiveRun(runId: runId, planId: stored.planId, trigger: trigger, runner: runner, task: task)
        active = run
        Task { await self.finish(run) }
        return run
    }

    private func finish(_ run: ActiveRun) async {
        let result = await run.task.value
        apply(result, from: run)
        state.record(RunEntry(result: result, planId: run.planId, trigger: run.trigger))
        state.inFlightRunId = nil
        active = nil
        saveLogged()
        for waiter in endWaiters.removeValue(forKey: run.runId) ?? [] { waiter.resume() }
        if !queue.isEmpty && accepting {
            let next = queue.removeFirst()
            _ = startRun(plan: next.plan, stored: next.stored, trigger: .plan, force: next.force)
        }
    }

    /// Returns once the run's result is in the history and it is no longer active: a wait=true
    /// answer that came before would let the caller's next request find the run in progress.
    func runRecorded(_ runId: String) async {
        guard active?.runId == runId else { return }
        await withCheckedContinuation { endWaiters[runId, default: []].append($0) }
    }

    /// Copies final outcomes of the phases a run executed into the per-phase state.
    private func apply(_ result: RunResult, from run: ActiveRun) {
        for record in result.phases where record.status.isFinal && !record.attempts.isEmpty || record.status == .failed {
            state.phaseStates[record.id] = PhaseState(status: record.status, runId: result.runId, message: record.message,
                                                      outputs: record.outputs, labels: record.labels, updatedAt: record.endedAt)
        }
        for record in result.phases where record.status == .skipped && record.message.hasPrefix("waits for") {
            state.phaseStates[record.id] = PhaseState(status: .skipped, runId: result.runId, message: record.message)
        }
    }

    /// During a run: attempts that started and phases that finished are saved (coalesced), so
    /// a crash loses at most what was in flight.
    func noteProgress() {
        Task {
            try? await Task.sleep(for: configuration.progressSaveInterval)
            self.flushProgress()
        }
    }

    private func flushProgress() {
        // Cleared before the save reads the progress: an event after this schedules another.
        saveScheduled.store(false, ordering: .releasing)
        // Once the run has ended, finish() has saved; a late progress save would overwrite
        // whatever the file has become since (an edit followed by a reload, say).
        guard active != nil else { return }
        saveLogged()
    }

    private func mergeActiveProgress() {
        guard let active else { return }
        let snapshot = active.runner.snapshot()
        apply(snapshot, from: active)
        state.record(RunEntry(result: snapshot, planId: active.planId, trigger: active.trigger))
    }

    /// POST /phases/:id/run: that phase alone, or with everything that waits on it.
    public func rerun(_ id: String, withDependents: Bool, wait: Bool) async throws(ServiceError) -> JSON {
        guard accepting else { throw .unavailable("Planter is shutting down") }
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
        let run = startRun(plan: plan, stored: current, trigger: .rerun, force: false, selection: selection,
                           unselectedMessage: "not part of this rerun")
        return await runAnswer(run, stored: current, plan: plan, diff: nil, wait: wait)
    }

    /// POST /runs/:id/cancel
    public func cancel(runId: String) throws(ServiceError) -> JSON {
        if let active, active.runId == runId {
            active.runner.cancel(reason: "cancelled through the API")
            return ["runId": .string(runId), "cancelling": true]
        }
        if let index = queue.firstIndex(where: { $0.stored.planId == runId }) {
            queue.remove(at: index)
            return ["planId": .string(runId), "dequeued": true]
        }
        if state.run(runId) != nil { throw .conflict("run \(runId) has already ended", runId: runId) }
        throw .notFound("no run \(runId)")
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

    // MARK: Shutdown

    /// Stops accepting plans, lets a running plan finish within the grace period (then
    /// cancels it), and saves.
    public func shutdown() async {
        accepting = false
        queue.removeAll()
        if let active {
            // The run may finish within the grace period; past it, it is cancelled (its
            // executors kill their process groups) and ends promptly.
            let grace = configuration.shutdownGrace
            let runner = active.runner
            let deadline = Task {
                try? await Task.sleep(for: grace)
                if !Task.isCancelled { runner.cancel(reason: "Planter is shutting down") }
            }
            _ = await active.task.value
            deadline.cancel()
            while self.active != nil { await Task.yield() }
        }
        saveLogged()
        // Destroying instances and stopping executor processes blocks: on a thread of its own.
        let registry = setup.registry
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            startThread(name: "planter-close") {
                registry.close()
                done.resume()
            }
        }
    }

    public var isAccepting: Bool { accepting }
}
