import PlanterJSON

/// GET /status and GET /diff's answers: the live part of the state, and the staged diff.
extension PlanterService {
    /// Each phase's last known outcome, with the phases of the run in progress as they are now
    /// (phases that run does not execute keep their earlier outcome).
    func livePhaseStates() -> [String: PhaseState] {
        var statuses = state.phaseStates
        guard let active else { return statuses }
        let snapshot = active.runner.snapshot()
        for record in snapshot.phases where record.status != .skipped || !record.attempts.isEmpty {
            statuses[record.id] = PhaseState(status: record.status, runId: snapshot.runId, message: record.message,
                                             outputs: record.outputs, labels: record.labels, updatedAt: record.endedAt)
        }
        return statuses
    }

    /// GET /status: the run in progress (or none), each phase's status in plan order, and how
    /// many phases have each status (every status is listed, zero included).
    public func statusAnswer() -> JSON {
        let statuses = livePhaseStates()
        let phases = state.current?.manifest.phases ?? []
        var counts = [PhaseStatus: Int]()
        var perPhase = JSONObject()
        for phase in phases {
            let status = statuses[phase.id]?.status ?? .pending
            counts[status, default: 0] += 1
            perPhase.appendUnchecked(phase.id, .string(status.rawValue))  // ids are unique: a keyed set would scan, quadratic in phases
        }
        var countObject = JSONObject()
        for status in PhaseStatus.allCases { countObject.appendUnchecked(status.rawValue, .int(Int64(counts[status] ?? 0))) }
        var object = JSONObject()
        object.appendUnchecked("activeRunId", active.map { .string($0.runId) } ?? .null)
        object.appendUnchecked("status", .string(active.map { $0.runner.snapshot().status.rawValue } ?? "idle"))
        object.appendUnchecked("paused", .bool(active?.runner.isPaused ?? false))
        object.appendUnchecked("planId", state.current.map { .string($0.planId) } ?? .null)
        object.appendUnchecked("phases", .object(perPhase))
        object.appendUnchecked("counts", .object(countObject))
        object.appendUnchecked("total", .int(Int64(phases.count)))
        object.appendUnchecked("queued", .int(Int64(queue.count)))
        return .object(object)
    }

    /// GET /diff: the staged plan against the applied one; with nothing staged, an empty diff
    /// and `staged: null` (the original's clients poll this and read an error as a failure).
    public func stagedDiffAnswer() -> JSON {
        let staged = state.staged
        let applied = state.current?.manifest
        // Nothing staged diffs as the applied plan against itself: no change, nothing listed.
        let diff: JSON
        if let staged {
            diff = PlanDiff(old: applied, new: staged.manifest).json
        } else {
            diff = ["summary": ["added": 0, "removed": 0, "changed": 0, "unchanged": 0], "added": [], "removed": [], "changed": [],
                    "unchanged": []]
        }
        guard case .object(var object) = diff else { return .null }
        addPlanIds(to: &object)
        return .object(object)
    }
}
