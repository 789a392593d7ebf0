import PlanterStore

/// `history: {runs, days}` in Redis, as in the embedded store: the ended runs beyond the newest
/// `runs`, or ended more than `days` ago, go with their phases and event stream; then the plan
/// revisions no remaining run refers to (the newest stays). The namespace stream is capped by
/// length instead (MAXLEN ~ at each append).
extension RedisHistory {
    public func prune(_ retention: Retention, now: Int64) async throws -> (runs: Int, plans: Int) {
        guard retention != Retention() else { return (0, 0) }
        let keys = keys
        return try await reader.perform { connection throws(RedisError) in
            // Oldest first: every run (retention keeps their number bounded), with its plan and end.
            let members = (try connection.command(RedisCommand("ZRANGE", keys.runs, 0, -1)).checked("ZRANGE").array ?? []).compactMap(\.text)
            let details = try connection.pipeline(members.map { RedisCommand("HMGET", keys.run($0), "planId", "endedAt") })
            let cutoff = retention.days.map { now - Int64($0) * 86_400 * 1_000_000_000 }
            var doomed: [(runId: String, planId: String)] = []
            for (index, (runId, reply)) in zip(members, details).enumerated() {
                let fields = reply.array ?? []
                guard fields.count == 2, let ended = fields[1].integer else { continue }  // in progress (or gone): kept
                let beyondCount = retention.runs.map { index < members.count - $0 } ?? false
                let tooOld = cutoff.map { ended < $0 } ?? false
                if beyondCount || tooOld { doomed.append((runId, fields[0].text ?? "")) }
            }
            for (runId, planId) in doomed {
                let phases = (try connection.command(RedisCommand("HKEYS", keys.runPhases(runId))).array ?? []).compactMap(\.text)
                let phaseIds = Set(phases.filter { $0.hasPrefix("n:") || $0.hasPrefix("r:") }.map { String($0.dropFirst(2)) })
                var commands = [RedisCommand("MULTI"), RedisCommand("DEL", keys.run(runId), keys.runPhases(runId), keys.runEvents(runId)),
                                RedisCommand("ZREM", keys.runs, runId), RedisCommand("ZREM", keys.planRuns(planId), runId)]
                commands += phaseIds.map { RedisCommand("ZREM", keys.phaseRuns($0), runId) }
                commands.append(RedisCommand("EXEC"))
                _ = try connection.pipeline(commands).last?.checked("EXEC")
            }
            // Plan revisions with no run left, but the newest.
            let plans = (try connection.command(RedisCommand("ZRANGE", keys.plans, 0, -2)).checked("ZRANGE").array ?? []).compactMap(\.text)
            let counts = try connection.pipeline(plans.map { RedisCommand("ZCARD", keys.planRuns($0)) })
            var prunedPlans = 0
            for (planId, count) in zip(plans, counts) where count.integer == 0 {
                _ = try connection.pipeline([RedisCommand("ZREM", keys.plans, planId), RedisCommand("DEL", keys.plan(planId))])
                prunedPlans += 1
            }
            return (doomed.count, prunedPlans)
        }
    }
}
