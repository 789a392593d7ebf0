import PlanterCore
import PlanterJSON
import PlanterStore

/// What the service reads back from the history store: an interrupted run's progress after a
/// crash, and the answers of `GET /runs`, `/runs/{id}`, `/plans` and a phase's history.
extension PlanterService {
    static func unreadable(_ error: any Error) -> ServiceError {
        .unavailable("the history cannot be read: \(error)")
    }

    /// After a crash: the state file holds the run as it was when it started; the history has
    /// every attempt and outcome committed since. Merged before the run is marked interrupted.
    func mergeStoredProgress(of runId: String, _ warnings: inout [String]) async {
        guard let history, var entry = state.run(runId) else { return }
        let progress: (attempts: [AttemptRow], results: [PhaseResultRow])
        do {
            progress = try await history.reads.progress(ofRun: runId)
        } catch {
            warnings.append("cannot read the progress of interrupted run \(runId) from the history (\(error)): "
                + "its phases read as they were when it started")
            return
        }
        let attempts = Dictionary(grouping: progress.attempts, by: \.phaseId)
        let results = Dictionary(progress.results.map { ($0.phaseId, $0) }, uniquingKeysWith: { $1 })
        for index in entry.result.phases.indices {
            var phase = entry.result.phases[index]
            if let rows = attempts[phase.id] {
                phase.attempts = rows.sorted { $0.attempt < $1.attempt }.map { row in
                    AttemptRecord(attempt: Int(clamping: row.attempt), status: PhaseStatus(rawValue: row.status) ?? .failed,
                                  startedAt: Timestamp(nanoseconds: row.startedAt),
                                  endedAt: row.endedAt.map(Timestamp.init(nanoseconds:)),
                                  exitCode: row.exitCode.map { Int(clamping: $0) }, message: row.message)
                }
                phase.status = phase.attempts.last?.status == .running ? .running : .waiting
            }
            if let result = results[phase.id] {
                phase.status = PhaseStatus(rawValue: result.status) ?? .failed
                phase.message = result.message
                phase.outputs = (try? JSONParser.parse(result.outputs))?.objectValue ?? JSONObject()
            }
            entry.result.phases[index] = phase
        }
        state.record(entry)
    }

    /// Runs the state file knows and the history does not (a state file of an earlier version).
    func importRunsIntoHistory() async {
        guard let history else { return }
        for entry in state.runs where entry.result.status != .running {
            if (try? await history.store.run(entry.result.runId)) ?? nil == nil { history.record(run: entry) }
        }
    }

    /// Applies the retention (on the store's thread); a line for the log when it removed anything.
    public func pruneHistory() async -> String? {
        guard let history, configuration.retention != Retention() else { return nil }
        let retention = configuration.retention
        do {
            var pruned = try await history.store.prune(retention, now: Timestamp.now().nanoseconds)
            if let replica = history.replica, replica.problem == nil {
                let shared = try await replica.prune(retention, now: Timestamp.now().nanoseconds)
                pruned = (max(pruned.runs, shared.runs), max(pruned.plans, shared.plans))
            }
            guard pruned.runs + pruned.plans > 0 else { return nil }
            return "history: pruned \(pruned.runs) runs and \(pruned.plans) plan revisions (keeping "
                + [retention.runs.map { "the newest \($0) runs" }, retention.days.map { "\($0) days" }].compactMap { $0 }
                .joined(separator: ", ") + ")"
        } catch {
            return "history: pruning failed: \(error)"
        }
    }

    /// GET /runs: newest first, a page at a time; the run in progress as it is now.
    public func runsAnswer(_ request: PageRequest, planId: String? = nil) async throws(ServiceError) -> JSON {
        guard let history else { return runsAnswer() }
        let page: Page<[UInt8]>
        do { page = try await history.reads.runs(planId: planId, request) } catch { throw Self.unreadable(error) }
        let live = active.map { $0.entry($0.runner.snapshot()) }
        let runs = page.rows.reversed().map { row -> JSON in
            let listed = (try? JSONParser.parse(row.row)) ?? .null
            if let live, listed["runId"]?.stringValue == live.result.runId { return live.listed }
            return listed
        }
        return ["runs": .array(runs), "cursor": Self.cursor(page), "more": .bool(page.more)]
    }

    /// `{"before": <oldest seq>, "after": <newest seq>}` of a page, for the next request.
    static func cursor<Row>(_ page: Page<Row>) -> JSON {
        ["before": page.rows.first.map { .int($0.seq) } ?? .null, "after": page.rows.last.map { .int($0.seq) } ?? .null]
    }

    /// GET /runs/:id: the live run, else the history, else the state file's.
    public func runAnswer(_ runId: String) async throws(ServiceError) -> JSON {
        if let active, active.runId == runId {
            return active.entry(active.runner.snapshot()).json
        }
        if let history {
            let stored: [UInt8]?
            do { stored = try await history.reads.run(runId) } catch { throw Self.unreadable(error) }
            if let stored, let json = try? JSONParser.parse(stored) { return json }
        }
        guard let entry = state.run(runId) else { throw .notFound("no run \(runId)") }
        return entry.json
    }

    /// GET /plans: every applied revision, newest first.
    public func plansAnswer(_ request: PageRequest) async throws(ServiceError) -> JSON {
        guard let history else {
            return ["plans": .array(state.current.map { [Self.listed($0)] } ?? []), "cursor": ["before": .null, "after": .null],
                    "more": false]
        }
        let page: Page<PlanSummary>
        do { page = try await history.reads.plans(request) } catch { throw Self.unreadable(error) }
        let applied = state.current?.planId
        let plans = page.rows.reversed().map { row -> JSON in
            ["planId": .string(row.row.planId), "submittedAt": .string(Timestamp(nanoseconds: row.row.submittedAt).iso8601),
             "phaseCount": .int(row.row.phaseCount), "applied": .bool(row.row.planId == applied)]
        }
        return ["plans": .array(plans), "cursor": Self.cursor(page), "more": .bool(page.more)]
    }

    static func listed(_ plan: StoredPlan) -> JSON {
        ["planId": .string(plan.planId), "submittedAt": .string(plan.submittedAt.iso8601),
         "phaseCount": .int(Int64(plan.manifest.phases.count)), "applied": true]
    }

    /// GET /plans/:id: one revision with its phases (canonical).
    public func planAnswer(_ planId: String) async throws(ServiceError) -> JSON {
        if let history {
            let row: PlanRow?
            do { row = try await history.reads.plan(planId) } catch { throw Self.unreadable(error) }
            if let row, let phases = try? JSONParser.parse(row.manifest) {
                return ["planId": .string(row.planId), "submittedAt": .string(Timestamp(nanoseconds: row.submittedAt).iso8601),
                        "phaseCount": .int(row.phaseCount), "applied": .bool(row.planId == state.current?.planId),
                        "phases": phases]
            }
        }
        guard let current = state.current, current.planId == planId else { throw .notFound("no plan \(planId)") }
        guard case .object(var object) = Self.listed(current) else { return .null }
        object["phases"] = current.manifest.canonicalJSON
        return .object(object)
    }

    /// A phase's newest events (oldest first), committed ones when there is a history.
    func phaseEvents(_ id: String, limit: Int) async throws(ServiceError) -> [JSON] {
        guard let history else { return eventLog.query(EventFilter(phaseId: id, limit: limit)).map(\.json) }
        let page: Page<EventRow>
        do { page = try await history.reads.events(EventQuery(phaseId: id, page: PageRequest(limit: limit))) } catch {
            throw Self.unreadable(error)
        }
        return page.rows.map { (try? JSONParser.parse($0.row.body)) ?? .null }
    }

    /// A phase across runs, newest run first: its outcome and attempts in each.
    func phaseHistory(_ phaseId: String, limit: Int) async throws(ServiceError) -> JSON {
        guard let history else { return .array([]) }
        let page: Page<PhaseHistoryEntry>
        do { page = try await history.reads.phaseHistory(phaseId, PageRequest(limit: limit)) } catch { throw Self.unreadable(error) }
        return .array(page.rows.reversed().map { _, entry in
            var object: JSONObject = ["runId": .string(entry.runId)]
            if let result = entry.result {
                object["status"] = .string(result.status)
                if !result.message.isEmpty { object["message"] = .string(result.message) }
                object["endedAt"] = .string(Timestamp(nanoseconds: result.endedAt).iso8601)
            }
            object["attempts"] = .array(entry.attempts.map { attempt in
                var json: JSONObject = ["attempt": .int(attempt.attempt), "status": .string(attempt.status),
                                        "startedAt": .string(Timestamp(nanoseconds: attempt.startedAt).iso8601)]
                if let ended = attempt.endedAt { json["endedAt"] = .string(Timestamp(nanoseconds: ended).iso8601) }
                if let code = attempt.exitCode { json["exitCode"] = .int(code) }
                if !attempt.message.isEmpty { json["message"] = .string(attempt.message) }
                return .object(json)
            })
            return .object(object)
        })
    }
}
