import PlanterCore
import PlanterDeployment
import PlanterJSON
import Synchronization

/// The server's heart: the applied and staged plans, each phase's last outcome, the run in
/// progress and the history. The state file is the snapshot (saved when a run starts and
/// ends, on shutdown); the history store, when there is one, is the journal of every run,
/// attempt and event. One run at a time; drift-aware runs execute only what changed, what
/// did not succeed, and what waits on those.
public actor PlanterService {
    public let setup: DeploymentSetup
    public let configuration: ServiceConfiguration
    public let stateFile: StateFile
    public let eventLog: EventLog
    /// The embedded history (nil: runs and events live in memory only, as for an embedder's tests).
    public nonisolated let history: History?
    let extraSinks: [any EventSink]

    var state = PlanterState()
    var active: ActiveRun?
    var queue: [QueuedPlan] = []
    var accepting = true
    /// This Planter's instance token (InstanceToken), given to every run: its phase
    /// processes carry it, so the next start can find what a crash left running.
    var owner: String?
    /// Why the last save failed (nil once one succeeds).
    var lastSaveError: (any Error)?

    /// Why the last state save failed, for /ready (nil while saves succeed).
    public var lastSaveProblem: String? { lastSaveError.map { "\($0)" } }
    /// Callers of wait=true, resumed once finish() has recorded their run.
    var endWaiters: [String: [CheckedContinuation<Void, Never>]] = [:]

    struct ActiveRun {
        let runId: String
        let planId: String
        let trigger: RunEntry.Trigger
        let triggeredBy: String?
        /// The session the run is mirrored on (nil: no sessions).
        let sessionId: String?
        let runner: Runner
        let task: Task<RunResult, Never>

        /// The run's record with `result` (its snapshot, or its end).
        func entry(_ result: RunResult) -> RunEntry {
            RunEntry(result: result, planId: planId, trigger: trigger, triggeredBy: triggeredBy)
        }
    }

    struct QueuedPlan {
        let plan: Plan
        let stored: StoredPlan
        let force: Bool
        let triggeredBy: String?
        let session: String?
    }

    public init(setup: DeploymentSetup, configuration: ServiceConfiguration = ServiceConfiguration(), stateFile: StateFile,
                eventLog: EventLog = EventLog(), history: History? = nil, sinks: [any EventSink] = []) {
        self.setup = setup
        self.configuration = configuration
        self.stateFile = stateFile
        self.eventLog = eventLog
        self.history = history
        extraSinks = sinks
    }

    /// Where the service's own log lines go: through the history when there is one.
    var logSink: any EventSink { history ?? eventLog }

    // MARK: Start-up, reload, save

    /// Loads the state file. A run that was in flight when the process died is marked
    /// interrupted, after whatever its phases left running has been killed (see
    /// PlanterService+Recovery.swift); the next apply or plan resumes it. Returns warnings
    /// for the log. Call it before serving: nothing may resume before the kills.
    public func start() async -> [String] {
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
                await mergeStoredProgress(of: runId, &warnings)
                let remote = await configuration.recoverRemoteAttempts?(runId) ?? [:]
                recoverInterruptedRun(runId, remote: remote, &warnings)
                warnings.append("run \(runId) was interrupted when Planter stopped; POST /apply or a new plan resumes it")
                state.inFlightRunId = nil
                trySave(&warnings)
            }
        case .corrupt(let movedTo, let reason):
            warnings.append("the state file \(stateFile.path) is corrupt (\(reason)); moved it to \(movedTo) and started empty")
        }
        await importRunsIntoHistory()
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
        // The lease's holder keeps the state in Redis too: a standby takes over from it.
        if configuration.lease != nil, let replica = history?.replica, let owner {
            var writer = JSONWriter(capacity: 1 << 16)
            writer.write(state.json)
            replica.saveState(writer.bytes, owner: owner)
        }
    }

    /// A standby runs nothing: plans go to the lease's holder.
    func checkLease() throws(ServiceError) {
        if let lease = configuration.lease, !lease.mayStartPhases {
            throw .unavailable("this Planter is a standby: another Planter holds the namespace's lease and runs its plans; "
                + "this one takes over if that one stops renewing it")
        }
    }

    func trySave(_ warnings: inout [String]) {
        do { try save() } catch { warnings.append("could not save state: \(error)") }
    }

    /// Saves; a failure goes to the event log and is kept for shutdown to report.
    @discardableResult
    func saveLogged() -> (any Error)? {
        do {
            try save()
            lastSaveError = nil
            return nil
        } catch {
            lastSaveError = error
            logSink.receive(RunEvent(runId: "", kind: .log, level: .error, message: "could not save state: \(error)"))
            return error
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

    /// Validates a manifest as POST /plan would (for a service allowed `executors`, nil: any), and nothing else.
    public nonisolated func check(_ document: JSON, strict: Bool = false, executors: Set<String>?) throws(ServiceError) {
        switch PlanValidator.validate(document: document, registry: setup.registry, strict: strict || configuration.strict) {
        case .success(let plan): try Self.checkExecutors(plan, allowed: executors)
        case .failure(let failure): throw .invalid(failure.problems)
        }
    }

    private func submit(_ plan: Plan, options: SubmitOptions) async throws(ServiceError) -> JSON {
        guard accepting || options.dryRun else { throw .unavailable("Planter is shutting down and accepts no plans") }
        let diff = PlanDiff(old: state.current?.manifest, new: plan.manifest)
        if options.dryRun {
            return dryRunAnswer(plan, diff: diff, force: options.force)
        }
        try checkLease()
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
            let session = options.session ?? newSessionId()
            queue.append(QueuedPlan(plan: plan, stored: stored, force: options.force, triggeredBy: options.triggeredBy, session: session))
            var extra: JSONObject = ["queued": true, "position": .int(Int64(queue.count)), "runningRunId": .string(active.runId)]
            if let session { extra["sessionId"] = .string(session) }
            return answer(stored, plan: plan, diff: diff, extra: extra)
        }
        let run = startRun(plan: plan, stored: stored, trigger: .plan, diff: diff, force: options.force, triggeredBy: options.triggeredBy,
                           session: options.session)
        return await runAnswer(run, stored: stored, plan: plan, diff: diff, wait: options.wait)
    }

    /// POST /apply: runs the staged plan; with nothing staged, resumes an interrupted run.
    public func apply(wait: Bool, triggeredBy: String? = nil) async throws(ServiceError) -> JSON {
        guard accepting else { throw .unavailable("Planter is shutting down") }
        try checkLease()
        if let active { throw .conflict("run \(active.runId) is in progress", runId: active.runId) }
        if let staged = state.staged {
            let plan: Plan
            switch PlanValidator.validate(manifest: staged.manifest, registry: setup.registry) {
            case .success(let valid): plan = valid
            case .failure(let failure): throw .invalid(failure.problems)
            }
            let diff = PlanDiff(old: state.current?.manifest, new: plan.manifest)
            state.staged = nil
            let run = startRun(plan: plan, stored: staged, trigger: .apply, diff: diff, force: false, triggeredBy: triggeredBy)
            return await runAnswer(run, stored: staged, plan: plan, diff: diff, wait: wait)
        }
        if pendingInterruptedRun != nil, let current = state.current {
            let plan: Plan
            switch PlanValidator.validate(manifest: current.manifest, registry: setup.registry) {
            case .success(let valid): plan = valid
            case .failure(let failure): throw .invalid(failure.problems)
            }
            let diff = PlanDiff(old: current.manifest, new: plan.manifest)
            let run = startRun(plan: plan, stored: current, trigger: .resume, diff: diff, force: false, triggeredBy: triggeredBy)
            return await runAnswer(run, stored: current, plan: plan, diff: diff, wait: wait)
        }
        throw .notFound("nothing is staged: POST /plan?stage=true first")
    }

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
        case .success(let plan):
            try Self.checkExecutors(plan, allowed: configuration.allowedExecutors)
            return plan
        case .failure(let failure): throw .invalid(failure.problems)
        }
    }

    /// Every phase's executor is one of `allowed` (nil: any).
    static func checkExecutors(_ plan: Plan, allowed: Set<String>?) throws(ServiceError) {
        guard let allowed else { return }
        let problems = plan.bindings.indices.filter { !allowed.contains(plan.bindings[$0].name) }.map { index in
            Problem.error("/\(index)/spec/selector/matchLabels", "phase \"\(plan.phases[index].id)\" runs on executor \"\(plan.bindings[index].name)\", "
                + "which this namespace may not use (its executors: \(allowed.sorted().joined(separator: ", ")))")
        }
        if !problems.isEmpty { throw .invalid(problems) }
    }

    // MARK: Shutdown

    /// Stops accepting plans, lets a running plan finish within the grace period (then
    /// cancels it), saves, and closes the executors. Returns why the final save failed, if it did.
    @discardableResult
    public func shutdown() async -> (any Error)? {
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
        let saveError = saveLogged()
        await history?.flush()
        if configuration.closesExecutors { await Self.close(setup.registry) }
        return saveError
    }

    /// Destroys the executor instances and stops executor processes, on a thread of its own (it blocks).
    public static func close(_ registry: ExecutorRegistry) async {
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            startThread(name: "planter-close") {
                registry.close()
                done.resume()
            }
        }
    }

    public var isAccepting: Bool { accepting }
}
