import PlanterJSON

/// The API's answers: the service's state rendered as canonical JSON documents.
extension PlanterService {
    func runAnswer(_ run: ActiveRun, stored: StoredPlan, plan: Plan, diff: PlanDiff?, wait: Bool) async -> JSON {
        var extra: JSONObject = ["runId": .string(run.runId)]
        if let triggeredBy = run.triggeredBy { extra["triggeredBy"] = .string(triggeredBy) }
        if let sessionId = run.sessionId { extra["sessionId"] = .string(sessionId) }
        if wait {
            let result = await run.task.value
            await runRecorded(run.runId)
            extra["result"] = result.json
        }
        return answer(stored, plan: plan, diff: diff, extra: extra)
    }

    func answer(_ stored: StoredPlan, plan: Plan, diff: PlanDiff?, extra: JSONObject) -> JSON {
        var object = JSONObject()
        object.appendUnchecked("planId", .string(stored.planId))
        object.appendUnchecked("phaseCount", .int(Int64(plan.phases.count)))
        if let diff { object.appendUnchecked("diff", diff.summary) }
        for member in extra { object[member.key] = member.value }
        if !plan.warnings.isEmpty {
            object["warnings"] = .array(plan.warnings.map { ["path": .string($0.path), "message": .string($0.message)] })
        }
        return .object(object)
    }

    func dryRunAnswer(_ plan: Plan, diff: PlanDiff, force: Bool) -> JSON {
        let selection = self.selection(for: plan, diff: diff, force: force)
        var object = JSONObject()
        object.appendUnchecked("dryRun", true)
        object.appendUnchecked("valid", true)
        object.appendUnchecked("phaseCount", .int(Int64(plan.phases.count)))
        object.appendUnchecked("diff", diff.json)
        object.appendUnchecked("waves", .array(plan.graph.waves().map { wave in
            .array(wave.map { index in
                ["id": .string(plan.phases[index].id), "executor": .string(plan.bindings[index].name),
                 "plugin": .string(plan.bindings[index].plugin), "wouldRun": .bool(selection?[index] ?? true)]
            })
        }))
        object.appendUnchecked("warnings", .array(plan.warnings.map { ["path": .string($0.path), "message": .string($0.message)] }))
        return .object(object)
    }

    /// GET /state: the applied plan (`phases`, canonical), each phase's live status, the
    /// last run, and what is staged or queued.
    public func stateAnswer() -> JSON {
        let statuses = livePhaseStates()
        let lastRun = active.map { $0.runner.snapshot() } ?? state.runs.last?.result
        var object = JSONObject()
        object.appendUnchecked("planId", state.current.map { .string($0.planId) } ?? .null)
        object.appendUnchecked("appliedPlanId", state.current.map { .string($0.planId) } ?? .null)
        object.appendUnchecked("submittedAt", state.current.map { .string($0.submittedAt.iso8601) } ?? .null)
        object.appendUnchecked("phases", state.current?.manifest.canonicalJSON ?? .array([]))
        object.appendUnchecked("phaseStatus", .object(JSONObject((state.current?.manifest.phases ?? []).map { phase in
            JSONObject.Member(key: phase.id, value: statuses[phase.id]?.json ?? ["status": "pending"])
        })))
        object.appendUnchecked("activeRunId", active.map { .string($0.runId) } ?? .null)
        object.appendUnchecked("lastRun", lastRun.map(Self.summary) ?? .null)
        object.appendUnchecked("staged", state.staged.map { ["planId": .string($0.planId), "submittedAt": .string($0.submittedAt.iso8601),
                                                             "phaseCount": .int(Int64($0.manifest.phases.count))] } ?? .null)
        object.appendUnchecked("queued", .int(Int64(queue.count)))
        object.appendUnchecked("interruptedRunId", pendingInterruptedRun.map { .string($0.result.runId) } ?? .null)
        return .object(object)
    }

    static func summary(_ result: RunResult) -> JSON {
        guard case .object(var object) = result.json else { return .null }
        object["phases"] = nil
        return .object(object)
    }

    /// GET /phases/:id: with a history, its events and its runs come from there.
    public func phaseAnswer(_ id: String) async throws(ServiceError) -> JSON {
        guard let phase = state.current?.manifest.phases.first(where: { $0.id == id }) else {
            throw .notFound("no phase \"\(id)\" in the applied plan")
        }
        var record: PhaseRecord?
        if let active { record = active.runner.snapshot().phases.first { $0.id == id && !$0.attempts.isEmpty } }
        if record == nil {
            record = state.runs.reversed().lazy.compactMap { $0.result.phases.first { $0.id == id && !$0.attempts.isEmpty } }.first
        }
        var object = JSONObject()
        object.appendUnchecked("id", .string(id))
        object.appendUnchecked("spec", phase.canonicalJSON["spec"] ?? .null)
        let status = livePhaseStates()[id]?.json ?? ["status": "pending"]
        object.appendUnchecked("status", status["status"] ?? "pending")
        object.appendUnchecked("state", status)
        object.appendUnchecked("labels", status["labels"] ?? record?.labels.json ?? .object(JSONObject()))
        object.appendUnchecked("lastRunId", status["runId"] ?? .null)
        object.appendUnchecked("attempts", .array(record?.attempts.map(\.json) ?? []))
        object.appendUnchecked("output", .string(record?.output.text ?? ""))
        object.appendUnchecked("events", .array(try await phaseEvents(id, limit: 500)))
        if history != nil { object.appendUnchecked("history", try await phaseHistory(id, limit: 20)) }
        return .object(object)
    }

    /// GET /runs without a history: the state's runs, newest first.
    func runsAnswer() -> JSON {
        var runs = state.runs
        if let active {
            runs.removeAll { $0.result.runId == active.runId }
            runs.append(active.entry(active.runner.snapshot()))
        }
        return ["runs": .array(runs.reversed().map(\.listed))]
    }
}
