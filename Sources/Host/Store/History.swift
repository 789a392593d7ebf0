import PlanterCore
import PlanterJSON
import PlanterStore
import Synchronization

/// The service's side of the history store (PlanterStore): a run's events become rows (one
/// per event, per attempt and per phase outcome, committed in batches), and only once
/// committed do they reach the in-memory EventLog that live followers read. So whatever an
/// answer or a stream shows of a run is in the database first, and a `kill -9` loses none of it.
/// With a replica (Redis, the store of record when REDIS_URL is set) every write goes there too,
/// and reads come from it while it works; the embedded store then is the local copy a lone
/// Planter keeps running on while Redis is away.
public final class History: EventSink {
    public let store: HistoryStore
    public let replica: (any HistoryReplica)?
    private let forwarder: Forwarder

    /// Events queued for the store, in queue order; handed to the EventLog as commits land.
    final class Forwarder: Sendable {
        let eventLog: EventLog
        let pending = Mutex<[RunEvent]>([])

        init(eventLog: EventLog) { self.eventLog = eventLog }

        func committed(_ count: Int) {
            let events = pending.withLock { pending -> [RunEvent] in
                let taken = Array(pending.prefix(count))
                pending.removeFirst(min(count, pending.count))
                return taken
            }
            for event in events { eventLog.receive(event) }
        }
    }

    private init(store: HistoryStore, replica: (any HistoryReplica)?, forwarder: Forwarder) {
        self.store = store
        self.replica = replica
        self.forwarder = forwarder
    }

    /// Where reads come from: the replica while it works (a read it fails falls back to the
    /// embedded store), else the embedded store.
    public var reads: any HistoryReads {
        if let replica, replica.problem == nil { return FallbackReads(primary: replica, fallback: store) }
        return store
    }

    /// Returns once what was queued before is committed (and, boundedly, in the replica).
    public func flush() async {
        await store.flush()
        await replica?.flush()
    }

    private func enqueue(_ write: HistoryWrite) {
        store.enqueue(write)
        replica?.enqueue(write)
    }

    /// `$PLANTER_ROOT/state/history.db`.
    public static func path(root: String) -> String {
        root.hasSuffix("/") ? root + "state/history.db" : root + "/state/history.db"
    }

    /// Opens the database; a warning when an unreadable one was moved aside.
    public static func open(path: String, eventLog: EventLog, replica: (any HistoryReplica)? = nil) async
        -> Result<(History, String?), HistoryStore.OpenError>
    {
        let forwarder = Forwarder(eventLog: eventLog)
        return await HistoryStore.open(path: path, eventsCommitted: { forwarder.committed($0) }).map { opened in
            (History(store: opened.store, replica: replica, forwarder: forwarder), opened.warning)
        }
    }

    public func receive(_ event: RunEvent) {
        var writer = JSONWriter(capacity: 192)
        event.write(to: &writer)
        let row = EventRow(time: event.time.nanoseconds, runId: event.runId, phaseId: event.phaseId,
                           level: Int64(event.level.rawValue), kind: event.kind.rawValue, body: writer.bytes)
        let extra = Self.progressRow(event)
        store.waitForRoom()
        // Under the lock: the pending list and the store's queue keep one order.
        forwarder.pending.withLock { pending in
            pending.append(event)
            if let extra { enqueue(extra) }
            enqueue(.event(row))
        }
    }

    /// The attempt or phase outcome an event records, if it records one.
    static func progressRow(_ event: RunEvent) -> HistoryWrite? {
        guard let phaseId = event.phaseId else { return nil }
        let status = event.details["status"]?.stringValue ?? ""
        switch event.kind {
        case .attemptStarted:
            return .attempt(AttemptRow(runId: event.runId, phaseId: phaseId, attempt: Int64(event.attempt ?? 1), status: "running",
                                       startedAt: event.time.nanoseconds))
        case .attemptFinished:
            let duration = Int64(event.details["durationMs"]?.intValue ?? 0)
            let (elapsed, overflow) = duration.multipliedReportingOverflow(by: 1_000_000)
            return .attempt(AttemptRow(runId: event.runId, phaseId: phaseId, attempt: Int64(event.attempt ?? 1), status: status,
                                       startedAt: overflow ? event.time.nanoseconds : event.time.nanoseconds - elapsed,
                                       endedAt: event.time.nanoseconds, exitCode: event.details["exitCode"]?.intValue.map(Int64.init),
                                       message: event.message))
        case .phaseFinished, .phaseSkipped:
            var outputs = JSONWriter(capacity: 16)
            outputs.write(event.details["outputs"] ?? .object(JSONObject()))
            return .phaseResult(PhaseResultRow(runId: event.runId, phaseId: phaseId, status: status, message: event.message,
                                               endedAt: event.time.nanoseconds, outputs: outputs.bytes))
        default:
            return nil
        }
    }

    public func record(plan: StoredPlan) {
        var writer = JSONWriter(capacity: 1 << 12)
        writer.write(plan.manifest.canonicalJSON)
        store.waitForRoom()
        enqueue(.plan(PlanRow(planId: plan.planId, submittedAt: plan.submittedAt.nanoseconds,
                                    phaseCount: Int64(plan.manifest.phases.count), manifest: writer.bytes)))
    }

    public func record(run entry: RunEntry) {
        var summary = JSONWriter(capacity: 512)
        summary.write(entry.listed)
        var result = JSONWriter(capacity: 1 << 12)
        result.write(entry.json)
        let ended = entry.result.status == .running ? nil : entry.result.endedAt.nanoseconds
        store.waitForRoom()
        enqueue(.run(RunRow(runId: entry.result.runId, planId: entry.planId, trigger: entry.trigger.rawValue,
                                  status: entry.result.status.rawValue, startedAt: entry.result.startedAt.nanoseconds,
                                  endedAt: ended, summary: summary.bytes, result: result.bytes)))
    }
}

extension RunEntry {
    /// The run as `GET /runs` lists it: its result without the phases, with plan and trigger.
    public var listed: JSON {
        guard case .object(var object) = result.json else { return .null }
        object["phases"] = nil
        object["planId"] = .string(planId)
        object["trigger"] = .string(trigger.rawValue)
        if let triggeredBy { object["triggeredBy"] = .string(triggeredBy) }
        if interrupted { object["interrupted"] = true }
        return .object(object)
    }
}

/// The replica's answer, or the embedded store's when the replica fails the read (Redis went
/// away since the last check): a lone Planter keeps answering from its local copy.
struct FallbackReads: HistoryReads {
    let primary: any HistoryReads
    let fallback: any HistoryReads

    func either<T>(_ body: (any HistoryReads) async throws -> T) async throws -> T {
        do { return try await body(primary) } catch { return try await body(fallback) }
    }

    func events(_ query: EventQuery) async throws -> Page<EventRow> { try await either { try await $0.events(query) } }
    func runs(planId: String?, _ request: PageRequest) async throws -> Page<[UInt8]> {
        try await either { try await $0.runs(planId: planId, request) }
    }
    func run(_ runId: String) async throws -> [UInt8]? { try await either { try await $0.run(runId) } }
    func plans(_ request: PageRequest) async throws -> Page<PlanSummary> { try await either { try await $0.plans(request) } }
    func plan(_ planId: String) async throws -> PlanRow? { try await either { try await $0.plan(planId) } }
    func phaseHistory(_ phaseId: String, _ request: PageRequest) async throws -> Page<PhaseHistoryEntry> {
        try await either { try await $0.phaseHistory(phaseId, request) }
    }
    func progress(ofRun runId: String) async throws -> (attempts: [AttemptRow], results: [PhaseResultRow]) {
        try await either { try await $0.progress(ofRun: runId) }
    }
    func prune(_ retention: Retention, now: Int64) async throws -> (runs: Int, plans: Int) {
        try await either { try await $0.prune(retention, now: now) }
    }
}
