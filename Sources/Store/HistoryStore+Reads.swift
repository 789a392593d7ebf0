/// The store's reads, each run on its thread after the writes queued before it.
extension HistoryStore {
    public func events(_ query: EventQuery) async throws(SQLiteError) -> Page<EventRow> {
        try await perform { database throws(SQLiteError) in try database.events(query) }
    }

    public func runs(planId: String? = nil, _ request: PageRequest) async throws(SQLiteError) -> Page<[UInt8]> {
        try await perform { database throws(SQLiteError) in try database.runs(planId: planId, request) }
    }

    public func run(_ runId: String) async throws(SQLiteError) -> [UInt8]? {
        try await perform { database throws(SQLiteError) in try database.run(runId) }
    }

    public func plans(_ request: PageRequest) async throws(SQLiteError) -> Page<PlanSummary> {
        try await perform { database throws(SQLiteError) in try database.plans(request) }
    }

    public func plan(_ planId: String) async throws(SQLiteError) -> PlanRow? {
        try await perform { database throws(SQLiteError) in try database.plan(planId) }
    }

    public func phaseHistory(_ phaseId: String, _ request: PageRequest) async throws(SQLiteError) -> Page<PhaseHistoryEntry> {
        try await perform { database throws(SQLiteError) in try database.phaseHistory(phaseId, request) }
    }

    /// What a run recorded of its phases: every attempt and every final outcome.
    public func progress(ofRun runId: String) async throws(SQLiteError) -> (attempts: [AttemptRow], results: [PhaseResultRow]) {
        try await perform { database throws(SQLiteError) in
            (try database.attempts(run: runId), try database.phaseResults(run: runId))
        }
    }

    /// Applies the retention; returns how many runs and plan revisions went.
    public func prune(_ retention: Retention, now: Int64) async throws(SQLiteError) -> (runs: Int, plans: Int) {
        let pruned = try await perform { database throws(SQLiteError) in try database.prune(retention, now: now) }
        return (pruned.runs, pruned.plans)
    }
}
