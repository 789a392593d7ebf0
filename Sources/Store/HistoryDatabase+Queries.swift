/// The reads behind `GET /logs`, `/runs`, `/plans` and `/phases/{id}`, and what crash
/// recovery needs of an interrupted run.
extension HistoryDatabase {
    typealias Value = SQLiteValue

    /// One page of `SELECT seq, <columns> FROM <table> WHERE <conditions>`, ascending by seq.
    func page<Row>(_ columns: String, from table: String, where conditions: [String], _ values: [Value],
                   _ request: PageRequest, row: (SQLiteStatement) -> Row) throws(SQLiteError) -> Page<Row> {
        var conditions = conditions
        var values = values
        if let before = request.before {
            conditions.append("seq < ?")
            values.append(.int(before))
        }
        if let after = request.after {
            conditions.append("seq > ?")
            values.append(.int(after))
        }
        let order = request.after == nil ? "DESC" : "ASC"
        let filter = conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND ")
        let sql = "SELECT seq, \(columns) FROM \(table)\(filter) ORDER BY seq \(order) LIMIT \(max(0, request.limit) + 1)"
        var rows = try select(sql, values) { ($0.int(0), row($0)) }
        let more = rows.count > request.limit
        if more { rows.removeLast() }
        if request.after == nil { rows.reverse() }
        return Page(rows: rows, more: more)
    }

    func select<Row>(_ sql: String, _ values: [Value], row: (SQLiteStatement) -> Row) throws(SQLiteError) -> [Row] {
        let statement = try connection.prepare(sql)
        statement.bind(values)
        var rows: [Row] = []
        while try statement.step() { rows.append(row(statement)) }
        return rows
    }

    func events(_ query: EventQuery) throws(SQLiteError) -> Page<EventRow> {
        var conditions: [String] = []
        var values: [Value] = []
        if let runIds = query.runIds {
            conditions.append("run_id IN (" + runIds.map { _ in "?" }.joined(separator: ",") + ")")
            values += runIds.map { Value.text($0) }
        }
        let optional: [(String, Value?)] = [
            ("run_id IN (SELECT run_id FROM runs WHERE plan_id = ?)", query.planId.map { Value.text($0) }),
            ("phase_id = ?", query.phaseId.map { Value.text($0) }),
            ("level >= ?", query.minimumLevel.map { Value.int($0) }),
            ("time >= ?", query.since.map { Value.int($0) }),
        ]
        for (condition, value) in optional {
            guard let value else { continue }
            conditions.append(condition)
            values.append(value)
        }
        return try page("time, run_id, phase_id, level, kind, body", from: "events", where: conditions, values, query.page) { row in
            var event = EventRow(time: row.int(1), runId: row.text(2), phaseId: row.optionalText(3), level: row.int(4),
                                 kind: row.text(5), body: row.blob(6))
            event.seq = row.int(0)
            return event
        }
    }

    /// Run summaries (or, with `full`, whole results), optionally of one plan.
    func runs(planId: String?, _ request: PageRequest) throws(SQLiteError) -> Page<[UInt8]> {
        try page("summary", from: "runs", where: planId == nil ? [] : ["plan_id = ?"], planId.map { [.text($0)] } ?? [], request) {
            $0.blob(1)
        }
    }

    func run(_ runId: String) throws(SQLiteError) -> [UInt8]? {
        try select("SELECT result FROM runs WHERE run_id = ?", [.text(runId)]) { $0.blob(0) }.first
    }

    func plans(_ request: PageRequest) throws(SQLiteError) -> Page<PlanSummary> {
        try page("plan_id, submitted_at, phase_count", from: "plans", where: [], [], request) {
            PlanSummary(planId: $0.text(1), submittedAt: $0.int(2), phaseCount: $0.int(3))
        }
    }

    func plan(_ planId: String) throws(SQLiteError) -> PlanRow? {
        try select("SELECT plan_id, submitted_at, phase_count, manifest FROM plans WHERE plan_id = ?", [.text(planId)]) {
            PlanRow(planId: $0.text(0), submittedAt: $0.int(1), phaseCount: $0.int(2), manifest: $0.blob(3))
        }.first
    }

    /// `WHERE run_id = ?`, and `AND phase_id = ?` when one phase is asked for.
    private func ofRun(_ runId: String, phase phaseId: String?) -> (String, [Value]) {
        phaseId.map { (" WHERE run_id = ? AND phase_id = ?", [.text(runId), .text($0)]) } ?? (" WHERE run_id = ?", [.text(runId)])
    }

    func attempts(run runId: String, phase phaseId: String? = nil) throws(SQLiteError) -> [AttemptRow] {
        let (filter, values) = ofRun(runId, phase: phaseId)
        return try select("SELECT run_id, phase_id, attempt, status, started_at, ended_at, exit_code, message FROM attempts"
                          + filter + " ORDER BY phase_id, attempt", values) {
            AttemptRow(runId: $0.text(0), phaseId: $0.text(1), attempt: $0.int(2), status: $0.text(3), startedAt: $0.int(4),
                       endedAt: $0.optionalInt(5), exitCode: $0.optionalInt(6), message: $0.text(7))
        }
    }

    func phaseResults(run runId: String, phase phaseId: String? = nil) throws(SQLiteError) -> [PhaseResultRow] {
        let (filter, values) = ofRun(runId, phase: phaseId)
        return try select("SELECT run_id, phase_id, status, message, ended_at, outputs FROM phase_results" + filter, values) {
            PhaseResultRow(runId: $0.text(0), phaseId: $0.text(1), status: $0.text(2), message: $0.text(3), endedAt: $0.int(4),
                           outputs: $0.blob(5))
        }
    }

    /// The runs that had phase `phaseId` (an attempt or an outcome), newest first.
    func phaseHistory(_ phaseId: String, _ request: PageRequest) throws(SQLiteError) -> Page<PhaseHistoryEntry> {
        let runs = try page("run_id", from: "runs", where: [
            "(EXISTS (SELECT 1 FROM phase_results p WHERE p.run_id = runs.run_id AND p.phase_id = ?)"
                + " OR EXISTS (SELECT 1 FROM attempts a WHERE a.run_id = runs.run_id AND a.phase_id = ?))",
        ], [.text(phaseId), .text(phaseId)], request) { $0.text(1) }
        var rows: [(seq: Int64, row: PhaseHistoryEntry)] = []
        for (seq, runId) in runs.rows {
            rows.append((seq, PhaseHistoryEntry(runId: runId, result: try phaseResults(run: runId, phase: phaseId).first,
                                                attempts: try attempts(run: runId, phase: phaseId))))
        }
        return Page(rows: rows, more: runs.more)
    }
}
