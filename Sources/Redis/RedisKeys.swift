/// The keys of one namespace, all under `planter:{<namespace>}:` — the braces are a Redis
/// Cluster hash tag, so one namespace's keys share a slot and a Lua script may touch any of
/// them (the fencing check and the write it guards run as one script). The layout is in the
/// README's History section.
public struct RedisKeys: Sendable {
    public let namespace: String
    public let prefix: String

    public init(namespace: String) {
        self.namespace = namespace
        prefix = "planter:{\(namespace)}:"
    }

    func key(_ parts: String...) -> [UInt8] { Array((prefix + parts.joined(separator: ":")).utf8) }

    /// STRING: the layout version.
    var schema: [UInt8] { key("schema") }
    /// STRING counter: the next run or plan sequence number (the paging cursor of /runs, /plans).
    var sequence: [UInt8] { key("seq") }
    /// STRING counter: the next event number (its stream id is `0-<n>` in both streams).
    var eventSequence: [UInt8] { key("event-seq") }
    /// ZSET planId by sequence: every applied revision.
    var plans: [UInt8] { key("plans") }
    /// HASH seq, submittedAt, phaseCount, manifest.
    func plan(_ planId: String) -> [UInt8] { key("plan", planId) }
    /// ZSET runId by sequence (start order).
    var runs: [UInt8] { key("runs") }
    /// ZSET runId by sequence: the runs of one plan revision.
    func planRuns(_ planId: String) -> [UInt8] { key("plan", planId, "runs") }
    /// HASH seq, planId, trigger, status, startedAt, endedAt, summary, result.
    func run(_ runId: String) -> [UInt8] { key("run", runId) }
    /// HASH `r:<phase>` outcome JSON, `a:<phase>#<n>` attempt JSON, `n:<phase>` attempt count.
    func runPhases(_ runId: String) -> [UInt8] { key("run", runId, "phases") }
    /// STREAM: the run's events, ids `0-<event number>`.
    func runEvents(_ runId: String) -> [UInt8] { key("run", runId, "events") }
    /// ZSET runId by sequence: the runs that had the phase.
    func phaseRuns(_ phaseId: String) -> [UInt8] { key("phase", phaseId, "runs") }
    /// STREAM: every event of the namespace, capped (MAXLEN ~), for followers and unfiltered /logs.
    var events: [UInt8] { key("events") }
    /// STRING: the last write number applied from one Planter (`writer:<id>`), so a resent batch is not applied twice.
    func writer(_ writerId: String) -> [UInt8] { key("writer", writerId) }
    /// STRING: the lease holder's state document (state.json's content), for a standby's takeover.
    var state: [UInt8] { key("state") }
    /// STRING: the instance token of the Planter that wrote `state` (its phase processes carry it).
    var stateOwner: [UInt8] { key("state-owner") }
    /// STRING `<owner> <token>` with a TTL: who may run the namespace's plans.
    var lease: [UInt8] { key("lease") }
    /// STRING counter: the fencing token (INCR on each lease taken); every write checks it.
    var fence: [UInt8] { key("fence") }
}
