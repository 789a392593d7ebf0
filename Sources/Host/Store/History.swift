import PlanterCore
import PlanterJSON
import PlanterStore
import Synchronization

/// The service's side of the history store (PlanterStore): a run's events become rows (one
/// per event, per attempt and per phase outcome, committed in batches), and only once
/// committed do they reach the in-memory EventLog that live followers read. So whatever an
/// answer or a stream shows of a run is in the database first, and a `kill -9` loses none of it.
public final class History: EventSink {
    public let store: HistoryStore
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

    private init(store: HistoryStore, forwarder: Forwarder) {
        self.store = store
        self.forwarder = forwarder
    }

    /// `$PLANTER_ROOT/state/history.db`.
    public static func path(root: String) -> String {
        root.hasSuffix("/") ? root + "state/history.db" : root + "/state/history.db"
    }

    /// Opens the database; a warning when an unreadable one was moved aside.
    public static func open(path: String, eventLog: EventLog) async -> Result<(History, String?), HistoryStore.OpenError> {
        let forwarder = Forwarder(eventLog: eventLog)
        return await HistoryStore.open(path: path, eventsCommitted: { forwarder.committed($0) }).map { opened in
            (History(store: opened.store, forwarder: forwarder), opened.warning)
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
            if let extra { store.enqueue(extra) }
            store.enqueue(.event(row))
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
        store.enqueue(.plan(PlanRow(planId: plan.planId, submittedAt: plan.submittedAt.nanoseconds,
                                    phaseCount: Int64(plan.manifest.phases.count), manifest: writer.bytes)))
    }

    public func record(run entry: RunEntry) {
        var summary = JSONWriter(capacity: 512)
        summary.write(entry.listed)
        var result = JSONWriter(capacity: 1 << 12)
        result.write(entry.json)
        let ended = entry.result.status == .running ? nil : entry.result.endedAt.nanoseconds
        store.waitForRoom()
        store.enqueue(.run(RunRow(runId: entry.result.runId, planId: entry.planId, trigger: entry.trigger.rawValue,
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
