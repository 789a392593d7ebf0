/// Retention: the runs beyond the newest `runs`, or ended more than `days` ago, go with their
/// attempts, outcomes and events; then the plan revisions no remaining run refers to (the
/// newest revision always stays). A run still in progress is never pruned.
extension HistoryDatabase {
    struct Pruned: Sendable, Equatable {
        var runs = 0
        var plans = 0
    }

    func prune(_ retention: Retention, now: Int64) throws(SQLiteError) -> Pruned {
        var conditions: [String] = []
        var values: [Value] = []
        if let keep = retention.runs {
            conditions.append("seq NOT IN (SELECT seq FROM runs ORDER BY seq DESC LIMIT ?)")
            values.append(.int(Int64(keep)))
        }
        let cutoff = retention.days.map { now - Int64($0) * 86_400 * 1_000_000_000 }
        if let cutoff {
            conditions.append("ended_at < ?")
            values.append(.int(cutoff))
        }
        guard !conditions.isEmpty else { return Pruned() }
        let doomed = try select("SELECT run_id FROM runs WHERE ended_at IS NOT NULL AND ("
                                + conditions.joined(separator: " OR ") + ")", values) { $0.text(0) }
        var pruned = Pruned()
        // A run at a time: each transaction is short, so writes of a live run are not held up long.
        for runId in doomed {
            try connection.execute("BEGIN IMMEDIATE")
            do {
                for table in ["events", "attempts", "phase_results", "runs"] {
                    _ = try select("DELETE FROM \(table) WHERE run_id = ?", [.text(runId)]) { _ in () }
                }
                try connection.execute("COMMIT")
            } catch {
                try? connection.execute("ROLLBACK")
                throw error
            }
            pruned.runs += 1
        }
        if let cutoff {
            // Lines logged outside any run (a failed save, say) age out by time alone.
            _ = try select("DELETE FROM events WHERE run_id = '' AND time < ?", [.int(cutoff)]) { _ in () }
        }
        _ = try select("""
            DELETE FROM plans WHERE seq <> (SELECT MAX(seq) FROM plans)
                AND NOT EXISTS (SELECT 1 FROM runs WHERE runs.plan_id = plans.plan_id)
            """, []) { _ in () }
        pruned.plans = connection.changes
        return pruned
    }
}
