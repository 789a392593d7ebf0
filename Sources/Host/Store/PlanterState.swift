import PlanterCore
import PlanterJSON

/// A plan as the server keeps it: its manifest, an id, and when it arrived.
public struct StoredPlan: Sendable {
    public var planId: String
    public var submittedAt: Timestamp
    public var manifest: Manifest

    public init(planId: String = StoredPlan.newPlanID(), submittedAt: Timestamp = .now(), manifest: Manifest) {
        self.planId = planId
        self.submittedAt = submittedAt
        self.manifest = manifest
    }

    public static func newPlanID() -> String {
        "p-" + RunOptions.newRunID().dropFirst(2)
    }
}

/// The last known outcome of a phase, carried across runs: what drift-aware runs consult
/// and what dependents receive when the phase itself is not rerun.
public struct PhaseState: Sendable, Equatable {
    public var status: PhaseStatus
    public var runId: String?
    public var message: String
    public var outputs: JSONObject
    public var labels: Labels
    public var updatedAt: Timestamp?

    public init(status: PhaseStatus, runId: String? = nil, message: String = "", outputs: JSONObject = JSONObject(),
                labels: Labels = Labels(), updatedAt: Timestamp? = nil) {
        self.status = status
        self.runId = runId
        self.message = message
        self.outputs = outputs
        self.labels = labels
        self.updatedAt = updatedAt
    }
}

/// One run in the history.
public struct RunEntry: Sendable {
    public enum Trigger: String, Sendable {
        case plan
        case apply
        case rerun
        case resume
    }

    public var result: RunResult
    public var planId: String
    public var trigger: Trigger
    /// The process died while this run was in flight.
    public var interrupted: Bool
    /// Who asked for the run: the name of the caller's token (nil: not known, as in older records).
    public var triggeredBy: String?

    public init(result: RunResult, planId: String, trigger: Trigger, interrupted: Bool = false, triggeredBy: String? = nil) {
        self.result = result
        self.planId = planId
        self.trigger = trigger
        self.interrupted = interrupted
        self.triggeredBy = triggeredBy
    }
}

/// Everything that survives a restart: the applied plan, the staged one, each phase's last
/// outcome, the run history, and the run that was in flight when it was saved.
public struct PlanterState: Sendable {
    public var current: StoredPlan?
    public var staged: StoredPlan?
    public var phaseStates: [String: PhaseState] = [:]
    public var runs: [RunEntry] = []
    public var inFlightRunId: String?
    /// Loaded from the original Planter's state file (a bare array of phases); never saved:
    /// the next save writes this Planter's format.
    public var migratedFromOriginal = false
    /// What the stored plans break of this version's rules (a value out of a range added since):
    /// reported at start-up, not a reason to throw the state away.
    public var loadProblems: [Problem] = []

    public static let historyLimit = 50

    public init() {}

    public mutating func record(_ entry: RunEntry) {
        if let index = runs.firstIndex(where: { $0.result.runId == entry.result.runId }) {
            runs[index] = entry
        } else {
            runs.append(entry)
            if runs.count > Self.historyLimit { runs.removeFirst(runs.count - Self.historyLimit) }
        }
    }

    public func run(_ id: String) -> RunEntry? { runs.last { $0.result.runId == id } }
}
