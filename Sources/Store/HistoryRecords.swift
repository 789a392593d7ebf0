/// The rows the history keeps, as the engine hands them over. Times are nanoseconds since
/// 1970 (Timestamp.nanoseconds); JSON documents are stored as the bytes the engine wrote.
public enum HistoryWrite: Sendable {
    case plan(PlanRow)
    case run(RunRow)
    case attempt(AttemptRow)
    case phaseResult(PhaseResultRow)
    case event(EventRow)
}

public struct PlanRow: Sendable {
    public var planId: String
    public var submittedAt: Int64
    public var phaseCount: Int64
    /// The canonical manifest JSON.
    public var manifest: [UInt8]

    public init(planId: String, submittedAt: Int64, phaseCount: Int64, manifest: [UInt8]) {
        self.planId = planId
        self.submittedAt = submittedAt
        self.phaseCount = phaseCount
        self.manifest = manifest
    }
}

/// A run, written when it starts and again when it ends (the same run id replaces the row).
public struct RunRow: Sendable {
    public var runId: String
    public var planId: String
    public var trigger: String
    public var status: String
    public var startedAt: Int64
    public var endedAt: Int64?
    /// The run as `GET /runs` lists it (no phases).
    public var summary: [UInt8]
    /// The whole run as `GET /runs/{id}` shows it.
    public var result: [UInt8]

    public init(runId: String, planId: String, trigger: String, status: String, startedAt: Int64, endedAt: Int64?,
                summary: [UInt8], result: [UInt8]) {
        self.runId = runId
        self.planId = planId
        self.trigger = trigger
        self.status = status
        self.startedAt = startedAt
        self.endedAt = endedAt
        self.summary = summary
        self.result = result
    }
}

/// One attempt of a phase in a run: written when it starts, replaced when it ends.
public struct AttemptRow: Sendable, Equatable {
    public var runId: String
    public var phaseId: String
    public var attempt: Int64
    public var status: String
    public var startedAt: Int64
    public var endedAt: Int64?
    public var exitCode: Int64?
    public var message: String

    public init(runId: String, phaseId: String, attempt: Int64, status: String, startedAt: Int64, endedAt: Int64? = nil,
                exitCode: Int64? = nil, message: String = "") {
        self.runId = runId
        self.phaseId = phaseId
        self.attempt = attempt
        self.status = status
        self.startedAt = startedAt
        self.endedAt = endedAt
        self.exitCode = exitCode
        self.message = message
    }
}

/// A phase's final outcome in a run (finished or skipped), with the outputs it produced.
public struct PhaseResultRow: Sendable, Equatable {
    public var runId: String
    public var phaseId: String
    public var status: String
    public var message: String
    public var endedAt: Int64
    /// JSON object bytes (`{}` when none).
    public var outputs: [UInt8]

    public init(runId: String, phaseId: String, status: String, message: String, endedAt: Int64, outputs: [UInt8]) {
        self.runId = runId
        self.phaseId = phaseId
        self.status = status
        self.message = message
        self.endedAt = endedAt
        self.outputs = outputs
    }
}

/// One event (a log line or a state change). `seq` is given by the store, in commit order:
/// it is the paging cursor.
public struct EventRow: Sendable {
    public var seq: Int64 = 0
    public var time: Int64
    public var runId: String
    public var phaseId: String?
    public var level: Int64
    public var kind: String
    /// The event's JSON object, as the API shows it.
    public var body: [UInt8]

    public init(time: Int64, runId: String, phaseId: String?, level: Int64, kind: String, body: [UInt8]) {
        self.time = time
        self.runId = runId
        self.phaseId = phaseId
        self.level = level
        self.kind = kind
        self.body = body
    }
}

/// Which events a `GET /logs` page wants.
public struct EventQuery: Sendable {
    public var runIds: [String]?
    public var planId: String?
    public var phaseId: String?
    public var minimumLevel: Int64?
    public var since: Int64?
    public var page: PageRequest

    public init(runIds: [String]? = nil, planId: String? = nil, phaseId: String? = nil, minimumLevel: Int64? = nil,
                since: Int64? = nil, page: PageRequest = PageRequest(limit: 1000)) {
        self.runIds = runIds
        self.planId = planId
        self.phaseId = phaseId
        self.minimumLevel = minimumLevel
        self.since = since
        self.page = page
    }
}

/// A page of rows in ascending `seq`, and whether more lie beyond it in the paging
/// direction (older ones without `after`, newer ones with it).
public struct Page<Row: Sendable>: Sendable {
    public var rows: [(seq: Int64, row: Row)]
    public var more: Bool

    public init(rows: [(seq: Int64, row: Row)], more: Bool) {
        self.rows = rows
        self.more = more
    }
}

/// Where a page starts: `after` pages forward from a cursor, otherwise the newest `limit`
/// rows (before `before`, when given).
public struct PageRequest: Sendable {
    public var before: Int64?
    public var after: Int64?
    public var limit: Int

    public init(before: Int64? = nil, after: Int64? = nil, limit: Int) {
        self.before = before
        self.after = after
        self.limit = limit
    }
}

/// A listed plan revision.
public struct PlanSummary: Sendable {
    public var planId: String
    public var submittedAt: Int64
    public var phaseCount: Int64

    public init(planId: String, submittedAt: Int64, phaseCount: Int64) {
        self.planId = planId
        self.submittedAt = submittedAt
        self.phaseCount = phaseCount
    }
}

/// A phase across runs: its outcome and attempts in each run that had it, newest run first.
public struct PhaseHistoryEntry: Sendable {
    public var runId: String
    public var result: PhaseResultRow?
    public var attempts: [AttemptRow]

    public init(runId: String, result: PhaseResultRow?, attempts: [AttemptRow]) {
        self.runId = runId
        self.result = result
        self.attempts = attempts
    }
}

/// How much history to keep (`history: {runs: N, days: D}`); nil keeps everything.
public struct Retention: Sendable, Equatable {
    public var runs: Int?
    public var days: Int?

    public init(runs: Int? = nil, days: Int? = nil) {
        self.runs = runs
        self.days = days
    }
}
